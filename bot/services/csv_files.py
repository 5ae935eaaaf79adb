"""The one way Shelfmate writes CSV files for coordinators, who open them in Excel or Google Sheets.

Text that people typed (an organization, a Slack display name, a reason) reaches these files as is. A cell
starting with `=`, `+`, `-` or `@` (or a tab or carriage return before one) is run by a spreadsheet as a
formula: `=HYPERLINK(...)` can send the sheet's other cells to another site. As OWASP advises for "CSV
injection", such a text cell is written with a leading `'`, which spreadsheets show as text and do not run.
Numbers the code writes (ints, floats) are left as they are, so they stay numbers in the sheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None


def spreadsheet_text(cell: Cell) -> Cell:
    """A text cell that a spreadsheet would run as a formula, prefixed with `'` so it reads as the text typed;
    any other cell as it is."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class SpreadsheetCsv:
    """Rows written as CSV, each text cell made safe for a spreadsheet (`spreadsheet_text`)."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._writer = csv.writer(self._out)

    def writerow(self, row: Iterable[Cell]) -> None:
        self._writer.writerow([spreadsheet_text(cell) for cell in row])

    def content(self) -> bytes:
        """UTF-8 with a byte-order mark: without it Excel, which coordinators open these in, garbles accented
        names and the preview's concern marks."""
        return self._out.getvalue().encode("utf-8-sig")

"""The monthly meeting-rate chart, as a PNG for the admin channel."""

from __future__ import annotations

import io

from bot.services.reports import ProgramSummary
from bot.views.common import month_labels


def meeting_rate_png(summary: ProgramSummary) -> bytes:
    """Bars: check-ins per month; line: share of pairs together that month that met. Rendered without a display."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    months = month_labels([m.month for m in summary.months])
    figure, bars = plt.subplots(figsize=(6, 3.2), dpi=120)
    try:
        bars.bar(months, [m.checkins for m in summary.months], color="#9db4c0", label="check-ins")
        bars.set_ylabel("check-ins")
        rate = bars.twinx()
        rate.plot(months, [m.rate * 100 for m in summary.months], color="#2e4a62", marker="o", label="pairs met (%)")
        rate.set_ylim(0, 105)
        rate.set_ylabel("pairs that met (%)")
        bars.set_title(f"{summary.program_name}: meetings by month")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)

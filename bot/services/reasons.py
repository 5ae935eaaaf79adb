"""The words of a match, as stored on a pairing: strengths, then concerns marked as such.

Kept apart from the matching engine (numpy, OR-Tools) so that what only reads reasons, such as the pair's
intro planned by the scheduler's worker process, does not load the solver.
"""

from __future__ import annotations

from collections.abc import Sequence

CONCERN_MARK = "⚠ "


def split_reasons(reasons: Sequence[str]) -> tuple[list[str], list[str]]:
    """(strengths, concerns) of stored reasons, each in its stored order; concerns keep their mark."""
    strengths = [r for r in reasons if not r.startswith(CONCERN_MARK)]
    concerns = [r for r in reasons if r.startswith(CONCERN_MARK)]
    return strengths, concerns

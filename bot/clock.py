"""Where "now" comes from: the system, a test's hand, or a rehearsal clock stored in the database.

Services take `now` as an argument; only the edges (listeners, scheduler, CLI) ask a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.engine import Engine


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock a test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _aware(moment)

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self._now = self._now + timedelta(**delta)
        return self._now


class RehearsalClock:
    """Every process on one database reads the same stored "now", so a coordinator can rehearse a program."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def now(self) -> datetime:
        from storage import queries
        from storage.engine import session_scope

        with session_scope(self._engine) as session:
            stored = queries.get_rehearsal_now(session)
        return stored if stored is not None else datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def make_clock(mode: str, engine: Engine) -> Clock:
    return RehearsalClock(engine) if mode == "rehearsal" else SystemClock()

"""`shelfmate sweep` and `shelfmate clock` as an operator runs them, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.engine import session_scope
from tests.factories import make_program
from tests.slack_emulator import SlackEmulator

CHANNEL = "C0ANNOUNCE"
ADMIN_CHANNEL = "C0ADMINS01"
MONDAY_10_AM_LA = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)


@pytest.fixture
def operator_env(operator_shell: Path, emulator: SlackEmulator) -> Iterator[None]:
    """An operator's shell (see conftest) with the program's channels."""
    emulator.add_channel(CHANNEL, "announcements")
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins")
    yield


def enqueue(engine: Engine, tag: str, due_at: datetime) -> None:
    with session_scope(engine, write=True) as session:
        deliveries.enqueue(
            session,
            DeliveryKey("applications_closing", f"cli:{tag}", "-"),
            recipient=CHANNEL,
            due_at=due_at,
            payload={"program": f"Program {tag}", "closes": "2025-03-10", "timezone": "America/Los_Angeles"},
            now=due_at,
        )


def ledger(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        return [
            (d.id, d.kind, d.subject, d.status, d.due_at, d.attempts, d.claimed_at, d.error)
            for d in deliveries.by_status(session)
        ]


def rehearsal_now(engine: Engine) -> datetime | None:
    with session_scope(engine) as session:
        return queries.get_rehearsal_now(session)


def set_rehearsal_now(engine: Engine, moment: datetime) -> None:
    with session_scope(engine, write=True) as session:
        queries.set_rehearsal_now(session, moment)


def test_a_dry_run_sends_nothing_and_changes_nothing_not_even_the_rehearsal_clock(
    operator_env: None,
    engine: Engine,
    emulator: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHELFMATE_CLOCK", "rehearsal")
    make_program(engine)  # something for the planner to plan, too
    enqueue(engine, "due", MONDAY_10_AM_LA - timedelta(hours=1))
    set_rehearsal_now(engine, MONDAY_10_AM_LA - timedelta(days=30))
    before = ledger(engine)

    assert main(["sweep", "--at", MONDAY_10_AM_LA.isoformat(), "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert f"At {MONDAY_10_AM_LA.isoformat()}" in out and "cli:due" in out
    assert "would be planned" in out
    assert emulator.calls == []
    assert ledger(engine) == before
    assert rehearsal_now(engine) == MONDAY_10_AM_LA - timedelta(days=30)


def test_a_dry_run_with_nothing_due_says_so_in_a_whole_sentence(
    operator_env: None, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """With nothing due the dry run printed "... 0 due now:", a colon leading to nothing."""
    assert main(["sweep", "--at", MONDAY_10_AM_LA.isoformat(), "--dry-run"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    assert line.endswith("nothing is due now."), line
    assert emulator.calls == []


def test_clock_set_stores_the_rehearsal_clock_and_clock_show_reads_it(
    operator_env: None, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clock", "set", "2025-03-03T09:30:00-08:00"]) == 0
    assert "takes effect only with SHELFMATE_CLOCK=rehearsal" in capsys.readouterr().out
    assert rehearsal_now(engine) == datetime(2025, 3, 3, 17, 30, tzinfo=UTC)

    assert main(["clock", "show"]) == 0
    assert "2025-03-03T17:30:00+00:00" in capsys.readouterr().out

    assert main(["clock", "set", "next tuesday"]) == 1
    assert "not an ISO date-time" in capsys.readouterr().err
    assert rehearsal_now(engine) == datetime(2025, 3, 3, 17, 30, tzinfo=UTC)


def test_with_the_rehearsal_clock_a_sweep_takes_now_from_the_database(
    operator_env: None,
    engine: Engine,
    emulator: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every process on the database shares one "now": set by `clock set`, moved by `sweep --at`."""
    monkeypatch.setenv("SHELFMATE_CLOCK", "rehearsal")
    enqueue(engine, "early", MONDAY_10_AM_LA - timedelta(minutes=1))
    enqueue(engine, "later", MONDAY_10_AM_LA + timedelta(hours=1))
    assert main(["clock", "set", MONDAY_10_AM_LA.isoformat()]) == 0

    assert main(["sweep"]) == 0
    assert f"At {MONDAY_10_AM_LA.isoformat()}" in capsys.readouterr().out
    status = {row[2]: row[3] for row in ledger(engine)}
    assert status == {"cli:early": "sent", "cli:later": "due"}
    assert [m["text"] for m in emulator.messages_in(CHANNEL)] == [
        "[REHEARSAL] Applications for Program early close soon"
    ]

    two_hours_later = MONDAY_10_AM_LA + timedelta(hours=2)
    assert main(["sweep", "--at", two_hours_later.isoformat()]) == 0
    assert rehearsal_now(engine) == two_hours_later
    assert {row[2]: row[3] for row in ledger(engine)} == {"cli:early": "sent", "cli:later": "sent"}
    # In rehearsal every post says so, announcements included: nobody mistakes practice for the program.
    assert all(m["text"].startswith("[REHEARSAL] ") for m in emulator.messages_in(CHANNEL))


def test_clock_show_says_when_the_database_cannot_be_opened(
    operator_shell: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "rehearsal clock: not set": a coordinator rehearsing a program would believe it had been reset."""
    monkeypatch.setenv("SHELFMATE_CLOCK", "rehearsal")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{operator_shell}/missing/folder/shelfmate.db")
    assert main(["clock", "show"]) == 1
    captured = capsys.readouterr()
    assert "not set" not in captured.out
    [line] = captured.err.strip().splitlines()
    assert line.startswith("shelfmate: DATABASE_URL")


def test_clock_show_on_a_new_database_migrates_it_and_says_not_set(
    operator_shell: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{operator_shell}/new.db")
    assert main(["clock", "show"]) == 0
    assert "clock mode: system; rehearsal clock: not set" in capsys.readouterr().out


def test_a_sweep_with_a_refused_bot_token_stops_with_one_line_naming_it_and_keeps_the_messages(
    operator_env: None,
    engine: Engine,
    emulator: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A cron job's sweep with a revoked or mistyped token exited 0 and counted the messages it could not send
    as "held for working hours": nobody learned that nothing would go out."""
    enqueue(engine, "due", MONDAY_10_AM_LA - timedelta(hours=1))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked-token")

    assert main(["sweep", "--at", MONDAY_10_AM_LA.isoformat()]) == 2

    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith("shelfmate: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"), line
    assert "held for working hours" not in captured.out
    assert [(status, attempts) for _id, _k, _s, status, _d, attempts, *_ in ledger(engine)] == [("due", 0)]
    assert emulator.calls_to("chat.postMessage") == []

"""Stopping the real `shelfmate run --http` process: SIGKILL while people log meetings loses nothing and
repeats nothing; SIGTERM lets the requests it already acknowledged finish."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.config import Settings
from bot.delivery import CLAIM_LEASE, deliver_due, recover_stale
from bot.services import pairing as pairing_service
from storage.engine import session_scope
from storage.models import Agreement, CheckIn, Enrollment, Person, Program
from tests.app_server import ShelfmateProcess
from tests.conftest import SIGNING_SECRET
from tests.factories import make_program
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_cli import app_env
from tests.test_delivery_reliability import hand_moved_runtime
from tests.test_pairs import MENTEE, MENTOR, checkin_state

MEETINGS = 40


def running_pair(engine: Engine, emulator: SlackEmulator, today: date) -> int:
    """A pair introduced in a program that runs now by the real clock (the app process uses it)."""
    program = make_program(
        engine,
        name="Crash test program",
        applications_open=(today - timedelta(days=120)).isoformat(),
        applications_close=(today - timedelta(days=90)).isoformat(),
        agreement_due=(today - timedelta(days=60)).isoformat(),
        starts_on=(today - timedelta(days=60)).isoformat(),
        ends_on=(today + timedelta(days=60)).isoformat(),
        timezone="UTC",
    )
    for uid in (MENTOR, MENTEE):
        emulator.add_user(uid, name=uid.lower(), tz="UTC", tz_offset=0)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone="UTC"))
            session.flush()
            session.add(
                Enrollment(
                    program_id=program.id, person_id=uid, role=role, library_type="public", organization=uid,
                    specializations=["reference"], years_experience=9 if role == "mentor" else 1,
                    capacity=1 if role == "mentor" else 0,
                )
            )  # fmt: skip
        session.flush()
        now = datetime.now(UTC)
        pairing = pairing_service.pair_by_hand_once(session, program, MENTOR, MENTEE, "U0ADMIN01", now, override=True)
        pairing.status = "introduced"
        session.add(pairing)
        session.flush()
        # Settled terms that allow messages at any hour: the app runs on the real clock, and without this the
        # confirmations wait for working hours in UTC (the test would pass only during a UTC working day).
        session.add(
            Agreement(pairing_id=pairing.id, after_hours_ok=True, proposed_by=MENTOR, mentor_accepted_at=now,
                      mentee_accepted_at=now)
        )  # fmt: skip
        session.flush()
        return pairing.id


def test_sigkill_while_logging_meetings_then_slack_retries_logs_and_announces_each_meeting_once(
    tmp_path: Path, emulator: SlackEmulator, engine: Engine, database_url: str, settings: Settings
) -> None:
    today = datetime.now(UTC).date()
    pairing_id = running_pair(engine, emulator, today)
    metadata = json.dumps({"pairing_id": pairing_id})
    meetings = [(f"V0CRASH{i:03d}", (today - timedelta(days=i + 1)).isoformat()) for i in range(MEETINGS)]
    env = app_env(tmp_path, emulator, database_url)

    def submit(driver: SlackDriver, view_id: str, day: str, retry: int | None = None) -> int | None:
        try:
            return driver.view_submission(
                MENTEE, "shelfmate_checkin", checkin_state(day), private_metadata=metadata, view_id=view_id,
                view_hash=f"{view_id}.1", retry_num=retry,
            ).status_code  # fmt: skip
        except httpx.HTTPError:
            return None  # the process died under this request

    first = ShelfmateProcess(tmp_path, env).start()
    driver = SlackDriver(first.url, SIGNING_SECRET, issue_trigger_id=emulator.issue_trigger_id)
    answered: list[int | None] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(submit, driver, view_id, day) for view_id, day in meetings]
        deadline = time.monotonic() + 60
        while sum(f.done() for f in futures) < MEETINGS // 4:
            assert time.monotonic() < deadline, "the app answered nothing for a minute"
            time.sleep(0.005)
        first.kill()
        answered = [f.result() for f in futures]
    driver.close()
    assert 0 < sum(code == 200 for code in answered) < MEETINGS, Counter(answered)

    # Slack retries every request it has no answer for; we retry them all, answered or not.
    second = ShelfmateProcess(tmp_path, env).start()
    driver = SlackDriver(second.url, SIGNING_SECRET, issue_trigger_id=emulator.issue_trigger_id)
    for view_id, day in meetings:
        assert submit(driver, view_id, day, retry=1) == 200
    driver.close()
    output = second.stop()
    assert "Traceback" not in output and "database is locked" not in output

    with session_scope(engine) as session:
        rows = session.exec(select(CheckIn).where(CheckIn.pairing_id == pairing_id)).all()
    assert sorted(r.met_on.isoformat() for r in rows) == sorted(day for _, day in meetings)
    assert {(r.duration_minutes, r.format, r.rating) for r in rows} == {(45, "video", 4)}
    # A confirmation the kill caught mid-post keeps its claim until the lease is over; then a sweep checks
    # the conversation and sends it if it never landed.
    wall = FixedClock(datetime.now(UTC) + CLAIM_LEASE + timedelta(seconds=1))
    sweep = hand_moved_runtime(settings, engine, FixedClock(datetime.now(UTC)), wall)
    asyncio.run(recover_stale(sweep))
    asyncio.run(deliver_due(sweep))

    confirmations = Counter(
        text
        for call in emulator.calls_to("chat.postMessage")
        if call.ok and "logged your meeting" in (text := json.dumps(call.arg("blocks")))
    )
    assert max(confirmations.values()) == 1, "a meeting was announced twice"
    assert len(confirmations) == MEETINGS, f"{MEETINGS - len(confirmations)} meetings were never announced"


def test_sigterm_lets_acknowledged_requests_finish_before_the_process_exits(
    tmp_path: Path, emulator: SlackEmulator, database_url: str
) -> None:
    """A deploy restarts the bot with SIGTERM; Slack never resends a request the bot acked."""
    emulator.add_user("U0LATE001", name="late.joiner", tz="UTC", tz_offset=0)
    emulator.set_delay("users.info", 1.5)  # `/mentor join` looks the person up after its ack
    app = ShelfmateProcess(tmp_path, app_env(tmp_path, emulator, database_url)).start()
    driver = SlackDriver(
        app.url, SIGNING_SECRET, issue_trigger_id=emulator.issue_trigger_id, new_response_url=emulator.new_response_url
    )
    assert driver.mentor("U0LATE001", "join").status_code == 200
    driver.close()
    assert app.process is not None
    app.process.send_signal(signal.SIGTERM)
    output = app.stop()

    answers = [p.get("text", "") for p in emulator.responses_to(driver.last_response_url)]
    assert any("No mentoring program has been set up yet" in text for text in answers), (answers, output)
    assert app.process.returncode == 0, output
    assert "Traceback" not in output

"""Exactly once under crashes, concurrent sweeps and a flaky Slack."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientConnectorError, ClientOSError, ServerDisconnectedError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot import delivery as delivery_module
from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from bot.delivery import BATCH, CLAIM_LEASE, MAX_ATTEMPTS, deliver_due, recover_stale
from bot.runtime import Runtime
from bot.slack_client import SafeConnectionErrorRetryHandler, make_slack_client
from bot.slack_gateway import SlackGateway, SlackUnavailable
from storage import deliveries
from storage.deliveries import DeliveryKey
from storage.engine import session_scope
from storage.models import Agreement, Delivery, Enrollment, Pairing, Person
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.factories import make_program
from tests.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = [f"C0LOAD{i:04d}" for i in range(10)]
T0 = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)  # a Monday, 10 AM in Los Angeles


def seed_due(engine: Engine, program_id: int, count: int, *, first_to: str = "", first_rows: int = 0) -> None:
    """`count` due messages over CHANNELS, in claim order; the first `first_rows` go to `first_to` instead."""
    with session_scope(engine, write=True) as session:
        for i in range(count):
            deliveries.enqueue(
                session,
                DeliveryKey("applications_closing", f"load:{i}", "-"),
                recipient=first_to if i < first_rows else CHANNELS[i % len(CHANNELS)],
                due_at=T0 - timedelta(minutes=1),
                payload={"program": f"Program {i}", "closes": "2025-03-10", "timezone": "America/Los_Angeles"},
                program_id=program_id,
                now=T0,
            )


class SlackInFlight:
    """Lets the emulator finish what it started before a test moves time on (see SlackEmulator.wait_idle)."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self.emulator = emulator

    def wait_idle(self) -> None:
        self.emulator.wait_idle()

    async def settle(self) -> None:
        await asyncio.to_thread(self.emulator.wait_idle)


def age_claims(engine: Engine, by: timedelta) -> None:
    """Real time passes for the claims left in the ledger (the schedule's time moves with --at)."""
    with session_scope(engine, write=True) as session:
        for row in deliveries.by_status(session, "claimed"):
            row.claimed_at = row.claimed_at - by
            session.add(row)


def rows_of(engine: Engine, kind: str | None = None) -> list[Delivery]:
    with session_scope(engine) as session:
        return [d for d in deliveries.by_status(session) if kind is None or d.kind == kind]


def hand_moved_runtime(
    settings: Settings, engine: Engine, clock: FixedClock, wall: FixedClock, timeout: int = 1
) -> Runtime:
    """A runtime whose schedule clock and real-time clock the test moves by hand (a 1 s Slack timeout)."""
    runtime = create_runtime(settings, engine=engine, clock=clock, client=make_slack_client(settings, timeout=timeout))
    runtime.wall = wall
    return runtime


def delivered_ids(emulator: SlackEmulator) -> Counter[int]:
    """Delivery ids of messages that really landed in Slack (the emulator's record)."""
    landed: Counter[int] = Counter()
    for channel in CHANNELS:
        for message in emulator.messages_in(channel):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "delivery_id" in payload:
                landed[payload["delivery_id"]] += 1
    return landed


def sweep_process(database_url: str, emulator: SlackEmulator, at: datetime) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sweep", "--at", at.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_mid_batch_then_a_new_sweep_delivers_each_message_exactly_once(
    engine: Engine, emulator: SlackEmulator, database_url: str
) -> None:
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 400)
    emulator.set_delay("chat.postMessage", 0.01)  # enough that a kill lands mid-batch
    slack = SlackInFlight(emulator)
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        process = sweep_process(database_url, emulator, T0)
        # Kill at a random point of the batch, measured in messages sent (not seconds: start-up time varies).
        target = len(emulator.calls_to("chat.postMessage")) + rng.randint(5, 80)
        deadline = time.monotonic() + 60
        while process.poll() is None and len(emulator.calls_to("chat.postMessage")) < target:
            assert time.monotonic() < deadline, "the sweep sent nothing for a minute"
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 1
    landed_before = sum(delivered_ids(emulator).values())
    assert 0 < landed_before < 400

    # Ten minutes later (Slack has finished what the killed sweeps sent; their claims are ten minutes old),
    # a sweep recovers the stale claims from Slack's history, then sends the rest.
    slack.wait_idle()
    age_claims(engine, timedelta(minutes=10))
    final = sweep_process(database_url, emulator, T0 + timedelta(minutes=10))
    output, _ = final.communicate(timeout=120)
    assert final.returncode == 0, output
    assert "Traceback" not in output

    landed = delivered_ids(emulator)
    with session_scope(engine) as session:
        rows = [d for d in deliveries.by_status(session) if d.subject.startswith("load:")]
    assert len(rows) == 400
    assert {r.status for r in rows} == {"sent"}, Counter(r.status for r in rows)
    assert set(landed) == {r.id for r in rows}
    assert max(landed.values()) == 1, [i for i, n in landed.items() if n > 1]


def test_two_sweeps_at_once_send_each_delivery_once(engine: Engine, emulator: SlackEmulator, database_url: str) -> None:
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 200)
    processes = [sweep_process(database_url, emulator, T0) for _ in range(2)]
    for process in processes:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
        assert "database is locked" not in output and "Traceback" not in output
    landed = delivered_ids(emulator)
    with session_scope(engine) as session:
        load_ids = {d.id for d in deliveries.by_status(session) if d.subject.startswith("load:")}
    assert load_ids <= set(landed) and len(load_ids) == 200 and max(landed.values()) == 1


async def test_with_a_flaky_slack_every_delivery_ends_sent_or_reported(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    """20% of calls answer 429, 500 or time out (a timed-out post still lands, later, as with real Slack);
    sweeps keep running until nothing is left in flight, and nothing lands twice."""
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 60)
    slack = SlackInFlight(emulator)
    emulator.set_random_faults(0.2, seed=11, kinds=("429", "500", "timeout"), timeout_seconds=1.2)
    clock, wall = FixedClock(T0), FixedClock(T0)
    runtime = hand_moved_runtime(settings, engine, clock, wall)
    for _ in range(40):
        await recover_stale(runtime)
        await deliver_due(runtime)
        if not [d for d in rows_of(engine) if d.status in ("due", "claimed")]:
            break
        # An hour passes between sweeps, on the schedule's clock and in real time: Slack finishes what it
        # was still doing, and every claim lease and retry delay runs out.
        await slack.settle()
        clock.advance(minutes=65)
        wall.advance(minutes=65)
    await slack.settle()
    rows = rows_of(engine)
    statuses = Counter(r.status for r in rows if r.kind == "applications_closing")
    assert set(statuses) <= {"sent", "undeliverable"} and sum(statuses.values()) == 60, statuses
    landed = delivered_ids(emulator)
    assert max(landed.values()) == 1, [i for i, n in landed.items() if n > 1]
    sent_ids = {r.id for r in rows if r.status == "sent" and r.kind == "applications_closing"}
    assert sent_ids <= set(landed)


async def test_a_rate_limited_conversation_holds_up_only_its_own_messages(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime
) -> None:
    """Slack limits posting per conversation and says how long to wait (Retry-After); meanwhile the messages
    for every other conversation go on, including those claimed after the one that waits."""
    hot = "C0HOTCHAN1"
    for channel in [hot, *CHANNELS]:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 2 * BATCH, first_to=hot, first_rows=1)
    emulator.fail("chat.postMessage", status=429, retry_after=2, match=lambda args: args.get("channel") == hot)
    runtime.clock = FixedClock(T0)

    report = await deliver_due(runtime)

    assert report.sent == 2 * BATCH
    landed = [c.arg("channel") for c in emulator.calls_to("chat.postMessage") if c.ok]
    assert landed.index(hot) >= BATCH, "messages claimed after the rate-limited one waited for it"


async def test_a_conversation_slack_asks_to_wait_for_is_parked_without_holding_up_the_others(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime
) -> None:
    """The first rows due are all for one busy conversation. Sleeping out its Retry-After inside the send
    would hold every send slot; parked, it waits alone, and its messages still go out in the same sweep,
    without the 429s counting as failed attempts."""
    hot = "C0HOTCHAN1"
    for channel in [hot, *CHANNELS]:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    hot_rows = 4  # one per send slot
    seed_due(engine, program.id, 2 * BATCH, first_to=hot, first_rows=hot_rows)
    emulator.fail("chat.postMessage", status=429, retry_after=1, times=2, match=lambda args: args.get("channel") == hot)
    runtime.clock = FixedClock(T0)

    report = await deliver_due(runtime)

    assert (report.sent, report.retried, report.rate_limited) == (2 * BATCH, 0, 2)
    landed = [c.arg("channel") for c in emulator.calls_to("chat.postMessage") if c.ok]
    assert hot not in landed[: 2 * BATCH - hot_rows], "the other conversations waited for the busy one"
    assert landed.count(hot) == hot_rows
    assert {row.status for row in rows_of(engine)} == {"sent"}


async def test_a_conversation_slack_asks_to_wait_long_for_is_left_for_a_later_sweep(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime
) -> None:
    """A wait longer than the worker parks for (90 s here) is not waited out in this sweep: the row goes
    back untried, due when Slack said (a 429 is not a failed attempt), and the rest go out now."""
    hot = "C0HOTCHAN1"
    for channel in [hot, *CHANNELS]:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, BATCH, first_to=hot, first_rows=1)
    emulator.fail("chat.postMessage", status=429, retry_after=90, match=lambda args: args.get("channel") == hot)
    runtime.clock = FixedClock(T0)

    report = await deliver_due(runtime)

    assert (report.sent, report.retried, report.held) == (BATCH - 1, 0, 1)
    [waiting] = [row for row in rows_of(engine) if row.recipient == hot]
    assert (waiting.status, waiting.attempts) == ("due", 0)
    assert waiting.due_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=90)


async def test_a_send_that_fails_unexpectedly_ends_the_pass_only_after_the_others_went_out(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one message must not leave the rest of its batch half-sent behind the error."""
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 12)
    real_render = delivery_module.render_delivery

    def render(kind: str, payload: dict[str, Any]) -> Any:
        if payload["program"] == "Program 0":
            raise RuntimeError("a bug in one message")
        return real_render(kind, payload)

    monkeypatch.setattr(delivery_module, "render_delivery", render)
    runtime.clock = FixedClock(T0)
    with pytest.raises(RuntimeError, match="a bug in one message"):
        await deliver_due(runtime)
    statuses = Counter(r.status for r in rows_of(engine))
    assert statuses == {"sent": 11, "claimed": 1}, "the claimed one is left for recovery"


# -- a claim is over in real time, not on the schedule's clock -------------------------------------------
async def test_a_timed_out_post_is_not_looked_for_while_it_may_still_land(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    """The flake in the flaky-Slack test: the schedule's clock jumped, so a claim counted as stale the
    moment its post timed out; recovery found nothing in the history, resent, and then the first post landed."""
    emulator.add_channel(CHANNELS[0], "load")
    program = make_program(engine)
    seed_due(engine, program.id, 1)
    slack = SlackInFlight(emulator)
    emulator.fail("chat.postMessage", delay=3.0)  # answers (and posts) after the client gave up
    clock, wall = FixedClock(T0), FixedClock(T0)
    runtime = hand_moved_runtime(settings, engine, clock, wall)

    await deliver_due(runtime)
    [row] = rows_of(engine, "applications_closing")
    assert row.status == "claimed"
    clock.advance(hours=6)  # the schedule's (or a rehearsal's) clock jumps; in real time nothing has passed
    await recover_stale(runtime)
    await deliver_due(runtime)
    assert emulator.calls_to("conversations.history") == []
    assert [r.status for r in rows_of(engine, "applications_closing")] == ["claimed"]

    await slack.settle()  # the timed-out post lands
    wall.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    report = await recover_stale(runtime)
    await deliver_due(runtime)
    assert report.recovered == 1
    assert [r.status for r in rows_of(engine, "applications_closing")] == ["sent"]
    assert sum(delivered_ids(emulator).values()) == 1


async def test_stale_claims_are_recovered_in_real_time_even_when_the_clock_stands_still(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    emulator.add_channel(CHANNELS[0], "load")
    program = make_program(engine)
    seed_due(engine, program.id, 1)
    emulator.fail("chat.postMessage", status=500)  # Slack may or may not have posted it: verify first
    clock, wall = FixedClock(T0), FixedClock(T0)  # a rehearsal clock nobody moves
    runtime = hand_moved_runtime(settings, engine, clock, wall)

    await deliver_due(runtime)
    wall.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    report = await recover_stale(runtime)
    assert report.retried == 1 and len(emulator.calls_to("conversations.history")) == 1
    [row] = rows_of(engine, "applications_closing")
    assert (row.status, row.attempts, row.due_at) == ("due", 1, T0 + deliveries.retry_delay(1))

    clock.set(row.due_at)
    await deliver_due(runtime)
    assert [r.status for r in rows_of(engine, "applications_closing")] == ["sent"]
    assert sum(delivered_ids(emulator).values()) == 1


async def test_a_slack_outage_that_never_ends_makes_a_delivery_undeliverable_and_reported(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    """Each unclear failure is one attempt, looked for in the history once; after MAX_ATTEMPTS it stops."""
    emulator.add_channel(CHANNELS[0], "load")
    emulator.add_channel("C0ADMINS01", "plsep-admins")
    program = make_program(engine)
    seed_due(engine, program.id, 1)
    emulator.fail("chat.postMessage", status=500, times=None, match=lambda args: args.get("channel") == CHANNELS[0])
    clock, wall = FixedClock(T0), FixedClock(T0)
    runtime = hand_moved_runtime(settings, engine, clock, wall)
    for _ in range(4 * MAX_ATTEMPTS):
        await recover_stale(runtime)
        await deliver_due(runtime)
        if not [d for d in rows_of(engine) if d.status in ("due", "claimed")]:
            break
        clock.advance(minutes=65)
        wall.advance(minutes=65)

    [row] = rows_of(engine, "applications_closing")
    assert row.status == "undeliverable" and row.attempts == MAX_ATTEMPTS
    assert row.error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert len(emulator.calls_to("conversations.history")) == MAX_ATTEMPTS
    [report] = rows_of(engine, "unreachable")
    assert report.status == "sent" and report.payload["kind"] == "applications_closing"
    assert "gave up" in str(emulator.messages_in("C0ADMINS01"))


# -- who is unreachable ----------------------------------------------------------------------------------
MENTOR, MENTEE = "U0MENTOR1", "U0MENTEE1"
NEW_YORK, LOS_ANGELES = "America/New_York", "America/Los_Angeles"


def make_pair(
    engine: Engine, program_id: int, *, after_hours_ok: bool | None = None, mentor: str = MENTOR, mentee: str = MENTEE
) -> int:
    """A mentor in New York and a mentee in Los Angeles, paired; a settled agreement if `after_hours_ok` is set."""
    with session_scope(engine, write=True) as session:
        enrollments = []
        for user_id, tz, role in ((mentor, NEW_YORK, "mentor"), (mentee, LOS_ANGELES, "mentee")):
            session.add(Person(slack_user_id=user_id, display_name=user_id.lower(), timezone=tz))
            session.flush()
            enrollment = Enrollment(program_id=program_id, person_id=user_id, role=role, status="matched")
            session.add(enrollment)
            session.flush()
            enrollments.append(enrollment.id)
        pairing = Pairing(
            program_id=program_id,
            mentor_enrollment_id=enrollments[0],
            mentee_enrollment_id=enrollments[1],
            status="active",
        )
        session.add(pairing)
        session.flush()
        if after_hours_ok is not None:
            accepted = T0 - timedelta(days=7)
            session.add(
                Agreement(
                    pairing_id=pairing.id,
                    after_hours_ok=after_hours_ok,
                    mentor_accepted_at=accepted,
                    mentee_accepted_at=accepted,
                )
            )
        return pairing.id


def enqueue_for(
    engine: Engine, program_id: int, recipient: str, due_at: datetime, *, pairing_id: int | None = None, tag: str = "x"
) -> int:
    with session_scope(engine, write=True) as session:
        deliveries.enqueue(
            session,
            DeliveryKey("wrapup", f"test:{tag}", "-"),
            recipient=recipient,
            due_at=due_at,
            payload={"program": "PLSEP Mentorship 2025", "pairing_id": pairing_id or 0},
            program_id=program_id,
            pairing_id=pairing_id,
            now=due_at,
        )
        return session.exec(select(Delivery.id).where(Delivery.subject == f"test:{tag}")).one()


def reasons(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine) as session:
        return {p.slack_user_id: p.unreachable_reason for p in session.exec(select(Person))}


async def test_only_the_deactivated_member_of_a_group_dm_is_flagged_unreachable(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    program = make_program(engine)
    pairing_id = make_pair(engine, program.id)
    emulator.add_user(MENTOR, tz=NEW_YORK)
    emulator.add_user(MENTEE, tz=LOS_ANGELES)
    emulator.deactivate_user(MENTEE)
    enqueue_for(engine, program.id, f"users:{MENTOR},{MENTEE}", T0, pairing_id=pairing_id)
    await deliver_due(hand_moved_runtime(settings, engine, FixedClock(T0), FixedClock(T0)))

    assert reasons(engine) == {MENTOR: None, MENTEE: "user_disabled"}
    [report] = rows_of(engine, "unreachable")
    assert report.payload["people"] == [MENTEE] and report.payload["individuals_known"]


async def test_when_slack_does_not_say_who_is_unreachable_no_one_is_flagged_but_the_pair_is_reported(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    program = make_program(engine)
    pairing_id = make_pair(engine, program.id)
    emulator.add_user(MENTOR, tz=NEW_YORK)
    emulator.add_user(MENTEE, tz=LOS_ANGELES)
    emulator.fail("conversations.open", error="channel_not_found")
    enqueue_for(engine, program.id, f"users:{MENTOR},{MENTEE}", T0, pairing_id=pairing_id)
    await deliver_due(hand_moved_runtime(settings, engine, FixedClock(T0), FixedClock(T0)))

    [row] = rows_of(engine, "wrapup")
    assert row.status == "undeliverable"
    assert reasons(engine) == {MENTOR: None, MENTEE: None}
    [report] = rows_of(engine, "unreachable")
    assert report.payload["people"] == [MENTOR, MENTEE] and not report.payload["individuals_known"]


async def test_an_unreachable_person_is_reported_once_a_day_per_program(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    """Two messages to a deactivated mentee fail on Monday: the coordinators hear once. A third fails on
    Tuesday: they hear again (a report keyed once and for all would never say it again)."""
    program = make_program(engine)
    pairing_id = make_pair(engine, program.id)
    emulator.add_user(MENTOR, tz=NEW_YORK)
    emulator.add_user(MENTEE, tz=LOS_ANGELES)
    emulator.add_channel("C0ADMINS01", "plsep-admins")
    emulator.deactivate_user(MENTEE)
    for tag in ("x", "y"):
        enqueue_for(engine, program.id, f"users:{MENTOR},{MENTEE}", T0, pairing_id=pairing_id, tag=tag)
    for _ in range(2):  # the second sweep sends the report the first one queued
        await deliver_due(hand_moved_runtime(settings, engine, FixedClock(T0), FixedClock(T0)))
    tuesday = T0 + timedelta(days=1)
    enqueue_for(engine, program.id, f"users:{MENTOR},{MENTEE}", tuesday, pairing_id=pairing_id, tag="z")
    for _ in range(2):
        await deliver_due(hand_moved_runtime(settings, engine, FixedClock(tuesday), FixedClock(tuesday)))

    assert [r.status for r in rows_of(engine, "wrapup")] == ["undeliverable"] * 3
    reports = rows_of(engine, "unreachable")
    assert [(r.subject, r.period, r.status) for r in reports] == [
        (f"people:{MENTEE}", f"program:{program.id}:2025-03-03", "sent"),
        (f"people:{MENTEE}", f"program:{program.id}:2025-03-04", "sent"),
    ]
    assert sum("can't be reached" in m.get("text", "") for m in emulator.messages_in("C0ADMINS01")) == 2


async def test_a_message_that_reaches_someone_clears_their_unreachable_flag(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    program = make_program(engine)
    make_pair(engine, program.id)
    emulator.add_user(MENTOR, tz=NEW_YORK)
    with session_scope(engine, write=True) as session:
        for user_id in (MENTOR, MENTEE):
            session.get(Person, user_id).unreachable_reason = "messages_tab_disabled"
    enqueue_for(engine, program.id, MENTOR, T0)  # they turned messages from apps back on
    await deliver_due(hand_moved_runtime(settings, engine, FixedClock(T0), FixedClock(T0)))

    assert [r.status for r in rows_of(engine, "wrapup")] == ["sent"]
    assert reasons(engine) == {MENTOR: None, MENTEE: "messages_tab_disabled"}


# -- quiet hours hold for retries and backlog ------------------------------------------------------------
def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


async def test_a_retry_to_a_pair_waits_for_working_hours_in_both_time_zones(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    program = make_program(engine)
    pairing_id = make_pair(engine, program.id)  # no agreement yet: no messages after hours
    emulator.add_user(MENTOR, tz=NEW_YORK)
    emulator.add_user(MENTEE, tz=LOS_ANGELES)
    emulator.fail("chat.postMessage", error="internal_error")  # a clear failure: retry after a minute
    now = local(LOS_ANGELES, 2025, 3, 3, 13, 59)  # Monday, 16:59 in New York: the retry would be at 17:00
    enqueue_for(engine, program.id, f"users:{MENTOR},{MENTEE}", now, pairing_id=pairing_id)
    await deliver_due(hand_moved_runtime(settings, engine, FixedClock(now), FixedClock(T0)))

    [row] = rows_of(engine, "wrapup")
    assert (row.status, row.attempts) == ("due", 1)
    assert row.due_at == local(LOS_ANGELES, 2025, 3, 4, 9, 0)  # Tuesday 9:00 in LA, 12:00 in New York


async def test_backlog_after_downtime_waits_for_working_hours_unless_the_pair_agreed_otherwise(
    engine: Engine, emulator: SlackEmulator, settings: Settings
) -> None:
    program = make_program(engine)
    quiet = make_pair(engine, program.id, after_hours_ok=False)
    emulator.add_user(MENTOR, tz=NEW_YORK)
    emulator.add_user(MENTEE, tz=LOS_ANGELES)
    due = local(LOS_ANGELES, 2025, 3, 7, 10, 0)  # Friday morning; the bot was down until the evening
    quiet_id = enqueue_for(engine, program.id, f"users:{MENTOR},{MENTEE}", due, pairing_id=quiet, tag="quiet")
    relaxed = make_pair(engine, program.id, after_hours_ok=True, mentor="U0MENTOR2", mentee="U0MENTEE2")
    emulator.add_user("U0MENTOR2", tz=NEW_YORK)
    emulator.add_user("U0MENTEE2", tz=LOS_ANGELES)
    relaxed_id = enqueue_for(engine, program.id, "users:U0MENTOR2,U0MENTEE2", due, pairing_id=relaxed, tag="ok")

    clock = FixedClock(local(LOS_ANGELES, 2025, 3, 7, 19, 0))
    report = await deliver_due(hand_moved_runtime(settings, engine, clock, FixedClock(T0)))
    by_id = {r.id: r for r in rows_of(engine, "wrapup")}
    assert by_id[relaxed_id].status == "sent"
    assert (by_id[quiet_id].status, by_id[quiet_id].attempts) == ("due", 0)
    assert by_id[quiet_id].due_at == local(LOS_ANGELES, 2025, 3, 10, 9, 0)  # Monday 9:00 LA, 12:00 New York
    assert report.held == 1

    clock.set(local(LOS_ANGELES, 2025, 3, 10, 9, 5))
    await deliver_due(hand_moved_runtime(settings, engine, clock, FixedClock(T0)))
    assert {r.status for r in rows_of(engine, "wrapup")} == {"sent"}


# -- connection errors must not post twice ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_post_whose_connection_broke_after_sending_is_verified_not_repeated(how: str) -> None:
    """Slack read the whole request, then the connection dropped: it may have posted, so the client must
    not send it again (slack_sdk's connection retry handler did) and the ledger must verify it."""
    received: list[str] = []

    async def answer_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        received.append(head.split(b" ")[1].decode())
        if how == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    server = await asyncio.start_server(answer_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=f"http://127.0.0.1:{port}/api/"
    )
    gateway = SlackGateway(make_slack_client(settings, timeout=5))
    try:
        with pytest.raises(SlackUnavailable) as failure:
            await gateway.post("C0LOAD0000", "hello", metadata={"event_type": "x", "event_payload": {"id": 1}})
        assert failure.value.ambiguous
        assert received == ["/api/chat.postMessage"]
    finally:
        server.close()
        await server.wait_closed()


async def test_connection_errors_are_retried_only_when_nothing_can_happen_twice() -> None:
    handler = SafeConnectionErrorRetryHandler(max_retry_count=2)

    async def retried(method: str, error: Exception) -> bool:
        request = HttpRequest(method="POST", url=f"https://slack.com/api/{method}", headers={})
        return await handler.can_retry_async(state=RetryState(), request=request, error=error)

    refused = ClientConnectorError(SimpleNamespace(ssl=None, host="slack.com", port=443), OSError(111, "refused"))
    assert await retried("chat.postMessage", refused)  # never left: safe
    assert not await retried("chat.postMessage", ServerDisconnectedError())
    assert not await retried("chat.postMessage", ClientOSError(104, "Connection reset by peer"))
    assert await retried("conversations.history", ServerDisconnectedError())  # a read: safe to repeat
    assert await retried("conversations.open", ClientOSError(104, "Connection reset by peer"))


def test_a_delivery_key_longer_than_its_column_is_refused_on_every_database() -> None:
    """PostgreSQL refused a rematch request's key (a 47-character period in a 32-character column) while SQLite
    stored it, so the request reached nobody in production only; the key is now checked where it is made."""
    with pytest.raises(ValueError, match="period is longer than 32"):
        DeliveryKey("rematch_request", "pairing:1", "C0ADMINS01:2025-03-05:" + "a" * 24)
    assert DeliveryKey("rematch_request", "pairing:1:C0ADMINS01", "2025-03-05:" + "a" * 20).period

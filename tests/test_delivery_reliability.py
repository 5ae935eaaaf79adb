"""Exactly once under crashes, concurrent sweeps and a flaky Slack."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from bot.delivery import deliver_due, recover_stale
from bot.runtime import make_slack_client
from storage import deliveries
from storage.deliveries import DeliveryKey
from storage.engine import session_scope
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.factories import make_program
from tests.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = [f"C0LOAD{i:04d}" for i in range(10)]
T0 = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)  # a Monday, 10 AM in Los Angeles


def seed_due(engine: Engine, program_id: int, count: int) -> None:
    with session_scope(engine, write=True) as session:
        for i in range(count):
            deliveries.enqueue(
                session,
                DeliveryKey("applications_closing", f"load:{i}", "-"),
                recipient=CHANNELS[i % len(CHANNELS)],
                due_at=T0 - timedelta(minutes=1),
                payload={"program": f"Program {i}", "closes": "2025-03-10", "timezone": "America/Los_Angeles"},
                program_id=program_id,
                now=T0,
            )


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
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        process = sweep_process(database_url, emulator, T0)
        time.sleep(rng.uniform(0.8, 2.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 1
    landed_before = sum(delivered_ids(emulator).values())
    assert 0 < landed_before < 400 or kills < 4

    # After the crashes: a later sweep recovers stale claims from Slack's history, then sends the rest.
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
    """20% of calls answer 429, 500 or time out; sweeps keep running until nothing is left in flight."""
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 60)
    emulator.set_random_faults(0.2, seed=11, kinds=("429", "500", "timeout"), timeout_seconds=1.2)
    clock = FixedClock(T0)
    fast = Settings(**{**settings.__dict__})
    runtime = create_runtime(fast, engine=engine, clock=clock, client=make_slack_client(fast, timeout=1))
    for _ in range(40):
        await recover_stale(runtime)
        await deliver_due(runtime)
        with session_scope(engine) as session:
            open_rows = [d for d in deliveries.by_status(session) if d.status in ("due", "claimed")]
        if not open_rows:
            break
        clock.advance(minutes=65)  # past every retry delay and the stale-claim window
    await asyncio.sleep(1.5)  # let the emulator finish answering calls the client gave up on
    with session_scope(engine) as session:
        rows = deliveries.by_status(session)
    statuses = Counter(r.status for r in rows if r.kind == "applications_closing")
    assert set(statuses) <= {"sent", "undeliverable"} and sum(statuses.values()) == 60, statuses
    landed = delivered_ids(emulator)
    assert max(landed.values()) == 1
    sent_ids = {r.id for r in rows if r.status == "sent" and r.kind == "applications_closing"}
    assert sent_ids <= set(landed)

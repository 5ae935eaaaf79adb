"""Fan-out: 10,000 due deliveries through the real worker and gateway, with and without Slack's rate limits.

Run:  .venv/bin/python bench/fanout.py            # full: 10,000 rows per main scenario (about 5 minutes)
      .venv/bin/python bench/fanout.py --quick    # 1,000 rows, small side scenarios (well under a minute)
      .venv/bin/python bench/fanout.py --database-url postgresql+psycopg://user:pw@host/db --reset

Rows are enqueued as the scheduler does (`storage.deliveries.enqueue`, like `seed_due` in
tests/test_delivery_reliability.py) and drained by `bot.delivery.recover_stale` + `bot.delivery.deliver_due`
with a runtime from `bot.app.create_runtime` (the product's client: 10 s timeout, 429 and connection retry
handlers), exactly as one scheduler tick does, against the Slack emulator in its own process.

Scenarios:
- channels: rows spread over stored conversation ids (as a pair's or channel's stored id), one
  chat.postMessage each. With rate tiers the emulator allows 1 message per second per conversation, so
  the floor is (rows per conversation) seconds.
- hot channels: a few conversations get many rows each: the per-conversation limit is the whole story.
- group DMs: recipient `users:U1,U2` (what the scheduler enqueues for a pair with no stored conversation):
  conversations.open before every message. With rate tiers conversations.open is Tier 3 (50 a minute), so
  the floor is rows x 1.2 s.

If rows are left due later (released after a failure, retried after 1, 2, 4... minutes) the worker's
clock is moved forward instead of sleeping; that skipped time is printed, not hidden. Duplicates and
losses are checked against the emulator's record of accepted chat.postMessage calls (message metadata
carries the delivery id).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ack_latency import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    EmulatorProcess,
    prepare_database,
    proc_cpu_seconds,
)

ADMIN_CHANNEL = "C0FANADMIN"


class OffsetClock:
    """The system clock, moved forward when the worker would otherwise sleep until a retry is due."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    recipients: str  # "channels" or "dms"
    conversations: int
    rate_limited: bool


@dataclass
class Outcome:
    scenario: Scenario
    seconds: float
    skipped: float
    passes: int
    worker_cpu: float
    emulator_cpu: float
    floor: float | None
    floor_rule: str
    statuses: Counter[str]
    calls: dict[str, int]
    http_429: int
    duplicates: int
    lost: int
    sent_not_landed: int
    landed_not_sent: int
    report: dict[str, int]


def scenarios(quick: bool, rows: int | None) -> list[Scenario]:
    main_rows = rows or (1_000 if quick else 10_000)
    per_conversation = 10
    conversations = max(1, main_rows // per_conversation)
    out = [
        Scenario("channels, no limit", main_rows, "channels", conversations, False),
        Scenario("channels, rate tiers", main_rows, "channels", conversations, True),
        Scenario("hot channels, rate tiers", 60 if quick else 300, "channels", 10, True),
        Scenario("group DMs, no limit", 300 if quick else 2_000, "dms", 0, False),
    ]
    if not quick:
        out.append(Scenario("group DMs, rate tiers", 60, "dms", 0, True))
    return out


def method_limit(method: str) -> tuple[int, float, str]:
    """(calls, window s, rule) the emulator enforces for one method."""
    from tests.slack_emulator import RATE_TIERS, SPECIAL_RATE_LIMITS, SlackEmulator

    special = SPECIAL_RATE_LIMITS.get(method)
    if special is not None:
        limit, window, per = special
        return limit, window, f"{limit}/{window:g}s per {per}" if per else f"{limit}/{window:g}s"
    tier = SlackEmulator().spec(method).tier  # type: ignore[union-attr]
    limit, window = RATE_TIERS[str(tier)]
    return limit, window, f"{tier}: {limit}/{window:g}s"


def seed_program(database_url: str) -> int:
    from storage.engine import make_engine, session_scope
    from storage.models import Program

    engine = make_engine(database_url)
    try:
        with session_scope(engine, write=True) as session:
            program = Program(
                name=f"Fanout {uuid.uuid4().hex[:8]}",
                applications_open=date(2025, 1, 6),
                applications_close=date(2025, 2, 17),
                agreement_due=date(2025, 3, 1),
                starts_on=date(2025, 3, 1),
                ends_on=date(2025, 6, 30),
                admin_channel=ADMIN_CHANNEL,
                timezone="America/Los_Angeles",
            )
            session.add(program)
            session.flush()
            return int(program.id or 0)
    finally:
        engine.dispose()


def recipients_for(scenario: Scenario, tag: str) -> list[str]:
    if scenario.recipients == "channels":
        ids = [f"C0{tag}{j:05d}" for j in range(scenario.conversations)]
        return [ids[i % len(ids)] for i in range(scenario.rows)]
    return [f"users:U0{tag}{2 * i:05d},U0{tag}{2 * i + 1:05d}" for i in range(scenario.rows)]


def enqueue_rows(engine: Any, program_id: int, subject_prefix: str, recipients: list[str], now: datetime) -> float:
    """Enqueue due rows the way the scheduler does, in one transaction (like seed_due in the tests)."""
    from storage import deliveries
    from storage.deliveries import DeliveryKey
    from storage.engine import session_scope

    began = time.perf_counter()
    with session_scope(engine, write=True) as session:
        for i, recipient in enumerate(recipients):
            deliveries.enqueue(
                session,
                DeliveryKey("applications_closing", f"{subject_prefix}:{i}", "-"),
                recipient=recipient,
                due_at=now - timedelta(minutes=1),
                payload={"program": f"Program {i}", "closes": "2025-03-10", "timezone": "America/Los_Angeles"},
                program_id=program_id,
                now=now,
            )
    return time.perf_counter() - began


def rows_of(engine: Any, subject_prefix: str) -> list[Any]:
    from sqlmodel import col, select

    from storage.engine import session_scope
    from storage.models import Delivery

    with session_scope(engine) as session:
        statement = select(Delivery).where(col(Delivery.subject).startswith(subject_prefix + ":"))
        return list(session.exec(statement))


async def drain(runtime: Any, clock: OffsetClock, engine: Any, prefix: str, max_passes: int) -> dict[str, Any]:
    """Run sweeps (recover, then deliver) until every row of this scenario is final."""
    from bot import delivery
    from bot.delivery import deliver_due, recover_stale

    # How long an unsure claim is left alone before recovery looks for it (the name changed over time).
    lease = getattr(delivery, "CLAIM_LEASE", None) or getattr(delivery, "STALE_CLAIM", timedelta(minutes=2))

    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    report: Counter[str] = Counter()
    skipped = 0.0
    passes = 0
    began = time.perf_counter()
    while passes < max_passes:
        passes += 1
        recovered = await recover_stale(runtime)
        delivered = await deliver_due(runtime)
        for name in ("sent", "retried", "undeliverable", "recovered"):
            report[name] += getattr(recovered, name) + getattr(delivered, name)
        open_rows = [r for r in rows_of(engine, prefix) if r.status in ("due", "claimed")]
        if not open_rows:
            break
        # Rows left for later: a released row is due after its backoff, an unsure claim after its lease.
        next_at = min(
            aware(r.due_at) if r.status == "due" else aware(r.claimed_at or clock.now()) + lease for r in open_rows
        )
        jump = (next_at - clock.now()).total_seconds() + 1
        if jump > 0:
            clock.offset += timedelta(seconds=jump)
            skipped += jump
    return {"seconds": time.perf_counter() - began, "skipped": skipped, "passes": passes, "report": dict(report)}


def run_scenario(
    scenario: Scenario, emulator: EmulatorProcess, database_url: str, program_id: int, index: int
) -> Outcome:
    from bot.app import create_runtime
    from bot.config import Settings
    from storage.engine import make_engine

    tag = f"F{index}"
    recipients = recipients_for(scenario, tag)
    if scenario.recipients == "channels":
        for cid in dict.fromkeys(recipients):
            emulator.add_channel(cid, cid.lower())
        per_conversation = max(Counter(recipients).values())
        limit, window, rule = method_limit("chat.postMessage")
        floor = per_conversation * window / limit
        floor_rule = f"{per_conversation} msgs/conversation at {rule}"
    else:
        people = sorted({u for r in recipients for u in r.removeprefix("users:").split(",")})
        emulator.add_users(people)
        limit, window, rule = method_limit("conversations.open")
        floor = scenario.rows * window / limit
        floor_rule = f"{scenario.rows} conversations.open at {rule}"

    engine = make_engine(database_url)
    clock = OffsetClock()
    prefix = f"fanout-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        slack_api_url=emulator.api_url,
        database_url=database_url,
    )
    runtime = create_runtime(settings, engine=engine, clock=clock)
    if hasattr(runtime, "wall"):
        runtime.wall = clock  # claims are leased on real time; skipping a wait moves both clocks
    try:
        enqueue_seconds = enqueue_rows(engine, program_id, prefix, recipients, clock.now())
        emulator.clear_faults()
        emulator.reset_calls()
        emulator.enforce_rate_tiers(scenario.rate_limited)
        cpu0, emu_cpu0 = proc_cpu_seconds_self(), proc_cpu_seconds(emulator.pid)
        result = asyncio.run(drain(runtime, clock, engine, prefix, max_passes=400))
        worker_cpu, emulator_cpu = proc_cpu_seconds_self() - cpu0, proc_cpu_seconds(emulator.pid) - emu_cpu0
        emulator.enforce_rate_tiers(False)
        stats = emulator.stats()
        landed = emulator.delivered()
        rows = rows_of(engine, prefix)
    finally:
        engine.dispose()

    ids = {int(r.id) for r in rows}
    sent = {int(r.id) for r in rows if r.status == "sent"}
    mine = {i: n for i, n in landed.items() if i in ids}
    outcome = Outcome(
        scenario=scenario,
        seconds=result["seconds"],
        skipped=result["skipped"],
        passes=result["passes"],
        worker_cpu=worker_cpu,
        emulator_cpu=emulator_cpu,
        floor=floor if scenario.rate_limited else None,
        floor_rule=floor_rule,
        statuses=Counter(r.status for r in rows),
        calls=stats["by_method"],
        http_429=sum(n for key, n in stats["statuses"].items() if key.endswith(" 429")),
        duplicates=sum(n - 1 for n in mine.values() if n > 1),
        lost=len(ids - set(mine)),
        sent_not_landed=len(sent - set(mine)),
        landed_not_sent=len(set(mine) - sent),
        report=result["report"],
    )
    print(
        f"  ran {scenario.name}: {scenario.rows:,} rows (enqueued in {enqueue_seconds:.1f} s), "
        f"drained in {outcome.seconds:.1f} s over {outcome.passes} sweep(s); statuses {dict(outcome.statuses)}; "
        f"violations {stats['violations']}",
        flush=True,
    )
    for sample in stats["violation_samples"][:2]:
        print(f"    violation: {sample}")
    return outcome


def proc_cpu_seconds_self() -> float:
    return time.process_time()


def print_report(outcomes: list[Outcome]) -> None:
    header = (
        f"{'scenario':<26}{'rows':>7}{'time s':>9}{'msgs/s':>9}{'floor s':>9}{'time/floor':>11}{'429s':>7}"
        f"{'retried':>8}{'dup':>5}{'lost':>6}{'calls/msg':>10}{'skipped s':>10}{'CPU ms/msg':>11}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        rows = o.scenario.rows
        api_calls = sum(n for m, n in o.calls.items() if m != "conversations.history") or 0
        floor = f"{o.floor:>9.1f}" if o.floor is not None else f"{'-':>9}"
        # Backoff the worker's clock skipped is time a real deployment would wait: it counts against the floor.
        ratio = f"{(o.seconds + o.skipped) / o.floor:>11.2f}" if o.floor else f"{'-':>11}"
        print(
            f"{o.scenario.name:<26}{rows:>7,}{o.seconds:>9.1f}{rows / o.seconds:>9.1f}{floor}{ratio}{o.http_429:>7}"
            f"{o.report.get('retried', 0):>8}{o.duplicates:>5}{o.lost:>6}{api_calls / rows:>10.2f}{o.skipped:>10.0f}"
            f"{o.worker_cpu * 1000 / rows:>11.2f}"
        )
    print()
    for o in outcomes:
        calls = ", ".join(f"{m} x{n:,}" for m, n in sorted(o.calls.items()))
        extra = ""
        if o.sent_not_landed or o.landed_not_sent:
            extra = (
                f"; marked sent but not in Slack {o.sent_not_landed}, in Slack but not marked sent {o.landed_not_sent}"
            )
        print(f"  {o.scenario.name}: floor rule {o.floor_rule}; API calls {calls}{extra}")
        print(
            f"    worker CPU {o.worker_cpu:.1f} s, emulator CPU {o.emulator_cpu:.1f} s, "
            f"sweeps {o.passes}, report {o.report}"
        )
    by_name = {o.scenario.name: o for o in outcomes}
    print()
    print("Ratios (same run):")
    for limited, free in (
        ("channels, rate tiers", "channels, no limit"),
        ("group DMs, no limit", "channels, no limit"),
    ):
        if limited in by_name and free in by_name:
            a, b = by_name[limited], by_name[free]
            print(f"  {limited} vs {free}: msgs/s {a.scenario.rows / a.seconds / (b.scenario.rows / b.seconds):.2f}x")
    for o in outcomes:
        if o.scenario.recipients == "dms" and o.scenario.rate_limited:
            limit, window, _ = method_limit("conversations.open")
            projected = 10_000 * window / limit
            per_message = (o.seconds + o.skipped) / o.scenario.rows
            print(
                f"  10,000 first messages to pairs (users:..., conversations.open each) under its tier: at least "
                f"{projected / 60:.0f} min; measured {per_message:.2f} s per message for {o.scenario.rows} "
                f"(wall {o.seconds:.0f} s + {o.skipped:.0f} s of retry backoff skipped)"
            )
    bad = [o for o in outcomes if o.duplicates or o.lost]
    print(
        "Exactly once: "
        + (
            "duplicates = 0 and lost = 0 in every scenario."
            if not bad
            else f"FAILED in {[o.scenario.name for o in bad]}"
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 rows and small side scenarios")
    parser.add_argument("--rows", type=int, help="rows of the two main scenarios (default 10,000; --quick 1,000)")
    parser.add_argument("--only", help="comma-separated scenario name prefixes to run")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--reset", action="store_true", help="empty the --database-url database first")
    args = parser.parse_args()

    selected = scenarios(args.quick, args.rows)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        selected = [s for s in selected if any(s.name.startswith(w) for w in wanted)]
    workdir = Path(tempfile.mkdtemp(prefix="shelfmate-fanout-"))
    emulator = EmulatorProcess(BOT_TOKEN)
    try:
        database_url = prepare_database(args.database_url, args.reset, workdir)
        emulator.add_channel(ADMIN_CHANNEL, "mentoring-admins")
        program_id = seed_program(database_url)
        label = "SQLite (temp file)" if args.database_url is None else database_url.split("://")[0]
        from bot.delivery import BATCH, CONCURRENCY

        print(f"Database: {label}. Worker: bot.delivery as shipped (BATCH {BATCH}, CONCURRENCY {CONCURRENCY}).")
        outcomes = [
            run_scenario(scenario, emulator, database_url, program_id, i) for i, scenario in enumerate(selected)
        ]
        print()
        print_report(outcomes)
    finally:
        emulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

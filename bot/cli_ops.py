"""Operator commands: `shelfmate sweep` (run every due sweep once) and `shelfmate clock` (rehearsal clock)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.cli_admin import CommandFailed, open_database, stop_if_token_refused
from bot.config import load_settings
from storage import deliveries, queries
from storage.engine import session_scope

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.scheduler import TickReport


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandFailed(f"{text!r} is not an ISO date-time, e.g. 2025-03-15T09:30:00-08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_sweep(args: argparse.Namespace) -> int:
    from bot.app import create_runtime
    from bot.clock import FixedClock
    from bot.services import schedule

    at = parse_moment(args.at) if args.at else None  # a typo in --at is reported before any database work
    settings = load_settings(require_slack=not args.dry_run, receives_requests=False)
    engine = open_database(settings)
    try:
        # A dry run changes nothing, the rehearsal clock included; a real one moves that clock to --at.
        if at is not None and settings.clock_mode == "rehearsal" and not args.dry_run:
            with session_scope(engine, write=True) as session:
                queries.set_rehearsal_now(session, at)
        clock = FixedClock(at) if at is not None else None
        runtime = create_runtime(settings, engine=engine, clock=clock)
        now = runtime.now()
        if args.dry_run:
            with session_scope(engine, write=True) as session:
                report = schedule.plan(session, now, coordinators=settings.admins)
                # Read what we print before the rollback: it expires (and would detach) the rows.
                due = [
                    f"  {d.kind}\t{d.subject}\t{d.period}\tto {d.recipient}"
                    for d in deliveries.by_status(session, "due")
                    if d.due_at <= now
                ]
                session.rollback()
            waiting = f"{len(due)} due now:" if due else "nothing is due now."
            print(f"At {now.isoformat()}: {len(report.enqueued)} new message(s) would be planned; {waiting}")
            for line in due:
                print(line)
            return 0
        result = asyncio.run(_checked_tick(runtime))
        print(
            f"At {now.isoformat()}: planned {len(result.plan.enqueued)}, sent {result.delivered.sent}, "
            f"retrying {result.delivered.retried}, undeliverable {result.delivered.undeliverable}, "
            f"recovered {result.recovered.recovered}, held for working hours {result.delivered.held}, "
            f"skipped as no longer owed {result.delivered.skipped}, pauses ended {result.pauses_ended}."
        )
    finally:
        engine.dispose()
    return 0


async def _checked_tick(runtime: Runtime) -> TickReport:
    """One sweep, unless Slack refuses the bot token: a cron job would otherwise exit 0 having sent nothing."""
    from bot.scheduler import tick

    await stop_if_token_refused(runtime.client)
    return await tick(runtime)


def cmd_clock_set(args: argparse.Namespace) -> int:
    moment = parse_moment(args.moment)
    settings = load_settings(require_slack=False)
    engine = open_database(settings)
    try:
        with session_scope(engine, write=True) as session:
            queries.set_rehearsal_now(session, moment)
    finally:
        engine.dispose()
    note = "" if settings.clock_mode == "rehearsal" else " (takes effect only with SHELFMATE_CLOCK=rehearsal)"
    print(f"Rehearsal clock set to {moment.isoformat()}{note}.")
    return 0


def cmd_clock_show(args: argparse.Namespace) -> int:
    """Print the stored clock. A database that cannot be opened is an error, not "not set": a coordinator
    rehearsing a program would believe the clock had been reset."""
    settings = load_settings(require_slack=False)
    engine = open_database(settings)  # migrated, so a fresh database has the table and simply no clock yet
    try:
        with session_scope(engine) as session:
            stored = queries.get_rehearsal_now(session)
    finally:
        engine.dispose()
    print(f"clock mode: {settings.clock_mode}; rehearsal clock: {stored.isoformat() if stored else 'not set'}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="run every due sweep once (plan, recover, deliver)")
    sweep.add_argument(
        "--at",
        help="act as if it were this ISO date-time; with SHELFMATE_CLOCK=rehearsal, also moves the rehearsal "
        "clock there (not in a --dry-run)",
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="show what is due without sending anything (the database is migrated first)",
    )
    sweep.set_defaults(handler=cmd_sweep)
    clock = sub.add_parser("clock", help="the rehearsal clock (SHELFMATE_CLOCK=rehearsal)")
    clock_sub = clock.add_subparsers(dest="clock_command", required=True)
    set_cmd = clock_sub.add_parser("set", help="set the rehearsal clock")
    set_cmd.add_argument("moment", help="ISO date-time, e.g. 2025-03-01T09:00:00-08:00")
    set_cmd.set_defaults(handler=cmd_clock_set)
    clock_sub.add_parser("show", help="show the clock").set_defaults(handler=cmd_clock_show)

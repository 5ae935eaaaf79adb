"""APScheduler is the clock; the database is the truth.

A few periodic sweeps run in-process (memory job store, UTC): each asks the services what is due now.
No job per pair, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import delivery
from bot.delivery import DeliveryReport
from bot.runtime import Runtime
from bot.services import enrollment as enrollment_service
from bot.services import schedule
from bot.services.schedule import PlanReport

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 60
# A sweep that starts late (busy loop, suspended laptop) should still run once, not be dropped or doubled.
MISFIRE_GRACE_SECONDS = 300

Sweep = Callable[[Runtime], Awaitable[object]]


@dataclass
class TickReport:
    pauses_ended: int
    plan: PlanReport
    recovered: DeliveryReport
    delivered: DeliveryReport


async def tick(runtime: Runtime) -> TickReport:
    """One pass of every sweep, in order: lift pauses, plan what is owed, recover, deliver."""
    now = runtime.now()
    ended = await runtime.write(enrollment_service.end_due_pauses, now)
    # Survey without the write lock, in the worker process (it is seconds of CPU on a large workspace);
    # re-plan only what it found, from fresh rows, under the lock. Work that appears after the survey is
    # found by the next tick.
    coordinators = runtime.settings.admins
    found = await runtime.read_in_worker(schedule.survey, now, coordinators)
    planned = await runtime.write(schedule.plan, now, scope=found, coordinators=coordinators) if found else PlanReport()
    recovered = await delivery.recover_stale(runtime)
    delivered = await delivery.deliver_due(runtime)
    return TickReport(pauses_ended=len(ended), plan=planned, recovered=recovered, delivered=delivered)


SWEEPS: list[tuple[str, Sweep]] = [("tick", tick)]


def start_scheduler(runtime: Runtime) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    for name, sweep in SWEEPS:
        scheduler.add_job(_guarded(name, sweep), "interval", seconds=SWEEP_INTERVAL_SECONDS, args=[runtime], id=name)
    scheduler.start()
    return scheduler


def _guarded(name: str, sweep: Sweep) -> Callable[[Runtime], Awaitable[None]]:
    """One failing sweep must not stop the scheduler or the others."""

    async def run(runtime: Runtime) -> None:
        try:
            await sweep(runtime)
        except Exception:
            log.exception("sweep %s failed; it will run again at the next interval", name)

    return run

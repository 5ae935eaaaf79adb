"""The scheduler, driven by an injected clock: intros, agreements, nudges, at-risk alerts, wrap-up.

A whole program (application window to wrap-up survey) runs here in seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.config import Settings
from bot.delivery import deliver_due, recipients_of, recover_stale
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import agreements, schedule
from bot.services import enrollment as enrollment_service
from bot.services import pairing as pairing_service
from bot.services.schedule import next_allowed_time, period_containing
from bot.worker_process import WORKER_NICENESS, Worker
from storage import queries
from storage.engine import session_scope
from storage.models import CheckIn, Delivery, Enrollment, Pairing, Person, Program
from tests.factories import make_program
from tests.slack_emulator import SlackEmulator

T = TypeVar("T")

ADMIN_CHANNEL = "C0ADMINS01"
LA = "America/Los_Angeles"


def person(session: Any, user_id: str, tz: str = LA) -> None:
    session.add(Person(slack_user_id=user_id, display_name=user_id.lower(), timezone=tz))
    session.flush()


def enroll(session: Any, program: Program, user_id: str, role: str, **fields: Any) -> Enrollment:
    enrollment = Enrollment(
        program_id=program.id,
        person_id=user_id,
        role=role,
        library_type="school",
        organization=fields.pop("organization", f"{user_id} district"),
        specializations=fields.pop("specializations", ["school_instruction"]),
        years_experience=10 if role == "mentor" else 1,
        capacity=2 if role == "mentor" else 0,
        **fields,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def hand_pair(engine: Engine, program: Program, mentor: str, mentee: str, at: datetime) -> int:
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        pairing = pairing_service.pair_by_hand_once(session, program, mentor, mentee, "U0ADMIN01", at, override=True)
        return pairing.id


def settle_agreement(
    engine: Engine, pairing_id: int, at: datetime, cadence: str = "monthly", after_hours: bool = False
) -> None:
    """Through the service the agreement modal uses: the mentor proposes, the mentee accepts."""
    with session_scope(engine, write=True) as session:
        mentor, mentee = queries.pair_members(session, session.get(Pairing, pairing_id))
        terms = agreements.Terms(cadence=cadence, mentor_on_call=False, after_hours_ok=after_hours, boundaries="open")
        proposed = agreements.propose(session, pairing_id, mentor, terms, at)
        assert agreements.accept(session, pairing_id, mentee, proposed.terms.fingerprint, at).settled
        assert session.get(Pairing, pairing_id).status == "active"


def log_meeting(engine: Engine, pairing_id: int, day: date, by: str) -> None:
    with session_scope(engine, write=True) as session:
        session.add(
            CheckIn(
                pairing_id=pairing_id,
                logged_by=by,
                met_on=day,
                duration_minutes=45,
                private_note="PRIVATE-NOTE-never-in-slack",
                idempotency_key=f"{pairing_id}:{day}",
            )
        )


def deliveries(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))


def posts(emulator: SlackEmulator) -> list[Any]:
    return [c for c in emulator.calls_to("chat.postMessage") if c.ok]


def test_working_hours_respect_each_time_zone() -> None:
    friday_evening_la = datetime(2025, 3, 7, 18, 30, tzinfo=ZoneInfo(LA))
    moved = next_allowed_time(friday_evening_la, [LA], after_hours_ok=False)
    assert moved.astimezone(ZoneInfo(LA)) == datetime(2025, 3, 10, 9, 0, tzinfo=ZoneInfo(LA))
    assert next_allowed_time(friday_evening_la, [LA], after_hours_ok=True) == friday_evening_la
    both = next_allowed_time(
        datetime(2025, 3, 10, 6, 0, tzinfo=ZoneInfo(LA)), [LA, "America/New_York"], after_hours_ok=False
    )
    assert both.astimezone(ZoneInfo(LA)).hour == 9  # 9 in LA is 12 in New York: both at work
    far = next_allowed_time(datetime(2025, 3, 10, 6, 0, tzinfo=UTC), ["Asia/Tokyo", LA], after_hours_ok=False)
    assert 9 <= far.astimezone(ZoneInfo("Asia/Tokyo")).hour < 17  # no shared hour: the mentee's zone wins


def test_periods_follow_the_cadence(engine: Engine) -> None:
    program = make_program(engine)
    assert period_containing(program, "monthly", date(2025, 3, 20)).key == "2025-03"
    weekly = period_containing(program, "weekly", date(2025, 3, 9))
    assert (weekly.key, weekly.start, weekly.end) == ("weekly-2", date(2025, 3, 8), date(2025, 3, 14))
    biweekly = period_containing(program, "biweekly", date(2025, 6, 29))
    assert biweekly.end == date(2025, 6, 30)  # clipped to the program end


async def test_intro_is_sent_once_in_working_hours_and_marks_the_pairing_introduced(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    emulator.add_user("U0MENTORA", name="morgan")
    emulator.add_user("U0MENTEE1", name="dana")
    with session_scope(engine, write=True) as session:
        for uid in ("U0MENTORA", "U0MENTEE1"):
            person(session, uid)
        enroll(session, program, "U0MENTORA", "mentor")
        enroll(session, program, "U0MENTEE1", "mentee", goals="Build a reading program")
    saturday_night = datetime(2025, 2, 22, 5, 0, tzinfo=UTC)  # Friday 9 PM in Los Angeles
    clock.set(saturday_night)
    pairing_id = hand_pair(engine, program, "U0MENTORA", "U0MENTEE1", saturday_night)

    await tick(runtime)
    assert posts(emulator) == []  # outside working hours: waits
    [intro] = [d for d in deliveries(engine) if d.kind == "intro"]
    assert intro.due_at.astimezone(ZoneInfo(LA)) == datetime(2025, 2, 24, 9, 0, tzinfo=ZoneInfo(LA))

    clock.set(datetime(2025, 2, 24, 17, 5, tzinfo=UTC))  # Monday 9:05 in Los Angeles
    await tick(runtime)
    await tick(runtime)
    [call] = [c for c in posts(emulator) if c.arg("channel") != ADMIN_CHANNEL]  # the weekly digest goes there
    opened = emulator.calls_to("conversations.open")[0].arg("users")
    assert sorted(opened.split(",")) == ["U0MENTEE1", "U0MENTORA"]
    text = str(call.arg("blocks"))
    for expected in (
        "Why you were matched",
        "on call during work hours",
        "outside work hours",
        "Build a reading program",
    ):
        assert expected in text
    assert call.arg("metadata")["event_payload"]["delivery_id"] == intro.id
    with session_scope(engine) as session:
        pairing = session.get(Pairing, pairing_id)
        assert pairing.status == "introduced" and pairing.conversation_id == call.response["channel"]
    [sent] = [d for d in deliveries(engine) if d.kind == "intro"]
    assert (sent.status, sent.message_ts) == ("sent", call.response["ts"])


@dataclass
class SimulatedProgram:
    program: Program
    pairs: dict[str, int]
    zones: dict[str, str]
    sent_at: dict[tuple[str, str, str], datetime]


async def simulate_program(
    engine: Engine,
    emulator: SlackEmulator,
    runtime: Runtime,
    clock: FixedClock,
    before_tick: Callable[[], Awaitable[None]] | None = None,
) -> SimulatedProgram:
    """PLSEP from applications to wrap-up, two sweeps a day: four pairs (one with a deactivated mentee),
    agreements (one late), meetings, a blackout April, a paused mentee in May."""
    program = make_program(
        engine, blackouts="2025-04-01..2025-04-30", eligibility="channel", eligibility_channel="C0PLSEP01"
    )
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    emulator.add_channel("C0PLSEP01", "plsep", members=[])
    zones = {
        "U0MENT1": LA, "U0MENT2": "America/New_York", "U0MENT3": LA,
        "U0MTEE1": LA, "U0MTEE2": "America/Chicago", "U0MTEE3": LA, "U0MTEE4": LA,
    }  # fmt: skip
    for uid, tz in zones.items():
        emulator.add_user(uid, name=uid.lower(), tz=tz)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, tz in zones.items():
            person(session, uid, tz)
        # Specializations decide the matching: each mentee seeks what one mentor offers.
        offers = {"U0MENT1": "youth_services", "U0MENT2": "reference", "U0MENT3": "cataloging"}
        seeks = {
            "U0MTEE1": "youth_services",
            "U0MTEE2": "reference",
            "U0MTEE3": "cataloging",
            "U0MTEE4": "youth_services",
        }
        for uid, spec in offers.items():
            enroll(session, program, uid, "mentor", specializations=[spec])
        for uid, spec in seeks.items():
            enroll(session, program, uid, "mentee", specializations=[spec])

    sent_at: dict[tuple[str, str, str], datetime] = {}

    async def run_day(day: date) -> None:
        # Two sweeps a day: 9:05 in Los Angeles and 12:05 there (15:05 in New York).
        for hour in (17, 20):
            clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour, minutes=5))
            if before_tick is not None:
                await before_tick()
            await tick(runtime)
        for d in deliveries(engine):
            if d.status == "sent" and (d.kind, d.subject, d.period) not in sent_at:
                sent_at[(d.kind, d.subject, d.period)] = d.sent_at

    day = date(2025, 2, 12)
    pairs: dict[str, int] = {}
    agree_from: dict[str, date] = {}
    while day <= date(2025, 7, 2):
        if day == date(2025, 2, 20):  # the coordinator previews the matches and approves them all
            emulator.deactivate_user("U0MTEE4")
            with session_scope(engine, write=True) as session:
                program = session.get(Program, program.id)
                pairing_service.preview(session, program, clock.now())
                pairing_service.approve_all(session, program, "U0ADMIN01", clock.now())
                members = {
                    queries.pair_members(session, p)[1]: p.id for p in queries.pairings_in_program(session, program.id)
                }
            pairs.update({f"P{n}": members[f"U0MTEE{n}"] for n in range(1, 5)})
        if day == date(2025, 2, 25):
            agree_from.update({"P1": day, "P3": day})
        if day == date(2025, 3, 4):
            agree_from["P2"] = day  # late: due Mar 1
        for name in [n for n, since in agree_from.items() if since <= day]:
            with session_scope(engine) as session:
                introduced = session.get(Pairing, pairs[name]).status == "introduced"
            if introduced:  # a pair settles once its intro reached it (a flaky Slack can delay that)
                settle_agreement(engine, pairs[name], clock.now())
                del agree_from[name]
        if day in (date(2025, 3, 3), date(2025, 5, 2), date(2025, 6, 2)):
            log_meeting(engine, pairs["P1"], day, "U0MTEE1")
        if day == date(2025, 6, 10):
            log_meeting(engine, pairs["P2"], day, "U0MENT2")
        if day == date(2025, 3, 10):
            log_meeting(engine, pairs["P3"], day, "U0MENT3")
        if day == date(2025, 5, 1):
            with session_scope(engine, write=True) as session:
                enrollment_service.pause(session, "U0MTEE3", date(2025, 6, 1), clock.now())
        await run_day(day)
        day += timedelta(days=1)

    return SimulatedProgram(program, pairs, zones, sent_at)


async def test_a_whole_program_in_seconds(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Application reminder, intros, agreements (one late), four months with met / missed / at-risk pairs,
    a blackout month, a paused person, a deactivated person, wrap-up."""
    simulated = await simulate_program(engine, emulator, runtime, clock)
    program, pairs, zones, sent_at = simulated.program, simulated.pairs, simulated.zones, simulated.sent_at
    keys = {(k, s, p) for (k, s, p) in sent_at}
    p1, p2, p3, p4 = (f"pairing:{pairs[n]}" for n in ("P1", "P2", "P3", "P4"))
    program_key = f"program:{program.id}"

    expected = {
        ("applications_closing", program_key, "2025-02-17"),
        ("intro", p1, "-"), ("intro", p2, "-"), ("intro", p3, "-"),
        ("agreement_reminder", p2, "2025-03-01"),
        ("agreement_overdue", program_key, "2025-03-01"),
        # P1 meets early every counted month: never nudged. P2 misses March and May (April is a blackout,
        # so those are two in a row): nudged and asked each time, flagged at risk on June 2, then meets.
        # The at-risk alert is the program's (one a sweep lists every quiet pair), keyed by May's last day.
        ("nudge", p2, "2025-03"), ("did_you_meet", p2, "2025-03"),
        ("nudge", p2, "2025-05"), ("did_you_meet", p2, "2025-05"),
        ("at_risk", program_key, "2025-05-31"),
        # P3 met in March; May is paused (counts as nothing); June unmet.
        ("nudge", p3, "2025-06"), ("did_you_meet", p3, "2025-06"),
        ("wrapup", p1, "2025-06-30"), ("wrapup", p2, "2025-06-30"), ("wrapup", p3, "2025-06-30"),
    }  # fmt: skip
    # Exactly these, plus one weekly digest per Monday (Feb 17 .. Jun 30) and one unreachable report.
    assert {k for k in keys if k[0] not in ("digest", "unreachable")} == expected
    digests = sorted(k[2] for k in keys if k[0] == "digest")
    assert len(digests) == 20 and digests[0] == "2025-W08" and digests[-1] == "2025-W27"
    assert len([k for k in keys if k[0] == "unreachable"]) == 1
    assert not any(k[2] == "2025-04" for k in keys), "nothing is sent about the blackout month"
    assert not any(k[1] == p3 and k[2] == "2025-05" for k in keys), "a paused person is not nudged"

    # The deactivated mentee: the intro is undeliverable and the coordinators are told, once.
    by_key = {(d.kind, d.subject, d.period): d for d in deliveries(engine)}
    assert by_key[("intro", p4, "-")].status == "undeliverable"
    assert any(k[0] == "unreachable" for k in keys)
    admin_texts = [m.get("text", "") for m in emulator.messages_in(ADMIN_CHANNEL)]
    assert sum("can't be reached" in t for t in admin_texts) == 1

    assert not any(k[1] == p2 and k[2] == "2025-06" for k in keys), "P2 met in June before the nudge"
    at_risk_alert = [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("text") == "A pair is at risk"]
    assert len(at_risk_alert) == 1 and "missed 2 periods in a row" in str(at_risk_alert[0]["blocks"])
    assert "<@U0MENT2> and <@U0MTEE2>" in str(at_risk_alert[0]["blocks"])
    assert sent_at[("at_risk", program_key, "2025-05-31")].date() == date(2025, 6, 2)  # June 1 is a Sunday
    with session_scope(engine) as session:
        assert session.get(Pairing, pairs["P2"]).status == "ended"
        assert session.get(Program, program.id).closed_at is not None

    # Every message to a pair arrived in working hours in each recipient's own time zone, on a weekday.
    for (kind, subject, _period), at in sent_at.items():
        if not subject.startswith("pairing:") or kind in ("at_risk", "unreachable", "help_request"):
            continue
        pairing_id = int(subject.split(":")[1])
        with session_scope(engine) as session:
            pairing = session.get(Pairing, pairing_id)
            members = [
                session.get(Enrollment, e).person_id
                for e in (pairing.mentor_enrollment_id, pairing.mentee_enrollment_id)
            ]
        for member in members:
            local = at.astimezone(ZoneInfo(zones[member]))
            assert local.weekday() < 5 and 9 <= local.hour < 17, (kind, member, local)

    # Nothing was sent twice, and private notes never reached Slack.
    delivery_ids = [c.arg("metadata")["event_payload"]["delivery_id"] for c in posts(emulator) if c.arg("metadata")]
    assert len(delivery_ids) == len(set(delivery_ids))
    assert all("PRIVATE-NOTE" not in str(c.args) for c in emulator.calls)


def test_an_invite_only_program_reminds_each_invited_person_who_has_not_applied(engine: Engine) -> None:
    program = make_program(engine, eligibility="allowlist", eligibility_allowlist="U0INV1, U0INV2, U0INV3")
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        person(session, "U0INV1")
        enroll(session, program, "U0INV1", "mentee")
    three_days_before = datetime(2025, 2, 14, 18, 0, tzinfo=UTC)  # 10 AM in Los Angeles, a Friday
    for _ in range(2):  # a second sweep owes nothing new
        with session_scope(engine, write=True) as session:
            schedule.plan(session, three_days_before)
    reminders = [d for d in deliveries(engine) if d.kind == "applications_closing"]
    assert sorted(d.recipient for d in reminders) == ["U0INV2", "U0INV3"]
    assert all(d.payload["closes"] == "2025-02-17" for d in reminders)


def meant_for(engine: Engine, delivery: Delivery) -> set[str]:
    """The people a message was for: its user recipients, or the pair whose group DM it went to."""
    users = {r for r in recipients_of(delivery.recipient) if r[:1] in ("U", "W")}
    if users or delivery.pairing_id is None:
        return users
    with session_scope(engine) as session:
        pairing = session.get(Pairing, delivery.pairing_id)
        if pairing is None or pairing.conversation_id != delivery.recipient:
            return set()
        return set(queries.pair_members(session, pairing) or [])


def assert_undeliverable_reported(
    engine: Engine, emulator: SlackEmulator, warnings: list[logging.LogRecord], program_id: int
) -> None:
    """Each undeliverable message has its "can't reach" report to the coordinators, keyed to the people it
    was for (or to its recipient when Slack did not say who), and each report landed in the admin channel
    naming those people. A report that itself can't be posted is the end of the line by design: the product
    only logs it (bot/delivery.py `_undeliverable`: the admin channel is the one place to tell)."""
    rows = deliveries(engine)
    reports = [d for d in rows if d.kind == "unreachable"]
    admin_posts = {
        m["metadata"]["event_payload"]["delivery_id"]: json.dumps(m.get("blocks", "")) + m.get("text", "")
        for m in emulator.messages_in(ADMIN_CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == "shelfmate_delivery"
    }
    for failed in [d for d in rows if d.status == "undeliverable" and d.kind != "unreachable"]:
        audience = meant_for(engine, failed)
        covering = [
            r
            for r in reports
            if r.program_id == program_id
            and (
                r.subject == failed.recipient
                or (r.subject.startswith("people:") and audience & set(r.payload["people"]))
            )
        ]
        assert covering, f"{failed.kind} to {failed.recipient} was undeliverable ({failed.error}); nobody was told"
    for report in reports:
        if report.status == "sent":
            shown = admin_posts.get(report.id, "")
            assert "can't reach" in shown, f"report {report.id} never landed in the admin channel: {shown[:200]}"
            assert all(f"<@{p}>" in shown for p in report.payload["people"]), shown[:300]
        else:
            assert report.status == "undeliverable", (report.id, report.status)
            assert any(f"delivery {report.id} (unreachable) is undeliverable" in w.getMessage() for w in warnings), (
                f"report {report.id} could not be posted ({report.error}) and was not even logged"
            )


async def test_a_whole_program_with_a_flaky_slack_ends_every_delivery_sent_or_reported(
    engine: Engine, emulator: SlackEmulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The same program while 20% of Slack calls answer 429, 500, time out (the post may land anyway) or say
    the person or channel can't be reached: the scheduler keeps running, every delivery ends sent or
    undeliverable, each undeliverable one is reported to the coordinators (see assert_undeliverable_reported),
    and nothing lands twice."""
    caplog.set_level(logging.WARNING, logger="bot.delivery")
    from tests.test_delivery_reliability import hand_moved_runtime

    clock = FixedClock(datetime(2025, 2, 12, tzinfo=UTC))
    runtime = hand_moved_runtime(settings, engine, clock, wall=clock)  # real time moves with the schedule
    emulator.set_random_faults(
        0.2, seed=5, kinds=("429", "500", "timeout", "account_inactive", "channel_not_found"), timeout_seconds=1.2
    )

    async def settle() -> None:  # Slack finishes what it started before hours pass
        await asyncio.to_thread(emulator.wait_idle)

    simulated = await simulate_program(engine, emulator, runtime, clock, before_tick=settle)
    for _ in range(30):  # after the program: sweeps go on until nothing is left in flight
        if not [d for d in deliveries(engine) if d.status in ("due", "claimed")]:
            break
        await settle()
        clock.advance(hours=6)
        await recover_stale(runtime)
        await deliver_due(runtime)
    await settle()

    statuses = Counter(d.status for d in deliveries(engine))
    assert set(statuses) <= {"sent", "undeliverable"}, statuses
    assert statuses["sent"] > statuses["undeliverable"] > 0
    with session_scope(engine) as session:
        assert session.get(Program, simulated.program.id).closed_at is not None  # the calendar ran to the end
    landed = [c.arg("metadata")["event_payload"]["delivery_id"] for c in posts(emulator) if c.arg("metadata")]
    assert len(landed) == len(set(landed)), "a message landed twice"
    sent = {d.id for d in deliveries(engine) if d.status == "sent"}
    assert sent <= set(landed)
    assert_undeliverable_reported(engine, emulator, caplog.records, simulated.program.id)


async def test_a_persons_dm_is_opened_once_and_remembered(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    from storage import deliveries as ledger
    from storage.deliveries import DeliveryKey

    program = make_program(engine)
    emulator.add_user("U0INV2", name="inv")
    with session_scope(engine, write=True) as session:
        person(session, "U0INV2")

    def owe(n: int) -> None:
        with session_scope(engine, write=True) as session:
            ledger.enqueue(
                session,
                DeliveryKey("applications_closing", f"person:U0INV2:program:{n}", "2025-02-17"),
                recipient="U0INV2",
                due_at=clock.now(),
                payload={"program": f"P{n}", "closes": "2025-02-17", "timezone": LA},
                program_id=program.id,
                now=clock.now(),
            )

    owe(1)
    await deliver_due(runtime)
    assert len(emulator.calls_to("conversations.open")) == 1
    for n in (2, 3):  # later messages go straight to the stored DM: conversations.open is rate-limited
        owe(n)
        await deliver_due(runtime)
    assert len(emulator.calls_to("conversations.open")) == 1
    with session_scope(engine) as session:
        dm = session.get(Person, "U0INV2").dm_channel_id
    assert dm and [c.arg("channel") for c in posts(emulator)] == [dm, dm, dm]


def test_a_proposal_only_one_person_made_does_not_change_the_schedule(engine: Engine) -> None:
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid in ("U0MENT1", "U0MTEE1"):
            person(session, uid)
        enroll(session, program, "U0MENT1", "mentor")
        enroll(session, program, "U0MTEE1", "mentee")
    pairing_id = hand_pair(engine, program, "U0MENT1", "U0MTEE1", datetime(2025, 2, 20, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    settle_agreement(engine, pairing_id, datetime(2025, 2, 25, tzinfo=UTC))  # monthly, both accepted
    for day in (date(2025, 3, 5), date(2025, 4, 5)):
        log_meeting(engine, pairing_id, day, "U0MTEE1")
    with session_scope(engine, write=True) as session:  # the mentee alone proposes weekly meetings
        weekly = agreements.Terms(cadence="weekly", mentor_on_call=False, after_hours_ok=True, boundaries="open")
        agreements.propose(session, pairing_id, "U0MTEE1", weekly, datetime(2025, 4, 20, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        report = schedule.plan(session, datetime(2025, 4, 28, 18, tzinfo=UTC))
    assert report.at_risk == [] and report.missed == []  # still monthly: March and April were both met
    with session_scope(engine) as session:
        assert not session.get(Pairing, pairing_id).at_risk


def test_the_sweep_plans_under_the_write_lock_only_what_its_survey_found(engine: Engine) -> None:
    """The tick surveys without the write lock, then re-plans the pairs it named from fresh rows: a pair that
    logs a meeting in between is not nudged, and a quiet program takes no write transaction at all."""
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for n in (1, 2, 3):
            person(session, f"U0MENT{n}")
            person(session, f"U0MTEE{n}")
            enroll(session, program, f"U0MENT{n}", "mentor")
            enroll(session, program, f"U0MTEE{n}", "mentee")
    pairs = []
    for n in (1, 2, 3):
        pairing_id = hand_pair(engine, program, f"U0MENT{n}", f"U0MTEE{n}", datetime(2025, 2, 20, tzinfo=UTC))
        with session_scope(engine, write=True) as session:
            session.get(Pairing, pairing_id).status = "introduced"
        settle_agreement(engine, pairing_id, datetime(2025, 2, 25, tzinfo=UTC))
        pairs.append(pairing_id)
    met, meets_meanwhile, quiet = pairs
    log_meeting(engine, met, date(2025, 3, 4), "U0MTEE1")
    tuesday_mid_march = datetime(2025, 3, 18, 18, tzinfo=UTC)  # past the middle of March: nudges are due

    with session_scope(engine) as session:
        found = schedule.survey(session, tuesday_mid_march)
    assert found.programs == set() and found.pairings == {program.id: {meets_meanwhile, quiet}}
    assert deliveries(engine) == [], "the survey writes nothing"

    log_meeting(engine, meets_meanwhile, date(2025, 3, 18), "U0MTEE2")  # between the survey and the write
    with session_scope(engine, write=True) as session:
        report = schedule.plan(session, tuesday_mid_march, scope=found)
    assert [(k.kind, k.subject) for k in report.enqueued] == [("nudge", f"pairing:{quiet}")]
    with session_scope(engine, write=True) as session:  # a full pass agrees: nothing else was owed
        assert schedule.plan(session, tuesday_mid_march).enqueued == []

    log_meeting(engine, quiet, date(2025, 3, 19), "U0MTEE3")
    with session_scope(engine) as session:
        assert not schedule.survey(session, datetime(2025, 3, 19, 18, tzinfo=UTC)), "all met: nothing to write"


def _process_id(session: Any) -> int:
    return os.getpid()


class RecordingWorker(Worker):
    """The real worker process, noting which reads were sent to it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    async def read(self, database_url: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self.reads.append(fn.__name__)
        return await super().read(database_url, fn, args)


async def test_the_survey_runs_in_the_worker_process_and_a_dead_worker_is_replaced_without_losing_a_tick(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """The survey is seconds of CPU on a large workspace: in a second process it cannot hold up the acks.
    A worker killed by the operating system (out of memory) must not stop the sweeps."""
    program = make_program(engine)
    emulator.add_user("U0MENTORA", name="morgan")
    emulator.add_user("U0MENTEE1", name="dana")
    emulator.add_user("U0MENTORB", name="riley")
    emulator.add_user("U0MENTEE2", name="sam")
    with session_scope(engine, write=True) as session:
        for uid in ("U0MENTORA", "U0MENTEE1", "U0MENTORB", "U0MENTEE2"):
            person(session, uid)
        enroll(session, program, "U0MENTORA", "mentor")
        enroll(session, program, "U0MENTEE1", "mentee")
        enroll(session, program, "U0MENTORB", "mentor")
        enroll(session, program, "U0MENTEE2", "mentee")
    monday_morning_la = datetime(2025, 2, 24, 17, 5, tzinfo=UTC)
    clock.set(monday_morning_la)

    runtime.worker = worker = RecordingWorker()
    try:
        worker_pid = await runtime.read_in_worker(_process_id)
        assert worker_pid != os.getpid()
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker_pid) == min(19, ours + WORKER_NICENESS), "acks come first"
        first = hand_pair(engine, program, "U0MENTORA", "U0MENTEE1", monday_morning_la)
        await tick(runtime)
        assert worker.reads == ["_process_id", "survey"]
        assert [d.subject for d in deliveries(engine) if d.kind == "intro"] == [f"pairing:{first}"]

        os.kill(worker_pid, signal.SIGKILL)
        second = hand_pair(engine, program, "U0MENTORB", "U0MENTEE2", monday_morning_la)
        await tick(runtime)  # its survey meets the dead worker and runs in this process instead
        replacement_pid = await runtime.read_in_worker(_process_id)
        assert replacement_pid not in (worker_pid, os.getpid()), "a new worker takes the next read"
    finally:
        worker.close()
    intros = [d for d in deliveries(engine) if d.kind == "intro"]
    assert [d.subject for d in intros] == [f"pairing:{first}", f"pairing:{second}"]
    assert all(d.status == "sent" for d in intros)


def _slow_read(session: Any) -> int:
    import time

    time.sleep(30)
    return os.getpid()


async def test_stopping_the_bot_stops_its_worker_at_once_and_leaves_nothing_to_race_the_exit(engine: Engine) -> None:
    """`shutdown(wait=False)` left the pool's manager thread closing its wake-up pipe while the interpreter
    exited and wrote to it: now and then the stopped bot printed "Bad file descriptor" from
    `threading._shutdown`. A survey still running when the bot stops is abandoned (it only reads), not waited
    for, and once `close` returns no thread or process of the worker is left."""
    database_url = engine.url.render_as_string(hide_password=False)
    worker = Worker()
    worker_pid = await worker.read(database_url, _process_id, ())
    slow = asyncio.ensure_future(worker.read(database_url, _slow_read, ()))
    await asyncio.sleep(0.5)
    worker.close()
    with pytest.raises(Exception) as abandoned:
        await asyncio.wait_for(slow, 10)
    assert not isinstance(abandoned.value, asyncio.TimeoutError), "the running survey was waited for"
    assert [t.name for t in threading.enumerate() if "Executor" in type(t).__name__] == []
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)


async def test_a_nudge_held_for_quiet_hours_is_skipped_if_the_pair_met_or_ended_and_waits_if_paused(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Nudges planned on a Friday evening wait for Monday 9 AM. Over the weekend one pair logs its meeting, one
    mentee pauses and one pairing is dissolved: on Monday only the fourth pair is nudged; the met and the
    dissolved pairs' rows end `skipped` (not an attempt), the paused pair's waits for the pause to end, and no
    later sweep owes any of them again."""
    program = make_program(engine)
    pairs = []
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for n in (1, 2, 3, 4):
            for uid, role in ((f"U0MENT{n}", "mentor"), (f"U0MTEE{n}", "mentee")):
                emulator.add_user(uid, name=uid.lower(), tz=LA)
                person(session, uid)
                enroll(session, program, uid, role)
    for n in (1, 2, 3, 4):
        pairing_id = hand_pair(engine, program, f"U0MENT{n}", f"U0MTEE{n}", datetime(2025, 2, 20, tzinfo=UTC))
        with session_scope(engine, write=True) as session:
            session.get(Pairing, pairing_id).status = "introduced"
        settle_agreement(engine, pairing_id, datetime(2025, 2, 25, tzinfo=UTC))  # monthly, work hours only
        pairs.append(pairing_id)
    met, paused, dissolved, quiet = pairs

    friday_evening_la = datetime(2025, 3, 22, 1, 0, tzinfo=UTC)  # Mar 21, 6 PM: past the middle of March
    with session_scope(engine, write=True) as session:
        planned = schedule.plan(session, friday_evening_la)
    assert sorted(k.subject for k in planned.enqueued if k.kind == "nudge") == [f"pairing:{p}" for p in pairs]

    log_meeting(engine, met, date(2025, 3, 22), "U0MTEE1")
    with session_scope(engine, write=True) as session:  # what `/mentor pause` (no end date) leaves on the row
        [enrollment] = [e for e in queries.enrollments_in_program(session, program.id) if e.person_id == "U0MTEE2"]
        enrollment.status_before_pause, enrollment.status = enrollment.status, "paused"
        enrollment.paused_on = date(2025, 3, 22)
        session.add(enrollment)
        session.get(Pairing, dissolved).status = "dissolved"

    clock.set(datetime(2025, 3, 24, 17, 5, tzinfo=UTC))  # Monday 10:05 AM in Los Angeles
    report = await deliver_due(runtime)
    assert (report.sent, report.skipped, report.held) == (1, 2, 1)
    nudges = {d.pairing_id: d for d in deliveries(engine) if d.kind == "nudge"}
    assert {p: (d.status, d.attempts) for p, d in nudges.items()} == {
        met: ("skipped", 0),
        paused: ("due", 0),
        dissolved: ("skipped", 0),
        quiet: ("sent", 1),
    }
    assert nudges[met].error == "the pair met in the period"
    with session_scope(engine) as session:
        group_dm = session.get(Pairing, quiet).conversation_id
    assert [c.arg("channel") for c in posts(emulator)] == [group_dm]

    with session_scope(engine, write=True) as session:
        assert [k for k in schedule.plan(session, clock.now()).enqueued if k.kind == "nudge"] == []
    assert (await deliver_due(runtime)).sent == 0


def test_a_period_mostly_before_the_pairing_is_neither_nudged_nor_missed(engine: Engine) -> None:
    """A pair approved on Mar 20 existed for 12 of March's 31 days: like a period mostly in a blackout, March
    sends nothing and counts as nothing. April, unmet, is their first missed period (not at risk yet)."""
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in (("U0MENT1", "mentor"), ("U0MTEE1", "mentee")):
            person(session, uid)
            enroll(session, program, uid, role)
    pairing_id = hand_pair(engine, program, "U0MENT1", "U0MTEE1", datetime(2025, 3, 20, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    settle_agreement(engine, pairing_id, datetime(2025, 3, 21, 18, tzinfo=UTC))

    with session_scope(engine, write=True) as session:
        assert schedule.plan(session, datetime(2025, 3, 28, 18, tzinfo=UTC)).enqueued == []  # March's ask day
    with session_scope(engine, write=True) as session:
        report = schedule.plan(session, datetime(2025, 5, 2, 18, tzinfo=UTC))
    assert (report.missed, report.at_risk) == ([(pairing_id, "2025-04")], [])


def _pair(engine: Engine, program: Program, at: datetime, status: str = "introduced", n: int = 1) -> int:
    """A pair in `program` (Los Angeles), approved at `at`, left `status`."""
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((f"U0MENT{n}", "mentor"), (f"U0MTEE{n}", "mentee")):
            person(session, uid)
            enroll(session, program, uid, role)
    pairing_id = hand_pair(engine, program, f"U0MENT{n}", f"U0MTEE{n}", at)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = status
    return pairing_id


def test_did_you_meet_is_asked_on_a_working_day_within_the_period(engine: Engine) -> None:
    """A day on a weekend would wait for Monday, perhaps after the period: the ask moves back to the Friday."""
    monday_start = make_program(
        engine, name="PLSEP 2027", applications_open="2027-01-04", applications_close="2027-02-17",
        agreement_due="2027-03-01", starts_on="2027-03-01", ends_on="2027-06-30",
    )  # fmt: skip
    week = period_containing(monday_start, "weekly", date(2027, 3, 3))
    assert (week.start, week.end, week.ask_day) == (date(2027, 3, 1), date(2027, 3, 7), date(2027, 3, 5))
    program = make_program(engine)
    april = period_containing(program, "monthly", date(2025, 4, 10))
    assert april.ask_day == date(2025, 4, 25)  # three days before the end is Sunday Apr 27
    assert period_containing(program, "monthly", date(2025, 3, 10)).ask_day == date(2025, 3, 28)  # a Friday already
    one_day = schedule.Period("weekly-x", date(2025, 3, 3), date(2025, 3, 3))
    assert one_day.ask_day == date(2025, 3, 3)
    weekend = schedule.Period("weekly-y", date(2025, 3, 8), date(2025, 3, 9))
    assert weekend.last_working_day(weekend.end) is None


def test_a_school_break_moves_the_ask_day_before_it_and_stretches_a_late_pairs_agreement_week(engine: Engine) -> None:
    """A break is no time to ask or to settle: the ask comes on the last school day before it, and a pair
    matched just before it gets a week's school days (five) to settle, never less than seven days."""
    program = make_program(
        engine, name="Hillcrest 2025-26", applications_open="2025-08-01", applications_close="2025-09-05",
        agreement_due="2025-09-19", starts_on="2025-09-08", ends_on="2026-06-12",
        blackouts="2025-12-22..2026-01-02",
    )  # fmt: skip
    december = period_containing(program, "monthly", date(2025, 12, 10))
    assert december.ask_day == date(2025, 12, 26)  # a day in the break
    assert december.ask_day_outside(program.blackouts) == date(2025, 12, 19)  # the Friday before it
    november = period_containing(program, "monthly", date(2025, 11, 10))
    assert november.ask_day_outside(program.blackouts) == november.ask_day == date(2025, 11, 27)  # no break in it
    inside = schedule.Period("weekly-z", date(2025, 12, 22), date(2025, 12, 28))
    assert inside.ask_day_outside(program.blackouts) is None and not schedule.askable(inside, program.blackouts)

    def matched(day: datetime) -> Pairing:
        return Pairing(program_id=program.id, mentor_enrollment_id=0, mentee_enrollment_id=0, approved_at=day)

    assert schedule.agreement_due_on(program, matched(datetime(2025, 12, 17, 18, tzinfo=UTC))) == date(2026, 1, 7)
    assert schedule.agreement_due_on(program, matched(datetime(2025, 11, 5, 18, tzinfo=UTC))) == date(2025, 11, 12)
    assert schedule.agreement_due_on(program, matched(datetime(2025, 11, 8, 18, tzinfo=UTC))) == date(2025, 11, 15)


def test_not_yet_asks_again_by_the_last_working_day_of_the_period_or_not_at_all(engine: Engine) -> None:
    """ "Not yet" on Fri Mar 28: asked again on Mon Mar 31, March's last day. On Mar 31 itself: not again (it would
    come at once). In a Monday-to-Sunday week, "Not yet" on Thursday is asked again on Friday, not Sunday."""
    program = make_program(engine)
    pairing_id = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), status="active")
    with session_scope(engine, write=True) as session:
        assert (
            schedule.ask_again(session, pairing_id, datetime(2025, 3, 28, 17, tzinfo=UTC)).outcome
            == schedule.AskAgain.QUEUED
        )
        assert (
            schedule.ask_again(session, pairing_id, datetime(2025, 3, 28, 17, 1, tzinfo=UTC)).outcome
            == schedule.AskAgain.QUEUED
        )  # again
    [again] = [d for d in deliveries(engine) if d.kind == "did_you_meet_again"]
    assert again.due_at.replace(tzinfo=UTC).astimezone(ZoneInfo(LA)).date() == date(2025, 3, 31)
    with session_scope(engine, write=True) as session:
        session.delete(session.get(Delivery, again.id))
    with session_scope(engine, write=True) as session:
        assert (
            schedule.ask_again(session, pairing_id, datetime(2025, 3, 31, 17, tzinfo=UTC)).outcome
            == schedule.AskAgain.PERIOD_ENDING
        )
    assert [d for d in deliveries(engine) if d.kind == "did_you_meet_again"] == []

    weekly = make_program(
        engine, name="PLSEP 2027", applications_open="2027-01-04", applications_close="2027-02-17",
        agreement_due="2027-03-01", starts_on="2027-03-01", ends_on="2027-06-30",
    )  # fmt: skip
    other = _pair(engine, weekly, datetime(2027, 2, 20, 18, tzinfo=UTC), status="active", n=2)
    settle_agreement(engine, other, datetime(2027, 2, 25, 18, tzinfo=UTC), cadence="weekly")
    with session_scope(engine, write=True) as session:
        assert (
            schedule.ask_again(session, other, datetime(2027, 3, 4, 18, tzinfo=UTC)).outcome == schedule.AskAgain.QUEUED
        )  # Thursday
        assert (
            schedule.ask_again(session, other, datetime(2027, 3, 12, 18, tzinfo=UTC)).outcome
            == schedule.AskAgain.PERIOD_ENDING
        )  # Friday
    [again] = [d for d in deliveries(engine) if d.kind == "did_you_meet_again"]
    assert (again.period, again.due_at.replace(tzinfo=UTC).astimezone(ZoneInfo(LA)).date()) == (
        "weekly-1",
        date(2027, 3, 5),
    )


async def test_an_ask_about_a_week_that_is_over_is_dropped_not_sent(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """The sweeps were down on Friday: Saturday's sweep plans the week's "Did you meet?", which waits for Monday
    (working hours), when the week it asks about is over. Monday skips it (not an attempt)."""
    program = make_program(
        engine, name="PLSEP 2027", applications_open="2027-01-04", applications_close="2027-02-17",
        agreement_due="2027-03-01", starts_on="2027-03-01", ends_on="2027-06-30",
    )  # fmt: skip
    emulator.add_user("U0MENT1", name="u0ment1", tz=LA)
    emulator.add_user("U0MTEE1", name="u0mtee1", tz=LA)
    pairing_id = _pair(engine, program, datetime(2027, 2, 20, 18, tzinfo=UTC))
    settle_agreement(engine, pairing_id, datetime(2027, 2, 25, 18, tzinfo=UTC), cadence="weekly")
    with session_scope(engine, write=True) as session:
        planned = schedule.plan(session, datetime(2027, 3, 6, 17, 5, tzinfo=UTC))  # Saturday 9:05 AM
    assert [(k.kind, k.period) for k in planned.enqueued] == [("did_you_meet", "weekly-1")]
    [asked] = [d for d in deliveries(engine) if d.kind == "did_you_meet"]
    assert asked.due_at.replace(tzinfo=UTC).astimezone(ZoneInfo(LA)).date() == date(2027, 3, 8)

    clock.set(datetime(2027, 3, 8, 17, 5, tzinfo=UTC))  # Monday
    report = await deliver_due(runtime)
    [asked] = [d for d in deliveries(engine) if d.kind == "did_you_meet"]
    assert (report.sent, report.skipped, asked.status, asked.error) == (0, 1, "skipped", "the period is over")
    assert posts(emulator) == []


def test_a_pair_introduced_after_the_agreement_date_gets_a_week_to_settle(engine: Engine) -> None:
    """Matched Apr 15 (the program's date was Mar 1): due Apr 22 in the intro, reminded from Apr 19, not overdue
    in the summary until Apr 23, when the coordinators hear about it under its own date. Never after the end."""
    from bot.services.reports import summarize
    from bot.views.messages import render_delivery

    program = make_program(engine)
    on_time = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), n=1)
    late = _pair(engine, program, datetime(2025, 4, 15, 17, tzinfo=UTC), status="proposed", n=2)
    with session_scope(engine, write=True) as session:
        schedule.plan(session, datetime(2025, 4, 15, 17, 5, tzinfo=UTC))
    by_key = {(d.kind, d.pairing_id): d for d in deliveries(engine)}
    assert by_key[("intro", late)].payload["agreement_due"] == "2025-04-22"
    [overdue] = [d for d in deliveries(engine) if d.kind == "agreement_overdue"]
    assert (overdue.period, [p[:2] for p in overdue.payload["pairs"]]) == ("2025-03-01", [["U0MENT1", "U0MTEE1"]])

    with session_scope(engine, write=True) as session:
        session.get(Pairing, late).status = "introduced"
    for day in (18, 19, 22):
        with session_scope(engine, write=True) as session:
            schedule.plan(session, datetime(2025, 4, day, 17, 5, tzinfo=UTC))
    reminders = [(d.pairing_id, d.period) for d in deliveries(engine) if d.kind == "agreement_reminder"]
    assert reminders == [(late, "2025-04-22")]
    with session_scope(engine) as session:
        row = session.get(Program, program.id)
        assert summarize(session, row, datetime(2025, 4, 22, 17, tzinfo=UTC)).agreements_overdue == 1  # on_time
        assert summarize(session, row, datetime(2025, 4, 23, 17, tzinfo=UTC)).agreements_overdue == 2
    with session_scope(engine, write=True) as session:
        schedule.plan(session, datetime(2025, 4, 23, 17, 5, tzinfo=UTC))
    alerts = {d.period: d.payload for d in deliveries(engine) if d.kind == "agreement_overdue"}
    assert sorted(alerts) == ["2025-03-01", "2025-04-22"]
    assert alerts["2025-04-22"]["pairs"] == [
        ["U0MENT1", "U0MTEE1", "2025-03-01"],
        ["U0MENT2", "U0MTEE2", "2025-04-22"],
    ]
    _, blocks = render_delivery("agreement_overdue", alerts["2025-04-22"])
    shown = json.dumps(blocks)
    assert "missed their agreement dates" in shown and "(due Mar 1)" in shown and "(due Apr 22)" in shown

    with session_scope(engine) as session:
        row = session.get(Program, program.id)
        assert schedule.agreement_due_on(row, session.get(Pairing, on_time)) == date(2025, 3, 1)
        near_the_end = Pairing(
            program_id=program.id, mentor_enrollment_id=0, mentee_enrollment_id=0,
            approved_at=datetime(2025, 6, 28, 17, tzinfo=UTC),
        )  # fmt: skip
        assert schedule.agreement_due_on(row, near_the_end) == date(2025, 6, 30)  # the program's last day


async def test_an_agreement_reminder_waits_while_a_member_is_paused_and_lapses_with_its_date(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Planned Wednesday evening, due Thursday 9 AM; the mentee pauses overnight until Mar 10: it is not sent
    while she is paused, and once the agreement date has passed it is dropped."""
    program = make_program(engine)
    emulator.add_user("U0MENT1", name="u0ment1", tz=LA)
    emulator.add_user("U0MTEE1", name="u0mtee1", tz=LA)
    _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        planned = schedule.plan(session, datetime(2025, 2, 27, 2, 0, tzinfo=UTC))  # Wed Feb 26, 6 PM
    assert [(k.kind, k.period) for k in planned.enqueued] == [("agreement_reminder", "2025-03-01")]
    with session_scope(engine, write=True) as session:
        enrollment_service.pause(session, "U0MTEE1", date(2025, 3, 10), datetime(2025, 2, 27, 5, tzinfo=UTC))

    clock.set(datetime(2025, 2, 27, 17, 5, tzinfo=UTC))  # Thursday 9:05 AM
    report = await deliver_due(runtime)
    [reminder] = [d for d in deliveries(engine) if d.kind == "agreement_reminder"]
    assert (report.held, reminder.status) == (1, "due")
    clock.set(datetime(2025, 3, 3, 17, 5, tzinfo=UTC))  # Monday Mar 3, past the Mar 1 agreement date
    report = await deliver_due(runtime)
    [reminder] = [d for d in deliveries(engine) if d.kind == "agreement_reminder"]
    assert (report.skipped, reminder.status, reminder.error) == (1, "skipped", "the agreement date has passed")
    assert posts(emulator) == []


def test_a_paused_month_counts_a_pair_in_the_meeting_rate_only_if_it_met_anyway(engine: Engine) -> None:
    """May is excused for both pairs (each has a member paused all month); one of them met anyway. May reads
    "1 of 1 met", not 1 of 2 (the other was not expected to meet) nor 0 of 0 (a meeting did happen)."""
    from bot.services.reports import summarize

    program = make_program(engine)
    first = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), status="active", n=1)
    _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), status="active", n=2)
    with session_scope(engine, write=True) as session:
        for uid in ("U0MTEE1", "U0MTEE2"):
            enrollment_service.pause(session, uid, date(2025, 6, 1), datetime(2025, 4, 30, 18, tzinfo=UTC))
    log_meeting(engine, first, date(2025, 5, 20), "U0MTEE1")
    with session_scope(engine) as session:
        summary = summarize(session, session.get(Program, program.id), datetime(2025, 5, 30, 17, tzinfo=UTC))
    months = {m.month: (m.pairs_met, m.live_pairs, m.checkins) for m in summary.months}
    assert months == {"2025-03": (0, 2, 0), "2025-04": (0, 2, 0), "2025-05": (1, 1, 1)}

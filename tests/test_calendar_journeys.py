"""How a program's calendar plays out over time (quiet hours, DST, late matches, pauses, two programs), as
found in a product review: each test is a bug a coordinator or a pair would have noticed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import enrollment as enrollment_service
from bot.services.overview import person_overview
from bot.services.reports import summarize
from storage.engine import session_scope
from storage.models import Pairing, Program
from tests.factories import block_texts, make_program
from tests.slack_emulator import SlackEmulator
from tests.test_scheduler import deliveries, enroll, hand_pair, log_meeting, person, settle_agreement

ADMIN_CHANNEL = "C0ADMINS01"
LA = "America/Los_Angeles"


def _pair_up(
    engine: Engine,
    emulator: SlackEmulator,
    program: Program,
    mentor: str,
    mentee: str,
    zones: dict[str, str],
    at: datetime,
) -> int:
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((mentor, "mentor"), (mentee, "mentee")):
            emulator.add_user(uid, name=uid.lower(), tz=zones.get(uid, LA))
            person(session, uid, zones.get(uid, LA))
            enroll(session, program, uid, role)
    pairing_id = hand_pair(engine, program, mentor, mentee, at)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    return pairing_id


async def test_an_agreement_reminder_held_for_quiet_hours_is_dropped_once_the_pair_settles(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """An agreement reminder waiting for the Honolulu mentee's working hours is not sent after the pair settled
    their agreement (or was dissolved) meanwhile."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    zones = {"U0MENT1": LA, "U0MTEE1": "Pacific/Honolulu"}
    pairing_id = _pair_up(engine, emulator, program, "U0MENT1", "U0MTEE1", zones, datetime(2025, 2, 20, 18, tzinfo=UTC))

    clock.set(datetime(2025, 2, 26, 17, 30, tzinfo=UTC))  # Wed 9:30 AM Pacific, 7:30 AM in Honolulu
    await tick(runtime)
    [reminder] = [d for d in deliveries(engine) if d.kind == "agreement_reminder"]
    assert reminder.status == "due"

    settle_agreement(engine, pairing_id, datetime(2025, 2, 26, 18, 0, tzinfo=UTC))  # 10 AM Pacific
    clock.set(datetime(2025, 2, 26, 19, 5, tzinfo=UTC))  # 9:05 AM in Honolulu
    await tick(runtime)

    with session_scope(engine) as session:
        conversation = session.get(Pairing, pairing_id).conversation_id
    texts = [m.get("text", "") for m in emulator.messages_in(conversation)] if conversation else []
    [reminder] = [d for d in deliveries(engine) if d.kind == "agreement_reminder"]
    assert reminder.status != "sent" and not any("agreement is due soon" in t for t in texts), (
        "a pair that settled its agreement an hour ago was told to settle it",
        texts,
    )


async def test_weekly_did_you_meet_arrives_within_its_week(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """In a program whose weeks run Monday to Sunday, a weekly pair's "Did you meet?" arrives on a working day
    of that week, not on the Monday after it ended."""
    program = make_program(
        engine,
        name="PLSEP Mentorship 2027",
        applications_open="2027-01-04",
        applications_close="2027-02-17",
        agreement_due="2027-03-01",
        starts_on="2027-03-01",
        ends_on="2027-06-30",
    )
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    zones = {"U0MENT1": LA, "U0MTEE1": LA}
    pairing_id = _pair_up(engine, emulator, program, "U0MENT1", "U0MTEE1", zones, datetime(2027, 2, 20, 18, tzinfo=UTC))
    settle_agreement(engine, pairing_id, datetime(2027, 2, 25, 18, tzinfo=UTC), cadence="weekly")

    day = date(2027, 3, 1)
    while day <= date(2027, 3, 16):
        for hour in (17, 20):  # 9:05 AM and 12:05 PM Pacific
            clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour, minutes=5))
            await tick(runtime)
        day += timedelta(days=1)

    late = []
    for d in deliveries(engine):
        if d.kind == "did_you_meet" and d.status == "sent":
            sent_local = d.sent_at.replace(tzinfo=UTC).astimezone(ZoneInfo(LA)).date()
            if sent_local > date.fromisoformat(d.payload["period_end"]):
                late.append((d.period, d.payload["period_end"], sent_local.isoformat()))
    assert late == [], f"'Did you meet this period?' sent after the period had ended: {late}"


async def test_a_pair_matched_after_the_agreement_date_gets_a_due_date_it_can_meet(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair introduced on Apr 15, after the program's Mar 1 agreement date, is told a date a week ahead (in
    the intro and its status) and is not counted as overdue on day one."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in (("U0MENT1", "mentor"), ("U0MTEE1", "mentee")):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            person(session, uid, LA)
            enroll(session, program, uid, role)
    april_15 = datetime(2025, 4, 15, 17, 5, tzinfo=UTC)  # Tuesday 10:05 AM Pacific
    clock.set(april_15)
    hand_pair(engine, program, "U0MENT1", "U0MTEE1", april_15)
    await tick(runtime)
    [intro] = [d for d in deliveries(engine) if d.kind == "intro"]
    assert intro.status == "sent"
    with session_scope(engine) as session:
        conversation = session.get(Pairing, intro.pairing_id).conversation_id
        summary = summarize(session, session.get(Program, program.id), april_15)
    shown = block_texts(emulator.messages_in(conversation)[0]["blocks"])
    assert "agreement by Mar 1" not in shown, shown
    assert summary.agreements_overdue == 0
    with session_scope(engine) as session:  # their own status names the same date as the intro
        [card] = person_overview(session, "U0MTEE1", april_15).cards
    assert "by Apr 22, 2025" in card.next_step and "agreement by Apr 22" in shown, (card.next_step, shown)


async def test_the_digest_leaves_a_pair_paused_all_month_out_of_the_meeting_rate(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair whose mentee was paused for all of May is left out of May's meeting rate, as the schedule
    excuses it: 1 of 1 pairs met, not 1 of 2."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    zones = {"U0MENT1": LA, "U0MTEE1": LA, "U0MENT2": LA, "U0MTEE2": LA}
    first = _pair_up(engine, emulator, program, "U0MENT1", "U0MTEE1", zones, datetime(2025, 2, 20, 18, tzinfo=UTC))
    second = _pair_up(engine, emulator, program, "U0MENT2", "U0MTEE2", zones, datetime(2025, 2, 20, 18, tzinfo=UTC))
    for pid in (first, second):
        settle_agreement(engine, pid, datetime(2025, 2, 25, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        enrollment_service.pause(session, "U0MTEE2", date(2025, 6, 1), datetime(2025, 4, 30, 18, tzinfo=UTC))
    log_meeting(engine, first, date(2025, 5, 12), "U0MTEE1")
    with session_scope(engine, write=True) as session:
        enrollment_service.end_due_pauses(session, datetime(2025, 6, 1, 18, tzinfo=UTC))
    with session_scope(engine) as session:
        summary = summarize(session, session.get(Program, program.id), datetime(2025, 6, 2, 17, tzinfo=UTC))
    may = {m.month: m for m in summary.months}["2025-05"]
    assert (may.pairs_met, may.live_pairs) == (1, 1), f"May: {may.pairs_met} of {may.live_pairs} pairs met"


async def test_no_agreement_reminder_while_a_member_is_paused(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """While the mentee is paused, the pair gets no agreement reminder ("no reminders while paused")."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    zones = {"U0MENT1": LA, "U0MTEE1": LA}
    pairing_id = _pair_up(engine, emulator, program, "U0MENT1", "U0MTEE1", zones, datetime(2025, 2, 20, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        enrollment_service.pause(session, "U0MTEE1", date(2025, 3, 10), datetime(2025, 2, 24, 18, tzinfo=UTC))
    clock.set(datetime(2025, 2, 26, 17, 30, tzinfo=UTC))  # Wed 9:30 AM Pacific
    await tick(runtime)
    sent = [d for d in deliveries(engine) if d.kind == "agreement_reminder" and d.status == "sent"]
    assert sent == [], f"pairing {pairing_id}: the agreement reminder went to a pair with a paused member"


async def test_not_yet_on_the_last_day_of_the_period_is_not_asked_again_at_once(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """*Not yet* on the last day of the period does not bring "Did you meet?" back a minute later."""
    from bot.services import schedule

    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    zones = {"U0MENT1": LA, "U0MTEE1": LA}
    pairing_id = _pair_up(engine, emulator, program, "U0MENT1", "U0MTEE1", zones, datetime(2025, 2, 20, 18, tzinfo=UTC))
    settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    clock.set(datetime(2025, 3, 28, 17, 5, tzinfo=UTC))  # Fri Mar 28, 10:05 AM Pacific (after DST)
    await tick(runtime)
    assert [d.status for d in deliveries(engine) if d.kind == "did_you_meet"] == ["sent"]

    not_yet_at = datetime(2025, 3, 31, 17, 0, tzinfo=UTC)  # Mon Mar 31, 10:00 AM Pacific
    clock.set(not_yet_at)
    with session_scope(engine, write=True) as session:
        schedule.ask_again(session, pairing_id, not_yet_at)  # what the *Not yet* button does
    clock.set(not_yet_at + timedelta(minutes=1))
    await tick(runtime)
    again = [d for d in deliveries(engine) if d.kind == "did_you_meet_again" and d.status == "sent"]
    assert again == [], (
        "asked 'Did you meet?' again one minute after answering 'Not yet' (told: I'll ask again in a few days)",
        [(d.period, d.sent_at) for d in again],
    )


async def test_each_programs_coordinators_are_told_a_shared_participant_cant_be_reached(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A deactivated mentee in two programs is reported to both programs' coordinators, not only the first."""
    a = make_program(engine, name="PLSEP A", admin_channel="C0ADMINSA")
    b = make_program(engine, name="PLSEP B", admin_channel="C0ADMINSB")
    emulator.add_channel("C0ADMINSA", "a-admins", members=["U0ADMIN01"])
    emulator.add_channel("C0ADMINSB", "b-admins", members=["U0ADMIN01"])
    with session_scope(engine, write=True) as session:
        for uid in ("U0MENTA", "U0MENTB", "U0MTEE1"):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            person(session, uid, LA)
        for program, mentor in ((a, "U0MENTA"), (b, "U0MENTB")):
            program = session.get(Program, program.id)
            enroll(session, program, mentor, "mentor")
            enroll(session, program, "U0MTEE1", "mentee")
    emulator.deactivate_user("U0MTEE1")
    at = datetime(2025, 2, 20, 18, 0, tzinfo=UTC)  # Thursday 10 AM Pacific
    clock.set(at)
    hand_pair(engine, a, "U0MENTA", "U0MTEE1", at)
    hand_pair(engine, b, "U0MENTB", "U0MTEE1", at)
    for minutes in (0, 1, 2):
        clock.set(at + timedelta(minutes=minutes))
        await tick(runtime)
    intros = [d for d in deliveries(engine) if d.kind == "intro"]
    assert [d.status for d in intros] == ["undeliverable", "undeliverable"]
    told = {
        channel: len([m for m in emulator.messages_in(channel) if "can't be reached" in m.get("text", "")])
        for channel in ("C0ADMINSA", "C0ADMINSB")
    }
    reports = [(d.subject, d.recipient) for d in deliveries(engine) if d.kind == "unreachable"]
    assert told == {"C0ADMINSA": 1, "C0ADMINSB": 1}, f"one program's coordinators were never told; reports: {reports}"

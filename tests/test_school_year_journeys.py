"""A school district's program over a school year (breaks, a mid-year hire, the summer), as found in a product
review: each test is a bug a school librarian or the district's coordinator would have noticed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services.reports import summarize
from storage.engine import session_scope
from storage.models import Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join
from tests.test_scheduler import deliveries, enroll, hand_pair, log_meeting, person, settle_agreement

ADMIN_CHANNEL = "C0ADMINS01"
LA = "America/Los_Angeles"
WINTER_BREAK = (date(2025, 12, 22), date(2026, 1, 2))
SCHOOL_YEAR = {
    "name": "Hillcrest USD Library Mentors 2025-26",
    "applications_open": "2025-08-01",
    "applications_close": "2025-09-05",
    "agreement_due": "2025-09-19",
    "starts_on": "2025-09-08",
    "ends_on": "2026-06-12",
    "blackouts": "2025-12-22..2026-01-02, 2026-03-30..2026-04-03",
    "neighbor_orgs": "Lakeview USD",
    "min_mentor_years": "3",
}


def _school_year(engine: Engine, emulator: SlackEmulator) -> Program:
    program = make_program(engine, **SCHOOL_YEAR)
    emulator.add_channel(ADMIN_CHANNEL, "district-library-admins", members=["U0ADMIN01"])
    return program


def _neighbouring_districts_paired(
    engine: Engine, emulator: SlackEmulator, program: Program, mentor: str, mentee: str, at: datetime
) -> int:
    """An elementary-school mentor from Lakeview USD hand-paired with a mentee from Hillcrest USD, both Pacific."""
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role, org in ((mentor, "mentor", "Lakeview USD"), (mentee, "mentee", "Hillcrest USD")):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            person(session, uid, LA)
            enroll(session, program, uid, role, organization=org, grade_levels=["elementary"])
    return hand_pair(engine, program, mentor, mentee, at)


def _pair_up(engine: Engine, emulator: SlackEmulator, program: Program, mentor: str, mentee: str, at: datetime) -> int:
    pairing_id = _neighbouring_districts_paired(engine, emulator, program, mentor, mentee, at)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    return pairing_id


def _local_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(LA)).date()


async def _each_working_hour(runtime: Runtime, clock: FixedClock, first: date, last: date) -> None:
    day = first
    while day <= last:
        for hour in (17, 21):  # 9:05 AM and 1:05 PM Pacific (winter)
            clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour, minutes=5))
            await tick(runtime)
        day += timedelta(days=1)


async def test_a_pair_matched_before_winter_break_is_not_reminded_during_the_break(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A mid-year hire matched on Dec 17 got "your agreement is due soon" on Dec 22, the first day of winter break
    (a blackout: no nudges); the reminder should wait for school days, not go out during the break."""
    program = _school_year(engine, emulator)
    matched = datetime(2025, 12, 17, 18, 0, tzinfo=UTC)  # Wednesday 10 AM Pacific
    clock.set(matched)
    _pair_up(engine, emulator, program, "U0SCHMNTR", "U0SCHMNTE", matched)
    await _each_working_hour(runtime, clock, date(2025, 12, 17), date(2026, 1, 9))

    in_break = [
        (d.kind, _local_day(d.sent_at).isoformat())
        for d in deliveries(engine)
        if d.status == "sent"
        and d.pairing_id is not None
        and d.kind != "intro"
        and WINTER_BREAK[0] <= _local_day(d.sent_at) <= WINTER_BREAK[1]
    ]
    assert in_break == [], f"reminders sent to the pair during winter break: {in_break}"


async def test_a_mid_year_pairs_agreement_week_does_not_run_out_over_winter_break(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair matched Dec 17 was given Dec 24 (inside winter break) to settle, and the coordinator was told on
    Christmas Day that it was overdue; the pair's week to settle should be school days, not the break."""
    program = _school_year(engine, emulator)
    matched = datetime(2025, 12, 17, 18, 0, tzinfo=UTC)  # Wednesday 10 AM Pacific, three school days left
    clock.set(matched)
    _pair_up(engine, emulator, program, "U0SCHMNTR", "U0SCHMNTE", matched)
    await _each_working_hour(runtime, clock, date(2025, 12, 17), date(2026, 1, 6))

    overdue = [
        _local_day(d.sent_at).isoformat()
        for d in deliveries(engine)
        if d.kind == "agreement_overdue" and d.status == "sent"
    ]
    assert overdue == [], f"coordinators told the pair's agreement was overdue on {overdue}, over winter break"


async def test_a_pair_is_asked_did_you_meet_in_december_before_winter_break(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A monthly pair that had not met in December was never asked "Did you meet?" (its ask day, Dec 26, is in
    winter break) yet December counts as missed; it should be asked on a school day before the break."""
    program = _school_year(engine, emulator)
    paired = datetime(2025, 9, 10, 17, 0, tzinfo=UTC)
    pairing_id = _pair_up(engine, emulator, program, "U0SCHMNTR", "U0SCHMNTE", paired)
    settle_agreement(engine, pairing_id, datetime(2025, 9, 12, 17, 0, tzinfo=UTC))
    for day in (date(2025, 9, 24), date(2025, 10, 8), date(2025, 11, 12)):
        log_meeting(engine, pairing_id, day, "U0SCHMNTE")
    await _each_working_hour(runtime, clock, date(2025, 12, 1), date(2026, 1, 6))

    december = [
        (d.kind, d.status, _local_day(d.sent_at).isoformat() if d.sent_at else None)
        for d in deliveries(engine)
        if d.pairing_id == pairing_id and d.period == "2025-12"
    ]
    with session_scope(engine) as session:
        months = {m.month: m for m in summarize(session, session.get(Program, program.id), clock.now()).months}
    assert (months["2025-12"].live_pairs, months["2025-12"].pairs_met) == (1, 0)  # December counts, as not met
    asked = [x for x in december if x[0] == "did_you_meet" and x[1] == "sent"]
    assert asked, f"December was counted for the pair but 'Did you meet?' never came; December's messages: {december}"


def test_a_solo_librarian_who_wants_to_meet_in_person_is_matched_with_the_mentor_nearby(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A new librarian in the Inland Empire who wants in-person meetings was offered a mentor from the Far North
    with nothing said about distance (region is asked, then ignored); the mentor in her region should be proposed
    and the preview should say they are in the same region."""
    make_program(engine, **SCHOOL_YEAR)
    emulator.add_channel(ADMIN_CHANNEL, "district-library-admins", members=[ADMIN_ID])
    clock.set(datetime(2025, 8, 20, 17, 0, tzinfo=UTC))
    far, near, mentee = "U0FARMNTR", "U0NEARMNT", "U0SOLOLIB"
    for uid in (far, near, mentee):
        emulator.add_user(uid, name=uid.lower(), tz=LA)
    for uid, org, region in ((far, "Shasta Unified", "Far North"), (near, "Pine Valley Unified", "Inland Empire")):
        join(slack, emulator, uid, "join mentor", role="mentor", organization=org, region=region,
             years_experience="8", capacity="1", grade_levels=["elementary"], meeting_format="in_person")  # fmt: skip
    join(slack, emulator, mentee, "join mentee", role="mentee", organization="Hillcrest USD",
         region="Inland Empire", years_experience="0", grade_levels=["elementary"], meeting_format="in_person")  # fmt: skip

    before = len(emulator.messages_in(ADMIN_CHANNEL))
    slack.admin(ADMIN_ID, "match preview")
    posted = wait_for(lambda: emulator.messages_in(ADMIN_CHANNEL)[before:], what="the preview")
    text = block_texts(posted[-1].get("blocks") or [])
    assert "Inland Empire" in text and f"<@{near}> mentors <@{mentee}>" in text, text


async def test_the_digest_over_the_summer_break_does_not_report_mays_meetings_as_this_month(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """In a program that carries new librarians into their second fall, the July digest (summer break, a blackout)
    said "Meetings this month: 1 of 1 pair met (100%)", which was May's figure; July has no meetings to report."""
    program = make_program(
        engine,
        **(SCHOOL_YEAR | {"ends_on": "2026-10-30", "blackouts": "2025-12-22..2026-01-02, 2026-06-13..2026-08-16"}),
    )
    emulator.add_channel(ADMIN_CHANNEL, "district-library-admins", members=[ADMIN_ID])
    pairing_id = _pair_up(engine, emulator, program, "U0SCHMNTR", "U0SCHMNTE", datetime(2025, 9, 10, 17, tzinfo=UTC))
    settle_agreement(engine, pairing_id, datetime(2025, 9, 12, 17, 0, tzinfo=UTC))
    for day in (date(2026, 4, 15), date(2026, 5, 20)):
        log_meeting(engine, pairing_id, day, "U0SCHMNTE")

    before = len(emulator.messages_in(ADMIN_CHANNEL))
    clock.set(datetime(2026, 7, 13, 17, 5, tzinfo=UTC))  # Monday Jul 13, 10:05 AM Pacific: the weekly digest
    await tick(runtime)
    digest = [
        m for m in emulator.messages_in(ADMIN_CHANNEL)[before:] if "Meetings" in block_texts(m.get("blocks") or [])
    ][-1]
    text = block_texts(digest["blocks"])
    assert "Meetings this month*: 1 of 1" not in text, text


async def test_a_quiet_pair_that_met_again_before_the_break_is_no_longer_listed_as_gone_quiet(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair quiet through October and November met on Dec 10, yet the Dec 15 digest (and the ones over winter
    break) still listed them under "At risk: gone quiet ... last met 5 days ago"; a pair that met is not quiet."""
    program = _school_year(engine, emulator)
    pairing_id = _pair_up(engine, emulator, program, "U0SCHMNTR", "U0SCHMNTE", datetime(2025, 9, 10, 17, tzinfo=UTC))
    settle_agreement(engine, pairing_id, datetime(2025, 9, 12, 17, 0, tzinfo=UTC))
    log_meeting(engine, pairing_id, date(2025, 9, 24), "U0SCHMNTE")
    clock.set(datetime(2025, 12, 1, 17, 5, tzinfo=UTC))  # Monday Dec 1: no meeting in Oct or Nov
    await tick(runtime)
    assert any(d.kind == "at_risk" and d.status == "sent" for d in deliveries(engine))  # the coordinator was told

    log_meeting(engine, pairing_id, date(2025, 12, 10), "U0SCHMNTE")  # they meet again
    before = len(emulator.messages_in(ADMIN_CHANNEL))
    clock.set(datetime(2025, 12, 15, 17, 5, tzinfo=UTC))  # Monday Dec 15, 9:05 AM Pacific: the weekly digest
    await tick(runtime)
    digest = [
        m for m in emulator.messages_in(ADMIN_CHANNEL)[before:] if "At risk" in block_texts(m.get("blocks") or [])
    ]
    text = block_texts(digest[-1]["blocks"])
    assert "gone quiet" not in text, text

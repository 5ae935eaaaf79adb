"""After a program ends: what coordinators and librarians still see of it, as found in a product review of the
second year; each test is a bug someone would have noticed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.cli import main
from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import reports
from storage.engine import session_scope
from storage.models import Delivery, Enrollment, Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import make_program, program_form
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join, opened_view
from tests.test_scheduler import enroll, hand_pair, person
from tests.test_second_year_journeys import (
    DAY_AFTER_THE_END,
    LA,
    LAST_YEAR,
    MENTEE,
    MENTOR,
    NEXT_JANUARY,
    NEXT_PROGRAM,
    THIS_YEAR,
    end_of_program,
    introduce_and_run,
    last_years_pair,
    shown,
)

LATE_MENTEE = "U0YRLATE2"


def program_named(engine: Engine, name: str) -> Program:
    with session_scope(engine) as session:
        return session.exec(select(Program).where(Program.name == name)).one()


def enrollment_statuses(engine: Engine, person_id: str) -> dict[str, str]:
    with session_scope(engine) as session:
        names = {p.id: p.name for p in session.exec(select(Program))}
        rows = session.exec(select(Enrollment).where(Enrollment.person_id == person_id))
        return {names[e.program_id]: e.status for e in rows}


def paired_late(engine: Engine, emulator: SlackEmulator, clock: FixedClock, at: datetime) -> int:
    """PLSEP 2025 with a late mentee whom the coordinator pairs by hand `at` (the February pair is dissolved,
    so only this pair is planned)."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "dissolved"
    emulator.add_user(LATE_MENTEE, name="late", tz=LA)
    program = program_named(engine, LAST_YEAR)
    with session_scope(engine, write=True) as session:
        person(session, LATE_MENTEE, LA)
        enroll(session, session.get(Program, program.id), LATE_MENTEE, "mentee")
    clock.set(at)
    return hand_pair(engine, program, MENTOR, LATE_MENTEE, at)


# -- 1. editing a closed program ------------------------------------------------------------------------------
async def test_extending_a_closed_programs_end_date_reopens_it(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """On Jul 3 the coordinator extends the ended program to Aug 31 and is told "Saved", but it stays closed and
    the scheduler keeps skipping it; it should run again until Aug 31, and she should be told so."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    await end_of_program(engine, runtime, clock, pairing_id)
    clock.set(datetime(2025, 7, 3, 17, tzinfo=UTC))

    emulator.reset_calls()
    slack.admin(ADMIN_ID, f"program edit {LAST_YEAR}")
    view = opened_view(emulator)
    form = program_form(name=LAST_YEAR, ends_on="2025-08-31")
    response = slack.view_submission(ADMIN_ID, view["callback_id"], form, private_metadata=view["private_metadata"])
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    [saved] = wait_for(lambda: [m for m in emulator.messages_in(ADMIN_ID) if "Saved" in m.get("text", "")])

    program = program_named(engine, LAST_YEAR)
    assert program.ends_on == date(2025, 8, 31)
    assert program.closed_at is None, "the program ends on Aug 31 but stays closed"
    assert "reopened" in saved["text"] and "stay ended" in saved["text"], saved["text"]
    with session_scope(engine) as session:
        assert session.get(Pairing, pairing_id).status == "ended"  # the pair that ended with it is left alone


# -- 2. pause, resume, Home tab and profile ---------------------------------------------------------------------
async def back_for_the_next_cohort(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Last year's pair ended with PLSEP 2025; in January the mentee applies to PLSEP 2026."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    await end_of_program(engine, runtime, clock, pairing_id)
    clock.set(NEXT_JANUARY)
    make_program(engine, **NEXT_PROGRAM)
    response = join(slack, emulator, MENTEE, "join mentee")
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    assert enrollment_statuses(engine, MENTEE) == {LAST_YEAR: "matched", THIS_YEAR: "applied"}


async def test_pause_and_resume_leave_an_ended_programs_enrollment_alone(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Back for the new cohort, the mentee types `/mentor pause` then `/mentor resume`: last year's ended
    enrollment is paused and resumed too; only this year's should change."""
    await back_for_the_next_cohort(slack, emulator, engine, runtime, clock)
    slack.mentor(MENTEE, "pause")
    assert enrollment_statuses(engine, MENTEE) == {LAST_YEAR: "matched", THIS_YEAR: "paused"}
    slack.mentor(MENTEE, "resume")
    assert enrollment_statuses(engine, MENTEE) == {LAST_YEAR: "matched", THIS_YEAR: "applied"}


async def test_the_home_tab_offers_no_pause_or_profile_when_the_only_program_ended(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The mentor's only program ended: her Home tab still offers *Pause* and *Edit profile*, which would
    change last year's enrollment; they should not be offered (`/mentor pause` says there is nothing to pause)."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    await end_of_program(engine, runtime, clock, pairing_id)
    clock.set(NEXT_JANUARY)

    emulator.reset_calls()
    assert slack.app_home_opened(MENTOR).status_code == 200
    home = wait_for(lambda: emulator.calls_to("views.publish"), what="the Home tab")[-1].arg("view")
    offered = [e["text"]["text"] for b in home["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert "Pause" not in offered and "Edit profile" not in offered, offered
    said = slack.mentor(MENTOR, "pause").json().get("text", "")
    assert enrollment_statuses(engine, MENTOR) == {LAST_YEAR: "matched"}, said
    assert "ended" in said, said


async def test_mentor_profile_does_not_offer_last_years_ended_profile(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Back for the new cohort, the mentee types `/mentor profile` and is asked to choose between last year's
    ended profile and this year's; the form for this year's should open."""
    await back_for_the_next_cohort(slack, emulator, engine, runtime, clock)
    emulator.reset_calls()
    assert slack.mentor(MENTEE, "profile").status_code == 200
    url = slack.last_response_url
    wait_for(lambda: emulator.calls_to("views.open") or emulator.responses_to(url), what="the form or a choice")
    offered = [shown(r) for r in emulator.responses_to(url)]
    assert not any(LAST_YEAR in text for text in offered), offered
    view = opened_view(emulator)
    assert THIS_YEAR in str(view) and LAST_YEAR not in str(view), view


# -- 3. no agreement alerts once the program has ended ----------------------------------------------------------
async def test_a_pair_introduced_in_the_last_week_is_not_reported_overdue_after_the_end(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair introduced on Jun 24 has not settled its agreement by Jun 30: on Jul 1 the coordinators get an
    "agreement overdue" alert next to the wrap-up; after the end there should be no agreement alerts."""
    introduced = datetime(2025, 6, 24, 17, 5, tzinfo=UTC)  # Tuesday Jun 24, 10:05 AM in Los Angeles
    late_pair = paired_late(engine, emulator, clock, introduced)
    await tick(runtime)
    with session_scope(engine) as session:
        assert session.get(Pairing, late_pair).status == "introduced"

    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)
    with session_scope(engine) as session:
        kinds = [d.kind for d in session.exec(select(Delivery))]
        assert session.get(Pairing, late_pair).status == "ended"
    assert "wrapup" in kinds
    assert "agreement_overdue" not in kinds, kinds


# -- 4. the pairings export -------------------------------------------------------------------------------------
async def test_the_pairings_export_does_not_call_an_ended_pairing_at_risk(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair that went quiet in June and ended with the program is exported with `at_risk = yes`; a pairing
    that has ended is not at risk, and the export should say `no`."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).at_risk = True  # as the June sweep left it
    await end_of_program(engine, runtime, clock, pairing_id)

    with session_scope(engine) as session:
        program = session.exec(select(Program).where(Program.name == LAST_YEAR)).one()
        rows = reports.export_csv(session, program, "pairings").decode("utf-8-sig").splitlines()
    header, [row] = rows[0].split(","), rows[1:]
    assert row.split(",")[header.index("status")] == "ended"
    assert row.split(",")[header.index("at_risk")] == "no", row


# -- 5. the command line's program list -------------------------------------------------------------------------
async def test_the_command_line_program_list_says_which_programs_are_closed(
    operator_shell: Path,
    emulator: SlackEmulator,
    engine: Engine,
    runtime: Runtime,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`shelfmate program list` shows last year's ended program like a running one; like Slack's list, it
    should say it is closed."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    await end_of_program(engine, runtime, clock, pairing_id)
    make_program(engine, **NEXT_PROGRAM)
    capsys.readouterr()
    assert main(["program", "list"]) == 0
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "closed" in lines[LAST_YEAR], lines[LAST_YEAR]
    assert "closed" not in lines[THIS_YEAR], lines[THIS_YEAR]


# -- 6. an intro held for quiet hours past the end ----------------------------------------------------------
async def test_an_intro_held_past_the_end_is_dropped_and_the_pairing_ends_with_the_program(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Paired at 6 PM on the program's last day, the pair's intro waits for working hours and goes out on Jul 1,
    after the end, while the wrap-up says the program "ended before this proposal was approved"; the intro
    should be dropped, and the pairing end with the program like the others."""
    late_evening = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)  # Monday Jun 30, 6 PM in Los Angeles
    late_pair = paired_late(engine, emulator, clock, late_evening)
    await tick(runtime)
    with session_scope(engine) as session:
        [intro] = [d for d in session.exec(select(Delivery)) if d.kind == "intro"]
        assert intro.status == "due" and session.get(Pairing, late_pair).status == "proposed"

    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)
    with session_scope(engine) as session:
        intro = session.get(Delivery, intro.id)
        pairing = session.get(Pairing, late_pair)
        assert intro.status == "skipped", f"the intro went out after the end: {intro.status}"
        ended = (pairing.status, pairing.end_reason)
        assert ended == ("ended", "The program ended before the two were introduced."), pairing.end_reason

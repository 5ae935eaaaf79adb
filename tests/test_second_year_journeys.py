"""The second year: a program ends, the coordinator runs the next cohort, and last year's librarians come back,
as found in a product review: each test is a bug a librarian or a coordinator would have noticed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import CheckIn, Delivery, Enrollment, Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program, program_form
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join, opened_view
from tests.test_scheduler import enroll, hand_pair, log_meeting, person, settle_agreement

ADMIN_CHANNEL = "C0ADMINS01"
LA = "America/Los_Angeles"
LAST_YEAR = "PLSEP Mentorship 2025"
THIS_YEAR = "PLSEP Mentorship 2026"
MENTOR, MENTEE = "U0YRMENTR", "U0YRMENTE"

NEXT_PROGRAM = {
    "name": THIS_YEAR,
    "applications_open": "2026-01-05",
    "applications_close": "2026-02-17",
    "agreement_due": "2026-03-01",
    "starts_on": "2026-03-01",
    "ends_on": "2026-06-30",
}
INTRODUCED_AT = datetime(2025, 2, 20, 18, 5, tzinfo=UTC)  # Thursday 10:05 AM in Los Angeles
DAY_AFTER_THE_END = datetime(2025, 7, 1, 17, 5, tzinfo=UTC)  # Tuesday Jul 1, 10:05 AM in Los Angeles
NEXT_JANUARY = datetime(2026, 1, 20, 18, 0, tzinfo=UTC)  # applications for the next cohort are open


def _select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def _radio(value: str) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


def checkin_state(met_on: str) -> dict[str, Any]:
    return {
        "met_on": {"met_on": {"type": "datepicker", "selected_date": met_on}},
        "duration": {"duration": {"type": "number_input", "value": "60"}},
        "format": {"format": _select("video")},
        "topics": {"topics": {"type": "multi_static_select", "selected_options": []}},
        "other_topics": {"other_topics": {"type": "plain_text_input", "value": ""}},
        "rating": {"rating": _select("5")},
        "private_note": {"private_note": {"type": "plain_text_input", "value": ""}},
    }


def reply_to(slack: SlackDriver, emulator: SlackEmulator) -> str:
    """The newest answer posted to the response_url of the request just sent."""
    url = slack.last_response_url
    return wait_for(lambda: emulator.responses_to(url), what="an answer")[-1].get("text", "")


def shown(message: dict[str, Any]) -> str:
    return (message.get("text") or "") + "\n" + block_texts(message.get("blocks") or [])


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(
        e for b in message.get("blocks") or [] if b.get("type") == "actions" for e in b["elements"]
        if e["action_id"] == action_id
    )  # fmt: skip


def pairings_in(engine: Engine, program_name: str) -> list[Pairing]:
    with session_scope(engine) as session:
        program = session.exec(select(Program).where(Program.name == program_name)).one()
        return list(session.exec(select(Pairing).where(Pairing.program_id == program.id)))


def last_years_pair(engine: Engine, emulator: SlackEmulator, clock: FixedClock) -> tuple[Program, int]:
    """PLSEP 2025: a mentor and a mentee introduced in February, agreement settled, meetings March to May."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            person(session, uid, LA)
            enroll(session, program, uid, role)
    clock.set(INTRODUCED_AT)
    pairing_id = hand_pair(engine, program, MENTOR, MENTEE, INTRODUCED_AT)
    return program, pairing_id


async def introduce_and_run(engine: Engine, runtime: Runtime, pairing_id: int) -> None:
    await tick(runtime)  # the intro goes out
    with session_scope(engine) as session:
        assert session.get(Pairing, pairing_id).status == "introduced"
    settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    for day in (date(2025, 3, 12), date(2025, 4, 9), date(2025, 5, 14)):
        log_meeting(engine, pairing_id, day, MENTEE)


async def end_of_program(engine: Engine, runtime: Runtime, clock: FixedClock, pairing_id: int) -> None:
    """The morning after Jun 30: the sweep sends the wrap-up and closes PLSEP 2025."""
    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)
    with session_scope(engine) as session:
        assert session.get(Pairing, pairing_id).status == "ended"
        assert session.exec(select(Program).where(Program.name == LAST_YEAR)).one().closed_at is not None


def conversation_of(engine: Engine, pairing_id: int) -> str:
    with session_scope(engine) as session:
        conversation = session.get(Pairing, pairing_id).conversation_id
    assert conversation
    return conversation


# -- the last day and after -----------------------------------------------------------------------------------
async def test_a_meeting_on_the_last_day_can_be_logged_the_next_morning(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Asked "Did you meet this period? It ends on Jun 30", the pair meets on Jun 30 and presses *We met* on
    Jul 1: they are told there is no meeting to log; they should be able to log the Jun 30 meeting."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    clock.set(datetime(2025, 6, 27, 17, 5, tzinfo=UTC))  # Friday Jun 27, 10:05 AM: June's "Did you meet?"
    await tick(runtime)
    conversation = conversation_of(engine, pairing_id)
    [asked] = [m for m in emulator.messages_in(conversation) if "did you meet this month" in shown(m)]
    we_met = button(asked, "shelfmate_we_met")

    await end_of_program(engine, runtime, clock, pairing_id)
    opened = len(emulator.calls_to("views.open"))
    slack.block_action(MENTEE, we_met["action_id"], we_met["value"], channel_id=conversation)
    url = slack.last_response_url
    wait_for(lambda: len(emulator.calls_to("views.open")) > opened or emulator.responses_to(url))
    answers = [r.get("text", "") for r in emulator.responses_to(url)]
    assert len(emulator.calls_to("views.open")) > opened, (
        f"*We met* on Jul 1 about the Jun 30 meeting opened no check-in form; the pair was told: {answers}"
    )
    view = opened_view(emulator, opened)
    response = slack.view_submission(
        MENTEE, view["callback_id"], checkin_state("2025-06-30"), private_metadata=view["private_metadata"]
    )
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    with session_scope(engine) as session:
        days = sorted(c.met_on for c in session.exec(select(CheckIn).where(CheckIn.pairing_id == pairing_id)))
    assert date(2025, 6, 30) in days, days


async def test_asking_for_the_agreement_after_the_program_ended_says_the_pairing_ended(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """After the program ended, the mentee presses *Set up our agreement* in her own pair's intro and is told
    "That belongs to another pair"; `/mentor agreement` tells her she has no partner "yet". Both should say
    her pairing has ended."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    conversation = conversation_of(engine, pairing_id)
    [intro] = [m for m in emulator.messages_in(conversation) if "Welcome to" in m.get("text", "")]
    agreement = button(intro, "shelfmate_open_agreement")
    await end_of_program(engine, runtime, clock, pairing_id)

    slack.block_action(MENTEE, agreement["action_id"], agreement["value"], channel_id=conversation)
    from_button = reply_to(slack, emulator)
    slack.mentor(MENTEE, "agreement")
    from_command = reply_to(slack, emulator)
    assert "belongs to another pair" not in from_button and "partner yet" not in from_command, (
        from_button,
        from_command,
    )
    assert "ended" in from_button and "ended" in from_command, (from_button, from_command)


async def test_coordinators_can_see_the_wrap_up_survey_answers(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Both members answer the wrap-up survey ("it helps coordinators plan the next cycle"), but the
    coordinator's summary of the ended program says nothing of it; it should report the survey answers."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    await end_of_program(engine, runtime, clock, pairing_id)
    conversation = conversation_of(engine, pairing_id)
    [wrapup] = [m for m in emulator.messages_in(conversation) if "has ended" in m.get("text", "")]
    survey = button(wrapup, "shelfmate_survey")
    for uid in (MENTOR, MENTEE):
        opened = len(emulator.calls_to("views.open"))
        slack.block_action(uid, survey["action_id"], survey["value"], channel_id=conversation)
        view = opened_view(emulator, opened)
        answers = {
            "satisfaction": {"satisfaction": _select("5")},
            "would_continue": {"would_continue": _radio("yes")},
            "still_in_libraries": {"still_in_libraries": _radio("yes")},
        }
        response = slack.view_submission(uid, view["callback_id"], answers, private_metadata=view["private_metadata"])
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text

    clock.set(NEXT_JANUARY)  # planning the next cohort
    body = slack.admin(ADMIN_ID, f"summary {LAST_YEAR}").json()
    seen = (body.get("text") or "") + "\n" + block_texts(body.get("blocks") or [])
    assert "survey" in seen.lower(), f"two survey answers, none of it in the summary:\n{seen}"


async def test_the_summary_of_an_ended_program_does_not_report_june_as_this_month(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """In January the coordinator reads last year's summary: it says "Meetings this month" with June's figures
    and "0 days left"; it should say the program ended on Jun 30, 2025."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await introduce_and_run(engine, runtime, pairing_id)
    log_meeting(engine, pairing_id, date(2025, 6, 11), MENTOR)
    await end_of_program(engine, runtime, clock, pairing_id)

    clock.set(NEXT_JANUARY)
    body = slack.admin(ADMIN_ID, f"summary {LAST_YEAR}").json()
    seen = (body.get("text") or "") + "\n" + block_texts(body.get("blocks") or [])
    assert "this month" not in seen and "days left" not in seen, seen


async def test_pairing_by_hand_in_a_program_that_ended_is_not_promised_an_intro(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """With two programs, the coordinator pairs a mentor and a waitlisted mentee in last year's (ended)
    program: she is told "They'll be introduced shortly" and no intro ever comes; it should be refused."""
    program, pairing_id = last_years_pair(engine, emulator, clock)
    late = "U0YRLATE1"
    emulator.add_user(late, name="late", tz=LA)
    with session_scope(engine, write=True) as session:
        person(session, late, LA)
        enroll(session, session.get(Program, program.id), late, "mentee", status="waitlisted")
    await introduce_and_run(engine, runtime, pairing_id)
    await end_of_program(engine, runtime, clock, pairing_id)
    clock.set(NEXT_JANUARY)
    make_program(engine, **NEXT_PROGRAM)

    text = slack.admin(ADMIN_ID, f"pair <@{MENTOR}|m> <@{late}|l> {LAST_YEAR}").json().get("text", "")
    clock.set(datetime(2026, 1, 20, 18, 5, tzinfo=UTC))
    await tick(runtime)
    with session_scope(engine) as session:
        intros = [d for d in session.exec(select(Delivery).where(Delivery.kind == "intro"))]
    live = [p for p in pairings_in(engine, LAST_YEAR) if p.status in ("proposed", "introduced", "active")]
    assert live == [] and "ended" in text, (
        f"told {text!r}; {len(live)} pairing(s) left waiting in the ended program, "
        f"{len(intros) - 1} intro(s) sent for them"
    )


# -- the next cohort ----------------------------------------------------------------------------------------
def test_last_years_rematched_pair_is_not_proposed_again(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Last year the mentee asked for a rematch ("our schedules never line up") and the coordinator dissolved the
    pair; this year both apply again and `match preview` proposes the same two people; it should not."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user(MENTOR, name="morgan", tz=LA)
    emulator.add_user(MENTEE, name="dana", tz=LA)
    mentor_answers = {"role": "mentor", "years_experience": "12", "capacity": "1", "organization": "Hill USD"}
    join(slack, emulator, MENTOR, "join mentor", **mentor_answers)
    join(slack, emulator, MENTEE, "join mentee")
    slack.admin(ADMIN_ID, f"pair <@{MENTOR}|morgan> <@{MENTEE}|dana>")
    clock.set(datetime(2025, 3, 20, 18, tzinfo=UTC))
    said = slack.mentor(MENTEE, "rematch our schedules never line up").json()["text"]
    assert "coordinators will follow up" in said
    alert = [m for m in emulator.messages_in(ADMIN_CHANNEL) if "rematch" in m.get("text", "")][-1]
    dissolve = button(alert, "shelfmate_dissolve_pair")
    slack.block_action(ADMIN_ID, dissolve["action_id"], dissolve["value"], channel_id=ADMIN_CHANNEL)
    wait_for(lambda: [p.status for p in pairings_in(engine, LAST_YEAR)] == ["dissolved"])

    clock.set(NEXT_JANUARY)
    make_program(engine, **NEXT_PROGRAM)
    for user, text, answers in ((MENTOR, "join mentor", mentor_answers), (MENTEE, "join mentee", {})):
        response = join(slack, emulator, user, text, **answers)
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    slack.admin(ADMIN_ID, f"match preview {THIS_YEAR}")
    wait_for(lambda: "proposed" in (emulator.responses_to(slack.last_response_url) or [{}])[-1].get("text", ""))
    with session_scope(engine) as session:
        person_of = {e.id: e.person_id for e in session.exec(select(Enrollment))}
    again = [
        p for p in pairings_in(engine, THIS_YEAR)
        if (person_of[p.mentor_enrollment_id], person_of[p.mentee_enrollment_id]) == (MENTOR, MENTEE)
    ]  # fmt: skip
    assert again == [], "the pair dissolved last year after a rematch request was proposed again"


def test_a_returning_mentee_finds_last_years_answers_in_the_join_form(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A mentee from last year opens `/mentor join` for the new cohort and gets an empty form: she retypes
    everything, and the supervisor she asked not to be paired with is silently dropped; the form should start
    from last year's answers."""
    make_program(engine)
    boss = "U0YRBOSS1"
    for uid in (MENTEE, boss):
        emulator.add_user(uid, name=uid.lower(), tz=LA)
    response = join(slack, emulator, MENTEE, "join mentee", organization="Neighbouring USD", not_with=[boss])
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text

    clock.set(NEXT_JANUARY)
    make_program(engine, **NEXT_PROGRAM)
    emulator.reset_calls()
    slack.mentor(MENTEE, "join mentee")
    view = opened_view(emulator)
    assert THIS_YEAR in json.dumps(view), "the form is not for the new program"
    elements = {b["block_id"]: b.get("element", {}) for b in view["blocks"] if b.get("block_id")}
    assert elements["organization"].get("initial_value") == "Neighbouring USD", elements["organization"]
    assert elements["not_with"].get("initial_users") == [boss], elements["not_with"]


def test_a_programs_own_coordinator_can_run_the_next_program_she_creates(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """The school program's own coordinator (not a workspace-wide admin) creates next year's program with
    `/mentor-admin program create`, is told it is saved, and is then refused on it ("that's for program
    coordinators"); she should coordinate the program she created."""
    coordinator = "U0SCHOOLC1"
    emulator.add_user(coordinator, name="sasha", real_name="Sasha School-Coordinator", tz=LA)
    emulator.add_channel(ADMIN_CHANNEL, "school-admins", members=[coordinator])
    make_program(engine, name="School Librarians 2025", admins=coordinator)
    clock.set(datetime(2025, 11, 3, 18, tzinfo=UTC))

    slack.admin(coordinator, "program create")
    view = opened_view(emulator)
    form = program_form(**(NEXT_PROGRAM | {"name": "School Librarians 2026", "admin_channel": ADMIN_CHANNEL}))
    response = slack.view_submission(coordinator, view["callback_id"], form, private_metadata=view["private_metadata"])
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    wait_for(lambda: [m for m in emulator.messages_in(coordinator) if "Saved" in m.get("text", "")])

    text = slack.admin(coordinator, "match preview School Librarians 2026").json().get("text", "")
    assert "for program coordinators" not in text, text

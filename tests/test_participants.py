"""The participant's side, end to end: signed requests in, rows stored and Slack calls recorded out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.services import enrollment as enrollment_service
from storage.engine import session_scope
from storage.models import CheckIn, Enrollment, Pairing, Person
from tests.app_server import AppServer
from tests.factories import block_texts, intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator

LIB = "U0LIB0001"
MENTOR = "U0MENTOR1"


def enrollments(engine: Engine) -> list[Enrollment]:
    with session_scope(engine) as session:
        return list(session.exec(select(Enrollment).order_by(Enrollment.id)))


def opened_view(emulator: SlackEmulator, after: int = 0) -> dict[str, Any]:
    """The newest modal opened, once more than `after` have been (an earlier one must not stand in for it)."""
    wait_for(lambda: len(emulator.calls_to("views.open")) > after)
    return emulator.calls_to("views.open")[-1].arg("view")


@pytest.fixture
def program(engine: Engine) -> Any:
    return make_program(engine)


@pytest.fixture
def librarian(emulator: SlackEmulator) -> str:
    emulator.add_user(LIB, name="dana", real_name="Dana Reyes", tz="America/Los_Angeles", tz_offset=-28800)
    return LIB


def join(slack: SlackDriver, emulator: SlackEmulator, user: str, text: str = "join mentee", **state: Any) -> Any:
    emulator.reset_calls()
    assert slack.mentor(user, text).status_code == 200
    view = opened_view(emulator)
    return slack.view_submission(
        user, view["callback_id"], intake_state(**state), private_metadata=view["private_metadata"]
    )


def test_the_whole_journey_join_status_edit_pause_resume_leave(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str, clock: FixedClock
) -> None:
    # join: the modal opens within the request, with no program picker when only one program is open
    response = slack.mentor(librarian, "join mentee")
    assert response.status_code == 200
    view = opened_view(emulator)
    block_ids = [b.get("block_id") for b in view["blocks"]]
    assert "program_id" not in block_ids
    assert {"role", "library_type", "organization", "specializations", "years_experience", "not_with"} <= set(block_ids)
    assert emulator.calls_to("users.info")[0].arg("user") == librarian

    submitted = slack.view_submission(
        librarian, view["callback_id"], intake_state(), private_metadata=view["private_metadata"]
    )
    assert submitted.status_code == 200
    assert submitted.content in (b"", b"{}")
    [row] = enrollments(engine)
    assert (row.person_id, row.role, row.status, row.organization) == (
        librarian,
        "mentee",
        "applied",
        "Riverside Unified",
    )
    assert row.specializations == ["collection_development", "school_instruction"]
    dm = wait_for(lambda: emulator.messages_in(librarian))
    assert "Thanks for applying" in dm[-1]["text"]
    assert "PLSEP Mentorship 2025" in block_texts(dm[-1]["blocks"])
    with session_scope(engine) as session:
        person = session.get(Person, librarian)
        assert person is not None and person.timezone == "America/Los_Angeles" and person.display_name

    # status
    body = slack.mentor(librarian, "status").json()
    assert body["response_type"] == "ephemeral"
    assert "PLSEP Mentorship 2025" in block_texts(body["blocks"])
    assert "Mentee · Applied" in block_texts(body["blocks"])

    # profile: the same modal, prefilled; saving updates the same row
    emulator.reset_calls()
    slack.mentor(librarian, "profile")
    edit_view = opened_view(emulator)
    assert "Riverside Unified" in json.dumps(edit_view)
    slack.view_submission(
        librarian,
        edit_view["callback_id"],
        intake_state(role=None, organization="Riverside County Office of Education"),
        private_metadata=edit_view["private_metadata"],
        view_hash="changed.1",
    )
    [row] = enrollments(engine)
    assert row.organization == "Riverside County Office of Education"
    wait_for(lambda: any("Your profile is updated" in m["text"] for m in emulator.messages_in(librarian)))

    # pause with a date, then resume
    body = slack.mentor(librarian, "pause until 2025-02-10").json()
    assert "Paused until Feb 10, 2025" in body["text"]
    [row] = enrollments(engine)
    assert (row.status, row.paused_until) == ("paused", date(2025, 2, 10))
    body = slack.mentor(librarian, "resume").json()
    assert "Welcome back" in body["text"]
    [row] = enrollments(engine)
    assert (row.status, row.paused_until) == ("applied", None)

    # leave: a confirmation step, then withdrawn and erased
    body = slack.mentor(librarian, "leave").json()
    assert "Leave mentoring?" in block_texts(body["blocks"])
    assert enrollments(engine)[0].status == "applied"
    slack.block_action(librarian, "shelfmate_leave_confirm", "leave", channel_id="C0GENERAL")
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "You've left mentoring" in replies[-1]["text"]
    [row] = enrollments(engine)
    assert (row.status, row.organization, row.goals, row.specializations, row.library_type, row.meeting_format) == (
        "withdrawn",
        "",
        "",
        [],
        "",
        "any",
    )
    # A repeat of the confirmation is told the same; a leave long after is told there is nothing to leave.
    slack.block_action(librarian, "shelfmate_leave_confirm", "leave", channel_id="C0GENERAL")
    assert "You've left mentoring" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    clock.advance(days=30)
    slack.block_action(librarian, "shelfmate_leave_confirm", "leave", channel_id="C0GENERAL")
    later = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert "nothing to leave" in later


def test_double_submit_and_slack_retry_create_one_enrollment_and_one_confirmation(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str
) -> None:
    slack.mentor(librarian, "join")
    view = opened_view(emulator)
    for retry in (None, None, 1, 2):
        response = slack.view_submission(
            librarian,
            view["callback_id"],
            intake_state(role="mentor", years_experience="8", capacity="2"),
            private_metadata=view["private_metadata"],
            retry_num=retry,
        )
        assert response.status_code == 200
    assert len(enrollments(engine)) == 1
    time.sleep(0.3)
    assert len(emulator.calls_to("chat.postMessage")) == 1


def test_invalid_answers_come_back_as_inline_errors_and_store_nothing(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str
) -> None:
    response = join(slack, emulator, librarian, "join mentor", role="mentor", years_experience="2", specializations=[])
    body = response.json()
    assert body["response_action"] == "errors"
    assert "at least 3 years" in body["errors"]["years_experience"]
    assert "specializations" in body["errors"]
    assert enrollments(engine) == []


@pytest.mark.parametrize("years", ["²", "١٢", "1e3", "-1", "12345", " "])
def test_odd_numbers_are_inline_errors_not_failures(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str, years: str
) -> None:
    response = join(slack, emulator, librarian, years_experience=years)
    assert response.status_code == 200
    assert "years_experience" in response.json()["errors"]
    assert enrollments(engine) == []


def test_one_person_can_be_mentor_and_mentee(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str
) -> None:
    join(slack, emulator, librarian, "join mentee")
    join(slack, emulator, librarian, "join mentor", role="mentor", years_experience="6", capacity="1")
    assert sorted(e.role for e in enrollments(engine)) == ["mentee", "mentor"]
    status = block_texts(slack.mentor(librarian, "status").json()["blocks"])
    assert "Mentor · Applied" in status and "Mentee · Applied" in status


def test_joining_after_the_deadline_is_refused_with_the_date(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str, clock: FixedClock
) -> None:
    # 11:59 PM on Feb 17 in Los Angeles is still open; a minute later it is closed.
    clock.set(datetime(2025, 2, 18, 7, 59, 30, tzinfo=UTC))
    slack.mentor(librarian, "join")
    assert opened_view(emulator)
    emulator.reset_calls()
    clock.set(datetime(2025, 2, 18, 8, 0, 30, tzinfo=UTC))
    slack.mentor(librarian, "join")
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "closed on Feb 17, 2025 at 11:59 PM" in replies[-1]["text"]
    assert emulator.calls_to("views.open") == []


def test_allowlist_and_channel_eligibility(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, librarian: str
) -> None:
    make_program(engine, eligibility="allowlist", eligibility_allowlist="U0SOMEONE")
    slack.mentor(librarian, "join")
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "invited participants only" in replies[-1]["text"]

    make_program(engine, name="Channel program", eligibility="channel", eligibility_channel="C0PLSEP01")
    emulator.add_channel("C0PLSEP01", "plsep-participants", members=[librarian])
    emulator.reset_calls()
    slack.mentor(librarian, "join")
    view = opened_view(emulator)
    assert "Channel program" in json.dumps(view)
    assert "program_id" not in [b.get("block_id") for b in view["blocks"]]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({"is_bot": True}, "Bots can't join"), ({"is_restricted": True}, "Guest accounts can't join")],
)
def test_bots_and_guests_cannot_enroll(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, flags: dict, expected: str
) -> None:
    emulator.add_user("U0ODD0001", name="odd", **flags)
    slack.mentor("U0ODD0001", "join")
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert expected in replies[-1]["text"]
    assert enrollments(engine) == []


def test_guests_may_join_a_program_that_allows_them(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine, allow_guests="yes")
    emulator.add_user("U0GUEST01", name="guest", is_restricted=True)
    slack.mentor("U0GUEST01", "join")
    assert opened_view(emulator)["callback_id"] == "shelfmate_intake"


def test_home_tab_shows_enrollments_and_buttons(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str
) -> None:
    assert slack.app_home_opened(librarian).status_code == 200
    home = wait_for(lambda: emulator.home_view(librarian))
    actions = [e["action_id"] for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["shelfmate_join"]

    join(slack, emulator, librarian)
    slack.app_home_opened(librarian)
    home = wait_for(lambda: (h := emulator.home_view(librarian)) and "PLSEP" in json.dumps(h) and h)
    actions = [e["action_id"] for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["shelfmate_join", "shelfmate_edit_profile", "shelfmate_pause"]

    slack.block_action(librarian, "shelfmate_pause", "pause", view=home)
    wait_for(lambda: enrollments(engine)[0].status == "paused")
    home = wait_for(lambda: (h := emulator.home_view(librarian)) and "Resume" in json.dumps(h) and h)
    assert "Paused" in block_texts(home["blocks"])


def test_leaving_dissolves_the_pairing_tells_the_partner_and_the_admins(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str
) -> None:
    emulator.add_user(MENTOR, name="morgan")
    emulator.add_channel("C0ADMINS01", "plsep-admins", members=[])
    join(slack, emulator, librarian)
    join(slack, emulator, MENTOR, "join mentor", role="mentor", years_experience="9", capacity="2")
    mentee, mentor = enrollments(engine)
    with session_scope(engine, write=True) as session:
        pairing = Pairing(
            program_id=program.id,
            mentor_enrollment_id=mentor.id,
            mentee_enrollment_id=mentee.id,
            status="active",
            score=80,
        )
        session.add(pairing)
        session.flush()
        session.add(
            CheckIn(
                pairing_id=pairing.id,
                logged_by=librarian,
                met_on=date(2025, 3, 5),
                duration_minutes=45,
                private_note="Talked about my principal",
                idempotency_key="k1",
            )
        )
    slack.block_action(librarian, "shelfmate_leave_confirm", "leave")
    wait_for(lambda: emulator.messages_in("C0ADMINS01"))
    with session_scope(engine) as session:
        stored = session.exec(select(Pairing)).one()
        note = session.exec(select(CheckIn)).one().private_note
    assert stored.status == "dissolved"
    assert note is None
    partner_dm = [m["text"] for m in emulator.messages_in(MENTOR)]
    assert any("has had to leave the program" in text for text in partner_dm)
    assert "dissolved" in emulator.messages_in("C0ADMINS01")[-1]["text"]


@pytest.mark.parametrize("text", ["pause until someday", "pause 2025-13-01", "pause until 2025-01-01", "join teacher"])
def test_bad_arguments_get_a_helpful_ephemeral_answer(
    slack: SlackDriver, program: Any, librarian: str, engine: Engine, text: str
) -> None:
    if "2025-01-01" in text:  # a date in the past needs an enrollment to get that far
        with session_scope(engine, write=True) as session:
            session.add(Person(slack_user_id=librarian))
            session.flush()
            session.add(Enrollment(program_id=program.id, person_id=librarian, role="mentee"))
    response = slack.mentor(librarian, text)
    assert response.status_code == 200
    body = response.json()
    assert body.get("text")
    assert "Traceback" not in json.dumps(body)


def test_profile_is_read_from_slack_once_a_day_and_refreshed_when_stale(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str, clock: FixedClock
) -> None:
    start = clock.now()
    emulator.reset_calls()
    for hours_later, expected_lookups in ((0, 1), (2, 1), (25, 2)):
        clock.set(start + timedelta(hours=hours_later))
        opened = len(emulator.calls_to("views.open"))
        slack.mentor(librarian, "join")
        opened_view(emulator, after=opened)
        assert len(emulator.calls_to("users.info")) == expected_lookups, hours_later
    emulator.add_user(LIB, name="dana", real_name="Dana Reyes-Ortiz", tz="America/New_York", tz_offset=-18000)
    clock.set(start + timedelta(hours=50))
    opened = len(emulator.calls_to("views.open"))
    slack.mentor(librarian, "join")
    opened_view(emulator, after=opened)
    with session_scope(engine) as session:
        person = session.get(Person, librarian)
        assert (person.display_name, person.timezone) == ("Dana Reyes-Ortiz", "America/New_York")


def test_an_application_submitted_before_the_profile_fetch_lands_is_still_saved(
    slack: SlackDriver, engine: Engine, program: Any
) -> None:
    response = slack.view_submission(
        "U0FASTONE", "shelfmate_intake", intake_state(), private_metadata=json.dumps({"program_id": program.id})
    )
    assert (response.status_code, response.content) == (200, b"")
    [row] = enrollments(engine)
    assert row.person_id == "U0FASTONE"


def open_channel_program_intake(slack: SlackDriver, emulator: SlackEmulator, engine: Engine, librarian: str) -> Any:
    """The intake modal of a program open to one channel's members, the librarian among them."""
    make_program(engine, name="Channel program", eligibility="channel", eligibility_channel="C0PLSEP01")
    emulator.add_channel("C0PLSEP01", "plsep-participants", members=[librarian])
    slack.mentor(librarian, "join mentee")
    return opened_view(emulator)


@pytest.mark.parametrize(
    ("slack_error", "told", "pressing_again_helps"),
    [("internal_error", "Please press Apply again", True), ("channel_not_found", "program coordinator", False)],
)
def test_an_application_slack_cannot_check_quickly_stays_open_with_the_reason(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    librarian: str,
    slack_error: str,
    told: str,
    pressing_again_helps: bool,
) -> None:
    """Within Slack's 3 s the modal is still open: the person's answers stay in it. A passing fault is
    retried with one press; a channel Shelfmate cannot read (archived, bot removed) needs the coordinator."""
    view = open_channel_program_intake(slack, emulator, engine, librarian)
    emulator.fail("conversations.members", error=slack_error)

    def submit() -> Any:
        return slack.view_submission(
            librarian, view["callback_id"], intake_state(), private_metadata=view["private_metadata"]
        )

    response = submit()
    assert response.json()["response_action"] == "errors"
    shown = " ".join(response.json()["errors"].values())
    assert told in shown and ("press Apply" in shown) == pressing_again_helps
    assert enrollments(engine) == []
    if pressing_again_helps:
        assert (submit().status_code, enrollments(engine)[0].person_id) == (200, librarian)


def test_a_failure_after_the_modal_closed_is_still_told_by_dm(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, librarian: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom: disk full")

    view = open_channel_program_intake(slack, emulator, engine, librarian)
    emulator.set_delay("conversations.members", 3.5)  # the modal closes at 2 s, before the save fails
    monkeypatch.setattr(enrollment_service, "apply", broken)
    submitted = slack.view_submission(
        librarian, view["callback_id"], intake_state(), private_metadata=view["private_metadata"]
    )
    assert (submitted.status_code, submitted.content) == (200, b"")
    [dm] = wait_for(lambda: emulator.messages_in(librarian), timeout=10)
    text = block_texts(dm["blocks"])
    assert "was not saved" in dm["text"] and "went wrong on our side" in text and "boom" not in text


def test_answers_to_fix_are_shown_at_once_even_when_slack_is_slow_to_say_who_may_join(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, librarian: str
) -> None:
    view = open_channel_program_intake(slack, emulator, engine, librarian)
    emulator.set_delay("conversations.members", 3.5)
    emulator.reset_calls()
    response = slack.view_submission(
        librarian, view["callback_id"], intake_state(years_experience="many"), private_metadata=view["private_metadata"]
    )
    assert "years_experience" in response.json()["errors"]
    assert emulator.calls_to("conversations.members") == []


def test_an_application_that_queued_before_its_listener_ran_is_still_answered_in_time(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, librarian: str, app_server: AppServer
) -> None:
    """Slack's 3 s run from when it sent the request, not from when the listener starts: under load a
    request waits first. Here it waits 1.8 s and Slack then takes 1.5 s to list the channel's members, so
    an answer that waited for the check would come at 3.3 s, too late; the modal closes and the DM tells."""
    view = open_channel_program_intake(slack, emulator, engine, librarian)
    emulator.add_channel("C0PLSEP01", "plsep-participants", members=["U0SOMEONE"])  # left while filling in

    async def busy_server(body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        if body.get("type") == "view_submission":
            await asyncio.sleep(1.8)
        return await next()

    app_server.bolt_app.middleware(busy_server)
    emulator.set_delay("conversations.members", 1.5)
    submitted = slack.view_submission(
        librarian, view["callback_id"], intake_state(), private_metadata=view["private_metadata"]
    )
    assert (submitted.status_code, submitted.content) == (200, b"")
    [dm] = wait_for(lambda: emulator.messages_in(librarian), timeout=10)
    assert "was not saved" in dm["text"] and "is open to members of <#C0PLSEP01>" in block_texts(dm["blocks"])
    assert enrollments(engine) == []


@pytest.mark.parametrize("case", ["member", "left the channel", "slack failed"])
def test_an_application_whose_checks_outlast_slacks_3_seconds_is_answered_in_time_and_then_by_dm(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, librarian: str, case: str
) -> None:
    """The eligibility check asks Slack for the channel's members; when Slack is slow, the modal must still be
    answered within Slack's 3 s (Bolt answers 404 after that, and Slack shows the person an error). The
    modal has closed by then, so the DM must not ask the person to press its button again."""
    view = open_channel_program_intake(slack, emulator, engine, librarian)
    if case == "left the channel":  # while filling in the form
        emulator.add_channel("C0PLSEP01", "plsep-participants", members=["U0SOMEONE"])
    if case == "slack failed":
        emulator.fail("conversations.members", error="internal_error", delay=3.5)
    else:
        emulator.set_delay("conversations.members", 3.5)
    submitted = slack.view_submission(
        librarian, view["callback_id"], intake_state(), private_metadata=view["private_metadata"]
    )
    assert submitted.status_code == 200
    dm = wait_for(lambda: emulator.messages_in(librarian), timeout=10)
    if case == "member":
        assert "Thanks for applying" in dm[-1]["text"]
        assert [(row.person_id, row.status) for row in enrollments(engine)] == [(librarian, "applied")]
        return
    text = block_texts(dm[-1]["blocks"])
    assert "was not saved" in dm[-1]["text"] and "`/mentor join` to try again" in text
    assert "press Apply" not in text
    if case == "left the channel":
        assert "is open to members of <#C0PLSEP01>" in text
    else:
        assert "Slack didn't answer in time" in text
    assert enrollments(engine) == []


def test_a_dated_pause_ends_when_that_day_begins_where_the_librarian_is(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program: Any, librarian: str, clock: FixedClock
) -> None:
    """`pause until Feb 10` in Los Angeles: still paused on the evening of Feb 9 there (already Feb 10 in UTC),
    back in the program once Feb 10 begins in Los Angeles."""
    join(slack, emulator, librarian)
    slack.mentor(librarian, "pause until 2025-02-10")
    with session_scope(engine, write=True) as session:
        lifted = enrollment_service.end_due_pauses(session, datetime(2025, 2, 10, 2, 0, tzinfo=UTC))  # Feb 9, 6 PM
    assert lifted == [] and enrollments(engine)[0].status == "paused"
    with session_scope(engine, write=True) as session:
        lifted = enrollment_service.end_due_pauses(session, datetime(2025, 2, 10, 8, 30, tzinfo=UTC))  # 0:30 AM
    [row] = enrollments(engine)
    assert len(lifted) == 1 and (row.status, row.paused_until) == ("applied", None)
    assert row.pause_history[-1][1] == "2025-02-09"  # excused through the last day of the pause, local time


def test_a_new_application_starts_from_the_latest_answers_and_takes_capacity_only_from_a_mentor(engine: Engine) -> None:
    """The join form copies the newest enrollment (any program, any role); capacity comes from a mentor one,
    and an application erased by leaving offers nothing."""
    last_year = make_program(engine)
    this_year = make_program(engine, name="PLSEP Mentorship 2026", starts_on="2026-03-01", ends_on="2026-06-30")
    with session_scope(engine, write=True) as session:
        session.add(Person(slack_user_id="U0RETURN1", display_name="returning"))
        session.add(Person(slack_user_id="U0LEFT001", display_name="left"))
        session.flush()
        session.add_all([
            Enrollment(program_id=last_year.id, person_id="U0RETURN1", role="mentor", library_type="public",
                       organization="County Library", specializations=["reference"], years_experience=8,
                       capacity=3, updated_at=datetime(2025, 2, 1, tzinfo=UTC)),
            Enrollment(program_id=last_year.id, person_id="U0RETURN1", role="mentee", library_type="school",
                       organization="Hill USD", region="Valley", specializations=["school_instruction"],
                       years_experience=9, grade_levels=["middle"], meeting_format="phone", goals="Lead a team",
                       not_with=["U0BOSS001"], updated_at=datetime(2025, 2, 10, tzinfo=UTC)),
            Enrollment(program_id=last_year.id, person_id="U0LEFT001", role="mentee", status="withdrawn"),
        ])  # fmt: skip
    with session_scope(engine) as session:
        as_mentor = enrollment_service.join_prefill(session, "U0RETURN1", "mentor", this_year.id)
        as_mentee = enrollment_service.join_prefill(session, "U0RETURN1", "mentee", this_year.id)
        left = enrollment_service.join_prefill(session, "U0LEFT001", "mentee", this_year.id)
    answers = as_mentor.answers
    assert (answers.role, answers.program_id, answers.organization, answers.region) == (
        "mentor", this_year.id, "Hill USD", "Valley"
    )  # fmt: skip
    assert (answers.library_type, answers.grade_levels, answers.meeting_format, answers.goals) == (
        "school", ["middle"], "phone", "Lead a team"
    )  # fmt: skip
    assert (answers.years_experience, answers.specializations, answers.not_with) == (
        "9",
        ["school_instruction"],
        ["U0BOSS001"],
    )
    assert answers.capacity == "3" and as_mentee.answers.capacity == ""
    assert (as_mentor.source_role, as_mentor.source_program) == ("mentee", "PLSEP Mentorship 2025")
    assert left.source_role is None and left.answers.organization == "" and left.answers.program_id == this_year.id

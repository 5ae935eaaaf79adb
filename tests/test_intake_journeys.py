"""Joining and matching as librarians and coordinators meet them, as found in a product review: each test is a
bug they would have noticed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from storage.engine import session_scope
from storage.models import Enrollment, Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join, opened_view

ADMIN_CHANNEL = "C0ADMINS01"


def rows(engine: Engine, model: Any) -> list[Any]:
    with session_scope(engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


def preview_message(slack: SlackDriver, emulator: SlackEmulator) -> str:
    before = len(emulator.messages_in(ADMIN_CHANNEL))
    slack.admin(ADMIN_ID, "match preview")
    posted = wait_for(lambda: emulator.messages_in(ADMIN_CHANNEL)[before:])
    return block_texts(posted[-1].get("blocks") or []) + "\n" + posted[-1].get("text", "")


def join_program(
    slack: SlackDriver, emulator: SlackEmulator, user: str, text: str, program_id: int, **state: Any
) -> Any:
    """Join through the modal with the program picker (several programs open)."""
    emulator.reset_calls()
    assert slack.mentor(user, text).status_code == 200
    view = opened_view(emulator)
    assert "program_id" in [b.get("block_id") for b in view["blocks"]]
    return slack.view_submission(
        user,
        view["callback_id"],
        intake_state(program_id=program_id, **state),
        private_metadata=view["private_metadata"],
        view_hash=f"{user}.{program_id}.{text}",
    )


# -- matching explanations --------------------------------------------------------------------------------
def test_preview_tells_the_coordinator_when_the_mentor_coaches_none_of_what_the_mentee_seeks(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A proposal whose mentor offers none of the specializations the mentee seeks shows that concern in the
    preview, not only its strengths."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user("U0MENTORA", name="mentor-a")
    emulator.add_user("U0MENTEE1", name="mentee-1")
    join(
        slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10",
        specializations=["youth_services"], capacity="1", organization="Valley USD",
    )  # fmt: skip
    join(slack, emulator, "U0MENTEE1", "join mentee", specializations=["cataloging"])
    shown = preview_message(slack, emulator)
    [pairing] = rows(engine, Pairing)
    assert any("offers none of the specializations" in r.lower() for r in pairing.reasons), pairing.reasons
    assert "offers none of the specializations" in shown.lower(), shown


# -- waitlist reasons ---------------------------------------------------------------------------------------
def test_waitlist_reason_does_not_claim_no_mentors_enrolled_when_the_mentors_are_paused(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """With the only mentor paused, the waitlist reason says the enrolled mentor is paused, not that no mentors
    are enrolled."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user("U0MENTORA", name="mentor-a")
    emulator.add_user("U0MENTEE1", name="mentee-1")
    join(
        slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10",
        capacity="1", organization="Valley USD",
    )  # fmt: skip
    assert "Paused" in slack.mentor("U0MENTORA", "pause").json()["text"]
    join(slack, emulator, "U0MENTEE1", "join mentee")
    shown = preview_message(slack, emulator)
    mentee = next(e for e in rows(engine, Enrollment) if e.person_id == "U0MENTEE1")
    assert mentee.status == "waitlisted"
    assert "No mentors are enrolled" not in (mentee.waitlist_reason or ""), mentee.waitlist_reason
    assert "No mentors are enrolled" not in shown


# -- neighbouring organizations ----------------------------------------------------------------------------
def test_neighbouring_organizations_are_preferred_as_the_program_form_says(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """The program form's "Neighbouring organizations (preferred)" list counts even when "Different
    organizations?" is left at "No rule": a mentor from a listed neighbour gets credit and a reason."""
    make_program(engine, neighbor_orgs="Valley USD, Hill USD")
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user("U0MENTORA", name="mentor-a")
    emulator.add_user("U0MENTEE1", name="mentee-1")
    join(
        slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10",
        capacity="1", organization="Valley USD",
    )  # fmt: skip
    join(slack, emulator, "U0MENTEE1", "join mentee", organization="Tiny Rural Elementary SD")
    preview_message(slack, emulator)
    [pairing] = rows(engine, Pairing)
    assert any("neighbo" in r.lower() for r in pairing.reasons), pairing.reasons


# -- two programs open at once ------------------------------------------------------------------------------
def test_a_librarian_in_two_programs_can_edit_the_profile_of_each(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A mentee in two programs is asked which profile to edit, and reaches the first program's form, not
    always the most recently saved one."""
    first = make_program(engine)
    second = make_program(engine, name="School Librarians 2025")
    emulator.add_user("U0LIB0001", name="dana")
    join_program(slack, emulator, "U0LIB0001", "join mentee", first.id)
    clock.advance(hours=1)
    join_program(slack, emulator, "U0LIB0001", "join mentee", second.id)
    assert len(rows(engine, Enrollment)) == 2

    emulator.reset_calls()
    choice = slack.mentor("U0LIB0001", "profile mentee")
    asked = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]
    buttons = next(b for b in asked["blocks"] if b["type"] == "actions")["elements"]
    assert choice.status_code == 200 and len(buttons) == 2
    plsep = next(b for b in buttons if "PLSEP Mentorship 2025" in b["text"]["text"])
    slack.block_action("U0LIB0001", plsep["action_id"], plsep["value"])
    edit = opened_view(emulator)
    assert "PLSEP Mentorship 2025" in json.dumps(edit), block_texts(edit["blocks"])


def test_join_is_not_blocked_by_another_programs_unreadable_eligibility_channel(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A second program limited to a channel Shelfmate cannot read does not stop anyone joining the open
    program: the join form opens, with no "Slack didn't answer" error."""
    make_program(engine)
    make_program(engine, name="Channel only 2025", eligibility="channel", eligibility_channel="C0GONE001")
    emulator.add_user("U0LIB0001", name="dana")
    emulator.reset_calls()
    slack.mentor("U0LIB0001", "join")
    wait_for(lambda: emulator.calls_to("views.open") or emulator.responses_to(slack.last_response_url))
    replies = [r.get("text", "") for r in emulator.responses_to(slack.last_response_url)]
    assert not any("Slack didn't answer in time" in r for r in replies), replies
    assert emulator.calls_to("views.open"), replies


def test_capacity_hint_names_the_default_of_the_program_the_mentor_joins(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """With two programs open (defaults 2 and 5), the capacity hint does not promise the first program's
    default to a mentor who joins the second."""
    make_program(engine, default_capacity="2")
    group = make_program(engine, name="Group mentoring 2025", default_capacity="5")
    emulator.add_user("U0MENTORA", name="mentor-a")
    emulator.reset_calls()
    slack.mentor("U0MENTORA", "join mentor")
    view = opened_view(emulator)
    [capacity] = [b for b in view["blocks"] if b.get("block_id") == "capacity"]
    hint = capacity.get("hint", {}).get("text", "")
    join_program(slack, emulator, "U0MENTORA", "join mentor", group.id, role="mentor", years_experience="9",
                 capacity=None)  # fmt: skip
    [enrollment] = rows(engine, Enrollment)
    assert enrollment.capacity == 5
    assert "(2)" not in hint, f"hint {hint!r}, but leaving it empty in {group.name} gave {enrollment.capacity}"
    assert rows(engine, Program)


# -- "people not to be paired with" stays private ------------------------------------------------------------
def test_a_waitlisted_mentee_is_not_told_that_a_mentor_declined_them(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A mentee waitlisted because a mentor listed them under "rather not be paired with" (a list only the
    coordinators' matching sees) is told only that they are waiting."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user("U0MENTORA", name="mentor-a")
    emulator.add_user("U0MENTEE1", name="mentee-1")
    join(
        slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10",
        capacity="2", organization="Valley USD", not_with=["U0MENTEE1"],
    )  # fmt: skip
    join(slack, emulator, "U0MENTEE1", "join mentee")
    clock.advance(days=40)  # Feb 24: applications closed, so the waitlist is final
    preview_message(slack, emulator)
    mentee = next(e for e in rows(engine, Enrollment) if e.person_id == "U0MENTEE1")
    assert mentee.status == "waitlisted"
    status = json.dumps(slack.mentor("U0MENTEE1", "status").json())
    assert "On the waitlist" in status
    assert "asked not to" not in status, status


def test_saving_a_profile_modal_after_leaving_does_not_rejoin_past_the_deadline(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A profile form left open while its owner left the program, saved after the deadline, is refused: it
    does not bring them back as a late applicant."""
    make_program(engine)
    emulator.add_user("U0LIB0001", name="dana")
    join(slack, emulator, "U0LIB0001", "join mentee")
    clock.advance(days=40)  # Feb 24: applications closed on Feb 17
    emulator.reset_calls()
    slack.mentor("U0LIB0001", "profile")
    edit = opened_view(emulator)
    slack.block_action("U0LIB0001", "shelfmate_leave_confirm", "leave", channel_id="C0GENERAL")
    wait_for(lambda: rows(engine, Enrollment)[0].status == "withdrawn")
    slack.view_submission(
        "U0LIB0001", edit["callback_id"], intake_state(role=None), private_metadata=edit["private_metadata"],
        view_hash="edit.after.leave",
    )  # fmt: skip
    [enrollment] = rows(engine, Enrollment)
    assert enrollment.status == "withdrawn", f"re-enrolled as {enrollment.status} after the deadline"

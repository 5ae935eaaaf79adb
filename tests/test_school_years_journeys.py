"""Years of experience in a school program, as found in a product review: the seed's ideal mentor has "at least
3-5 years of experience teaching in a school library", but the join form asked for plain "years of library
experience". A librarian of ten years in public libraries, one year into a school library, passed a school
program's 3-year minimum, and the preview told the coordinator she "has 10 years of experience". Each test is
something a school librarian or the district's coordinator would have noticed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from storage.models import Enrollment
from tests.conftest import ADMIN_ID
from tests.factories import make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_intake_journeys import preview_message, rows
from tests.test_participants import join, opened_view
from tests.test_programs_and_matching import program_modal_state

ADMIN_CHANNEL = "C0ADMINS01"
SCHOOL_PROGRAM = "Hillcrest USD School Librarians 2025"
NEW_SCHOOL_LIBRARIAN = "U0ELISCHL"  # ten years at the county library, one year in a school library
SEASONED_SCHOOL_LIBRARIAN = "U0DANASCH"
EDIT_FORM = {
    "name": SCHOOL_PROGRAM,
    "applications_open": "2025-01-06",
    "applications_close": "2025-02-17",
    "agreement_due": "2025-03-01",
    "starts_on": "2025-03-01",
    "ends_on": "2025-06-30",
    "default_cadence": "monthly",
    "default_capacity": "2",
    "eligibility": "open",
    "admin_channel": ADMIN_CHANNEL,
    "timezone": "America/Los_Angeles",
    "cross_org": "none",
    "admins": "",
}


def _school_program(engine: Engine, emulator: SlackEmulator) -> None:
    make_program(engine, name=SCHOOL_PROGRAM, min_mentor_years="3")
    emulator.add_channel(ADMIN_CHANNEL, "district-library-admins", members=[ADMIN_ID])
    emulator.add_user(NEW_SCHOOL_LIBRARIAN, name="eli", real_name="Eli Park", display_name="Eli")
    emulator.add_user(SEASONED_SCHOOL_LIBRARIAN, name="dana", real_name="Dana Reyes", display_name="Dana")


def _years_block(view: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == "years_experience")


def test_a_public_librarian_new_to_a_school_library_is_asked_for_school_years_and_matched_on_them(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Eli spent ten years at the county library and moved to a school library a year ago. The form asked for
    "years of library experience", so Eli would answer 10 and pass the school program's 3-year minimum as a
    mentor. The form should ask for years in the kind of library chosen, refuse 1 school year in those terms,
    and the coordinator's preview should say how many years the mentor has in school libraries."""
    _school_program(engine, emulator)

    assert slack.mentor(NEW_SCHOOL_LIBRARIAN, "join mentor").status_code == 200
    years = _years_block(opened_view(emulator))
    assert years["label"]["text"] == "Years working in this kind of library", years["label"]
    assert "school libraries only" in years.get("hint", {}).get("text", ""), years.get("hint")

    refused = join(
        slack, emulator, NEW_SCHOOL_LIBRARIAN, "join mentor", role="mentor", library_type="school",
        years_experience="1", capacity="1",
    )  # fmt: skip
    error = refused.json()["errors"]["years_experience"]
    assert error.startswith(f"Mentors in {SCHOOL_PROGRAM} need at least 3 years in school libraries"), error
    assert "welcome to join as a mentee" in error, error
    assert rows(engine, Enrollment) == []

    join(slack, emulator, NEW_SCHOOL_LIBRARIAN, "join mentee", library_type="school", years_experience="1")
    join(
        slack, emulator, SEASONED_SCHOOL_LIBRARIAN, "join mentor", role="mentor", library_type="school",
        years_experience="6", capacity="1", organization="Lakeview USD",
    )  # fmt: skip
    shown = preview_message(slack, emulator)
    assert "Dana has 6 years in school libraries, 5 more than Eli" in shown, shown
    assert "of experience" not in shown, shown


def test_the_waitlist_says_the_only_mentor_has_too_few_years_in_school_libraries(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Dana joined with 4 years in school libraries; the coordinator then raised the program's minimum to 5, as
    the seed's "3-5 years" allows. The waitlist should tell the coordinator why Eli waits in the same terms: the
    one mentor has under 5 years in school libraries."""
    _school_program(engine, emulator)
    join(
        slack, emulator, SEASONED_SCHOOL_LIBRARIAN, "join mentor", role="mentor", library_type="school",
        years_experience="4", capacity="1", organization="Lakeview USD",
    )  # fmt: skip
    join(slack, emulator, NEW_SCHOOL_LIBRARIAN, "join mentee", library_type="school", years_experience="1")

    emulator.reset_calls()
    slack.admin(ADMIN_ID, f"program edit {SCHOOL_PROGRAM}")
    view = opened_view(emulator)
    form = program_modal_state(**EDIT_FORM, min_mentor_years="5")
    response = slack.view_submission(ADMIN_ID, view["callback_id"], form, private_metadata=view["private_metadata"])
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    wait_for(lambda: [m for m in emulator.messages_in(ADMIN_ID) if "Saved" in m.get("text", "")])

    shown = preview_message(slack, emulator)
    assert f"<@{NEW_SCHOOL_LIBRARIAN}>: No compatible mentor: 1 has under 5 years in school libraries" in shown, shown
    [eli] = [e for e in rows(engine, Enrollment) if e.person_id == NEW_SCHOOL_LIBRARIAN]
    assert eli.waitlist_reason == "No compatible mentor: 1 has under 5 years in school libraries", eli.waitlist_reason

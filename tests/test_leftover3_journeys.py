"""Leftovers from the reviews, third round: each test is something a librarian or a coordinator would have noticed.

1. A match preview run while applications were open marked the mentees it left out "Waitlisted" on their own
   status and Home tab, although the round was not decided; the coordinator's figures did not say it either.
2. The Home tab's agreed terms said "Chat outside work hours: no" without the hours, which a program sets.
3. A pair past its agreement date, asked to meet all the same, had no "met this month" line on the Home tab.
4. A display name or an answer typed with Slack markup (`<!channel>`, `<@U…>`, `&`) was quoted as mrkdwn.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from storage.engine import session_scope
from storage.models import Enrollment, EnrollmentStatus
from tests.conftest import ADMIN_ID
from tests.factories import shown_text, ticks_at
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_coordinator_review import (
    AFTER_THE_DEADLINE,
    LA,
    MENTEES,
    MENTORS,
    _admin_answer,
    _apply,
    _approve_all,
    _everyone_applies,
    _mentor_of,
    _pairings,
    _summary,
    statewide,  # noqa: F401  (a fixture)
)
from tests.test_leftover2_journeys import everything_said
from tests.test_librarian_journeys import checkin_state
from tests.test_scheduler import log_meeting, settle_agreement
from tests.test_school_librarian_review import _home_tab, _status
from tests.test_work_day_journeys import LIBRARIAN, MENTOR, at_la, school_program, work_hours_only_pair

# A third mentee seeking what both mentors' single places are wanted for: one of the three is left out.
HILL = "U0EHILL"


def _waitlisted_mentee(engine: Engine) -> str:
    with session_scope(engine) as session:
        [waiting] = session.exec(select(Enrollment).where(Enrollment.status == EnrollmentStatus.WAITLISTED))
        return waiting.person_id


# -- 1. an early preview's waitlist is a draft -------------------------------------------------------------------
@pytest.mark.usefixtures("statewide")
def test_a_preview_run_while_applications_are_open_does_not_tell_a_mentee_she_is_waitlisted(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """In mid-January the coordinator previewed the matches to see how the pool looked, a month before the
    Feb 17 deadline. The mentee it left out read "Waitlisted · On the waitlist: no mentor is free for you yet"
    on her status and Home tab, while more mentors could still apply and nothing was decided. She should read
    that matching happens after applications close on Feb 17; the coordinator's Home and summary say the
    waitlist is not final until then. After the deadline, once the round is decided, "Waitlisted" is right."""
    emulator.add_user(HILL, name="hill", real_name="Hill", tz=LA, tz_offset=-28800)
    _everyone_applies(slack, emulator)
    _apply(slack, emulator, HILL, "mentee", "Fresno County Public Library", ["youth_services", "reference"])
    _admin_answer(slack, emulator, "match preview")
    left_out = _waitlisted_mentee(engine)

    for shown in (_status(slack, left_out), _home_tab(slack, emulator, left_out)):
        assert "Waitlisted" not in shown and "On the waitlist" not in shown, shown
        assert "Matching starts after applications close on Feb 17, 2025" in shown, shown
    coordinator_home = _home_tab(slack, emulator, ADMIN_ID)
    assert "1 mentee on the waitlist (not final until applications close on Feb 17, 2025)" in coordinator_home, (
        coordinator_home
    )
    summary = _summary(slack)
    assert "not final until applications close on Feb 17, 2025" in summary, summary

    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    left_out = _waitlisted_mentee(engine)
    for shown in (_status(slack, left_out), _home_tab(slack, emulator, left_out)):
        assert "Waitlisted" in shown and "On the waitlist" in shown, shown
    coordinator_home = _home_tab(slack, emulator, ADMIN_ID)
    assert "1 mentee on the waitlist ·" in coordinator_home, coordinator_home
    assert "not final" not in _summary(slack)


# -- 2. the agreed terms name the program's hours -------------------------------------------------------------------
def test_the_agreed_terms_on_home_and_status_name_the_programs_work_hours(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """The district's work day is 7:30 AM - 3:30 PM. Marisol and Juniper agreed no chat outside work hours; the
    intro and the agreement form named those hours, but the Home tab and `/mentor status` said only "Chat outside
    work hours: no, work hours only", which a librarian reads as 9 to 5."""
    program = school_program(engine, emulator)
    work_hours_only_pair(engine, emulator, program)
    clock.set(at_la(date(2025, 10, 1), 10))

    for shown in (_home_tab(slack, emulator, LIBRARIAN), _status(slack, LIBRARIAN), _home_tab(slack, emulator, MENTOR)):
        assert "Chat outside work hours (7:30 AM - 3:30 PM on weekdays): no, work hours only" in shown, shown


# -- 3. a pair asked to meet before settling its agreement sees whether it met --------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_a_pair_past_its_agreement_date_sees_on_home_whether_it_met_this_month(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Brooks and Garcia let their Mar 1 agreement date pass: the schedule asks them to meet monthly all the
    same, nudges them and counts them as quiet. Their Home tab showed no meeting line at all, while a settled
    pair's said "met this month" or "not met yet": Garcia could not see that her March meeting counted."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)  # the introductions
    [pairing_id] = [p.id for p in _pairings(engine) if _mentor_of(engine, p) == "U0MBROOKS"]
    assert pairing_id is not None

    clock.set(datetime(2025, 3, 17, 17, 5, tzinfo=UTC))
    home = _home_tab(slack, emulator, "U0EGARCIA")
    assert "<@U0MBROOKS>: not met yet" in home, home
    log_meeting(engine, pairing_id, date(2025, 3, 12), "U0EGARCIA")
    for shown in (_home_tab(slack, emulator, "U0EGARCIA"), _status(slack, "U0MBROOKS")):
        assert "<@U0EGARCIA>: met this month (last on Mar 12, 2025)" in shown or (
            "<@U0MBROOKS>: met this month (last on Mar 12, 2025)" in shown
        ), shown


# -- 4. typed markup reads as typed -------------------------------------------------------------------------------
HOSTILE_NAME = "*Star* _x_ <!channel> & <@U0HACKED>"
HOSTILE_ORGANIZATION = "Kern <!here> & <@U0HACKED> Library"
HOSTILE_TOPIC = "Budget <!channel> & more"
HOSTILE_NOTE = "Call <@U0HACKED> <!here>"


@pytest.mark.usefixtures("statewide")
async def test_markup_typed_in_a_name_or_a_profile_never_pings_anyone(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Brooks set her Slack display name to one with markup, and Fox typed it into her organization. Whatever the
    bot posts (the application's thanks, the preview, the intro, the agreement, the summary, the digest, the Home
    tab) must show those words, not ping the channel or mention somebody else."""
    emulator.add_user("U0MBROOKS", name="brooks", real_name="Brooks", display_name=HOSTILE_NAME, tz=LA)
    for user, (organization, specs) in MENTORS.items():
        _apply(slack, emulator, user, "mentor", organization, specs)
    for user, (organization, specs) in MENTEES.items():
        _apply(slack, emulator, user, "mentee", HOSTILE_ORGANIZATION if user == "U0EFOX" else organization, specs)
    clock.set(AFTER_THE_DEADLINE)
    answers = [_admin_answer(slack, emulator, "match preview")]
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)  # the introductions
    for pairing in _pairings(engine):
        settle_agreement(engine, pairing.id, datetime(2025, 2, 25, 18, 0, tzinfo=UTC))
    await ticks_at(runtime, clock, datetime(2025, 3, 3, 17, 5, tzinfo=UTC), datetime(2025, 3, 10, 17, 5, tzinfo=UTC))
    answers.append(slack.admin(ADMIN_ID, "summary").json())
    for user in ("U0MBROOKS", "U0EFOX", "U0EGARCIA", ADMIN_ID):
        _home_tab(slack, emulator, user)
        answers.append(slack.mentor(user, "status").json())

    fox_pairing = next(p.id for p in _pairings(engine) if _mentor_of(engine, p) == "U0MALVAREZ")
    checkin = checkin_state("2025-03-10", note=HOSTILE_NOTE)
    checkin["other_topics"]["other_topics"]["value"] = HOSTILE_TOPIC
    metadata = json.dumps({"pairing_id": fox_pairing})
    submitted = slack.view_submission(
        "U0EFOX", "shelfmate_checkin", checkin, private_metadata=metadata, view_hash="checkin.1"
    )
    assert submitted.content in (b"", b"{}"), submitted.text
    conversation = emulator.im_id("U0MALVAREZ", "U0EFOX")
    assert conversation is not None
    wait_for(lambda: [m for m in emulator.messages_in(conversation) if "logged your meeting" in shown_text([m])])
    answers.append(slack.mentor("U0EFOX", "checkins").json())

    said = everything_said(emulator, answers)
    for text in said:
        assert "<!channel>" not in text and "<!here>" not in text and "<@U0HACKED>" not in text, text
    # Escaped, the words read as typed.
    assert any("• *Star* _x_ &lt;!channel&gt; &amp; &lt;@U0HACKED&gt; has 12 years" in text for text in said), said
    assert any("Kern &lt;!here&gt; &amp; &lt;@U0HACKED&gt; Library" in text for text in said), said
    assert any("Budget &lt;!channel&gt; &amp; more" in text for text in said), said
    assert any("Call &lt;@U0HACKED&gt; &lt;!here&gt;" in text for text in said), said

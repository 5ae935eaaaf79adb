"""A statewide public-library program's season read by its coordinator (the PLSEP seed: applications until
Feb 17, matches across dozens of library systems, an agreement due Mar 1, a run of Mar 1 - Jun 30, at least one
meeting a month), as found in a product review: each test is something the coordinator, or a librarian in the
program, would have noticed, and each failed before its fix.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from storage.engine import session_scope
from storage.models import Enrollment, Pairing
from tests.conftest import ADMIN_ID
from tests.factories import approve_all_value, each_shown, intake_state, make_program, shown_text, ticks_at
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import opened_view
from tests.test_scheduler import log_meeting, settle_agreement
from tests.test_school_librarian_review import _home_tab

ADMIN_CHANNEL = "C0ADMINS01"
PROGRAM = "PLSEP Mentorship 2025"
LA = "America/Los_Angeles"
DURING_APPLICATIONS = datetime(2025, 1, 15, 17, 0, tzinfo=UTC)
AFTER_THE_DEADLINE = datetime(2025, 2, 18, 18, 0, tzinfo=UTC)  # Tuesday 10 AM Pacific
AFTER_THE_END = datetime(2025, 7, 2, 17, 0, tzinfo=UTC)

# Managers who coach a specialization, and staff who seek one, from library systems across the state.
MENTORS = {
    "U0MALVAREZ": ("Sacramento Public Library", ["youth_services", "management"]),
    "U0MBROOKS": ("San Francisco Public Library", ["reference", "adult_services"]),
}
MENTEES = {
    "U0EFOX": ("Kern County Library", ["youth_services"]),
    "U0EGARCIA": ("Tulare County Library", ["reference"]),
}


@pytest.fixture
def statewide(engine: Engine, emulator: SlackEmulator, clock: FixedClock) -> None:
    """PLSEP's calendar with its admin channel; the four librarians have Slack accounts."""
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    for user in [*MENTORS, *MENTEES]:
        emulator.add_user(user, name=user[3:].lower(), real_name=user[3:].title(), tz=LA, tz_offset=-28800)
    clock.set(DURING_APPLICATIONS)
    make_program(engine)


def _apply(
    slack: SlackDriver, emulator: SlackEmulator, user: str, role: str, organization: str, specs: list[str]
) -> None:
    """`/mentor join ROLE` and the intake form sent, as a public-library librarian fills it in."""
    before = len(emulator.calls_to("views.open"))
    assert slack.mentor(user, f"join {role}").status_code == 200
    view = opened_view(emulator, before)
    state = intake_state(
        role=role,
        library_type="public",
        organization=organization,
        region="",
        specializations=specs,
        years_experience="12" if role == "mentor" else "1",
        grade_levels=[],
        capacity="1" if role == "mentor" else None,
    )
    response = slack.view_submission(user, view["callback_id"], state, private_metadata=view["private_metadata"])
    assert response.content in (b"", b"{}"), response.text


def _everyone_applies(slack: SlackDriver, emulator: SlackEmulator) -> None:
    for user, (organization, specs) in MENTORS.items():
        _apply(slack, emulator, user, "mentor", organization, specs)
    for user, (organization, specs) in MENTEES.items():
        _apply(slack, emulator, user, "mentee", organization, specs)


def _admin_answer(slack: SlackDriver, emulator: SlackEmulator, text: str) -> str:
    """What the coordinator reads after `/mentor-admin TEXT`: the immediate answer and any that follow."""
    body = slack.admin(ADMIN_ID, text)
    url = slack.last_response_url
    first = shown_text([body.json()]) if body.content not in (b"", b"{}") else ""
    if "…" in first:  # "Working out matches…", "Preparing the export…": the outcome follows by response_url
        wait_for(lambda: emulator.responses_to(url), timeout=15, what=f"the answer to {text}")
    return first + "\n" + shown_text(emulator.responses_to(url))


def _approve_all(slack: SlackDriver, emulator: SlackEmulator) -> str:
    slack.block_action(
        ADMIN_ID,
        "shelfmate_approve_all",
        approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )
    return wait_for(lambda: emulator.responses_to(slack.last_response_url), what="Approve all's answer")[-1]["text"]


def _pairings(engine: Engine) -> list[Pairing]:
    with session_scope(engine) as session:
        return list(session.exec(select(Pairing).order_by(Pairing.id)))


def _mentor_of(engine: Engine, pairing: Pairing) -> str:
    with session_scope(engine) as session:
        mentor = session.get(Enrollment, pairing.mentor_enrollment_id)
        assert mentor is not None
        return mentor.person_id


def _summary(slack: SlackDriver, text: str = "summary") -> str:
    return shown_text([slack.admin(ADMIN_ID, text).json()])


# -- 1. the summary after the program ended --------------------------------------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_after_the_program_ends_summary_and_export_without_a_name_read_the_program_that_ended(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """In July, with PLSEP the workspace's only program, the coordinator typed `/mentor-admin summary` for the
    final figures the help and README promise once a program has ended (the name is needed only "when several
    programs run"). The answer was "There is no program yet: `/mentor-admin program create`", as if PLSEP had
    never existed; `export hours`, wanted for certificates, said the same."""
    await ticks_at(runtime, clock, AFTER_THE_END)  # the sweep closes the program after its last day

    shown = _summary(slack)
    assert "no program yet" not in shown.lower(), shown
    assert f"{PROGRAM}: summary" in shown and "final figures" in shown, shown
    exported = _admin_answer(slack, emulator, "export hours")
    assert f"Uploaded `hours` to <#{ADMIN_CHANNEL}>" in exported, exported


# -- 2. approved pairs are not "proposed" ------------------------------------------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_the_summary_after_approve_all_counts_the_pairs_as_approved_not_proposed(
    slack: SlackDriver, emulator: SlackEmulator, clock: FixedClock
) -> None:
    """The coordinator previewed two pairs and pressed Approve all ("approved 2 pairs"), then ran `summary`
    before the introductions went out: it said "Pairings: 2 proposed", the word the preview uses for pairs
    awaiting approval, so she could not tell whether her approval had taken."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    assert "2 pairs proposed" in _admin_answer(slack, emulator, "match preview")
    before = _summary(slack)
    assert "*Pairings*: 2 proposed, awaiting approval" in before, before

    assert "approved 2 pairs" in _approve_all(slack, emulator)
    after = _summary(slack)
    assert "*Pairings*: 2 approved, to be introduced" in after, after
    assert "proposed" not in after, after


# -- 3. the hours export adds up to the minutes logged ----------------------------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_the_hours_export_gives_three_45_minute_meetings_as_2_25_hours_not_2_2(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The hours export is each librarian's professional-development evidence. Fox and Alvarez met three times
    for 45 minutes (2 h 15 min): the file said 2.2 hours for each of them (one 45-minute meeting read 0.8), and
    the summary's "mentoring hours" rounded the same way, so the certificates the coordinator wrote from it were
    short by minutes that were logged."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    paired = _admin_answer(slack, emulator, "pair <@U0MALVAREZ> <@U0EFOX>")
    assert "Paired <@U0MALVAREZ> with <@U0EFOX>" in paired, paired
    [pairing_id] = [p.id for p in _pairings(engine)]
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)  # the introduction
    for day in (date(2025, 3, 12), date(2025, 4, 9), date(2025, 5, 14)):
        log_meeting(engine, pairing_id, day, "U0EFOX")  # 45 minutes each
    clock.set(datetime(2025, 5, 19, 17, 0, tzinfo=UTC))

    assert "Uploaded `hours`" in _admin_answer(slack, emulator, "export hours")
    [upload] = [f for f in emulator.uploaded_files if (f.title or "").endswith(": hours")]
    rows = list(csv.DictReader(upload.content.decode("utf-8-sig").splitlines()))
    hours = {(r["slack_user_id"], r["meetings"], r["hours"]) for r in rows}
    assert hours == {("U0MALVAREZ", "3", "2.25"), ("U0EFOX", "3", "2.25")}, hours
    assert "3 · 2.25 mentoring hours" in _summary(slack)


# -- 4. a pair that never settles its agreement is still asked to meet, and can go quiet -------------------------
@pytest.mark.usefixtures("statewide")
async def test_a_pair_that_let_its_agreement_date_pass_is_nudged_to_meet_and_flagged_when_it_goes_quiet(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Both PLSEP pairs were introduced in February. Alvarez and Fox settled their agreement; Brooks and Garcia
    never did, and neither pair met. The coordinator got one "agreement overdue" alert on Mar 3, and then, from
    March to June, Brooks and Garcia got no reminder to meet (the seed's "at least once a month") and were never
    flagged: on May 5 the at-risk alert and the summary named only Alvarez and Fox, and the summary went on
    saying "no pair has missed two meeting periods in a row" while Brooks and Garcia had missed two."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    assert "approved 2 pairs" in _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)  # the introductions
    by_mentor = {_mentor_of(engine, p): p.id for p in _pairings(engine)}
    settle_agreement(engine, by_mentor["U0MALVAREZ"], datetime(2025, 2, 25, 18, 0, tzinfo=UTC))
    unsettled = emulator.im_id("U0MBROOKS", "U0EGARCIA")
    assert unsettled is not None

    await ticks_at(
        runtime,
        clock,
        *(datetime(2025, month, day, 17, 5, tzinfo=UTC) for month, day in ((3, 3), (3, 17), (3, 28), (4, 17), (4, 28))),
        datetime(2025, 5, 5, 17, 5, tzinfo=UTC),
    )
    reminders = [m.splitlines()[0] for m in each_shown(emulator.messages_in(unsettled))]
    assert reminders.count("A friendly nudge to meet") == 2, reminders  # mid-March and mid-April
    assert reminders.count("Did you meet?") == 2, reminders
    [alert] = [m for m in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if "pairs are at risk" in m]
    assert "<@U0MBROOKS> and <@U0EGARCIA>: missed 2 periods" in alert, alert
    assert "<@U0MALVAREZ> and <@U0EFOX>: missed 2 periods" in alert, alert
    shown = _summary(slack)
    assert "*At risk*: 2 pairs have gone quiet" in shown and "<@U0MBROOKS> and <@U0EGARCIA>: never met" in shown, shown


@pytest.mark.usefixtures("statewide")
async def test_a_pair_past_its_agreement_date_is_told_so_in_status_and_in_its_reminders(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Brooks and Garcia never settled the agreement due Mar 1. In mid-March `/mentor status` still told Garcia
    "Settle your mentoring agreement with @Brooks by Mar 1, 2025", a date two weeks gone, and the nudge to meet
    said nothing of the agreement nor offered its button: they could not tell they were behind."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)  # the introductions
    unsettled = emulator.im_id("U0MBROOKS", "U0EGARCIA")
    assert unsettled is not None
    before = len(emulator.messages_in(unsettled))

    await ticks_at(runtime, clock, datetime(2025, 3, 17, 17, 5, tzinfo=UTC))  # mid-March: the nudge
    [nudge] = emulator.messages_in(unsettled)[before:]
    shown = shown_text([nudge])
    assert "not settled yet (it was due Mar 1)" in shown, shown
    buttons = [e["action_id"] for b in nudge["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "shelfmate_open_agreement" in buttons and "shelfmate_we_met" in buttons, buttons

    status = shown_text([slack.mentor("U0EGARCIA", "status").json()])
    assert "by Mar 1, 2025" not in status, status
    assert "was due on Mar 1, 2025 and is not settled yet: `/mentor agreement` settles it" in status, status
    assert "meet at least monthly and log it with `/mentor checkin`" in status, status


# -- 5. a preview run while applications are open says so --------------------------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_a_match_preview_run_before_the_application_deadline_says_applications_are_still_open(
    slack: SlackDriver, emulator: SlackEmulator, clock: FixedClock
) -> None:
    """In mid-January, a month before the Feb 17 deadline, the coordinator tried `match preview` to see how the
    pool looked. It answered "2 pairs proposed, 0 waitlisted" and posted an Approve all button as after the
    deadline: nothing said that applications were still open, that whoever applied in the next month would not
    be weighed, or that approving now would introduce the pairs at once. After the deadline nothing is added."""
    _everyone_applies(slack, emulator)

    early = _admin_answer(slack, emulator, "match preview")
    posted = shown_text(emulator.messages_in(ADMIN_CHANNEL)[-1:])
    for shown in (early, posted):
        assert "Applications are still open until Feb 17, 2025" in shown, shown
        assert "anyone who applies later is not in this preview" in shown, shown

    clock.set(AFTER_THE_DEADLINE)
    later = _admin_answer(slack, emulator, "match preview")
    assert "2 pairs proposed" in later and "Applications are still open" not in later, later
    assert "Applications are still open" not in shown_text(emulator.messages_in(ADMIN_CHANNEL)[-1:])


# -- 6. the waitlist hears when the program ends ---------------------------------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_a_mentee_still_waitlisted_when_the_program_ends_is_told_once(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Kim (Alameda County Library) sought archives and special collections, which no PLSEP mentor coached. Her
    application said "you'll hear from me when you're matched", her status "You'll hear from me as soon as a
    match is possible". The program ended on Jun 30 and she never heard a word: only the pairs got the wrap-up.
    She should be told, once, that the program ended without a match, and what to do next time."""
    emulator.add_user("U0EKIM", name="kim", real_name="Kim", tz=LA, tz_offset=-28800)
    _everyone_applies(slack, emulator)
    _apply(slack, emulator, "U0EKIM", "mentee", "Alameda County Library", ["archives_special_collections"])
    clock.set(AFTER_THE_DEADLINE)
    assert "2 pairs proposed, 1 waitlisted" in _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE, AFTER_THE_END, AFTER_THE_END.replace(hour=20))

    told = [m for m in each_shown(emulator.messages_in("U0EKIM")) if "ended" in m]
    assert len(told) == 1, told
    assert "PLSEP Mentorship 2025* ended on Jun 30, and no match came up for you in it" in told[0], told
    assert "`/mentor join` starts from the answers you gave" in told[0], told
    for matched in (*MENTORS, *MENTEES):
        assert not [m for m in each_shown(emulator.messages_in(matched)) if "without a match" in m], matched


# -- 7. before the run, the summary says when it starts -----------------------------------------------------------
@pytest.mark.usefixtures("statewide")
async def test_the_summary_during_applications_says_when_the_program_starts_not_days_left(
    slack: SlackDriver, emulator: SlackEmulator
) -> None:
    """On Jan 15, with applications open until Feb 17 and the run starting Mar 1, the summary (and each Monday's
    digest) read "the program has not started, 0 at risk, 166 days left" and "As of Jan 15, 2025 · 166 days
    left": days left of a program that has not begun, which the coordinator read as a countdown to something
    she could not place. It should say when the program starts."""
    _everyone_applies(slack, emulator)

    shown = _summary(slack)
    assert "PLSEP Mentorship 2025: the program starts on Mar 1, 2025." in shown, shown
    assert "As of Jan 15, 2025 · starts on Mar 1, 2025" in shown, shown
    assert "days left" not in shown and "0 at risk" not in shown, shown


@pytest.mark.usefixtures("statewide")
async def test_three_days_into_march_the_summary_says_so_beside_0_percent_met(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """On Monday Mar 3 the digest said "0% of pairs met this month" and "0 of 2 pairs met (0%)": read as an alarm
    three days into the run. In a month's first week it says how far in the month is; later it does not."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)
    for pairing in _pairings(engine):
        settle_agreement(engine, pairing.id, datetime(2025, 2, 25, 18, 0, tzinfo=UTC))

    clock.set(datetime(2025, 3, 3, 17, 5, tzinfo=UTC))
    shown = _summary(slack)
    assert "0% of pairs met this month (3 days into March)" in shown, shown
    assert "*Meetings this month*: 0 of 2 pairs met (0%), 3 days into March" in shown, shown
    clock.set(datetime(2025, 3, 20, 17, 5, tzinfo=UTC))
    assert "into March" not in _summary(slack)


@pytest.mark.usefixtures("statewide")
async def test_the_preview_gives_the_average_score_out_of_100_and_a_full_mentor_list_reads_plainly(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """The preview answered "2 pairs proposed, 1 waitlisted, total score 162.4": a sum of scores out of 100 that
    means nothing to a coordinator. A mentee waitlisted because the only mentors she could have were full, and
    who sought what no mentor coaches, was "Every compatible mentor is at capacity; no mentor offers Archives
    and special collections", which reads as if those full mentors were compatible and offered nothing."""
    _everyone_applies(slack, emulator)
    emulator.add_user("U0EHALL", name="hall", tz=LA, tz_offset=-28800)
    _apply(slack, emulator, "U0EHALL", "mentee", "Fresno County Library", ["archives_special_collections"])
    clock.set(AFTER_THE_DEADLINE)

    answer = _admin_answer(slack, emulator, "match preview")
    assert "total score" not in answer, answer
    assert re.search(r"2 pairs proposed, 1 waitlisted, average score \d+\.\d/100\.", answer), answer
    with session_scope(engine) as session:
        [hall] = session.exec(select(Enrollment).where(Enrollment.person_id == "U0EHALL"))
        assert hall.waitlist_reason == (
            "Every mentor they could be paired with is at capacity; "
            "besides, no mentor in the program offers Archives and special collections"
        ), hall.waitlist_reason


@pytest.mark.usefixtures("statewide")
def test_a_late_applicant_sent_to_the_coordinator_finds_a_coordinator_who_knows_what_to_do(
    slack: SlackDriver, emulator: SlackEmulator, clock: FixedClock
) -> None:
    """After Feb 17 a librarian who tries to join is told to "ask your program coordinator about joining late",
    and the coordinator's `/mentor-admin help` said nothing of how: moving the deadline with `program edit`."""
    clock.set(AFTER_THE_DEADLINE)
    slack.mentor("U0EFOX", "join mentee")
    refusal = shown_text(wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the refusal"))
    assert "Ask your program coordinator about joining late" in refusal, refusal
    help_text = shown_text([slack.admin(ADMIN_ID, "help").json()])
    assert "a later application deadline lets a late applicant in" in help_text, help_text


@pytest.mark.usefixtures("statewide")
async def test_the_coordinators_home_keeps_a_program_for_a_month_after_it_ends(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """On Jul 2 the coordinator's Home tab no longer showed PLSEP at all, the day after it ended: nothing led to
    the final figures or the wrap-up survey, whose answers were still coming in. It now shows the program's
    final figures and the commands that read them for a month; after that, `program list` has it."""
    _everyone_applies(slack, emulator)
    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE)
    pairing = _pairings(engine)[0]
    settle_agreement(engine, pairing.id, datetime(2025, 2, 25, 18, 0, tzinfo=UTC))
    log_meeting(engine, pairing.id, date(2025, 3, 12), "U0EFOX")
    await ticks_at(runtime, clock, AFTER_THE_END)  # the sweep closes the program

    home = _home_tab(slack, emulator, ADMIN_ID)
    assert f"*{PROGRAM}*\nRan Mar 1 – Jun 30, 2025 · ended\nFinal: 1 check-in · 0.75 mentoring hours" in home, home
    assert "*Wrap-up survey*: no answers yet (sent to 2 pairs)." in home, home
    assert f"/mentor-admin summary {PROGRAM}" in home and "match preview" not in home, home

    clock.set(datetime(2025, 8, 5, 17, 0, tzinfo=UTC))  # five weeks after the end
    assert PROGRAM not in _home_tab(slack, emulator, ADMIN_ID)


def _status_of(engine: Engine, person_id: str) -> str:
    with session_scope(engine) as session:
        [enrollment] = session.exec(select(Enrollment).where(Enrollment.person_id == person_id))
        return enrollment.status


def _waitlist_notices(emulator: SlackEmulator, user: str) -> list[dict[str, Any]]:
    """The DMs telling `user` they are on the waitlist (not the "Thanks for applying", which may land any time)."""
    return [m for m in emulator.messages_in(user) if m.get("text") == "You're on the waitlist"]


def _hall_applies_for_what_no_mentor_coaches(slack: SlackDriver, emulator: SlackEmulator) -> None:
    """Two mentors with one place each, three mentees: Hall is the one left waiting."""
    _everyone_applies(slack, emulator)
    emulator.add_user("U0EHALL", name="hall", tz=LA, tz_offset=-28800)
    _apply(slack, emulator, "U0EHALL", "mentee", "Fresno County Library", ["archives_special_collections"])


@pytest.mark.usefixtures("statewide")
async def test_a_mentee_left_on_the_waitlist_is_told_once_when_the_matches_are_approved(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Hall applied, was waitlisted when the coordinator approved the matches, and heard nothing: the next
    message she got was in July, that the program had ended without a match. She is told once, when the round
    is decided (not for a preview run while applications were open, which a later one may change)."""
    _hall_applies_for_what_no_mentor_coaches(slack, emulator)
    _admin_answer(slack, emulator, "match preview")  # in January, applications still open
    await ticks_at(runtime, clock, datetime(2025, 1, 16, 18, 5, tzinfo=UTC))
    assert _waitlist_notices(emulator, "U0EHALL") == []

    clock.set(AFTER_THE_DEADLINE)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, AFTER_THE_DEADLINE, datetime(2025, 2, 19, 18, 5, tzinfo=UTC))
    [notice] = _waitlist_notices(emulator, "U0EHALL")
    assert shown_text([notice]).startswith(
        "You're on the waitlist\nMatches for *PLSEP Mentorship 2025* are made, and no mentor is free for you yet"
    ), shown_text([notice])
    for matched in MENTEES:
        assert "on the waitlist" not in shown_text(emulator.messages_in(matched))


@pytest.mark.usefixtures("statewide")
async def test_a_waitlist_notice_held_for_the_morning_is_dropped_if_she_left_meanwhile(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Approved at 6 PM, the notice waits for the working day; Hall withdraws that evening. The morning must
    not tell someone who left that she is on the waitlist."""
    _hall_applies_for_what_no_mentor_coaches(slack, emulator)
    evening = datetime(2025, 2, 19, 2, 0, tzinfo=UTC)  # Tuesday Feb 18, 6 PM Pacific
    clock.set(evening)
    _admin_answer(slack, emulator, "match preview")
    _approve_all(slack, emulator)
    await ticks_at(runtime, clock, evening)
    assert _waitlist_notices(emulator, "U0EHALL") == []
    slack.mentor("U0EHALL", "leave")  # "Leave every program?" and its button
    slack.block_action("U0EHALL", "shelfmate_leave_confirm", "leave", channel_id="C0GENERAL")
    wait_for(lambda: _status_of(engine, "U0EHALL") == "withdrawn", what="Hall's withdrawal")
    await ticks_at(runtime, clock, datetime(2025, 2, 19, 17, 5, tzinfo=UTC))  # 9:05 AM Pacific
    assert _waitlist_notices(emulator, "U0EHALL") == []

"""The Home tab and `/mentor status` as a coordinator and as a busy mentor see them, as found in a product review:
each test is something a coordinator or a librarian opening the app would have noticed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import Enrollment, Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_ended_program_journeys import LATE_MENTEE, paired_late
from tests.test_scheduler import enroll, hand_pair, log_meeting, person, settle_agreement
from tests.test_second_year_journeys import DAY_AFTER_THE_END, MENTOR

LA = "America/Los_Angeles"
ADMIN_CHANNEL = "C0ADMINS01"
PLSEP = "PLSEP Mentorship 2025"
OTHER = "Rural Libraries Mentoring 2025"
COORDINATOR = "U0HMCOORD"  # PLSEP's own coordinator, in no program as a librarian
MENTORS = ("U0HMMNTR1", "U0HMMNTR2", "U0HMMNTR3")
MENTEES = ("U0HMMNTE1", "U0HMMNTE2", "U0HMMNTE3", "U0HMMNTE4", "U0HMMNTE5", "U0HMMNTE6")
INTRODUCED_AT = datetime(2025, 2, 20, 18, 5, tzinfo=UTC)  # Thursday 10:05 AM in Los Angeles
MARCH_20 = datetime(2025, 3, 20, 17, 0, tzinfo=UTC)  # Thursday 10 AM in Los Angeles, the program's third week
COORDINATOR_HEADING = "Programs you coordinate"


def home_of(slack: SlackDriver, emulator: SlackEmulator, user_id: str) -> dict[str, Any]:
    """The Home tab `user_id` sees on opening it."""
    emulator.reset_calls()
    assert slack.app_home_opened(user_id).status_code == 200
    calls = wait_for(
        lambda: [c for c in emulator.calls_to("views.publish") if c.arg("user_id") == user_id], what="the Home tab"
    )
    assert calls[-1].ok, calls[-1]
    return calls[-1].arg("view")


def home_text(view: dict[str, Any]) -> str:
    return block_texts(view["blocks"])


def status_of(slack: SlackDriver, emulator: SlackEmulator, user_id: str) -> str:
    answer = slack.mentor(user_id, "status").json()
    return (answer.get("text") or "") + "\n" + block_texts(answer.get("blocks") or [])


def line_with(text: str, needle: str) -> str:
    [line] = [line for line in text.splitlines() if needle in line]
    return line


def add_people(
    engine: Engine, emulator: SlackEmulator, program: Program, people: dict[str, str], **fields: Any
) -> None:
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in people.items():
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            person(session, uid, LA)
            enroll(session, program, uid, role)


async def plsep_in_its_third_week(engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock) -> None:
    """PLSEP on Mar 20: three pairs running (one met this month, one quiet and flagged, one whose agreement is
    overdue), one mentee on the waitlist, one application not matched yet and one proposal to approve."""
    program = make_program(engine, admins=COORDINATOR)
    make_program(engine, name=OTHER, admin_channel="C0OTHERAD")
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORDINATOR])
    emulator.add_user(COORDINATOR, name="coordinator", tz=LA)
    add_people(engine, emulator, program, dict.fromkeys(MENTORS, "mentor"))
    add_people(engine, emulator, program, dict.fromkeys(MENTEES, "mentee"))
    clock.set(INTRODUCED_AT)
    pairs = [
        hand_pair(engine, program, mentor, mentee, INTRODUCED_AT)
        for mentor, mentee in zip(MENTORS, MENTEES[:3], strict=True)
    ]
    await tick(runtime)  # the three intros go out
    settle_agreement(engine, pairs[0], datetime(2025, 2, 25, 18, tzinfo=UTC))
    settle_agreement(engine, pairs[1], datetime(2025, 2, 25, 18, tzinfo=UTC))
    log_meeting(engine, pairs[0], date(2025, 3, 12), MENTEES[0])
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairs[1]).at_risk = True  # as the weekly sweep flags a quiet pair
        enrollments = session.exec(select(Enrollment).where(Enrollment.program_id == program.id))
        by_person = {e.person_id: e for e in enrollments}
        by_person[MENTEES[3]].status = "waitlisted"
        # The matcher's draft for the sixth mentee, not approved yet.
        session.add(
            Pairing(
                program_id=program.id,
                mentor_enrollment_id=by_person[MENTORS[0]].id,
                mentee_enrollment_id=by_person[MENTEES[5]].id,
                score=71.0,
                reasons=["Both in school libraries"],
            )
        )
    clock.set(MARCH_20)


# -- 1. a coordinator's Home tab ------------------------------------------------------------------------------
async def test_a_coordinator_sees_their_program_at_a_glance_on_the_home_tab(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """PLSEP's coordinator, enrolled in nothing, opens Shelfmate's Home tab and reads only "Join as a mentor,
    a mentee, or both"; she should see her program: its dates, who is waiting, what awaits her approval, how
    many pairs run, met, went quiet or are late with their agreement, and where the commands are."""
    await plsep_in_its_third_week(engine, emulator, runtime, clock)

    home = home_text(home_of(slack, emulator, COORDINATOR))
    assert COORDINATOR_HEADING in home, home
    assert PLSEP in home and OTHER not in home, "another program's figures are not hers to see"
    for expected in (
        "Applications Jan 6 – Feb 17, 2025",
        "runs Mar 1 – Jun 30, 2025",
        "1 mentee on the waitlist",
        "1 proposal awaiting approval",
        "3 pairs running",
        "1 of 3 met this month",
        "1 at risk",
        "1 agreement overdue",
        f"/mentor-admin match preview {PLSEP}",
        f"/mentor-admin summary {PLSEP}",
        f"/mentor-admin export pairings {PLSEP}",
    ):
        assert expected in home, (expected, home)


async def test_a_global_admin_sees_every_open_program_and_a_participant_does_not_see_the_section(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The global coordinator (SHELFMATE_ADMINS) sees every open program; a mentee sees only her own card."""
    await plsep_in_its_third_week(engine, emulator, runtime, clock)

    admin_home = home_text(home_of(slack, emulator, ADMIN_ID))
    assert COORDINATOR_HEADING in admin_home and PLSEP in admin_home and OTHER in admin_home, admin_home

    mentee_home = home_text(home_of(slack, emulator, MENTEES[0]))
    assert PLSEP in mentee_home, mentee_home  # her own card
    for coordinators_only in (COORDINATOR_HEADING, "/mentor-admin", "at risk", "waitlist", OTHER):
        assert coordinators_only not in mentee_home, (coordinators_only, mentee_home)


async def test_a_coordinator_who_is_also_a_mentor_sees_both_sections(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The coordinator mentors in the rural program too: her Home tab shows her pairing and her program."""
    await plsep_in_its_third_week(engine, emulator, runtime, clock)
    with session_scope(engine, write=True) as session:
        other = session.exec(select(Program).where(Program.name == OTHER)).one()
        person(session, COORDINATOR, LA)
        enroll(session, other, COORDINATOR, "mentor")

    view = home_of(slack, emulator, COORDINATOR)
    home = home_text(view)
    assert COORDINATOR_HEADING in home and PLSEP in home, home
    assert f"{OTHER}*: Mentor" in home, home  # her own card
    offered = [e["text"]["text"] for b in view["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert "Edit profile" in offered, offered


async def test_a_coordinator_of_many_long_named_programs_gets_a_home_tab_slack_accepts(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """A state coordinator runs 40 regional programs with long names: the Home tab must stay within Slack's
    100 blocks and text limits, and say how many programs it left out and where to find them."""
    clock.set(datetime(2025, 1, 15, 17, 0, tzinfo=UTC))
    filler = "Regional School and Public Library Mentoring Partnerships of the Counties " * 3
    names = [(f"{n:02d} " + filler)[:120] for n in range(40)]  # 120 characters: the longest name a program takes
    for n, name in enumerate(names):
        make_program(engine, name=name, admin_channel=f"C0REGION{n:02d}")
    with session_scope(engine, write=True) as session:
        person(session, ADMIN_ID, LA)
        for program in session.exec(select(Program).order_by(Program.id)).all()[:30]:
            enroll(session, program, ADMIN_ID, "mentor")  # and a mentor in 30 of them: both sections are full

    view = home_of(slack, emulator, ADMIN_ID)
    assert len(view["blocks"]) <= 100, len(view["blocks"])
    for block in view["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150, block
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000, block
    home = home_text(view)
    assert COORDINATOR_HEADING in home, home
    shown = [name for name in names if f"/mentor-admin summary {name}" in home]
    assert shown, home
    assert f"and {40 - len(shown)} more" in home, home
    assert "/mentor-admin program list" in home, home


# -- 2. a mentor with several mentees -------------------------------------------------------------------------
async def test_a_mentor_with_three_mentees_sees_who_met_this_month(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """A mentor with three mentees reads "Meet with A, B and C" on her Home tab and in `/mentor status`; she
    should see, for each mentee, whether they met this month and when they last met, to know whom to call."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    mentor, (met, lapsed, never) = MENTORS[0], MENTEES[:3]
    add_people(engine, emulator, program, {mentor: "mentor"})
    with session_scope(engine, write=True) as session:
        [enrollment] = session.exec(select(Enrollment).where(Enrollment.person_id == mentor)).all()
        enrollment.capacity = 3
    add_people(engine, emulator, program, dict.fromkeys((met, lapsed, never), "mentee"))
    clock.set(INTRODUCED_AT)
    pairs = [hand_pair(engine, program, mentor, mentee, INTRODUCED_AT) for mentee in (met, lapsed, never)]
    await tick(runtime)
    for pairing_id in pairs:
        settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    log_meeting(engine, pairs[1], date(2025, 2, 27), lapsed)  # a first chat before the program started
    log_meeting(engine, pairs[0], date(2025, 3, 12), met)
    clock.set(MARCH_20)

    for where, text in (
        ("status", status_of(slack, emulator, mentor)),
        ("Home tab", home_text(home_of(slack, emulator, mentor))),
    ):
        assert "Mar 12" in line_with(text, f"<@{met}>: "), (where, text)
        assert "met this month" in line_with(text, f"<@{met}>: "), (where, text)
        assert "not yet this month" in line_with(text, f"<@{lapsed}>: "), (where, text)
        assert "last met Feb 27" in line_with(text, f"<@{lapsed}>: "), (where, text)
        assert "not met yet" in line_with(text, f"<@{never}>: "), (where, text)


# -- 3. a pairing the program's end dropped before its intro --------------------------------------------------
async def test_a_pairing_that_ended_before_its_intro_shows_no_partner(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Paired at 6 PM on the program's last day, the intro waited for working hours and the program ended first.
    The mentor's status and Home tab then name a mentee she was never introduced to, with "Thank you for taking
    part!"; they should not name her, and may say the program ended before the introduction."""
    late_evening = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)  # Monday Jun 30, 6 PM in Los Angeles
    late_pair = paired_late(engine, emulator, clock, late_evening)
    await tick(runtime)
    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)
    with session_scope(engine) as session:
        assert session.get(Pairing, late_pair).status == "ended"

    for where, text in (
        ("status", status_of(slack, emulator, MENTOR)),
        ("Home tab", home_text(home_of(slack, emulator, MENTOR))),
        ("mentee's status", status_of(slack, emulator, LATE_MENTEE)),
    ):
        partner = MENTOR if where == "mentee's status" else LATE_MENTEE
        assert f"<@{partner}>" not in text, (where, text)
        assert "Thank you for taking part" not in text, (where, text)
        assert "before you were introduced" in text, (where, text)

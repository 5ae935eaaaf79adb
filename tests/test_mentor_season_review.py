"""A mentor's whole season in a statewide public-library program (seed 001), as found in a product review: each
test is something Maya, a branch manager who mentors two staff from other library systems, her mentees or her
coordinator would have noticed.

Maya offers to mentor up to 3 and is matched with Ana (they meet monthly) and Ben (every two weeks); Cal waits on
the waitlist; in another program Maya is herself Yara's mentee. During the run she changes how many mentees she
can take, takes a month of leave, loses a mentee who leaves, and leaves near the end.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import Enrollment, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, each_shown, intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_scheduler import enroll, hand_pair, settle_agreement

LA = "America/Los_Angeles"
MAYA, ANA, BEN, CAL, YARA = "U0MSMAYA1", "U0MSANA01", "U0MSBEN01", "U0MSCAL01", "U0MSYARA1"
NAMES = {MAYA: "Maya Ortiz", ANA: "Ana Lee", BEN: "Ben Cho", CAL: "Cal Reyes", YARA: "Yara Haddad"}
PLSEP = "PLSEP Mentorship 2025"
OTHER = "ALC Leaders 2025"
ADMIN_CHANNEL = "C0ADMINS01"
MATCHED = datetime(2025, 2, 20, 18, tzinfo=UTC)  # Thursday 10 AM in Los Angeles
SETTLED = datetime(2025, 2, 25, 18, tzinfo=UTC)


@pytest.fixture
async def season(engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock) -> dict[str, int]:
    """Maya mentors Ana (monthly) and Ben (every two weeks) in PLSEP, offering up to 3; Cal is on PLSEP's
    waitlist; in another program Maya is Yara's mentee. Every pair introduced on Feb 20. The pairings' ids."""
    program = make_program(engine)
    other = make_program(engine, name=OTHER, admin_channel="C0ALCADM1")
    emulator.add_channel(ADMIN_CHANNEL, name="plsep-admins", members=[ADMIN_ID])
    emulator.add_channel("C0ALCADM1", name="alc-admins", members=[ADMIN_ID])
    with session_scope(engine, write=True) as session:
        for uid, name in NAMES.items():
            emulator.add_user(uid, name=uid.lower(), real_name=name, display_name=name, tz=LA)
            session.add(Person(slack_user_id=uid, display_name=name, timezone=LA, refreshed_at=MATCHED))
        session.flush()
        plsep, alc = session.get(Program, program.id), session.get(Program, other.id)
        enroll(session, plsep, MAYA, "mentor", organization="Riverside County Library System").capacity = 3
        for mentee in (ANA, BEN, CAL):
            enroll(session, plsep, mentee, "mentee")
        enroll(session, alc, YARA, "mentor")
        enroll(session, alc, MAYA, "mentee", organization="Riverside County Library System")
    clock.set(MATCHED)
    pairings = {
        ANA: hand_pair(engine, program, MAYA, ANA, MATCHED),
        BEN: hand_pair(engine, program, MAYA, BEN, MATCHED),
        YARA: hand_pair(engine, other, YARA, MAYA, MATCHED),
    }
    await tick(runtime)
    emulator.wait_idle()
    settle_agreement(engine, pairings[ANA], SETTLED, cadence="monthly")
    settle_agreement(engine, pairings[BEN], SETTLED, cadence="biweekly")
    settle_agreement(engine, pairings[YARA], SETTLED, cadence="monthly")
    with session_scope(engine, write=True) as session:
        cal = session.exec(select(Enrollment).where(Enrollment.person_id == CAL)).one()
        cal.status = "waitlisted"
        session.add(cal)
    return pairings


def status_of(slack: SlackDriver, user_id: str) -> str:
    return block_texts(slack.mentor(user_id, "status").json()["blocks"])


def edit_capacity(slack: SlackDriver, emulator: SlackEmulator, engine: Engine, capacity: int, edit: int) -> str:
    """Maya edits her mentor profile (she has two: she picks it from the choice `/mentor profile` offers) to take
    `capacity` mentees; the confirmation she reads."""
    with session_scope(engine) as session:
        mine = select(Enrollment).where(Enrollment.person_id == MAYA, Enrollment.role == "mentor")
        enrollment_id = session.exec(mine).one().id
    opened = len(emulator.calls_to("views.open"))
    slack.block_action(MAYA, f"shelfmate_edit_profile:{enrollment_id}", f"enrollment:{enrollment_id}")
    wait_for(lambda: len(emulator.calls_to("views.open")) > opened)
    view: dict[str, Any] = emulator.calls_to("views.open")[-1].arg("view")
    state = intake_state(
        role=None,
        organization="Riverside County Library System",
        specializations=["school_instruction"],
        years_experience="10",
        capacity=str(capacity),
    )
    confirmed = [m for m in emulator.messages_in(MAYA) if "profile is updated" in (m.get("text") or "")]
    response = slack.view_submission(
        MAYA,
        view["callback_id"],
        state,
        private_metadata=view["private_metadata"],
        view_id=f"V0CAP{edit:04d}",
        view_hash=f"1700000000.cap{edit:04d}",
    )
    assert response.status_code == 200, response.text
    now = wait_for(
        lambda: [m for m in emulator.messages_in(MAYA) if "profile is updated" in (m.get("text") or "")][
            len(confirmed) :
        ]
    )
    return each_shown(now)[-1]


async def settled(runtime: Runtime, emulator: SlackEmulator) -> None:
    """The app finished with the last request and the scheduler sent what is due now."""
    await asyncio.sleep(0.2)
    await runtime.listener_work.finished(within=5)
    await tick(runtime)
    emulator.wait_idle()


# -- 1. a month of leave ----------------------------------------------------------------------------------------
async def test_a_mentee_reads_that_her_mentor_is_on_leave_not_that_she_should_meet_her(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock, season: dict[str, int]
) -> None:
    """Maya pauses for April (`/mentor pause until 2025-05-01`): Ana's status kept telling her "Meet with
    @Maya and log it", with no word of the leave, while the bot had stopped every reminder for the pair."""
    clock.set(datetime(2025, 4, 1, 16, tzinfo=UTC))
    assert "Paused until May 1, 2025" in slack.mentor(MAYA, "pause until 2025-05-01").json()["text"]
    text = status_of(slack, ANA)
    assert f"Meet with <@{MAYA}>" not in text, text
    assert f"<@{MAYA}> is taking a break until May 1, 2025" in text, text
    # Yara, Maya's own mentor in the other program, reads the same about her mentee.
    assert f"<@{MAYA}> is taking a break until May 1, 2025" in status_of(slack, YARA)


async def test_a_mentor_going_on_leave_hears_what_happens_to_her_mentees_and_they_are_told(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock, season: dict[str, int]
) -> None:
    """Maya's pause answered only "You won't be matched or reminded": nothing about Ana and Ben, who heard
    nothing at all while their reminders silently stopped. Now her answer says the pairings stay and whom she
    let know, each pair's group DM says she is away until May 1, and says so again when she is back early."""
    clock.set(datetime(2025, 4, 1, 16, tzinfo=UTC))  # Tuesday 9 AM in Los Angeles
    answer = slack.mentor(MAYA, "pause until 2025-05-01").json()["text"]
    assert "Your pairings stay" in answer and f"<@{ANA}>" in answer and f"<@{BEN}>" in answer, answer
    await settled(runtime, emulator)
    for partner in (ANA, BEN, YARA):
        pair_dm = each_shown(emulator.messages_in(emulator.im_id(MAYA, partner) or ""))
        away = [t for t in pair_dm if "taking a break" in t]
        assert len(away) == 1 and "until May 1, 2025" in away[0], (partner, pair_dm[-2:])

    clock.set(datetime(2025, 4, 21, 16, tzinfo=UTC))  # back a week early
    answer = slack.mentor(MAYA, "resume").json()["text"]
    assert "Welcome back" in answer and f"<@{ANA}>" in answer, answer
    await settled(runtime, emulator)
    back = [t for t in each_shown(emulator.messages_in(emulator.im_id(MAYA, ANA) or "")) if "is back" in t]
    assert len(back) == 1, back


# -- 2. how many mentees she can take -----------------------------------------------------------------------
def test_lowering_capacity_below_her_mentees_says_she_keeps_them(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock, season: dict[str, int]
) -> None:
    """With Ana and Ben, Maya lowers her capacity to 1 (she is busier than she thought): the confirmation said
    only "Mentees you can take: 1", and she could not tell whether Ben would be taken from her. Raising it
    to 3 said as little about the place it opens."""
    clock.set(datetime(2025, 3, 10, 18, tzinfo=UTC))
    lowered = edit_capacity(slack, emulator, engine, 1, 1)
    assert "Mentees you can take: 1 (you keep your 2 current mentees; you won't be matched with anyone new)" in (
        lowered
    ), lowered
    raised = edit_capacity(slack, emulator, engine, 3, 2)
    assert "Mentees you can take: 3 (1 open beside your 2 current mentees" in raised, raised
    assert f"<@{ANA}>" in status_of(slack, MAYA) and f"<@{BEN}>" in status_of(slack, MAYA)


async def test_coordinators_hear_when_a_mentor_makes_room_while_mentees_wait(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    runtime: Runtime,
    clock: FixedClock,
    season: dict[str, int],
) -> None:
    """Cal waits on the waitlist. Maya, back to 1 place, raises it to 3: nobody told the coordinators, who alone
    can pair Cal, that a place had opened (the weekly digest's "mentors have room" came days later, naming no
    one). Lowering her capacity, or saving it unchanged, tells them nothing."""
    clock.set(datetime(2025, 3, 10, 18, tzinfo=UTC))
    edit_capacity(slack, emulator, engine, 1, 1)
    await settled(runtime, emulator)
    assert not [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if "can now take" in t]
    edit_capacity(slack, emulator, engine, 3, 2)
    edit_capacity(slack, emulator, engine, 3, 3)
    await settled(runtime, emulator)
    room = [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if "can now take" in t]
    assert len(room) == 1, room
    assert f"<@{MAYA}> can now take 1 more mentee in *{PLSEP}* (3 in all, 2 taken)" in room[0], room
    assert "1 mentee is on the waitlist" in room[0] and "match preview" in room[0], room


# -- 3. a mentee leaves, then she does --------------------------------------------------------------------
async def leave(slack: SlackDriver, runtime: Runtime, emulator: SlackEmulator, user_id: str) -> None:
    """`/mentor leave`, then *Yes, leave* on its confirmation."""
    slack.mentor(user_id, "leave")
    slack.block_action(user_id, "shelfmate_leave_confirm", "leave")
    await settled(runtime, emulator)


async def test_a_mentor_of_two_is_told_which_mentee_left_and_that_the_other_pairing_goes_on(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock, season: dict[str, int]
) -> None:
    """Ben leaves in May. Maya, who mentors Ana and Ben, read "Your mentoring partner has had to leave... Your
    coordinator will help you find a new match": not which mentee, and as if she had none left. Her coordinators
    read that "a participant" left and that Maya "is back in the pool", though she still mentors Ana."""
    clock.set(datetime(2025, 5, 12, 18, tzinfo=UTC))
    await leave(slack, runtime, emulator, BEN)
    told = [t for t in each_shown(emulator.messages_in(MAYA)) if "has had to leave" in t]
    assert len(told) == 1, told
    assert f"<@{BEN}> has had to leave" in told[0] and f"Your pairing with <@{ANA}> carries on" in told[0], told
    assert "find a new match" not in told[0], told
    admins = [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if "was dissolved" in t]
    assert len(admins) == 1, admins
    assert f"because <@{BEN}> left" in admins[0] and f"<@{MAYA}> is still paired with <@{ANA}>" in admins[0], admins
    assert "back in the pool" not in admins[0], admins


async def test_a_mentor_who_is_also_a_mentee_elsewhere_can_leave_only_the_program_she_mentors_in(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    runtime: Runtime,
    clock: FixedClock,
    season: dict[str, int],
) -> None:
    """Near the end Maya has to stop mentoring, but not stop being Yara's mentee in the other program.
    `/mentor leave` offered only "withdrawn from every program": leaving PLSEP ended her own mentoring too,
    and told Yara her mentee had left. Now she leaves PLSEP only; Ana is told, Yara is not, and her status
    still shows Yara."""
    clock.set(datetime(2025, 6, 20, 18, tzinfo=UTC))
    offer = slack.mentor(MAYA, "leave").json()
    shown = block_texts(offer["blocks"])
    assert f"*{PLSEP}* (mentor of <@{ANA}> and <@{BEN}>)" in shown and f"*{OTHER}* (mentee of <@{YARA}>)" in shown
    buttons = [e for b in offer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    only_plsep = [e for e in buttons if e["text"]["text"] == f"Leave {PLSEP} only"]
    assert len(only_plsep) == 1, [e["text"]["text"] for e in buttons]
    slack.block_action(MAYA, only_plsep[0]["action_id"], only_plsep[0]["value"])
    await settled(runtime, emulator)
    answer = emulator.responses_to(slack.last_response_url)[-1]["text"]
    assert f"You've left *{PLSEP}*" in answer and f"still in *{OTHER}*" in answer, answer
    assert [t for t in each_shown(emulator.messages_in(ANA)) if f"<@{MAYA}> has had to leave" in t]
    assert not [t for t in each_shown(emulator.messages_in(YARA)) if "has had to leave" in t]
    text = status_of(slack, MAYA)
    assert f"Your mentor: <@{YARA}>" in text and PLSEP not in text, text

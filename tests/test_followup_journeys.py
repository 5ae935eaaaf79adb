"""Small leftovers reviewers noticed after the big-program and wording reviews: each test is something a
coordinator or a librarian would have noticed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import Enrollment, Pairing
from tests.conftest import ADMIN_ID
from tests.factories import approve_all_value, each_shown, make_program, send_user_change, ticks_at
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_ended_program_journeys import LATE_MENTEE, paired_late
from tests.test_partner_change_journeys import MATCHED, MENTEE, _introduced_pair
from tests.test_programs_and_matching import enroll_pool
from tests.test_scheduler import _pair
from tests.test_second_year_journeys import MENTOR
from tests.test_wording_journeys import ADMIN_CHANNEL, a_proposed_pair, buttons, preview_post


def answer_to(slack: SlackDriver, emulator: SlackEmulator) -> str:
    """The newest answer to the request just sent."""
    return wait_for(lambda: emulator.responses_to(slack.last_response_url), what="an answer")[-1]["text"]


def approve_all_button(message: dict[str, Any]) -> dict[str, Any]:
    [button] = [b for b in buttons(message) if b["action_id"] == "shelfmate_approve_all"]
    return button


# -- 1. the Approve all button -----------------------------------------------------------------------------------
def test_a_preview_of_one_pair_offers_to_approve_that_pair_not_all_1(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """One mentor, one mentee: the preview's button read "Approve all 1"."""
    a_proposed_pair(slack, emulator, engine)
    button = approve_all_button(preview_post(emulator))
    label = button["text"]["text"]
    assert "all 1" not in label and "1 pair" in label and len(label) <= 75, label


def test_approve_all_after_deciding_some_one_by_one_says_how_many_it_approved_and_how_many_were_decided(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Three proposals: the coordinator approves one and rejects one with their own buttons, then presses
    Approve all, whose confirmation still promised "3 pairs will be introduced". It should speak of the
    proposals still open, and its answer should say it approved the last one and that two had been decided."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    enroll_pool(slack, emulator)
    slack.admin(ADMIN_ID, "match preview")
    assert "3 pairs proposed" in answer_to(slack, emulator)
    post = preview_post(emulator)
    button = approve_all_button(post)
    assert button["text"]["text"] == "Approve all 3", button
    confirm = button["confirm"]["text"]["text"]
    assert "3" not in confirm and "still open" in confirm, confirm

    with session_scope(engine) as session:
        first, second, _third = session.exec(select(Pairing).order_by(Pairing.id)).all()
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(first.id), channel_id=ADMIN_CHANNEL)
    assert "approved" in answer_to(slack, emulator)
    slack.block_action(ADMIN_ID, "shelfmate_reject_pair", str(second.id), channel_id=ADMIN_CHANNEL)
    assert "rejected" in answer_to(slack, emulator)

    slack.block_action(
        ADMIN_ID,
        "shelfmate_approve_all",
        approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )
    said = answer_to(slack, emulator)
    assert "approved 1 pair in" in said and "2 had already been decided one by one" in said, said
    with session_scope(engine) as session:
        matched = [e for e in session.exec(select(Enrollment)) if e.status == "matched"]
    assert len(matched) == 4

    # A second press finds nothing left, and says the same about those decided one by one.
    slack.block_action(
        ADMIN_ID,
        "shelfmate_approve_all",
        approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )
    assert "Nothing left to approve" in answer_to(slack, emulator)


# -- 3. the overdue-agreement alert and a deactivated account ---------------------------------------------------
async def test_a_pair_whose_member_was_deactivated_is_left_out_of_the_overdue_agreement_alert(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Two pairs introduced in February, neither settles its agreement by Mar 1. Ana's account is deactivated on
    Feb 24, and the coordinators are told so (with a Dissolve button) by its own alert. On Mar 3 the overdue
    alert still listed Bo and Ana, a pair that cannot settle anything until the account is back: it should list
    the other pair only."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    await _introduced_pair(engine, emulator, runtime, clock, program, settle=False)
    other = _pair(engine, program, MATCHED, status="introduced", n=1)

    clock.set(datetime(2025, 2, 24, 17, tzinfo=UTC))
    emulator.deactivate_user(MENTEE)
    await send_user_change(slack, emulator, runtime, MENTEE)
    await ticks_at(runtime, clock, datetime(2025, 2, 24, 17, 5, tzinfo=UTC), datetime(2025, 3, 3, 17, 5, tzinfo=UTC))
    await ticks_at(runtime, clock, datetime(2025, 3, 3, 17, 10, tzinfo=UTC))

    told = each_shown(emulator.messages_in(ADMIN_CHANNEL))
    assert [t for t in told if f"<@{MENTEE}>" in t and "no longer active" in t], told  # the account's own alert
    [overdue] = [t for t in told if "overdue" in t.lower() and not t.startswith("Weekly digest")]
    assert "<@U0MTEE1>" in overdue, overdue
    assert f"<@{MENTEE}>" not in overdue, f"the alert lists a pair whose member's account is deactivated: {overdue}"
    with session_scope(engine) as session:
        assert session.get(Pairing, other).status == "introduced"


# -- 4. a pairing dissolved before its intro went out -----------------------------------------------------------
async def unpaired_before_the_intro(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> int:
    """The coordinator pairs a late mentee at 6 PM on Tuesday Mar 4, so the intro waits for the morning; at 7 PM
    she changes her mind and unpairs them. Wednesday 9 AM comes. The pairing's id."""
    evening = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)  # Tuesday Mar 4, 6 PM in Los Angeles
    late_pair = paired_late(engine, emulator, clock, evening)
    await tick(runtime)
    assert not welcomes(emulator), "the intro went out after working hours"
    clock.set(evening + timedelta(hours=1))
    slack.admin(ADMIN_ID, f"unpair <@{MENTOR}> <@{LATE_MENTEE}>")
    wait_for(lambda: pairing_status(engine, late_pair) == "dissolved", what="the unpair")
    clock.set(datetime(2025, 3, 5, 17, 0, tzinfo=UTC))  # Wednesday 9 AM in Los Angeles
    await tick(runtime)
    await tick(runtime)
    return late_pair


def welcomes(emulator: SlackEmulator) -> list[str]:
    return [text for c in emulator.calls_to("chat.postMessage") if "Welcome to" in (text := c.arg("text") or "")]


def pairing_status(engine: Engine, pairing_id: int) -> str:
    with session_scope(engine) as session:
        return session.get(Pairing, pairing_id).status


async def test_an_intro_held_for_the_morning_does_not_go_out_once_the_pair_is_unpaired(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The held intro went out on Wednesday morning anyway: the two were welcomed to a pairing that no longer
    exists, with a button to set up its agreement."""
    late_pair = await unpaired_before_the_intro(slack, emulator, engine, runtime, clock)
    assert welcomes(emulator) == [], "the pair was introduced after the coordinator unpaired them"
    assert pairing_status(engine, late_pair) == "dissolved"


async def test_a_pairing_dissolved_before_its_intro_is_not_in_the_mentees_checkins(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The two were never introduced, yet the mentee's `/mentor checkins` listed the mentor as a partner ("No
    meetings with @mentor were logged")."""
    await unpaired_before_the_intro(slack, emulator, engine, runtime, clock)
    listed = slack.mentor(LATE_MENTEE, "checkins").json().get("text", "")
    assert f"<@{MENTOR}>" not in listed, f"`/mentor checkins` lists a partner she was never introduced to: {listed}"

"""Coordinators who wear another hat, and what each one may see and do, as found in a product review: a
coordinator who is a participant approving their own pairing or reading their own waitlist reason, a program
admin listing other programs, a pause that does not say what it paused, and admin-channel messages that had no
way to reach coordinators when the channel refused them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.views import ids
from storage.engine import session_scope
from storage.models import Delivery, Enrollment, Pairing
from tests.conftest import ADMIN_ID
from tests.factories import PLSEP, approve_all_value, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_fuzz import settle
from tests.test_many_hats_journeys import (
    ADMIN_CHANNEL,
    BOTH,
    COORD,
    MORGAN,
    OTHER_ADMIN_CHANNEL,
    OTHER_PROGRAM,
    RUTH,
    YARA,
    add_people,
    enroll,
    introduce,
    shown,
)

FEB_20 = datetime(2025, 2, 20, 18, 0, tzinfo=UTC)  # applications closed, the program not yet started
MAR_20 = datetime(2025, 3, 20, 17, 0, tzinfo=UTC)  # a Thursday, 10 AM in Los Angeles
PLSEP_NAME = PLSEP["name"]


def proposals(engine: Engine) -> dict[str, Pairing]:
    """Proposed pairings by their mentee's id."""
    with session_scope(engine) as session:
        mentees = {e.id: e.person_id for e in session.exec(select(Enrollment))}
        return {mentees[p.mentee_enrollment_id]: p for p in session.exec(select(Pairing))}


def cam_and_ruth_proposed(slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock) -> None:
    """Cam coordinates PLSEP and is a mentee in it; Ruth is a mentee too; a preview proposed a mentor for each."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORD])
    add_people(engine, emulator, COORD, RUTH, MORGAN, YARA)
    enroll(engine, program.id, COORD, "mentee")
    enroll(engine, program.id, RUTH, "mentee")
    enroll(engine, program.id, MORGAN, "mentor", capacity=1)
    enroll(engine, program.id, YARA, "mentor", capacity=1, years_experience=15)
    clock.set(FEB_20)
    slack.admin(ADMIN_ID, "match preview")
    wait_for(lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")], what="the preview")
    assert set(proposals(engine)) == {COORD, RUTH}


# -- (1) approving one's own pairing ------------------------------------------------------------------------
def test_a_coordinator_cannot_approve_their_own_proposed_pairing(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Cam, a coordinator and a mentee, pressed *Approve* on the proposal pairing Cam and it was approved; it
    should be refused ("ask another coordinator"), as hand-pairing oneself is."""
    cam_and_ruth_proposed(slack, emulator, engine, clock)
    own = proposals(engine)[COORD]

    slack.block_action(COORD, ids.ACTION_APPROVE_PAIR, str(own.id), channel_id=ADMIN_CHANNEL)
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")[-1]["text"]
    settle(emulator)
    assert proposals(engine)[COORD].approved_at is None, f"Cam approved Cam's own pairing: {said}"
    assert "another coordinator" in said, said


def test_approve_all_leaves_the_coordinators_own_pairing_for_another_coordinator(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Cam pressed *Approve all* and approved Cam's own pairing with the rest; the rest should be approved and
    the answer say that Cam's own was left for another coordinator."""
    cam_and_ruth_proposed(slack, emulator, engine, clock)
    slack.block_action(
        COORD, ids.ACTION_APPROVE_ALL, approve_all_value(emulator.messages_in(ADMIN_CHANNEL)), channel_id=ADMIN_CHANNEL
    )
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")[-1]["text"]
    settle(emulator)
    now = proposals(engine)
    assert now[COORD].approved_at is None, f"Approve all approved Cam's own pairing: {said}"
    assert now[RUTH].approved_at is not None, said
    assert f"<@{COORD}>" in said and "another coordinator" in said, said


# -- (2) a waitlisted coordinator ---------------------------------------------------------------------------
def test_the_preview_does_not_tell_a_waitlisted_coordinator_who_declined_them(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Cam coordinates PLSEP and is its waitlisted mentee: the preview in the channel Cam reads said "1 asked not
    to mentor them", with Morgan the only mentor; it should give Cam a neutral reason."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORD])
    add_people(engine, emulator, COORD, MORGAN)
    enroll(engine, program.id, COORD, "mentee")
    enroll(engine, program.id, MORGAN, "mentor", not_with=[COORD])
    clock.set(FEB_20)

    slack.admin(ADMIN_ID, "match preview")
    [posted] = wait_for(lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")], what="preview")
    text = shown(posted)
    assert f"<@{COORD}>" in text, text  # still listed as waiting
    assert "asked not" not in text, f"Cam can read that Morgan declined Cam:\n{text}"


# -- (3) a program admin's program list ---------------------------------------------------------------------
def test_program_list_shows_a_program_admin_only_the_programs_they_coordinate(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Cam coordinates PLSEP only: `/mentor-admin program list` showed every program with its enrollment counts
    and admin channel; it should show Cam's own programs (a global admin still sees them all)."""
    make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    make_program(engine, name=OTHER_PROGRAM, admin_channel=OTHER_ADMIN_CHANNEL)

    cams = shown(slack.admin(COORD, "program list").json())
    assert PLSEP_NAME in cams, cams
    assert OTHER_PROGRAM not in cams and OTHER_ADMIN_CHANNEL not in cams, f"Cam sees another program:\n{cams}"
    everyones = shown(slack.admin(ADMIN_ID, "program list").json())
    assert PLSEP_NAME in everyones and OTHER_PROGRAM in everyones, everyones


# -- (4) pause and resume say what they changed --------------------------------------------------------------
def test_pause_and_resume_say_which_programs_and_roles(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Bea mentors in PLSEP and is a mentee in another program: `/mentor pause` paused both and said only
    "Paused"; it should say which programs and roles (and so should `/mentor resume`)."""
    plsep = make_program(engine, admin_channel=ADMIN_CHANNEL)
    other = make_program(engine, name=OTHER_PROGRAM, admin_channel=OTHER_ADMIN_CHANNEL)
    add_people(engine, emulator, BOTH)
    enroll(engine, plsep.id, BOTH, "mentor")
    enroll(engine, other.id, BOTH, "mentee")

    for command in ("pause", "resume"):
        said = slack.mentor(BOTH, command).json()["text"]
        for words in (PLSEP_NAME, OTHER_PROGRAM, "mentor", "mentee"):
            assert words in said, f"`/mentor {command}` did not say {words!r}: {said}"


# -- (5) admin-channel messages reach coordinators when the channel refuses them -----------------------------
def morgan_mentors_ruth_and_the_admin_channel_is_archived(
    engine: Engine, emulator: SlackEmulator, clock: FixedClock
) -> None:
    program = make_program(engine, admin_channel=ADMIN_CHANNEL)
    add_people(engine, emulator, MORGAN, RUTH)
    enroll(engine, program.id, MORGAN, "mentor")
    enroll(engine, program.id, RUTH, "mentee")
    introduce(engine, program.id, MORGAN, RUTH)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id], is_archived=True)
    clock.set(MAR_20)


async def sweeps(runtime: Runtime, clock: FixedClock, minutes: int = 3) -> None:
    for minute in range(1, minutes + 1):
        clock.set(MAR_20 + timedelta(minutes=minute))
        await tick(runtime)


def dms_to(emulator: SlackEmulator, user_id: str, words: str) -> list[dict[str, Any]]:
    return [m for m in emulator.messages_in(user_id) if words in shown(m)]


async def test_a_dissolved_pairing_reaches_the_coordinators_when_the_admin_channel_is_archived(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ruth left while PLSEP's admin channel was archived: the "pairing dissolved" notice was only logged, and
    no coordinator heard that Morgan needs a new match; it should reach them by DM, once."""
    morgan_mentors_ruth_and_the_admin_channel_is_archived(engine, emulator, clock)

    slack.block_action(RUTH, ids.ACTION_LEAVE_CONFIRM, "leave")
    wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")
    settle(emulator)
    await sweeps(runtime, clock)
    told = dms_to(emulator, ADMIN_ID, f"was dissolved because <@{RUTH}> left")
    assert len(told) == 1 and f"<@{MORGAN}>" in shown(told[0]), [shown(m) for m in emulator.messages_in(ADMIN_ID)]


async def test_a_rematch_request_reaches_the_coordinators_when_the_admin_channel_is_archived(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ruth's `/mentor rematch` went only to the archived admin channel: she was told to try again later and no
    coordinator ever heard; it should reach the coordinators by DM, once, and her answer say so honestly."""
    morgan_mentors_ruth_and_the_admin_channel_is_archived(engine, emulator, clock)

    reason = "our schedules never line up"
    answer = slack.mentor(RUTH, f"rematch {reason}").json()["text"]
    settle(emulator)
    await sweeps(runtime, clock)
    slack.mentor(RUTH, f"rematch {reason}")  # Slack's retry, or typed again
    settle(emulator)
    await sweeps(runtime, clock)
    assert len(dms_to(emulator, ADMIN_ID, reason)) == 1, [shown(m) for m in emulator.messages_in(ADMIN_ID)]
    assert "couldn't reach" not in answer and "coordinators" in answer, answer
    with session_scope(engine) as session:  # what Ruth told the coordinators is not kept once it reached them
        kept = [(d.kind, d.status) for d in session.exec(select(Delivery)) if reason in json.dumps(d.payload)]
    assert kept == [], kept

"""Something changes about one member of a running pairing, as found in a product review: each test is a gap a
pair or a coordinator would have noticed.

1. A member's Slack account is deactivated (Slack's `user_change`, or the bot finds out when a message to the
   pair fails with `account_inactive`): the other member kept getting nudges for a pair that cannot meet,
   nobody told them why, and the coordinators were not asked to find them a new match.
2. A paired member edits an answer their match was based on (`/mentor profile`): the coordinators did not
   hear of it, and the reasons they approved the pair on silently went stale.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import (
    block_texts,
    deactivate_account,
    each_shown,
    intake_state,
    introduce_pair,
    make_program,
    send_user_change,
    ticks_at,
)
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_scheduler import enroll, hand_pair, settle_agreement

ADMIN_CHANNEL = "C0ADMINS01"
PROGRAM = "PLSEP Mentorship 2025"
LA = "America/Los_Angeles"
MENTOR, MENTEE = "U0PCMENTR", "U0PCMENTE"
NAMES = {MENTOR: "Bo Park", MENTEE: "Ana Ruiz"}
MATCHED = datetime(2025, 2, 20, 18, tzinfo=UTC)  # Thursday 10 AM in Los Angeles
SETTLED = datetime(2025, 2, 25, 18, tzinfo=UTC)
GOALS = "Learn to run a book fair without losing my mind."
# The answers both gave at intake (each test changes what it needs): as the edit form's state sends them back.
ANSWERS: dict[str, Any] = {
    "library_type": "school",
    "organization": "Riverside Unified",
    "region": "Inland Empire",
    "specializations": ["school_instruction", "collection_development"],
    "grade_levels": ["middle"],
    "goals": GOALS,
    "meeting_format": "video",
}


# -- helpers ------------------------------------------------------------------------------------------------


def _pair_in_program(engine: Engine, emulator: SlackEmulator, program: Program, **answers: Any) -> int:
    """Bo mentors Ana: both in Slack's directory and enrolled with `ANSWERS` (overridden by `answers`), paired
    by a coordinator on Feb 20 (the match's reasons stored from those answers)."""
    given = ANSWERS | answers
    with session_scope(engine, write=True) as session:
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            emulator.add_user(uid, name=uid.lower(), real_name=NAMES[uid], display_name=NAMES[uid], tz=LA)
            session.add(Person(slack_user_id=uid, display_name=NAMES[uid], timezone=LA, refreshed_at=MATCHED))
            session.flush()
            enroll(
                session,
                session.get(Program, program.id),
                uid,
                role,
                organization=given["organization"],
                region=given["region"],
                specializations=list(given["specializations"]),
                grade_levels=list(given["grade_levels"]),
                goals=given["goals"],
                meeting_format=given["meeting_format"],
                status="matched",
            )
    return hand_pair(engine, program, MENTOR, MENTEE, MATCHED)


async def _introduced_pair(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock, program: Program, *, settle: bool
) -> tuple[int, str]:
    """The pair introduced in its group DM on Feb 20, its agreement settled on Feb 25 if `settle`."""
    pairing_id = _pair_in_program(engine, emulator, program)
    clock.set(MATCHED)
    conversation = await introduce_pair(emulator, runtime, clock, MENTOR, MENTEE)
    if settle:
        settle_agreement(engine, pairing_id, SETTLED)
    return pairing_id, conversation


def _reactivate(emulator: SlackEmulator, user_id: str) -> None:
    emulator.add_user(user_id, name=user_id.lower(), real_name=NAMES[user_id], display_name=NAMES[user_id], tz=LA)


def _reminders(texts: list[str]) -> list[str]:
    """The nudges, "Did you meet?" questions and agreement reminders among a pair's messages."""
    words = ("friendly nudge", "did you meet", "settle your mentoring agreement")
    return [t for t in texts if any(w in t.lower() for w in words)]


def _about_the_pair(texts: list[str]) -> list[str]:
    """Messages to coordinators that name both members and suggest ending or redoing the pairing (not the
    weekly digest, which names people for other reasons)."""
    return [
        t
        for t in texts
        if f"<@{MENTOR}>" in t
        and f"<@{MENTEE}>" in t
        and not t.startswith("Weekly digest")
        and any(w in t.lower() for w in ("dissolve", "unpair", "rematch", "new match"))
    ]


# -- 1. a partner's Slack account is deactivated --------------------------------------------------------------
async def test_a_deactivated_mentors_mentee_is_told_once_and_the_coordinators_once(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Bo's account is deactivated on Mar 10 (Slack sends the event three times): Ana heard nothing and kept
    being nudged; the coordinators only saw Bo in the digest's *Can't reach* list. Ana should get one DM saying
    why the reminders stopped and how to ask for a new match; the coordinators one message naming the pair."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    await _introduced_pair(engine, emulator, runtime, clock, program, settle=True)

    deactivated = datetime(2025, 3, 11, 17, tzinfo=UTC)  # Tuesday 10 AM in Los Angeles
    clock.set(deactivated)
    emulator.deactivate_user(MENTOR)
    for _ in range(3):  # Slack delivers an event again when it is not sure the first one arrived
        await send_user_change(slack, emulator, runtime, MENTOR)
    await ticks_at(runtime, clock, *(deactivated + timedelta(minutes=m) for m in (1, 2, 60)))

    to_ana = [t for t in each_shown(emulator.messages_in(MENTEE)) if f"<@{MENTOR}>" in t]
    assert len(to_ana) == 1, ("Ana should hear once that Bo's account is gone", to_ana)
    told = to_ana[0]
    assert "no longer active" in told and PROGRAM in told, told
    assert "reminders" in told.lower() and "/mentor rematch" in told, told

    to_coordinators = _about_the_pair(each_shown(emulator.messages_in(ADMIN_CHANNEL)))
    assert len(to_coordinators) == 1, ("the coordinators should hear once, naming the pair", to_coordinators)
    assert PROGRAM in to_coordinators[0] and "no longer active" in to_coordinators[0], to_coordinators[0]

    status = block_texts(slack.mentor(MENTEE, "status").json()["blocks"])
    assert "no longer active" in status and "Meet with" not in status, status


async def test_no_reminders_and_no_quiet_streak_while_a_partner_is_deactivated(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Bo is deactivated on Mar 10 and stays so: through March and April the pair's group DM kept getting
    nudges and "Did you meet?", and on May 1 the coordinators were told the pair went quiet, which blames Ana
    for months in which her partner could not meet."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _, conversation = await _introduced_pair(engine, emulator, runtime, clock, program, settle=True)
    before = len(emulator.messages_in(conversation))

    await deactivate_account(slack, emulator, runtime, clock, MENTOR, datetime(2025, 3, 10, 17, tzinfo=UTC))
    await ticks_at(
        runtime,
        clock,
        datetime(2025, 3, 17, 16, 5, tzinfo=UTC),  # the March nudge
        datetime(2025, 3, 28, 16, 5, tzinfo=UTC),  # "Did you meet?" in March
        datetime(2025, 4, 15, 16, 5, tzinfo=UTC),  # the April nudge
        datetime(2025, 4, 25, 16, 5, tzinfo=UTC),  # "Did you meet?" in April
        datetime(2025, 5, 1, 16, 5, tzinfo=UTC),  # two months missed: "at risk"?
        datetime(2025, 5, 5, 16, 5, tzinfo=UTC),  # Monday's digest
    )

    reminders = _reminders(each_shown(emulator.messages_in(conversation)[before:]))
    assert reminders == [], ("the pair was reminded to meet while Bo's account was deactivated", reminders)
    at_risk = [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if "At risk" in t and f"<@{MENTEE}>" in t]
    assert at_risk == [], ("Ana was reported as gone quiet for months her partner could not meet", at_risk)
    clock.set(datetime(2025, 5, 5, 18, tzinfo=UTC))
    summary = block_texts(slack.admin(ADMIN_ID, "summary").json()["blocks"])
    assert "gone quiet" not in summary, summary


async def test_reminders_stop_while_a_partner_is_deactivated_and_resume_when_the_account_is_back(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Bo is deactivated on Mar 10 by mistake and reactivated on Mar 18: the March nudge went to a pair that
    could not meet on Mar 17; once Bo is back the pair is reminded again, and he is no longer listed as
    someone the bot can't reach."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _, conversation = await _introduced_pair(engine, emulator, runtime, clock, program, settle=True)
    before = len(emulator.messages_in(conversation))

    await deactivate_account(slack, emulator, runtime, clock, MENTOR, datetime(2025, 3, 10, 17, tzinfo=UTC))
    await ticks_at(runtime, clock, datetime(2025, 3, 17, 16, 5, tzinfo=UTC))  # Monday 9:05 AM: the March nudge
    held = _reminders(each_shown(emulator.messages_in(conversation)[before:]))
    assert held == [], ("the pair was nudged while Bo's account was deactivated", held)

    clock.set(datetime(2025, 3, 18, 16, tzinfo=UTC))
    _reactivate(emulator, MENTOR)
    await send_user_change(slack, emulator, runtime, MENTOR)
    await ticks_at(runtime, clock, datetime(2025, 3, 18, 16, 5, tzinfo=UTC), datetime(2025, 3, 18, 17, 5, tzinfo=UTC))
    resumed = _reminders(each_shown(emulator.messages_in(conversation)[before:]))
    assert len(resumed) == 1 and "friendly nudge" in resumed[0], ("reminders did not resume once Bo was back", resumed)

    summary = block_texts(slack.admin(ADMIN_ID, "summary").json()["blocks"])
    cant_reach = summary[summary.find("Can't reach") :] if "Can't reach" in summary else ""
    assert f"<@{MENTOR}>" not in cant_reach, cant_reach


async def test_a_deactivated_mentee_stops_the_agreement_reminder_and_her_mentor_is_told(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana's account is deactivated on Feb 24, before the pair settled its agreement: the reminder to settle it
    (due Mar 1) still went to the pair on Feb 26, and Bo was never told why Ana went silent."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _, conversation = await _introduced_pair(engine, emulator, runtime, clock, program, settle=False)
    before = len(emulator.messages_in(conversation))

    await deactivate_account(slack, emulator, runtime, clock, MENTEE, datetime(2025, 2, 24, 17, tzinfo=UTC))
    await ticks_at(
        runtime,
        clock,
        datetime(2025, 2, 24, 17, 5, tzinfo=UTC),
        datetime(2025, 2, 26, 17, 5, tzinfo=UTC),  # three days before the agreement date
        datetime(2025, 2, 27, 17, 5, tzinfo=UTC),
    )

    reminders = _reminders(each_shown(emulator.messages_in(conversation)[before:]))
    assert reminders == [], ("the pair was asked to settle an agreement Ana can no longer settle", reminders)
    to_bo = [t for t in each_shown(emulator.messages_in(MENTOR)) if f"<@{MENTEE}>" in t and "no longer active" in t]
    assert len(to_bo) == 1, to_bo


async def test_a_send_failing_with_account_inactive_has_the_same_effect_as_the_event(
    emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Bo was deactivated while the bot was not told (no event reached it): the March nudge to the pair fails
    with `account_inactive` and Bo is listed under *Can't reach*, but Ana is not told, nobody suggests a new
    match, and the bot goes on trying to send "Did you meet?" to the pair."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _, conversation = await _introduced_pair(engine, emulator, runtime, clock, program, settle=True)
    emulator.deactivate_user(MENTOR)
    emulator.fail(
        "chat.postMessage",
        error="account_inactive",
        times=None,
        match=lambda args: args.get("channel") == conversation,
    )

    nudged = datetime(2025, 3, 17, 16, 5, tzinfo=UTC)
    await ticks_at(runtime, clock, nudged, nudged + timedelta(minutes=1), nudged + timedelta(hours=1))
    attempts = len([c for c in emulator.calls_to("chat.postMessage") if c.arg("channel") == conversation])

    to_ana = [t for t in each_shown(emulator.messages_in(MENTEE)) if f"<@{MENTOR}>" in t and "no longer active" in t]
    assert len(to_ana) == 1, ("Ana was not told her partner's account is gone", to_ana)
    to_coordinators = _about_the_pair(each_shown(emulator.messages_in(ADMIN_CHANNEL)))
    assert len(to_coordinators) == 1, to_coordinators

    await ticks_at(runtime, clock, datetime(2025, 3, 28, 16, 5, tzinfo=UTC), datetime(2025, 3, 28, 17, 5, tzinfo=UTC))
    later = len([c for c in emulator.calls_to("chat.postMessage") if c.arg("channel") == conversation])
    assert later == attempts, "the bot went on sending reminders to a pair whose mentor's account is gone"
    with session_scope(engine) as session:
        assert session.get(Person, MENTOR).deactivated, "the failed send and the event leave different states"


async def test_coordinators_hear_of_a_deactivated_partner_by_dm_when_the_admin_channel_is_archived(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The program's admin channel was archived: the coordinator should get the message by DM, as with the
    program's other alerts."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id], is_archived=True)
    await _introduced_pair(engine, emulator, runtime, clock, program, settle=True)

    deactivated = datetime(2025, 3, 11, 17, tzinfo=UTC)
    await deactivate_account(slack, emulator, runtime, clock, MENTEE, deactivated)
    await ticks_at(runtime, clock, deactivated + timedelta(minutes=1), deactivated + timedelta(minutes=2))

    by_dm = _about_the_pair(each_shown(emulator.messages_in(ADMIN_ID)))
    assert len(by_dm) == 1, ("the coordinator never heard that the pair can no longer meet", by_dm)


# -- 2. a profile edit while paired --------------------------------------------------------------------------
def _edit_profile(
    slack: SlackDriver, emulator: SlackEmulator, user_id: str, edit: int, *, retries: int = 0, **changes: Any
) -> None:
    """`/mentor profile`, then submit the form with `changes` to the intake answers (a distinct modal per
    `edit`); `retries` more copies of the same submission, as Slack resends one it thinks timed out."""
    opened = len(emulator.calls_to("views.open"))
    slack.mentor(user_id, "profile")
    wait_for(lambda: len(emulator.calls_to("views.open")) > opened)
    view = emulator.calls_to("views.open")[-1].arg("view")
    given = ANSWERS | changes
    state = intake_state(
        role=None,
        library_type=given["library_type"],
        organization=given["organization"],
        region=given["region"],
        specializations=list(given["specializations"]),
        years_experience="10" if user_id == MENTOR else "1",
        grade_levels=list(given["grade_levels"]),
        goals=given["goals"],
        meeting_format=given["meeting_format"],
        capacity="2" if user_id == MENTOR else None,
    )
    confirmed = len([m for m in emulator.messages_in(user_id) if "profile is updated" in (m.get("text") or "")])
    for attempt in range(retries + 1):
        response = slack.view_submission(
            user_id,
            view["callback_id"],
            state,
            private_metadata=view["private_metadata"],
            view_id=f"V0EDIT{edit:04d}",
            view_hash=f"1700000000.edit{edit:04d}",
            retry_num=attempt or None,
        )
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    wait_for(
        lambda: (
            len([m for m in emulator.messages_in(user_id) if "profile is updated" in (m.get("text") or "")]) > confirmed
        ),
        what="the edit's confirmation",
    )


async def _settle_down(runtime: Runtime, emulator: SlackEmulator, clock: FixedClock) -> None:
    await asyncio.sleep(0.2)
    await runtime.listener_work.finished(within=5)
    await tick(runtime)
    clock.set(clock.now() + timedelta(minutes=1))
    await tick(runtime)
    emulator.wait_idle()


async def test_a_paired_mentees_new_region_is_told_to_the_coordinators_once(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana and Bo were matched to meet in person, both in the Inland Empire. Ana moves to the Bay Area and
    edits her region: the coordinators should hear once (Slack resends the submission) that the answer their
    match was based on changed, and a goals-only edit before it is nobody's business."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    pairing_id = _pair_in_program(engine, emulator, program, meeting_format="in_person")
    with session_scope(engine, write=True) as session:
        pairing = session.get(Pairing, pairing_id)
        assert any("Inland Empire" in reason for reason in pairing.reasons), pairing.reasons
        pairing.status = "introduced"
    settle_agreement(engine, pairing_id, SETTLED)
    clock.set(datetime(2025, 4, 10, 17, tzinfo=UTC))  # Thursday 10 AM in Los Angeles

    new_goals = "Start a graphic novel club, and pitch it to my principal."
    _edit_profile(slack, emulator, MENTEE, 1, meeting_format="in_person", goals=new_goals)
    _edit_profile(slack, emulator, MENTEE, 2, retries=2, meeting_format="in_person", goals=new_goals, region="Bay Area")
    await _settle_down(runtime, emulator, clock)

    told = [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if f"<@{MENTEE}>" in t]
    assert len(told) == 1, ("the coordinators should hear of the region change once", told)
    assert "Inland Empire" in told[0] and "Bay Area" in told[0], told[0]
    assert f"<@{MENTOR}>" in told[0] and PROGRAM in told[0], told[0]
    assert new_goals not in told[0] and GOALS not in told[0], "a participant's goals reached the admin channel"


async def test_only_the_answers_the_match_used_are_told_to_the_coordinators(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Bo and Ana meet by video, so the match never looked at their regions. Bo moves region (nobody need
    know), then changes the specializations he coaches in, which the match was built on: the coordinators
    should hear of that, and only of that."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    pairing_id = _pair_in_program(engine, emulator, program)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    settle_agreement(engine, pairing_id, SETTLED)
    clock.set(datetime(2025, 4, 10, 17, tzinfo=UTC))

    _edit_profile(slack, emulator, MENTOR, 1, region="Bay Area")
    await _settle_down(runtime, emulator, clock)
    assert [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if f"<@{MENTOR}>" in t] == []

    _edit_profile(slack, emulator, MENTOR, 2, region="Bay Area", specializations=["school_instruction", "management"])
    await _settle_down(runtime, emulator, clock)
    told = [t for t in each_shown(emulator.messages_in(ADMIN_CHANNEL)) if f"<@{MENTOR}>" in t]
    assert len(told) == 1, told
    assert "Management and administration" in told[0] and f"<@{MENTEE}>" in told[0], told[0]
    assert "Bay Area" not in told[0], ("a region the match did not use was reported", told[0])

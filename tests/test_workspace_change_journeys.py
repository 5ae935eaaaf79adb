"""The Slack workspace changes under a running program (accounts deactivated or renamed, time zones moved,
the admin channel archived or replaced by one Shelfmate was never invited to, the app removed or its token
replaced), as found in a product review: each test is a bug a pair, a coordinator or the operator would have
noticed.

Slack sends `user_change` only to apps subscribed to it, and manifest.yml subscribes to no such event today.
Where a test changes someone's profile it both changes what `users.info` answers and sends the event, so a
fix may listen for it or ask Slack again; an app that does not listen simply ignores it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from bot.runtime import Runtime
from bot.views.messages import render_delivery
from storage.engine import session_scope
from storage.models import Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import (
    PLSEP,
    block_texts,
    deactivate_account,
    introduce_pair,
    make_program,
    program_modal_state,
    send_user_change,
    shown_text,
    ticks_at,
)
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_scheduler import deliveries, enroll, hand_pair, settle_agreement

ADMIN_CHANNEL = "C0ADMINS01"
LA = "America/Los_Angeles"
HONOLULU = "Pacific/Honolulu"
MENTOR, MENTEE = "U0WSMENTR", "U0WSMENTE"


# -- helpers ------------------------------------------------------------------------------------------------
def _people(engine: Engine, emulator: SlackEmulator, program: Program, names: dict[str, str]) -> None:
    """The mentor and mentee in Slack's directory and enrolled in the program, in Los Angeles."""
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            emulator.add_user(uid, name=uid.lower(), real_name=names[uid], display_name=names[uid], tz=LA)
            # As `/mentor join` saved it from users.info in January.
            joined = datetime(2025, 1, 20, 18, tzinfo=UTC)
            session.add(Person(slack_user_id=uid, display_name=names[uid], timezone=LA, refreshed_at=joined))
            session.flush()
            enroll(session, program, uid, role)


NAMES = {MENTOR: "Morgan Lee", MENTEE: "Dana Cruz"}


def _active_pair(engine: Engine, emulator: SlackEmulator, program: Program) -> int:
    """A pair matched on Feb 20 that settled its agreement (no chat after hours) on Feb 25."""
    _people(engine, emulator, program, NAMES)
    pairing_id = hand_pair(engine, program, MENTOR, MENTEE, datetime(2025, 2, 20, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    return pairing_id


async def _introduced_active_pair(
    engine: Engine, emulator: SlackEmulator, program: Program, runtime: Runtime, clock: FixedClock
) -> tuple[int, str]:
    """A pair introduced by the bot in its group DM on Feb 20, agreement settled Feb 25; (pairing, group DM)."""
    _people(engine, emulator, program, NAMES)
    at = datetime(2025, 2, 20, 18, tzinfo=UTC)  # Thursday 10 AM in Los Angeles
    clock.set(at)
    pairing_id = hand_pair(engine, program, MENTOR, MENTEE, at)
    conversation = await introduce_pair(emulator, runtime, clock, MENTOR, MENTEE)
    settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    return pairing_id, conversation


# -- the admin channel archived, or replaced ----------------------------------------------------------------
async def test_we_need_help_reaches_a_coordinator_when_the_admin_channel_is_archived(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """A pair presses *We need help* after the admin channel was archived and is told "I've let your program
    coordinators know": no coordinator ever heard (request and failure report both went to the archived
    channel). A coordinator should get it, or the pair be told it did not get through."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    pairing_id, conversation = await _introduced_active_pair(engine, emulator, program, runtime, clock)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id], is_archived=True)
    before = len(emulator.messages_in(conversation))

    pressed = datetime(2025, 3, 20, 17, 0, tzinfo=UTC)  # Thursday 10 AM in Los Angeles
    clock.set(pressed)
    slack.block_action(MENTEE, "shelfmate_need_help", str(pairing_id), channel_id=conversation)
    told = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    await ticks_at(runtime, clock, *(pressed + timedelta(minutes=m) for m in (1, 2, 3, 60)))

    coordinator_saw = shown_text(emulator.messages_in(ADMIN_ID)) + "\n".join(
        e.get("text", "") for e in emulator.ephemerals(user_id=ADMIN_ID)
    )
    pair_saw = "\n".join(
        [told, shown_text(emulator.messages_in(MENTEE)), shown_text(emulator.messages_in(conversation)[before:])]
    )
    pair_told_it_failed = any(words in pair_saw.lower() for words in ("couldn't reach", "could not reach"))
    assert f"<@{MENTEE}>" in coordinator_saw or pair_told_it_failed, (
        "no coordinator heard of the request, and the pair was told",
        told,
        [
            (d.kind, d.recipient, d.status, d.error)
            for d in deliveries(engine)
            if d.kind in ("help_request", "unreachable")
        ],
    )


async def test_an_alert_queued_before_the_admin_channel_changed_goes_to_the_new_channel(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Coordinators move the program to #plsep-coordinators at 8 AM: the at-risk alert the bot had queued
    overnight for 9 AM went to the old channel they no longer read."""
    new_channel = "C0COORDS02"
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    emulator.add_channel(new_channel, "plsep-coordinators", members=[ADMIN_ID, emulator.bot_user_id])
    _active_pair(engine, emulator, program)  # and no meeting logged in March or April

    await ticks_at(runtime, clock, datetime(2025, 5, 1, 7, 5, tzinfo=UTC))  # Thu May 1, 12:05 AM in Los Angeles
    clock.set(datetime(2025, 5, 1, 15, 0, tzinfo=UTC))  # 8 AM: the coordinator edits the program
    values = PLSEP | {"admin_channel": new_channel}
    response = slack.view_submission(
        ADMIN_ID,
        "shelfmate_program",
        program_modal_state(**values),
        private_metadata=json.dumps({"program_id": program.id}),
    )
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    with session_scope(engine) as session:
        assert session.get(Program, program.id).admin_channel == new_channel
    await ticks_at(runtime, clock, datetime(2025, 5, 1, 16, 5, tzinfo=UTC))  # 9:05 AM

    in_new = shown_text(emulator.messages_in(new_channel))
    in_old = shown_text(emulator.messages_in(ADMIN_CHANNEL))
    assert "At risk" in in_new and f"<@{MENTOR}>" in in_new, (
        "the at-risk alert went to the program's old admin channel after the coordinator changed it",
        {"old channel": in_old[-300:], "new channel": in_new[-300:]},
    )


def test_moving_the_program_to_a_channel_shelfmate_is_not_in_warns_the_coordinator(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A coordinator moves the program to #plsep-coordinators without inviting Shelfmate and is told only
    "Saved": every digest and alert there then fails unseen; she should be told to `/invite @Shelfmate`."""
    new_channel = "C0COORDS02"
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    emulator.add_channel(new_channel, "plsep-coordinators", members=[ADMIN_ID], is_member=False)
    emulator.fail(
        "chat.postMessage", error="not_in_channel", times=None, match=lambda args: args.get("channel") == new_channel
    )
    emulator.fail(
        "files.completeUploadExternal",
        error="not_in_channel",
        times=None,
        match=lambda args: args.get("channel_id") == new_channel,
    )
    clock.set(datetime(2025, 4, 1, 17, tzinfo=UTC))

    values = PLSEP | {"admin_channel": new_channel}
    response = slack.view_submission(
        ADMIN_ID,
        "shelfmate_program",
        program_modal_state(**values),
        private_metadata=json.dumps({"program_id": program.id}),
    )
    assert response.status_code == 200, response.text
    refused = response.content not in (b"", b"{}")
    if not refused:
        wait_for(lambda: emulator.messages_in(ADMIN_ID), what="the coordinator's confirmation")
        emulator.wait_idle()
    told = response.text + shown_text(emulator.messages_in(ADMIN_ID))
    assert any(hint in told.lower() for hint in ("invite", "add me", "add shelfmate")), (
        "the program now reports to a channel Shelfmate cannot post in, and the coordinator was told nothing",
        told,
    )


def test_moving_the_program_to_a_channel_shelfmate_cannot_see_says_so_and_both_ways_out(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Slack answers channel_not_found for a private channel Shelfmate is not in and for a deleted one. The
    form said "I'm not in it yet, invite me" and a refused post's copy said "it no longer exists", while the
    command line said both ways out; all three now say what the command line said: Shelfmate can't see it, invite
    it if the channel is private, or choose another admin channel."""
    hidden = "C0PRIVATE9"  # a private channel Shelfmate was never invited to: Slack does not show it
    program = make_program(engine)
    clock.set(datetime(2025, 4, 1, 17, tzinfo=UTC))
    response = slack.view_submission(
        ADMIN_ID,
        "shelfmate_program",
        program_modal_state(**(PLSEP | {"admin_channel": hidden})),
        private_metadata=json.dumps({"program_id": program.id}),
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: emulator.messages_in(ADMIN_ID), what="the coordinator's confirmation")
    told = shown_text(emulator.messages_in(ADMIN_ID))
    assert "can't see" in told and "private" in told and "/invite @Shelfmate" in told, told
    assert "choose another admin channel" in told, told

    closing = {"program": "PLSEP", "closes": "2025-02-17", "timezone": "America/Los_Angeles"}
    copy = {"program": "PLSEP", "channel": hidden, "error": "channel_not_found", "kind": "applications_closing"}
    _, blocks = render_delivery("coordinator_copy", copy | {"payload": closing})
    shown = block_texts(blocks)
    assert "no longer exists" not in shown and "can't see" in shown and "private" in shown, shown


# -- the app removed, or its token replaced --------------------------------------------------------------------
async def test_removing_the_app_for_a_day_does_not_mark_the_pair_unreachable_or_drop_their_intro(
    emulator: SlackEmulator, engine: Engine, settings: Settings, runtime: Runtime, clock: FixedClock
) -> None:
    """The app was removed from the workspace for a day (Slack answers account_inactive to every call) and
    reinstalled: Monday's digest lists the new pair under *Can't reach* and they were never introduced."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _people(engine, emulator, program, NAMES)
    removed = datetime(2025, 2, 20, 18, tzinfo=UTC)  # Thursday 10 AM in Los Angeles
    clock.set(removed)
    hand_pair(engine, program, MENTOR, MENTEE, removed)  # approved just before the app was removed
    emulator.fail("*", error="account_inactive", times=None)  # what Slack answers a removed app's bot token
    await ticks_at(runtime, clock, removed, removed + timedelta(minutes=1), removed + timedelta(minutes=30))

    # Friday morning: reinstalled; the operator puts the new bot token in and restarts the bot.
    emulator.clear_faults()
    emulator.token = "xoxb-reinstalled-token"
    restarted = create_runtime(dataclasses.replace(settings, bot_token=emulator.token), engine=engine, clock=clock)
    friday = datetime(2025, 2, 21, 17, 5, tzinfo=UTC)
    monday = datetime(2025, 2, 24, 17, 5, tzinfo=UTC)  # 9:05 AM: the weekly digest
    await ticks_at(restarted, clock, friday, friday + timedelta(minutes=1), friday + timedelta(hours=1), monday)

    blamed = [
        shown
        for shown in map(shown_text, ([m] for m in emulator.messages_in(ADMIN_CHANNEL)))
        if any(f"<@{uid}>" in shown[shown.lower().find("can't reach") :] for uid in (MENTOR, MENTEE))
        and "can't reach" in shown.lower()
    ]
    assert blamed == [], (
        "coordinators were told two active librarians can't be reached because the app itself was removed",
        blamed,
    )
    conversation = emulator.im_id(MENTOR, MENTEE)
    intro = shown_text(emulator.messages_in(conversation)) if conversation else ""
    assert "Welcome to" in intro, "the pair approved before the app was removed was never introduced"


async def test_a_pair_approved_before_the_token_was_replaced_is_introduced_once_the_bot_has_the_new_token(
    emulator: SlackEmulator, engine: Engine, settings: Settings, runtime: Runtime, clock: FixedClock
) -> None:
    """The app was reinstalled on Thursday morning (its old token now answers invalid_auth) and the operator
    put the new token in on Friday: the pair approved on Thursday was never introduced."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _people(engine, emulator, program, NAMES)
    thursday = datetime(2025, 2, 20, 18, tzinfo=UTC)  # 10 AM in Los Angeles
    clock.set(thursday)
    hand_pair(engine, program, MENTOR, MENTEE, thursday)
    emulator.token = "xoxb-reinstalled-token"  # the bot still sends the old one: Slack answers invalid_auth
    await ticks_at(runtime, clock, *(thursday + timedelta(minutes=30 * n) for n in range(17)))  # until 6 PM

    restarted = create_runtime(dataclasses.replace(settings, bot_token=emulator.token), engine=engine, clock=clock)
    friday = datetime(2025, 2, 21, 17, 5, tzinfo=UTC)  # 9:05 AM
    await ticks_at(restarted, clock, friday, friday + timedelta(minutes=1), friday + timedelta(hours=1))

    conversation = emulator.im_id(MENTOR, MENTEE)
    intro = shown_text(emulator.messages_in(conversation)) if conversation else ""
    assert "Welcome to" in intro, (
        "the intro was given up on while the bot's own token was refused, and never sent once it worked",
        [(d.kind, d.status, d.attempts, d.error) for d in deliveries(engine)],
    )


# -- accounts and profiles change ------------------------------------------------------------------------------
async def test_a_mentor_deactivated_mid_program_is_listed_under_cant_reach(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The mentor's account is deactivated on Mar 10: a week later (the March nudge went out meanwhile) the
    coordinator's summary lists nobody under *Can't reach*; it should list the mentor as deactivated."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    await _introduced_active_pair(engine, emulator, program, runtime, clock)

    await deactivate_account(slack, emulator, runtime, clock, MENTOR, datetime(2025, 3, 10, 17, tzinfo=UTC))
    await ticks_at(
        runtime,
        clock,
        datetime(2025, 3, 11, 17, tzinfo=UTC),
        datetime(2025, 3, 14, 17, tzinfo=UTC),
        datetime(2025, 3, 17, 16, 5, tzinfo=UTC),  # Monday 9:05 AM: the March nudge
    )

    clock.set(datetime(2025, 3, 17, 18, tzinfo=UTC))
    summary = block_texts(slack.admin(ADMIN_ID, "summary").json()["blocks"])
    cant_reach = summary[summary.find("Can't reach") :] if "Can't reach" in summary else ""
    assert f"<@{MENTOR}>" in cant_reach, (
        "a mentor deactivated a week ago is not among the people the bot can't reach",
        summary[-500:],
    )


async def test_reminders_follow_a_mentees_new_time_zone(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """A mentee who moved to Honolulu (and changed her Slack time zone) got the pair's nudge at 6 AM there,
    though the pair agreed on no messages outside working hours."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _active_pair(engine, emulator, program)

    clock.set(datetime(2025, 3, 10, 17, tzinfo=UTC))
    emulator.add_user(
        MENTEE, name=MENTEE.lower(), real_name=NAMES[MENTEE], display_name=NAMES[MENTEE], tz=HONOLULU, tz_offset=-36000
    )
    await send_user_change(slack, emulator, runtime, MENTEE)
    await ticks_at(runtime, clock, datetime(2025, 3, 11, 17, tzinfo=UTC), datetime(2025, 3, 14, 17, tzinfo=UTC))

    await ticks_at(runtime, clock, datetime(2025, 3, 17, 16, 5, tzinfo=UTC))  # Mon 9:05 AM in LA, 6:05 AM in Honolulu
    conversation = emulator.im_id(MENTOR, MENTEE)
    early = shown_text(emulator.messages_in(conversation)) if conversation else ""
    assert "friendly nudge" not in early, "the nudge reached the mentee at 6:05 AM in her new time zone (Honolulu)"

    await ticks_at(runtime, clock, datetime(2025, 3, 17, 19, 5, tzinfo=UTC))  # 9:05 AM in Honolulu
    conversation = emulator.im_id(MENTOR, MENTEE)
    later = shown_text(emulator.messages_in(conversation)) if conversation else ""
    assert "friendly nudge" in later, "the nudge held for Honolulu's working hours never went out"


async def test_an_export_shows_a_participants_current_name(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Morgan Lee changed her Slack name to Morgan Reyes in April: the coordinator's participants export in
    May (the record sent on to the library association) still says Morgan Lee."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _active_pair(engine, emulator, program)

    clock.set(datetime(2025, 4, 14, 17, tzinfo=UTC))
    emulator.add_user(MENTOR, name=MENTOR.lower(), real_name="Morgan Reyes", display_name="Morgan Reyes", tz=LA)
    await send_user_change(slack, emulator, runtime, MENTOR)
    await ticks_at(runtime, clock, datetime(2025, 4, 15, 17, tzinfo=UTC))

    clock.set(datetime(2025, 5, 5, 17, tzinfo=UTC))
    slack.admin(ADMIN_ID, "export participants")
    [upload] = wait_for(lambda: emulator.uploaded_files)
    exported = upload.content.decode("utf-8-sig")
    row = next((line for line in exported.splitlines() if line.startswith(MENTOR)), "")
    assert "Morgan Reyes" in row, f"the export still shows the name she had when she joined: {row}"


async def test_sends_resume_in_the_same_process_once_slack_accepts_the_token_again(
    emulator: SlackEmulator, engine: Engine, settings: Settings, runtime: Runtime, clock: FixedClock, caplog: Any
) -> None:
    """The workspace was suspended for an hour (every call, auth.test too, answers account_inactive): the
    intro waits untried, the operator reads one error naming no token, and it goes out once Slack accepts the
    same token again, without a restart."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    _people(engine, emulator, program, NAMES)
    suspended = datetime(2025, 2, 20, 18, tzinfo=UTC)
    clock.set(suspended)
    hand_pair(engine, program, MENTOR, MENTEE, suspended)
    emulator.fail("*", error="account_inactive", times=None)
    await ticks_at(runtime, clock, *(suspended + timedelta(minutes=m) for m in (0, 1, 2, 30)))

    [intro] = [d for d in deliveries(engine) if d.kind == "intro"]
    assert (intro.status, intro.attempts) == ("due", 0), (intro.status, intro.attempts, intro.error)
    assert not [d for d in deliveries(engine) if d.kind == "unreachable"]
    refused = [r.getMessage() for r in caplog.records if "refused the bot token" in r.getMessage()]
    assert len(refused) == 1 and settings.bot_token not in refused[0], refused

    emulator.clear_faults()
    await ticks_at(runtime, clock, suspended + timedelta(hours=1))
    conversation = emulator.im_id(MENTOR, MENTEE)
    assert conversation and "Welcome to" in shown_text(emulator.messages_in(conversation))
    with session_scope(engine) as session:
        assert all(session.get(Person, uid).unreachable_reason is None for uid in (MENTOR, MENTEE))

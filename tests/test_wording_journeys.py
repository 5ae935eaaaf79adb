"""What librarians and coordinators read, as found in a wording review: each test is text a person would notice is
wrong (an internal value, a pairing number, grammar that breaks on one, a missing confirmation).

Every test here fails on main today and is marked xfail(strict=True) with the bug in one line, so the suite stays
green until the wording is fixed; a fix turns the xfail into a pass, which strict mode reports, so the mark must
then be removed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.views import ids
from bot.views.messages import render_delivery
from storage.engine import session_scope
from storage.models import CheckIn, Delivery, Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_admin_reports import NOW as REPORTS_NOW
from tests.test_admin_reports import build_known_state
from tests.test_many_hats_journeys import BOTH, OTHER_ADMIN_CHANNEL, YARA, bea_with_two_partners
from tests.test_participants import join, opened_view
from tests.test_scheduler import enroll, hand_pair, person, settle_agreement
from tests.test_second_year_journeys import (
    ADMIN_CHANNEL,
    LA,
    MENTEE,
    MENTOR,
    conversation_of,
    last_years_pair,
    shown,
)

LIBRARIAN = "U0WORDLIB"
SCHOOL_MENTOR = "U0WORDMTR"
# A program name a coordinator may well type (Program names may be up to 120 characters).
LONG_NAME = "Southern California School and Public Library Staff Peer Mentoring Program, Spring Cohort 2025"


def answer_to(slack: SlackDriver, emulator: SlackEmulator) -> dict[str, Any]:
    """The newest answer posted to the response_url of the request just sent."""
    url = slack.last_response_url
    return wait_for(lambda: emulator.responses_to(url), what="an answer")[-1]


def a_proposed_pair(slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> Pairing:
    """PLSEP 2025 in January: one mentor with room for one mentee, one mentee, and the coordinator's preview."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user(SCHOOL_MENTOR, name="morgan", real_name="Morgan Lee")
    emulator.add_user(LIBRARIAN, name="dana", real_name="Dana Reyes")
    join(slack, emulator, SCHOOL_MENTOR, "join mentor", role="mentor", years_experience="12", capacity="1")
    join(slack, emulator, LIBRARIAN, "join mentee")
    preview = slack.admin(ADMIN_ID, "match preview").json()
    assert "Working out matches" in preview.get("text", ""), preview
    wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the preview's outcome")
    with session_scope(engine) as session:
        [pairing] = session.exec(select(Pairing)).all()
        return pairing


def preview_post(emulator: SlackEmulator) -> dict[str, Any]:
    return wait_for(
        lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if "Proposed matches" in m.get("text", "")],
        what="the preview in the admin channel",
    )[-1]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message.get("blocks") or [] if b.get("type") == "actions" for e in b["elements"]]


# -- 1. "a intro message": the ledger's kind names in the admin channel ----------------------------------------
async def test_the_admin_channel_is_told_in_words_which_message_could_not_be_delivered(
    emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The mentee's account was deactivated before the intro went out. The coordinators read "so a intro message
    was not delivered" in their channel; a "Did you meet?" asked again reads "a did_you_meet_again message". They
    should read what it was in words ("the introduction", "the second "Did you meet?""), never an internal name."""
    last_years_pair(engine, emulator, clock)
    emulator.deactivate_user(MENTEE)
    await tick(runtime)  # the intro is refused by Slack
    await tick(runtime)  # the report reaches the admin channel
    [alert] = wait_for(
        lambda: [
            shown(m) for m in emulator.messages_in(ADMIN_CHANNEL) if "can't reach" in m.get("text", "") + shown(m)
        ],
        what="the can't-reach alert",
    )
    assert f"<@{MENTEE}>" in alert, alert
    assert " a intro " not in alert, alert

    # The same alert for the other messages a pair can miss, as the ledger queues it (bot/delivery.py).
    for kind in ("agreement_reminder", "did_you_meet", "did_you_meet_again", "pair_notice", "wrapup"):
        payload = {"program": "PLSEP Mentorship 2025", "people": [MENTEE], "individuals_known": True,
                   "error": "user_disabled", "kind": kind}  # fmt: skip
        _, blocks = render_delivery("unreachable", payload)
        assert kind not in block_texts(blocks), block_texts(blocks)


# -- 2. "Pairing #12 approved": a number nobody has seen ---------------------------------------------------------
def test_approving_a_proposed_pair_says_who_was_approved_not_a_pairing_number(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """The coordinator presses *Approve* under "@morgan mentors @dana" and is told "Pairing #1 approved by
    @Casey." The preview never showed a number: the answer should name the mentor and the mentee."""
    pairing = a_proposed_pair(slack, emulator, engine)
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(pairing.id), channel_id=ADMIN_CHANNEL)
    said = answer_to(slack, emulator)["text"]
    assert "approved" in said, said
    assert f"<@{SCHOOL_MENTOR}>" in said and f"<@{LIBRARIAN}>" in said, said
    assert f"#{pairing.id}" not in said, said


# -- 3. "Experience: 1 years" ----------------------------------------------------------------------------------
def test_a_first_year_librarians_confirmation_says_1_year(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A librarian in her first year applies as a mentee and her confirmation DM reads "• Experience: 1 years"."""
    make_program(engine)
    emulator.add_user(LIBRARIAN, name="dana", real_name="Dana Reyes")
    response = join(slack, emulator, LIBRARIAN, "join mentee", years_experience="1")
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    [confirmation] = wait_for(
        lambda: [shown(m) for m in emulator.messages_in(LIBRARIAN) if "Thanks for applying" in shown(m)],
        what="the confirmation DM",
    )
    assert "Experience: 1 year" in confirmation, confirmation
    assert "1 years" not in confirmation, confirmation


# -- 4. "1 pairs will be introduced" -----------------------------------------------------------------------------
def test_a_preview_with_one_pair_counts_it_as_one_pair(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A small cohort: one mentor, one mentee. The coordinator's answer says "1 pairs proposed", the channel's
    totals "1 mentors with 1 open slots", and *Approve all 1* asks "1 pairs will be introduced to each other"."""
    a_proposed_pair(slack, emulator, engine)
    answers = " ".join(r.get("text", "") for r in emulator.responses_to(slack.last_response_url))
    assert "proposed" in answers, answers
    post = preview_post(emulator)
    read = answers + "\n" + shown(post)  # block_texts includes the Approve all confirmation's words
    assert "will be introduced" in read, read
    broken = re.findall(r"\b1 (pairs|mentors|mentees|waiting mentees|open slots)\b", read)
    assert broken == [], f"{broken} in:\n{read}"


# -- 5. "1 days left" --------------------------------------------------------------------------------------------
async def test_the_summary_the_day_before_the_end_says_1_day_left_and_1_hour(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """On Jun 29 (the program ends Jun 30) the coordinator's summary reads "1 days left" and, with one hour-long
    meeting logged, "1 mentoring hours"."""
    _, pairing_id = last_years_pair(engine, emulator, clock)
    await tick(runtime)  # the intro goes out
    settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        session.add(
            CheckIn(pairing_id=pairing_id, logged_by=MENTEE, met_on=date(2025, 6, 11), duration_minutes=60,
                    idempotency_key=f"{pairing_id}:2025-06-11")
        )  # fmt: skip
    clock.set(datetime(2025, 6, 29, 18, tzinfo=UTC))  # Sunday Jun 29, 11 AM in Los Angeles
    body = slack.admin(ADMIN_ID, "summary").json()
    read = body.get("text", "") + "\n" + block_texts(body["blocks"])
    assert "day left" in read and "mentoring hour" in read, read
    assert "1 days left" not in read and "1 mentoring hours" not in read, read


# -- 6. "waiting for your coordinator's approval" after the coordinator approved ----------------------------------
async def test_status_does_not_call_an_approved_match_waiting_for_approval(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The coordinator pairs the two on Friday at 6:30 PM; the intro waits for Monday morning. Over the weekend
    the mentor's `/mentor status` names her mentee and, in the same card, says "You have a proposed match waiting
    for your coordinator's approval": the coordinator already approved it; she is waiting for the introduction."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            person(session, uid, LA)
            enroll(session, program, uid, role)
    friday_evening = datetime(2025, 2, 22, 2, 30, tzinfo=UTC)  # Friday Feb 21, 6:30 PM in Los Angeles
    clock.set(friday_evening)
    pairing_id = hand_pair(engine, program, MENTOR, MENTEE, friday_evening)
    await tick(runtime)  # the intro is queued for Monday's working hours
    with session_scope(engine) as session:
        assert session.get(Pairing, pairing_id).status == "proposed"
        assert [d.kind for d in session.exec(select(Delivery)) if d.status != "sent"] == ["intro"]

    card = block_texts(slack.mentor(MENTOR, "status").json()["blocks"])
    assert f"<@{MENTEE}>" in card, card
    assert "waiting for your coordinator's approval" not in card, card
    assert f"You've been matched with <@{MENTEE}>" in card and "introduce you" in card, card


# -- 7. the audit trail in UTC, with pairing numbers -------------------------------------------------------------
def test_the_audit_trail_shows_local_times_and_who_was_paired(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A coordinator in Los Angeles approves a pair at 9:00 AM and reads in `/mentor-admin audit`
    "2025-01-15 17:00 UTC: @Casey approved a pairing in PLSEP Mentorship 2025 (pairing #1)": the hour is
    eight hours off her clock and the pairing is a number she has never seen."""
    pairing = a_proposed_pair(slack, emulator, engine)
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(pairing.id), channel_id=ADMIN_CHANNEL)
    answer_to(slack, emulator)
    trail = block_texts(slack.admin(ADMIN_ID, "audit").json()["blocks"])
    [line] = [x for x in trail.splitlines() if "approved a pairing" in x]
    assert "UTC" not in line, line
    assert f"<@{SCHOOL_MENTOR}>" in line and f"<@{LIBRARIAN}>" in line, line


# -- 8. Reject without a confirmation ----------------------------------------------------------------------------
def test_rejecting_a_proposed_pair_asks_for_confirmation(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """The red *Reject* button sits next to *Approve* under every proposed pair; one mis-tap on a phone rejects the
    pair for good (matching never proposes the two again) without a "are you sure?". *Dissolve* and *Approve
    all* ask first; *Reject* should too."""
    a_proposed_pair(slack, emulator, engine)
    [reject] = [b for b in buttons(preview_post(emulator)) if b["action_id"] == "shelfmate_reject_pair"]
    assert reject.get("style") == "danger"
    assert "confirm" in reject, reject


# -- 9. two identical buttons for a long program name -------------------------------------------------------------
def test_choosing_which_profile_to_edit_in_a_long_named_program_shows_two_different_buttons(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A librarian is both a mentor and a mentee in a program with a 94-character name. `/mentor profile` asks
    which profile to edit with two buttons that both read "Southern California School and Public Library Staff
    Peer Mentoring Prog": the part that tells them apart was cut off."""
    make_program(engine, name=LONG_NAME)
    emulator.add_user(LIBRARIAN, name="dana", real_name="Dana Reyes")
    join(slack, emulator, LIBRARIAN, "join mentor", role="mentor", years_experience="10", capacity="1")
    join(slack, emulator, LIBRARIAN, "join mentee")
    slack.mentor(LIBRARIAN, "profile")
    choice = answer_to(slack, emulator)
    labels = [b["text"]["text"] for b in buttons(choice)]
    assert len(labels) == 2, labels
    assert len(set(labels)) == 2, labels


# -- 10. internal ids in the intro and the preview's reasons --------------------------------------------------------
async def test_the_intro_and_the_preview_describe_people_in_words_not_internal_ids(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime
) -> None:
    """Two middle-school librarians are matched. The preview says "Works with the grade levels Dana Reyes serves:
    middle" (the form offered "Middle school (6-8)"), and the welcome message, the first thing the pair reads,
    repeats it and ends each person's line with "America/Los_Angeles", a time zone id. Both should read the way
    the form and people say them ("Middle school (6-8)", "Pacific time") or be left out."""
    pairing = a_proposed_pair(slack, emulator, engine)
    reasons = shown(preview_post(emulator))
    assert "grade levels" in reasons, reasons
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(pairing.id), channel_id=ADMIN_CHANNEL)
    answer_to(slack, emulator)
    await tick(runtime)  # Wednesday Jan 15, 9 AM in Los Angeles: the intro goes out
    [intro] = wait_for(
        lambda: [shown(m) for m in emulator.messages_in(conversation_of(engine, pairing.id)) if "Welcome" in shown(m)],
        what="the intro",
    )
    assert f"<@{SCHOOL_MENTOR}>" in intro and f"<@{LIBRARIAN}>" in intro, intro
    for read in (reasons, intro):
        assert not re.search(r"grade levels [^\n]*: middle\b", read), read
    assert "America/Los_Angeles" not in intro, intro


# -- also noticed in the review ------------------------------------------------------------------------------------
def test_the_summary_says_in_words_why_someone_cant_be_reached_and_names_the_months(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """The coordinator's summary read "Can't reach: @x (account_inactive)", a trend of "03: 67% → 04: 0%", and,
    before anyone rated a meeting, "average rating no ratings yet"."""
    clock.set(REPORTS_NOW)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    build_known_state(engine)  # U0E3's account was deactivated; meetings from March to May
    read = block_texts(slack.admin(ADMIN_ID, "summary").json()["blocks"])
    assert "<@U0E3> (account deactivated)" in read, read
    assert "account_inactive" not in read, read
    assert "Trend: Mar: 67% → Apr: 0% → May: 33%" in read, read

    from bot.services.reports import ProgramSummary
    from bot.views.summary import summary_blocks, summary_text

    unrated = ProgramSummary(program_id=1, program_name="PLSEP 2025", today=date(2025, 5, 20), days_left=41)
    unrated.checkins, unrated.total_hours = 2, 1.5
    unrated.unreachable = [("U0GONE1", "cannot_dm_bot"), ("U0GONE2", "messages_tab_disabled")]
    read = block_texts(summary_blocks(unrated))
    assert "*Check-ins*: 2 · 1.5 mentoring hours · no ratings yet" in read, read
    assert "average rating no ratings" not in read, read
    assert "cannot_dm_bot" not in read and "messages_tab_disabled" not in read, read
    assert "<@U0GONE1> (can't receive DMs from apps)" in read, read

    # Jun 30, the program's last day: not "0 days left".
    last_day = ProgramSummary(program_id=1, program_name="PLSEP 2025", today=date(2025, 6, 30), days_left=0)
    read = block_texts(summary_blocks(last_day)) + "\n" + summary_text(last_day)
    assert "0 days left" not in read and "last day of the program" in read, read


async def test_the_cant_reach_alert_says_in_words_what_slack_refused(
    emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The alert read "(Slack says `account_inactive`)": a code, where "account deactivated" says it all."""
    last_years_pair(engine, emulator, clock)
    emulator.deactivate_user(MENTEE)
    await tick(runtime)  # the intro is refused by Slack
    await tick(runtime)  # the report reaches the admin channel
    [alert] = wait_for(
        lambda: [shown(m) for m in emulator.messages_in(ADMIN_CHANNEL) if "can't reach" in shown(m)],
        what="the can't-reach alert",
    )
    assert "account deactivated" in alert and "the introduction was not delivered" in alert, alert
    assert "`" not in alert and "Slack says" not in alert, alert


def test_deadlines_name_the_programs_time_zone_as_people_say_it(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """A librarian who tries to join a day late reads "closed on Feb 17, 2025 at 11:59 PM
    (America/Los_Angeles)"; the reminder before the deadline says the same. "Pacific time" is how people say it."""
    make_program(engine)
    emulator.add_user(LIBRARIAN, name="dana", real_name="Dana Reyes")
    clock.set(datetime(2025, 2, 18, 17, tzinfo=UTC))  # Feb 18, 9 AM in Los Angeles: a day late
    slack.mentor(LIBRARIAN, "join")
    refusal = answer_to(slack, emulator)["text"]
    assert "closed on Feb 17, 2025 at 11:59 PM Pacific time." in refusal, refusal
    assert "America/" not in refusal, refusal

    _, blocks = render_delivery(
        "applications_closing",
        {"program": "PLSEP Mentorship 2025", "closes": "2025-02-17", "timezone": "America/Los_Angeles"},
    )
    reminder = block_texts(blocks)
    # The same sentence as the refusal, year and all (it said "Feb 17" alone, from a second formatter).
    assert "close on Feb 17, 2025 at 11:59 PM Pacific time." in reminder, reminder
    assert "America/" not in reminder, reminder


def test_a_long_rematch_reason_full_of_quotes_can_still_be_sent_about_one_pairing(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Bea has two partners, so `/mentor rematch` first asks which pairing it is about, with a button per
    pairing. Each button carried her reason JSON-encoded: a 1,000-character reason full of quotes doubled in
    length past Slack's 2,000-character limit for a button's value, and she got an error instead of the choice."""
    bea_with_two_partners(engine, emulator, clock, one_program=False)
    reason = '"\\' * 499 + "!?"  # quotes and backslashes: each doubles in JSON
    assert len(reason) == 1000

    offer = slack.mentor(BOTH, f"rematch {reason}").json()
    assert "Which pairing" in offer.get("text", ""), offer
    [value] = [
        b["accessory"]["value"]
        for b in offer["blocks"]
        if (b.get("accessory") or {}).get("action_id") == ids.ACTION_REMATCH_CHOICE
        and f"<@{YARA}>" in b["text"]["text"]
    ]
    assert len(value) <= 2000
    slack.block_action(BOTH, ids.ACTION_REMATCH_CHOICE, value, message_ts="1741197600.000100")
    said = answer_to(slack, emulator)["text"]
    assert "Thanks for telling us" in said, said
    [told] = wait_for(
        lambda: [shown(m) for m in emulator.messages_in(OTHER_ADMIN_CHANNEL) if "not working" in shown(m)],
        what="the rematch request in the other program's channel",
    )
    assert reason in told, told  # every word of it, not cut to fit a button


def test_two_long_named_programs_can_be_told_apart_in_the_join_forms_picker(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """This year's cohort and next year's are both taking applications. The join form's program picker cut both
    names at 75 characters, so the two options read the same and the year that told them apart was gone."""
    make_program(engine, name=LONG_NAME)
    make_program(engine, name=LONG_NAME.replace("2025", "2026"))
    emulator.add_user(LIBRARIAN, name="dana", real_name="Dana Reyes")
    slack.mentor(LIBRARIAN, "join")
    view = opened_view(emulator)
    [picker] = [b["element"] for b in view["blocks"] if b.get("block_id") == "program_id"]
    labels = [o["text"]["text"] for o in picker["options"]]
    assert len(labels) == 2 and all(len(label) <= 75 for label in labels), labels
    assert any(label.endswith("2025") for label in labels) and any(label.endswith("2026") for label in labels), labels


def make_program_row(program_id: int, name: str) -> Program:
    """A program as the views get it, not stored."""
    return Program(
        id=program_id, name=name, applications_close=date(2025, 2, 17), agreement_due=date(2025, 3, 1),
        starts_on=date(2025, 3, 1), ends_on=date(2025, 6, 30),
    )  # fmt: skip


def test_the_check_in_form_tells_apart_one_partner_met_in_two_programs() -> None:
    """Dana mentors Morgan in one program and is Morgan's mentee in another: "Who did you meet?" offered
    "With Morgan Lee" twice."""
    from bot.services.agreements import PairView
    from bot.views.pairs import checkin_modal

    def pairing_with_morgan(pairing_id: int, program_name: str, role: str) -> PairView:
        program = make_program_row(pairing_id, program_name)
        pairing = Pairing(id=pairing_id, program_id=program.id, mentor_enrollment_id=1, mentee_enrollment_id=2,
                          status="active")  # fmt: skip
        mentor, mentee = (LIBRARIAN, SCHOOL_MENTOR) if role == "mentor" else (SCHOOL_MENTOR, LIBRARIAN)
        return PairView(pairing, program, LIBRARIAN, role, SCHOOL_MENTOR, mentor, mentee, partner_name="Morgan Lee")

    modal = checkin_modal(
        [pairing_with_morgan(1, "PLSEP Mentorship 2025", "mentor"), pairing_with_morgan(2, "ALC Leaders", "mentee")],
        date(2025, 3, 12),
    )
    [picker] = [b["element"] for b in modal["blocks"] if b.get("block_id") == "pairing_id"]
    labels = [o["text"]["text"] for o in picker["options"]]
    assert labels == ["With Morgan Lee in PLSEP Mentorship 2025", "With Morgan Lee in ALC Leaders"], labels


def test_counts_of_one_read_as_one_in_the_program_list_and_the_status(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A new program with one mentor and one mentee: `/mentor-admin program list` said "1 mentors, 1 mentees",
    and `/mentor status` announced "You have 1 mentoring enrollment(s).\""""
    make_program(engine)
    emulator.add_user(SCHOOL_MENTOR, name="morgan", real_name="Morgan Lee")
    emulator.add_user(LIBRARIAN, name="dana", real_name="Dana Reyes")
    join(slack, emulator, SCHOOL_MENTOR, "join mentor", role="mentor", years_experience="12", capacity="1")
    join(slack, emulator, LIBRARIAN, "join mentee")
    listed = block_texts(slack.admin(ADMIN_ID, "program list").json()["blocks"])
    assert "1 mentor, 1 mentee" in listed, listed
    status = slack.mentor(LIBRARIAN, "status").json()["text"]
    assert "(s)" not in status and "mentee in PLSEP Mentorship 2025" in status, status

"""A school year read by a new school librarian (the only one in her building), her mentor from the neighbouring
district and the district's coordinator, as found in a product review: each test is something one of them would
have noticed. The seed says a pair should settle how often they meet, whether the mentor is "on call" during
school hours, whether chat outside school hours is fine, and their boundaries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.runtime import Runtime
from tests.factories import each_shown, introduce_pair, shown_text, ticks_at
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import opened_view
from tests.test_scheduler import log_meeting
from tests.test_school_year_journeys import ADMIN_CHANNEL, _neighbouring_districts_paired, _school_year

MENTOR = "U0MARISOL"  # six years in a Lakeview USD school library
LIBRARIAN = "U0JUNIPER"  # new, and the only librarian in her Hillcrest USD elementary school
INTRODUCED = datetime(2025, 9, 10, 17, 0, tzinfo=UTC)  # Wednesday, 10 AM Pacific


def _radio(value: str) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


def _agreement_form(cadence: str, on_call: str, after_hours: str, boundaries: str) -> dict[str, Any]:
    return {
        "cadence": {"cadence": {"type": "static_select", "selected_option": {"value": cadence}}},
        "mentor_on_call": {"mentor_on_call": _radio(on_call)},
        "after_hours_ok": {"after_hours_ok": _radio(after_hours)},
        "boundaries": {"boundaries": _radio(boundaries)},
        "first_meeting_on": {"first_meeting_on": {"type": "datepicker", "selected_date": None}},
    }


async def _introduced(engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock) -> tuple[int, str]:
    """Hillcrest USD's school year, Marisol (Lakeview USD) paired with Juniper and introduced: (pairing, DM)."""
    program = _school_year(engine, emulator)
    clock.set(INTRODUCED)
    pairing_id = _neighbouring_districts_paired(engine, emulator, program, MENTOR, LIBRARIAN, INTRODUCED)
    return pairing_id, await introduce_pair(emulator, runtime, clock, MENTOR, LIBRARIAN)


def _settle_in_slack(slack: SlackDriver, emulator: SlackEmulator, pairing_id: int, conversation: str) -> None:
    """Juniper presses "Set up our agreement" and proposes; Marisol presses Accept on the proposal."""
    opened = len(emulator.calls_to("views.open"))
    slack.block_action(LIBRARIAN, "shelfmate_open_agreement", str(pairing_id), channel_id=conversation)
    view = opened_view(emulator, opened)
    form = _agreement_form("biweekly", on_call="yes", after_hours="no", boundaries="professional")
    slack.view_submission(
        LIBRARIAN, view["callback_id"], form, private_metadata=view["private_metadata"], view_hash="agreement.1"
    )
    proposal = wait_for(
        lambda: [
            m for m in emulator.messages_in(conversation) if "proposed your mentoring agreement" in shown_text([m])
        ],
        what="the proposal in the pair's DM",
    )[-1]
    [accept] = [
        e["value"]
        for b in proposal["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "shelfmate_accept_agreement"
    ]
    slack.block_action(MENTOR, "shelfmate_accept_agreement", accept, channel_id=conversation)
    wait_for(
        lambda: [m for m in emulator.messages_in(conversation) if "Agreement settled" in shown_text([m])],
        what="the settled agreement in the pair's DM",
    )


def _home_tab(slack: SlackDriver, emulator: SlackEmulator, user_id: str) -> str:
    before = len([c for c in emulator.calls_to("views.publish") if c.arg("user_id") == user_id])
    assert slack.app_home_opened(user_id).status_code == 200
    published = wait_for(
        lambda: [c for c in emulator.calls_to("views.publish") if c.arg("user_id") == user_id][before:],
        what="the Home tab",
    )
    return shown_text([{"blocks": published[-1].arg("view")["blocks"]}])


def _status(slack: SlackDriver, user_id: str) -> str:
    answer = slack.mentor(user_id, "status").json()
    return shown_text([answer])


# -- 1. what the pair agreed is shown back ------------------------------------------------------------------------
async def test_the_home_tab_and_status_show_back_what_the_pair_agreed(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Juniper and Marisol settled: every two weeks, Marisol on call during the day, no chat after hours,
    professional topics only. The terms were posted once in their DM; afterwards the Home tab and `/mentor status`
    said only "You're all set with Marisol", so in November Juniper could not look up whether Marisol had agreed
    to be on call (the only place left was the agreement form, which proposes a change). Both should show the
    terms in force."""
    pairing_id, conversation = await _introduced(engine, emulator, runtime, clock)
    _settle_in_slack(slack, emulator, pairing_id, conversation)

    for shown in (_home_tab(slack, emulator, LIBRARIAN), _status(slack, LIBRARIAN), _home_tab(slack, emulator, MENTOR)):
        assert "every two weeks" in shown, shown
        assert "Mentor on call during work hours: yes" in shown, shown
        assert "Chat outside work hours (9 AM - 5 PM on weekdays): no, work hours only" in shown, shown
        assert "Professional library topics only" in shown, shown


# -- 2. reminders speak of the pair's own two weeks, not of "this period" -------------------------------------------
async def test_a_biweekly_pairs_reminders_say_these_two_weeks_not_this_period(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Juniper and Marisol agreed to meet every two weeks. Their nudge said "no meeting is logged yet for this
    period (until Sep 21)" and then "did you meet this period?": in a school a period is a class period, and
    nothing they were told names any other. The Home tab said "not yet this fortnight", a word American school
    librarians do not use. Each should name the pair's own stretch: these two weeks, until Sep 21."""
    pairing_id, conversation = await _introduced(engine, emulator, runtime, clock)
    _settle_in_slack(slack, emulator, pairing_id, conversation)
    before = len(emulator.messages_in(conversation))
    # Mon Sep 15 (the nudge, mid-way through Sep 8-21) and Fri Sep 19 ("Did you meet?"), 10:05 AM Pacific.
    await ticks_at(runtime, clock, datetime(2025, 9, 15, 17, 5, tzinfo=UTC), datetime(2025, 9, 19, 17, 5, tzinfo=UTC))

    reminders = each_shown(emulator.messages_in(conversation)[before:])
    assert [r.splitlines()[0] for r in reminders] == ["A friendly nudge to meet", "Did you meet?"], reminders
    for reminder in reminders:
        assert "period" not in reminder, reminder
        assert "these two weeks (until Sep 21)" in reminder, reminder
    log_meeting(engine, pairing_id, date(2025, 9, 19), LIBRARIAN)
    home = _home_tab(slack, emulator, LIBRARIAN)
    assert f"<@{MENTOR}>: met these two weeks (last on Sep 19, 2025)" in home, home


# -- 3. the pair is told when the program pauses for school breaks ------------------------------------------------
async def test_the_introduction_tells_the_pair_about_the_programs_school_breaks(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The coordinator entered winter break (Dec 22 - Jan 2) and spring break (Mar 30 - Apr 3): no reminders
    then, and a stretch mostly in a break is not counted as missed. The pair was never told: the introduction's
    calendar said only "program runs Sep 8 - Jun 12 · meet at least monthly", so Juniper would wonder whether
    she must find a meeting over winter break. The introduction should name the breaks."""
    _, conversation = await _introduced(engine, emulator, runtime, clock)
    [intro] = [m for m in each_shown(emulator.messages_in(conversation)) if "Welcome to" in m]
    assert "program runs Sep 8 - Jun 12" in intro, intro
    assert "Dec 22 - Jan 2" in intro and "Mar 30 - Apr 3" in intro, intro
    assert "no reminders" in intro, intro


# -- 4. "work hours" is said in hours -----------------------------------------------------------------------------
async def test_the_agreement_form_says_which_hours_count_as_work_hours(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The agreement form asks whether the mentor is on call "during work hours" and promises "if you say no to
    chat outside work hours, I won't message you outside them either", but never says which hours those are. A
    school librarian's day runs from about 7:30 to 3:30; the bot's are 9 AM to 5 PM on weekdays, in each person's
    own time zone. The form should say so before the pair chooses."""
    pairing_id, conversation = await _introduced(engine, emulator, runtime, clock)
    opened = len(emulator.calls_to("views.open"))
    slack.block_action(LIBRARIAN, "shelfmate_open_agreement", str(pairing_id), channel_id=conversation)
    form = shown_text([{"blocks": opened_view(emulator, opened)["blocks"]}])
    assert "9 AM" in form and "5 PM" in form and "Monday to Friday" in form, form
    assert "your own time zone" in form, form


# -- 5. "Not yet" answers in the pair's own stretch too -------------------------------------------------------------
async def test_not_yet_on_the_last_school_day_of_two_weeks_speaks_of_these_two_weeks(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Juniper presses *Not yet* on Friday Sep 19, the last school day of their two weeks: the answer said "This
    period is nearly over", the one "period" left after the reminders learned to say "these two weeks"."""
    pairing_id, conversation = await _introduced(engine, emulator, runtime, clock)
    _settle_in_slack(slack, emulator, pairing_id, conversation)
    clock.set(datetime(2025, 9, 19, 17, 5, tzinfo=UTC))

    slack.block_action(LIBRARIAN, "shelfmate_not_yet", str(pairing_id), channel_id=conversation)
    answer = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")[-1]["text"]
    assert "These two weeks are nearly over" in answer, answer
    assert "period" not in answer, answer


# -- 6. the card says the program is over ----------------------------------------------------------------------
async def test_after_the_school_year_her_status_says_the_program_ended_not_matched(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """In July Juniper's `/mentor status` still read "Mentee · Matched", as if the pairing were running, above
    "Next: The program ended on Jun 12, 2026". The card should say the program ended, and still name Marisol."""
    await _introduced(engine, emulator, runtime, clock)
    clock.set(datetime(2026, 7, 6, 17, 0, tzinfo=UTC))

    shown = _status(slack, LIBRARIAN)
    assert "Mentee · Program ended" in shown, shown
    assert "Matched" not in shown, shown
    assert f"<@{MENTOR}>" in shown and "ended on Jun 12, 2026" in shown, shown


async def test_a_quiet_biweekly_pair_is_an_alert_when_it_goes_quiet_then_at_most_one_a_month(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Juniper and Marisol agreed to meet every two weeks and then never logged a meeting. The coordinator got
    "A pair is at risk" every other Monday (Oct 6, Oct 20, Nov 3, Nov 17, Dec 1) besides the weekly digest that
    lists them too. She hears when they go quiet, then once a month while they stay quiet, as for a monthly pair."""
    pairing_id, conversation = await _introduced(engine, emulator, runtime, clock)
    _settle_in_slack(slack, emulator, pairing_id, conversation)
    alerted_on: list[date] = []
    alerts: list[dict[str, Any]] = []
    for monday in [datetime(2025, 9, 15, 17, 5, tzinfo=UTC) + timedelta(weeks=n) for n in range(12)]:  # to Dec 1
        await ticks_at(runtime, clock, monday)
        new = [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("text", "").endswith("at risk")][len(alerts) :]
        alerts += new
        alerted_on += [monday.date()] * len(new)

    assert alerted_on == [date(2025, 10, 6), date(2025, 11, 3)], shown_text(alerts)
    assert "missed 2 periods in a row" in shown_text(alerts[:1]) and "missed 4" in shown_text(alerts[1:])

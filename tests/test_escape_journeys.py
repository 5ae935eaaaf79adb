"""Refusals and answers composed outside the views quoted a program's name as mrkdwn: a coordinator who named
the program "Teens <&> Tweens <!channel>" had the channel pinged by Shelfmate's own refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.mrkdwn import escape
from storage.engine import session_scope
from tests.conftest import ADMIN_ID
from tests.factories import make_program, stored_pairing
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_leftover2_journeys import ESCAPED_NAME, MARKED_NAME, naming_the_program
from tests.test_scheduler import enroll, person

BO, ANA, NEWCOMER = "U0ESCBO", "U0ESCANA", "U0ESCNEW"


def _answer(slack: SlackDriver, emulator: SlackEmulator, response: Any) -> list[Any]:
    """A slash command's answer: the ack's body and whatever went to its response_url. An empty ack means the
    answer comes later by response_url: waited for, since a loaded machine may not have started sending it."""
    acked = response.json() if response.content else {}
    if not acked.get("text") and not acked.get("blocks"):
        wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer by response_url")
    emulator.wait_idle()
    return [acked, *emulator.responses_to(slack.last_response_url)]


def test_refusals_that_name_a_program_with_markup_neither_ping_nor_link(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Applications closed Feb 17. A librarian tries to join on the 20th; the coordinator pairs and unpairs two
    people who are not in the program, names a program that does not exist, and after the program ended asks
    for a match preview. Every refusal names the program as typed, and none pings the channel."""
    make_program(engine, name=MARKED_NAME)
    typed = escape(MARKED_NAME)  # Slack sends a slash command's &, < and > escaped
    emulator.add_user(NEWCOMER, name="nell", real_name="Nell Newcomer", tz="America/Los_Angeles")
    answers: list[Any] = []
    clock.set(datetime(2025, 2, 20, 18, tzinfo=UTC))
    answers += _answer(slack, emulator, slack.mentor(NEWCOMER, "join"))
    for sub in ("pair", "unpair"):
        answers += _answer(slack, emulator, slack.admin(ADMIN_ID, f"{sub} <@{BO}|bo> <@{ANA}|ana> {typed}"))
    answers += _answer(slack, emulator, slack.admin(ADMIN_ID, "match preview Tweens Club"))
    clock.set(datetime(2025, 7, 10, 18, tzinfo=UTC))
    answers += _answer(slack, emulator, slack.admin(ADMIN_ID, f"match preview {typed}"))
    answers += _answer(slack, emulator, slack.admin(ADMIN_ID, f"pair <@{BO}|bo> <@{ANA}|ana> {typed}"))

    naming, raw = naming_the_program(emulator, answers)
    assert len(naming) >= 6, naming
    assert raw == [], ("the program's name was quoted as mrkdwn", *raw)
    assert all(ESCAPED_NAME in text for text in naming), naming


def test_a_rematch_and_a_pause_answer_name_a_program_with_markup_as_typed(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Casey, the only coordinator, mentors Ana. Ana asks for a rematch (Shelfmate will not pass it on to the
    partner it is about, and says so naming the program), then pauses: both answers name the program as typed."""
    program = make_program(engine, name=MARKED_NAME)
    emulator.add_user(ANA, name="ana", real_name="Ana Mentee", tz="America/Los_Angeles")
    with session_scope(engine, write=True) as session:
        person(session, ADMIN_ID)
        person(session, ANA)
        mentor = enroll(session, program, ADMIN_ID, "mentor", status="matched")
        mentee = enroll(session, program, ANA, "mentee", status="matched")
        stored_pairing(session, mentor, mentee, datetime(2025, 3, 3, 18, tzinfo=UTC))
    clock.set(datetime(2025, 4, 10, 18, tzinfo=UTC))
    answers: list[Any] = []
    answers += _answer(slack, emulator, slack.mentor(ANA, "rematch our schedules never line up"))
    answers += _answer(slack, emulator, slack.mentor(ANA, "pause"))

    naming, raw = naming_the_program(emulator, answers)
    assert any("only coordinator" in text for text in naming), naming
    assert raw == [], ("the program's name was quoted as mrkdwn", *raw)
    assert all(ESCAPED_NAME in text for text in naming), naming

"""Refusals and answers composed outside the views quoted a program's name as mrkdwn: a coordinator who named
the program "Teens <&> Tweens <!channel>" had the channel pinged by Shelfmate's own refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.views.common import escape
from tests.conftest import ADMIN_ID
from tests.factories import make_program
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_leftover2_journeys import ESCAPED_NAME, MARKED_NAME, everything_said

BO, ANA, NEWCOMER = "U0ESCBO", "U0ESCANA", "U0ESCNEW"


def _answer(slack: SlackDriver, emulator: SlackEmulator, response: Any) -> list[Any]:
    """A slash command's answer: the ack's body and whatever went to its response_url."""
    emulator.wait_idle()
    return [response.json() if response.content else {}, *emulator.responses_to(slack.last_response_url)]


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

    said = everything_said(emulator, answers)
    naming = [text for text in said if "Tweens" in text]
    assert len(naming) >= 6, said
    raw = [text for text in naming if "<!channel>" in text or "<&>" in text]
    assert raw == [], ("the program's name was quoted as mrkdwn", *raw)
    assert all(ESCAPED_NAME in text for text in naming), naming

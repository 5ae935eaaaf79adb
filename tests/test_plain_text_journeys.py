"""Text Slack shows as plain text must read as typed.

A modal's form errors (`response_action: "errors"`) and every `plain_text` object (titles, labels, hints,
placeholders, headers, button and option texts) are shown literally: mrkdwn markup there shows as `&lt;`,
asterisks, backticks and raw `<@U…>` / `<#C…>` references. The join form's refusals were composed as mrkdwn
and shown so when a program closed, or its channel rule changed, while someone's form was open.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from tests.factories import intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator

LIB = "U0PLAIN01"
TYPED_NAME = "Tweens <&> Teens"
# What plain text must never show: mrkdwn escapes, emphasis markers, code spans and raw references.
MARKUP = ("&lt;", "&gt;", "&amp;", "<@", "<#", "<!", "*", "`")
OPEN = datetime(2025, 2, 18, 7, 59, 30, tzinfo=UTC)  # 11:59 PM on Feb 17 in Los Angeles: still open
CLOSED = datetime(2025, 2, 18, 8, 0, 30, tzinfo=UTC)  # a minute later: applications have closed


def _librarian(emulator: SlackEmulator) -> str:
    emulator.add_user(LIB, name="dana", real_name="Dana Reyes", tz="America/Los_Angeles", tz_offset=-28800)
    return LIB


def _open_join_form(slack: SlackDriver, emulator: SlackEmulator, user: str) -> dict[str, Any]:
    emulator.reset_calls()
    assert slack.mentor(user, "join mentee").status_code == 200
    wait_for(lambda: emulator.calls_to("views.open"), what="the join form")
    return emulator.calls_to("views.open")[-1].arg("view")


def _submit(slack: SlackDriver, user: str, view: dict[str, Any]) -> dict[str, str]:
    """The form errors Slack is asked to show under the modal's fields."""
    answer = slack.view_submission(user, view["callback_id"], intake_state(), private_metadata=view["private_metadata"])
    body = answer.json()
    assert body.get("response_action") == "errors", answer.text
    return body["errors"]


def _markup_in(text: str) -> list[str]:
    return [markup for markup in MARKUP if markup in text]


def test_a_program_that_closes_while_the_join_form_is_open_is_named_as_typed_in_the_form_error(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Dana opens the join form a minute before "Tweens <&> Teens" closes and presses Apply a minute after: the
    form says applications closed, naming the program as the coordinator typed it, without mrkdwn markup."""
    make_program(engine, name=TYPED_NAME)
    user = _librarian(emulator)
    clock.set(OPEN)
    view = _open_join_form(slack, emulator, user)
    clock.set(CLOSED)

    errors = _submit(slack, user, view)
    shown = " ".join(errors.values())
    assert "closed on Feb 17, 2025" in shown, errors
    assert f"Applications for {TYPED_NAME} closed" in shown, errors
    assert _markup_in(shown) == [], errors


def test_a_channel_rule_that_shuts_someone_out_while_the_form_is_open_names_program_and_channel_readably(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """ "Tweens <&> Teens" is open to #teen-services; Dana, a member, opens the join form and then leaves the
    channel. Pressing Apply tells her, in the form, the program and the channel by the names she knows."""
    make_program(engine, name=TYPED_NAME, eligibility="channel", eligibility_channel="C0TEENS01")
    user = _librarian(emulator)
    emulator.add_channel("C0TEENS01", "teen-services", members=[user])
    clock.set(OPEN)
    view = _open_join_form(slack, emulator, user)
    emulator.add_channel("C0TEENS01", "teen-services", members=[])

    errors = _submit(slack, user, view)
    shown = " ".join(errors.values())
    assert f"{TYPED_NAME} is open to members of #teen-services" in shown, errors
    assert "/mentor join" in shown, errors
    assert _markup_in(shown) == [], errors
    assert "C0TEENS01" not in json.dumps(errors), errors

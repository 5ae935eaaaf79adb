"""What a coordinator is told when the admin channel refuses the summary, the export or the match preview:
the reason in words and the way out that fits it, never Slack's error code nor an invite for an archived
channel (an invitation cannot unarchive it)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from tests.conftest import ADMIN_ID
from tests.factories import shown_text
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_admin_reports import ADMIN_CHANNEL, NOW, build_known_state


def _answer_after(slack: SlackDriver, emulator: SlackEmulator, command: str) -> str:
    assert slack.admin(ADMIN_ID, command).status_code == 200
    url = slack.last_response_url
    said = wait_for(lambda: [m for m in emulator.responses_to(url) if "couldn't" in shown_text([m])])
    return shown_text(said)


def test_an_archived_admin_channel_is_named_as_archived_with_the_way_out(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    clock.set(NOW)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id], is_archived=True)
    build_known_state(engine)
    said = _answer_after(slack, emulator, "summary")
    assert "archived" in said and "/mentor-admin program edit" in said, said
    assert "/invite" not in said and "is_archived" not in said, said


@pytest.mark.parametrize(
    ("command", "problem", "words"),
    [
        ("summary", "not_in_channel", "I'm not in it"),
        ("export participants", "not_in_channel", "I'm not in it"),
        ("export hours", "channel_not_found", "I can't see it"),
    ],
)
def test_an_admin_channel_shelfmate_cannot_use_asks_for_an_invitation_in_words(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    clock: FixedClock,
    command: str,
    problem: str,
    words: str,
) -> None:
    clock.set(NOW)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    method = "chat.postMessage" if command == "summary" else "files.completeUploadExternal"
    emulator.fail(method, error=problem, times=None, match=lambda args: ADMIN_CHANNEL in json.dumps(args))
    build_known_state(engine)
    said = _answer_after(slack, emulator, command)
    assert words in said and "/invite @Shelfmate" in said and "/mentor-admin program edit" in said, said
    assert problem not in said, said

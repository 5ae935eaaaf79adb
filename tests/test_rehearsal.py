"""Rehearsal mode (SHELFMATE_CLOCK=rehearsal): every message the bot posts and the Home tab say REHEARSAL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from storage import queries
from storage.engine import session_scope
from tests.app_server import AppServer
from tests.conftest import ADMIN_ID, SIGNING_SECRET
from tests.factories import block_texts, make_program
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join, wait_for

ADMIN_CHANNEL = "C0ADMINS01"


@pytest.fixture
def rehearsal_slack(settings: Settings, engine: Engine, emulator: SlackEmulator) -> Iterator[SlackDriver]:
    with session_scope(engine, write=True) as session:
        queries.set_rehearsal_now(session, datetime(2025, 1, 20, 18, tzinfo=UTC))
    rehearsal = dataclasses.replace(settings, clock_mode="rehearsal")
    runtime = create_runtime(rehearsal, engine=engine, clock=FixedClock(datetime(2025, 1, 20, 18, tzinfo=UTC)))
    server = AppServer(runtime).start()
    driver = SlackDriver(server.url, SIGNING_SECRET, issue_trigger_id=emulator.issue_trigger_id)
    yield driver
    driver.close()
    server.stop()


def test_in_rehearsal_every_post_and_the_home_tab_say_so(
    rehearsal_slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user("U0MENTORA", name="a")
    emulator.add_user("U0MENTEE1", name="b")
    join(rehearsal_slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="9", organization="X")
    join(rehearsal_slack, emulator, "U0MENTEE1", "join mentee")
    rehearsal_slack.admin(ADMIN_ID, "pair <@U0MENTORA> <@U0MENTEE1>")
    rehearsal_slack.mentor("U0MENTEE1", "rematch our schedules never line up")  # a coordinator alert
    rehearsal_slack.app_home_opened("U0MENTEE1")

    home = wait_for(lambda: emulator.calls_to("views.publish"))[-1].arg("view")
    assert "REHEARSAL" in block_texts(home["blocks"])
    # The mentee's application confirmation (join resets the record first) and the coordinator alert.
    wait_for(lambda: len([c for c in emulator.calls_to("chat.postMessage") if c.ok]) >= 2)
    posts = [c for c in emulator.calls_to("chat.postMessage") if c.ok]
    assert {c.arg("channel") for c in posts} >= {"U0MENTEE1", ADMIN_CHANNEL}
    for call in posts:
        assert call.arg("text").startswith("[REHEARSAL] "), call.arg("text")
        assert "REHEARSAL" in block_texts(call.arg("blocks") or [])

"""Small gaps left after the ended-program and coordinator-scope reviews: each test is something a librarian or a
coordinator would have noticed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import CheckIn, Pairing
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_ended_program_journeys import LATE_MENTEE, paired_late
from tests.test_second_year_journeys import DAY_AFTER_THE_END, LAST_YEAR, MENTOR, checkin_state


def form_or_answer(slack: SlackDriver, emulator: SlackEmulator) -> str:
    """Wait for the request just sent to open a form or answer; the answer's text ("" if a form opened)."""
    url = slack.last_response_url
    wait_for(lambda: emulator.calls_to("views.open") or emulator.responses_to(url), what="a form or an answer")
    return " ".join(r.get("text", "") for r in emulator.responses_to(url))


# -- 1. a pair never introduced is not offered late logging ------------------------------------------------------
async def test_a_pair_whose_intro_never_went_out_cannot_log_meetings_after_the_end(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Paired at 6 PM on the program's last day, the pair's intro waited for working hours and was dropped when
    the program ended: the two never heard of each other. On Jul 1 the mentee types `/mentor checkin` and is
    offered a form to log a meeting with a partner she never met; she should be told they were never
    introduced, and a hand-made *Log a check-in* button or form for that pairing should be refused the same way."""
    late_evening = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)  # Monday Jun 30, 6 PM in Los Angeles
    late_pair = paired_late(engine, emulator, clock, late_evening)
    await tick(runtime)  # the intro waits for the morning
    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)  # the program closes; the intro is dropped
    with session_scope(engine) as session:
        assert session.get(Pairing, late_pair).status == "ended"
    sent = [c.arg("text") or "" for c in emulator.calls_to("chat.postMessage")]
    assert not [text for text in sent if "Welcome to" in text], "the intro went out after all"
    emulator.reset_calls()

    slack.mentor(LATE_MENTEE, "checkin")
    told = form_or_answer(slack, emulator)
    assert not emulator.calls_to("views.open"), f"a check-in form opened for a partner she never met: {told}"
    assert "never introduced" in told and f"<@{MENTOR}>" in told and LAST_YEAR in told, told

    slack.block_action(LATE_MENTEE, "shelfmate_checkin", str(late_pair))
    told = form_or_answer(slack, emulator)
    assert not emulator.calls_to("views.open"), f"a hand-made button opened a check-in form: {told}"
    assert "never introduced" in told, told

    metadata = json.dumps({"pairing_id": late_pair})
    refused = slack.view_submission(
        LATE_MENTEE, "shelfmate_checkin", checkin_state("2025-06-30"), private_metadata=metadata
    )
    assert refused.json().get("response_action") == "errors", refused.text
    assert "never introduced" in json.dumps(refused.json()), refused.text
    with session_scope(engine) as session:
        assert session.exec(select(CheckIn)).all() == []

    listed = slack.mentor(LATE_MENTEE, "checkins").json().get("text", "")
    assert f"<@{MENTOR}>" not in listed, f"`/mentor checkins` lists a partner she never met: {listed}"

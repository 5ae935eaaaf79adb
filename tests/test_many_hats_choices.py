"""What the many-hats fixes offer next: the choice of pairing a person with several partners makes (for the
agreement and for a rematch request), where a rematch reason about a coordinator may go, and what a
coordinator is refused in a program that ended."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.services import pairing as pairing_service
from bot.views import ids
from storage.engine import session_scope
from storage.models import Program
from tests.conftest import ADMIN_ID
from tests.factories import make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_fuzz import settle
from tests.test_many_hats_journeys import (
    ADMIN_CHANNEL,
    BOTH,
    COORD,
    OTHER_ADMIN_CHANNEL,
    RUTH,
    YARA,
    bea_with_two_partners,
    coordinator_mentors_ruth,
    shown,
)


def choices(message: dict[str, Any], action_id: str) -> dict[str, str]:
    """The choice buttons in a message: the text of the row each sits in -> the button's value."""
    return {
        b["text"]["text"]: b["accessory"]["value"]
        for b in message.get("blocks") or []
        if (b.get("accessory") or {}).get("action_id") == action_id
    }


def test_the_agreement_choice_opens_the_agreement_with_the_chosen_partner(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    _, with_yara = bea_with_two_partners(engine, emulator, clock, one_program=True)

    slack.mentor(BOTH, "agreement")
    [offer] = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the choice")
    [value] = [v for text, v in choices(offer, ids.ACTION_OPEN_AGREEMENT).items() if f"<@{YARA}>" in text]
    emulator.reset_calls()
    slack.block_action(BOTH, ids.ACTION_OPEN_AGREEMENT, value)
    view = wait_for(lambda: emulator.calls_to("views.open"), what="the agreement form")[-1].arg("view")
    assert view["callback_id"] == ids.AGREEMENT_CALLBACK
    assert json.loads(view["private_metadata"]) == {"pairing_id": with_yara}


def test_a_rematch_choice_tells_only_the_chosen_programs_coordinators_once(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    with_zed, _ = bea_with_two_partners(engine, emulator, clock, one_program=False)

    reason = "my mentor cancels every meeting at the last minute"
    offer = slack.mentor(BOTH, f"rematch {reason}").json()
    assert "Which pairing" in offer["text"]
    [value] = [v for text, v in choices(offer, ids.ACTION_REMATCH_CHOICE).items() if f"<@{YARA}>" in text]
    slack.block_action(BOTH, ids.ACTION_REMATCH_CHOICE, value, message_ts="1741197600.000100")
    first = slack.last_response_url
    said = wait_for(lambda: emulator.responses_to(first), what="the outcome")
    slack.block_action(BOTH, ids.ACTION_REMATCH_CHOICE, value, message_ts="1741197600.000100")  # a double click
    settle(emulator)
    assert [m for m in emulator.messages_in(ADMIN_CHANNEL) if reason in shown(m)] == []
    assert len([m for m in emulator.messages_in(OTHER_ADMIN_CHANNEL) if reason in shown(m)]) == 1
    assert "Thanks for telling us" in said[-1]["text"]

    # A hand-made choice about a pairing that is not hers sends nothing.
    forged = json.dumps({"pairing_id": with_zed + 1000, "reason": reason})
    slack.block_action(BOTH, ids.ACTION_REMATCH_CHOICE, forged, message_ts="1741197600.000200")
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the refusal")
    settle(emulator)
    assert "didn't send anything" in said[-1]["text"]
    assert len([m for m in emulator.messages_in(OTHER_ADMIN_CHANNEL) if reason in shown(m)]) == 1


def test_a_rematch_about_a_coordinator_goes_to_the_other_coordinators_by_dm(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    coordinator_mentors_ruth(engine, emulator, clock)

    reason = "Cam talks over me in every meeting"
    answer = slack.mentor(RUTH, f"rematch {reason}").json()["text"]
    settle(emulator)
    assert "Thanks for telling us" in answer
    [dm] = [m for m in emulator.messages_in(ADMIN_ID) if reason in shown(m)]
    assert [e for b in dm["blocks"] if b.get("type") == "actions" for e in b["elements"]], "no Dissolve button"


def test_a_rematch_about_the_only_coordinator_is_not_sent_anywhere(engine: Engine) -> None:
    program = make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    with session_scope(engine) as session:
        program = session.get(Program, program.id)
        request = pairing_service.RematchRequest(
            pairing=None,  # type: ignore[arg-type]
            program=program,
            requester_id=RUTH,
            partner_id=COORD,
        )
    route = pairing_service.rematch_route(request, frozenset())
    assert route.privately and route.recipients == []
    assert pairing_service.rematch_route(request, frozenset({ADMIN_ID})).recipients == [ADMIN_ID]
    # A partner who is no coordinator: the admin channel, as ever.
    about_ruth = pairing_service.RematchRequest(
        pairing=None,  # type: ignore[arg-type]
        program=program,
        requester_id=COORD,
        partner_id=RUTH,
    )
    assert pairing_service.rematch_route(about_ruth, frozenset({ADMIN_ID})).recipients == [ADMIN_CHANNEL]


def test_match_preview_of_a_program_that_ended_is_refused(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    make_program(engine, admin_channel=ADMIN_CHANNEL)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    clock.set(datetime(2025, 7, 2, 18, tzinfo=UTC))  # after Jun 30, before any sweep closed it

    text = slack.admin(ADMIN_ID, "match preview").json()["text"]
    settle(emulator)
    assert "ended on Jun 30, 2025" in text, text
    assert [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")] == []

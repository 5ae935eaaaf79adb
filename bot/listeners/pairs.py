"""A pair's own actions: settle the agreement, log a meeting, read their meetings back.

Every handler re-checks on the server that the clicker belongs to the pairing named in the payload.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import delivery
from bot.listeners import form_errors, user_of
from bot.listeners.participant_flows import Offer
from bot.runtime import Runtime
from bot.services import checkins, pair_replies, schedule
from bot.services.agreements import NotYourPairing, PairView
from bot.slack_gateway import SlackUnavailable, Unreachable
from bot.views import pairs as views
from bot.views.common import SLACK_TROUBLE
from bot.views.ids import (
    ACTION_ACCEPT_AGREEMENT,
    ACTION_CHANGE_AGREEMENT,
    ACTION_CHECKIN,
    ACTION_OPEN_AGREEMENT,
    ACTION_WE_MET,
    AGREEMENT_CALLBACK,
    CHECKIN_CALLBACK,
)
from bot.views.state import SubmittedView, as_int, submission_key

log = logging.getLogger(__name__)


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    value = actions[0].get("value") if isinstance(actions[0], dict) else None
    return value if isinstance(value, str) else ""


def _accept_value(body: dict[str, Any]) -> tuple[int | None, str]:
    """An Accept button carries `pairing id:terms fingerprint`."""
    pairing, _, fingerprint = _action_value(body).partition(":")
    return as_int(pairing), fingerprint


def _button_value(body: dict[str, Any]) -> int | None:
    return as_int(_action_value(body))


async def tell_pair(runtime: Runtime, pair: PairView, request_key: str) -> None:
    """Send the pair's message about this request, queued in the ledger with the action itself.

    Outside the pair's working hours (unless they agreed to after-hours messages) it waits there for the
    morning, and the person who acted is told privately when it will go out.
    """
    held_until = await delivery.deliver_now(runtime, schedule.pair_notice_key(pair.pairing.id, request_key))
    if held_until is None or not pair.pairing.conversation_id:
        return
    # Slack shows the date in each reader's own time zone.
    when = f"<!date^{int(held_until.timestamp())}^{{date_short_pretty}} at {{time}}|{held_until:%b %-d %H:%M} UTC>"
    note = f"Saved. I'll share it with <@{pair.partner_id}> {when}, in working hours."
    try:
        await runtime.gateway.post_ephemeral(pair.pairing.conversation_id, pair.user_id, note)
    except (SlackUnavailable, Unreachable):
        log.warning("could not confirm a held message to pairing %s", pair.pairing.id)


async def open_checkin(runtime: Runtime, user_id: str, trigger_id: str, chosen: int | None = None) -> str | None:
    """Open the check-in modal; returns a message for the person when there is nothing to open."""
    target = await runtime.read(checkins.checkin_choice, user_id, runtime.now(), chosen)
    if target.refusal is not None or target.today is None:
        return views.checkin_refusal_text(target)
    try:
        await runtime.gateway.open_view(trigger_id, views.checkin_modal(target.pairs, target.today, chosen))
    except (SlackUnavailable, Unreachable):
        return SLACK_TROUBLE
    return None


async def open_agreement_for(
    runtime: Runtime, user_id: str, trigger_id: str, pairing_id: int | None = None, *, offer: Offer
) -> str | None:
    """Open the agreement modal for a pairing (from a button), or from the command the person's only one;
    someone with several partners is offered a choice of them first."""
    target = await runtime.read(checkins.agreement_to_open, user_id, pairing_id)
    if target.choices:
        await offer(*views.agreement_choice(target.choices))
        return None
    if target.pair is None or target.terms is None:
        return views.agreement_refusal_text(target.refusal)
    try:
        await runtime.gateway.open_view(trigger_id, views.agreement_modal(target.pair, target.terms))
    except (SlackUnavailable, Unreachable):
        return SLACK_TROUBLE
    return None


async def list_checkins(runtime: Runtime, user_id: str) -> str:
    """Read back every pairing's meetings and notes, ended ones too: the record is the pair's to keep."""
    histories = await runtime.read(checkins.history, user_id)
    if not histories:
        return views.NO_MEETINGS
    return "\n\n".join(views.checkins_list_text(h.pair, h.checkins) for h in histories)


def register(app: AsyncApp, runtime: Runtime) -> None:
    async def private(respond: AsyncRespond, text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action(ACTION_OPEN_AGREEMENT)
    @app.action(ACTION_CHANGE_AGREEMENT)
    async def open_agreement(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        trigger_id = str(body.get("trigger_id", ""))

        async def offer(text: str, blocks: list[dict[str, Any]]) -> None:
            await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

        problem = await open_agreement_for(runtime, user_of(body), trigger_id, _button_value(body), offer=offer)
        if problem:
            await private(respond, problem)

    @app.action(ACTION_ACCEPT_AGREEMENT)
    async def accept_agreement(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        pairing_id, fingerprint = _accept_value(body)
        key = f"accept:{pairing_id}:{fingerprint}:{user_of(body)}"
        try:
            state = await runtime.write(
                pair_replies.accept, key, pairing_id, user_of(body), fingerprint, runtime.now(), views.agreement_message
            )
        except NotYourPairing:
            await private(respond, views.NOT_YOURS)
            return
        if state is None:
            await private(respond, "Nothing has been proposed yet: use *Set up our agreement* to propose terms.")
        elif state.outdated:
            await private(respond, "Those terms have changed since that message. Look at the latest proposal.")
        elif not state.news:
            if state.settled:  # a repeat of the settling click: send the pair's message if a crash kept it back
                await tell_pair(runtime, state.pair, key)
            await private(respond, "You've already accepted these terms.")
        elif not state.settled:
            await private(respond, f"You've accepted. Waiting for <@{state.waiting_for()}> to accept too.")
        else:
            await tell_pair(runtime, state.pair, key)

    @app.view(AGREEMENT_CALLBACK)
    async def agreement_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = user_of(body)
        pairing_id, terms, errors = views.parse_agreement(view)
        if errors:
            await ack(response_action="errors", errors=form_errors(errors))
            return
        key = submission_key(view, user_id)
        try:
            state = await runtime.write(
                pair_replies.propose, key, pairing_id, user_id, terms, runtime.now(), views.agreement_message
            )
        except NotYourPairing:
            await ack(response_action="errors", errors=form_errors({"cadence": views.NOT_YOURS}))
            return
        await ack()
        if state is not None:
            await tell_pair(runtime, state.pair, key)

    @app.action(ACTION_WE_MET)
    @app.action(ACTION_CHECKIN)
    async def checkin_button(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        problem = await open_checkin(runtime, user_of(body), str(body.get("trigger_id", "")), _button_value(body))
        if problem:
            await private(respond, problem)

    @app.view(CHECKIN_CALLBACK)
    async def checkin_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = user_of(body)
        pairing_id, answers, errors = views.parse_checkin(view)
        anchor = "pairing_id" if "pairing_id" in SubmittedView(view).fields else "met_on"
        if errors:
            await ack(response_action="errors", errors=form_errors(errors))
            return
        target = await runtime.read(checkins.checkin_target, pairing_id, user_id, runtime.now())
        if target.refusal is not None or target.today is None:
            refusal = views.checkin_refusal_text(target)
            await ack(
                response_action="errors", errors=form_errors({anchor: refusal}, views.checkin_refusal_names(target))
            )
            return
        pair, today = target.pairs[0], target.today
        errors = checkins.validate(answers, pair, today)
        if errors:
            await ack(response_action="errors", errors=form_errors(errors))
            return
        key = submission_key(view, user_id)
        try:
            outcome = await runtime.write(
                pair_replies.log_meeting, key, pair.pairing.id, user_id, answers, runtime.now(), views.checkin_message
            )
        except NotYourPairing:  # dissolved (or its member left) between the check above and this write
            await ack(response_action="errors", errors=form_errors({anchor: views.PAIRING_OVER}))
            return
        if outcome.already_logged is not None:
            already = views.already_logged_text(outcome.already_logged.met_on)
            await ack(response_action="errors", errors=form_errors({"met_on": already}))
            return
        await ack()
        # A repeat of a handled submission still sends the pair's message if a crash kept it from going out.
        if outcome.logged is not None or outcome.repeat:
            await tell_pair(runtime, pair, key)

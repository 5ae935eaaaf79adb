"""Modal submissions: validate, save, and answer with inline errors or a confirmation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.listeners import ack_budget_left, finished_within, form_errors, user_of
from bot.listeners import participant_flows as flows
from bot.mrkdwn import unnamed_channels
from bot.runtime import Runtime
from bot.slack_gateway import SlackUnavailable, Unreachable
from bot.views import intake as intake_views
from bot.views import participant as participant_views
from bot.views.ids import INTAKE_CALLBACK
from bot.views.state import submission_key

log = logging.getLogger(__name__)


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.view(INTAKE_CALLBACK)
    async def intake_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
    ) -> None:
        user_id = user_of(body)
        applying = asyncio.ensure_future(
            flows.apply(
                runtime,
                user_id,
                intake_views.parse_intake(view),
                joining=intake_views.intake_mode(view) == "join",
                request_key=submission_key(view, user_id),
            )
        )
        if await finished_within(applying, ack_budget_left(context)):
            application = applying.result()
            if application is None or application.errors:
                errors = application.errors if application else {"role": participant_views.SLACK_SLOW_PRESS_AGAIN}
                names = await _channel_names(runtime, errors.values(), ack_budget_left(context))
                await ack(response_action="errors", errors=_inline(view, form_errors(errors, names)))
                return
            await ack()
        else:
            # Slack gives up on an answer after 3 s and tells the person it failed; close the modal now and
            # say how it went by DM once the work is done. The modal is gone: the DM says how to start over.
            await ack()
            try:
                application = await applying
            except Exception:
                # The modal is closed and a view submission has no response_url: the DM is the only way
                # left to tell the person. The guard logs the error.
                await _tell(
                    runtime, user_id, *participant_views.intake_not_saved([participant_views.NOT_SAVED_OUR_SIDE])
                )
                raise
            if application is None or application.errors:
                problems = list(application.errors.values()) if application else [participant_views.SLACK_SLOW]
                await _tell(runtime, user_id, *participant_views.intake_not_saved(problems))
                return
        if application.result is not None and application.first_time:
            await _tell(runtime, user_id, *participant_views.intake_confirmation(application.result))
            if intake_views.opened_from_home(view):  # they are still looking at it; a later visit rebuilds it
                await flows.refresh_home(runtime, user_id)
        await flows.tell_coordinators(runtime, application)


async def _tell(runtime: Runtime, user_id: str, text: str, blocks: list[dict[str, Any]]) -> None:
    try:
        await runtime.gateway.post(user_id, text, blocks)
    except (SlackUnavailable, Unreachable):
        log.warning("could not tell a person by DM how their application went")


async def _channel_names(runtime: Runtime, problems: Iterable[str], seconds: float) -> dict[str, str]:
    """The names of the channels the problems mention (a channel-only program's), for the plain-text form
    errors: a librarian knows #teen-services, not C0123. Within what is left of Slack's wait, else none."""
    channels = sorted(set().union(*(unnamed_channels(problem) for problem in problems)))
    if not channels:
        return {}
    try:
        found = await asyncio.wait_for(
            asyncio.gather(*(runtime.gateway.channel_name(c) for c in channels)), timeout=max(seconds, 0.1)
        )
    except TimeoutError:
        return {}
    return {channel: name for channel, name in zip(channels, found, strict=True) if name}


def _inline(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Slack rejects errors for blocks the modal does not have; fold those into the first block shown."""
    present = intake_views.present_fields(view) & intake_views.INTAKE_BLOCKS
    shown = {field: message[:150] for field, message in errors.items() if field in present}
    hidden = [message for field, message in errors.items() if field not in present]
    if hidden:
        anchor = next((f for f in intake_views.INTAKE_BLOCKS_IN_ORDER if f in present), "library_type")
        shown[anchor] = " ".join([shown.get(anchor, "")] + hidden).strip()[:150]
    return shown

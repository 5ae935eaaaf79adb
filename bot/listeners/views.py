"""Modal submissions: validate, save, and answer with inline errors or a confirmation."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.listeners import ACK_BUDGET_SECONDS, finished_within
from bot.runtime import Runtime
from bot.services import enrollment as enrollment_service
from bot.services.enrollment import SubmitResult
from bot.slack_gateway import SlackUnavailable, Unreachable
from bot.views import intake as intake_views
from bot.views import participant as participant_views
from bot.views.ids import INTAKE_CALLBACK
from bot.views.state import submission_key
from storage import queries

log = logging.getLogger(__name__)


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.view(INTAKE_CALLBACK)
    async def intake_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        submitting = asyncio.ensure_future(submit_intake(runtime, user_id, view))
        if await finished_within(submitting, ACK_BUDGET_SECONDS):
            outcome = submitting.result()
            if outcome.errors:
                await ack(response_action="errors", errors=_inline(view, outcome.errors))
                return
            await ack()
        else:
            # Slack gives up on an answer after 3 s and tells the person it failed; close the modal now and
            # say how it went by DM once the work is done.
            await ack()
            outcome = await submitting
            if outcome.errors:
                await _tell(runtime, user_id, *participant_views.intake_not_saved(list(outcome.errors.values())))
                return
        if outcome.result is not None and outcome.first_time:
            await _tell(runtime, user_id, *participant_views.intake_confirmation(outcome.result))


@dataclass(frozen=True)
class IntakeOutcome:
    errors: dict[str, str]
    result: SubmitResult | None = None
    first_time: bool = False


async def submit_intake(runtime: Runtime, user_id: str, view: dict[str, Any]) -> IntakeOutcome:
    """Check the answers (some checks ask Slack) and save them once; errors are keyed by the modal's blocks."""
    answers = intake_views.parse_intake(view)
    now = runtime.now()
    program = await runtime.read(queries.program_by_id, answers.program_id) if answers.program_id else None
    if program is None:
        return IntakeOutcome({"program_id": "Choose a program."})
    errors = enrollment_service.validate_intake(answers, program, user_id)
    if intake_views.intake_mode(view) == "join" and not errors:
        try:
            members = None
            if program.eligibility == "channel" and program.eligibility_channel:
                members = await runtime.gateway.channel_members(program.eligibility_channel)
            await runtime.read(enrollment_service.check_can_join, user_id, program, now, members)
        except enrollment_service.JoinRefused as refusal:
            errors = {"role": str(refusal)}
        except (SlackUnavailable, Unreachable):
            errors = {"role": "Slack didn't answer in time. Please press Apply again."}
    if errors:
        return IntakeOutcome(errors)
    key = submission_key(view, user_id)
    result, first_time = await runtime.write(enrollment_service.submit_intake_once, key, user_id, program, answers, now)
    return IntakeOutcome({}, result, first_time)


async def _tell(runtime: Runtime, user_id: str, text: str, blocks: list[dict[str, Any]]) -> None:
    try:
        await runtime.gateway.post(user_id, text, blocks)
    except (SlackUnavailable, Unreachable):
        log.warning("could not tell a person by DM how their application went")


def _inline(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Slack rejects errors for blocks the modal does not have; fold those into the first block shown."""
    present = intake_views.present_fields(view) & intake_views.INTAKE_BLOCKS
    shown = {field: message[:150] for field, message in errors.items() if field in present}
    hidden = [message for field, message in errors.items() if field not in present]
    if hidden:
        anchor = next((f for f in intake_views.INTAKE_BLOCKS_IN_ORDER if f in present), "library_type")
        shown[anchor] = " ".join([shown.get(anchor, "")] + hidden).strip()[:150]
    return shown

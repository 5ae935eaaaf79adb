"""Modal submissions: validate, save, and answer with inline errors or a confirmation."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.runtime import Runtime
from bot.services import enrollment as enrollment_service
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
        answers = intake_views.parse_intake(view)
        now = runtime.now()
        program = await runtime.read(queries.program_by_id, answers.program_id) if answers.program_id else None
        if program is None:
            await ack(response_action="errors", errors=_inline(view, {"program_id": "Choose a program."}))
            return
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
            await ack(response_action="errors", errors=_inline(view, errors))
            return
        key = submission_key(view, user_id)
        result, first_time = await runtime.write(
            enrollment_service.submit_intake_once, key, user_id, program, answers, now
        )
        await ack()
        if not first_time:
            return
        text, blocks = participant_views.intake_confirmation(result)
        try:
            await runtime.gateway.post(user_id, text, blocks)
        except (SlackUnavailable, Unreachable):
            log.warning("could not confirm an application by DM")


def _inline(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Slack rejects errors for blocks the modal does not have; fold those into the first block shown."""
    present = intake_views.present_fields(view) & intake_views.INTAKE_BLOCKS
    shown = {field: message[:150] for field, message in errors.items() if field in present}
    hidden = [message for field, message in errors.items() if field not in present]
    if hidden:
        anchor = next((f for f in intake_views.INTAKE_BLOCKS_IN_ORDER if f in present), "library_type")
        shown[anchor] = " ".join([shown.get(anchor, "")] + hidden).strip()[:150]
    return shown

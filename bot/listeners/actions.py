"""Buttons: the Home tab's and the leave confirmation's."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.listeners import participant_flows as flows
from bot.listeners import user_of
from bot.runtime import Runtime
from bot.services import pairing as pairing_service
from bot.views import participant as participant_views
from bot.views.ids import (
    ACTION_EDIT_PROFILE,
    ACTION_JOIN,
    ACTION_LEAVE_CANCEL,
    ACTION_LEAVE_CONFIRM,
    ACTION_PAUSE,
    ACTION_REMATCH_CHOICE,
    ACTION_RESUME,
)
from bot.views.state import as_int


def register(app: AsyncApp, runtime: Runtime) -> None:
    async def dm(user_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await runtime.gateway.post(user_id, text, blocks)

    @app.action(ACTION_JOIN)
    async def join_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = user_of(body)
        trigger_id = str(body.get("trigger_id", ""))
        await flows.open_join(runtime, user_id, trigger_id, "", lambda t: dm(user_id, t), from_home=True)

    @app.action(re.compile(rf"^{ACTION_EDIT_PROFILE}(:\d+)?$"))  # the Home tab's button, or a choice of profiles
    async def edit_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = user_of(body)
        trigger_id = str(body.get("trigger_id", ""))
        # "enrollment:<id>" from a choice of profiles; the Home tab's button asks for "whichever I have".
        chosen = str((body.get("actions") or [{}])[0].get("value") or "")
        await flows.open_profile(
            runtime,
            user_id,
            trigger_id,
            "",
            lambda t: dm(user_id, t),
            offer=lambda t, b: dm(user_id, t, b),
            from_home=(body.get("view") or {}).get("type") == "home",
            enrollment_id=as_int(chosen.removeprefix("enrollment:")) if chosen.startswith("enrollment:") else None,
        )

    @app.action(ACTION_PAUSE)
    async def pause_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await flows.pause_from_home(runtime, user_of(body))

    @app.action(ACTION_RESUME)
    async def resume_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await flows.resume_from_home(runtime, user_of(body))

    @app.action(re.compile(rf"^{ACTION_LEAVE_CONFIRM}(:\d+)?$"))  # every program, or "Leave <program> only"
    async def leave_confirmed(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        chosen = str((body.get("actions") or [{}])[0].get("value") or "")
        program_id = as_int(chosen.removeprefix("program:")) if chosen.startswith("program:") else None
        if chosen.startswith("program:") and program_id is None:
            await respond(text="That button is out of date: nothing changed. `/mentor leave` to try again.")
            return
        text = await flows.leave(runtime, user_of(body), program_id)
        await respond(text=text, replace_original=True)

    @app.action(ACTION_LEAVE_CANCEL)
    async def leave_cancelled(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(text="Good: nothing changed, you're still in.", replace_original=True)

    @app.action(ACTION_REMATCH_CHOICE)
    async def rematch_chosen(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        pairing_id, reason = participant_views.parse_rematch_choice(
            str((body.get("actions") or [{}])[0].get("value") or "")
        )
        if pairing_id is None:
            await respond(
                text="That choice is out of date. Use `/mentor rematch REASON` again.", replace_original=False
            )
            return
        # A double click or Slack's retry of this choice is sent once: keyed by the choice message and its content.
        message_ts = str((body.get("container") or {}).get("message_ts") or "")
        if message_ts and not await runtime.write(
            pairing_service.claim_rematch_choice, user_of(body), pairing_id, message_ts, reason, runtime.now()
        ):
            return
        text, _ = await flows.request_rematch(runtime, user_of(body), reason, pairing_id)
        # The choice (and the reason its buttons carry) is replaced by the outcome: one request, sent once.
        await respond(text=text, replace_original=True)

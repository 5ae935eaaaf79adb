"""Slash commands: `/mentor ...` for librarians, `/mentor-admin ...` for coordinators."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.listeners import pairs
from bot.listeners import participant_flows as flows
from bot.runtime import Runtime
from bot.services import overview as overview_service
from bot.views import help as help_views
from bot.views import participant as participant_views
from bot.views.ids import MENTOR_COMMAND

log = logging.getLogger(__name__)


def split_command(text: str | None) -> tuple[str, list[str]]:
    """`"  Join   mentor "` -> ("join", ["mentor"]); subcommands are case-insensitive.

    NUL characters are dropped: nothing typed in Slack needs them, and PostgreSQL refuses them in queries.
    """
    words = (text or "").replace("\x00", "").split()
    if not words:
        return "", []
    return words[0].lower(), words[1:]


ROLE_WORDS = {"mentor": "mentor", "mentee": "mentee", "mentors": "mentor", "mentees": "mentee"}


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.command(MENTOR_COMMAND)
    async def mentor_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        subcommand, args = split_command(command.get("text"))
        user_id = str(command.get("user_id", ""))
        trigger_id = str(command.get("trigger_id", ""))

        async def reply(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        async def offer(text: str, blocks: list[dict[str, Any]]) -> None:
            await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

        if subcommand in ("join", "profile"):
            role = ROLE_WORDS.get(args[0].lower(), "") if args else ""
            if args and not role:
                await ack(
                    text=f"Use `/mentor {subcommand} mentor` or `/mentor {subcommand} mentee`.",
                    response_type="ephemeral",
                )
                return
            await ack()
            if subcommand == "join":
                await flows.open_join(runtime, user_id, trigger_id, role, reply)
            else:
                await flows.open_profile(runtime, user_id, trigger_id, role, reply, offer=offer)
        elif subcommand == "status":
            overview = await runtime.read(overview_service.person_overview, user_id, runtime.now())
            await ack(
                blocks=participant_views.status_blocks(overview),
                text=participant_views.status_text(overview),
                response_type="ephemeral",
            )
        elif subcommand == "pause":
            try:
                until = flows.parse_pause_until(args)
            except ValueError as problem:
                await ack(text=str(problem), response_type="ephemeral")
                return
            text, notices = await flows.pause(runtime, user_id, until)
            await ack(text=text, response_type="ephemeral")
            await flows.tell_pairs(runtime, notices)  # after the ack: Slack's 3 s are not spent on them
        elif subcommand == "resume":
            text, notices = await flows.resume(runtime, user_id)
            await ack(text=text, response_type="ephemeral")
            await flows.tell_pairs(runtime, notices)
        elif subcommand == "rematch":
            text, blocks = await flows.request_rematch(runtime, user_id, " ".join(args))
            await ack(text=text, blocks=blocks, response_type="ephemeral")
        elif subcommand == "checkin":
            await ack()
            problem = await pairs.open_checkin(runtime, user_id, trigger_id)
            if problem:
                await reply(problem)
        elif subcommand in ("checkins", "meetings"):
            await ack(text=await pairs.list_checkins(runtime, user_id), response_type="ephemeral")
        elif subcommand == "agreement":
            await ack()
            problem = await pairs.open_agreement_for(runtime, user_id, trigger_id, offer=offer)
            if problem:
                await reply(problem)
        elif subcommand == "leave":
            overview = await runtime.read(overview_service.person_overview, user_id, runtime.now())
            await ack(
                blocks=participant_views.leave_confirmation_blocks(overview),
                text="Leave mentoring?",
                response_type="ephemeral",
            )
        elif subcommand in ("", "help"):
            await ack(blocks=help_views.help_blocks(), text=help_views.help_text(), response_type="ephemeral")
        else:
            await ack(
                blocks=help_views.help_blocks(unknown=subcommand),
                text=help_views.help_text(),
                response_type="ephemeral",
            )

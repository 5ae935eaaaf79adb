"""Slash commands: `/mentor ...` for librarians, `/mentor-admin ...` for coordinators."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.runtime import Runtime
from bot.views import help as help_views
from bot.views.ids import ADMIN_COMMAND, MENTOR_COMMAND

log = logging.getLogger(__name__)


def split_command(text: str | None) -> tuple[str, list[str]]:
    """`"  Join   mentor "` -> ("join", ["mentor"]); subcommands are case-insensitive."""
    words = (text or "").split()
    if not words:
        return "", []
    return words[0].lower(), words[1:]


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.command(MENTOR_COMMAND)
    async def mentor_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        subcommand, _args = split_command(command.get("text"))
        if subcommand in ("", "help"):
            await ack(blocks=help_views.help_blocks(), text=help_views.help_text(), response_type="ephemeral")
            return
        await ack(
            blocks=help_views.help_blocks(unknown=subcommand),
            text=help_views.help_text(),
            response_type="ephemeral",
        )

    @app.command(ADMIN_COMMAND)
    async def admin_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        subcommand, _args = split_command(command.get("text"))
        if not runtime.is_super_admin(command.get("user_id", "")):
            await ack(
                text="Sorry, `/mentor-admin` is for program coordinators. "
                "Ask a coordinator to add you as an admin of your program.",
                response_type="ephemeral",
            )
            return
        unknown = None if subcommand in ("", "help") else subcommand
        await ack(
            blocks=help_views.help_blocks(unknown=unknown, admin=True),
            text=help_views.help_text(admin=True),
            response_type="ephemeral",
        )

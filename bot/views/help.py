"""The help message: what a librarian (or coordinator) can type."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.views.common import escape, render
from bot.views.ids import ADMIN_COMMAND, MENTOR_COMMAND

MENTOR_SUBCOMMANDS: list[tuple[str, str]] = [
    ("join [mentor|mentee]", "Apply to a mentoring program as a mentor or a mentee (or both)."),
    ("profile", "Edit the answers you gave when you joined."),
    ("status", "See your enrollments, your partner and what is due next."),
    ("checkin", "Log a meeting with your partner."),
    ("checkins", "Read back your logged meetings and private notes (only you two can)."),
    ("agreement", "Settle or change how often you meet, on-call, after-hours chat and boundaries."),
    ("pause [until YYYY-MM-DD]", "Take a break: your pairings stay (partners are told), with no reminders until then."),
    ("resume", "End a pause."),
    ("rematch <reason>", "Tell the coordinators, privately, why your pairing is not working."),
    ("leave", "Withdraw from one program or from every program you are in; erases your answers and notes there."),
    ("help", "Show this message."),
]

ADMIN_SUBCOMMANDS: list[tuple[str, str]] = [
    ("program create", "Set up a program's calendar, work hours and rules."),
    (
        "program edit [program]",
        "Change a program's calendar, work hours and rules; a later application deadline lets a late applicant in.",
    ),
    ("program list", "The programs you coordinate, their dates and how many have joined."),
    ("match preview [program]", "Propose pairs, with scores and reasons, in the admin channel."),
    ("pair @mentor @mentee [program]", "Pair two people by hand."),
    ("unpair @mentor @mentee [program]", "Undo a pairing."),
    ("summary [program]", "Who is waiting, which pairs met and which went quiet."),
    ("export participants|pairings|checkins|hours [program]", "Upload records as CSV (never private notes)."),
    ("audit [N]", "The last N admin actions."),
    ("help", "Show this message."),
]


def _command_list(command: str, entries: list[tuple[str, str]]) -> str:
    """Escaped: Slack would read `<reason>` as a link even inside a code span."""
    return "\n".join(f"• `{command} {escape(usage, in_code=True)}`: {escape(what)}" for usage, what in entries)


def help_blocks(*, unknown: str | None = None, admin: bool = False) -> list[dict[str, Any]]:
    command, entries = (ADMIN_COMMAND, ADMIN_SUBCOMMANDS) if admin else (MENTOR_COMMAND, MENTOR_SUBCOMMANDS)
    blocks = []
    if unknown:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"I don't know `{escape(unknown[:60], in_code=True)}`. Here is what `{command}` can do:"
                )
            )
        )
    blocks.append(HeaderBlock(text="Shelfmate coordinator commands" if admin else "Shelfmate: peer mentoring"))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=_command_list(command, entries))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Everything here is also on the app's *Home* tab. Only you can see this message."
                )
            ]
        )
    )
    return render(blocks)


def help_text(*, admin: bool = False) -> str:
    """Plain-text fallback for notifications and screen readers."""
    return "Shelfmate coordinator commands" if admin else "Shelfmate help: /mentor join, status, checkin, ..."

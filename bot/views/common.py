"""Small helpers shared by the view builders; they keep text inside Slack's limits."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, Option

SECTION_TEXT_LIMIT = 3000
MAX_BLOCKS_PER_MESSAGE = 50
MAX_BLOCKS_PER_VIEW = 100

SLACK_TROUBLE = "Slack didn't answer in time, so nothing was changed. Please try again in a moment."


def escape(text: str, *, in_code: bool = False) -> str:
    """Text people typed or stored must not turn into mentions or links in mrkdwn, nor end a code span."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("`", "'") if in_code else escaped


def export_command(kind: str, program_name: str) -> str:
    """The command that lists a cut list in full, ready to copy."""
    return f"`/mentor-admin export {kind} {escape(program_name, in_code=True)}`"


def plural(n: int, word: str, plural_form: str | None = None) -> str:
    """`1 pair`, `3 pairs`: a count with its noun."""
    return f"{n} {word if n == 1 else plural_form or word + 's'}"


def clip(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Cut a text to a Slack limit with an ellipsis rather than let Slack reject the whole message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(blocks: list[Block], limit: int = MAX_BLOCKS_PER_MESSAGE) -> list[dict[str, Any]]:
    """Serialize through slack_sdk's models, which validate lengths and required fields."""
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks exceed Slack's limit of {limit}")
    return [block.to_dict() for block in blocks]


def options(choices: dict[str, str]) -> list[Option]:
    """Select options from a value -> label map (labels cut to Slack's 75 characters)."""
    return [Option(value=value, label=label[:75]) for value, label in choices.items()]


def initial_option(choices: dict[str, str], value: str) -> Option | None:
    """The option to preselect, or None when the stored value is no longer offered."""
    return Option(value=value, label=choices[value][:75]) if value in choices else None

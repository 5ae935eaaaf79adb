"""The audit trail as coordinators read it: who did what, and when."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.views.common import clip, render
from storage.models import AuditEvent

ACTION_WORDS = {
    "program.create": "created a program",
    "program.edit": "edited a program",
    "match.preview": "ran a match preview",
    "pairing.approve": "approved a pairing",
    "pairing.reject": "rejected a proposed pairing",
    "pairing.hand_pair": "paired two people by hand",
    "pairing.dissolve": "dissolved a pairing",
    "export": "exported records",
    "applications.import": "imported applications from a file",
}


def audit_blocks(events: list[AuditEvent]) -> list[dict[str, Any]]:
    if not events:
        return render([SectionBlock(text=MarkdownTextObject(text="No admin actions recorded yet."))])
    lines = []
    for event in events:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(event.detail.items()) if k != "reason")
        when = event.at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"• {when}: <@{event.actor}> {ACTION_WORDS.get(event.action, event.action)}"
            + (f" ({detail})" if detail else "")
        )
    blocks: list[Block] = [HeaderBlock(text=f"Last {len(events)} admin actions")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(clip(line, 500))
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    return render(blocks)

"""The audit trail as coordinators read it: who did what, and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.services.catalog import zone_label
from bot.services.programs import CLI_ACTOR, FIELD_LABELS, SLACK_USER_ID
from bot.services.schedule import zone
from bot.views.common import clip, escape, plural, render
from storage.models import AuditEvent

ACTION_WORDS = {
    "program.create": "created a program",
    "program.edit": "edited a program",
    "match.preview": "ran a match preview",
    "pairing.approve": "approved a pairing",
    "pairing.approve_all": "approved proposed pairings with Approve all",
    "pairing.reject": "rejected a proposed pairing",
    "pairing.hand_pair": "paired two people by hand",
    "pairing.dissolve": "dissolved a pairing",
    "export": "exported records",
    "applications.import": "imported applications from a file",
}

# Only these can be mentioned: anything else renders as "<@cli>", which Slack shows as a broken mention.
# Detail keys never shown: a dissolve reason can be personal, and coordinators of other programs read this;
# a preview's fingerprint is for telling previews apart, not for people.
_HIDDEN_DETAILS = frozenset({"reason", "fingerprint"})


def _and(words: list[str]) -> str:
    """A list as a person writes it: "A", "A and B", "A, B and C"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _actor(actor: str) -> str:
    if SLACK_USER_ID.match(actor):
        return f"<@{actor}>"
    if actor == CLI_ACTOR:
        return "the `shelfmate` command line"
    plain = escape(actor, in_code=True)
    return f"`{plain}`"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return _and([_value(v) for v in value]) if value else "none"
    return escape(str(value))


def _details(detail: dict[str, Any], pairs: Mapping[int, tuple[str, str]]) -> list[str]:
    """Each stored detail as a phrase; column names become the labels people see in the program form, and a
    pairing the two people in it (its number was never shown to anyone)."""
    phrases: list[str] = []
    for key, value in sorted(detail.items()):
        if key in _HIDDEN_DETAILS:
            continue
        if key == "changed":
            labels = [FIELD_LABELS.get(str(name), str(name).replace("_", " ")) for name in value or []]
            phrases.append(f"changed {_and(labels)}" if labels else "saved with no changes")
        elif key == "pairing_id":
            if (members := pairs.get(value)) is not None:
                phrases.append(f"<@{members[0]}> mentoring <@{members[1]}>")
        elif key == "override":
            if value:
                phrases.append("matching rules overridden")
        elif key == "pairs":
            phrases.append(f"{plural(value, 'pair')} proposed")
        elif key == "approved":
            continue  # Approve all's count is in its words ("approved 310 pairs")
        elif key == "not_approved":
            if value:
                phrases.append(f"{value} not approved")
        elif key in ("waitlist", "loaded", "skipped"):
            phrases.append(f"{value} {'waitlisted' if key == 'waitlist' else key}")
        elif key == "kind":
            phrases.append(_value(value))
        else:
            phrases.append(f"{key.replace('_', ' ')} {_value(value)}")
    return phrases


def _when(at: datetime, zone_id: str | None) -> str:
    """Slack's date token: each reader sees the time on their own clock ("Jan 15, 2025 9:00 AM", "Yesterday
    9:00 AM"). Its fallback, for a client that cannot, is the program's local time, its zone named."""
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    local = moment.astimezone(zone(zone_id)) if zone_id else moment.astimezone(UTC)
    named = zone_label(zone_id) if zone_id else "UTC"
    fallback = f"{local:%b %-d, %Y %-I:%M %p} {named}".rstrip()
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _line(
    event: AuditEvent,
    program_names: Mapping[int, str],
    zones: Mapping[int, str],
    pairs: Mapping[int, tuple[str, str]],
) -> str:
    # A creation names its program in its detail ("name …"), as it was called then; others name it as it is now.
    name = program_names.get(event.program_id) if event.program_id is not None else None
    where = ""
    if name and event.action != "program.create":
        where = f", *{escape(name)}*" if event.action.startswith("program.") else f" in *{escape(name)}*"
    phrases = _details(event.detail or {}, pairs)
    words = ACTION_WORDS.get(event.action, escape(event.action))
    if event.action == "pairing.approve_all" and isinstance((event.detail or {}).get("approved"), int):
        words = f"approved {plural(event.detail['approved'], 'pair')} with Approve all"
    when = _when(event.at, zones.get(event.program_id) if event.program_id is not None else None)
    return f"• {when}: {_actor(event.actor)} {words}{where}" + (f" ({'; '.join(phrases)})" if phrases else "")


def audit_blocks(
    events: list[AuditEvent],
    program_names: Mapping[int, str] | None = None,
    *,
    zones: Mapping[int, str] | None = None,
    pairs: Mapping[int, tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Newest first, one line per action (mrkdwn sections, so Slack renders the date tokens). `program_names`
    and `zones` (program id -> name, time zone) and `pairs` (pairing id -> mentor, mentee) say things in words."""
    if not events:
        return render([SectionBlock(text=MarkdownTextObject(text="No admin actions recorded yet."))])
    lines = [_line(event, program_names or {}, zones or {}, pairs or {}) for event in events]
    heading = "Last admin action" if len(events) == 1 else f"Last {len(events)} admin actions"
    blocks: list[Block] = [HeaderBlock(text=heading)]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(clip(line, 500))
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    return render(blocks)

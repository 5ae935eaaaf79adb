"""The coordinator's summary: readable on a phone, within Slack's limits, never private notes."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.services.catalog import specialization_label
from bot.services.reports import ProgramSummary
from bot.views.common import clip, render

STATUS_ORDER = ("applied", "waitlisted", "matched", "paused", "withdrawn")
PAIRING_ORDER = ("proposed", "introduced", "active", "ended", "dissolved")


def _counts(counts: dict[str, int], order: tuple[str, ...]) -> str:
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    return ", ".join(parts) or "none"


def summary_blocks(summary: ProgramSummary, *, rehearsal: bool = False) -> list[dict[str, Any]]:
    blocks: list[Block] = []
    if rehearsal:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=":test_tube: *REHEARSAL*: simulated clock")]))
    blocks.append(HeaderBlock(text=clip(f"{summary.program_name}: summary", 150)))
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=f"As of {summary.today:%b %-d, %Y} · {summary.days_left} days left")]
        )
    )
    mentors = summary.participants.get("mentor", {})
    mentees = summary.participants.get("mentee", {})
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*Participants*\nMentors: {_counts(mentors, STATUS_ORDER)}\n"
                f"Mentees: {_counts(mentees, STATUS_ORDER)}"
            )
        )
    )
    waitlist = "\n".join(
        f"• {specialization_label(spec)}: {n} waiting, "
        + (f"{needed} more mentor place{'s' if needed != 1 else ''} needed" if needed else "mentors have room")
        for spec, n, needed in summary.waitlist_by_specialization[:8]
    )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("*Waitlist*\n" + (waitlist or "Nobody is waiting.")))))
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*Pairings*: {_counts(summary.pairings, PAIRING_ORDER)}\n"
                f"*Agreements*: {summary.agreements_pending} pending, {summary.agreements_overdue} overdue"
            )
        )
    )
    current = summary.this_month
    if current is not None:
        trend = " → ".join(f"{m.month[5:]}: {m.rate:.0%}" for m in summary.months[-6:])
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*Meetings this month*: {current.pairs_met} of {current.active_pairs} active pairs met "
                    f"({current.rate:.0%})\nTrend: {trend}"
                )
            )
        )
    rating = f"{summary.average_rating:.1f}/5" if summary.average_rating is not None else "no ratings yet"
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*Check-ins*: {summary.checkins} · {summary.total_hours:g} mentoring hours · average rating {rating}"
            )
        )
    )
    blocks.append(DividerBlock())
    if summary.at_risk:
        lines = [
            f"• <@{a}> and <@{b}>: " + (f"last met {days} days ago" if days is not None else "never met")
            for a, b, days in summary.at_risk[:15]
        ]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(":warning: *At risk*\n" + "\n".join(lines)))))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*At risk*: no pair has gone quiet.")))
    if summary.unreachable:
        lines = [f"• <@{pid}> ({reason})" for pid, reason in summary.unreachable[:15]]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("*Can't reach*\n" + "\n".join(lines)))))
    return render(blocks)


def summary_text(summary: ProgramSummary) -> str:
    current = summary.this_month
    rate = f"{current.rate:.0%} of pairs met this month" if current else "the program has not started"
    return f"{summary.program_name}: {rate}, {len(summary.at_risk)} at risk, {summary.days_left} days left."

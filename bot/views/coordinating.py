"""The coordinator's part of the Home tab: each open (or just ended) program they coordinate at a glance, and
the commands."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.services.overview import CoordinatedProgram, Coordinating
from bot.views.common import clip, escape, mentoring_hours, plural
from bot.views.summary import survey_text

HEADING = "Programs you coordinate"


def coordinator_blocks(coordinating: Coordinating) -> list[Block]:
    """A heading, two blocks per program shown, and a line naming how many were left out: at most
    3 + 2 x `COORDINATED_SHOWN` blocks, whatever the number of programs."""
    if not coordinating:
        return []
    blocks: list[Block] = [HeaderBlock(text=HEADING)]
    for shown in coordinating.programs:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(_program_text(shown)))))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(_commands(shown)))]))
    if coordinating.more:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"… and {plural(coordinating.more, 'more program', 'more programs')}: "
                        "`/mentor-admin program list`"
                    )
                ]
            )
        )
    return blocks


def _program_text(shown: CoordinatedProgram) -> str:
    program, summary = shown.program, shown.summary
    if summary.ended_on:
        return _ended_program_text(shown)
    applications = (
        f"Applications {_span(program.applications_open, program.applications_close)}"
        if program.applications_open
        else f"Applications close {_day(program.applications_close)}"
    )
    waitlist = f"{plural(shown.waitlisted_mentees, 'mentee')} on the waitlist"
    if shown.waitlisted_mentees and summary.waitlist_draft_until:  # an early preview's: not final, nor told so
        waitlist += f" (not final until applications close on {_day(summary.waitlist_draft_until)})"
    waiting = [
        waitlist,
        f"{plural(shown.applications_unmatched, 'application')} not matched yet",
        f"{plural(summary.proposals_awaiting_approval, 'proposal')} awaiting approval",
    ]
    pairs = [plural(shown.pairs_running, "pair") + " running"]
    if (month := summary.this_month) is not None:
        pairs.append(f"{month.pairs_met} of {month.live_pairs} met this month")
    elif summary.in_break:
        pairs.append("this month is a break")
    pairs += [f"{len(summary.at_risk)} at risk", f"{plural(summary.agreements_overdue, 'agreement')} overdue"]
    return "\n".join(
        [
            f"*{escape(program.name)}*",
            f"{applications} · runs {_span(program.starts_on, program.ends_on)}",
            "Waiting: " + " · ".join(waiting),
            "Pairs: " + " · ".join(pairs),
        ]
    )


def _ended_program_text(shown: CoordinatedProgram) -> str:
    """An ended program's final figures, kept on Home a while: the survey's answers come in after the end."""
    program, summary = shown.program, shown.summary
    lines = [
        f"*{escape(program.name)}*",
        f"Ran {_span(program.starts_on, program.ends_on)} · ended",
        f"Final: {plural(summary.checkins, 'check-in')} · {mentoring_hours(summary.total_hours)}",
    ]
    if summary.survey is not None:
        lines.append(survey_text(summary))
    return "\n".join(lines)


def _commands(shown: CoordinatedProgram) -> str:
    name = escape(shown.program.name, in_code=True)
    # Once it has ended there is nothing to match; its records are what is left to read.
    commands = (
        ("summary", "export hours") if shown.summary.ended_on else ("match preview", "summary", "export pairings")
    )
    return " · ".join(f"`/mentor-admin {command} {name}`" for command in commands)


def _span(first: date, last: date) -> str:
    """ "Mar 1 – Jun 30, 2025"; the first year is said too when the span crosses into another year."""
    start = first.strftime("%b %-d") if first.year == last.year else _day(first)
    return f"{start} – {_day(last)}"


def _day(value: date) -> str:
    return value.strftime("%b %-d, %Y")

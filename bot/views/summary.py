"""The coordinator's summary: readable on a phone, within Slack's limits, never private notes."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.services.catalog import specialization_label
from bot.services.reports import ProgramSummary
from bot.views.common import (
    clip,
    escape,
    export_command,
    mentoring_hours,
    month_labels,
    plural,
    render,
    unreachable_words,
)

STATUS_ORDER = ("applied", "waitlisted", "matched", "paused", "withdrawn")
PAIRING_ORDER = ("proposed", "introduced", "active", "ended", "dissolved")
# How many lines each list shows: enough to act on from a phone, and well inside a section's 3,000 characters.
AT_RISK_SHOWN = 15
UNREACHABLE_SHOWN = 15
WAITLIST_SHOWN = 8


def _counts(counts: dict[str, int], order: tuple[str, ...]) -> str:
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    return ", ".join(parts) or "none"


def _pairing_counts(summary: ProgramSummary) -> str:
    """The pairings by status, in the coordinator's words: a proposal she approved waits only for its intro, so
    it is "approved", not "proposed" like one still awaiting her decision."""
    counts = dict(summary.pairings)
    proposed = counts.pop("proposed", 0)
    awaiting = min(summary.proposals_awaiting_approval, proposed)
    parts = [f"{awaiting} proposed, awaiting approval"] if awaiting else []
    if proposed - awaiting:
        parts.append(f"{proposed - awaiting} approved, to be introduced")
    parts += [f"{counts[s]} {s}" for s in PAIRING_ORDER if counts.get(s)]
    return ", ".join(parts) or "none"


def _more(hidden: int, what: str, plural_form: str, where: str) -> list[str]:
    """The line that says a list was cut, by how much, and where the rest is; none when nothing was cut."""
    return [f"… and {plural(hidden, 'more ' + what, 'more ' + plural_form)}: {where}"] if hidden > 0 else []


def summary_blocks(summary: ProgramSummary, *, rehearsal: bool = False) -> list[dict[str, Any]]:
    blocks: list[Block] = []
    if rehearsal:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=":test_tube: *REHEARSAL*: simulated clock")]))
    blocks.append(HeaderBlock(text=clip(f"{summary.program_name}: summary", 150)))
    when = (
        f"Ended on {summary.ended_on:%b %-d, %Y} · final figures"
        if summary.ended_on
        else f"As of {summary.today:%b %-d, %Y} · {_time_left(summary)}"
    )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=when)]))
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
    shortages = summary.waitlist_by_specialization
    waitlist = [
        f"• {specialization_label(spec)}: {n} waiting"
        + (
            ""  # nobody will be matched in an ended program: no places to find, only what was sought
            if summary.ended_on
            else ", " + (f"{plural(needed, 'more mentor place')} needed" if needed else "mentors have room")
        )
        for spec, n, needed in shortages[:WAITLIST_SHOWN]
    ]
    waitlist += _more(
        len(shortages) - WAITLIST_SHOWN,
        "specialization with mentees waiting",
        "specializations with mentees waiting",
        f"{export_command('participants', summary.program_name)} lists everyone waitlisted",
    )
    # A mentee seeking two specializations is on two lines: the heading says how many people are waiting.
    waiting = mentees.get("waitlisted", 0)
    heading = f"*Waitlist*: {plural(waiting, 'mentee')} waiting, by specialization" if waiting else "*Waitlist*"
    if waiting and summary.waitlist_draft_until:  # they were told matching happens after the deadline
        heading += f" (not final until applications close on {summary.waitlist_draft_until:%b %-d, %Y})"
    empty = "None of them named a specialization." if waiting else "Nobody is waiting."
    if summary.ended_on:
        heading = (
            f"*Never matched*: {plural(waiting, 'mentee')} still waiting when the program ended, by specialization"
            if waiting
            else "*Waitlist*"
        )
        empty = "None of them named a specialization." if waiting else "Nobody was left waiting."
    blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(heading + "\n" + ("\n".join(waitlist) or empty)))))
    pairings = f"*Pairings*: {_pairing_counts(summary)}"
    if not summary.ended_on:
        pairings += f"\n*Agreements*: {summary.agreements_pending} pending, {summary.agreements_overdue} overdue"
    blocks.append(SectionBlock(text=MarkdownTextObject(text=pairings)))
    current = summary.this_month
    if current is not None and summary.ended_on:
        months = summary.months[-12:]
        trend = " → ".join(
            f"{label}: {m.pairs_met} of {m.live_pairs} ({m.rate:.0%})"
            for label, m in zip(month_labels([m.month for m in months]), months, strict=True)
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*Pairs that met, by month*: {trend}"))))
    elif current is not None:
        trend = _recent_rates(summary)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*Meetings this month*: {current.pairs_met} of {plural(current.live_pairs, 'pair')} met "
                    f"({current.rate:.0%}){_early_in_month(summary, ', {}')}\nTrend: {trend}"
                )
            )
        )
    elif summary.in_break:
        trend = _recent_rates(summary)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*Meetings this month*: {summary.today:%B} is mostly a break, so it is not counted.\n"
                    f"Trend before the break: {trend}"
                )
            )
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=_checkins_text(summary))))
    if summary.survey is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=survey_text(summary))))
    blocks.append(DividerBlock())
    # Each cut list says its total and how many it left out, so nobody follows up 15 and believes that is all.
    if summary.at_risk:
        lines = [
            f"• <@{a}> and <@{b}>: " + (f"last met {plural(days, 'day')} ago" if days is not None else "never met")
            for a, b, days in summary.at_risk[:AT_RISK_SHOWN]
        ]
        lines += _more(
            len(summary.at_risk) - AT_RISK_SHOWN,
            "quiet pair",
            "quiet pairs",
            f"{export_command('pairings', summary.program_name)} lists them all (at_risk yes)",
        )
        quiet = len(summary.at_risk)
        heading = f":warning: *At risk*: {plural(quiet, 'pair')} {'has' if quiet == 1 else 'have'} gone quiet"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(heading + "\n" + "\n".join(lines)))))
    elif not summary.ended_on:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text="*At risk*: none; no pair has missed two meeting periods in a row.")
            )
        )
    if summary.unreachable:
        lines = [f"• <@{pid}> ({unreachable_words(reason)})" for pid, reason in summary.unreachable[:UNREACHABLE_SHOWN]]
        lines += _more(
            len(summary.unreachable) - UNREACHABLE_SHOWN,
            "person",
            "people",
            f"{export_command('participants', summary.program_name)} lists them all (unreachable column)",
        )
        heading = f"*Can't reach*: {plural(len(summary.unreachable), 'person', 'people')}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(heading + "\n" + "\n".join(lines)))))
    return render(blocks)


def survey_text(summary: ProgramSummary) -> str:
    """Totals only: the survey told people it helps coordinators plan, not that their own answers are read."""
    survey = summary.survey
    assert survey is not None
    if not survey.people_answered:
        return f"*Wrap-up survey*: no answers yet (sent to {plural(survey.pairs_asked, 'pair')})."
    people = survey.people_answered
    satisfaction = f"{survey.average_satisfaction:.1f}/5" if survey.average_satisfaction is not None else "none"
    return (
        f"*Wrap-up survey*: {plural(people, 'answer')} from {survey.pairs_answered} of "
        f"{plural(survey.pairs_asked, 'pair')} · average satisfaction {satisfaction}\n"
        f"{survey.would_continue} of {people} would like to keep meeting · "
        f"{survey.still_in_libraries} of {people} still work in libraries"
    )


def summary_text(summary: ProgramSummary) -> str:
    if summary.ended_on:
        return (
            f"{escape(summary.program_name)} ended on {summary.ended_on:%b %-d, %Y}: {plural(summary.checkins, 'check-in')}, "
            f"{mentoring_hours(summary.total_hours)}."
        )
    if summary.starts_on is not None and summary.today < summary.starts_on:
        return f"{escape(summary.program_name)}: the program {_time_left(summary)}."
    current = summary.this_month
    if current is not None:
        rate = f"{current.rate:.0%} of pairs met this month{_early_in_month(summary, ' ({})')}"
    else:
        rate = "this month is a break" if summary.in_break else "the program has not started"
    return f"{escape(summary.program_name)}: {rate}, {len(summary.at_risk)} at risk, {_time_left(summary)}."


def _early_in_month(summary: ProgramSummary, form: str) -> str:
    """ "3 days into March", set in `form`, in a month's first week ("" after): "0% met" on Mar 3 is no alarm,
    and should not read as one."""
    today = summary.today
    counted_from = max(today.replace(day=1), summary.starts_on or date.min)
    days = (today - counted_from).days + 1
    return form.format(f"{plural(days, 'day')} into {today:%B}") if days <= 7 else ""


def _time_left(summary: ProgramSummary) -> str:
    """ "41 days left", "1 day left", and on the program's last day "last day of the program" (not "0 days left");
    before the run, when it starts ("166 days left" in January read as if the program were running)."""
    if summary.starts_on is not None and summary.today < summary.starts_on:
        return f"starts on {summary.starts_on:%b %-d, %Y}"
    return "last day of the program" if summary.days_left == 0 else f"{plural(summary.days_left, 'day')} left"


def _checkins_text(summary: ProgramSummary) -> str:
    if not summary.checkins:
        return "*Check-ins*: none logged yet"
    rating = (
        f"average rating {summary.average_rating:.1f}/5" if summary.average_rating is not None else "no ratings yet"
    )
    return f"*Check-ins*: {summary.checkins} · {mentoring_hours(summary.total_hours)} · {rating}"


def _recent_rates(summary: ProgramSummary) -> str:
    """The last six months' meeting rates, oldest first, for the running program's trend line."""
    months = summary.months[-6:]
    labels = month_labels([m.month for m in months])
    return " → ".join(f"{label}: {m.rate:.0%}" for label, m in zip(labels, months, strict=True))

"""Scheduled messages (intros, reminders, nudges, alerts), rendered from a Delivery's payload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.services.catalog import CADENCES, LIBRARY_TYPES, applications_deadline_words, cadence_stretch, zone_label
from bot.services.schedule import AT_RISK_MISSED
from bot.views.common import (
    MAX_BLOCKS_PER_MESSAGE,
    UNREACHABLE_WORDS,
    admin_channel_fix,
    admin_channel_refusal,
    clip,
    escape,
    export_command,
    plural,
    render,
    unreachable_words,
)
from bot.views.ids import ACTION_NEED_HELP, ACTION_NOT_YET, ACTION_OPEN_AGREEMENT, ACTION_SURVEY, ACTION_WE_MET
from bot.views.pairs import AFTER_HOURS_QUESTION, MEETING_QUESTION, ON_CALL_QUESTION

Rendered = tuple[str, list[dict[str, Any]]]


def _day(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%b %-d") if iso else "-"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text)))


def _intro(p: dict[str, Any]) -> Rendered:
    mentor, mentee = p["mentor"], p["mentee"]

    def who(person: dict[str, Any]) -> str:
        specs = ", ".join(person.get("specializations") or []) or "no specializations listed"
        library = LIBRARY_TYPES.get(person.get("library_type", ""), "library")
        # Each person's time zone, as people say it ("Pacific time"), helps the two find a time to meet.
        zone = zone_label(person.get("timezone", ""))
        organization = escape(person.get("organization") or "") or "organization not given"
        line = f"*<@{person['id']}>*, {person['role']}: {library}, {organization} · {specs}" + (
            f" · {zone}" if zone else ""
        )
        if person.get("goals"):
            line += f"\n_Goals:_ {escape(person['goals'])}"
        return line

    # What people typed (organizations, goals) and the reasons quoting it (regions, organizations, names) are
    # escaped: the pair's conversation must show their words, not turn them into pings or disguised links.
    reasons = "\n".join(f"• {escape(r)}" for r in p.get("reasons") or []) or "• Your coordinator paired you by hand."
    talk = list(p.get("talk_about") or [])  # absent from intros queued before concerns were told
    # Absent from intros queued before programs had their own work day: those say "work hours" alone.
    hours = (
        f" Work hours here: {p['work_hours']} on weekdays, each in your own time zone." if p.get("work_hours") else ""
    )
    questions = (
        "*Before your first meeting, settle these together* (the agreement button records them):\n"
        f"• {MEETING_QUESTION} What is a realistic time commitment for both of you?\n"
        f"• {ON_CALL_QUESTION}{hours}\n"
        f"• {AFTER_HOURS_QUESTION} Or only during them?\n"
        "• What boundaries suit you: professional library topics only, or also how work touches personal life?"
    )
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Welcome to {p['program']}!", 150)),
        _section(f"You two have been matched.\n{who(mentor)}\n{who(mentee)}"),
        _section(f"*Why you were matched*\n{reasons}"),
        *([_section("*Worth talking through early*\n" + "\n".join(f"• {escape(c)}" for c in talk))] if talk else []),
        _section(
            f"*Calendar:* agreement by {_day(p['agreement_due'])} · program runs {_day(p['starts_on'])} - "
            f"{_day(p['ends_on'])} · meet at least {CADENCES.get(p.get('cadence', 'monthly'), 'monthly').lower()}"
            + _breaks_words(p.get("breaks") or [])
        ),
        _section(questions),
        _agreement_button(p["pairing_id"]),
    ]
    return f"Welcome to {escape(p['program'])}: meet your mentoring partner", render(blocks)


BREAKS_SHOWN = 8  # a school year has a handful; a coordinator's many one-day closures are counted past these


def _breaks_words(breaks: list[list[str]]) -> str:
    """A line "Breaks (no reminders, ...): Dec 22 - Jan 2, Mar 30 - Apr 3" (absent from intros queued before
    breaks were told)."""
    if not breaks:
        return ""
    spans = [_day(a) if a == b else f"{_day(a)} - {_day(b)}" for a, b in breaks[:BREAKS_SHOWN]]
    more = f" and {len(breaks) - BREAKS_SHOWN} more" if len(breaks) > BREAKS_SHOWN else ""
    return "\n*Breaks* (no reminders, and no meeting expected): " + ", ".join(spans) + more


def _agreement_button(pairing_id: int) -> ActionsBlock:
    return ActionsBlock(
        block_id="agreement_actions",
        elements=[
            ButtonElement(
                text="Set up our agreement", action_id=ACTION_OPEN_AGREEMENT, value=str(pairing_id), style="primary"
            )
        ],
    )


def _meet_buttons(pairing_id: int) -> ActionsBlock:
    value = str(pairing_id)
    return ActionsBlock(
        block_id="meet_actions",
        elements=[
            ButtonElement(text="We met", action_id=ACTION_WE_MET, value=value, style="primary"),
            ButtonElement(text="Not yet", action_id=ACTION_NOT_YET, value=value),
            ButtonElement(text="We need help", action_id=ACTION_NEED_HELP, value=value),
        ],
    )


def _nudge(p: dict[str, Any]) -> Rendered:
    text = (
        f"Hi <@{p['mentor']}> and <@{p['mentee']}>, a friendly nudge: no meeting is logged yet for "
        f"{cadence_stretch(p.get('cadence'))} (until {_day(p['period_end'])}). A short call counts! "
        "Log it with `/mentor checkin`."
    )
    return "A friendly nudge to meet", render(_meeting_reminder(p, text))


def _did_you_meet(p: dict[str, Any]) -> Rendered:
    stretch = cadence_stretch(p.get("cadence"))
    text = f"<@{p['mentor']}>, <@{p['mentee']}>: did you meet {stretch} (until {_day(p['period_end'])})?"
    return "Did you meet?", render(_meeting_reminder(p, text))


def _meeting_reminder(p: dict[str, Any], text: str) -> list[Block]:
    """A reminder to meet, and for a pair whose agreement date passed unsettled, the way to settle it: they are
    asked to meet all the same, and the agreement is what lets them choose how often."""
    blocks: list[Block] = [_section(text), _meet_buttons(p["pairing_id"])]
    if p.get("agreement_due"):
        blocks.append(
            _section(
                f"Your mentoring agreement is not settled yet (it was due {_day(p['agreement_due'])}), so I remind "
                "you at the program's pace. Settling it lets you choose how often to meet:"
            )
        )
        blocks.append(_agreement_button(p["pairing_id"]))
    return blocks


def _agreement_reminder(p: dict[str, Any]) -> Rendered:
    text = (
        f"A reminder: please settle your mentoring agreement by {_day(p['agreement_due'])}: how often you'll meet, "
        "on-call and after-hours expectations, and boundaries (or type `/mentor agreement`)."
    )
    blocks: list[Block] = [_section(text)]
    if p.get("pairing_id"):
        blocks.append(_agreement_button(p["pairing_id"]))
    return "Your mentoring agreement is due soon", render(blocks)


# Pairs listed by name in the overdue-agreement alert; the rest are counted and pointed to, never dropped silently.
OVERDUE_PAIRS_SHOWN = 40


def _agreement_overdue(p: dict[str, Any]) -> Rendered:
    """Each pair is [mentor, mentee, due date]: a pair introduced late has a later date than the program's
    (alerts queued before that was so hold [mentor, mentee], due on the alert's date)."""
    total = len(p["pairs"])
    due = {str(pair[2]) if len(pair) > 2 else p["agreement_due"] for pair in p["pairs"]}
    shared = len(due) == 1

    def line(pair: list[str]) -> str:
        own = f" (due {_day(pair[2])})" if len(pair) > 2 and not shared else ""
        return f"• <@{pair[0]}> and <@{pair[1]}>{own}"

    lines = [line(pair) for pair in p["pairs"][:OVERDUE_PAIRS_SHOWN]]
    if total > OVERDUE_PAIRS_SHOWN:
        lines.append(
            f"… and {total - OVERDUE_PAIRS_SHOWN} more: {export_command('pairings', str(p['program']))} lists them all "
            "(status introduced)"
        )
    missed = f"the agreement date ({_day(due.pop())})" if shared else "their agreement dates"
    text = f"*{escape(p['program'])}*: {plural(total, 'pair')} missed {missed}:\n" + "\n".join(lines)
    return f"{plural(total, 'agreement')} overdue", render([_section(text)])


# Pairs listed by name in the at-risk alert; the rest are counted and pointed to the pairings export.
AT_RISK_PAIRS_SHOWN = 40
LINES_PER_SECTION = 20  # 20 lines of two mentions and a date stay well inside a section's 3,000 characters


def _at_risk(p: dict[str, Any]) -> Rendered:
    """Every pair at risk in one alert; each pair is [mentor, mentee, periods missed, last met or None]
    (alerts queued one per pair, before there was one per program, hold a single pair's fields)."""
    pairs = p.get("pairs") or [[p["mentor"], p["mentee"], p["missed"], p.get("last_met")]]

    def since(last_met: str | None) -> str:
        return f"last met {_day(last_met)}" if last_met else "no meeting logged yet"

    if len(pairs) == 1:
        [(mentor, mentee, missed, last_met)] = pairs
        text = (
            f":warning: *At risk* in {escape(p['program'])}: <@{mentor}> and <@{mentee}> missed "
            f"{plural(missed, 'period')} in a row ({since(last_met)}). A friendly check-in from a coordinator may help."
        )
        return "A pair is at risk", render([_section(text)])
    lines = [
        f"• <@{mentor}> and <@{mentee}>: missed {plural(missed, 'period')}, {since(last_met)}"
        for mentor, mentee, missed, last_met in pairs[:AT_RISK_PAIRS_SHOWN]
    ]
    if len(pairs) > AT_RISK_PAIRS_SHOWN:
        lines.append(
            f"… and {len(pairs) - AT_RISK_PAIRS_SHOWN} more: {export_command('pairings', str(p['program']))} "
            "lists them all (at_risk yes)"
        )
    head = (
        f":warning: *At risk* in {escape(p['program'])}: {len(pairs)} pairs have missed {AT_RISK_MISSED} or more meeting periods in a "
        "row. A friendly check-in from a coordinator may help."
    )
    chunks = [lines[i : i + LINES_PER_SECTION] for i in range(0, len(lines), LINES_PER_SECTION)]
    return f"{len(pairs)} pairs are at risk", render([_section(head)] + [_section("\n".join(c)) for c in chunks])


def _help_request(p: dict[str, Any]) -> Rendered:
    text = (
        f":sos: <@{p['requester']}> asked for help with their pairing (<@{p['mentor']}> mentoring "
        f"<@{p['mentee']}>) in {escape(p['program'])}. Please reach out to them."
    )
    return "A pair asked for help", render([_section(text)])


def _applications_closing(p: dict[str, Any]) -> Rendered:
    deadline = applications_deadline_words(p["closes"], p["timezone"])
    text = f"Applications for *{escape(p['program'])}* close on {deadline}. Mentors and mentees welcome: type `/mentor join`."
    return f"Applications for {p['program']} close soon", render([_section(text)])


def _wrapup(p: dict[str, Any]) -> Rendered:
    text = (
        f"*{escape(p['program'])}* has come to an end. Thank you both for the time you gave each other! "
        "Would you answer three quick questions? It helps coordinators plan the next cycle."
    )
    blocks: list[Block] = [
        _section(text),
        ActionsBlock(
            block_id="survey_actions",
            elements=[ButtonElement(text="Answer the survey", action_id=ACTION_SURVEY, value=str(p["pairing_id"]))],
        ),
    ]
    return "Your mentoring program has ended", render(blocks)


def _never_matched(p: dict[str, Any]) -> Rendered:
    text = (
        f"*{escape(p['program'])}* ended on {_day(p['ended_on'])}, and no match came up for you in it; I'm sorry. "
        "Thank you for applying! When a new cycle opens, `/mentor join` starts from the answers you gave."
    )
    return "Your mentoring program has ended without a match", render([_section(text)])


def _waitlisted(p: dict[str, Any]) -> Rendered:
    text = (
        f"Matches for *{escape(p['program'])}* are made, and no mentor is free for you yet, so you are on the "
        "waitlist. If a place opens (a new mentor, or one with room), your coordinator can pair you, and I will "
        "introduce you then. `/mentor status` shows where you are."
    )
    return "You're on the waitlist", render([_section(text)])


# What each message in the ledger is, as the coordinators told it was not delivered would name it.
DELIVERY_WORDS = {
    "digest": "the weekly digest",
    "intro": "the introduction",
    "nudge": "a reminder to meet",
    "did_you_meet": 'the "Did you meet?" question',
    "did_you_meet_again": 'the second "Did you meet?" question',
    "agreement_reminder": "the reminder to settle their agreement",
    "agreement_overdue": "the alert about overdue agreements",
    "at_risk": "the alert about quiet pairs",
    "help_request": "a pair's request for help",
    "applications_closing": "the reminder that applications close soon",
    "wrapup": "the wrap-up survey",
    "never_matched": "the notice that the program ended without a match for them",
    "waitlisted": "the notice that they are on the waitlist",
    "unreachable": "a can't-reach report",
    "coordinator_copy": "a coordinators' message sent by DM",
    "pairing_dissolved": "the notice that a pairing was dissolved",
    "rematch_request": "a rematch request",
    "pair_notice": "a message to the pair",
    "partner_account_gone": "the notice that their partner's account is no longer active",
    "account_gone_alert": "the alert about a partner whose account is no longer active",
    "profile_changed": "the alert about a paired participant's changed answers",
    "mentor_has_room": "the notice that a mentor has room while mentees wait",
}


def _unreachable(p: dict[str, Any]) -> Rendered:
    who = " and ".join(f"<@{person}>" for person in p.get("people") or []) or "a recipient"
    what = DELIVERY_WORDS.get(str(p.get("kind", "")), "a message")
    error = str(p.get("error", ""))
    text = f"I can't reach {who} in {escape(p['program'])} ({unreachable_words(error)}), so {what} was not delivered."
    if error not in UNREACHABLE_WORDS:
        text += " They may have left the workspace or turned off messages from apps."
    return "Someone can't be reached", render([_section(text)])


def _digest(p: dict[str, Any]) -> Rendered:
    from bot.services.reports import ProgramSummary
    from bot.views.summary import summary_blocks, summary_text

    summary = ProgramSummary.from_payload(p["summary"])
    return "Weekly digest: " + summary_text(summary), summary_blocks(summary)


def _pairing_dissolved(p: dict[str, Any]) -> Rendered:
    from bot.views.participant import admin_pairing_dissolved_message

    text = admin_pairing_dissolved_message(
        p["program"], p["partner"], str(p.get("leaver") or ""), tuple(p.get("still_paired_with") or ())
    )
    return text, render([_section(text)])


def _rematch_request(p: dict[str, Any]) -> Rendered:
    from bot.views.admin import rematch_admin_blocks

    blocks = rematch_admin_blocks(
        p["pairing_id"], p["requester"], p["partner"], p["program"], p["reason"], privately=p["privately"]
    )
    return "A participant asked for a rematch.", blocks


def _partner_account_gone(p: dict[str, Any]) -> Rendered:
    from bot.views.participant import partner_account_gone_message

    text = partner_account_gone_message(p["program"], p["gone"])
    return text, render([_section(text)])


def _account_gone_alert(p: dict[str, Any]) -> Rendered:
    from bot.views.admin import account_gone_admin_blocks, account_gone_admin_text

    who = (p["program"], p["gone"], p["mentor"], p["mentee"], p["partner"])
    return account_gone_admin_text(*who), account_gone_admin_blocks(p["pairing_id"], *who)


def _profile_changed(p: dict[str, Any]) -> Rendered:
    from bot.views.admin import profile_changed_admin_text

    text = profile_changed_admin_text(p)
    return f"{escape(p['program'])}: a paired participant changed answers their match used", render([_section(text)])


def _mentor_has_room(p: dict[str, Any]) -> Rendered:
    from bot.views.admin import mentor_has_room_text

    text = mentor_has_room_text(p)
    return f"{escape(p['program'])}: a mentor has room while mentees wait", render([_section(text)])


def _coordinator_copy(p: dict[str, Any]) -> Rendered:
    """A message the admin channel refused, sent to a coordinator with why and what to do."""
    text, blocks = RENDERERS[p["kind"]](p["payload"])
    channel = f"<#{p['channel']}>"
    error = str(p.get("error", ""))
    advice = admin_channel_fix(error, channel)
    why = admin_channel_refusal(error) or unreachable_words(error)
    note = (
        f":warning: I couldn't post this in {escape(p['program'])}'s admin channel {channel} ({why}), "
        f"so I'm sending it to you as a coordinator. To get these in the channel again, {advice}."
    )
    notice = render([_section(note)])
    return f"{text} (the admin channel could not be used)", (notice + blocks)[:MAX_BLOCKS_PER_MESSAGE]


RENDERERS: dict[str, Callable[[dict[str, Any]], Rendered]] = {
    "digest": _digest,
    "intro": _intro,
    "nudge": _nudge,
    "did_you_meet": _did_you_meet,
    "did_you_meet_again": _did_you_meet,
    "agreement_reminder": _agreement_reminder,
    "agreement_overdue": _agreement_overdue,
    "at_risk": _at_risk,
    "help_request": _help_request,
    "applications_closing": _applications_closing,
    "wrapup": _wrapup,
    "never_matched": _never_matched,
    "waitlisted": _waitlisted,
    "unreachable": _unreachable,
    "coordinator_copy": _coordinator_copy,
    "pairing_dissolved": _pairing_dissolved,
    "rematch_request": _rematch_request,
    "partner_account_gone": _partner_account_gone,
    "account_gone_alert": _account_gone_alert,
    "profile_changed": _profile_changed,
    "mentor_has_room": _mentor_has_room,
    # A reply to one member's action, held for quiet hours: rendered when it was queued.
    "pair_notice": lambda p: (p["text"], p["blocks"]),
}


def render_delivery(kind: str, payload: dict[str, Any]) -> Rendered:
    """A scheduled message from its stored facts. (In rehearsal the gateway labels every post.)"""
    return RENDERERS[kind](payload)

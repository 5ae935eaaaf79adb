"""What coordinators see: the program modal and list, the match preview, hand-pairing answers."""

from __future__ import annotations

import json
from datetime import date, time
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ChannelSelectElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.services.catalog import CADENCES, specialization_label
from bot.services.csv_files import SpreadsheetCsv
from bot.services.pairing import ApprovalResult, Decision, MatchPreview, Who
from bot.services.programs import LIST_TEXT_LIMIT, MAX_CAPACITY, WORK_END, WORK_START, blackouts_text
from bot.services.reasons import split_reasons
from bot.services.schedule import WorkDay
from bot.views.common import (
    MAX_BLOCKS_PER_MESSAGE,
    admin_channel_fix,
    admin_channel_problem,
    admin_channel_refusal,
    clip,
    escape,
    plural,
    render,
)
from bot.views.ids import (
    ACTION_APPROVE_ALL,
    ACTION_APPROVE_PAIR,
    ACTION_DISSOLVE_PAIR,
    ACTION_OVERRIDE_PAIR,
    ACTION_REJECT_PAIR,
    PROGRAM_CALLBACK,
)
from bot.views.state import SubmittedView, as_int
from storage.models import Program

# The channel message lists as many pairs as fit Slack's 50-block limit (see pairs_that_fit); every pair,
# shown or not, is in the CSV file posted beside it.
BLOCKS_PER_PAIR = 3  # divider, the pair and its reasons, Approve / Reject
WAITLIST_SHOWN = 8
SPECIALIZATIONS_SHOWN = 10
# Each pair shows its strongest reasons and every concern (marked): the strongest reasons alone would hide
# exactly the mismatches a coordinator must weigh before approving. One line per score component at most.
STRENGTHS_SHOWN = 4
REASON_LINE_LIMIT = 300  # 7 components x 300 characters stay inside a section's 3,000
PROGRAMS_SHOWN = 40  # the header, 40 programs and the "… and N more" line stay inside 50 blocks


# -- program modal ---------------------------------------------------------------------------------------
def _text(
    block_id: str,
    label: str,
    initial: str | None,
    *,
    optional: bool = True,
    hint: str | None = None,
    max_length: int = 500,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(action_id=block_id, initial_value=initial or None, max_length=max_length),
    )


def _date(block_id: str, label: str, initial: date | None, *, optional: bool = False) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=DatePickerElement(action_id=block_id, initial_date=initial.isoformat() if initial else None),
    )


def _choice(block_id: str, label: str, choices: dict[str, str], initial: str) -> InputBlock:
    options = [Option(value=k, label=v) for k, v in choices.items()]
    return InputBlock(
        block_id=block_id,
        label=label,
        element=StaticSelectElement(
            action_id=block_id, options=options, initial_option=next((o for o in options if o.value == initial), None)
        ),
    )


def _time(block_id: str, label: str, initial: time, *, hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        hint=hint,
        element=TimePickerElement(action_id=block_id, initial_time=f"{initial:%H:%M}"),
    )


def program_modal(program: Program | None, creator: str | None = None) -> dict[str, Any]:
    """The program form: empty to create (offering `creator` as a coordinator), or one program's to edit."""
    p = program
    blocks: list[Block] = [
        _text("name", "Program name", p.name if p else None, optional=False),
        _date("applications_open", "Applications open", p.applications_open if p else None, optional=True),
        _date("applications_close", "Application deadline (closes 11:59 PM)", p.applications_close if p else None),
        _date("agreement_due", "Mentoring agreement due", p.agreement_due if p else None),
        _date("starts_on", "Program starts", p.starts_on if p else None),
        _date("ends_on", "Program ends", p.ends_on if p else None),
        _choice("default_cadence", "Default meeting cadence", CADENCES, p.default_cadence if p else "monthly"),
        InputBlock(
            block_id="min_mentor_years",
            label="Minimum mentor years in their kind of library",
            hint="The join form asks for years in the kind of library a person works in: a school librarian counts "
            "years in school libraries only.",
            element=NumberInputElement(
                action_id="min_mentor_years", is_decimal_allowed=False, initial_value=p.min_mentor_years if p else 3
            ),
        ),
        InputBlock(
            block_id="default_capacity",
            label="Default mentees per mentor",
            element=NumberInputElement(
                action_id="default_capacity",
                is_decimal_allowed=False,
                initial_value=p.default_capacity if p else 2,
                min_value=1,
                max_value=MAX_CAPACITY,
            ),
        ),
        _choice(
            "eligibility",
            "Who may join",
            {
                "open": "Anyone in the workspace",
                "allowlist": "Only the people listed",
                "channel": "Members of a channel",
            },
            p.eligibility if p else "open",
        ),
        InputBlock(
            block_id="eligibility_allowlist",
            label="Allowlist",
            optional=True,
            element=UserMultiSelectElement(
                action_id="eligibility_allowlist", initial_users=(p.eligibility_allowlist or None) if p else None
            ),
        ),
        InputBlock(
            block_id="eligibility_channel",
            label="Eligibility channel",
            optional=True,
            element=ChannelSelectElement(
                action_id="eligibility_channel", initial_channel=p.eligibility_channel if p else None
            ),
        ),
        InputBlock(
            block_id="admin_channel",
            label="Admin channel (invite the bot there)",
            element=ChannelSelectElement(action_id="admin_channel", initial_channel=p.admin_channel if p else None),
        ),
        _text("timezone", "Time zone", p.timezone if p else "America/Los_Angeles", optional=False),
        _time("work_day_starts", "Work day starts", p.work_day_starts if p else WORK_START),
        _time(
            "work_day_ends",
            "Work day ends",
            p.work_day_ends if p else WORK_END,
            hint="Monday to Friday, in each person's own time zone (a school day: 7:30 AM - 3:30 PM). Reminders go "
            "out as it starts; pairs who say no to chat outside work hours hear from Shelfmate only within it.",
        ),
        _text(
            "blackouts",
            "Blackout periods",
            blackouts_text(p.blackouts) if p and p.blackouts else None,
            hint="School breaks, e.g. 2025-04-07..2025-04-11, 2025-05-26",
            max_length=LIST_TEXT_LIMIT,
        ),
        _choice(
            "cross_org",
            "Different organizations?",
            {
                "none": "No rule",
                "prefer": "Prefer a different organization",
                "require": "Require a different organization",
            },
            p.cross_org if p else "none",
        ),
        _text(
            "neighbor_orgs",
            "Neighbouring organizations (preferred)",
            ", ".join(p.neighbor_orgs) if p else None,
            max_length=LIST_TEXT_LIMIT,
        ),
        _text(
            "weights",
            "Matching weights",
            ", ".join(f"{k}={v:g}" for k, v in p.weights.items()) if p and p.weights else None,
            hint="e.g. specialization=4, library_type=2 (leave empty for the defaults)",
        ),
        InputBlock(
            block_id="admins",
            label="Program coordinators",
            optional=True,
            element=UserMultiSelectElement(
                action_id="admins", initial_users=(p.admins or None) if p else ([creator] if creator else None)
            ),
        ),
        InputBlock(
            block_id="allow_guests",
            label="Guests",
            optional=True,
            element=CheckboxesElement(
                action_id="allow_guests",
                options=[Option(value="true", label="Guest accounts may join")],
                initial_options=[Option(value="true", label="Guest accounts may join")]
                if p and p.allow_guests
                else None,
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=PROGRAM_CALLBACK,
        title="Edit program" if p else "New program",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps({"program_id": p.id if p else None}),
        blocks=blocks,
    ).to_dict()


def parse_program_modal(view: dict[str, Any]) -> tuple[int | None, dict[str, str]]:
    """Submitted state -> (program id being edited, the text values validate_program expects)."""
    submitted = SubmittedView(view)
    values: dict[str, str] = {}
    for block_id in submitted.fields:
        action = submitted.action(block_id)
        if not action:
            continue
        if "selected_date" in action:
            values[block_id] = submitted.picked_date(block_id)
        elif "selected_option" in action:
            values[block_id] = submitted.selected(block_id)
        elif "selected_users" in action:
            values[block_id] = ",".join(submitted.users(block_id))
        elif "selected_time" in action:
            values[block_id] = submitted.picked_time(block_id)
        elif "selected_channel" in action:
            channel = action.get("selected_channel")
            values[block_id] = channel if isinstance(channel, str) else ""
        elif "selected_options" in action:
            values[block_id] = "true" if submitted.selected_many(block_id) else "false"
        else:
            values[block_id] = submitted.typed(block_id)
    return as_int(submitted.metadata.get("program_id")), values


def program_saved_text(name: str, admin_channel: str | None = None, problem: str | None = None) -> str:
    """The coordinator's confirmation; when Shelfmate cannot post in the admin channel, what to do about it."""
    text = f"Saved *{escape(name)}*. `/mentor-admin program list` shows the programs you coordinate."
    if admin_channel is None or problem is None:
        return text
    advice = admin_channel_problem(problem, f"<#{admin_channel}>")
    return f"{text}\n:warning: {advice}"


def program_list_blocks(programs: list[Program], counts: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """`programs` in the order to show them (open first, newest first); those past PROGRAMS_SHOWN are counted."""
    if not programs:
        return render(
            [
                SectionBlock(
                    text=MarkdownTextObject(text="No programs yet. `/mentor-admin program create` to set one up.")
                )
            ]
        )
    blocks: list[Block] = [HeaderBlock(text="Mentoring programs")]
    for program in programs[:PROGRAMS_SHOWN]:
        c = counts.get(program.id or 0, {})
        status = "closed" if program.closed_at else "open"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(
                        f"*{escape(program.name)}* ({status})\n"
                        f"Applications close {_day(program.applications_close)} · agreement due "
                        f"{_day(program.agreement_due)} · runs {_day(program.starts_on)} - {_day(program.ends_on)}\n"
                        f"{plural(c.get('mentor', 0), 'mentor')}, {plural(c.get('mentee', 0), 'mentee')} · "
                        f"admin channel {_channel(program.admin_channel)} · work hours {WorkDay.of(program).words}"
                    )
                )
            )
        )
    hidden = programs[PROGRAMS_SHOWN:]
    if hidden:
        older = "older programs, all closed" if all(p.closed_at for p in hidden) else "programs"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"… and {len(hidden)} more {older}.")]))
    return render(blocks[:MAX_BLOCKS_PER_MESSAGE])


def _day(value: date | None) -> str:
    return value.strftime("%b %-d, %Y") if value else "-"


def _channel(channel: str | None) -> str:
    return f"<#{channel}>" if channel else "not set"


# -- match preview ---------------------------------------------------------------------------------------
def _preview_head(preview: MatchPreview, rehearsal: bool) -> list[Block]:
    blocks: list[Block] = []
    if rehearsal:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=":test_tube: *REHEARSAL*")))
    blocks.append(HeaderBlock(text=clip(f"Proposed matches: {preview.program.name}", 150)))
    mean = preview.average_score or 0
    still_open = applications_still_open(preview)
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{len(preview.pairs)}* of {plural(preview.mentees, 'waiting mentee')} matched · "
                f"{plural(preview.mentors, 'mentor')} with {plural(preview.open_slots, 'open slot')} · average score {mean:.1f}/100 · "
                f"*{len(preview.waitlist)}* waitlisted" + (f"\n:hourglass: {still_open}" if still_open else "")
            )
        )
    )
    if preview.pairs:
        blocks.append(
            ActionsBlock(
                block_id="preview_actions",
                elements=[
                    ButtonElement(
                        text=approve_all_label(len(preview.pairs)),
                        action_id=ACTION_APPROVE_ALL,
                        style="primary",
                        value=approve_all_value(preview),
                        confirm=ConfirmObject(
                            title="Approve all?",
                            # No count: the message stays as posted while proposals are decided one by one.
                            text="The pairs of all proposals still open will be introduced to each other.",
                            confirm="Approve all",
                            deny="Not yet",
                        ),
                    )
                ],
            )
        )
    return blocks


def approve_all_label(pairs: int) -> str:
    """The button's words: "Approve all 1" reads wrong for a preview of one pair."""
    return "Approve the 1 pair" if pairs == 1 else f"Approve all {pairs}"


def approve_all_value(preview: MatchPreview) -> str:
    """The Approve all button's value: the program and a fingerprint of the pairs this preview proposed (a
    hash, since Slack's 2,000 characters hold no list of 310 pairs)."""
    return f"{preview.program.id}:{preview.fingerprint}"


def parse_approve_all_value(value: str) -> tuple[int | None, str | None]:
    """(program id, preview fingerprint) from an Approve all button; a button posted before fingerprints
    were added carries the program id alone (fingerprint None)."""
    program_part, _, fingerprint = value.partition(":")
    return as_int(program_part), fingerprint or None


def _concerns_note(preview: MatchPreview, shown: int) -> Block | None:
    """How many proposals carry a concern and how many of those only the CSV lists: Approve all approves
    them too, so none may go unseen. They are listed first, so only a big preview leaves some out."""
    concerned = preview.with_concerns
    if not concerned:
        return None
    unseen = sum(1 for pair in preview.pairs[shown:] if pair.concerns)
    where = f"{unseen} of them only in the CSV" if unseen else "all listed first below"
    return ContextBlock(
        elements=[
            MarkdownTextObject(
                text=f":warning: {concerned} {'proposal has a concern' if concerned == 1 else 'proposals have concerns'}"
                f" (marked ⚠), {where}. `Approve all` approves them too."
            )
        ]
    )


def pairs_that_fit(preview: MatchPreview, *, rehearsal: bool = False) -> int:
    """How many pairs the channel message lists one by one, so that it never exceeds 50 blocks.

    The head (label, header, totals, Approve all), the note on concerns (when any), the waitlist (divider +
    section) and, when some pairs are left out, the line pointing to the CSV all take blocks; each pair takes
    BLOCKS_PER_PAIR.
    """
    fixed = len(_preview_head(preview, rehearsal)) + 2 + (1 if preview.with_concerns else 0)
    if fixed + len(preview.pairs) * BLOCKS_PER_PAIR <= MAX_BLOCKS_PER_MESSAGE:
        return len(preview.pairs)
    return max(0, (MAX_BLOCKS_PER_MESSAGE - fixed - 1) // BLOCKS_PER_PAIR)


def preview_needs_file(preview: MatchPreview, *, rehearsal: bool = False) -> bool:
    """The CSV goes out whenever the message leaves out pairs or waitlisted people."""
    return pairs_that_fit(preview, rehearsal=rehearsal) < len(preview.pairs) or len(preview.waitlist) > WAITLIST_SHOWN


def match_preview_blocks(preview: MatchPreview, *, rehearsal: bool = False) -> list[dict[str, Any]]:
    blocks = _preview_head(preview, rehearsal)
    shown = pairs_that_fit(preview, rehearsal=rehearsal)
    if concerns := _concerns_note(preview, shown):
        blocks.append(concerns)
    for pair in preview.pairs[:shown]:
        reasons = _reason_lines(pair.pairing.reasons)
        blocks.append(DividerBlock())
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(
                        f"<@{pair.mentor_id}> mentors <@{pair.mentee_id}> · *{pair.pairing.score:.1f}*\n{reasons}"
                    )
                )
            )
        )
        blocks.append(
            ActionsBlock(
                block_id=f"pair_{pair.pairing.id}",
                elements=[
                    ButtonElement(
                        text="Approve", action_id=ACTION_APPROVE_PAIR, value=str(pair.pairing.id), style="primary"
                    ),
                    ButtonElement(
                        text="Reject",
                        action_id=ACTION_REJECT_PAIR,
                        value=str(pair.pairing.id),
                        style="danger",
                        # Permanent, like Dissolve: the two are never proposed again, so one mis-tap must not do it.
                        confirm=ConfirmObject(
                            title="Reject this pair?",
                            text="Matching won't propose them again.",
                            confirm="Reject",
                            deny="Cancel",
                        ),
                    ),
                ],
            )
        )
    if len(preview.pairs) > shown:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"{plural(len(preview.pairs) - shown, 'more pair')} "
                        f"{'is' if len(preview.pairs) - shown == 1 else 'are'} in the CSV file posted with this message; "
                        "`Approve all` covers every pair. To turn one down, "
                        "`/mentor-admin unpair @mentor @mentee`."
                    )
                ]
            )
        )
    blocks.append(DividerBlock())
    blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(waitlist_text(preview)))))
    return render(blocks)


def _reason_lines(reasons: list[str]) -> str:
    """The strongest reasons, then every concern, one bullet each, each short enough that none is cut off.
    Reasons quote regions and organizations as typed: escaped, so none pings the admin channel or links."""
    strengths, concerns = split_reasons(reasons)
    return "\n".join(f"• {clip(escape(r), REASON_LINE_LIMIT)}" for r in strengths[:STRENGTHS_SHOWN] + concerns)


def waitlist_text(preview: MatchPreview) -> str:
    if not preview.waitlist:
        return "*Waitlist:* nobody. Every waiting mentee has a proposed mentor."
    lines = [f"*Waitlist:* {plural(len(preview.waitlist), 'mentee')}"]
    # Counts of mentees, not of mentors to recruit: one new mentor can cover several of these at once.
    sought = sorted(preview.shortages.items(), key=lambda kv: (-kv[1], kv[0]))
    if sought:
        lines.append("Mentors who coach these would take them:")
    for spec, count in sought[:SPECIALIZATIONS_SHOWN]:
        lines.append(f"• {specialization_label(spec)}: sought by {plural(count, 'waitlisted mentee')}")
    if len(sought) > SPECIALIZATIONS_SHOWN:
        lines.append(f"… and {plural(len(sought) - SPECIALIZATIONS_SHOWN, 'more specialization')}.")
    for person_id, reason in preview.waitlist[:WAITLIST_SHOWN]:
        lines.append(f"• <@{person_id}>: {escape(reason)}")
    if len(preview.waitlist) > WAITLIST_SHOWN:
        lines.append(f"… and {len(preview.waitlist) - WAITLIST_SHOWN} more (see the CSV).")
    return "\n".join(lines)


def preview_csv(preview: MatchPreview) -> bytes:
    """Every proposal in review order (concerns first, as in the message), then the waitlist; each person by
    Slack id, display name and organization, so the file can be read without looking anyone up."""
    writer = SpreadsheetCsv()
    writer.writerow(
        ["pairing_id", "mentor", "mentor_name", "mentor_organization", "mentee", "mentee_name",
         "mentee_organization", "score", "concerns", "reasons"]
    )  # fmt: skip
    for pair in preview.pairs:
        writer.writerow(
            [
                pair.pairing.id,
                pair.mentor_id,
                pair.mentor.name,
                pair.mentor.organization,
                pair.mentee_id,
                pair.mentee.name,
                pair.mentee.organization,
                f"{pair.pairing.score:.1f}",
                " | ".join(pair.concerns),
                " | ".join(pair.pairing.reasons),
            ]
        )
    writer.writerow([])
    writer.writerow(["waitlisted_mentee", "name", "organization", "reason"])
    for person_id, reason in preview.waitlist:
        who = preview.waitlisted.get(person_id, Who())
        writer.writerow([person_id, who.name, who.organization, reason])
    return writer.content()


def preview_post_text(preview: MatchPreview) -> str:
    """The preview's words in the admin channel's notifications (read as mrkdwn, so the name is escaped)."""
    return f"Proposed matches for {escape(preview.program.name)}: {preview_answer(preview)}"


def preview_answer(preview: MatchPreview) -> str:
    """The coordinator's own short answer to `match preview`; the proposal itself goes to the admin channel."""
    # A sum of scores ("total score 725.2") means nothing to a coordinator; each pair's is out of 100.
    average = f", average score {preview.average_score:.1f}/100" if preview.average_score is not None else ""
    answer = f"{plural(len(preview.pairs), 'pair')} proposed, {len(preview.waitlist)} waitlisted{average}."
    still_open = applications_still_open(preview)
    return f"{answer} {still_open}" if still_open else answer


def applications_still_open(preview: MatchPreview) -> str:
    """Said with a preview run before the application deadline: nothing else tells the coordinator that pairs
    approved now are introduced at once, and that whoever applies later was not weighed ("" after the deadline)."""
    if preview.applications_close is None:
        return ""
    return (
        f"Applications are still open until {_day(preview.applications_close)}: anyone who applies later is not "
        "in this preview, and pairs approved now are introduced right away."
    )


def approve_all_text(actor: str, program_name: str, result: ApprovalResult, shown: int = 10) -> str:
    """What Approve all did, and each proposal it left alone with the reason."""
    if not result.approved and not result.refused:  # a double click, or another coordinator was first
        return f"Nothing left to approve in {escape(program_name)}: every proposal was already decided."
    text = f"<@{actor}> approved {plural(result.approved, 'pair')} in {escape(program_name)}."
    if result.decided_one_by_one:
        text += f" {result.decided_one_by_one} had already been decided one by one."
    if not result.refused:
        return text
    lines = [text, f"{len(result.refused)} not approved:"]
    lines += [f"• <@{mentor}> and <@{mentee}>: {reason}" for mentor, mentee, reason in result.refused[:shown]]
    if len(result.refused) > shown:
        lines.append(f"… and {len(result.refused) - shown} more. Run a new preview to re-match them.")
    return clip("\n".join(lines), 3000)


def decision_text(decision: Decision, actor: str, members: tuple[str, str] | None, *, changed: bool) -> str:
    """What a coordinator's Approve, Reject or Dissolve did, naming the two people as the preview showed them
    (a pairing's number is nobody's business). `members`: (mentor, mentee), None if no longer known."""
    mentor, mentee = members or (None, None)
    pair = f"<@{mentor}> mentoring <@{mentee}>" if members else "this pairing"
    together = f"the pairing of <@{mentor}> and <@{mentee}>" if members else "this pairing"
    if not changed:
        if decision == "dissolved":
            return f"{together[:1].upper()}{together[1:]} had already ended; nothing changed."
        return f"{pair[:1].upper()}{pair[1:]} was already decided; nothing changed."
    if decision == "approved":
        return f"<@{actor}> approved {pair}."
    if decision == "rejected":
        return f"<@{actor}> rejected {pair}: matching won't propose them again."
    return f"<@{actor}> dissolved {together}: both are back in the pool."


# -- hand pairing ----------------------------------------------------------------------------------------
def override_blocks(mentor_id: str, mentee_id: str, program_id: int, reason: str) -> list[dict[str, Any]]:
    value = json.dumps({"program_id": program_id, "mentor": mentor_id, "mentee": mentee_id})
    return render(
        [
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(
                        f"<@{mentor_id}> and <@{mentee_id}> break a matching rule: {escape(reason)}\nPair them anyway?"
                    )
                )
            ),
            ActionsBlock(
                block_id="override_actions",
                elements=[
                    ButtonElement(
                        text="Pair anyway",
                        action_id=ACTION_OVERRIDE_PAIR,
                        style="danger",
                        value=value,
                        confirm=ConfirmObject(
                            title="Override the rule?",
                            text=clip(escape(reason), 300),
                            confirm="Pair anyway",
                            deny="Cancel",
                        ),
                    )
                ],
            ),
        ]
    )


REMATCH_QUOTE_LIMIT = 2500  # characters of the quoted reason, leaving the rest of the section its room


def rematch_admin_blocks(
    pairing_id: int, requester: str, partner: str, program_name: str, reason: str, *, privately: bool = False
) -> list[dict[str, Any]]:
    """`privately`: sent by DM, because the partner it is about coordinates the program too. The reason is as
    the participant typed it: escaped, and quoted line by line, so that it can neither ping the admin channel,
    nor show a link under words of its own, nor pass a line of it off as the bot's."""
    # Escaping can make a reason five times longer (`&` is `&amp;`): cut the quote, not who may see it.
    quoted = clip("\n".join(f">{line}" for line in escape(reason).splitlines() or [""]), REMATCH_QUOTE_LIMIT)
    who_sees = (
        f"Sent to you privately because <@{partner}> coordinates this program too and must not see it."
        if privately
        else "Only coordinators see this."
    )
    return render(
        [
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(
                        f":warning: <@{requester}> says their pairing with <@{partner}> in *{escape(program_name)}* "
                        f"is not working.\n{quoted}\n{who_sees}"
                    )
                )
            ),
            _dissolve_actions(f"rematch_{pairing_id}", pairing_id),
        ]
    )


def _dissolve_actions(block_id: str, pairing_id: int) -> ActionsBlock:
    """The coordinator's *Dissolve* button (confirmed first) under an alert about one pairing."""
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(
                text="Dissolve so both can be re-matched",
                action_id=ACTION_DISSOLVE_PAIR,
                value=str(pairing_id),
                style="danger",
                confirm=ConfirmObject(
                    title="Dissolve this pairing?",
                    text="Both people go back to the pool for the next preview.",
                    confirm="Dissolve",
                    deny="Cancel",
                ),
            )
        ],
    )


def account_gone_admin_text(program_name: str, gone: str, mentor: str, mentee: str, partner: str) -> str:
    return (
        f":no_entry: <@{gone}>'s Slack account is no longer active, so their pairing in *{escape(program_name)}* "
        f"(<@{mentor}> mentoring <@{mentee}>) can't meet. I've stopped the pair's reminders and told <@{partner}> "
        "that you can find them a new match. The pairing stays as it is until you decide: if the account won't "
        f"come back, dissolve it so <@{partner}> can be matched again (the button below, or "
        "`/mentor-admin unpair @mentor @mentee`). If the account comes back, the reminders resume by themselves."
    )


def account_gone_admin_blocks(
    pairing_id: int, program_name: str, gone: str, mentor: str, mentee: str, partner: str
) -> list[dict[str, Any]]:
    """A member's Slack account was deactivated: the coordinators decide what happens to the pairing."""
    text = account_gone_admin_text(program_name, gone, mentor, mentee, partner)
    return render(
        [
            SectionBlock(text=MarkdownTextObject(text=clip(text))),
            _dissolve_actions(f"account_gone_{pairing_id}", pairing_id),
        ]
    )


def profile_changed_admin_text(payload: dict[str, Any]) -> str:
    """A paired person changed answers their match used: which, from what to what, and how the match reads now.
    The answers, and the match's sentences that quote them, are as typed: escaped, so that no `<!channel>` or
    disguised link typed into a region pings or misleads the admin channel.

    Payload (bot/services/profile_changes.py): program, person, role, changes [[answer, old, new], ...], pairs
    [{mentor, mentee, was, now, new_concern}, ...]."""
    person = payload["person"]
    changes = "; ".join(
        f"{escape(what)} changed from *{escape(old)}* to *{escape(new)}*" for what, old, new in payload["changes"]
    )
    partners = [pair["mentee"] if pair["mentor"] == person else pair["mentor"] for pair in payload["pairs"]]
    paired = " and ".join(f"<@{p}>" for p in partners)
    used = "this answer" if len(payload["changes"]) == 1 else "these answers"
    lines = [f":pencil2: <@{person}>'s {changes}. They are paired with {paired} in *{escape(payload['program'])}*, "
             f"a match that used {used}."]  # fmt: skip
    for pair, partner in zip(payload["pairs"], partners, strict=True):
        with_whom = f" with <@{partner}>" if len(partners) > 1 else ""
        lines.append(f"How the match{with_whom} reads now:")
        lines += [f"• {escape(now)}" for now in pair["now"]]
        if pair["was"]:
            lines.append("Before the change it read: " + "; ".join(escape(was) for was in pair["was"]))
    if any(pair["new_concern"] for pair in payload["pairs"]):
        lines.append(
            "If the pairing no longer fits, talk to them, or end it with `/mentor-admin unpair @mentor @mentee`."
        )
    lines.append("_The pairing's recorded reasons stay as they were when it was approved._")
    return "\n".join(lines)


def admin_channel_refused(channel: str, problem: str, *, doing: str = "post in") -> str:
    """A coordinator's summary, export or preview the admin channel refused: why, in words, and the way out
    that fits (an invitation cannot unarchive a channel), never Slack's error code."""
    where = f"<#{channel}>"
    reason = admin_channel_refusal(problem)
    if reason is None:
        return f"I couldn't {doing} {where}: Slack refused it. Please try again in a minute."
    return f"I couldn't {doing} {where}: {reason}; {admin_channel_fix(problem, where)}."


def mentor_has_room_text(payload: dict[str, Any]) -> str:
    """A mentor raised how many mentees she can take while mentees wait: who, how much room, how many wait."""
    capacity, taken, waiting = int(payload["capacity"]), int(payload["taken"]), int(payload["waiting"])
    room = capacity - taken
    return (
        f"<@{payload['mentor']}> can now take {room} more {'mentee' if room == 1 else 'mentees'} in "
        f"*{escape(payload['program'])}* ({capacity} in all, {taken} taken), and "
        f"{waiting} {'mentee is' if waiting == 1 else 'mentees are'} on the waitlist. "
        "`/mentor-admin match preview` proposes matches for them."
    )

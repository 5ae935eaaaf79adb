"""What a librarian sees: status, the Home tab, confirmations, and the leave confirmation."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.services.catalog import LIBRARY_TYPES, MEETING_FORMATS, ROLES, specialization_label, years_in_kind
from bot.services.enrollment import LeaveResult, SubmitResult
from bot.services.overview import Coordinating, EnrollmentCard, Meetings, Partnership, PersonOverview
from bot.services.pairing import REMATCH_REASON_LIMIT, RematchRequest
from bot.services.schedule import WorkDay
from bot.views.common import LABEL_LIMIT, MAX_BLOCKS_PER_VIEW, clip, escape, fit_labels, render
from bot.views.coordinating import coordinator_blocks
from bot.views.ids import (
    ACTION_CHECKIN,
    ACTION_EDIT_PROFILE,
    ACTION_JOIN,
    ACTION_LEAVE_CANCEL,
    ACTION_LEAVE_CONFIRM,
    ACTION_PAUSE,
    ACTION_REMATCH_CHOICE,
    ACTION_RESUME,
)
from bot.views.state import as_int
from storage.models import Enrollment, EnrollmentStatus, Program

STATUS_WORDS = {
    "applied": "Applied",
    "waitlisted": "Waitlisted",
    "matched": "Matched",
    "paused": "Paused",
    "withdrawn": "Withdrawn",
}
PROGRAM_ENDED = "Program ended"
MAX_PROFILE_CHOICES = 25  # buttons Slack allows in one actions block
REHEARSAL_BANNER = ":test_tube: *REHEARSAL*: the program clock is simulated; messages are practice."


def _card_text(card: EnrollmentCard) -> str:
    role = ROLES.get(card.enrollment.role, card.enrollment.role)
    # Once the program is over, "Matched" would read as a pairing still running.
    status = PROGRAM_ENDED if card.program_ended else STATUS_WORDS.get(card.status, card.status)
    lines = [f"*{escape(card.program.name)}*: {role} · {status}"]
    if partners := card.partner_ids:
        who = "Your mentee" if card.enrollment.role == "mentor" else "Your mentor"
        who += "s" if len(partners) > 1 else ""
        lines.append(f"{who}: " + ", ".join(f"<@{partner}>" for partner in partners))
    lines.append(f"Next: {card.next_step}")
    # Each running pair's meetings this period: a mentor of three reads whom to reach out to.
    lines += [
        f"• <@{p.partner_id}>: {_meetings_words(p.meetings)}"
        for p in card.partnerships
        if p.meetings is not None and p.partner_id
    ]
    # What each pair settled, so "is she on call during the day?" has an answer without scrolling the DM.
    work_hours = WorkDay.of(card.program).words
    lines += [_agreed_words(p, work_hours) for p in card.partnerships if p.agreed is not None and p.partner_id]
    return clip("\n".join(lines))


def _agreed_words(partnership: Partnership, work_hours: str) -> str:
    """ "Agreed with @Marisol: Meet: every two weeks · Mentor on call during work hours: yes · ..." """
    assert partnership.agreed is not None
    text = f"_Agreed with <@{partnership.partner_id}>:_ " + " · ".join(partnership.agreed.sentences(work_hours))
    if partnership.change_pending:
        text += " (a change is waiting to be accepted; these terms hold until then)"
    return text


def _meetings_words(meetings: Meetings) -> str:
    """ "met this month (last on Mar 12, 2025)", "not yet this month · last met Feb 27, 2025", "not met yet"."""
    if meetings.last_met is None:
        return "not met yet"
    last = meetings.last_met.strftime("%b %-d, %Y")
    if meetings.met_this_period:
        return f"met {meetings.this_period} (last on {last})"
    return f"not yet {meetings.this_period} · last met {last}"


def status_blocks(overview: PersonOverview) -> list[dict[str, Any]]:
    if not overview.cards:
        text = "You're not in a mentoring program yet."
        text += " Type `/mentor join` to apply." if overview.can_join else " None is taking applications right now."
        return render([SectionBlock(text=MarkdownTextObject(text=text))])
    blocks: list[Block] = [HeaderBlock(text="Your mentoring")]
    for card in overview.cards[:20]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_card_text(card))))
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text="`/mentor profile` to edit · `/mentor pause` · `/mentor help`")])
    )
    return render(blocks)


def status_text(overview: PersonOverview) -> str:
    """The notification's words: each role and program, which say more than a count of enrollments."""
    if not overview.cards:
        return "Not enrolled yet."
    roles = [f"{card.enrollment.role} in {escape(card.program.name)}" for card in overview.cards]
    return clip("Your mentoring: " + ", ".join(roles), 300)


def home_view(
    overview: PersonOverview, coordinating: Coordinating | None = None, *, rehearsal: bool = False
) -> dict[str, Any]:
    """A librarian's cards and buttons; for a coordinator, their open programs first (at most 23 blocks)."""
    blocks: list[Block] = []
    if rehearsal:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=REHEARSAL_BANNER)))
    blocks.append(HeaderBlock(text="Shelfmate: peer mentoring"))
    if coordinating:
        blocks += coordinator_blocks(coordinating)
        blocks.append(HeaderBlock(text="Your mentoring"))
    if not overview.cards:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text="Mentoring connects you with a colleague from another library: someone to ask, "
                    "someone to learn from. Join as a mentor, a mentee, or both."
                )
            )
        )
    for card in overview.cards[:30]:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_card_text(card))))
    buttons = []
    if overview.can_join:
        buttons.append(ButtonElement(text="Join a program", action_id=ACTION_JOIN, style="primary", value="join"))
    if overview.running_cards:
        buttons.append(ButtonElement(text="Edit profile", action_id=ACTION_EDIT_PROFILE, value="edit"))
        if overview.paused:
            buttons.append(ButtonElement(text="Resume", action_id=ACTION_RESUME, value="resume"))
        else:
            buttons.append(ButtonElement(text="Pause", action_id=ACTION_PAUSE, value="pause"))
    if overview.live_pairings:
        buttons.append(ButtonElement(text="Log a check-in", action_id=ACTION_CHECKIN, value="checkin"))
    blocks.append(DividerBlock())
    if buttons:
        blocks.append(ActionsBlock(block_id="home_actions", elements=buttons))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Everything here also works as a command: `/mentor join`, `/mentor profile`, "
                    "`/mentor pause`, `/mentor resume`, `/mentor checkin`, `/mentor leave`."
                )
            ]
        )
    )
    assert len(blocks) <= MAX_BLOCKS_PER_VIEW
    return View(type="home", blocks=blocks).to_dict()


def profile_choice(choices: list[tuple[Enrollment, Program]]) -> tuple[str, list[dict[str, Any]]]:
    """Someone with several profiles (two programs, or mentor and mentee) picks the one to edit."""
    shown = choices[:MAX_PROFILE_CHOICES]
    # The name is cut to fit, never the role: "(mentor)" and "(mentee)" are what tell two buttons apart.
    labels = fit_labels(
        [program.name for _, program in shown],
        suffixes=[f" ({ROLES.get(enrollment.role, enrollment.role).lower()})" for enrollment, _ in shown],
    )
    buttons = [
        ButtonElement(
            text=label,
            action_id=f"{ACTION_EDIT_PROFILE}:{enrollment.id}",  # Slack wants each action_id once per block
            value=f"enrollment:{enrollment.id}",
        )
        for (enrollment, _), label in zip(shown, labels, strict=True)
    ]
    text = "You have a profile in each of these. Which one do you want to edit?"
    return text, render([SectionBlock(text=MarkdownTextObject(text=text)), ActionsBlock(elements=buttons)])


def rematch_choice_value(pairing_id: int | None, reason: str) -> str:
    """A choice button's value: "pairing id:reason", as typed. Not JSON: escaping could double a reason's
    length (quotes, backslashes) past Slack's 2,000 characters for a value; this stays within 12 + 1 + 1,000.
    No pairing is written as nothing, which the listener reads back as None (an out-of-date choice)."""
    return f"{'' if pairing_id is None else pairing_id}:{reason[:REMATCH_REASON_LIMIT]}"


def parse_rematch_choice(value: str) -> tuple[int | None, str]:
    """(pairing id, reason) from a choice button's value; buttons shown before this format carry JSON."""
    if value.startswith("{"):
        try:
            chosen = json.loads(value)
            return as_int(chosen.get("pairing_id")), str(chosen.get("reason") or "")
        except (ValueError, AttributeError):
            return None, ""
    pairing_id, _, reason = value.partition(":")
    chosen_id = as_int(pairing_id)
    return (chosen_id if chosen_id is not None and chosen_id > 0 else None), reason  # "0:": an older button's None


def rematch_choice(requests: list[RematchRequest], reason: str) -> tuple[str, list[dict[str, Any]]]:
    """Someone with several partners says which pairing a rematch request is about, so only that program's
    coordinators hear it. Each button carries the reason: it is stored only once chosen, until it is sent."""
    text = (
        "Which pairing is this about? Only that program's coordinators will see what you wrote; "
        "your partner won't. Nothing is sent until you choose."
    )
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=text))]
    shown = requests[:MAX_PROFILE_CHOICES]
    names = fit_labels([request.program.name for request in shown], 120)
    for request, name in zip(shown, names, strict=True):
        role = "your mentee" if request.requester_is_mentor else "your mentor"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(f"<@{request.partner_id}> ({role}) in *{escape(name)}*")),
                accessory=ButtonElement(
                    text="This pairing",
                    action_id=ACTION_REMATCH_CHOICE,
                    value=rematch_choice_value(request.pairing.id, reason),
                ),
            )
        )
    return "Which pairing is this about?", render(blocks)


def intake_confirmation(result: SubmitResult) -> tuple[str, list[dict[str, Any]]]:
    """The DM after a saved intake: a new application hears when matching starts, an edit hears it is saved."""
    enrollment = result.enrollment
    verb = "Thanks for applying" if result.created else "Your profile is updated"
    role = ROLES.get(enrollment.role, enrollment.role).lower()
    summary = [
        f"{verb}: you're a *{role}* in *{escape(result.program.name)}*.",
        f"• Library: {LIBRARY_TYPES.get(enrollment.library_type, enrollment.library_type)}, {escape(enrollment.organization)}",
        f"• Specializations: {', '.join(specialization_label(s) for s in enrollment.specializations)}",
        f"• Experience: {years_in_kind(enrollment.years_experience, enrollment.library_type)}",
        f"• Meeting format: {MEETING_FORMATS.get(enrollment.meeting_format, enrollment.meeting_format)}",
    ]
    if enrollment.role == "mentor":
        summary.append(f"• Mentees you can take: {enrollment.capacity}{_places_words(result)}")
    if result.created and enrollment.status != EnrollmentStatus.MATCHED:
        # Only a new application waits for matching; an edit (often months later, often matched) does not.
        summary.append(
            f"Applications close on {result.program.applications_close.strftime('%b %-d, %Y')}; "
            "you'll hear from me when you're matched. `/mentor profile` edits your answers."
        )
    else:
        summary.append("`/mentor status` shows where you are; `/mentor profile` edits your answers again.")
    text = clip("\n".join(summary))
    return f"{verb}: {escape(result.program.name)}", render([SectionBlock(text=MarkdownTextObject(text=text))])


def _places_words(result: SubmitResult) -> str:
    """What a mentor's capacity means for the mentees she has: lowering it never ends a pairing, raising it
    lets the coordinators pair her again."""
    taken, capacity = result.mentees, result.enrollment.capacity
    if taken == 0:
        return ""
    current = "your current mentee" if taken == 1 else f"your {taken} current mentees"
    if taken > capacity:
        return f" (you keep {current}; you won't be matched with anyone new)"
    if taken == capacity:
        return f" (taken by {current}: you won't be matched with anyone new)"
    return f" ({capacity - taken} open beside {current}: your coordinators can pair you with someone new)"


SLACK_SLOW = "Slack didn't answer in time when I checked who may join the program."
SLACK_SLOW_PRESS_AGAIN = "Slack didn't answer in time. Please press Apply again."
NOT_SAVED_OUR_SIDE = "Something went wrong on our side."


def eligibility_channel_unreadable(channel: str) -> str:
    """Fits an inline modal error (150 characters)."""
    return f"I can't see who is in <#{channel}>. Ask your program coordinator to check that Shelfmate is in it."


def intake_not_saved(problems: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """For a submission the modal closed on before its checks were done (Slack's 3 s limit)."""
    text = clip(
        "Your application was not saved:\n"
        + "\n".join(f"• {problem}" for problem in problems)
        + "\n`/mentor join` to try again."
    )
    return "Your application was not saved", render([SectionBlock(text=MarkdownTextObject(text=text))])


def _enrollments_named(enrollments: list[Enrollment], program_names: dict[int, str]) -> str:
    """ "PLSEP (as a mentor) and ALC (as a mentee)": pause and resume act on every enrollment, so say which."""
    parts = [f"*{escape(program_names.get(e.program_id, 'a program'))}* (as a {e.role})" for e in enrollments]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _people(person_ids: list[str]) -> str:
    names = [f"<@{person}>" for person in person_ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def paused_message(
    enrollments: list[Enrollment], program_names: dict[int, str], partners: list[str] | None = None
) -> str:
    if not enrollments:
        return (
            "You have nothing to pause: you're not in a program that is running (an ended one needs no pause). "
            "`/mentor join` to apply."
        )
    until = enrollments[0].paused_until
    when = f" until {until.strftime('%b %-d, %Y')}" if until else ""
    text = f"Paused{when} in {_enrollments_named(enrollments, program_names)}. You won't be matched or reminded" + (
        " until then; the pause ends by itself." if until else ". Type `/mentor resume` when you're ready."
    )
    if partners:
        # What happens to her mentees is the first thing a mentor on leave wants to know.
        text += (
            f" Your pairings stay: I've let {_people(partners)} know, and no reminders go to "
            f"{'them' if len(partners) > 1 else 'your pair'} meanwhile."
        )
    return text


def resumed_message(
    enrollments: list[Enrollment], program_names: dict[int, str], partners: list[str] | None = None
) -> str:
    if not enrollments:
        return "You weren't paused, so nothing changed."
    text = (
        f"Welcome back! You're active again in {_enrollments_named(enrollments, program_names)}: matching and "
        "reminders are back on."
    )
    if partners:
        text += f" I've let {_people(partners)} know."
    return text


def partner_break_message(person_id: str, program_name: str, until: date | None) -> tuple[str, list[dict[str, Any]]]:
    """To a pair, when one of them pauses: the pairing stays, only the reminders wait."""
    when = f"until {until.strftime('%b %-d, %Y')}" if until else "for a while"
    text = (
        f"<@{person_id}> is taking a break from mentoring in *{escape(program_name)}* {when}. Your pairing stays; "
        "I won't send reminders to meet meanwhile, and this time doesn't count as missed meetings."
    )
    return text, render([SectionBlock(text=MarkdownTextObject(text=text))])


def partner_back_message(person_id: str, program_name: str) -> tuple[str, list[dict[str, Any]]]:
    """To a pair, when the one who paused resumes early."""
    text = f"<@{person_id}> is back from their break in *{escape(program_name)}*: reminders to meet pick up again."
    return text, render([SectionBlock(text=MarkdownTextObject(text=text))])


def _leave_choices(overview: PersonOverview | None) -> list[tuple[int, str, str]]:
    """(program id, name, "mentor of @Ana and @Ben") for each program the person is in, in card order."""
    choices: dict[int, tuple[str, list[str]]] = {}
    for card in overview.cards if overview is not None else []:
        role = ROLES.get(card.enrollment.role, card.enrollment.role).lower()
        partners = card.partner_ids
        words = f"{role} of {_people(partners)}" if partners else role
        name, roles = choices.setdefault(card.program.id or 0, (card.program.name, []))
        roles.append(words)
    return [(program_id, name, " and ".join(roles)) for program_id, (name, roles) in choices.items()]


def leave_confirmation_blocks(overview: PersonOverview | None = None) -> list[dict[str, Any]]:
    """Leave everything; or, for someone in several programs (a mentor in one, a mentee in another), leave one."""
    choices = _leave_choices(overview)[: MAX_PROFILE_CHOICES - 2]
    several = len(choices) > 1
    if several:
        where = "; ".join(f"*{escape(name)}* ({roles})" for _, name, roles in choices)
        text = (
            f"*Leave mentoring?* You're in {where}. Leave one program, or every one: your answers and private notes "
            "there will be erased, and each partner there will be told kindly that the pairing has ended. "
            "This can't be undone (you can always join again)."
        )
    else:
        text = (
            "*Leave mentoring?* You'll be withdrawn from every program, your answers and private "
            "notes will be erased, and any partner will be told kindly that the pairing has ended. "
            "This can't be undone (you can always join again)."
        )
    erase = ConfirmObject(title="Leave mentoring?", text="Your answers will be erased.", confirm="Leave", deny="Stay")
    buttons = []
    if several:
        names = fit_labels([name for _, name, _ in choices], LABEL_LIMIT - len("Leave "), [" only"] * len(choices))
        labels = [f"Leave {name}" for name in names]
        buttons += [
            ButtonElement(
                text=label,
                action_id=f"{ACTION_LEAVE_CONFIRM}:{program_id}",  # Slack wants each action_id once per block
                value=f"program:{program_id}",
                confirm=erase,
            )
            for (program_id, _, _), label in zip(choices, labels, strict=True)
        ]
    buttons.append(
        ButtonElement(
            text="Leave every program" if several else "Yes, leave",
            action_id=ACTION_LEAVE_CONFIRM,
            style="danger",
            value="leave",
            confirm=erase,
        )
    )
    buttons.append(ButtonElement(text="Cancel", action_id=ACTION_LEAVE_CANCEL, value="cancel"))
    return render(
        [
            SectionBlock(text=MarkdownTextObject(text=clip(text))),
            ActionsBlock(block_id="leave_actions", elements=buttons),
        ]
    )


def left_message(result: LeaveResult, program_names: dict[int, str] | None = None) -> str:
    if not result.withdrawn:
        return "You weren't in a program, so there was nothing to leave."
    if result.staying:
        names = program_names or {}
        left = _enrollments_named(result.withdrawn, names)
        return (
            f"You've left {left} and your answers there are erased. You're still in "
            f"{_enrollments_named(result.staying, names)}. Thank you for taking part."
        )
    return "You've left mentoring and your answers are erased. Thank you for taking part; `/mentor join` any time."


def partner_left_message(program_name: str, leaver_id: str = "", still_paired_with: tuple[str, ...] = ()) -> str:
    """To someone whose partner left: who (a mentor of two must know which pairing ended), and what goes on."""
    who = f"<@{leaver_id}>" if leaver_id else "Your mentoring partner"
    text = (
        f"{who} has had to leave the program, so your pairing in *{escape(program_name)}* has ended. "
        "This isn't about you: people's circumstances change."
    )
    if still_paired_with:
        return text + f" Your pairing with {_people(list(still_paired_with))} carries on as before."
    return text + " Your coordinator will help you find a new match."


def admin_pairing_dissolved_message(
    program_name: str, partner_id: str, leaver_id: str = "", still_paired_with: tuple[str, ...] = ()
) -> str:
    who = f"<@{leaver_id}>" if leaver_id else "a participant"
    text = f"A pairing in *{escape(program_name)}* was dissolved because {who} left the program. "
    if still_paired_with:
        return text + (
            f"<@{partner_id}> is still paired with {_people(list(still_paired_with))} and has a place free again."
        )
    return text + f"<@{partner_id}> is back in the pool and may need a new match."


def partner_account_gone_message(program_name: str, gone: str) -> str:
    return (
        f"<@{gone}>'s Slack account is no longer active, so I've stopped the reminders for your pairing in "
        f"*{escape(program_name)}*. This isn't about you. Your program's coordinators have been told and can find you a "
        "new match; to ask them yourself, type `/mentor rematch` and a few words about what you'd like (only "
        "coordinators see it). If their account comes back, your reminders pick up again."
    )

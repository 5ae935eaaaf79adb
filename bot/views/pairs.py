"""What a pair sees: the agreement modal and its messages, the check-in modal and its confirmation."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.services.agreements import BOUNDARIES, AgreementState, PairView, Terms
from bot.services.catalog import CADENCES, MEETING_FORMATS, cadence_stretch, specializations
from bot.services.checkins import (
    LATE_LOGGING_DAYS,
    AgreementRefusal,
    CheckInAnswers,
    CheckinRefusal,
    CheckinTarget,
    Logged,
    late_logging_until,
)
from bot.services.schedule import AskAgain, AskedAgain, WorkDay
from bot.views.common import clip, escape, fit_labels, initial_option, options, render
from bot.views.ids import (
    ACTION_ACCEPT_AGREEMENT,
    ACTION_CHANGE_AGREEMENT,
    ACTION_OPEN_AGREEMENT,
    AGREEMENT_CALLBACK,
    CHECKIN_CALLBACK,
)
from bot.views.state import SubmittedView, as_int

YES_NO = {"yes": "Yes", "no": "No"}
RATINGS = {str(n): f"{n} - {w}" for n, w in enumerate(["poor", "fair", "good", "very good", "excellent"], start=1)}
MEETING_KINDS = {k: v for k, v in MEETING_FORMATS.items() if k != "any"}
# A button or form about a pairing that is not the clicker's (or no longer exists).
NOT_YOURS = "That belongs to another pair, so nothing changed."


def _radio(block_id: str, label: str, choices: dict[str, str], chosen: str) -> InputBlock:
    """A required radio-button question whose block id and action id are the answer's name."""
    return InputBlock(
        block_id=block_id,
        label=label,
        element=RadioButtonsElement(
            action_id=block_id, options=options(choices), initial_option=initial_option(choices, chosen)
        ),
    )


# The intro asks these word for word, so the pair recognise in the form what they talked over.
MEETING_QUESTION = "How often will you meet?"
ON_CALL_QUESTION = "Is the mentor on call during work hours for quick questions?"
AFTER_HOURS_QUESTION = "Is chat outside work hours fine?"


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


# -- agreement -----------------------------------------------------------------------------------------------
def agreement_modal(pair: PairView, terms: Terms) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=AGREEMENT_CALLBACK,
        title="Our agreement",
        submit="Propose",
        close="Cancel",
        private_metadata=json.dumps({"pairing_id": pair.pairing.id}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Settle how you and <@{pair.partner_id}> will work together in *{escape(clip(pair.program.name, 120))}*. "
                    "Your partner sees what you choose and accepts it or proposes a change. "
                    "I follow it: nudges come at your cadence, and if you say no to chat outside work hours, "
                    "I won't message you outside them either. "
                    # The hours the bot keeps to for a pair that says no to after-hours chat: the program's work day.
                    f"Work hours here are {WorkDay.of(pair.program).words}, Monday to Friday, "
                    "each in your own time zone."
                )
            ),
            InputBlock(
                block_id="cadence",
                label=MEETING_QUESTION,
                element=StaticSelectElement(
                    action_id="cadence",
                    options=options(CADENCES),
                    initial_option=initial_option(CADENCES, terms.cadence),
                ),
            ),
            _radio(
                "mentor_on_call",
                ON_CALL_QUESTION,
                YES_NO,
                "yes" if terms.mentor_on_call else "no",
            ),
            _radio("after_hours_ok", AFTER_HOURS_QUESTION, YES_NO, "yes" if terms.after_hours_ok else "no"),
            _radio("boundaries", "Topic boundaries", BOUNDARIES, terms.boundaries),
            InputBlock(
                block_id="first_meeting_on",
                label="First meeting (optional)",
                optional=True,
                element=DatePickerElement(
                    action_id="first_meeting_on",
                    initial_date=terms.first_meeting_on.isoformat() if terms.first_meeting_on else None,
                ),
            ),
        ],
    ).to_dict()


MAX_AGREEMENT_CHOICES = 40  # a message holds at most 50 blocks


def agreement_choice(pairs: list[PairView]) -> tuple[str, list[dict[str, Any]]]:
    """Someone with several partners (a mentor who is also a mentee, or a mentor of several) picks whose
    agreement to open: each pair's terms differ, so the choice comes before the form."""
    text = "You have more than one mentoring partner. Whose agreement do you want to open?"
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=text))]
    for pair in pairs[:MAX_AGREEMENT_CHOICES]:
        role = "your mentee" if pair.role == "mentor" else "your mentor"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(f"<@{pair.partner_id}> ({role}) in *{escape(clip(pair.program.name, 120))}*")
                ),
                accessory=ButtonElement(
                    text="Open agreement", action_id=ACTION_OPEN_AGREEMENT, value=str(pair.pairing.id)
                ),
            )
        )
    return text, render(blocks)


def parse_agreement(view: dict[str, Any]) -> tuple[int | None, Terms, dict[str, str]]:
    """(pairing id, terms, inline errors)."""
    submitted = SubmittedView(view)
    errors: dict[str, str] = {}
    cadence = submitted.selected("cadence")
    if cadence not in CADENCES:
        errors["cadence"] = "Choose how often you'll meet."
    flags = {}
    for name in ("mentor_on_call", "after_hours_ok"):
        value = submitted.selected(name)
        if value not in YES_NO:
            errors[name] = "Choose yes or no."
        flags[name] = value == "yes"
    boundaries = submitted.selected("boundaries")
    if boundaries not in BOUNDARIES:
        errors["boundaries"] = "Choose one."
    first: date | None = None
    if raw := submitted.picked_date("first_meeting_on"):
        try:
            first = date.fromisoformat(raw)
        except ValueError:
            errors["first_meeting_on"] = "Pick a date from the calendar."
    terms = Terms(
        cadence=cadence or "monthly",
        mentor_on_call=flags["mentor_on_call"],
        after_hours_ok=flags["after_hours_ok"],
        boundaries=boundaries or "professional",
        first_meeting_on=first,
    )
    return as_int(submitted.metadata.get("pairing_id")), terms, errors


def agreement_message(state: AgreementState) -> tuple[str, list[dict[str, Any]]]:
    """Posted in the pair's conversation after each proposal or acceptance."""
    terms = _bullets(state.terms.sentences(WorkDay.of(state.pair.program).words))
    pairing_id = str(state.pair.pairing.id)
    if state.settled:
        text = f":handshake: *Agreement settled.* You're all set:\n{terms}\nI'll follow it from here."
        return "Your mentoring agreement is settled", render([SectionBlock(text=MarkdownTextObject(text=clip(text)))])
    waiting = state.waiting_for()
    text = f"<@{state.proposed_by}> proposed your mentoring agreement:\n{terms}\n<@{waiting}>, does this work for you?"
    if state.in_force is not None and state.in_force != state.terms:
        text += "\nUntil you both accept, I keep to the agreement you settled before."
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ActionsBlock(
            block_id="agreement_actions",
            elements=[
                ButtonElement(
                    text="Accept",
                    action_id=ACTION_ACCEPT_AGREEMENT,
                    value=f"{pairing_id}:{state.terms.fingerprint}",  # accepts these terms, not later ones
                    style="primary",
                ),
                ButtonElement(text="Propose a change", action_id=ACTION_CHANGE_AGREEMENT, value=pairing_id),
            ],
        ),
    ]
    return "A mentoring agreement is waiting for you", render(blocks)


AGREEMENT_OVER = (
    "Your mentoring pairing has ended, so there is no agreement to settle now. "
    "`/mentor checkins` shows the meetings you logged."
)
NO_PARTNER = "You don't have a mentoring partner yet. `/mentor status` shows where you are."


def agreement_refusal_text(refusal: AgreementRefusal | None) -> str:
    """Why there is no agreement to open, in the person's words."""
    if refusal == AgreementRefusal.PAIRING_OVER:
        return AGREEMENT_OVER
    if refusal == AgreementRefusal.NO_PARTNER:
        return NO_PARTNER
    return NOT_YOURS


# -- check-ins -----------------------------------------------------------------------------------------------
NO_PAIRING = "You don't have a mentoring partner to log a meeting with yet. `/mentor status` shows where you are."
PAIRING_OVER = (
    "Your mentoring pairing has ended, so there is no meeting to log now. "
    "`/mentor checkins` shows the meetings you logged."
)
NO_MEETINGS = (
    "You haven't been introduced to a mentoring partner yet, so there are no meetings to show. "
    "`/mentor status` shows where you are."
)


def _partner_choices(pairs: list[PairView]) -> dict[str, str]:
    """Pairing id -> "With Dana"; with the program too when one partner is someone's partner twice (a mentor
    in one program and a mentee in another), so no two choices read the same."""
    names = [p.partner_name or p.partner_id for p in pairs]
    twice = {name for name in names if names.count(name) > 1}
    texts = [
        f"With {name}" + (f" in {p.program.name}" if name in twice else "")
        for p, name in zip(pairs, names, strict=True)
    ]
    return dict(zip((str(p.pairing.id) for p in pairs), fit_labels(texts), strict=True))


def checkin_modal(pairs: list[PairView], today: date, chosen: int | None = None) -> dict[str, Any]:
    """One modal for every entry point; a person with several partners picks which pair met."""
    partners = _partner_choices(pairs)
    blocks: list[Any] = []
    if len(pairs) > 1:
        blocks.append(
            InputBlock(
                block_id="pairing_id",
                label="Who did you meet?",
                element=StaticSelectElement(
                    action_id="pairing_id",
                    options=options(partners),
                    initial_option=initial_option(partners, str(chosen)) if chosen else None,
                ),
            )
        )
    elif pairs[0].pairing.is_running():
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"A meeting with <@{pairs[0].partner_id}>.")))
    else:  # ended with its program, and still within the days a late meeting can be logged
        program = pairs[0].program
        today = min(today, program.ends_on)
        text = (
            f"A meeting with <@{pairs[0].partner_id}> in *{escape(clip(program.name, 120))}*, which ended on "
            f"{program.ends_on:%b %-d, %Y}. Meetings up to then can be logged until "
            f"{late_logging_until(program):%b %-d, %Y}."
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    blocks += [
        InputBlock(
            block_id="met_on",
            label="When did you meet?",
            element=DatePickerElement(action_id="met_on", initial_date=today.isoformat()),
        ),
        InputBlock(
            block_id="duration",
            label="How long (minutes)?",
            element=NumberInputElement(
                action_id="duration", is_decimal_allowed=False, min_value="5", max_value="480", initial_value="45"
            ),
        ),
        InputBlock(
            block_id="format",
            label="How did you meet?",
            element=StaticSelectElement(
                action_id="format",
                options=options(MEETING_KINDS),
                initial_option=initial_option(MEETING_KINDS, "video"),
            ),
        ),
        InputBlock(
            block_id="topics",
            label="Topics",
            optional=True,
            element=StaticMultiSelectElement(action_id="topics", options=options(specializations())),
        ),
        InputBlock(
            block_id="other_topics",
            label="Other topics",
            optional=True,
            element=PlainTextInputElement(action_id="other_topics", max_length=200),
        ),
        InputBlock(
            block_id="rating",
            label="How useful was it?",
            optional=True,
            element=StaticSelectElement(action_id="rating", options=options(RATINGS)),
        ),
        InputBlock(
            block_id="private_note",
            label="Private note",
            optional=True,
            hint="Only the two of you can read this. Coordinators see counts and ratings, never notes.",
            element=PlainTextInputElement(action_id="private_note", multiline=True, max_length=3000),
        ),
    ]
    metadata = {"pairing_id": pairs[0].pairing.id} if len(pairs) == 1 else {}
    return View(
        type="modal",
        callback_id=CHECKIN_CALLBACK,
        title="Log a meeting",
        submit="Log it",
        close="Cancel",
        private_metadata=json.dumps(metadata),
        blocks=blocks,
    ).to_dict()


def parse_checkin(view: dict[str, Any]) -> tuple[int | None, CheckInAnswers, dict[str, str]]:
    """(pairing id, answers, errors the modal can show before any lookup)."""
    submitted = SubmittedView(view)
    errors: dict[str, str] = {}
    pairing_id = as_int(submitted.selected("pairing_id")) or as_int(submitted.metadata.get("pairing_id"))
    if pairing_id is None and "pairing_id" in submitted.fields:
        errors["pairing_id"] = "Choose who you met."
    met_on: date | None = None
    try:
        met_on = date.fromisoformat(submitted.picked_date("met_on"))
    except ValueError:
        met_on = None
    duration = as_int(submitted.typed("duration").strip())
    rating_text = submitted.selected("rating")
    answers = CheckInAnswers(
        met_on=met_on,
        duration_minutes=duration,
        format=submitted.selected("format"),
        topics=submitted.selected_many("topics"),
        other_topics=submitted.typed("other_topics"),
        rating=as_int(rating_text) if rating_text else None,
        private_note=submitted.typed("private_note"),
    )
    return pairing_id, answers, errors


def checkin_message(logged: Logged) -> tuple[str, list[dict[str, Any]]]:
    """Told to the pair: what was logged, never the private note (it stays in the record for the two)."""
    c = logged.checkin
    # "Other topics" is typed: escaped, so the pair's conversation shows it and no `<!channel>` pings.
    topics = ", ".join(escape(specializations().get(t, t)) for t in c.topics) or "no topics noted"
    text = (
        f":white_check_mark: <@{c.logged_by}> logged your meeting on {c.met_on:%b %-d} "
        f"({c.duration_minutes} min, {MEETING_FORMATS.get(c.format, c.format).lower()}): {topics}."
    )
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ContextBlock(elements=[MarkdownTextObject(text="See your meetings and notes with `/mentor checkins`.")]),
    ]
    return "Meeting logged", render(blocks)


def late_logging_closed_text(pair: PairView, until: date) -> str:
    """A pair whose program ended too long ago to log its meetings: say when it ended and how long logging stayed open."""
    program = pair.program
    return (
        f"Your mentoring pairing with <@{pair.partner_id}> ended with *{escape(clip(program.name, 120))}* on "
        f"{program.ends_on:%b %-d, %Y}. Meetings from the program could be logged until {until:%b %-d, %Y} "
        f"({LATE_LOGGING_DAYS} days after the end), so there is no meeting to log now. "
        "`/mentor checkins` shows the meetings you logged."
    )


def never_introduced_text(pair: PairView) -> str:
    """A pairing the program's end overtook before its intro went out: the two never met through the program."""
    program = pair.program
    return (
        f"You and <@{pair.partner_id}> were never introduced: *{escape(clip(program.name, 120))}* ended on "
        f"{program.ends_on:%b %-d, %Y} before your introduction went out, so there are no meetings to log "
        "for that pairing. `/mentor status` shows where you are."
    )


def checkin_refusal_text(target: CheckinTarget) -> str:
    """Why there is no meeting to log, in the person's words."""
    refusal, about = target.refusal, target.about
    if refusal == CheckinRefusal.NEVER_INTRODUCED and about is not None:
        return never_introduced_text(about)
    if refusal == CheckinRefusal.LATE_LOGGING_CLOSED and about is not None:
        return late_logging_closed_text(about, late_logging_until(about.program))
    if refusal == CheckinRefusal.NO_PAIRING:
        return NO_PAIRING
    if refusal == CheckinRefusal.PAIRING_OVER:
        return PAIRING_OVER
    return NOT_YOURS


def checkin_refusal_names(target: CheckinTarget) -> dict[str, str]:
    """The partner a refusal may name, by id, for a form error's plain text ("@marisol", not an id)."""
    about = target.about
    return {about.partner_id: about.partner_name} if about is not None else {}


def already_logged_text(day: date) -> str:
    """One meeting a day is logged once; the form says where to find the one on record."""
    return f"A meeting on {day:%b %-d} is already logged (`/mentor checkins` shows it)."


def checkins_list_text(pair: PairView, checkins: list[Any]) -> str:
    """The pair's own record, private notes included: sent only ephemerally to one of the two."""
    live = pair.pairing.is_running()
    if not checkins:
        if live:
            return f"No meetings with <@{pair.partner_id}> are logged yet. `/mentor checkin` logs one."
        return f"No meetings with <@{pair.partner_id}> were logged in *{escape(clip(pair.program.name, 120))}*."
    where = "" if live else f" in *{escape(clip(pair.program.name, 120))}* (ended)"
    lines = [f"*Your meetings with <@{pair.partner_id}>*{where} (newest first):"]
    for c in checkins:
        line = f"• {c.met_on:%b %-d}: {c.duration_minutes} min"
        if c.private_note:
            line += f"\n   _Note:_ {escape(c.private_note[:500])}"  # as typed, no mention or link
        lines.append(line)
    return clip("\n".join(lines))


LOG_IT = "log a meeting any time with `/mentor checkin`."


def not_yet_answer(asked: AskedAgain) -> str:
    """The answer to *Not yet*, naming the pair's own stretch ("these two weeks"), as its reminders do."""
    stretch = cadence_stretch(asked.cadence)
    if asked.outcome == AskAgain.QUEUED:
        return "No problem: I'll ask again in a few days."
    if asked.outcome == AskAgain.PERIOD_ENDING:
        verb = "are" if stretch.startswith("these") else "is"
        return f"No problem. {stretch.capitalize()} {verb} nearly over, so I won't ask again; {LOG_IT}"
    if asked.outcome == AskAgain.ALREADY_ASKED:
        return f"No problem. I've already asked again {stretch}; {LOG_IT}"
    return "This pairing is not active any more, so there is nothing to ask again."

"""The intake modal (join and edit profile) and the parsing of its submitted state.

Each input's block id and action id are the IntakeAnswers field name, so inline errors map one to one.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.services.catalog import GRADE_LEVELS, LIBRARY_TYPES, MEETING_FORMATS, ROLES, specializations
from bot.services.enrollment import MAX_YEARS, TEXT_LIMITS, IntakeAnswers, JoinPrefill
from bot.services.programs import MAX_CAPACITY
from bot.views.common import MAX_BLOCKS_PER_VIEW, clip, escape, initial_option, options
from bot.views.ids import INTAKE_CALLBACK
from bot.views.state import SubmittedView, as_int
from storage.models import Program


def _initials(choices: dict[str, str], values: list[str]) -> list[Option] | None:
    """The options to preselect, labelled exactly as `options` labels them (Slack compares the two)."""
    offered = {option.value: option for option in options(choices)}
    picked = [offered[v] for v in values if v in offered]
    return picked or None


# Input blocks in the order the modal shows them; inline errors may only name these.
INTAKE_BLOCKS_IN_ORDER = (
    "role", "program_id", "library_type", "organization", "region", "specializations", "years_experience",
    "grade_levels", "goals", "meeting_format", "capacity", "not_with",
)  # fmt: skip
INTAKE_BLOCKS = frozenset(INTAKE_BLOCKS_IN_ORDER)
# Years count in the kind of library chosen above (a school program's mentors need years in school libraries, not
# years anywhere); matching, its explanations and the exports read the answer the same way.
YEARS_LABEL = "Years working in this kind of library"
YEARS_HINT = (
    "Count years in the kind of library you chose above: for a school library, count years in school libraries only."
)


def intake_modal(
    *,
    programs: list[Program],
    answers: IntakeAnswers,
    editing: bool,
    from_home: bool = False,
    prefilled_from: str | None = None,
) -> dict[str, Any]:
    """`programs` are the ones the person may join; a program picker appears only when there are several.

    `from_home`: opened from the Home tab, which the person is still looking at when they submit.
    `prefilled_from`: where a join form's answers were copied from, so the person knows to check them."""
    blocks: list[Any] = []
    program_names = {str(p.id): p.name for p in programs}
    if editing:
        program_name = next((p.name for p in programs if p.id == answers.program_id), "")
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"Editing your *{ROLES.get(answers.role, answers.role).lower()}* profile"
                        + (f" in *{escape(program_name)}*" if program_name else "")
                        + "."
                    )
                ]
            )
        )
    else:
        blocks.append(
            InputBlock(
                block_id="role",
                label="I want to join as a",
                element=RadioButtonsElement(
                    action_id="role",
                    options=[
                        Option(value="mentor", label="Mentor", description="I'll coach someone newer to the field"),
                        Option(value="mentee", label="Mentee", description="I'd like someone experienced to guide me"),
                    ],
                    initial_option=_initial_role(answers.role),
                ),
            )
        )
        if len(programs) == 1:
            blocks.insert(
                0,
                ContextBlock(elements=[MarkdownTextObject(text=f"Applying to *{escape(programs[0].name)}*.")]),
            )
        else:
            blocks.append(
                InputBlock(
                    block_id="program_id",
                    label="Program",
                    element=StaticSelectElement(
                        action_id="program_id",
                        placeholder="Choose a program",
                        options=options(program_names),
                        initial_option=initial_option(program_names, str(answers.program_id or "")),
                    ),
                )
            )
    if prefilled_from and not editing:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=clip(
                            f"Filled in from your answers {prefilled_from}. Check they still fit before you apply.",
                            3000,
                        )
                    )
                ]
            )
        )
    blocks += [
        InputBlock(
            block_id="library_type",
            label="Kind of library",
            element=StaticSelectElement(
                action_id="library_type",
                placeholder="Choose one",
                options=options(LIBRARY_TYPES),
                initial_option=initial_option(LIBRARY_TYPES, answers.library_type),
            ),
        ),
        InputBlock(
            block_id="organization",
            label="District or library system",
            element=PlainTextInputElement(
                action_id="organization",
                placeholder="e.g. Riverside Unified, County Library System",
                initial_value=answers.organization or None,
                max_length=TEXT_LIMITS["organization"],
            ),
        ),
        InputBlock(
            block_id="region",
            label="Region",
            optional=True,
            hint="If you want to meet in person, matching looks for someone in the same region.",
            element=PlainTextInputElement(
                action_id="region",
                placeholder="e.g. Inland Empire, Central Valley",
                initial_value=answers.region or None,
                max_length=TEXT_LIMITS["region"],
            ),
        ),
        InputBlock(
            block_id="specializations",
            label="Specializations (mentors: you can coach; mentees: you want to grow in)",
            element=StaticMultiSelectElement(
                action_id="specializations",
                placeholder="Choose one or more",
                options=options(specializations()),
                initial_options=_initials(specializations(), answers.specializations),
            ),
        ),
        InputBlock(
            block_id="years_experience",
            label=YEARS_LABEL,
            hint=YEARS_HINT,
            element=NumberInputElement(
                action_id="years_experience",
                is_decimal_allowed=False,
                min_value=0,
                max_value=MAX_YEARS,
                initial_value=answers.years_experience or None,
            ),
        ),
        InputBlock(
            block_id="grade_levels",
            label="Grade levels (school librarians)",
            optional=True,
            element=CheckboxesElement(
                action_id="grade_levels",
                options=options(GRADE_LEVELS),
                initial_options=_initials(GRADE_LEVELS, answers.grade_levels),
            ),
        ),
        InputBlock(
            block_id="goals",
            label="Goals for this mentorship",
            optional=True,
            element=PlainTextInputElement(
                action_id="goals",
                multiline=True,
                placeholder="What would make this year a success for you?",
                initial_value=answers.goals or None,
                max_length=TEXT_LIMITS["goals"],
            ),
        ),
        InputBlock(
            block_id="meeting_format",
            label="Preferred way to meet",
            element=StaticSelectElement(
                action_id="meeting_format",
                placeholder="Choose one",
                options=options(MEETING_FORMATS),
                initial_option=initial_option(MEETING_FORMATS, answers.meeting_format or "any"),
            ),
        ),
    ]
    if not editing or answers.role == "mentor":
        blocks.append(
            InputBlock(
                block_id="capacity",
                label="Mentors: how many mentees can you take?",
                optional=True,
                hint=_capacity_hint(programs),
                element=NumberInputElement(
                    action_id="capacity",
                    is_decimal_allowed=False,
                    min_value=1,
                    max_value=MAX_CAPACITY,
                    initial_value=answers.capacity or None,
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id="not_with",
            label="People you'd rather not be paired with",
            optional=True,
            hint="Only the coordinators' matching sees this list.",
            element=UserMultiSelectElement(action_id="not_with", initial_users=answers.not_with or None),
        )
    )
    assert len(blocks) <= MAX_BLOCKS_PER_VIEW
    metadata = {"mode": "edit" if editing else "join", "role": answers.role, "program_id": answers.program_id}
    if from_home:
        metadata["home"] = True
    view = View(
        type="modal",
        callback_id=INTAKE_CALLBACK,
        title="Edit your profile" if editing else "Join mentoring",
        submit="Save" if editing else "Apply",
        close="Cancel",
        private_metadata=json.dumps(metadata),
        blocks=blocks,
    )
    return view.to_dict()


def prefill_source(prefill: JoinPrefill) -> str | None:
    """ "as a mentee in *PLSEP 2025*": where a join form's answers came from, or None for a blank form."""
    if prefill.source_role is None:
        return None
    role = ROLES.get(prefill.source_role, prefill.source_role).lower()
    return f"as a {role}" + (f" in *{escape(prefill.source_program)}*" if prefill.source_program else "")


def _capacity_hint(programs: list[Program]) -> str:
    """Name the default of the program the mentor will pick, not the first one's."""
    defaults = {p.name: p.default_capacity for p in programs}
    if len(set(defaults.values())) <= 1:
        return f"Leave empty for the program's default ({next(iter(defaults.values()), 2)})."
    each = "; ".join(f"{name}: {n}" for name, n in defaults.items())
    return clip(f"Leave empty for the chosen program's default ({each}).", 150)


def _initial_role(role: str) -> Option | None:
    labels = {"mentor": "Mentor", "mentee": "Mentee"}
    return Option(value=role, label=labels[role]) if role in labels else None


def parse_intake(view: dict[str, Any]) -> IntakeAnswers:
    """Read a submitted intake view defensively: a missing or odd field becomes an empty answer."""
    submitted = SubmittedView(view)
    metadata = submitted.metadata
    role = submitted.selected("role") or str(metadata.get("role") or "")
    program_id = as_int(submitted.selected("program_id")) or as_int(metadata.get("program_id"))
    return IntakeAnswers(
        role=role,
        program_id=program_id,
        library_type=submitted.selected("library_type"),
        organization=submitted.typed("organization"),
        region=submitted.typed("region"),
        specializations=submitted.selected_many("specializations"),
        years_experience=submitted.typed("years_experience"),
        grade_levels=submitted.selected_many("grade_levels"),
        goals=submitted.typed("goals"),
        meeting_format=submitted.selected("meeting_format"),
        capacity=submitted.typed("capacity"),
        not_with=submitted.users("not_with"),
    )


def intake_mode(view: dict[str, Any]) -> str:
    return "edit" if SubmittedView(view).metadata.get("mode") == "edit" else "join"


def opened_from_home(view: dict[str, Any]) -> bool:
    return SubmittedView(view).metadata.get("home") is True


def present_fields(view: dict[str, Any]) -> set[str]:
    """Inline errors may only name blocks the modal really has, or Slack rejects the whole response."""
    return SubmittedView(view).fields

"""Builders for test data: programs through the real service, view states shaped like Slack's."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import programs as program_service
from storage.engine import session_scope
from storage.models import Enrollment, Pairing, Program

if TYPE_CHECKING:
    from tests.slack_driver import SlackDriver
    from tests.slack_emulator import SlackEmulator

PLSEP = {
    "name": "PLSEP Mentorship 2025",
    "applications_open": "2025-01-06",
    "applications_close": "2025-02-17",
    "agreement_due": "2025-03-01",
    "starts_on": "2025-03-01",
    "ends_on": "2025-06-30",
    "admin_channel": "C0ADMINS01",
    "timezone": "America/Los_Angeles",
}


# The program form's other fields as a coordinator leaves them (PLSEP above holds the dates and channel).
FORM_DEFAULTS = {
    "default_cadence": "monthly",
    "min_mentor_years": "3",
    "default_capacity": "2",
    "eligibility": "open",
    "cross_org": "prefer",
    "admins": "",
}


def make_program(engine: Engine, **overrides: str) -> Program:
    values = PLSEP | overrides
    with session_scope(engine, write=True) as session:
        return program_service.create_program(session, values, actor="U0ADMIN01", now=datetime(2025, 1, 1, tzinfo=UTC))


def stored_enrollment(session: Session, program_id: int | None, person_id: str, role: str, **fields: Any) -> Enrollment:
    """An enrollment written straight to the database (a school librarian in reference unless told), its id
    ready."""
    values: dict[str, Any] = {
        "status": "matched",
        "library_type": "school",
        "organization": "X",
        "specializations": ["reference"],
        "years_experience": 9 if role == "mentor" else 1,
    }
    enrollment = Enrollment(program_id=program_id, person_id=person_id, role=role, **(values | fields))
    session.add(enrollment)
    session.flush()
    return enrollment


def stored_pairing(
    session: Session, mentor: Enrollment, mentee: Enrollment, approved_at: datetime, **fields: Any
) -> Pairing:
    """An approved pairing written straight to the database (active unless told), its id ready."""
    values: dict[str, Any] = {"status": "active"} | fields
    pairing = Pairing(
        program_id=mentor.program_id,
        mentor_enrollment_id=mentor.id,
        mentee_enrollment_id=mentee.id,
        approved_at=approved_at,
        **values,
    )
    session.add(pairing)
    session.flush()
    return pairing


def program_modal_state(**values: str) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` as Slack sends it for the program modal, holding exactly the given fields."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for key, value in values.items():
        if key in ("applications_open", "applications_close", "agreement_due", "starts_on", "ends_on"):
            action = {"type": "datepicker", "selected_date": value or None}
        elif key in ("default_cadence", "eligibility", "cross_org"):
            action = {"type": "static_select", "selected_option": {"value": value}}
        elif key in ("admin_channel", "eligibility_channel"):
            action = {"type": "channels_select", "selected_channel": value or None}
        elif key in ("work_day_starts", "work_day_ends"):
            action = {"type": "timepicker", "selected_time": value or None}
        elif key in ("admins", "eligibility_allowlist"):
            action = {"type": "multi_users_select", "selected_users": [v for v in value.split(",") if v]}
        else:
            action = {"type": "plain_text_input", "value": value}
        state[key] = {key: action}
    return state


def program_form(**overrides: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The whole program form filled in: PLSEP's calendar and the usual choices, with `overrides` typed over."""
    return program_modal_state(**(PLSEP | FORM_DEFAULTS | overrides))


def _select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}


def intake_state(
    *,
    role: str | None = "mentee",
    program_id: int | None = None,
    library_type: str = "school",
    organization: str = "Riverside Unified",
    region: str = "Inland Empire",
    specializations: list[str] | None = None,
    years_experience: str = "1",
    grade_levels: list[str] | None = None,
    goals: str = "Run a library on my own with confidence.",
    meeting_format: str = "video",
    capacity: str | None = None,
    not_with: list[str] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` as Slack sends it for the intake modal."""
    specs = ["school_instruction", "collection_development"] if specializations is None else specializations
    values: dict[str, dict[str, dict[str, Any]]] = {
        "library_type": {"library_type": _select(library_type)},
        "organization": {"organization": {"type": "plain_text_input", "value": organization}},
        "region": {"region": {"type": "plain_text_input", "value": region}},
        "specializations": {
            "specializations": {
                "type": "multi_static_select",
                "selected_options": [{"value": s, "text": {"type": "plain_text", "text": s}} for s in specs],
            }
        },
        "years_experience": {"years_experience": {"type": "number_input", "value": years_experience}},
        "grade_levels": {
            "grade_levels": {
                "type": "checkboxes",
                "selected_options": [{"value": g} for g in (grade_levels or ["middle"])],
            }
        },
        "goals": {"goals": {"type": "plain_text_input", "value": goals}},
        "meeting_format": {"meeting_format": _select(meeting_format)},
        "capacity": {"capacity": {"type": "number_input", "value": capacity}},
        "not_with": {"not_with": {"type": "multi_users_select", "selected_users": not_with or []}},
    }
    if role is not None:
        values["role"] = {"role": {"type": "radio_buttons", "selected_option": {"value": role}}}
    if program_id is not None:
        values["program_id"] = {"program_id": _select(str(program_id))}
    return values


def block_texts(blocks: list[dict[str, Any]]) -> str:
    """Every visible string in a list of blocks, for assertions on what a person reads."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def approve_all_value(messages: list[dict[str, Any]]) -> str:
    """The value of the Approve all button on the latest match preview among `messages` (a channel's), as a
    coordinator pressing it sends it: it names the preview, so an older preview's button is refused."""
    values = [
        element["value"]
        for message in messages
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements") or []
        if element.get("action_id") == "shelfmate_approve_all"
    ]
    assert values, "no match preview with an Approve all button was posted"
    return values[-1]


# -- journey steps shared by the pair journeys --------------------------------------------------------------
def shown_text(messages: list[dict[str, Any]]) -> str:
    """What people read in these messages: the text and every string in the blocks."""
    return "\n".join((m.get("text") or "") + "\n" + block_texts(m.get("blocks") or []) for m in messages)


def each_shown(messages: list[dict[str, Any]]) -> list[str]:
    """`shown_text` of each message on its own."""
    return [shown_text([m]) for m in messages]


async def ticks_at(runtime: Runtime, clock: FixedClock, *moments: datetime) -> None:
    """The scheduler's tick at each of these moments, in order (the clock is left at the last)."""
    for moment in moments:
        clock.set(moment)
        await tick(runtime)


async def introduce_pair(emulator: SlackEmulator, runtime: Runtime, clock: FixedClock, mentor: str, mentee: str) -> str:
    """The scheduler's tick at the clock's time introduces a pairing already approved (e.g. `hand_pair`) in
    its group DM; that DM's id, after checking the welcome was posted there."""
    await tick(runtime)
    conversation = emulator.im_id(mentor, mentee)
    assert conversation and "Welcome to" in shown_text(emulator.messages_in(conversation))
    return conversation


async def send_user_change(slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, user_id: str) -> None:
    """Slack's `user_change` event for what `users.info` now says about this user (sent after a profile or
    account changed, to apps subscribed to it); the app finishes with it before the test moves on."""
    slack.event(
        {
            "type": "user_change",
            "user": emulator.user(user_id),
            "cache_ts": int(time.time()),
            "event_ts": f"{time.time():.6f}",
        }
    )
    await asyncio.sleep(0.2)
    await runtime.listener_work.finished(within=5)
    emulator.wait_idle()


async def deactivate_account(
    slack: SlackDriver, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock, user_id: str, at: datetime
) -> None:
    """A workspace admin deactivates this person's account at `at`, and Slack tells the app (`user_change`)."""
    clock.set(at)
    emulator.deactivate_user(user_id)
    await send_user_change(slack, emulator, runtime, user_id)

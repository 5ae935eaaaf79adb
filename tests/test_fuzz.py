"""Bad input, thrown at the running app through signed HTTP requests (issue 3 acceptance, issue 7 "Bad input").

Each test builds the app, the emulator and a small program world once, then lets hypothesis send many
requests to it. For every request: HTTP 200 (never a 5xx, never a 404 for an id the app registers), a body
that is empty or JSON a person can read (or `response_action: errors` naming only blocks the modal has), no
stack trace in anything Slack would show, no exception escaping a listener (the person would get no answer),
and no half-written rows. A submission answered with inline errors must leave the database untouched.
Buttons are also pressed without fields Slack may leave out (a value; the response_url, from the Home tab).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from bot.clock import FixedClock
from bot.services import catalog
from bot.views import ids
from bot.views.messages import render_delivery
from storage.engine import session_scope
from storage.models import (
    LIVE_PAIRING_STATUSES,
    Agreement,
    AuditEvent,
    CheckIn,
    Delivery,
    DeliveryStatus,
    Enrollment,
    Pairing,
    PairingStatus,
    Person,
    Program,
    SurveyResponse,
)
from tests.app_server import AppServer
from tests.conftest import ADMIN_ID
from tests.factories import make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver, interactive_envelope
from tests.slack_emulator import SlackEmulator

# -- the world every fuzz and security test starts from ----------------------------------------------------
LIB = "U0LIB0001"  # a librarian with no enrollment yet
MENTOR, MENTEE = "U0MENTOR1", "U0MENTEE1"  # an introduced pair; the mentee proposed the agreement
MENTOR2, MENTEE2 = "U0MENTOR2", "U0MENTEE2"  # a pair proposed by matching, waiting for a coordinator
OUTSIDER = "U0OUTSIDE"  # enrolled, applied, in no pairing
COORD_B = "U0COORDB1"  # coordinator of another program only
ADMIN_CHANNEL = "C0ADMINS01"
OTHER_ADMIN_CHANNEL = "C0ADMINSB1"
SECRET_NOTE = "SECRET-NOTE-7f3a: my director may cut the library budget"
PEOPLE = (LIB, MENTOR, MENTEE, MENTOR2, MENTEE2, OUTSIDER, COORD_B)

JAN_15 = datetime(2025, 1, 15, 17, 0, tzinfo=UTC)  # applications open
MAR_20 = datetime(2025, 3, 20, 18, 0, tzinfo=UTC)  # the program is running

TRACE_MARKERS = (
    "Traceback (most recent call last)",
    "object at 0x",
    "(Background on this error",
    "sqlalchemy.exc",
    "sqlite3.",
    "psycopg.",
    # Python's own exception texts, shown when a listener sends `str(error)` to the person.
    "invalid literal for int()",
    "could not convert string to float",
    "Invalid isoformat string",
    "does not match format",
    "is out of range",
    "must be in",
    "NoneType",
    "has no attribute",
    "object is not subscriptable",
    "object is not iterable",
    "unexpected keyword",
    "positional argument",
    "Expecting value: line",
    "list index out of range",
    "KeyError",
    "ValueError",
    "TypeError",
)


@dataclass(frozen=True)
class World:
    program_id: int
    program_name: str
    other_program_id: int
    other_program_name: str
    active_pairing_id: int  # MENTOR + MENTEE, introduced, agreement proposed by the mentee
    proposed_pairing_id: int  # MENTOR2 + MENTEE2, proposed and not yet approved
    checkin_id: int


def build_world(engine: Engine, emulator: SlackEmulator) -> World:
    """A running program with an introduced pair, a proposed pair, a loner and a second program."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL)
    other = make_program(engine, name="Academic Libraries Circle", admin_channel=OTHER_ADMIN_CHANNEL, admins=COORD_B)
    for uid in PEOPLE:
        emulator.add_user(uid, name=uid.lower(), real_name=f"Person {uid[-4:]}", tz="America/Los_Angeles")
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_channel(OTHER_ADMIN_CHANNEL, "alc-admins", members=[COORD_B])
    created = datetime(2025, 1, 10, tzinfo=UTC)
    with session_scope(engine, write=True) as session:
        for uid in PEOPLE:
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone="America/Los_Angeles"))
        session.flush()
        rows = {}
        for uid, role, status in (
            (MENTOR, "mentor", "matched"),
            (MENTEE, "mentee", "matched"),
            (MENTOR2, "mentor", "applied"),
            (MENTEE2, "mentee", "applied"),
            (OUTSIDER, "mentee", "applied"),
        ):
            row = Enrollment(
                program_id=program.id, person_id=uid, role=role, status=status, library_type="school",
                organization=f"{uid} district", region="Inland Empire", specializations=["school_instruction"],
                years_experience=12 if role == "mentor" else 1, capacity=2 if role == "mentor" else 0,
                meeting_format="video", created_at=created, updated_at=created,
            )  # fmt: skip
            session.add(row)
            rows[uid] = row
        session.flush()
        active = Pairing(
            program_id=program.id, mentor_enrollment_id=rows[MENTOR].id, mentee_enrollment_id=rows[MENTEE].id,
            status="introduced", score=81.5, reasons=["both in school libraries"], approved_at=created,
            decided_by=ADMIN_ID, created_at=created,
        )  # fmt: skip
        proposed = Pairing(
            program_id=program.id, mentor_enrollment_id=rows[MENTOR2].id, mentee_enrollment_id=rows[MENTEE2].id,
            status="proposed", score=70.0, reasons=["same region"], created_at=created,
        )  # fmt: skip
        session.add(active)
        session.add(proposed)
        session.flush()
        session.add(
            Agreement(
                pairing_id=active.id, cadence="biweekly", mentor_on_call=True, after_hours_ok=False,
                boundaries="professional", proposed_by=MENTEE, mentee_accepted_at=created, updated_at=created,
            )
        )  # fmt: skip
        checkin = CheckIn(
            pairing_id=active.id, logged_by=MENTEE, met_on=date(2025, 3, 5), duration_minutes=45, format="video",
            topics=["school_instruction"], rating=4, private_note=SECRET_NOTE,
            idempotency_key=f"pairing:{active.id}:2025-03-05", created_at=created,
        )  # fmt: skip
        session.add(checkin)
        session.flush()
        return World(
            program_id=program.id,  # type: ignore[arg-type]
            program_name=program.name,
            other_program_id=other.id,  # type: ignore[arg-type]
            other_program_name=other.name,
            active_pairing_id=active.id,  # type: ignore[arg-type]
            proposed_pairing_id=proposed.id,  # type: ignore[arg-type]
            checkin_id=checkin.id,  # type: ignore[arg-type]
        )


@pytest.fixture
def world(engine: Engine, emulator: SlackEmulator) -> World:
    return build_world(engine, emulator)


# -- observing the app -------------------------------------------------------------------------------------
def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal snapshots mean nothing was written."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
            rows = connection.execute(sql(f'SELECT * FROM "{table.name}" ORDER BY {order}'))
            out[table.name] = [tuple(row) for row in rows]
    return out


def settle(emulator: SlackEmulator, quiet: float = 0.025, timeout: float = 5.0) -> None:
    """Work after an ack runs on in the app; wait until its listeners are done and Slack is quiet a moment."""
    deadline = time.monotonic() + timeout
    seen = len(emulator.calls)
    calm_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.005)
        now_seen = len(emulator.calls)
        if now_seen != seen or AppServer.listeners_running():
            seen, calm_since = now_seen, time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            return


class ErrorLog(logging.Handler):
    """Collects ERROR records from every thread: an exception that escaped a listener is logged here."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def clear(self) -> None:
        self.records.clear()

    def assert_none(self, what: str) -> None:
        found = self.take()
        assert found == [], (
            f"an exception escaped {what}; the person gets a generic failure, not a helpful answer: {found}"
        )

    def take(self) -> list[str]:
        found = [f"{r.name}: {r.getMessage()}" for r in self.records]
        self.records.clear()
        return found


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def assert_no_trace(where: str, content: Any) -> None:
    dumped = content if isinstance(content, str) else json.dumps(content, default=str)
    for marker in TRACE_MARKERS:
        assert marker not in dumped, f"{where} shows internals ({marker!r}): {dumped[:600]}"


def assert_readable_blocks(blocks: Any) -> None:
    """Slack refuses a whole message whose blocks break Block Kit's rules; slack_sdk's models check them."""
    assert isinstance(blocks, list) and len(blocks) <= 50, f"too many or odd blocks: {str(blocks)[:300]}"
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, f"unknown block {block}"
        parsed.to_dict()  # raises SlackObjectFormationError on over-long text, missing fields...


def assert_command_answer(response: httpx.Response) -> None:
    """A slash command's answer: HTTP 200 and either nothing (the answer comes later) or readable JSON."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:300]}"
    if not response.content.strip():
        return
    body = response.json()
    assert isinstance(body, dict), body
    assert_no_trace("the command's answer", body)
    shown = str(body.get("text") or "").strip()
    if body.get("blocks"):
        assert_readable_blocks(body["blocks"])
        shown = shown or json.dumps(body["blocks"])
    assert shown, f"an answer with nothing to read: {body}"
    assert len(str(body.get("text") or "")) <= 40_000


def assert_submission_answer(response: httpx.Response, allowed_blocks: set[str]) -> dict[str, Any]:
    """A modal submission's answer: empty (close), or a response_action; inline errors name real blocks."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:300]}"
    if not response.content.strip():
        return {}
    body = response.json()
    assert isinstance(body, dict), body
    assert_no_trace("the modal's answer", body)
    if not body:
        return body
    action = body.get("response_action")
    assert action in ("errors", "update", "push", "clear"), f"not an answer Slack understands: {body}"
    if action == "errors":
        errors = body.get("errors")
        assert isinstance(errors, dict) and errors, f"errors without messages: {body}"
        unknown = set(errors) - allowed_blocks
        assert not unknown, f"Slack rejects errors for blocks the modal doesn't have: {sorted(unknown)} in {body}"
        for message in errors.values():
            assert isinstance(message, str) and message.strip(), f"an empty inline error: {body}"
    return body


def assert_nothing_leaked_to_slack(emulator: SlackEmulator, response_urls: list[str]) -> None:
    """Everything the app sent toward a person (Web API calls, response_url payloads) shows no internals."""
    calls = list(emulator.calls)
    start = getattr(emulator, "_fuzz_checked_calls", 0)  # calls already checked by an earlier example
    start = start if start <= len(calls) else 0  # the calls were reset in between
    for call in calls[start:]:
        assert_no_trace(f"a {call.method} call", call.decoded_args)
    emulator._fuzz_checked_calls = len(calls)  # type: ignore[attr-defined]
    for url in response_urls:
        for payload in emulator.responses_to(url):
            assert_no_trace("a response_url message", payload)


def half_written_rows(engine: Engine) -> list[str]:
    """Rows no finished flow could leave behind: an enrollment without its answers, a check-in without a day,
    a pairing across programs, an audit event without an actor, a queued message the sweep cannot render."""
    problems: list[str] = []
    roles = {"mentor", "mentee"}
    with session_scope(engine) as session:
        for e in session.exec(select(Enrollment)):
            if e.role not in roles or e.status not in {"applied", "waitlisted", "matched", "paused", "withdrawn"}:
                problems.append(f"enrollment {e.id}: role {e.role!r} status {e.status!r}")
            elif e.status != "withdrawn" and (
                e.library_type not in catalog.LIBRARY_TYPES
                or not e.organization.strip()
                or not e.specializations
                or e.meeting_format not in catalog.MEETING_FORMATS
                or not 0 <= e.years_experience <= 60
                or (e.role == "mentor" and not 1 <= e.capacity <= 10)
            ):
                problems.append(f"enrollment {e.id} is half-written: {e.model_dump()}")
        for c in session.exec(select(CheckIn)):
            if (
                c.met_on is None
                or not 5 <= c.duration_minutes <= 480
                or (c.rating is not None and not 1 <= c.rating <= 5)
            ):
                problems.append(f"check-in {c.id} is half-written: {c.model_dump()}")
        for a in session.exec(select(Agreement)):
            if a.cadence not in {"weekly", "biweekly", "monthly"} or a.boundaries not in {"professional", "open"}:
                problems.append(f"agreement {a.id} is half-written: {a.model_dump()}")
        for p in session.exec(select(Program)):
            if not p.name.strip() or not (p.applications_close and p.starts_on and p.ends_on):
                problems.append(f"program {p.id} is half-written: {p.model_dump()}")
        for s in session.exec(select(SurveyResponse)):
            if not 1 <= s.satisfaction <= 5:
                problems.append(f"survey response {s.id} is half-written: {s.model_dump()}")
        problems += _half_written_pairings(session)
        for event in session.exec(select(AuditEvent)):
            if not event.actor.strip() or not event.action.strip() or not isinstance(event.detail, dict):
                problems.append(f"audit event {event.id} is half-written: {event.model_dump()}")
        problems += _half_written_deliveries(session)
    return problems


def _half_written_pairings(session: Session) -> list[str]:
    """A pairing joins a mentor and a mentee of its own program; a live one was approved, an ended one ended."""
    problems: list[str] = []
    live_pairs: set[tuple[int, int]] = set()
    for p in session.exec(select(Pairing)):
        mentor, mentee = (
            session.get(Enrollment, p.mentor_enrollment_id),
            session.get(Enrollment, p.mentee_enrollment_id),
        )
        if (
            p.status not in set(PairingStatus)
            or mentor is None
            or mentee is None
            or (mentor.role, mentee.role) != ("mentor", "mentee")
            or mentor.program_id != p.program_id
            or mentee.program_id != p.program_id
            or mentor.person_id == mentee.person_id
            or (p.status in ("introduced", "active") and (p.approved_at is None or p.ended_at is not None))
            or (p.status in ("ended", "dissolved") and p.ended_at is None)
        ):
            problems.append(f"pairing {p.id} is half-written: {p.model_dump()}")
        if p.status in LIVE_PAIRING_STATUSES:
            key = (p.mentor_enrollment_id, p.mentee_enrollment_id)
            if key in live_pairs:
                problems.append(f"pairing {p.id} duplicates a live pairing of the same two people")
            live_pairs.add(key)
    return problems


def _half_written_deliveries(session: Session) -> list[str]:
    """A queued message the sweep can send: a known kind whose payload renders, and a claim or send recorded whole."""
    problems: list[str] = []
    for d in session.exec(select(Delivery)):
        try:
            render_delivery(d.kind, d.payload)
            renders = True
        except Exception:  # a payload the sweep could never render: the message would fail every attempt
            renders = False
        if (
            d.status not in set(DeliveryStatus)
            or not d.recipient.strip()
            or not renders
            or (d.status == "claimed" and (d.claim_token is None or d.claimed_at is None))
            or (d.status == "sent" and (d.message_ts is None or d.channel_id is None or d.sent_at is None))
        ):
            problems.append(f"delivery {d.id} is half-written: {d.model_dump()}")
    return problems


# -- hypothesis settings ----------------------------------------------------------------------------------
# Shrinking a failure through a live server can take minutes; SHELFMATE_FUZZ_SHRINK=1 turns it on locally.
SHRINK = os.environ.get("SHELFMATE_FUZZ_SHRINK", "") == "1"


def fuzz_settings(max_examples: int) -> settings:
    # derandomize: the same examples every run, so a red test is a bug to fix, not a flake to retry.
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


ODD_STRINGS = [
    "",
    " ",
    "²",
    "1e9",
    "-1",
    "0",
    "3.5",
    "NaN",
    "inf",
    "٣",
    "9" * 40,
    "x" * 5000,
    "\x00",
    "\x1b[31m",
    "null",
    "[]",
    "{}",
    "2025-02-30",
    "9999-99-99",
    "0000-00-00",
    "<@U0ADMIN01>",
    "<!channel>",
    "'; DROP TABLE enrollment; --",
    "\u202etxet",
    "🙂" * 10,
]
odd_text = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=40))

MENTOR_WORDS = [
    "join",
    "profile",
    "status",
    "pause",
    "resume",
    "leave",
    "help",
    "checkin",
    "checkins",
    "meetings",
    "agreement",
    "rematch",
    "mentor",
    "mentee",
    "until",
    "2025-02-10",
    "9999-99-99",
    "²",
    "1e9",
    "-1",
    "JOIN",
]
ADMIN_WORDS = [
    "program",
    "create",
    "edit",
    "list",
    "match",
    "preview",
    "pair",
    "unpair",
    "summary",
    "export",
    "participants",
    "pairings",
    "checkins",
    "hours",
    "audit",
    "help",
    "PLSEP Mentorship 2025",
    "Academic Libraries Circle",
    f"<@{MENTOR}>",
    f"<@{MENTEE}>",
    f"<@{MENTOR2}|m2>",
    f"<@{MENTEE2}>",
    "<@U0NOBODY1>",
    "99999999999999999999",
    "0",
    "-5",
]


def command_texts(words: list[str]) -> st.SearchStrategy[str]:
    word = st.one_of(st.sampled_from(words), st.sampled_from(ODD_STRINGS[:12]), st.text(max_size=12))
    return st.one_of(
        st.text(max_size=300),
        st.lists(word, max_size=6).map(" ".join),
        st.tuples(st.sampled_from(words), st.text(max_size=80)).map(" ".join),
        st.just("x" * 4000),
    )


# -- slash commands ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [ids.MENTOR_COMMAND, ids.ADMIN_COMMAND])
def test_any_command_text_gets_a_readable_answer(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    error_log: ErrorLog,
    command: str,
) -> None:
    words = MENTOR_WORDS if command == ids.MENTOR_COMMAND else ADMIN_WORDS
    urls: list[str] = []

    @fuzz_settings(35)
    @given(user=st.sampled_from([LIB, MENTEE, OUTSIDER, ADMIN_ID, COORD_B]), text=command_texts(words))
    @example(user=LIB, text="join ²")
    @example(user=MENTEE, text="pause until 9999-99-99")
    @example(user=MENTEE, text="pause until 2025-02-30")
    @example(user=LIB, text="join\x00mentor")
    @example(user=ADMIN_ID, text="audit 99999999999999999999")
    @example(user=ADMIN_ID, text="export hours 99999999999999999999")
    @example(user=ADMIN_ID, text=f"pair <@{MENTOR2}> <@{MENTEE2}> ²")
    @example(user=ADMIN_ID, text="x" * 4000)
    def check(user: str, text: str) -> None:
        error_log.clear()
        response = slack.command(user, command, text)
        urls.append(slack.last_response_url)
        assert_command_answer(response)
        settle(emulator)
        error_log.assert_none(f"the {command} listener for {text!r}")
        assert_nothing_leaked_to_slack(emulator, urls[-1:])

    check()
    settle(emulator)
    error_log.assert_none("a listener after the last example")
    assert half_written_rows(engine) == []
    assert_nothing_leaked_to_slack(emulator, urls)


# -- modal submissions -------------------------------------------------------------------------------------
def _opened_views(emulator: SlackEmulator) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        calls = [c for c in emulator.calls_to("views.open") if c.ok]
        if calls:
            return [c.arg("view") for c in calls]
        time.sleep(0.02)
    return []


def real_modal(callback_id: str, slack: SlackDriver, emulator: SlackEmulator, world: World) -> dict[str, Any]:
    """The modal exactly as the app opens it, from the entry point a person would use."""
    openers: dict[str, Callable[[], Any]] = {
        ids.INTAKE_CALLBACK: lambda: slack.mentor(LIB, "join"),
        ids.PROGRAM_CALLBACK: lambda: slack.admin(ADMIN_ID, "program create"),
        ids.AGREEMENT_CALLBACK: lambda: slack.block_action(
            MENTOR, ids.ACTION_CHANGE_AGREEMENT, str(world.active_pairing_id)
        ),
        ids.CHECKIN_CALLBACK: lambda: slack.mentor(MENTEE, "checkin"),
        ids.SURVEY_CALLBACK: lambda: slack.block_action(MENTEE, ids.ACTION_SURVEY, str(world.active_pairing_id)),
    }
    assert callback_id in openers, f"the fuzz tests do not know how to open {callback_id}: add it here"
    emulator.reset_calls()
    openers[callback_id]()
    views = [v for v in _opened_views(emulator) if v.get("callback_id") == callback_id]
    assert views, f"{callback_id}: the app did not open its modal"
    emulator.reset_calls()
    return views[-1]


def input_elements(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """block id -> element, for the input blocks a submitted state carries."""
    return {b["block_id"]: b["element"] for b in view["blocks"] if b.get("type") == "input"}


def _option_values(element: dict[str, Any]) -> list[str]:
    return [o["value"] for o in element.get("options", []) if "value" in o]


def typed_value(element: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A state entry shaped the way Slack sends this element, holding a valid or an odd value."""
    kind = element["type"]
    choice = st.one_of(st.sampled_from(_option_values(element) or [""]), odd_text)
    person = st.sampled_from([*PEOPLE, ADMIN_ID, "U0NOBODY1", "", "²", "W" + "9" * 30])
    if kind in ("static_select", "radio_buttons"):
        option = st.one_of(st.none(), choice.map(lambda v: {"value": v, "text": {"type": "plain_text", "text": "x"}}))
        return option.map(lambda o: {"type": kind, "selected_option": o})
    if kind in ("multi_static_select", "checkboxes"):
        return st.lists(choice, max_size=4).map(
            lambda vs: {"type": kind, "selected_options": [{"value": v} for v in vs]}
        )
    if kind == "datepicker":
        day = st.one_of(st.dates(date(2024, 1, 1), date(2026, 12, 31)).map(date.isoformat), odd_text, st.none())
        return day.map(lambda d: {"type": kind, "selected_date": d})
    if kind == "multi_users_select":
        return st.lists(person, max_size=3).map(lambda us: {"type": kind, "selected_users": us})
    if kind == "channels_select":
        channel = st.one_of(st.sampled_from([ADMIN_CHANNEL, "C0NOWHERE1", ""]), odd_text, st.none())
        return channel.map(lambda c: {"type": kind, "selected_channel": c})
    numbers = st.one_of(st.integers(-5, 500).map(str), odd_text, st.none())
    return numbers.map(lambda v: {"type": kind, "value": v})


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), odd_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def malformed_value(block_id: str) -> st.SearchStrategy[Any]:
    """What a hand-made payload may put where Slack puts one element's state."""
    fields = ["selected_option", "selected_options", "value", "selected_date", "selected_users", "selected_channel"]
    odd_entry = st.dictionaries(
        st.sampled_from(fields),
        st.one_of(
            JSONISH,
            st.lists(st.one_of(JSONISH, st.fixed_dictionaries({"value": JSONISH})), max_size=3),
            st.fixed_dictionaries({"value": JSONISH}),
        ),
        max_size=3,
    )
    return st.one_of(JSONISH, st.fixed_dictionaries({block_id: st.one_of(odd_entry, JSONISH)}))


def metadata_strategy(real: str, world: World) -> st.SearchStrategy[str]:
    ids_ = st.one_of(
        st.sampled_from(
            [
                world.active_pairing_id,
                world.proposed_pairing_id,
                world.program_id,
                world.other_program_id,
                0,
                -1,
                10**20,
                "1",
                "²",
                1.5,
                None,
                [1],
                True,
            ]
        ),
        st.integers(),
    )
    odd_json = st.one_of(
        st.fixed_dictionaries({"pairing_id": ids_}),
        st.fixed_dictionaries(
            {"program_id": ids_, "mode": st.sampled_from(["join", "edit", 5, None]), "role": JSONISH}
        ),
        JSONISH,
    ).map(json.dumps)
    return st.one_of(st.just(real), st.just(real), odd_json, odd_text)


SUBMITTERS = {
    ids.INTAKE_CALLBACK: [LIB, LIB, OUTSIDER, MENTOR],
    ids.PROGRAM_CALLBACK: [ADMIN_ID, ADMIN_ID, COORD_B, LIB],
    ids.AGREEMENT_CALLBACK: [MENTOR, MENTEE, OUTSIDER, MENTEE2],
    ids.CHECKIN_CALLBACK: [MENTEE, MENTOR, OUTSIDER, MENTOR2],
    ids.SURVEY_CALLBACK: [MENTEE, MENTOR, OUTSIDER],
}
CALLBACKS = sorted(v for k, v in vars(ids).items() if k.endswith("_CALLBACK"))
OPEN_FOR = {ids.INTAKE_CALLBACK: JAN_15, ids.PROGRAM_CALLBACK: JAN_15}  # the others while the program runs


def test_every_callback_id_is_fuzzed() -> None:
    assert set(CALLBACKS) == set(SUBMITTERS), "add the new modal to SUBMITTERS and real_modal()"


def _submission_check(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    error_log: ErrorLog,
    callback_id: str,
    modal: dict[str, Any],
    user: str,
    values: Any,
    metadata: str,
    counter: list[int],
    *,
    strict: bool,
) -> None:
    counter[0] += 1
    error_log.clear()
    allowed = set(input_elements(modal))
    if strict:  # a real submission carries every input block: errors may name only those
        allowed &= set(values) if isinstance(values, dict) else set()
    before = snapshot(engine)
    response = slack.view_submission(
        user, callback_id, values, private_metadata=metadata, view_hash=f"fuzz.{counter[0]}"
    )
    body = assert_submission_answer(response, allowed)
    settle(emulator)
    error_log.assert_none(f"the {callback_id} listener")
    if body.get("response_action") == "errors":
        assert snapshot(engine) == before, "a submission answered with inline errors still changed the database"
    assert half_written_rows(engine) == []
    assert_nothing_leaked_to_slack(emulator, [])


@pytest.mark.parametrize("callback_id", CALLBACKS)
def test_submissions_with_odd_answers_get_inline_errors_or_save_whole_rows(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    clock: FixedClock,
    error_log: ErrorLog,
    callback_id: str,
) -> None:
    """Well-formed state (every input block, each shaped like its element) holding valid and odd values."""
    clock.set(OPEN_FOR.get(callback_id, MAR_20))
    modal = real_modal(callback_id, slack, emulator, world)
    elements = input_elements(modal)
    state = st.fixed_dictionaries(
        {block_id: typed_value(element).map(lambda v, b=block_id: {b: v}) for block_id, element in elements.items()}
    )
    counter = [0]

    @fuzz_settings(30)
    @given(
        user=st.sampled_from(SUBMITTERS[callback_id]),
        values=state,
        metadata=metadata_strategy(modal["private_metadata"], world),
    )
    def check(user: str, values: dict[str, Any], metadata: str) -> None:
        _submission_check(
            slack, emulator, engine, error_log, callback_id, modal, user, values, metadata, counter, strict=True
        )

    check()
    settle(emulator)
    error_log.assert_none("a listener after the last example")


@pytest.mark.parametrize("callback_id", CALLBACKS)
def test_malformed_submissions_never_fail_the_request(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    clock: FixedClock,
    error_log: ErrorLog,
    callback_id: str,
) -> None:
    """Hand-made state: missing blocks, odd types, unknown blocks, state that is not even a dict.

    Slack itself always sends every input block, so here inline errors may name any block the modal has.
    """
    clock.set(OPEN_FOR.get(callback_id, MAR_20))
    modal = real_modal(callback_id, slack, emulator, world)
    elements = input_elements(modal)
    block_ids = sorted(elements) + ["not_a_block"]
    state = st.one_of(
        st.dictionaries(st.sampled_from(block_ids), st.just(None), max_size=len(block_ids)).flatmap(
            lambda picked: st.fixed_dictionaries({b: malformed_value(b) for b in picked})
        ),
        JSONISH,
    )
    counter = [0]

    @fuzz_settings(25)
    @given(
        user=st.sampled_from(SUBMITTERS[callback_id]),
        values=state,
        metadata=metadata_strategy(modal["private_metadata"], world),
    )
    def check(user: str, values: Any, metadata: str) -> None:
        _submission_check(
            slack, emulator, engine, error_log, callback_id, modal, user, values, metadata, counter, strict=False
        )

    check()
    settle(emulator)
    error_log.assert_none("a listener after the last example")


# The answers a person could really give, per modal; each odd value below is tried in every field of them.
GOOD_ANSWERS: dict[str, dict[str, Any]] = {
    ids.INTAKE_CALLBACK: {
        "role": "mentor", "program_id": "1", "library_type": "school", "organization": "Riverside Unified",
        "region": "Inland Empire", "specializations": ["school_instruction"], "years_experience": "8",
        "grade_levels": ["middle"], "goals": "Grow", "meeting_format": "video", "capacity": "2", "not_with": [],
    },
    ids.PROGRAM_CALLBACK: {
        "name": "Fuzz program", "applications_open": "2025-01-06", "applications_close": "2025-02-17",
        "agreement_due": "2025-03-01", "starts_on": "2025-03-03", "ends_on": "2025-06-30",
        "default_cadence": "monthly", "min_mentor_years": "3", "default_capacity": "2", "eligibility": "open",
        "eligibility_allowlist": [], "eligibility_channel": None, "admin_channel": ADMIN_CHANNEL,
        "timezone": "America/Los_Angeles", "blackouts": "2025-04-07..2025-04-11", "cross_org": "none",
        "neighbor_orgs": "", "weights": "", "admins": [], "allow_guests": [],
    },
    ids.AGREEMENT_CALLBACK: {
        "cadence": "biweekly", "mentor_on_call": "yes", "after_hours_ok": "no", "boundaries": "professional",
        "first_meeting_on": "2025-03-25",
    },
    ids.CHECKIN_CALLBACK: {
        "pairing_id": "1", "met_on": "2025-03-10", "duration": "45", "format": "video",
        "topics": ["school_instruction"], "other_topics": "budget season", "rating": "4", "private_note": "",
    },
    ids.SURVEY_CALLBACK: {"satisfaction": "4", "would_continue": "yes", "still_in_libraries": "yes"},
}  # fmt: skip
NAMED_ODD_VALUES = ["²", "1e9", "-1", "9" * 30, "x" * 300, "\x00"]
TYPED_ELEMENTS = {"plain_text_input", "number_input", "datepicker"}  # every odd value in typed fields
CHOICE_ODD_VALUES = ["²", "9" * 30]  # menus, radios, checkboxes and user pickers
# Odd values only one field's own syntax reaches: the number after "name=", the end of a "start..end" range.
FIELD_ODD_VALUES = {
    "weights": ["specialization=x", "specialization=nan", "specialization=1e999"],
    "blackouts": ["2025-04-07..soon", "2025-04-07..2025-02-30"],
}


def state_entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """One element's entry in `view.state.values`, shaped as Slack sends that element type."""
    kind = element["type"]
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": None if value is None else {"value": value}}
    if kind in ("multi_static_select", "checkboxes"):
        values = value if isinstance(value, list) else [value]
        return {"type": kind, "selected_options": [{"value": v} for v in values]}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": value if isinstance(value, list) else [value]}
    if kind == "channels_select":
        return {"type": kind, "selected_channel": value}
    return {"type": kind, "value": value}


def good_state(callback_id: str, modal: dict[str, Any], **changes: Any) -> dict[str, Any]:
    answers = GOOD_ANSWERS[callback_id] | changes
    return {b: {b: state_entry(e, answers.get(b))} for b, e in input_elements(modal).items()}


ENTITLED_SUBMITTER = {  # who is entitled to submit each modal in the world
    ids.INTAKE_CALLBACK: LIB,
    ids.PROGRAM_CALLBACK: ADMIN_ID,
    ids.AGREEMENT_CALLBACK: MENTOR,
    ids.CHECKIN_CALLBACK: MENTEE,
    ids.SURVEY_CALLBACK: MENTEE,
}


@pytest.mark.parametrize("callback_id", CALLBACKS)
def test_named_odd_values_in_every_field_and_in_the_metadata(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    clock: FixedClock,
    error_log: ErrorLog,
    callback_id: str,
) -> None:
    """ "²", "1e9", "-1", a 30-digit number, an over-long text and a NUL in each field of a good answer."""
    clock.set(OPEN_FOR.get(callback_id, MAR_20))
    modal = real_modal(callback_id, slack, emulator, world)
    user = ENTITLED_SUBMITTER[callback_id]
    counter = [0]
    cases: list[tuple[str, dict[str, Any], str]] = []
    for block_id, element in input_elements(modal).items():
        odd_values = NAMED_ODD_VALUES if element["type"] in TYPED_ELEMENTS else CHOICE_ODD_VALUES
        for odd in odd_values + FIELD_ODD_VALUES.get(block_id, []):
            cases.append(
                (
                    f"{block_id}={odd[:12]!r}",
                    good_state(callback_id, modal, **{block_id: odd}),
                    modal["private_metadata"],
                )
            )
    metadata = json.loads(modal["private_metadata"] or "{}")
    for key in [k for k in ("program_id", "pairing_id") if k in metadata]:
        for odd_id in (10**20, -1, "²", 1.5, None):
            cases.append(
                (f"metadata {key}={odd_id!r}", good_state(callback_id, modal), json.dumps(metadata | {key: odd_id}))
            )
    cases.append(("metadata not JSON", good_state(callback_id, modal), "{not json"))

    failures = []
    for label, values, meta in cases:
        try:
            _submission_check(
                slack, emulator, engine, error_log, callback_id, modal, user, values, meta, counter, strict=True
            )
        except AssertionError as problem:
            failures.append(f"{label}: {str(problem).splitlines()[0][:400]}")
    # The good answer itself goes through, so the odd ones above really reached the code that saves. (A new
    # day for a check-in: a day already logged is refused inline, as one meeting is logged once.)
    accepted = slack.view_submission(
        user,
        callback_id,
        good_state(callback_id, modal, name="Fuzz program final", met_on="2025-03-11"),
        private_metadata=modal["private_metadata"],
        view_hash="good.final",
    )
    assert accepted.status_code == 200 and accepted.content.strip() in (b"", b"{}"), accepted.text[:300]
    assert failures == [], f"{len(failures)} of {len(cases)} odd answers broke {callback_id}:\n" + "\n".join(failures)


# -- buttons -----------------------------------------------------------------------------------------------
ACTIONS = sorted(v for k, v in vars(ids).items() if k.startswith("ACTION_"))


def action_values(world: World) -> st.SearchStrategy[Any]:
    real = [str(world.active_pairing_id), str(world.proposed_pairing_id), str(world.program_id)]
    override = st.fixed_dictionaries(
        {
            "program_id": st.one_of(st.sampled_from([world.program_id, world.other_program_id, 10**20, "x"]), JSONISH),
            "mentor": st.sampled_from([MENTOR, MENTOR2, OUTSIDER, "", "²"]),
            "mentee": st.sampled_from([MENTEE, MENTEE2, OUTSIDER, LIB]),
        }
    ).map(json.dumps)
    return st.one_of(
        st.sampled_from(real), odd_text, override, st.just("9" * 30), st.just("¹²³"), st.integers(), st.none()
    )


# Fields Slack may leave out of a button press: a button without a value has none, and a press in a modal or on
# the Home tab carries no response_url; the rest guard against hand-made payloads.
BUTTON_FIELDS = ("value", "block_id", "type", "text", "action_ts")
ENVELOPE_FIELDS = ("response_url", "trigger_id", "container", "channel", "message")
HOME_ACTIONS = {ids.ACTION_JOIN, ids.ACTION_EDIT_PROFILE, ids.ACTION_PAUSE, ids.ACTION_RESUME, ids.ACTION_CHECKIN}
# Known regressions: each once cost Bolt's 3 s ack wait, so they are tried first for their button.
BUTTON_EXAMPLES: dict[str, list[tuple[str, Any, bool, frozenset[str]]]] = {
    ids.ACTION_APPROVE_PAIR: [(ADMIN_ID, "9" * 30, False, frozenset())],
    ids.ACTION_APPROVE_ALL: [(ADMIN_ID, "²", False, frozenset())],
}


def button_payload(
    slack: SlackDriver,
    emulator: SlackEmulator,
    user: str,
    action_id: str,
    value: Any,
    on_home: bool,
    missing: frozenset[str],
) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button in a message or on the Home tab, minus `missing`."""
    action = {
        "type": "button", "action_id": action_id, "block_id": "actions", "value": value,
        "text": {"type": "plain_text", "text": "button"}, "action_ts": "1741000000.000100",
    }  # fmt: skip
    payload = interactive_envelope(user, emulator.issue_trigger_id()) | {
        "type": "block_actions",
        "response_url": slack._response_url(),
        "actions": [{k: v for k, v in action.items() if k not in missing}],
    }
    if on_home:
        payload |= {"container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"}}
    else:
        payload |= {
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "D0DM"},
            "channel": {"id": "D0DM", "name": "directmessage"},
            "message": {"type": "message", "ts": "1700000000.000100", "text": ""},
        }
    return {k: v for k, v in payload.items() if k not in missing}


@pytest.mark.parametrize("action_id", ACTIONS)
def test_every_button_with_any_value_or_shape_is_answered(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    clock: FixedClock,
    error_log: ErrorLog,
    action_id: str,
) -> None:
    """Each button, from a fresh world, pressed by anyone with real, odd or missing values and fields."""
    clock.set(MAR_20)

    def press(user: str, value: Any, on_home: bool, missing: frozenset[str]) -> None:
        error_log.clear()
        payload = button_payload(slack, emulator, user, action_id, value, on_home, missing)
        response = slack.interactive(payload)
        where = f"{action_id} (value {value!r}, without {sorted(missing)})"
        assert response.status_code == 200, f"{where}: HTTP {response.status_code} {response.text[:200]}"
        assert response.content.strip() in (b"", b"{}") or isinstance(response.json(), dict)
        assert_no_trace(f"{where}'s answer", response.text)
        settle(emulator)
        error_log.assert_none(f"the {where} listener")
        assert_nothing_leaked_to_slack(emulator, [payload.get("response_url") or slack.last_response_url])
        assert half_written_rows(engine) == []

    for example_args in BUTTON_EXAMPLES.get(action_id, []):
        press(*example_args)
    if action_id in HOME_ACTIONS:  # as Slack sends a Home tab press (no response_url), from a stale Home tab
        press(LIB, action_id.removeprefix("shelfmate_"), True, frozenset({"response_url"}))
    press(ADMIN_ID, "", False, frozenset({"value"}))  # a button without a value: Slack leaves the field out
    fields = st.sets(st.sampled_from(BUTTON_FIELDS + ENVELOPE_FIELDS), min_size=1, max_size=3).map(frozenset)
    check = fuzz_settings(4)(
        given(
            user=st.sampled_from([*PEOPLE, ADMIN_ID]),
            value=action_values(world),
            on_home=st.booleans(),
            # Half the presses keep every field, so odd values still reach the code behind each button.
            missing=st.one_of(st.just(frozenset()), fields),
        )(press)
    )
    check()


# -- the Home tab ------------------------------------------------------------------------------------------
def test_home_opened_events_always_publish_or_ignore(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, error_log: ErrorLog
) -> None:
    # Values keep the types Slack's event schema gives them (Bolt itself reads `channel` before any listener).
    @fuzz_settings(30)
    @given(
        user=st.sampled_from([*PEOPLE, ADMIN_ID]),
        tab=st.one_of(st.sampled_from(["home", "messages", "about"]), odd_text, st.none()),
        extra=st.dictionaries(
            st.sampled_from(["view", "channel", "event_ts"]),
            st.one_of(odd_text, st.fixed_dictionaries({"id": odd_text, "type": st.just("home")})),
            max_size=2,
        ),
    )
    def check(user: str, tab: Any, extra: dict[str, Any]) -> None:
        emulator.reset_calls()
        error_log.clear()
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME01", "event_ts": "1.1"}
        if tab is not None:
            event["tab"] = tab
        event |= {k: v for k, v in extra.items() if (k == "view") == isinstance(v, dict)}
        response = slack.event(event)
        assert response.status_code == 200, response.text[:200]

        def published() -> list[Any]:
            return [c for c in emulator.calls_to("views.publish") if c.arg("user_id") == user]

        if tab in (None, "home"):
            # The database reads come before the first Slack call: a quiet spell does not mean done.
            publish = wait_for(published, what=f"a Home tab published for {event!r}")[-1]
            assert publish.ok, f"no Home tab published for {event!r}"
            assert_readable_blocks_view(publish.arg("view"))
        settle(emulator)
        error_log.assert_none(f"the Home listener for {event!r}")
        if tab not in (None, "home"):
            assert published() == []
        assert_nothing_leaked_to_slack(emulator, [])

    check()
    assert half_written_rows(engine) == []


def assert_readable_blocks_view(view: dict[str, Any]) -> None:
    assert view.get("type") == "home" and len(view.get("blocks", [])) <= 100
    for block in view["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.to_dict()
    assert re.search(r"\S", json.dumps(view["blocks"]))

"""Issue 7: signatures on every kind of request, the authorization matrix, and secrets kept out of logs.

Every refusal is checked the way it matters: the database is exactly as before (every row of every table),
nothing reached the admin channel or any conversation, and the answer leaks nothing. Each matrix also
replays one request as the entitled person, to prove the same request would have had an effect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.services.agreements import Terms
from bot.services.programs import REFUSAL
from bot.views import ids
from storage.engine import session_scope
from storage.models import Agreement, AuditEvent, CheckIn, Pairing, Program, SurveyResponse
from tests.conftest import ADMIN_ID, BOT_TOKEN, SIGNING_SECRET
from tests.factories import intake_state
from tests.polling import wait_for
from tests.slack_driver import SlackDriver, sign
from tests.slack_emulator import SlackEmulator
from tests.test_fuzz import (
    ADMIN_CHANNEL,
    COORD_B,
    LIB,
    MAR_20,
    MENTEE,
    MENTEE2,
    MENTOR,
    MENTOR2,
    OTHER_ADMIN_CHANNEL,
    OUTSIDER,
    SECRET_NOTE,
    World,
    build_world,
    settle,
    snapshot,
)

# Calls that would show something to someone, or open a surface: none may follow a refused request.
VISIBLE_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.scheduleMessage",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "conversations.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    }
)


@pytest.fixture
def world(engine: Engine, emulator: SlackEmulator) -> World:
    return build_world(engine, emulator)


def checkin_state(met_on: str = "2025-03-12", note: str = "") -> dict[str, Any]:
    def select_(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value}}

    return {
        "met_on": {"met_on": {"type": "datepicker", "selected_date": met_on}},
        "duration": {"duration": {"type": "number_input", "value": "50"}},
        "format": {"format": select_("video")},
        "topics": {"topics": {"type": "multi_static_select", "selected_options": [{"value": "school_instruction"}]}},
        "other_topics": {"other_topics": {"type": "plain_text_input", "value": ""}},
        "rating": {"rating": select_("5")},
        "private_note": {"private_note": {"type": "plain_text_input", "value": note}},
    }


def agreement_state() -> dict[str, Any]:
    def pick(kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "selected_option": {"value": value}}

    return {
        "cadence": {"cadence": pick("static_select", "weekly")},
        "mentor_on_call": {"mentor_on_call": pick("radio_buttons", "no")},
        "after_hours_ok": {"after_hours_ok": pick("radio_buttons", "yes")},
        "boundaries": {"boundaries": pick("radio_buttons", "open")},
        "first_meeting_on": {"first_meeting_on": {"type": "datepicker", "selected_date": None}},
    }


def survey_state() -> dict[str, Any]:
    def pick(kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "selected_option": {"value": value}}

    return {
        "satisfaction": {"satisfaction": pick("static_select", "5")},
        "would_continue": {"would_continue": pick("radio_buttons", "yes")},
        "still_in_libraries": {"still_in_libraries": pick("radio_buttons", "yes")},
    }


def program_state(name: str) -> dict[str, Any]:
    def typed(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    def day(value: str) -> dict[str, Any]:
        return {"type": "datepicker", "selected_date": value}

    def pick(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value}}

    values = {
        "name": typed(name),
        "applications_open": day("2025-01-06"),
        "applications_close": day("2025-02-17"),
        "agreement_due": day("2025-03-01"),
        "starts_on": day("2025-03-03"),
        "ends_on": day("2025-06-30"),
        "default_cadence": pick("weekly"),
        "min_mentor_years": {"type": "number_input", "value": "0"},
        "default_capacity": {"type": "number_input", "value": "5"},
        "eligibility": pick("open"),
        "eligibility_allowlist": {"type": "multi_users_select", "selected_users": []},
        "eligibility_channel": {"type": "channels_select", "selected_channel": None},
        "admin_channel": {"type": "channels_select", "selected_channel": "C0HIJACK01"},
        "timezone": typed("America/New_York"),
        "blackouts": typed(""),
        "cross_org": pick("none"),
        "neighbor_orgs": typed(""),
        "weights": typed(""),
        "admins": {"type": "multi_users_select", "selected_users": [LIB, MENTOR, COORD_B]},
        "allow_guests": {"type": "checkboxes", "selected_options": [{"value": "true"}]},
    }
    return {block_id: {block_id: element} for block_id, element in values.items()}


class Observer:
    """What a refused request must leave alone, and what the person was told."""

    def __init__(self, slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> None:
        self.slack, self.emulator, self.engine = slack, emulator, engine

    def refused(self, send: Callable[[], httpx.Response], *, expect: str | None) -> list[str]:
        """Problems with one refused request (an empty list when it was refused properly)."""
        settle(self.emulator)
        before = snapshot(self.engine)
        admin_messages = len(self.emulator.messages_in(ADMIN_CHANNEL)) + len(
            self.emulator.messages_in(OTHER_ADMIN_CHANNEL)
        )
        self.emulator.reset_calls()
        response = send()
        url = self.slack.last_response_url
        if expect is not None and expect not in response.text:
            # A refusal told through response_url comes after a database read; a quiet spell alone can end
            # before it (seen on PostgreSQL), so wait for it, then for the rest to settle.
            with contextlib.suppress(AssertionError):
                wait_for(lambda: any(expect in json.dumps(p) for p in self.emulator.responses_to(url)))
        settle(self.emulator)
        problems = []
        if response.status_code != 200:
            problems.append(f"HTTP {response.status_code}")
        told = [response.text] + [json.dumps(p) for p in self.emulator.responses_to(url)]
        if expect is not None and not any(expect in t for t in told):
            problems.append(f"not told {expect[:40]!r}; told {told}")
        for secret in (SECRET_NOTE, f"{MENTOR} district", f"{MENTEE} district", "81.5"):
            if any(secret in t for t in told):
                problems.append(f"the answer leaks {secret!r}: {told}")
        visible = sorted({c.method for c in self.emulator.calls if c.method in VISIBLE_METHODS})
        if visible:
            problems.append(f"Slack calls after a refusal: {visible}")
        if len(self.emulator.messages_in(ADMIN_CHANNEL)) + len(self.emulator.messages_in(OTHER_ADMIN_CHANNEL)) != (
            admin_messages
        ):
            problems.append("something was posted to an admin channel")
        after = snapshot(self.engine)
        changed = sorted(t for t in before if before[t] != after[t])
        if changed:
            problems.append(f"database changed: {changed}")
        return problems


@pytest.fixture
def observer(slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> Observer:
    return Observer(slack, emulator, engine)


# -- (a) signatures -----------------------------------------------------------------------------------------
def captured(slack: SlackDriver, send: Callable[[], Any]) -> tuple[bytes, str]:
    """The exact body and content type the driver would send, without sending it."""
    seen: dict[str, Any] = {}
    real = slack.http.post

    def fake(url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        seen["body"], seen["type"] = content, headers["Content-Type"]
        return httpx.Response(200)

    slack.http.post = fake  # type: ignore[method-assign]
    try:
        send()
    finally:
        slack.http.post = real  # type: ignore[method-assign]
    return seen["body"], seen["type"]


def post_raw(slack: SlackDriver, body: bytes, content_type: str, headers: dict[str, str]) -> httpx.Response:
    return slack.http.post(slack.events_url, content=body, headers={"Content-Type": content_type} | headers)


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, age: int = 0) -> dict[str, str]:
    ts = str(int(time.time()) - age)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(secret, ts, body)}


def _command(slack: SlackDriver, world: World) -> tuple[Callable[[], Any], bytes, bytes]:
    send = lambda: slack.mentor(MENTEE, "pause")  # noqa: E731
    return send, b"user_id=" + MENTEE.encode(), b"user_id=" + MENTOR.encode()


def _action(slack: SlackDriver, world: World) -> tuple[Callable[[], Any], bytes, bytes]:
    send = lambda: slack.block_action(ADMIN_ID, ids.ACTION_APPROVE_PAIR, str(world.proposed_pairing_id))  # noqa: E731
    return send, ids.ACTION_APPROVE_PAIR.encode(), ids.ACTION_REJECT_PAIR.encode()


def _submission(slack: SlackDriver, world: World) -> tuple[Callable[[], Any], bytes, bytes]:
    values = intake_state(role="mentee", program_id=world.program_id)
    send = lambda: slack.view_submission(LIB, ids.INTAKE_CALLBACK, values, private_metadata='{"mode": "join"}')  # noqa: E731
    return send, b"Riverside+Unified", b"Hijacked+District"


def _event(slack: SlackDriver, world: World) -> tuple[Callable[[], Any], bytes, bytes]:
    send = lambda: slack.app_home_opened(LIB)  # noqa: E731
    return send, LIB.encode(), MENTEE.encode()


def bad_signatures(body: bytes, tampered: bytes) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Every way a request can fail verification: (body sent, headers sent) by name."""
    now = str(int(time.time()))
    return {
        "unsigned": (body, {"X-Slack-Request-Timestamp": now}),
        "no timestamp": (body, {"X-Slack-Signature": sign(SIGNING_SECRET, now, body)}),
        "wrong secret": (body, signed_headers(body, secret="0000000000wrongsecret0000")),
        "replayed 6 minutes later": (body, signed_headers(body, age=6 * 60)),
        "timestamp 6 minutes ahead": (body, signed_headers(body, age=-6 * 60)),
        "signature of another body": (tampered, signed_headers(body)),
        "v1 signature scheme": (body, signed_headers(body) | {"X-Slack-Signature": "v1=" + "0" * 64}),
        "empty signature": (body, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": ""}),
    }


REQUEST_KINDS = {"slash command": _command, "block action": _action, "view submission": _submission, "event": _event}


@pytest.mark.parametrize("kind", list(REQUEST_KINDS))
def test_unsigned_forged_replayed_and_tampered_requests_get_401_and_change_nothing(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, observer: Observer, kind: str
) -> None:
    send, original, replacement = REQUEST_KINDS[kind](slack, world)
    body, content_type = captured(slack, send)
    assert original in body, "the tamper target must be in the body"
    tampered = body.replace(original, replacement, 1)
    failures = []
    for name, (payload, headers) in bad_signatures(body, tampered).items():
        settle(emulator)
        before = snapshot(engine)
        emulator.reset_calls()
        response = post_raw(slack, payload, content_type, headers)
        settle(emulator, quiet=0.05)
        if response.status_code != 401:
            failures.append(f"{name}: HTTP {response.status_code}")
        if emulator.calls:
            failures.append(f"{name}: Slack was called: {[c.method for c in emulator.calls]}")
        if snapshot(engine) != before:
            failures.append(f"{name}: the database changed")
    assert failures == [], f"{kind}:\n" + "\n".join(failures)

    # The same request, signed as Slack signs it, does have an effect: the checks above could fail.
    before = snapshot(engine)
    emulator.reset_calls()
    response = post_raw(slack, body, content_type, signed_headers(body))
    assert response.status_code == 200
    wait_for(
        lambda: snapshot(engine) != before or emulator.calls_to("views.publish"),
        what=f"the signed {kind} to have an effect",
    )


# -- (b) the authorization matrix ----------------------------------------------------------------------------
def admin_commands(world: World) -> list[str]:
    a = world.program_name
    return [
        "program create",
        f"program edit {a}",
        "program list",
        f"match preview {a}",
        f"pair <@{MENTOR2}> <@{OUTSIDER}> {a}",
        f"unpair <@{MENTOR}> <@{MENTEE}> {a}",
        f"summary {a}",
        f"export participants {a}",
        f"export pairings {a}",
        f"export checkins {a}",
        f"export hours {a}",
        "audit",
        "audit 100",
        "help",
    ]


# A coordinator of another program may create programs, list them and read their own audit trail.
COORDINATOR_MAY = {"program create", "program list", "audit", "audit 100", "help"}


@pytest.mark.parametrize("actor", [LIB, MENTOR, MENTEE2, COORD_B])
def test_admin_commands_are_refused_to_everyone_but_coordinators(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, observer: Observer, actor: str
) -> None:
    failures = []
    for text in admin_commands(world):
        if actor == COORD_B and text in COORDINATOR_MAY:
            continue
        problems = observer.refused(lambda t=text: slack.admin(actor, t), expect=REFUSAL[:40])
        failures += [f"/mentor-admin {text}: {p}" for p in problems]
    assert failures == [], f"{actor}:\n" + "\n".join(failures)


def test_a_coordinator_of_another_program_sees_only_their_own_audit_trail(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World
) -> None:
    with session_scope(engine) as session:
        theirs = [e for e in session.exec(select(AuditEvent)) if e.program_id == world.program_id]
    assert theirs, "the world has audit events of program A"
    body = json.dumps(slack.admin(COORD_B, "audit 100").json())
    settle(emulator)
    assert world.program_name not in body
    everything = json.dumps(slack.admin(ADMIN_ID, "audit 100").json())
    assert world.program_name in everything  # the super admin does see it: the check above can fail


def test_admin_commands_work_for_the_coordinator(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World
) -> None:
    """The control for the matrix above: the same commands change things when a coordinator sends them."""
    slack.admin(ADMIN_ID, f"unpair <@{MENTOR}> <@{MENTEE}> {world.program_name}")
    with session_scope(engine) as session:
        assert session.get(Pairing, world.active_pairing_id).status == "dissolved"
    slack.admin(ADMIN_ID, f"export checkins {world.program_name}")
    wait_for(lambda: emulator.uploaded_files, what="a coordinator's export to be uploaded")


def admin_buttons(world: World) -> list[tuple[str, str]]:
    override = json.dumps({"program_id": world.program_id, "mentor": MENTOR2, "mentee": OUTSIDER})
    return [
        (ids.ACTION_APPROVE_ALL, str(world.program_id)),
        (ids.ACTION_APPROVE_PAIR, str(world.proposed_pairing_id)),
        (ids.ACTION_REJECT_PAIR, str(world.proposed_pairing_id)),
        (ids.ACTION_DISSOLVE_PAIR, str(world.active_pairing_id)),
        (ids.ACTION_DISSOLVE_PAIR, str(world.proposed_pairing_id)),
        (ids.ACTION_OVERRIDE_PAIR, override),
    ]


def test_every_admin_button_refuses_non_coordinators_whatever_the_payload(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, observer: Observer
) -> None:
    assert {a for a, _ in admin_buttons(world)} == {
        ids.ACTION_APPROVE_ALL,
        ids.ACTION_APPROVE_PAIR,
        ids.ACTION_REJECT_PAIR,
        ids.ACTION_OVERRIDE_PAIR,
        ids.ACTION_DISSOLVE_PAIR,
    }
    failures = []
    for actor in (LIB, MENTOR2, MENTEE, COORD_B):  # MENTOR2 would approve their own pairing
        for action_id, value in admin_buttons(world):
            # Replayed in the admin channel itself, and (for one actor) from a DM.
            for channel in (ADMIN_CHANNEL, None) if actor == MENTOR2 else (ADMIN_CHANNEL,):
                problems = observer.refused(
                    lambda u=actor, a=action_id, v=value, c=channel: slack.block_action(u, a, v, channel_id=c),
                    expect=REFUSAL[:40],
                )
                failures += [f"{actor} {action_id}={value} in {channel}: {p}" for p in problems]
    assert failures == [], "\n".join(failures)

    # The control: the coordinator's click approves the proposed pairing.
    slack.block_action(ADMIN_ID, ids.ACTION_APPROVE_PAIR, str(world.proposed_pairing_id), channel_id=ADMIN_CHANNEL)
    settle(emulator)
    with session_scope(engine) as session:
        assert session.get(Pairing, world.proposed_pairing_id).approved_at is not None


def test_the_program_modal_refuses_non_coordinators(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, observer: Observer
) -> None:
    failures = []
    cases = [(actor, None) for actor in (LIB, MENTOR)] + [
        (actor, pid) for actor in (LIB, MENTOR, COORD_B) for pid in (world.program_id,)
    ]
    for n, (actor, program_id) in enumerate(cases):
        problems = observer.refused(
            lambda a=actor, p=program_id, n=n: slack.view_submission(
                a,
                ids.PROGRAM_CALLBACK,
                program_state(world.program_name if p else "Hijack"),
                private_metadata=json.dumps({"program_id": p}),
                view_hash=f"forged.{n}",
            ),
            expect=REFUSAL[:40],
        )
        failures += [f"{actor} {'edit' if program_id else 'create'}: {p}" for p in problems]
    assert failures == [], "\n".join(failures)

    # The control: the coordinator's identical submission is saved.
    slack.view_submission(
        ADMIN_ID,
        ids.PROGRAM_CALLBACK,
        program_state(world.program_name),
        private_metadata=json.dumps({"program_id": world.program_id}),
        view_hash="admin.1",
    )
    with session_scope(engine) as session:
        assert session.get(Program, world.program_id).default_cadence == "weekly"


@pytest.fixture
def running(clock: FixedClock) -> None:
    clock.set(MAR_20)


def test_a_participant_cannot_act_on_a_pairing_they_are_not_in(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, observer: Observer, running: None
) -> None:
    pid = str(world.active_pairing_id)
    meta = json.dumps({"pairing_id": world.active_pairing_id})
    # The mentor proposed and the mentee has yet to accept, so an Accept that got through would show.
    with session_scope(engine, write=True) as session:
        agreement = session.exec(select(Agreement)).one()
        agreement.proposed_by, agreement.mentor_accepted_at = MENTOR, agreement.mentee_accepted_at
        agreement.mentee_accepted_at = None
        session.add(agreement)
        shown = Terms.of(agreement).fingerprint
    failures = []
    for n, actor in enumerate((OUTSIDER, MENTEE2, LIB)):  # enrolled alone, in another pair, not enrolled
        requests: dict[str, Callable[[], httpx.Response]] = {
            # The Accept button's own value: a bare pairing id would only meet "those terms have changed".
            "accept the agreement": lambda a=actor: slack.block_action(
                a, ids.ACTION_ACCEPT_AGREEMENT, f"{pid}:{shown}"
            ),
            "open the agreement": lambda a=actor: slack.block_action(a, ids.ACTION_OPEN_AGREEMENT, pid),
            "change the agreement": lambda a=actor: slack.block_action(a, ids.ACTION_CHANGE_AGREEMENT, pid),
            "open the check-in modal": lambda a=actor: slack.block_action(a, ids.ACTION_WE_MET, pid),
            "say not yet": lambda a=actor: slack.block_action(a, ids.ACTION_NOT_YET, pid),
            "ask for help": lambda a=actor: slack.block_action(a, ids.ACTION_NEED_HELP, pid),
            "open the survey": lambda a=actor: slack.block_action(a, ids.ACTION_SURVEY, pid),
            "propose terms": lambda a=actor, n=n: slack.view_submission(
                a, ids.AGREEMENT_CALLBACK, agreement_state(), private_metadata=meta, view_hash=f"a.{n}"
            ),
            "log a check-in (metadata)": lambda a=actor, n=n: slack.view_submission(
                a, ids.CHECKIN_CALLBACK, checkin_state(note="forged"), private_metadata=meta, view_hash=f"c.{n}"
            ),
            "log a check-in (picker)": lambda a=actor, n=n: slack.view_submission(
                a,
                ids.CHECKIN_CALLBACK,
                checkin_state()
                | {"pairing_id": {"pairing_id": {"type": "static_select", "selected_option": {"value": pid}}}},
                private_metadata="{}",
                view_hash=f"p.{n}",
            ),
            "answer the survey": lambda a=actor, n=n: slack.view_submission(
                a, ids.SURVEY_CALLBACK, survey_state(), private_metadata=meta, view_hash=f"s.{n}"
            ),
            "read the notes": lambda a=actor: slack.mentor(a, "checkins"),
        }
        for what, send in requests.items():
            failures += [f"{actor} {what}: {p}" for p in observer.refused(send, expect=None)]
    assert failures == [], "\n".join(failures)

    # The controls: the pair's own requests go through (Accept carries the terms it was shown).
    slack.block_action(MENTEE, ids.ACTION_ACCEPT_AGREEMENT, f"{pid}:{shown}")
    settle(emulator)
    slack.view_submission(MENTEE, ids.CHECKIN_CALLBACK, checkin_state(), private_metadata=meta, view_hash="own.1")
    slack.view_submission(MENTEE, ids.SURVEY_CALLBACK, survey_state(), private_metadata=meta, view_hash="own.2")
    with session_scope(engine) as session:
        assert session.get(Pairing, world.active_pairing_id).status == "active"
        assert session.exec(select(Agreement)).one().mentee_accepted_at is not None
        assert len(session.exec(select(CheckIn)).all()) == 2
        assert len(session.exec(select(SurveyResponse)).all()) == 1


def test_a_dissolved_pairing_takes_nothing_more_from_its_former_members(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, observer: Observer, running: None
) -> None:
    """Once a coordinator unpairs them, an old Accept button or check-in modal must not revive the pairing."""
    pid, meta = str(world.active_pairing_id), json.dumps({"pairing_id": world.active_pairing_id})
    with session_scope(engine) as session:
        agreement = session.exec(select(Agreement)).one()
        assert agreement.mentor_accepted_at is None, "the mentor's Accept would change something"
        shown = Terms.of(agreement).fingerprint
    slack.admin(ADMIN_ID, f"unpair <@{MENTOR}> <@{MENTEE}> {world.program_name}")
    settle(emulator)
    with session_scope(engine) as session:
        assert session.get(Pairing, world.active_pairing_id).status == "dissolved"
    requests: dict[str, Callable[[], httpx.Response]] = {
        "mentor accepts the agreement": lambda: slack.block_action(
            MENTOR, ids.ACTION_ACCEPT_AGREEMENT, f"{pid}:{shown}"
        ),
        "mentee logs a check-in": lambda: slack.view_submission(
            MENTEE, ids.CHECKIN_CALLBACK, checkin_state(note="after the end"), private_metadata=meta, view_hash="d.1"
        ),
        "mentor logs a check-in": lambda: slack.view_submission(
            MENTOR, ids.CHECKIN_CALLBACK, checkin_state("2025-03-13"), private_metadata=meta, view_hash="d.2"
        ),
    }
    failures = [f"{what}: {p}" for what, send in requests.items() for p in observer.refused(send, expect=None)]
    assert failures == [], "\n".join(failures)


def test_refusals_say_so_instead_of_failing_silently(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, world: World, running: None
) -> None:
    """An outsider's forged check-in or agreement gets an inline error; a button gets a private reply."""
    meta = json.dumps({"pairing_id": world.active_pairing_id})
    body = slack.view_submission(OUTSIDER, ids.CHECKIN_CALLBACK, checkin_state(), private_metadata=meta).json()
    assert body["response_action"] == "errors" and "another pair" in json.dumps(body["errors"])
    slack.block_action(OUTSIDER, ids.ACTION_ACCEPT_AGREEMENT, str(world.active_pairing_id))
    settle(emulator)
    replies = emulator.responses_to(slack.last_response_url)
    assert replies and "another pair" in replies[-1]["text"]
    notes = slack.mentor(OUTSIDER, "checkins").json()
    assert SECRET_NOTE not in json.dumps(notes) and notes.get("text")


# -- (c) secrets ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["INFO", "DEBUG"])
def app_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The root level as `shelfmate run` sets it from LOG_LEVEL (INFO by default); other loggers inherit it."""
    caplog.set_level(request.param)
    return caplog


# httpx/httpcore are only the test driver's client; every other record comes from the app and its libraries.
TEST_SIDE_LOGGERS = ("httpx", "httpcore")


def all_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in caplog.records if not record.name.startswith(TEST_SIDE_LOGGERS)]


def leaks(lines: list[str], secrets: dict[str, str]) -> list[str]:
    """One line per secret found: which secret and the first log line (cut short) that holds it."""
    found = []
    for label, secret in secrets.items():
        hits = [line for line in lines if secret in line]
        if hits:
            at = hits[0].find(secret)
            found.append(f"{label} in {len(hits)} log records, e.g. ...{hits[0][max(0, at - 160) : at + 40]!r}")
    return found


def test_tokens_secrets_and_private_notes_never_reach_the_logs(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    clock: FixedClock,
    app_logs: pytest.LogCaptureFixture,
) -> None:
    fresh_note = "PRIVATE-9c1e: we talked about my mental health"
    # Join, with Slack failing once on the way.
    emulator.fail("chat.postMessage", status=500)
    slack.mentor(LIB, "join")
    view = wait_for(lambda: emulator.calls_to("views.open"), what="the join modal")[-1].arg("view")
    slack.view_submission(LIB, view["callback_id"], intake_state(), private_metadata=view["private_metadata"])
    # A meeting with a private note, confirmed to the pair while Slack answers with an error.
    clock.set(MAR_20)
    meta = json.dumps({"pairing_id": world.active_pairing_id})
    emulator.fail("chat.postMessage", error="channel_not_found")
    emulator.fail("conversations.open", status=500)
    slack.view_submission(MENTEE, ids.CHECKIN_CALLBACK, checkin_state(note=fresh_note), private_metadata=meta)
    slack.view_submission(
        MENTOR, ids.CHECKIN_CALLBACK, checkin_state("2025-03-13", note=fresh_note), private_metadata=meta, retry_num=1
    )
    # The pair reads notes back; a forged check-in carries a note too.
    assert fresh_note in json.dumps(slack.mentor(MENTEE, "checkins").json())
    slack.view_submission(OUTSIDER, ids.CHECKIN_CALLBACK, checkin_state(note=fresh_note), private_metadata=meta)
    # Coordinators' summaries and exports: counts and ratings, never notes.
    settle(emulator)
    emulator.clear_faults()
    slack.admin(ADMIN_ID, f"summary {world.program_name}")
    slack.admin(ADMIN_ID, f"export checkins {world.program_name}")
    settle(emulator)
    wait_for(lambda: emulator.uploaded_files, what="the export to be uploaded")
    # A button whose handler meets an odd value.
    slack.block_action(ADMIN_ID, ids.ACTION_APPROVE_ALL, "not-a-number")
    settle(emulator)

    with session_scope(engine) as session:
        assert any(c.private_note == fresh_note for c in session.exec(select(CheckIn)))  # it was really stored
    logged = all_logged(app_logs)
    assert any("could not" in line for line in logged), "the app's warnings were captured"
    secrets = {"bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET, "stored note": SECRET_NOTE}
    secrets["new note"] = fresh_note.split(":")[0]
    assert leaks(logged, secrets) == []
    for upload in emulator.uploaded_files:
        content = upload.content.decode("utf-8", "replace")
        assert fresh_note not in content and SECRET_NOTE not in content, f"{upload.filename} holds a private note"
    shown = json.dumps(emulator.messages_in(ADMIN_CHANNEL))
    assert "meeting" in shown.lower() or "pair" in shown.lower(), "the summary reached the admin channel"
    assert SECRET_NOTE not in shown and fresh_note not in shown, "a private note reached the coordinators"


def test_a_rejected_check_in_never_writes_its_private_note_to_the_logs(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    world: World,
    running: None,
    app_logs: pytest.LogCaptureFixture,
) -> None:
    """Bolt logs a request that fails verification, and a stale or forged check-in carries a private note."""
    marker, pasted_token = "PRIVATE-NOTE-4b7d", "xoxp-2718281828-pasted-by-mistake"
    note = f"{marker}: my manager and I are not speaking (I pasted {pasted_token} here)"
    meta = json.dumps({"pairing_id": world.active_pairing_id})
    body, content_type = captured(
        slack,
        lambda: slack.view_submission(MENTEE, ids.CHECKIN_CALLBACK, checkin_state(note=note), private_metadata=meta),
    )
    assert quote_plus(note).encode() in body, "the note travels in the body, so a logged body would show it"
    tampered = body.replace(b"2025-03-12", b"2025-03-11", 1)
    let_through = []
    for name, (sent, headers) in bad_signatures(body, tampered).items():
        if post_raw(slack, sent, content_type, headers).status_code != 401:
            let_through.append(name)
    settle(emulator)
    assert let_through == [], "every bad signature still gets a 401"

    logged = all_logged(app_logs)
    assert any("invalid request signature" in line.lower() for line in logged), "the rejections were logged"
    secrets = {"private note": marker, "url-encoded note": quote_plus(note), "pasted token": pasted_token}
    secrets |= {"bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET}
    assert leaks(logged, secrets) == []
    # The control: the same check-in, signed as Slack signs it, is stored with its note.
    assert post_raw(slack, body, content_type, signed_headers(body)).status_code == 200
    settle(emulator)
    with session_scope(engine) as session:
        assert [c.private_note for c in session.exec(select(CheckIn)) if c.private_note == note] == [note]


def test_a_failed_auth_test_does_not_quote_the_token(
    slack: SlackDriver, emulator: SlackEmulator, world: World, app_logs: pytest.LogCaptureFixture
) -> None:
    emulator.fail("auth.test", error="invalid_auth")
    response = slack.mentor(LIB, "status")
    settle(emulator)
    assert BOT_TOKEN not in response.text
    assert emulator.calls_to("auth.test"), "the failing auth.test really happened"
    assert leaks(all_logged(app_logs), {"bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET}) == []


def test_settings_never_print_secrets(settings: Any) -> None:
    shown = f"{settings} {settings!r} {[settings]}"
    assert BOT_TOKEN not in shown and SIGNING_SECRET not in shown


def test_a_database_error_never_carries_the_values_it_was_writing(engine: Engine) -> None:
    """Errors are logged; a failed write's message must not hold the private note it tried to store."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as failure, session_scope(engine, write=True) as session:
        session.add(
            CheckIn(
                pairing_id=999_999, logged_by="U0X", met_on=date(2025, 3, 3), duration_minutes=30,
                private_note="SECRET-NOTE-in-a-failed-write", idempotency_key="k",
            )
        )  # fmt: skip
    assert "SECRET-NOTE" not in str(failure.value)

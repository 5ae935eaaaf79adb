"""Retries and double clicks: one request delivered 4 times at once has one effect, and says so once.

Slack resends a request it got no answer for within 3 s (X-Slack-Retry-Num 1, 2, 3) while the first copy
may still be running, and a double click sends two copies a few milliseconds apart. Each case sends the
same signed body 4 times concurrently and checks what people would notice: one row, one audit event, one
message to others, a modal that closes for every copy, and answers that never show an error or report a
change twice (a repeat may answer that nothing changed, or restate the same outcome).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.services import pairing as pairing_service
from bot.services import surveys
from bot.services.agreements import Terms
from storage import queries
from storage.engine import session_scope
from storage.models import (
    Agreement,
    AuditEvent,
    CheckIn,
    Delivery,
    Enrollment,
    Pairing,
    Person,
    Program,
    SurveyResponse,
)
from tests.app_server import AppServer
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, intake_state, make_program, program_modal_state
from tests.polling import wait_for
from tests.slack_driver import SlackDriver, interactive_envelope, view_submission_payload
from tests.slack_emulator import SlackEmulator
from tests.test_pairs import agreement_state, checkin_state
from tests.test_participants import opened_view
from tests.test_programs_and_matching import GOOD_PROGRAM

RETRY_NUMS = (None, 1, 2, 3)  # the first delivery, then Slack's retries of it
MENTOR, MENTEE, LIB = "U0MENTOR1", "U0MENTEE1", "U0LIB0001"
ADMIN_CHANNEL = "C0ADMINS01"  # the PLSEP program's admin channel (tests.factories)
LA = "America/Los_Angeles"


@dataclass
class World:
    slack: SlackDriver
    emulator: SlackEmulator
    engine: Engine
    clock: FixedClock
    monkeypatch: pytest.MonkeyPatch


@dataclass
class Delivered:
    responses: list[httpx.Response]
    response_url: str | None


# -- sending one request 4 times at once -------------------------------------------------------------------
def deliver(world: World, *, payload: dict[str, Any] | None = None, form: dict[str, str] | None = None) -> Delivered:
    """Post the same signed body once per RETRY_NUMS, all at the same moment, and wait for the work after acks."""
    body = urlencode({"payload": json.dumps(payload)} if payload is not None else form or {}).encode()
    start = threading.Barrier(len(RETRY_NUMS))

    def send(retry_num: int | None) -> httpx.Response:
        start.wait()
        return world.slack.post(body, "application/x-www-form-urlencoded", retry_num=retry_num)

    with ThreadPoolExecutor(max_workers=len(RETRY_NUMS)) as pool:
        responses = list(pool.map(send, RETRY_NUMS))
    assert [r.status_code for r in responses] == [200] * len(RETRY_NUMS), [r.text for r in responses]
    wait_for(lambda: AppServer.listeners_running() == 0, timeout=20, what="listeners to finish")
    world.emulator.wait_idle()
    source = payload if payload is not None else form or {}
    return Delivered(responses, source.get("response_url"))


def action(
    world: World, user_id: str, action_id: str, value: str, channel_id: str = "D0DM", *, on_home: bool = False
) -> dict[str, Any]:
    """A button click as Slack sends it (one trigger id, one response_url), built once so copies are identical."""
    ts = f"{world.clock.now().timestamp():.6f}"
    payload = interactive_envelope(user_id, world.emulator.issue_trigger_id()) | {
        "type": "block_actions",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "actions", "value": value, "action_ts": ts}],
    }
    if on_home:  # no response_url: there is no message to answer on the Home tab
        return payload | {"container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"}}
    message = {"type": "message", "ts": "1700000000.000100", "text": ""}
    container = {"type": "message", "message_ts": message["ts"], "channel_id": channel_id, "is_ephemeral": False}
    return payload | {
        "response_url": world.emulator.new_response_url(),
        "container": container,
        "channel": {"id": channel_id, "name": "x"},
        "message": message,
    }


def submission(world: World, user_id: str, callback_id: str, values: Any, metadata: Any) -> dict[str, Any]:
    """A modal's Submit as Slack sends it: a retry or a double submit carries the same view id and hash."""
    envelope = interactive_envelope(user_id, world.emulator.issue_trigger_id())
    private_metadata = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return view_submission_payload(
        envelope, callback_id, values, private_metadata, view_id="V0RETRY01", view_hash="1700000000.retry"
    )


def copies_meet_inside_the_transaction(world: World, module: Any, name: str) -> None:
    """Each copy's call of `module.name` waits, before its transaction commits, until every copy has made it.

    The worst interleaving four workers can produce: all have read before any commits. Without it a race
    that spans one short transaction shows up only now and then. A copy kept out (SQLite runs one write at
    a time; a row lock) waits at most a second, then goes on.
    """
    original = getattr(module, name)
    meeting = threading.Barrier(len(RETRY_NUMS), timeout=1)

    def met(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait()
        return result

    world.monkeypatch.setattr(module, name, met)


# -- what people see ---------------------------------------------------------------------------------------
def modal_closed_for_every_copy(delivered: Delivered) -> None:
    """Slack shows whichever copy's answer it took: each must close the modal, none may show an error."""
    assert [r.content for r in delivered.responses if r.content not in (b"", b"{}")] == []


def answers(world: World, delivered: Delivered) -> list[str]:
    """The answers the person sees: a command's replies, and messages posted to the response_url.

    Answers that replace the original message are one message, showing whichever landed last: they must
    agree, or the person sees a different outcome depending on timing.
    """
    seen = [r.json()["text"] for r in delivered.responses if r.content not in (b"", b"{}")]
    posted = world.emulator.responses_to(delivered.response_url) if delivered.response_url else []
    replacing = {p.get("text", "") for p in posted if p.get("replace_original")}
    assert len(replacing) <= 1, f"the message ends as one of {replacing}, whichever copy answered last"
    return seen + sorted(replacing) + [p.get("text", "") for p in posted if not p.get("replace_original")]


def answered_once(seen: list[str], once: str | None, again: tuple[str, ...] = ()) -> None:
    """`once` (the outcome) is said exactly once; every other answer is one of `again` (nothing changed)."""
    assert seen, "the person was told nothing"
    if once is not None:
        assert sum(once in text for text in seen) == 1, seen
    others = [text for text in seen if once is None or once not in text]
    assert [text for text in others if not any(a in text for a in again)] == [], seen


def audited(engine: Engine, action_name: str) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == action_name)).all())


def rows(engine: Engine, model: Any) -> list[Any]:
    with session_scope(engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


def posted_with(emulator: SlackEmulator, words: str) -> list[dict[str, Any]]:
    """Messages the bot posted (anywhere) whose text or blocks contain `words`."""
    messages = [c.decoded_args for c in emulator.calls_to("chat.postMessage") if c.ok]
    return [m for m in messages if words in str(m.get("text", "")) + block_texts(m.get("blocks") or [])]


# -- people and pairs --------------------------------------------------------------------------------------
def enroll(engine: Engine, emulator: SlackEmulator, program_id: int, people: dict[str, str], org: str = "") -> None:
    """user id -> role, enrolled as `applied`; each in their own organization unless `org` is given."""
    with session_scope(engine, write=True) as session:
        for uid, role in people.items():
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone=LA))
            session.flush()
            session.add(
                Enrollment(
                    program_id=program_id, person_id=uid, role=role, library_type="school",
                    organization=org or f"{uid} district", specializations=["school_instruction"],
                    years_experience=10 if role == "mentor" else 1, capacity=2 if role == "mentor" else 0,
                )
            )  # fmt: skip


def pair(world: World, status: str = "introduced") -> int:
    """MENTOR and MENTEE, paired in PLSEP (admin channel ADMIN_CHANNEL); returns the pairing id."""
    program = make_program(world.engine)
    world.emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    enroll(world.engine, world.emulator, program.id, {MENTOR: "mentor", MENTEE: "mentee"})
    with session_scope(world.engine, write=True) as session:
        now = datetime(2025, 2, 20, 18, tzinfo=UTC)
        pairing = pairing_service.pair_by_hand_once(
            session, session.get(Program, program.id), MENTOR, MENTEE, ADMIN_ID, now, override=True
        )
        pairing.status = status
        session.add(pairing)
        session.flush()
        return pairing.id


def proposals(world: World, count: int) -> int:
    """`count` mentor/mentee proposals awaiting approval, as a match preview leaves them; returns the program id."""
    program = make_program(world.engine)
    people = {f"U0MENTOR{i}": "mentor" for i in range(count)} | {f"U0MENTEE{i}": "mentee" for i in range(count)}
    enroll(world.engine, world.emulator, program.id, people)
    with session_scope(world.engine, write=True) as session:
        by_person = {e.person_id: e.id for e in session.exec(select(Enrollment))}
        for i in range(count):
            session.add(
                Pairing(
                    program_id=program.id, mentor_enrollment_id=by_person[f"U0MENTOR{i}"],
                    mentee_enrollment_id=by_person[f"U0MENTEE{i}"], status="proposed", score=50.0 + i,
                )
            )  # fmt: skip
    return program.id


# -- the interactions ----------------------------------------------------------------------------------------
def intake(world: World) -> None:
    make_program(world.engine)
    world.emulator.add_user(LIB, name="dana", tz=LA)
    world.slack.mentor(LIB, "join mentee")
    view = opened_view(world.emulator)
    delivered = deliver(
        world, payload=submission(world, LIB, view["callback_id"], intake_state(), view["private_metadata"])
    )
    modal_closed_for_every_copy(delivered)
    assert [(e.person_id, e.role) for e in rows(world.engine, Enrollment)] == [(LIB, "mentee")]
    assert len([m for m in world.emulator.messages_in(LIB) if "Thanks for applying" in m["text"]]) == 1


def checkin(world: World) -> None:
    world.clock.set(datetime(2025, 3, 12, 18, tzinfo=UTC))
    pairing_id = pair(world)
    state = checkin_state("2025-03-10", note="budget worries")
    delivered = deliver(
        world, payload=submission(world, MENTEE, "shelfmate_checkin", state, {"pairing_id": pairing_id})
    )
    modal_closed_for_every_copy(delivered)
    assert [c.met_on.isoformat() for c in rows(world.engine, CheckIn)] == ["2025-03-10"]
    assert len(posted_with(world.emulator, "logged your meeting on Mar 10")) == 1


def propose(world: World) -> None:
    pairing_id = pair(world)
    payload = submission(world, MENTEE, "shelfmate_agreement", agreement_state(), {"pairing_id": pairing_id})
    modal_closed_for_every_copy(deliver(world, payload=payload))
    [agreement] = rows(world.engine, Agreement)
    assert (agreement.cadence, agreement.proposed_by) == ("biweekly", MENTEE)
    assert len(posted_with(world.emulator, f"<@{MENTOR}>, does this work")) == 1


def accept(world: World) -> None:
    pairing_id = pair(world)
    now = datetime(2025, 1, 15, tzinfo=UTC)
    with session_scope(world.engine, write=True) as session:
        proposal = Agreement(pairing_id=pairing_id, cadence="biweekly", proposed_by=MENTEE, mentee_accepted_at=now)
        session.add(proposal)
        fingerprint = Terms.of(proposal).fingerprint
    delivered = deliver(
        world, payload=action(world, MENTOR, "shelfmate_accept_agreement", f"{pairing_id}:{fingerprint}")
    )
    assert rows(world.engine, Pairing)[0].status == "active"
    assert len(posted_with(world.emulator, "Agreement settled")) == 1
    answered_once(answers(world, delivered), None, again=("already accepted",))


def one_delivery_from_a_button(world: World, user_id: str, action_id: str, kind: str, answer: str) -> None:
    """A pair's button that queues one message: queued once; the clicker may be told the same again."""
    world.clock.set(datetime(2025, 3, 26, 18, tzinfo=UTC))
    pairing_id = pair(world, status="active")
    delivered = deliver(world, payload=action(world, user_id, action_id, str(pairing_id)))
    assert [d.kind for d in rows(world.engine, Delivery)] == [kind]
    answered_once(answers(world, delivered), None, again=(answer,))


def need_help(world: World) -> None:
    one_delivery_from_a_button(
        world, MENTOR, "shelfmate_need_help", "help_request", "let your program coordinators know"
    )


def not_yet(world: World) -> None:
    one_delivery_from_a_button(world, MENTEE, "shelfmate_not_yet", "did_you_meet_again", "I'll ask again in a few days")


def survey(world: World) -> None:
    pairing_id = pair(world, status="active")
    values = {
        "satisfaction": {"satisfaction": {"type": "static_select", "selected_option": {"value": "5"}}},
        "would_continue": {"would_continue": {"type": "radio_buttons", "selected_option": {"value": "yes"}}},
        "still_in_libraries": {"still_in_libraries": {"type": "radio_buttons", "selected_option": {"value": "no"}}},
    }
    copies_meet_inside_the_transaction(world, surveys, "save_response")
    delivered = deliver(
        world, payload=submission(world, MENTEE, "shelfmate_survey", values, {"pairing_id": pairing_id})
    )
    modal_closed_for_every_copy(delivered)
    assert [(s.person_id, s.satisfaction) for s in rows(world.engine, SurveyResponse)] == [(MENTEE, 5)]


def program_create(world: World) -> None:
    payload = submission(
        world, ADMIN_ID, "shelfmate_program", program_modal_state(**GOOD_PROGRAM), {"program_id": None}
    )
    modal_closed_for_every_copy(deliver(world, payload=payload))
    assert [p.name for p in rows(world.engine, Program)] == ["School Librarians 2025"]
    assert audited(world.engine, "program.create") == 1
    assert len([m for m in world.emulator.messages_in(ADMIN_ID) if "Saved *School" in m["text"]]) == 1


def program_edit(world: World) -> None:
    program = make_program(world.engine)
    values = program_modal_state(**(GOOD_PROGRAM | {"name": program.name, "cross_org": "require"}))
    modal_closed_for_every_copy(
        deliver(world, payload=submission(world, ADMIN_ID, "shelfmate_program", values, {"program_id": program.id}))
    )
    assert [(p.name, p.cross_org) for p in rows(world.engine, Program)] == [(program.name, "require")]
    assert audited(world.engine, "program.edit") == 1
    assert len([m for m in world.emulator.messages_in(ADMIN_ID) if "Saved *PLSEP" in m["text"]]) == 1


def hand_pair(world: World) -> None:
    program = make_program(world.engine)
    enroll(world.engine, world.emulator, program.id, {MENTOR: "mentor", MENTEE: "mentee"})
    form = world.slack.command_body(ADMIN_ID, "/mentor-admin", f"pair <@{MENTOR}|m> <@{MENTEE}|e>")
    delivered = deliver(world, form=form)
    [pairing] = rows(world.engine, Pairing)
    assert pairing.approved_at is not None and pairing.decided_by == ADMIN_ID
    assert audited(world.engine, "pairing.hand_pair") == 1
    answered_once(answers(world, delivered), f"Paired <@{MENTOR}> with <@{MENTEE}>", again=("already paired",))


def override(world: World) -> None:
    program = make_program(world.engine, cross_org="require")
    enroll(world.engine, world.emulator, program.id, {MENTOR: "mentor", MENTEE: "mentee"}, org="Riverside USD")
    value = json.dumps({"program_id": program.id, "mentor": MENTOR, "mentee": MENTEE})
    delivered = deliver(world, payload=action(world, ADMIN_ID, "shelfmate_override_pair", value, "C0GENERAL"))
    [pairing] = rows(world.engine, Pairing)
    assert pairing.approved_at is not None and "despite" in pairing.reasons[0]
    assert audited(world.engine, "pairing.hand_pair") == 1
    answered_once(answers(world, delivered), "(rule overridden)")


def approve(world: World) -> None:
    proposals(world, 1)
    [proposal] = rows(world.engine, Pairing)
    delivered = deliver(
        world, payload=action(world, ADMIN_ID, "shelfmate_approve_pair", str(proposal.id), ADMIN_CHANNEL)
    )
    assert rows(world.engine, Pairing)[0].approved_at is not None
    assert audited(world.engine, "pairing.approve") == 1
    answered_once(
        answers(world, delivered),
        "approved <@U0MENTOR0> mentoring <@U0MENTEE0>",
        again=("already decided; nothing changed",),
    )


def approve_all(world: World) -> None:
    program_id = proposals(world, 2)
    delivered = deliver(world, payload=action(world, ADMIN_ID, "shelfmate_approve_all", str(program_id), ADMIN_CHANNEL))
    assert all(p.approved_at is not None for p in rows(world.engine, Pairing))
    # One audit line for the whole press ("approved 2 pairs"), not one a pair, and not one a retry.
    assert (audited(world.engine, "pairing.approve_all"), audited(world.engine, "pairing.approve")) == (1, 0)
    answered_once(answers(world, delivered), "approved 2 pairs", again=("Nothing left to approve",))


def reject(world: World) -> None:
    proposals(world, 1)
    [proposal] = rows(world.engine, Pairing)
    payload = action(world, ADMIN_ID, "shelfmate_reject_pair", str(proposal.id), ADMIN_CHANNEL)
    delivered = deliver(world, payload=payload)
    assert rows(world.engine, Pairing)[0].status == "dissolved"
    assert audited(world.engine, "pairing.reject") == 1
    answered_once(
        answers(world, delivered),
        "rejected <@U0MENTOR0> mentoring <@U0MENTEE0>",
        again=("already decided; nothing changed",),
    )


def dissolve(world: World) -> None:
    pairing_id = pair(world, status="active")
    delivered = deliver(
        world, payload=action(world, ADMIN_ID, "shelfmate_dissolve_pair", str(pairing_id), ADMIN_CHANNEL)
    )
    assert rows(world.engine, Pairing)[0].status == "dissolved"
    assert {e.status for e in rows(world.engine, Enrollment)} == {"applied"}
    assert audited(world.engine, "pairing.dissolve") == 1
    answered_once(
        answers(world, delivered),
        f"dissolved the pairing of <@{MENTOR}> and <@{MENTEE}>: both are back in the pool",
        again=("already ended",),
    )


def leave(world: World) -> None:
    pair(world, status="active")
    delivered = deliver(world, payload=action(world, MENTEE, "shelfmate_leave_confirm", "leave", "C0GENERAL"))
    assert [(e.person_id, e.status) for e in rows(world.engine, Enrollment)] == [
        (MENTOR, "applied"),
        (MENTEE, "withdrawn"),
    ]
    assert len([m for m in world.emulator.messages_in(MENTOR) if "has had to leave" in m["text"]]) == 1
    assert len([m for m in world.emulator.messages_in(ADMIN_CHANNEL) if f"because <@{MENTEE}> left" in m["text"]]) == 1
    answered_once(answers(world, delivered), None, again=("You've left mentoring",))


def pause(world: World) -> None:
    program = make_program(world.engine)
    enroll(world.engine, world.emulator, program.id, {LIB: "mentee"})
    delivered = deliver(world, payload=action(world, LIB, "shelfmate_pause", "pause", on_home=True))
    [enrollment] = rows(world.engine, Enrollment)
    assert (enrollment.status, enrollment.status_before_pause) == ("paused", "applied")
    homes = [c.arg("view") for c in world.emulator.calls_to("views.publish") if c.arg("user_id") == LIB]
    assert homes and all("Paused" in block_texts(home["blocks"]) for home in homes)
    assert answers(world, delivered) == [] and world.emulator.messages_in(LIB) == []


CASES = [
    pytest.param(intake),
    pytest.param(checkin),
    pytest.param(propose),
    pytest.param(accept),
    pytest.param(need_help),
    pytest.param(not_yet),
    pytest.param(survey),
    pytest.param(program_create),
    pytest.param(program_edit),
    pytest.param(hand_pair),
    pytest.param(override),
    pytest.param(approve),
    pytest.param(reject),
    pytest.param(approve_all),
    pytest.param(dissolve),
    pytest.param(leave),
    pytest.param(pause),
]


@pytest.fixture
def world(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> World:
    return World(slack, emulator, engine, clock, monkeypatch)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_the_same_request_delivered_four_times_at_once_has_one_effect(
    case: Callable[[World], None], world: World
) -> None:
    case(world)


def test_a_meeting_logged_while_the_coordinator_dissolves_the_pair_fails_for_no_one(world: World) -> None:
    """Two different writers on one pairing: the check-in locks the pairing, then queues a message for its
    program; the dissolve locks the program, then updates the pairing. Held at once (each waits, after taking
    its lock, until the other has taken its own), they must not deadlock on PostgreSQL."""
    slack, emulator, engine = world.slack, world.emulator, world.engine
    world.clock.set(datetime(2025, 3, 12, 18, tzinfo=UTC))
    pairing_id = pair(world)
    both_locked = threading.Barrier(2, timeout=1)

    def then_wait(lock: Callable[..., None]) -> Callable[..., None]:
        def locked(*args: Any) -> None:
            lock(*args)
            with contextlib.suppress(threading.BrokenBarrierError):  # SQLite: the other waits to write at all
                both_locked.wait()

        return locked

    world.monkeypatch.setattr(queries, "lock_pairing", then_wait(queries.lock_pairing))
    world.monkeypatch.setattr(queries, "lock_program", then_wait(queries.lock_program))
    meeting = submission(world, MENTEE, "shelfmate_checkin", checkin_state("2025-03-10"), {"pairing_id": pairing_id})
    dissolving = action(world, ADMIN_ID, "shelfmate_dissolve_pair", str(pairing_id), ADMIN_CHANNEL)
    bodies = [urlencode({"payload": json.dumps(p)}).encode() for p in (meeting, dissolving)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda b: slack.post(b, "application/x-www-form-urlencoded"), bodies))
    wait_for(lambda: AppServer.listeners_running() == 0, timeout=20, what="listeners to finish")
    emulator.wait_idle()

    assert [r.status_code for r in responses] == [200, 200]
    saved = responses[0].content in (b"", b"{}")  # the meeting was saved: the modal closes
    if engine.dialect.name == "postgresql":
        assert saved, responses[0].text  # both held their locks at once: the check-in's came first
    else:  # SQLite writes one at a time, in either order: a check-in after the dissolve is refused in its modal
        assert saved or "errors" in responses[0].json(), responses[0].text
    posts = [c.args for c in emulator.calls if c.method in ("chat.postMessage", "chat.postEphemeral")]
    told = json.dumps(emulator.responses_to(dissolving["response_url"])) + json.dumps(posts, default=str)
    assert "went wrong" not in told and "went wrong" not in responses[0].text
    assert [c.met_on.isoformat() for c in rows(engine, CheckIn)] == (["2025-03-10"] if saved else [])
    assert rows(engine, Pairing)[0].status == "dissolved"

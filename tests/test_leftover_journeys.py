"""Small gaps left after the ended-program and coordinator-scope reviews: each test is something a librarian or a
coordinator would have noticed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import pairing as pairing_service
from bot.views import ids
from storage.engine import session_scope
from storage.models import AuditEvent, CheckIn, Enrollment, Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_coordinator_scope_journeys import FEB_20, PLSEP_NAME, cam_and_ruth_proposed, proposals
from tests.test_ended_program_journeys import LATE_MENTEE, paired_late
from tests.test_fuzz import settle
from tests.test_many_hats_journeys import (
    ADMIN_CHANNEL,
    COORD,
    LA,
    MORGAN,
    RUTH,
    YARA,
    add_people,
    coordinator_mentors_ruth,
    enroll,
    live_pairings_between,
    shown,
)
from tests.test_second_year_journeys import DAY_AFTER_THE_END, LAST_YEAR, MENTOR, checkin_state


def form_or_answer(slack: SlackDriver, emulator: SlackEmulator) -> str:
    """Wait for the request just sent to open a form or answer; the answer's text ("" if a form opened)."""
    url = slack.last_response_url
    wait_for(lambda: emulator.calls_to("views.open") or emulator.responses_to(url), what="a form or an answer")
    return " ".join(r.get("text", "") for r in emulator.responses_to(url))


# -- 1. a pair never introduced is not offered late logging ------------------------------------------------------
async def test_a_pair_whose_intro_never_went_out_cannot_log_meetings_after_the_end(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Paired at 6 PM on the program's last day, the pair's intro waited for working hours and was dropped when
    the program ended: the two never heard of each other. On Jul 1 the mentee types `/mentor checkin` and is
    offered a form to log a meeting with a partner she never met; she should be told they were never
    introduced, and a hand-made *Log a check-in* button or form for that pairing should be refused the same way."""
    late_evening = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)  # Monday Jun 30, 6 PM in Los Angeles
    late_pair = paired_late(engine, emulator, clock, late_evening)
    await tick(runtime)  # the intro waits for the morning
    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)  # the program closes; the intro is dropped
    with session_scope(engine) as session:
        assert session.get(Pairing, late_pair).status == "ended"
    sent = [c.arg("text") or "" for c in emulator.calls_to("chat.postMessage")]
    assert not [text for text in sent if "Welcome to" in text], "the intro went out after all"
    emulator.reset_calls()

    slack.mentor(LATE_MENTEE, "checkin")
    told = form_or_answer(slack, emulator)
    assert not emulator.calls_to("views.open"), f"a check-in form opened for a partner she never met: {told}"
    assert "never introduced" in told and f"<@{MENTOR}>" in told and LAST_YEAR in told, told

    slack.block_action(LATE_MENTEE, "shelfmate_checkin", str(late_pair))
    told = form_or_answer(slack, emulator)
    assert not emulator.calls_to("views.open"), f"a hand-made button opened a check-in form: {told}"
    assert "never introduced" in told, told

    metadata = json.dumps({"pairing_id": late_pair})
    refused = slack.view_submission(
        LATE_MENTEE, "shelfmate_checkin", checkin_state("2025-06-30"), private_metadata=metadata
    )
    assert refused.json().get("response_action") == "errors", refused.text
    assert "never introduced" in json.dumps(refused.json()), refused.text
    with session_scope(engine) as session:
        assert session.exec(select(CheckIn)).all() == []

    listed = slack.mentor(LATE_MENTEE, "checkins").json().get("text", "")
    assert f"<@{MENTOR}>" not in listed, f"`/mentor checkins` lists a partner she never met: {listed}"


# -- 2. a coordinator cannot reject or dissolve their own pairing ----------------------------------------------
def answer_to(slack: SlackDriver, emulator: SlackEmulator) -> str:
    """The answer to the button just pressed, once the app has finished with it."""
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")[-1]["text"]
    settle(emulator)
    return said


def pairing_row(engine: Engine, pairing_id: int) -> tuple[str, datetime | None, str | None]:
    with session_scope(engine) as session:
        pairing = session.get(Pairing, pairing_id)
        return pairing.status, pairing.ended_at, pairing.decided_by


def audit_actions(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return [e.action for e in session.exec(select(AuditEvent))]


def test_a_coordinator_cannot_reject_their_own_proposed_pairing(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Cam, a coordinator and a mentee, may not *Approve* the proposal pairing Cam, but pressed *Reject* on it and
    it was dissolved; like Approve, it should be refused ("ask another coordinator"), and another coordinator
    can still reject it."""
    cam_and_ruth_proposed(slack, emulator, engine, clock)
    own = proposals(engine)[COORD]
    before, audited = pairing_row(engine, own.id), audit_actions(engine)

    slack.block_action(COORD, ids.ACTION_REJECT_PAIR, str(own.id), channel_id=ADMIN_CHANNEL)
    said = answer_to(slack, emulator)
    assert pairing_row(engine, own.id) == before, f"Cam rejected Cam's own pairing: {said}"
    assert audit_actions(engine) == audited, said
    assert f"another coordinator of {PLSEP_NAME}" in said and "Nothing changed" in said, said

    slack.block_action(ADMIN_ID, ids.ACTION_REJECT_PAIR, str(own.id), channel_id=ADMIN_CHANNEL)
    said = answer_to(slack, emulator)
    assert pairing_row(engine, own.id)[0] == "dissolved", said


def test_a_coordinator_cannot_dissolve_their_own_pairing(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Cam coordinates PLSEP and mentors Ruth. Cam asks for a rematch with `/mentor rematch`; the request reaches
    PLSEP's admin channel, which Cam reads, with a *Dissolve* button, and Cam's press dissolved the pair (so did
    `/mentor-admin unpair`). Both should be refused, pointing Cam to another coordinator; the other coordinator's
    press dissolves it."""
    coordinator_mentors_ruth(engine, emulator, clock)
    [pairing] = live_pairings_between(engine, COORD, RUTH)
    reason = "our schedules never line up"
    slack.mentor(COORD, f"rematch {reason}")
    [request] = wait_for(lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if reason in shown(m)])
    dissolve = next(
        e for b in request["blocks"] if b.get("type") == "actions" for e in b["elements"]
        if e["action_id"] == ids.ACTION_DISSOLVE_PAIR
    )  # fmt: skip
    settle(emulator)
    before, audited = pairing_row(engine, pairing.id), audit_actions(engine)

    slack.block_action(COORD, ids.ACTION_DISSOLVE_PAIR, dissolve["value"], channel_id=ADMIN_CHANNEL)
    said = answer_to(slack, emulator)
    assert pairing_row(engine, pairing.id) == before, f"Cam dissolved Cam's own pairing: {said}"
    assert f"another coordinator of {PLSEP_NAME}" in said and "`/mentor rematch" in said, said
    assert "Nothing changed" in said, said

    said = shown(slack.admin(COORD, f"unpair <@{COORD}|cam> <@{RUTH}|ruth> {PLSEP_NAME}").json())
    settle(emulator)
    assert pairing_row(engine, pairing.id) == before, f"Cam unpaired Cam's own pairing: {said}"
    assert "another coordinator" in said, said
    assert audit_actions(engine) == audited

    slack.block_action(ADMIN_ID, ids.ACTION_DISSOLVE_PAIR, dissolve["value"], channel_id=ADMIN_CHANNEL)
    said = answer_to(slack, emulator)
    assert pairing_row(engine, pairing.id)[0] == "dissolved", said


def test_a_global_admin_in_a_pairing_cannot_reject_or_dissolve_it_either(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Casey is a global admin and a mentee in PLSEP: *Approve* already refuses Casey's own proposal, but
    *Reject* on it, and a *Dissolve* payload for Casey's introduced pairing, went through; both should be
    refused the same way."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORD])
    add_people(engine, emulator, COORD, MORGAN, YARA)
    with session_scope(engine, write=True) as session:
        session.add(Person(slack_user_id=ADMIN_ID, display_name="Casey Coordinator", timezone=LA))
        session.flush()
        session.add(
            Enrollment(
                program_id=program.id, person_id=ADMIN_ID, role="mentee", library_type="public",
                organization="Casey library system", region="Bay Area", specializations=["reference"],
                years_experience=2, capacity=0, meeting_format="video",
            )
        )  # fmt: skip
    enroll(engine, program.id, MORGAN, "mentor", capacity=1)
    clock.set(FEB_20)
    slack.admin(COORD, "match preview")
    wait_for(lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")], what="the preview")
    proposal = proposals(engine)[ADMIN_ID]
    before = pairing_row(engine, proposal.id)

    slack.block_action(ADMIN_ID, ids.ACTION_APPROVE_PAIR, str(proposal.id), channel_id=ADMIN_CHANNEL)
    approve_said = answer_to(slack, emulator)
    slack.block_action(ADMIN_ID, ids.ACTION_REJECT_PAIR, str(proposal.id), channel_id=ADMIN_CHANNEL)
    reject_said = answer_to(slack, emulator)
    assert pairing_row(engine, proposal.id) == before, f"Casey decided Casey's own pairing: {reject_said}"
    assert "another coordinator" in approve_said and "another coordinator" in reject_said, reject_said

    enroll(engine, program.id, YARA, "mentor", capacity=1, years_experience=15)
    slack.block_action(COORD, ids.ACTION_REJECT_PAIR, str(proposal.id), channel_id=ADMIN_CHANNEL)
    answer_to(slack, emulator)
    with session_scope(engine, write=True) as session:  # Cam pairs Casey with Yara; their intro went out
        paired = pairing_service.pair_by_hand_once(
            session, session.get(Program, program.id), YARA, ADMIN_ID, COORD, FEB_20, override=True
        )
        paired.status = "introduced"
        introduced = paired.id
    before = pairing_row(engine, introduced)
    slack.block_action(ADMIN_ID, ids.ACTION_DISSOLVE_PAIR, str(introduced), channel_id=ADMIN_CHANNEL)
    said = answer_to(slack, emulator)
    assert pairing_row(engine, introduced) == before, f"Casey dissolved Casey's own pairing: {said}"
    assert "another coordinator" in said and "`/mentor rematch" in said, said

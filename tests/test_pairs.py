"""A pair's own flows, end to end: the agreement (propose, change, accept) and logging meetings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import agreements, checkins, pair_replies
from bot.services import pairing as pairing_service
from bot.views import pairs as pair_views
from storage.engine import session_scope
from storage.models import Agreement, CheckIn, Delivery, Enrollment, Pairing, Person, Program, SurveyResponse
from tests.factories import block_texts, make_program
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import opened_view, wait_for

MENTOR, MENTEE, OUTSIDER = "U0MENTOR1", "U0MENTEE1", "U0OUTSIDE"
LA = "America/Los_Angeles"


def _select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def _radio(value: str) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


def agreement_state(cadence: str = "biweekly", after_hours: str = "no", first: str | None = None) -> dict[str, Any]:
    return {
        "cadence": {"cadence": _select(cadence)},
        "mentor_on_call": {"mentor_on_call": _radio("yes")},
        "after_hours_ok": {"after_hours_ok": _radio(after_hours)},
        "boundaries": {"boundaries": _radio("professional")},
        "first_meeting_on": {"first_meeting_on": {"type": "datepicker", "selected_date": first}},
    }


def checkin_state(met_on: str, minutes: str = "45", note: str = "", rating: str | None = "4") -> dict[str, Any]:
    return {
        "met_on": {"met_on": {"type": "datepicker", "selected_date": met_on}},
        "duration": {"duration": {"type": "number_input", "value": minutes}},
        "format": {"format": _select("video")},
        "topics": {"topics": {"type": "multi_static_select", "selected_options": [{"value": "school_instruction"}]}},
        "other_topics": {"other_topics": {"type": "plain_text_input", "value": "budget season"}},
        "rating": {"rating": _select(rating) if rating else {"type": "static_select", "selected_option": None}},
        "private_note": {"private_note": {"type": "plain_text_input", "value": note}},
    }


@pytest.fixture
def pairing_id(engine: Engine, emulator: SlackEmulator) -> int:
    """An introduced pair in a running program; its group DM is opened on the first message."""
    program = make_program(engine)
    for uid in (MENTOR, MENTEE, OUTSIDER):
        emulator.add_user(uid, name=uid.lower(), tz=LA)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid in (MENTOR, MENTEE, OUTSIDER):
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone=LA))
        session.flush()
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            session.add(
                Enrollment(
                    program_id=program.id, person_id=uid, role=role, library_type="school",
                    organization=f"{uid} district", specializations=["school_instruction"],
                    years_experience=10 if role == "mentor" else 1, capacity=2 if role == "mentor" else 0,
                )
            )  # fmt: skip
        session.flush()
        now = datetime(2025, 2, 20, 18, tzinfo=UTC)
        pairing = pairing_service.pair_by_hand_once(session, program, MENTOR, MENTEE, "U0ADMIN01", now, override=True)
        pairing.status = "introduced"
        session.add(pairing)
        return pairing.id


def accept_button(message: dict[str, Any]) -> str:
    """The value of the Accept button in a proposal message, as Slack would send it back."""
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    return next(e["value"] for e in actions["elements"] if e["action_id"] == "shelfmate_accept_agreement")


def pairing_row(engine: Engine, pairing_id: int) -> Pairing:
    with session_scope(engine) as session:
        return session.get(Pairing, pairing_id)


def pair_messages(emulator: SlackEmulator) -> list[dict[str, Any]]:
    return [c.args for c in emulator.calls_to("chat.postMessage") if c.ok]


def test_agreement_proposed_changed_then_accepted_makes_the_pair_active(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int
) -> None:
    # The intro's button opens the modal, prefilled with the program's default cadence.
    slack.block_action(MENTEE, "shelfmate_open_agreement", str(pairing_id))
    view = opened_view(emulator)
    assert view["callback_id"] == "shelfmate_agreement"
    assert "Monthly" in json.dumps(view)

    # The mentee proposes: the proposal is posted to the pair with Accept / Propose a change.
    response = slack.view_submission(
        MENTEE, view["callback_id"], agreement_state(), private_metadata=view["private_metadata"]
    )
    assert response.status_code == 200 and response.content in (b"", b"{}")
    proposal = wait_for(lambda: pair_messages(emulator))[-1]
    first_accept = accept_button(proposal)
    text = block_texts(proposal["blocks"])
    assert f"<@{MENTEE}> proposed" in text and "every two weeks" in text and f"<@{MENTOR}>, does this work" in text
    assert pairing_row(engine, pairing_id).status == "introduced"

    # The mentor proposes a change (after-hours chat fine): now the mentee must accept.
    emulator.reset_calls()
    slack.block_action(MENTOR, "shelfmate_change_agreement", str(pairing_id))
    view = opened_view(emulator)
    assert "Every two weeks" in json.dumps(view)  # prefilled with what is on record
    slack.view_submission(
        MENTOR,
        view["callback_id"],
        agreement_state(after_hours="yes"),
        private_metadata=view["private_metadata"],
        view_hash="second.1",
    )
    change = wait_for(lambda: pair_messages(emulator))[-1]
    assert f"<@{MENTEE}>, does this work" in block_texts(change["blocks"])

    # Only a member can accept, whatever the payload says.
    emulator.reset_calls()
    slack.block_action(OUTSIDER, "shelfmate_accept_agreement", accept_button(change), channel_id="C0GENERAL")
    refusal = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "another pair" in refusal[-1]["text"]
    assert pairing_row(engine, pairing_id).status == "introduced"

    # The first proposal's Accept button no longer settles anything: the terms changed since.
    slack.block_action(MENTEE, "shelfmate_accept_agreement", first_accept)
    stale = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "have changed" in stale[-1]["text"]
    assert pairing_row(engine, pairing_id).status == "introduced"

    # The mentee accepts the terms shown: the pair is active and told so, once, however often they click.
    for _ in range(2):
        slack.block_action(MENTEE, "shelfmate_accept_agreement", accept_button(change))
        wait_for(lambda: pair_messages(emulator) or emulator.responses_to(slack.last_response_url))
    settled = wait_for(lambda: pair_messages(emulator))
    assert len(settled) == 1 and "Agreement settled" in block_texts(settled[0]["blocks"])
    assert "already accepted" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert pairing_row(engine, pairing_id).status == "active"
    with session_scope(engine) as session:
        agreement = session.exec(select(Agreement)).one()
    assert (agreement.cadence, agreement.after_hours_ok, agreement.mentor_on_call) == ("biweekly", True, True)
    assert agreement.mentor_accepted_at and agreement.mentee_accepted_at


def test_agreement_command_and_outsiders(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int
) -> None:
    slack.mentor(MENTOR, "agreement")
    assert opened_view(emulator)["callback_id"] == "shelfmate_agreement"
    # An outsider replaying a hand-made submission for this pairing changes nothing.
    forged = slack.view_submission(
        OUTSIDER, "shelfmate_agreement", agreement_state(), private_metadata=json.dumps({"pairing_id": pairing_id})
    )
    assert forged.status_code == 200 and forged.json()["response_action"] == "errors"
    with session_scope(engine) as session:
        assert session.exec(select(Agreement)).all() == []
    body = slack.mentor(OUTSIDER, "agreement")
    assert body.status_code == 200
    reply = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "don't have a mentoring partner" in reply[-1]["text"]


def test_logging_a_meeting_validates_saves_once_and_keeps_the_note_private(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock
) -> None:
    clock.set(datetime(2025, 3, 12, 18, tzinfo=UTC))
    slack.block_action(MENTEE, "shelfmate_we_met", str(pairing_id))
    view = opened_view(emulator)
    assert view["callback_id"] == "shelfmate_checkin"
    assert "2025-03-12" in json.dumps(view)  # today, in the person's own time zone

    def submit(state: dict[str, Any], view_hash: str = "h.1", user: str = MENTEE, retry: int | None = None) -> Any:
        return slack.view_submission(
            user,
            view["callback_id"],
            state,
            private_metadata=view["private_metadata"],
            view_hash=view_hash,
            retry_num=retry,
        )

    future = submit(checkin_state("2025-03-20")).json()
    assert future["response_action"] == "errors" and "still to come" in future["errors"]["met_on"]
    early = submit(checkin_state("2025-02-25")).json()
    assert "The program starts on Mar 1, 2025" in early["errors"]["met_on"]
    short = submit(checkin_state("2025-03-10", minutes="2")).json()
    assert "duration" in short["errors"]
    with session_scope(engine) as session:
        assert session.exec(select(CheckIn)).all() == []

    # A good submission and a Slack retry of it: one check-in. The partner logging the same day is told so.
    ok = submit(checkin_state("2025-03-10", note="SECRET-NOTE about budget worries"))
    assert ok.status_code == 200 and ok.content in (b"", b"{}")
    retried = submit(checkin_state("2025-03-10", note="SECRET-NOTE about budget worries"), retry=1)
    assert retried.status_code == 200 and retried.content in (b"", b"{}")
    again = submit(checkin_state("2025-03-10", minutes="60"), view_hash="partner.1", user=MENTOR).json()
    assert "already logged" in again["errors"]["met_on"]
    with session_scope(engine) as session:
        [checkin] = session.exec(select(CheckIn)).all()
    assert (checkin.met_on, checkin.duration_minutes, checkin.rating) == (date(2025, 3, 10), 45, 4)
    assert checkin.topics == ["school_instruction", "budget season"]
    confirmation = wait_for(lambda: pair_messages(emulator))
    assert len(confirmation) == 1 and "logged your meeting on Mar 10" in block_texts(confirmation[0]["blocks"])
    assert all("SECRET-NOTE" not in json.dumps(c.args) for c in emulator.calls)

    # The pair reads its own notes back; an outsider cannot log for them.
    notes = slack.mentor(MENTOR, "checkins").json()
    assert "SECRET-NOTE" in notes["text"] and notes["response_type"] == "ephemeral"
    forged = submit(checkin_state("2025-03-11"), view_hash="forged.1", user=OUTSIDER).json()
    assert forged["response_action"] == "errors"
    with session_scope(engine) as session:
        assert len(session.exec(select(CheckIn)).all()) == 1

    # Leaving erases what the leaver wrote, and takes away what their partner wrote: the mentee keeps it.
    slack.block_action(MENTOR, "shelfmate_leave_confirm", "leave", channel_id="C0GENERAL")
    wait_for(lambda: pairing_row(engine, pairing_id).status == "dissolved")
    assert "SECRET-NOTE" not in json.dumps(slack.mentor(MENTOR, "checkins").json())
    assert "SECRET-NOTE" in slack.mentor(MENTEE, "checkins").json()["text"]


def test_checkin_command_and_home_button_open_the_modal(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int
) -> None:
    slack.mentor(MENTOR, "checkin")
    assert opened_view(emulator)["callback_id"] == "shelfmate_checkin"
    emulator.reset_calls()
    slack.block_action(MENTOR, "shelfmate_checkin", "checkin", view={"id": "V0HOME", "type": "home"})
    assert opened_view(emulator)["callback_id"] == "shelfmate_checkin"
    emulator.reset_calls()
    slack.mentor(OUTSIDER, "checkin")
    reply = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "don't have a mentoring partner" in reply[-1]["text"]


def test_a_home_tab_button_answers_in_the_dm_because_slack_sends_no_response_url(
    slack: SlackDriver, emulator: SlackEmulator, pairing_id: int
) -> None:
    slack.block_action(OUTSIDER, "shelfmate_checkin", "checkin", view={"id": "V0HOME", "type": "home"})
    [answer] = wait_for(lambda: emulator.messages_in(OUTSIDER), what="the answer by DM")
    assert "don't have a mentoring partner" in answer["text"]
    assert emulator.calls_to("views.open") == []


def test_not_yet_asks_again_and_we_need_help_tells_the_coordinators_once(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock
) -> None:
    clock.set(datetime(2025, 3, 26, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        pairing = session.get(Pairing, pairing_id)
        pairing.status = "active"
        session.add(pairing)

    slack.block_action(MENTEE, "shelfmate_not_yet", str(pairing_id))
    reply = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "ask again in a few days" in reply[-1]["text"]
    for _ in range(2):  # a double click asks for help once
        slack.block_action(MENTOR, "shelfmate_need_help", str(pairing_id))
        wait_for(lambda: emulator.responses_to(slack.last_response_url))
    slack.block_action(OUTSIDER, "shelfmate_need_help", str(pairing_id))
    refusal = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "another pair" in refusal[-1]["text"]

    with session_scope(engine) as session:
        owed = {(d.kind, d.period) for d in session.exec(select(Delivery))}
    assert owed == {("did_you_meet_again", "2025-03"), ("help_request", "2025-03-26")}

    # On the period's last day there is no "few days" left: the pair is not promised a question that won't come.
    clock.set(datetime(2025, 4, 30, 18, tzinfo=UTC))
    slack.block_action(MENTEE, "shelfmate_not_yet", str(pairing_id))
    reply = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "won't ask again" in reply[-1]["text"] and "ask again in a few days" not in reply[-1]["text"]


def test_wrap_up_survey_button_opens_the_modal_and_saves_one_answer_per_person(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int
) -> None:
    slack.block_action(MENTEE, "shelfmate_survey", str(pairing_id))
    view = opened_view(emulator)
    answers = {
        "satisfaction": {"satisfaction": _select("5")},
        "would_continue": {"would_continue": _radio("yes")},
        "still_in_libraries": {"still_in_libraries": _radio("yes")},
    }
    for view_hash in ("a", "b"):
        response = slack.view_submission(
            MENTEE, view["callback_id"], answers, private_metadata=view["private_metadata"], view_hash=view_hash
        )
        assert response.status_code == 200
    forged = slack.view_submission(OUTSIDER, view["callback_id"], answers, private_metadata=view["private_metadata"])
    assert forged.json()["response_action"] == "errors"
    with session_scope(engine) as session:
        [saved] = session.exec(select(SurveyResponse)).all()
    assert (saved.person_id, saved.satisfaction, saved.would_continue) == (MENTEE, 5, True)


async def test_a_reply_to_one_member_waits_for_the_pairs_working_hours(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock, runtime: Runtime
) -> None:
    emulator.add_channel("G0PAIR0001", "mpdm-pair", members=[MENTOR, MENTEE])
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).conversation_id = "G0PAIR0001"
    clock.set(datetime(2025, 3, 12, 4, 0, tzinfo=UTC))  # Tuesday 9 PM in Los Angeles
    meta = json.dumps({"pairing_id": pairing_id})
    response = slack.view_submission(MENTEE, "shelfmate_checkin", checkin_state("2025-03-11"), private_metadata=meta)
    assert response.status_code == 200
    note = wait_for(lambda: [c for c in emulator.calls_to("chat.postEphemeral") if c.ok])
    assert note[0].arg("user") == MENTEE and "in working hours" in note[0].arg("text")
    assert emulator.messages_in("G0PAIR0001") == []  # nothing reaches the partner at night
    with session_scope(engine) as session:
        [held] = session.exec(select(Delivery).where(Delivery.kind == "pair_notice")).all()
    assert held.due_at.astimezone(ZoneInfo(LA)) == datetime(2025, 3, 12, 9, 0, tzinfo=ZoneInfo(LA))

    clock.set(datetime(2025, 3, 12, 16, 5, tzinfo=UTC))  # 9:05 in Los Angeles
    await tick(runtime)
    [posted] = emulator.messages_in("G0PAIR0001")
    assert "logged your meeting on Mar 11" in block_texts(posted["blocks"])


async def test_a_repeated_accept_sends_the_settled_message_a_crash_kept_back(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock, runtime: Runtime
) -> None:
    clock.set(datetime(2025, 3, 12, 18, 0, tzinfo=UTC))  # Wednesday 11 AM in Los Angeles
    slack.block_action(MENTEE, "shelfmate_open_agreement", str(pairing_id))
    view = opened_view(emulator)
    slack.view_submission(MENTEE, view["callback_id"], agreement_state(), private_metadata=view["private_metadata"])
    value = accept_button(wait_for(lambda: pair_messages(emulator))[-1])
    fingerprint = value.split(":", 1)[1]
    # The mentor's Accept was saved with the pair's message, then the process died before sending it.
    await runtime.write(
        pair_replies.accept, f"accept:{value}:{MENTOR}", pairing_id, MENTOR, fingerprint, runtime.now(),
        pair_views.agreement_message,
    )  # fmt: skip
    assert not [m for m in pair_messages(emulator) if "Agreement settled" in json.dumps(m)]

    for _ in range(2):  # Slack's retry of that click, then an impatient second click
        slack.block_action(MENTOR, "shelfmate_accept_agreement", value)
    wait_for(lambda: [m for m in pair_messages(emulator) if "Agreement settled" in json.dumps(m)])
    emulator.wait_idle()
    settled = [m for m in pair_messages(emulator) if "Agreement settled" in json.dumps(m)]
    assert len(settled) == 1
    assert pairing_row(engine, pairing_id).status == "active"


def _terms(cadence: str, after_hours: bool) -> agreements.Terms:
    return agreements.Terms(cadence=cadence, mentor_on_call=True, after_hours_ok=after_hours, boundaries="professional")


def _in_force(engine: Engine, pairing_id: int) -> tuple[str, bool, str]:
    """(cadence the schedule follows, whether after-hours messages are allowed, pairing status)."""
    with session_scope(engine) as session:
        pairing = session.get(Pairing, pairing_id)
        program = session.get(Program, pairing.program_id)
        agreement = session.exec(select(Agreement).where(Agreement.pairing_id == pairing_id)).one()
        return (
            agreements.settled_cadence(agreement, program.default_cadence),
            agreements.after_hours_agreed(agreement),
            pairing.status,
        )


def _propose(engine: Engine, pairing_id: int, user_id: str, terms: agreements.Terms, day: int) -> str:
    """Propose as `user_id` on Mar `day`; the fingerprint the partner's Accept button would carry."""
    with session_scope(engine, write=True) as session:
        state = agreements.propose(session, pairing_id, user_id, terms, datetime(2025, 3, day, 18, tzinfo=UTC))
        return state.terms.fingerprint


def _accept(engine: Engine, pairing_id: int, user_id: str, fingerprint: str, day: int) -> agreements.AgreementState:
    with session_scope(engine, write=True) as session:
        state = agreements.accept(session, pairing_id, user_id, fingerprint, datetime(2025, 3, day, 18, tzinfo=UTC))
        assert state is not None
        return state


def test_a_first_proposal_is_not_in_force_until_both_accept_it(engine: Engine, pairing_id: int) -> None:
    """A pair that never settled anything follows the program's defaults while one of them has proposed."""
    fingerprint = _propose(engine, pairing_id, MENTOR, _terms("weekly", True), 1)
    assert _in_force(engine, pairing_id) == ("monthly", False, "introduced")
    assert _accept(engine, pairing_id, MENTEE, fingerprint, 2).settled
    assert _in_force(engine, pairing_id) == ("weekly", True, "active")


def test_a_pending_change_leaves_the_settled_terms_in_force_until_accepted(engine: Engine, pairing_id: int) -> None:
    """Renegotiating: the schedule keeps the settled cadence while a change waits for the partner, a superseding
    proposal or one that declines back to the settled terms changes nothing, and only an accepted change takes
    effect. Withdrawing after-hours consent takes effect at once: it takes one person to stop it."""
    settled = _propose(engine, pairing_id, MENTOR, _terms("weekly", True), 1)
    assert _accept(engine, pairing_id, MENTEE, settled, 1).settled
    assert _in_force(engine, pairing_id) == ("weekly", True, "active")

    # The mentor proposes meeting every two weeks: still weekly until the mentee accepts.
    mentors = _propose(engine, pairing_id, MENTOR, _terms("biweekly", True), 2)
    assert _in_force(engine, pairing_id) == ("weekly", True, "active")

    # The mentee answers with her own change (monthly, work hours only): the cadence stays weekly, but quiet
    # hours hold from now on.
    mentees = _propose(engine, pairing_id, MENTEE, _terms("monthly", False), 3)
    assert _in_force(engine, pairing_id) == ("weekly", False, "active")

    # The mentor's first change can no longer be accepted: the terms changed since.
    assert _accept(engine, pairing_id, MENTEE, mentors, 4).outdated
    assert _in_force(engine, pairing_id) == ("weekly", False, "active")

    # The mentor declines by proposing the settled terms again: nothing in force changes, and the mentee is
    # asked to accept them again (as before).
    back = _propose(engine, pairing_id, MENTOR, _terms("weekly", True), 5)
    assert back == settled and _in_force(engine, pairing_id) == ("weekly", True, "active")

    # Then the mentee proposes monthly again and the mentor accepts: it is in force, and it is what a later
    # pending change falls back to.
    mentees = _propose(engine, pairing_id, MENTEE, _terms("monthly", False), 6)
    assert _accept(engine, pairing_id, MENTOR, mentees, 7).settled
    assert _in_force(engine, pairing_id) == ("monthly", False, "active")
    _propose(engine, pairing_id, MENTOR, _terms("weekly", True), 8)
    assert _in_force(engine, pairing_id) == ("monthly", False, "active")
    with session_scope(engine) as session:
        agreement = session.exec(select(Agreement).where(Agreement.pairing_id == pairing_id)).one()
    assert agreements.Terms.last_settled(agreement) == _terms("monthly", False)
    assert (agreement.cadence, agreement.mentor_accepted_at is not None, agreement.mentee_accepted_at) == (
        "weekly",
        True,
        None,
    )


def test_a_proposed_change_says_the_settled_agreement_holds_until_accepted(engine: Engine, pairing_id: int) -> None:
    """The pair reads, under a proposed change to what they settled, that the bot keeps to the settled terms
    until both accept; a first proposal (nothing settled yet) does not say so."""

    def proposal_text(user_id: str, terms: agreements.Terms, day: int) -> str:
        with session_scope(engine, write=True) as session:
            state = agreements.propose(session, pairing_id, user_id, terms, datetime(2025, 3, day, 18, tzinfo=UTC))
            return block_texts(pair_views.agreement_message(state)[1])

    assert "settled before" not in proposal_text(MENTOR, _terms("weekly", True), 1)
    _accept(engine, pairing_id, MENTEE, _terms("weekly", True).fingerprint, 1)
    assert "I keep to the agreement you settled before" in proposal_text(MENTOR, _terms("biweekly", True), 2)


def test_a_meeting_saved_as_the_coordinator_dissolves_the_pair_is_refused_in_the_modal(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    pairing_id: int,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The coordinator dissolves the pair between the mentee's Save and its write: she reads in the modal that
    the pairing ended, not "something went wrong", and no meeting is stored."""
    clock.set(datetime(2025, 3, 12, 18, tzinfo=UTC))
    checked = checkins.local_today

    def dissolved_meanwhile(session: Any, pair: Any, now: datetime) -> Any:
        with session_scope(engine, write=True) as other:
            other.get(Pairing, pairing_id).status = "dissolved"
        return checked(session, pair, now)

    monkeypatch.setattr(checkins, "local_today", dissolved_meanwhile)
    answer = slack.view_submission(
        MENTEE,
        "shelfmate_checkin",
        checkin_state("2025-03-10"),
        private_metadata=json.dumps({"pairing_id": pairing_id}),
    ).json()
    assert answer["response_action"] == "errors" and "pairing has ended" in json.dumps(answer), answer
    with session_scope(engine) as session:
        assert session.exec(select(CheckIn)).all() == []


def _end_with_program(engine: Engine, pairing_id: int, status: str = "ended") -> None:
    """What the closing sweep (or a coordinator's dissolve) leaves: the pairing over, the program closed.

    A dissolved pairing was introduced in its group DM (its id recorded when the intro went out): one dissolved
    without one was never introduced, and is nobody's to read back."""
    with session_scope(engine, write=True) as session:
        pairing = session.get(Pairing, pairing_id)
        pairing.status, pairing.ended_at = status, datetime(2025, 7, 1, 17, tzinfo=UTC)
        if status == "dissolved":
            pairing.conversation_id = pairing.conversation_id or "G0PAIRDM01"
        program = session.get(Program, pairing.program_id)
        program.closed_at = datetime(2025, 7, 1, 17, tzinfo=UTC)
        session.add_all([pairing, program])


def test_a_pairing_that_ended_with_its_program_logs_a_late_meeting_only_within_the_program_and_the_grace_days(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock
) -> None:
    """Two weeks after Jun 30 the pair can still log a meeting dated within the program; a day after the end
    is refused in the modal, and on Jul 15 the button says until when logging stayed open."""
    _end_with_program(engine, pairing_id)
    clock.set(datetime(2025, 7, 14, 18, tzinfo=UTC))  # Jul 14, 11 AM in Los Angeles: the last day
    metadata = json.dumps({"pairing_id": pairing_id})
    after = slack.view_submission(MENTEE, "shelfmate_checkin", checkin_state("2025-07-01"), private_metadata=metadata)
    assert "ended on Jun 30, 2025" in json.dumps(after.json()), after.text
    ok = slack.view_submission(MENTEE, "shelfmate_checkin", checkin_state("2025-06-27"), private_metadata=metadata)
    assert ok.content in (b"", b"{}"), ok.text

    clock.set(datetime(2025, 7, 15, 18, tzinfo=UTC))
    slack.block_action(MENTEE, "shelfmate_we_met", str(pairing_id))
    url = slack.last_response_url
    told = wait_for(lambda: emulator.responses_to(url), what="an answer")[-1]["text"]
    assert "Jul 14, 2025" in told and "14 days after the end" in told, told
    late = slack.view_submission(MENTEE, "shelfmate_checkin", checkin_state("2025-06-30"), private_metadata=metadata)
    assert "could be logged until Jul 14, 2025" in json.dumps(late.json()), late.text
    with session_scope(engine) as session:
        assert [c.met_on for c in session.exec(select(CheckIn))] == [date(2025, 6, 27)]


def test_a_dissolved_pairing_cannot_log_a_meeting_after_the_program_ended(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock
) -> None:
    _end_with_program(engine, pairing_id, status="dissolved")
    clock.set(datetime(2025, 7, 1, 18, tzinfo=UTC))
    slack.block_action(MENTEE, "shelfmate_we_met", str(pairing_id))
    url = slack.last_response_url
    told = wait_for(lambda: emulator.responses_to(url), what="an answer")[-1]["text"]
    assert "pairing has ended" in told, told
    late = slack.view_submission(
        MENTEE,
        "shelfmate_checkin",
        checkin_state("2025-06-30"),
        private_metadata=json.dumps({"pairing_id": pairing_id}),
    )
    assert late.json()["response_action"] == "errors" and "pairing has ended" in late.text, late.text
    with session_scope(engine) as session:
        assert session.exec(select(CheckIn)).all() == []

"""A librarian's and a pair's journeys through Slack, as found in a product review: each test is a
bug a mentee, a mentor or a pair would have noticed.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import agreements, schedule
from bot.services import pairing as pairing_service
from storage import queries
from storage.engine import session_scope
from storage.models import CheckIn, Delivery, Enrollment, Pairing, Person, Program
from tests.factories import block_texts, intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator

MENTOR, MENTEE, MENTEE2 = "U0RVMENTR", "U0RVMENTE", "U0RVMENT2"
LA = "America/Los_Angeles"


def _select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def checkin_state(met_on: str, note: str = "") -> dict[str, Any]:
    return {
        "met_on": {"met_on": {"type": "datepicker", "selected_date": met_on}},
        "duration": {"duration": {"type": "number_input", "value": "45"}},
        "format": {"format": _select("video")},
        "topics": {"topics": {"type": "multi_static_select", "selected_options": []}},
        "other_topics": {"other_topics": {"type": "plain_text_input", "value": ""}},
        "rating": {"rating": _select("4")},
        "private_note": {"private_note": {"type": "plain_text_input", "value": note}},
    }


def opened_view(emulator: SlackEmulator, after: int = 0) -> dict[str, Any]:
    wait_for(lambda: len(emulator.calls_to("views.open")) > after)
    return emulator.calls_to("views.open")[-1].arg("view")


def posted_texts(emulator: SlackEmulator) -> list[str]:
    out = []
    for call in emulator.calls_to("chat.postMessage"):
        if call.ok:
            out.append((call.arg("text") or "") + "\n" + block_texts(call.arg("blocks") or []))
    return out


@pytest.fixture
def program_id(engine: Engine, emulator: SlackEmulator) -> int:
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        for uid in (MENTOR, MENTEE, MENTEE2):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone=LA))
        session.flush()
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee"), (MENTEE2, "mentee")):
            session.add(
                Enrollment(
                    program_id=program.id, person_id=uid, role=role, library_type="school",
                    organization=f"{uid} district", specializations=["school_instruction"],
                    years_experience=6 if role == "mentor" else 1, capacity=2 if role == "mentor" else 0,
                )
            )  # fmt: skip
    return program.id  # type: ignore[return-value]


def hand_pair(
    engine: Engine, program_id: int, mentor: str, mentee: str, status: str = "active", now: datetime | None = None
) -> int:
    now = now or datetime(2025, 2, 20, 18, tzinfo=UTC)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program_id)
        pairing = pairing_service.pair_by_hand_once(session, program, mentor, mentee, "U0ADMIN01", now, override=True)
        pairing.status = status
        session.add(pairing)
        return pairing.id  # type: ignore[return-value]


@pytest.fixture
def pairing_id(engine: Engine, program_id: int) -> int:
    return hand_pair(engine, program_id, MENTOR, MENTEE)


def settle(engine: Engine, pairing_id: int, cadence: str, at: datetime) -> None:
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    with session_scope(engine, write=True) as session:
        mentor, mentee = queries.pair_members(session, session.get(Pairing, pairing_id))
        terms = agreements.Terms(cadence=cadence, mentor_on_call=True, after_hours_ok=False, boundaries="professional")
        proposed = agreements.propose(session, pairing_id, mentor, terms, at)
        assert agreements.accept(session, pairing_id, mentee, proposed.terms.fingerprint, at).settled


# ---------------------------------------------------------------------------------------------------------------
async def test_a_queued_reask_is_dropped_once_the_pair_logs_the_meeting(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock, runtime: Runtime
) -> None:
    """The pair says "Not yet" to "Did you meet?", meets the next day and logs it: the re-ask queued for
    three days later is not sent."""
    clock.set(datetime(2025, 3, 26, 18, tzinfo=UTC))  # Wednesday 11 AM in Los Angeles
    slack.block_action(MENTEE, "shelfmate_not_yet", str(pairing_id))
    assert "ask again" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]

    clock.set(datetime(2025, 3, 27, 18, tzinfo=UTC))
    response = slack.view_submission(
        MENTOR,
        "shelfmate_checkin",
        checkin_state("2025-03-27"),
        private_metadata=json.dumps({"pairing_id": pairing_id}),
    )
    assert response.status_code == 200 and response.content in (b"", b"{}")
    with session_scope(engine) as session:
        assert [c.met_on for c in session.exec(select(CheckIn))] == [date(2025, 3, 27)]

    clock.set(datetime(2025, 3, 31, 17, tzinfo=UTC))  # Monday 10 AM in Los Angeles
    await tick(runtime)
    asked = [t for t in posted_texts(emulator) if "did you meet this month" in t]
    assert asked == [], f"the pair logged a meeting on Mar 27 but was still asked: {asked}"


async def test_status_and_home_say_the_program_ended_after_its_last_day(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock, runtime: Runtime
) -> None:
    """After the wrap-up ends the pairing, `/mentor status` and the Home tab say the program ended and thank
    the mentee, not that her coordinator is preparing matches."""
    clock.set(datetime(2025, 7, 1, 18, tzinfo=UTC))  # the day after Jun 30, 11 AM in Los Angeles
    await tick(runtime)
    assert any("has come to an end" in t for t in posted_texts(emulator))  # the wrap-up went out
    body = slack.mentor(MENTEE, "status").json()
    text = block_texts(body["blocks"])
    assert "preparing matches" not in text, text
    assert "ended" in text, text


def test_a_mentor_with_two_mentees_sees_both(
    slack: SlackDriver, engine: Engine, program_id: int, pairing_id: int
) -> None:
    """A mentor who takes two mentees (capacity 2) sees both named on `/mentor status` and the Home tab."""
    hand_pair(engine, program_id, MENTOR, MENTEE2)
    body = slack.mentor(MENTOR, "status").json()
    text = block_texts(body["blocks"])
    assert f"<@{MENTEE}>" in text
    assert f"<@{MENTEE2}>" in text, text


def test_editing_a_profile_while_matched_confirms_the_edit(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock
) -> None:
    """A matched mentee who fixes her district name in April is told her profile is updated, not that
    applications close in February and she will hear when she is matched."""
    clock.set(datetime(2025, 4, 10, 18, tzinfo=UTC))
    slack.mentor(MENTEE, "profile")
    view = opened_view(emulator)
    slack.view_submission(
        MENTEE, view["callback_id"], intake_state(role=None, organization="Neighbouring USD"),
        private_metadata=view["private_metadata"],
    )  # fmt: skip
    dm = wait_for(lambda: [m for m in emulator.messages_in(MENTEE) if "profile is updated" in m["text"]])
    text = block_texts(dm[-1]["blocks"])
    assert "you'll hear from me when you're matched" not in text, text
    assert "Applications close on Feb 17, 2025" not in text, text


def test_a_pair_renegotiating_its_agreement_keeps_its_weekly_cadence(engine: Engine, pairing_id: int) -> None:
    """A pair settled on weekly meetings; while a small change one of them proposed waits for the partner,
    the bot keeps nudging them weekly (the settled terms stay in force)."""
    settle(engine, pairing_id, "weekly", datetime(2025, 2, 25, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        change = agreements.Terms(cadence="weekly", mentor_on_call=True, after_hours_ok=True, boundaries="professional")
        agreements.propose(session, pairing_id, MENTOR, change, datetime(2025, 3, 2, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        schedule.plan(session, datetime(2025, 3, 4, 18, tzinfo=UTC))  # Tuesday, the middle of week 1
    with session_scope(engine) as session:
        nudges = [(d.kind, d.period) for d in session.exec(select(Delivery).where(Delivery.pairing_id == pairing_id))]
    assert ("nudge", "weekly-1") in nudges, nudges


def test_pause_until_tomorrow_is_accepted_in_the_evening(
    slack: SlackDriver, pairing_id: int, clock: FixedClock
) -> None:
    """At 5:30 PM on Mar 10 in Los Angeles (already Mar 11 in UTC), `/mentor pause until 2025-03-11` is
    accepted: "today" is the librarian's own date."""
    clock.set(datetime(2025, 3, 11, 0, 30, tzinfo=UTC))  # Mar 10, 5:30 PM in Los Angeles
    text = slack.mentor(MENTEE, "pause until 2025-03-11").json()["text"]
    assert "Paused until Mar 11, 2025" in text, text


def test_an_open_ended_pause_excuses_the_pair_from_at_risk_alerts(
    slack: SlackDriver, engine: Engine, pairing_id: int, clock: FixedClock
) -> None:
    """The mentee pauses with no end date on Apr 1 after meeting in March: the months of a pause still
    running are excused, so on Jun 2 coordinators get no "missed 2 periods" alert for the pair."""
    settle(engine, pairing_id, "monthly", datetime(2025, 2, 25, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        session.add(
            CheckIn(pairing_id=pairing_id, logged_by=MENTEE, met_on=date(2025, 3, 5), duration_minutes=45,
                    idempotency_key=f"pairing:{pairing_id}:2025-03-05")
        )  # fmt: skip
    clock.set(datetime(2025, 4, 1, 18, tzinfo=UTC))
    assert "Paused" in slack.mentor(MENTEE, "pause").json()["text"]
    with session_scope(engine, write=True) as session:
        report = schedule.plan(session, datetime(2025, 6, 2, 18, tzinfo=UTC))
    with session_scope(engine) as session:
        alerts = [d.kind for d in session.exec(select(Delivery)) if d.kind == "at_risk"]
        flagged = session.get(Pairing, pairing_id).at_risk
    assert (report.at_risk, alerts, flagged) == ([], [], False)


async def test_a_pair_reads_its_meetings_back_after_the_program_ended(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, pairing_id: int, clock: FixedClock, runtime: Runtime
) -> None:
    """After the program ends, `/mentor checkins` still shows the pair's meetings and private notes to
    each of the two."""
    with session_scope(engine, write=True) as session:
        session.add(
            CheckIn(pairing_id=pairing_id, logged_by=MENTEE, met_on=date(2025, 5, 5), duration_minutes=45,
                    private_note="Ask about the book fair", idempotency_key=f"pairing:{pairing_id}:2025-05-05")
        )  # fmt: skip
    clock.set(datetime(2025, 7, 1, 18, tzinfo=UTC))
    await tick(runtime)
    text = slack.mentor(MENTEE, "checkins").json()["text"]
    assert "log a meeting with yet" not in text, text
    assert "May 5" in text, text


def test_a_pair_matched_in_may_is_not_at_risk_for_march_and_april(engine: Engine, program_id: int) -> None:
    """A coordinator pairs a mentee with a new mentor on May 12: March and April, before the pair existed,
    are not counted as missed meetings."""
    pairing_id = hand_pair(engine, program_id, MENTOR, MENTEE2, now=datetime(2025, 5, 12, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        report = schedule.plan(session, datetime(2025, 5, 14, 18, tzinfo=UTC))
    with session_scope(engine) as session:
        alerts = [d.payload for d in session.exec(select(Delivery)) if d.kind == "at_risk"]
        flagged = session.get(Pairing, pairing_id).at_risk
    assert (report.at_risk, alerts, flagged) == ([], [], False)


def test_joining_from_the_home_tab_refreshes_the_home_tab(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, program_id: int
) -> None:
    """A librarian presses *Join a program* on the Home tab and applies: the Home tab she is looking at
    shows her application, not only the welcome text and the Join button."""
    new = "U0RVNEWLB"
    emulator.add_user(new, name="sam", real_name="Sam Solo", tz=LA)
    slack.app_home_opened(new)
    before = wait_for(lambda: emulator.home_view(new))
    assert "Join a program" in block_texts(before["blocks"])
    slack.block_action(new, "shelfmate_join", "join", view={"id": "V0HOME", "type": "home"})
    view = opened_view(emulator)
    response = slack.view_submission(
        new, view["callback_id"], intake_state(), private_metadata=view["private_metadata"]
    )
    assert response.status_code == 200
    wait_for(lambda: [m for m in emulator.messages_in(new) if "Thanks for applying" in m["text"]])
    emulator.wait_idle()
    with contextlib.suppress(AssertionError):  # give a late republish of the Home tab time to land
        wait_for(lambda: "PLSEP Mentorship 2025" in block_texts(emulator.home_view(new)["blocks"]), timeout=3)
    home = block_texts(emulator.home_view(new)["blocks"])
    assert "PLSEP Mentorship 2025" in home, home

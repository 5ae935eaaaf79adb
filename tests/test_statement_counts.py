"""Reads over a whole program cost a fixed number of SQL statements, however many pairs it has: a 280-pair
cohort's export, audit trail or profile-edit notice must not run a query per pair (one round trip each on
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.services import profile_changes, reports
from bot.services import programs as program_service
from storage.engine import session_scope
from storage.models import AuditEvent, CheckIn, Enrollment, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import make_program, stored_enrollment, stored_pairing

APPROVED = datetime(2025, 2, 20, tzinfo=UTC)
NOW = datetime(2025, 5, 20, 18, 0, tzinfo=UTC)
SMALL, LARGE = 10, 50


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def one_mentor_program(engine: Engine, pairs: int, *, name: str) -> dict[str, Any]:
    """A program where one mentor is paired with `pairs` mentees, each pair with two check-ins, and an audit
    event (an approval) naming each pairing."""
    program = make_program(engine, name=name)
    mentor_id = f"U0M{name[-3:]}"
    with session_scope(engine, write=True) as session:
        session.add(Person(slack_user_id=mentor_id, display_name="mentor", timezone="America/Los_Angeles"))
        session.flush()
        mentor = stored_enrollment(session, program.id, mentor_id, "mentor", capacity=pairs)
        for n in range(pairs):
            mentee_id = f"U0E{name[-3:]}{n:03d}"
            session.add(Person(slack_user_id=mentee_id, display_name=f"mentee {n}", timezone="America/Los_Angeles"))
            session.flush()
            mentee = stored_enrollment(session, program.id, mentee_id, "mentee", organization="Y")
            pairing = stored_pairing(session, mentor, mentee, APPROVED)
            for day in (date(2025, 3, 5), date(2025, 4, 9)):
                session.add(
                    CheckIn(
                        pairing_id=pairing.id, logged_by=mentee_id, met_on=day, duration_minutes=45, rating=4,
                        idempotency_key=f"{pairing.id}:{day}", topics=["reference"],
                    )
                )  # fmt: skip
            session.add(
                AuditEvent(actor=ADMIN_ID, action="approve_pairing", program_id=program.id,
                           detail={"pairing_id": pairing.id})
            )  # fmt: skip
    return {"program_id": program.id, "mentor_enrollment_id": mentor.id}


def statements_for(engine: Engine, pairs: int, work: Callable[[Session, dict[str, Any]], Any]) -> int:
    """How many statements `work` sends on a fresh session, for a program of `pairs` pairs."""
    state = one_mentor_program(engine, pairs, name=f"Cohort {pairs:03d}")
    with session_scope(engine, write=True) as session:
        state["program"] = session.get(Program, state["program_id"])
        state["mentor"] = session.get(Enrollment, state["mentor_enrollment_id"])
        with counted_statements(engine) as sent:
            work(session, state)
    return len(sent)


@pytest.mark.parametrize("kind", ["checkins", "hours"])
def test_an_export_reads_check_ins_in_one_query_whatever_the_number_of_pairs(engine: Engine, kind: str) -> None:
    def export(session: Session, state: dict[str, Any]) -> None:
        rows = reports.export_csv(session, state["program"], kind).decode().splitlines()
        assert len(rows) > 1

    assert statements_for(engine, SMALL, export) == statements_for(engine, LARGE, export)


def test_the_audit_trail_names_its_pairs_in_fixed_queries_whatever_their_number(engine: Engine) -> None:
    def trail(session: Session, state: dict[str, Any]) -> None:
        found = program_service.audit_trail(session, ADMIN_ID, frozenset({ADMIN_ID}), limit=500)
        assert set(found.pairs) == {e.detail["pairing_id"] for e in found.events if "pairing_id" in e.detail}

    assert statements_for(engine, SMALL, trail) == statements_for(engine, LARGE, trail)


def test_a_mentors_edit_is_weighed_for_all_their_pairs_in_fixed_queries(engine: Engine) -> None:
    def edit(session: Session, state: dict[str, Any]) -> None:
        mentor: Enrollment = state["mentor"]
        before = profile_changes.match_answers(mentor)
        mentor.specializations = ["cataloging"]
        keys = profile_changes.queue_edit_notice(session, mentor, before, NOW)
        assert len(keys) == 1

    assert statements_for(engine, SMALL, edit) == statements_for(engine, LARGE, edit)

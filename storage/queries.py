"""Query functions: each takes a session. Nothing outside storage/ builds SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import bindparam, case, func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.models import (
    LIVE_PAIRING_STATUSES,
    Agreement,
    AuditEvent,
    CheckIn,
    ClockSetting,
    Enrollment,
    EnrollmentStatus,
    Pairing,
    PairingStatus,
    Person,
    ProcessedRequest,
    Program,
    SurveyResponse,
)

# The statements run on almost every request are built once: building a select and computing its cache key
# cost about as much as running it through the ORM (~0.1 ms each), and the SQL is the same every time.
_UNCLOSED_PROGRAMS = select(Program).where(Program.closed_at.is_(None)).order_by(Program.id)
_ALL_PROGRAMS = select(Program).order_by(
    case((Program.closed_at.is_(None), 0), else_=1), Program.starts_on.desc(), Program.id.desc()
)
_PEOPLE = select(Person).where(Person.slack_user_id.in_(bindparam("user_ids", expanding=True)))
_ENROLLMENT_FOR = select(Enrollment).where(
    Enrollment.program_id == bindparam("program_id"),
    Enrollment.person_id == bindparam("person_id"),
    Enrollment.role == bindparam("role"),
)
_ENROLLMENTS_OF_PERSON = (
    select(Enrollment).where(Enrollment.person_id == bindparam("person_id")).order_by(Enrollment.id)
)
_PAIRINGS_OF_ENROLLMENTS = select(Pairing).where(
    or_(
        Pairing.mentor_enrollment_id.in_(bindparam("enrollment_ids", expanding=True)),
        Pairing.mentee_enrollment_id.in_(bindparam("enrollment_ids", expanding=True)),
    )
)
_LIVE_PAIRINGS_OF_ENROLLMENTS = _PAIRINGS_OF_ENROLLMENTS.where(
    Pairing.status.in_([s.value for s in LIVE_PAIRING_STATUSES])
).order_by(Pairing.id)
_PAIRINGS_OF_ENROLLMENTS = _PAIRINGS_OF_ENROLLMENTS.order_by(Pairing.id)
_AGREEMENT_FOR = select(Agreement).where(Agreement.pairing_id == bindparam("pairing_id"))
_CHECKINS_FOR_PAIRING = select(CheckIn).where(CheckIn.pairing_id == bindparam("pairing_id")).order_by(CheckIn.met_on)


def get_rehearsal_now(session: Session) -> datetime | None:
    row = session.get(ClockSetting, 1)
    return row.now if row is not None else None


def set_rehearsal_now(session: Session, moment: datetime) -> None:
    row = session.get(ClockSetting, 1)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if row is None:
        session.add(ClockSetting(id=1, now=aware))
    else:
        row.now = aware
        session.add(row)


# -- programs ------------------------------------------------------------------------------------------
def program_by_name(session: Session, name: str) -> Program | None:
    return session.exec(select(Program).where(func.lower(Program.name) == name.strip().lower())).first()


def program_by_id(session: Session, program_id: int) -> Program | None:
    return session.get(Program, program_id)


def lock_program(session: Session, program_id: int) -> None:
    """Hold the program's row until the transaction ends (PostgreSQL; SQLite's writers already serialize),
    so its pairing decisions (approve, pair by hand, dissolve) are made one at a time.

    The `lock_*` functions take FOR NO KEY UPDATE, not FOR UPDATE: rows inserted meanwhile that refer to the
    locked one (a delivery naming its program) need only a key-share lock on it, so they do not wait, and a
    pair action (pairing locked, then a delivery for its program) cannot deadlock with a coordinator's
    decision (program locked, then the pairing updated)."""
    session.exec(select(Program.id).where(Program.id == program_id).with_for_update(key_share=True)).first()


def all_programs(session: Session) -> list[Program]:
    """Open programs first, then closed ones; newest first within each: what a coordinator looks for is this
    year's program, not the oldest on record."""
    return list(session.exec(_ALL_PROGRAMS))


def unclosed_programs(session: Session) -> list[Program]:
    return list(session.exec(_UNCLOSED_PROGRAMS))


# -- people --------------------------------------------------------------------------------------------
def person(session: Session, user_id: str) -> Person | None:
    return session.get(Person, user_id)


def ensure_person(session: Session, user_id: str) -> Person:
    """The person's row, inserted if missing. The insert is the check, so two racing requests both succeed."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    session.execute(
        insert(Person)
        .values(slack_user_id=user_id, display_name="", timezone="UTC", created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["slack_user_id"])
    )
    person = session.get(Person, user_id)
    assert person is not None
    return person


def lock_person(session: Session, user_id: str) -> None:
    """Hold the person's row until the transaction ends (PostgreSQL), so their own requests apply one at a time."""
    session.exec(
        select(Person.slack_user_id).where(Person.slack_user_id == user_id).with_for_update(key_share=True)
    ).first()


def people(session: Session, user_ids: list[str]) -> dict[str, Person]:
    if not user_ids:
        return {}
    rows = session.exec(_PEOPLE, params={"user_ids": user_ids})
    return {row.slack_user_id: row for row in rows}


# -- enrollments ---------------------------------------------------------------------------------------
def enrollment(session: Session, enrollment_id: int) -> Enrollment | None:
    return session.get(Enrollment, enrollment_id)


def enrollment_for(session: Session, program_id: int, person_id: str, role: str) -> Enrollment | None:
    return session.exec(
        _ENROLLMENT_FOR, params={"program_id": program_id, "person_id": person_id, "role": role}
    ).first()


def enrollments_of_person(session: Session, person_id: str) -> list[Enrollment]:
    return list(session.exec(_ENROLLMENTS_OF_PERSON, params={"person_id": person_id}))


def enrollments_in_program(session: Session, program_id: int, role: str | None = None) -> list[Enrollment]:
    statement = select(Enrollment).where(Enrollment.program_id == program_id)
    if role is not None:
        statement = statement.where(Enrollment.role == role)
    return list(session.exec(statement.order_by(Enrollment.id)))


def waitlisted_in_program(session: Session, program_id: int) -> list[Enrollment]:
    """Only the waitlist: the sweep asks this of every program each minute, and a program may hold thousands."""
    statement = select(Enrollment).where(
        Enrollment.program_id == program_id, Enrollment.status == EnrollmentStatus.WAITLISTED
    )
    return list(session.exec(statement.order_by(Enrollment.id)))


def enrollments_by_id(session: Session, enrollment_ids: list[int]) -> dict[int, Enrollment]:
    if not enrollment_ids:
        return {}
    rows = session.exec(select(Enrollment).where(Enrollment.id.in_(enrollment_ids)))
    return {row.id: row for row in rows if row.id is not None}


def paused_enrollments_due(session: Session, today: date) -> list[Enrollment]:
    return list(
        session.exec(
            select(Enrollment).where(
                Enrollment.status == EnrollmentStatus.PAUSED,
                Enrollment.paused_until.is_not(None),
                Enrollment.paused_until <= today,
            )
        )
    )


# -- pairings ------------------------------------------------------------------------------------------
def pairing(session: Session, pairing_id: int) -> Pairing | None:
    return session.get(Pairing, pairing_id)


def pairings_by_id(session: Session, pairing_ids: list[int]) -> dict[int, Pairing]:
    """Pairing id -> pairing, in one query (the pairings a page of audit events is about)."""
    if not pairing_ids:
        return {}
    rows = session.exec(select(Pairing).where(Pairing.id.in_(pairing_ids)))
    return {row.id: row for row in rows if row.id is not None}


def pairings_of_enrollments(session: Session, enrollment_ids: list[int], *, live_only: bool = True) -> list[Pairing]:
    if not enrollment_ids:
        return []
    statement = _LIVE_PAIRINGS_OF_ENROLLMENTS if live_only else _PAIRINGS_OF_ENROLLMENTS
    return list(session.exec(statement, params={"enrollment_ids": list(enrollment_ids)}))


def pairings_in_program(
    session: Session, program_id: int, statuses: list[str] | None = None, *, ids: list[int] | None = None
) -> list[Pairing]:
    statement = select(Pairing).where(Pairing.program_id == program_id)
    if statuses is not None:
        statement = statement.where(Pairing.status.in_(statuses))
    if ids is not None:
        statement = statement.where(Pairing.id.in_(ids))
    return list(session.exec(statement.order_by(Pairing.id)))


def ended_early_pairs(session: Session) -> list[tuple[int, str, str]]:
    """(program id, mentor's person id, mentee's person id) of every pairing approved and then dissolved, in any
    program. A never-approved proposal (rejected, or dropped when its program ended) is not one of them."""
    mentor, mentee = aliased(Enrollment), aliased(Enrollment)
    statement = (
        select(Pairing.program_id, mentor.person_id, mentee.person_id)
        .join(mentor, mentor.id == Pairing.mentor_enrollment_id)
        .join(mentee, mentee.id == Pairing.mentee_enrollment_id)
        .where(Pairing.status == PairingStatus.DISSOLVED, Pairing.approved_at.is_not(None))
    )
    return [(program_id, mentor_id, mentee_id) for program_id, mentor_id, mentee_id in session.exec(statement)]


def checkins_by(session: Session, person_id: str) -> list[CheckIn]:
    return list(session.exec(select(CheckIn).where(CheckIn.logged_by == person_id)))


# -- requests ------------------------------------------------------------------------------------------
def remember_request(session: Session, key: str, now: datetime) -> bool:
    """True the first time a key is seen. The insert is the check, so two racing requests cannot both win."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = (
        insert(ProcessedRequest)
        .values(key=key, at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(ProcessedRequest.key)
    )
    # rowcount is -1 for this statement on psycopg; RETURNING says reliably whether a row went in.
    return session.execute(statement).first() is not None


def request_seen(session: Session, key: str) -> bool:
    return session.get(ProcessedRequest, key) is not None


# -- audit ---------------------------------------------------------------------------------------------
def latest_audit_event(session: Session, program_id: int, action: str) -> AuditEvent | None:
    """The program's last event of this kind recorded (by id, as `audit_events_after`: a rehearsal clock set
    back stamps a newer row with an older `at`)."""
    statement = select(AuditEvent).where(AuditEvent.program_id == program_id, AuditEvent.action == action)
    return session.exec(statement.order_by(AuditEvent.id.desc()).limit(1)).first()


def audit_events_after(session: Session, program_id: int, actions: list[str], after: AuditEvent) -> list[AuditEvent]:
    """The program's events of these kinds recorded after `after` (by id: later rows, whatever their clock said)."""
    statement = select(AuditEvent).where(
        AuditEvent.program_id == program_id, AuditEvent.action.in_(actions), AuditEvent.id > after.id
    )
    return list(session.exec(statement.order_by(AuditEvent.id)))


def audit_events(session: Session, limit: int, program_ids: set[int] | None = None) -> list[AuditEvent]:
    """Newest first; `program_ids` limits them to those programs."""
    statement = select(AuditEvent)
    if program_ids is not None:
        statement = statement.where(AuditEvent.program_id.in_(sorted(program_ids)))
    return list(session.exec(statement.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


def enrollment_counts(session: Session) -> dict[int, dict[str, int]]:
    """Program id -> role -> enrollments that are not withdrawn."""
    rows = session.exec(
        select(Enrollment.program_id, Enrollment.role, func.count())
        .where(Enrollment.status != EnrollmentStatus.WITHDRAWN)
        .group_by(Enrollment.program_id, Enrollment.role)
    )
    counts: dict[int, dict[str, int]] = {}
    for program_id, role, count in rows:
        counts.setdefault(program_id, {})[role] = count
    return counts


def pair_members(session: Session, pairing: Pairing) -> tuple[str, str] | None:
    """(mentor person id, mentee person id) of a pairing."""
    mentor = session.get(Enrollment, pairing.mentor_enrollment_id)
    mentee = session.get(Enrollment, pairing.mentee_enrollment_id)
    if mentor is None or mentee is None:
        return None
    return mentor.person_id, mentee.person_id


def agreement_for(session: Session, pairing_id: int, *, for_update: bool = False) -> Agreement | None:
    if for_update:  # PostgreSQL row lock; SQLite ignores it (its writers hold the database lock)
        return session.exec(_AGREEMENT_FOR.with_for_update(), params={"pairing_id": pairing_id}).first()
    return session.exec(_AGREEMENT_FOR, params={"pairing_id": pairing_id}).first()


def lock_pairing(session: Session, pairing_id: int) -> None:
    """Hold the pairing's row until the transaction ends (PostgreSQL), so its agreement changes one at a time."""
    session.exec(select(Pairing.id).where(Pairing.id == pairing_id).with_for_update(key_share=True)).first()


def survey_response(session: Session, pairing_id: int, person_id: str) -> SurveyResponse | None:
    statement = select(SurveyResponse).where(
        SurveyResponse.pairing_id == pairing_id, SurveyResponse.person_id == person_id
    )
    return session.exec(statement).first()


def survey_responses_in_program(session: Session, program_id: int) -> list[SurveyResponse]:
    statement = (
        select(SurveyResponse)
        .join(Pairing, Pairing.id == SurveyResponse.pairing_id)
        .where(Pairing.program_id == program_id)
    )
    return list(session.exec(statement.order_by(SurveyResponse.id)))


def checkins_for_pairing(session: Session, pairing_id: int) -> list[CheckIn]:
    return list(session.exec(_CHECKINS_FOR_PAIRING, params={"pairing_id": pairing_id}))


def checkin_by_key(session: Session, idempotency_key: str) -> CheckIn | None:
    return session.exec(select(CheckIn).where(CheckIn.idempotency_key == idempotency_key)).first()


def agreements_for_pairings(session: Session, pairing_ids: list[int]) -> dict[int, Agreement]:
    if not pairing_ids:
        return {}
    rows = session.exec(select(Agreement).where(Agreement.pairing_id.in_(pairing_ids)))
    return {row.pairing_id: row for row in rows}


# Ids per IN list: far below SQLite's and PostgreSQL's limits on bound parameters, whatever the program's size.
IN_CHUNK = 900


def checkins_by_pairing(session: Session, pairing_ids: list[int]) -> dict[int, list[CheckIn]]:
    """Pairing id -> its check-ins, oldest first: a query per 900 pairings, not one per pairing (a summary of
    a 280-pair program, the Home tab's coordinator section)."""
    out: dict[int, list[CheckIn]] = {}
    for start in range(0, len(pairing_ids), IN_CHUNK):
        chunk = pairing_ids[start : start + IN_CHUNK]
        rows = session.exec(select(CheckIn).where(CheckIn.pairing_id.in_(chunk)).order_by(CheckIn.met_on, CheckIn.id))
        for checkin in rows:
            out.setdefault(checkin.pairing_id, []).append(checkin)
    return out


def checkin_days_by_pairing(session: Session, pairing_ids: list[int]) -> dict[int, list[date]]:
    """Pairing id -> the days it met, oldest first; one query for a whole program."""
    if not pairing_ids:
        return {}
    out: dict[int, list[date]] = {}
    rows = session.exec(
        select(CheckIn.pairing_id, CheckIn.met_on).where(CheckIn.pairing_id.in_(pairing_ids)).order_by(CheckIn.met_on)
    )
    for pairing_id, met_on in rows:
        out.setdefault(pairing_id, []).append(met_on)
    return out


def dm_channel_of(session: Session, user_id: str) -> str | None:
    person = session.get(Person, user_id)
    return person.dm_channel_id if person is not None else None


def remember_dm_channel(session: Session, user_id: str, channel_id: str) -> None:
    """Store a person's DM channel with the bot (known people only: the row carries their profile)."""
    person = session.get(Person, user_id)
    if person is not None and person.dm_channel_id != channel_id:
        person.dm_channel_id = channel_id
        session.add(person)

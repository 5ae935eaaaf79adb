"""Issue 7 "Migrations": a database made by the first migration, holding data in every table, upgrades to head
and loses nothing: every row keeps every value, and the app reads them back for the people they belong to.

Runs on SQLite, and on PostgreSQL when SHELFMATE_TEST_DATABASE_URL is set; the shared PostgreSQL database is
always left migrated to head, whatever happens in the test.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import select as orm_select

from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from storage.engine import make_engine
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import Agreement, CheckIn, Delivery, Enrollment, Pairing, Person, Program
from tests.app_server import AppServer
from tests.conftest import SIGNING_SECRET
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator

AT = datetime(2025, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
LONG_NAME = "Bibliothèque & Library Śystem — Région 北 " + "x" * 60  # 100 characters, non-ASCII
NOTE = "Private: we talked about the budget; ünïcode and 'quotes' and \"double\" and a\nnewline"
MENTOR, MENTEE = "U0MIGMENTR", "U0MIGMENTE"

# One or more rows for every table the first migration creates, in foreign-key order.
ROWS: dict[str, list[dict[str, Any]]] = {
    "clocksetting": [{"id": 1, "now": AT}],
    "person": [
        {
            "slack_user_id": uid, "display_name": f"Person {uid} ✓", "timezone": "America/Chicago",
            "is_bot": False, "is_guest": uid == MENTEE, "deactivated": False, "dm_channel_id": f"D{uid[1:]}",
            "unreachable_reason": None, "refreshed_at": AT, "created_at": AT,
        }
        for uid in (MENTOR, MENTEE)
    ],
    "processedrequest": [{"key": "view:V0MODAL01:1700000000.abcdef", "at": AT}],
    "program": [
        {
            "id": 7, "name": LONG_NAME, "applications_open": date(2025, 1, 6),
            "applications_close": date(2025, 2, 17), "agreement_due": date(2025, 3, 1),
            "starts_on": date(2025, 3, 3), "ends_on": date(2025, 6, 30), "default_cadence": "biweekly",
            "min_mentor_years": 4, "default_capacity": 3, "eligibility": "allowlist",
            "eligibility_allowlist": [MENTOR, MENTEE], "eligibility_channel": None, "allow_guests": True,
            "admin_channel": "C0MIGADMIN", "timezone": "America/New_York",
            "blackouts": [["2025-04-07", "2025-04-11"]], "cross_org": "prefer", "neighbor_orgs": ["Riverside USD"],
            "weights": {"specialization": 4.5, "library_type": 2.0}, "admins": ["U0COORD01"],
            "digest_weekday": 3, "digest_hour": 8, "closed_at": None, "created_at": AT,
        }
    ],
    "auditevent": [
        {
            "id": 11, "actor": "U0COORD01", "action": "program.create", "program_id": 7,
            "detail": {"fields": ["name", "dates"], "nested": {"ok": True}}, "at": AT,
        }
    ],
    "enrollment": [
        {
            "id": 21, "program_id": 7, "person_id": MENTOR, "role": "mentor", "status": "matched",
            "library_type": "public", "organization": "County Library System", "region": "Central Valley",
            "specializations": ["youth_services", "reference"], "years_experience": 17, "grade_levels": [],
            "goals": "Give back. " * 50, "meeting_format": "video", "capacity": 3, "not_with": ["U0NOTHER1"],
            "waitlist_reason": None, "paused_until": None, "status_before_pause": None,
            "created_at": AT, "updated_at": AT,
        },
        {
            "id": 22, "program_id": 7, "person_id": MENTEE, "role": "mentee", "status": "paused",
            "library_type": "school", "organization": "Riverside Unified", "region": "",
            "specializations": ["school_instruction"], "years_experience": 0, "grade_levels": ["middle", "high"],
            "goals": "", "meeting_format": "in_person", "capacity": 0, "not_with": [],
            "waitlist_reason": "Waiting for a mentor with school experience.", "paused_until": date(2025, 4, 30),
            "status_before_pause": "matched", "created_at": AT, "updated_at": AT,
        },
    ],
    "pairing": [
        {
            "id": 31, "program_id": 7, "mentor_enrollment_id": 21, "mentee_enrollment_id": 22, "status": "active",
            "score": 87.125, "reasons": ["Both know school libraries", "Same region"],
            "conversation_id": "G0MIGPAIR1", "at_risk": True, "decided_by": "U0COORD01", "created_at": AT,
            "approved_at": AT, "ended_at": None, "end_reason": None,
        }
    ],
    "agreement": [
        {
            "id": 41, "pairing_id": 31, "cadence": "weekly", "mentor_on_call": True, "after_hours_ok": False,
            "boundaries": "open", "first_meeting_on": date(2025, 3, 10), "proposed_by": MENTEE,
            "mentor_accepted_at": AT, "mentee_accepted_at": AT, "updated_at": AT,
        }
    ],
    "checkin": [
        {
            "id": 51, "pairing_id": 31, "logged_by": MENTEE, "met_on": date(2025, 3, 12), "duration_minutes": 55,
            "format": "phone", "topics": ["school_instruction", "budget season"], "rating": 5,
            "private_note": NOTE, "idempotency_key": "pairing:31:2025-03-12", "created_at": AT,
        }
    ],
    "delivery": [
        {
            "id": 61, "kind": "nudge", "subject": "pairing:31", "period": "2025-03", "program_id": 7,
            "pairing_id": 31, "recipient": f"{MENTOR},{MENTEE}", "status": "sent", "due_at": AT,
            "payload": {"text": "Time to meet?", "n": 2}, "claimed_at": AT, "claim_token": "tok-1", "attempts": 1,
            "channel_id": "G0MIGPAIR1", "message_ts": "1741780800.000100", "error": None, "sent_at": AT,
            "created_at": AT,
        },
        {
            "id": 62, "kind": "intro", "subject": "pairing:31", "period": "once", "program_id": None,
            "pairing_id": None, "recipient": "C0MIGADMIN", "status": "undeliverable", "due_at": AT, "payload": {},
            "claimed_at": None, "claim_token": None, "attempts": 3, "channel_id": None, "message_ts": None,
            "error": "channel_not_found", "sent_at": None, "created_at": AT,
        },
    ],
}  # fmt: skip


def first_revision(url: str) -> str:
    base = ScriptDirectory.from_config(alembic_config(url)).get_base()
    assert isinstance(base, str), f"the migrations must start from one revision, not {base!r}"
    return base


def drop_everything(engine: Engine) -> None:
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or the shared PostgreSQL database emptied.

    PostgreSQL is shared by the whole run, so it is put back at head (and emptied) whatever happens here.
    """
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'from-first-migration.db'}"
        return
    engine = make_engine(database_url)
    try:
        drop_everything(engine)
        yield database_url
    finally:
        try:
            upgrade(database_url)
        except Exception:  # a half-upgraded schema: start over so later tests find head
            drop_everything(engine)
            upgrade(database_url)
        engine.dispose()


def normalized(value: Any) -> Any:
    """Datetimes compare as UTC instants (SQLite keeps no offset); JSON read back as text is decoded."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value


def read_rows(engine: Engine, table_name: str) -> dict[Any, dict[str, Any]]:
    table = Table(table_name, MetaData(), autoload_with=engine)
    key = [c.name for c in table.primary_key.columns]
    with engine.connect() as connection:
        rows = connection.execute(select(table)).mappings().all()
    return {tuple(row[k] for k in key): {c: normalized(v) for c, v in row.items()} for row in rows}


def test_upgrading_from_the_first_migration_keeps_every_row_and_value(
    empty_database_url: str, emulator: SlackEmulator, settings: Settings
) -> None:
    url = empty_database_url
    base = first_revision(url)
    upgrade(url, base)
    assert current_revision(url) == base
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set(ROWS), f"write rows for every table of the first migration; missing {tables - set(ROWS)}"

        # Insert through the tables exactly as the first migration made them.
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.begin() as connection:
            for name, rows in ROWS.items():
                connection.execute(metadata.tables[name].insert(), rows)
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them, as the app would
            with engine.begin() as connection:
                for name, rows in ROWS.items():
                    if "id" in rows[0] and isinstance(rows[0]["id"], int):
                        connection.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM \"{name}\"))"
                        )
        before = {name: read_rows(engine, name) for name in ROWS}
        for name, rows in ROWS.items():  # what was read back at the first revision is what was written
            assert len(before[name]) == len(rows), name
    finally:
        engine.dispose()

    upgrade(url)  # to head, as `shelfmate db upgrade` does
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert current_revision(url) == head

    engine = make_engine(url)
    try:
        for name, old_rows in before.items():
            new_rows = read_rows(engine, name)
            assert set(new_rows) == set(old_rows), f"{name}: rows lost or added by the upgrade"
            for key, old in old_rows.items():
                new = new_rows[key]
                lost = {c: (v, new.get(c, "<column gone>")) for c, v in old.items() if new.get(c, object()) != v}
                assert not lost, f"{name} {key}: values changed by the upgrade: {lost}"

        # The app's own models read the upgraded rows, with defaults for columns added since.
        with Session(engine) as session:
            mentee = session.get(Enrollment, 22)
            assert mentee is not None and mentee.grade_levels == ["middle", "high"]
            assert mentee.paused_until == date(2025, 4, 30) and mentee.status_before_pause == "matched"
            assert mentee.pause_history == [] and mentee.paused_on is None
            program = session.get(Program, 7)
            assert program is not None and program.name == LONG_NAME and program.weights["specialization"] == 4.5
            assert program.blackouts == [["2025-04-07", "2025-04-11"]]
            # Made before programs had their own work day: it keeps the 9 AM - 5 PM it always had.
            assert (program.work_day_starts, program.work_day_ends) == (time(9, 0), time(17, 0))
            checkin = session.exec(orm_select(CheckIn)).one()
            assert checkin.private_note == NOTE and checkin.created_at == AT
            agreement = session.get(Agreement, 41)
            assert agreement is not None and agreement.first_meeting_on == date(2025, 3, 10)
            # Both had accepted it: its terms are kept as the settled ones a later proposal must not displace.
            settled = (
                agreement.settled_cadence, agreement.settled_mentor_on_call, agreement.settled_after_hours_ok,
                agreement.settled_boundaries, agreement.settled_first_meeting_on,
            )  # fmt: skip
            assert settled == ("weekly", True, False, "open", date(2025, 3, 10))
            assert session.get(Pairing, 31).score == 87.125  # type: ignore[union-attr]
            assert session.get(Delivery, 61).payload == {"text": "Time to meet?", "n": 2}  # type: ignore[union-attr]
            assert session.get(Person, MENTEE).is_guest is True  # type: ignore[union-attr]
            gone = session.get(Person, MENTOR)
            assert gone is not None and gone.deactivated_on is None and gone.deactivation_history == []
    finally:
        engine.dispose()

    # And the people see their data through the app running on the upgraded database.
    engine = make_engine(url)
    runtime = create_runtime(
        dataclasses.replace(settings, database_url=url),
        engine=engine,
        clock=FixedClock(datetime(2025, 3, 20, 18, tzinfo=UTC)),
    )
    server = AppServer(runtime).start()
    slack = SlackDriver(
        server.url,
        SIGNING_SECRET,
        issue_trigger_id=emulator.issue_trigger_id,
        new_response_url=emulator.new_response_url,
    )
    try:
        for uid in (MENTOR, MENTEE):
            emulator.add_user(uid, name=uid.lower(), tz="America/Chicago")
        status = slack.mentor(MENTEE, "status")
        assert status.status_code == 200 and "Bibliothèque" in json.dumps(status.json(), ensure_ascii=False)
        notes = slack.mentor(MENTOR, "checkins")
        assert notes.status_code == 200 and "we talked about the budget" in notes.json()["text"]
        # New rows go in after the old ones: the sequences and unique keys survived the upgrade.
        assert slack.mentor(MENTEE, "resume").status_code == 200
        with Session(engine) as session:
            assert session.get(Enrollment, 22).status == "matched"  # type: ignore[union-attr]
    finally:
        slack.close()
        server.stop()
        engine.dispose()


def test_the_migrations_form_one_line_from_the_first_to_head() -> None:
    """`shelfmate db upgrade` goes to one head; two heads would stop every upgrade with an error."""
    url = "sqlite://"
    script = ScriptDirectory.from_config(alembic_config(url))
    revisions = [r.revision for r in script.walk_revisions()]
    assert first_revision(url) in revisions and len(revisions) == len(set(revisions))
    assert len(script.get_heads()) == 1, f"migrations branch: {script.get_heads()} (merge them)"


def test_upgrading_leaves_an_agreement_with_a_proposal_pending_unsettled(empty_database_url: str) -> None:
    """Only an agreement both people accepted has settled terms: a pending proposal is not copied as if agreed."""
    url = empty_database_url
    upgrade(url, first_revision(url))
    engine = make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        pending = {**ROWS["agreement"][0], "mentee_accepted_at": None}
        with engine.begin() as connection:
            for name, rows in ROWS.items():
                connection.execute(metadata.tables[name].insert(), [pending] if name == "agreement" else rows)
    finally:
        engine.dispose()

    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            agreement = session.get(Agreement, 41)
            assert agreement is not None and agreement.cadence == "weekly"
            settled = (
                agreement.settled_cadence, agreement.settled_mentor_on_call, agreement.settled_after_hours_ok,
                agreement.settled_boundaries, agreement.settled_first_meeting_on,
            )  # fmt: skip
            assert settled == (None, None, None, None, None)
    finally:
        engine.dispose()

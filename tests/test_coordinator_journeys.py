"""A coordinator's program at realistic scale (CSV import, audit, summary, preview), as found in a product
review: each test is a bug a coordinator would have noticed.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.cli import main
from bot.clock import FixedClock
from storage.engine import session_scope
from storage.models import Enrollment, Pairing, Person
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program, program_modal_state
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join, wait_for

ADMIN_CHANNEL = "C0ADMINS01"
PROGRAM = "PLSEP Mentorship 2025"


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


IMPORT_HEADER = ["slack_user", "role", "library_type", "organization", "specializations", "years_experience"]


def enrollments(engine: Engine) -> list[Enrollment]:
    with session_scope(engine) as session:
        return list(session.exec(select(Enrollment).order_by(Enrollment.id)))


# -- shelfmate import ----------------------------------------------------------------------------------------
def test_import_accepts_a_specialization_label_with_a_comma(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """The catalogue's label "Data, assessment and evaluation" (also what `export participants` writes)
    imports whole, although ',' may also separate a form export's list."""
    make_program(engine)
    path = write_csv(
        operator_shell / "applications.csv",
        [
            IMPORT_HEADER,
            [
                "U0IMPDATA1",
                "mentee",
                "public",
                "LA County Library",
                "Data, assessment and evaluation; Budgets and grants",
                "1",
            ],
        ],
    )
    code = main(["import", str(path), "--program", PROGRAM])
    out = capsys.readouterr().out
    assert code == 0, out
    [enrollment] = enrollments(engine)
    assert enrollment.specializations == ["budgets_grants", "data_assessment"]


def test_import_survives_one_slack_hiccup_while_resolving_emails(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """One HTTP 500 from users.lookupByEmail among many lookups is retried: no traceback, and the rows load."""
    make_program(engine)
    emulator.add_user("U0BYMAIL01", name="kim", email="kim@library.example")
    emulator.add_user("U0BYMAIL02", name="lee", email="lee@library.example")
    path = write_csv(
        operator_shell / "applications.csv",
        [
            IMPORT_HEADER,
            ["kim@library.example", "mentee", "public", "Fresno County Public Library", "reference", "1"],
            ["lee@library.example", "mentee", "public", "Kern County Library", "reference", "2"],
        ],
    )
    emulator.fail("users.lookupByEmail", status=500, times=1)
    try:
        code = main(["import", str(path), "--program", PROGRAM])
    except Exception as error:  # noqa: BLE001 - this is what reaches the terminal as a traceback
        pytest.fail(f"shelfmate import crashed with {type(error).__name__}: {error}")
    assert code in (0, 1)
    assert "Loaded" in capsys.readouterr().out


# -- program settings --------------------------------------------------------------------------------------
def test_mentors_can_join_with_the_default_capacity_the_program_form_accepted(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A program's default capacity may be up to 20 (group mentoring when mentors run short): a mentor who
    leaves capacity empty joins with the program's 12, not an error saying 1 to 10."""
    make_program(engine, default_capacity="12")
    emulator.add_user("U0GROUPM01", name="grace")
    response = join(slack, emulator, "U0GROUPM01", "join mentor", role="mentor", years_experience="15", capacity=None)
    body = response.json() if response.content not in (b"", b"{}") else {}
    assert body.get("response_action") != "errors", body
    assert [(e.role, e.capacity) for e in enrollments(engine)] == [("mentor", 12)]


LIBRARY_SYSTEMS = [
    f"{name} Library System"
    for name in (
        "Black Gold Cooperative",
        "Inland",
        "Monterey Bay Area Cooperative",
        "NorthNet",
        "Pacific",
        "San Joaquin Valley",
        "Santiago",
        "Serra Cooperative",
        "Southern California",
        "49-99 Cooperative",
        "Los Angeles County",
        "Sacramento Public",
        "San Francisco Public",
        "Santa Clara County",
        "San Diego County",
        "Riverside County",
        "San Bernardino County",
        "Orange County Public",
        "Fresno County Public",
        "Kern County",
        "Contra Costa County",
        "Alameda County",
        "Marin County",
        "Sonoma County",
        "Ventura County",
        "Santa Barbara Public",
        "Stanislaus County",
        "Tulare County",
    )
]


def test_program_edit_modal_can_hold_the_neighbouring_organizations_the_cli_saved(
    operator_shell: Path, slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A statewide program's ~28 neighbouring library systems, saved from the CLI, fit the edit form's
    input, so the program can still be edited in Slack."""
    orgs = ", ".join(LIBRARY_SYSTEMS)
    assert len(orgs) > 500
    assert main(
        [
            "program", "create", "--name", "PLSEP 2026", "--applications-close", "2026-02-17",
            "--agreement-due", "2026-03-01", "--starts", "2026-03-01", "--ends", "2026-06-30",
            "--admin-channel", ADMIN_CHANNEL, "--cross-org", "prefer", "--neighbor-orgs", orgs,
        ]
    ) == 0  # fmt: skip
    emulator.reset_calls()
    slack.admin(ADMIN_ID, "program edit PLSEP 2026")
    view = wait_for(lambda: emulator.calls_to("views.open"))[-1].arg("view")
    [element] = [b["element"] for b in view["blocks"] if b.get("block_id") == "neighbor_orgs"]
    assert len(element.get("initial_value") or "") <= element.get("max_length", 3000), (
        f"prefilled {len(element.get('initial_value') or '')} characters into an input limited to "
        f"{element.get('max_length')}"
    )


# -- audit ---------------------------------------------------------------------------------------------------
def test_audit_of_a_program_edit_reads_as_words_not_a_python_list(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """`/mentor-admin audit` describes a program edit with field labels in words, not a Python list of
    column names."""
    program = make_program(engine)
    values = {
        "name": PROGRAM,
        "applications_open": "2025-01-06",
        "applications_close": "2025-02-17",
        "agreement_due": "2025-03-01",
        "starts_on": "2025-03-01",
        "ends_on": "2025-06-27",
        "admin_channel": ADMIN_CHANNEL,
        "timezone": "America/Los_Angeles",
    }
    response = slack.view_submission(
        ADMIN_ID,
        "shelfmate_program",
        program_modal_state(**values),
        private_metadata=json.dumps({"program_id": program.id}),
    )
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    shown = block_texts(slack.admin(ADMIN_ID, "audit").json()["blocks"])
    assert "edited a program" in shown
    assert "['" not in shown, shown


def test_audit_names_the_command_line_instead_of_a_broken_mention(
    operator_shell: Path, slack: SlackDriver, engine: Engine
) -> None:
    """Actions taken with the `shelfmate` CLI are shown as the command line, not as the mention `<@cli>`."""
    assert main(
        [
            "program", "create", "--name", "PLSEP 2026", "--applications-close", "2026-02-17",
            "--agreement-due", "2026-03-01", "--starts", "2026-03-01", "--ends", "2026-06-30",
        ]
    ) == 0  # fmt: skip
    shown = block_texts(slack.admin(ADMIN_ID, "audit").json()["blocks"])
    assert "created a program" in shown
    assert "<@cli>" not in shown, shown


# -- summary ---------------------------------------------------------------------------------------------------
def test_summary_says_how_many_pairs_went_quiet_when_more_than_fifteen(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """With 22 quiet pairs the summary's At risk section gives the total and says how many more are not
    listed, and where to find them."""
    clock.set(datetime(2025, 5, 20, 18, 0, tzinfo=UTC))
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        for k in range(22):
            mentor_id, mentee_id = f"U0QM{k:04d}", f"U0QE{k:04d}"
            session.add(Person(slack_user_id=mentor_id, display_name=f"Mentor {k}", timezone="America/Los_Angeles"))
            session.add(Person(slack_user_id=mentee_id, display_name=f"Mentee {k}", timezone="America/Los_Angeles"))
            session.flush()
            mentor = Enrollment(
                program_id=program.id, person_id=mentor_id, role="mentor", status="matched", library_type="public",
                organization="A", specializations=["reference"], years_experience=9, capacity=2,
            )  # fmt: skip
            mentee = Enrollment(
                program_id=program.id, person_id=mentee_id, role="mentee", status="matched", library_type="public",
                organization="B", specializations=["reference"], years_experience=1,
            )  # fmt: skip
            session.add_all([mentor, mentee])
            session.flush()
            session.add(
                Pairing(
                    program_id=program.id, mentor_enrollment_id=mentor.id, mentee_enrollment_id=mentee.id,
                    status="active", approved_at=datetime(2025, 2, 20, tzinfo=UTC), at_risk=True,
                )
            )  # fmt: skip
    body = slack.admin(ADMIN_ID, "summary").json()
    [at_risk] = [b["text"]["text"] for b in body["blocks"] if "At risk" in b.get("text", {}).get("text", "")]
    assert at_risk.count("never met") == 15
    assert re.search(r"\b22\b", at_risk) or re.search(r"\b7 more\b", at_risk), at_risk


def test_summary_meeting_rate_counts_pairs_that_met_before_settling_the_agreement(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Introduced pairs may log meetings before their agreement settles; the summary's meeting rate counts
    them, so one logged meeting is not reported as "0 of 0 pairs met"."""
    from datetime import date

    from storage.models import CheckIn

    clock.set(datetime(2025, 3, 25, 18, 0, tzinfo=UTC))
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        for uid in ("U0INTRM01", "U0INTRE01"):
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone="America/Los_Angeles"))
        session.flush()
        mentor = Enrollment(
            program_id=program.id, person_id="U0INTRM01", role="mentor", status="matched", library_type="public",
            organization="A", specializations=["reference"], years_experience=9, capacity=2,
        )  # fmt: skip
        mentee = Enrollment(
            program_id=program.id, person_id="U0INTRE01", role="mentee", status="matched", library_type="public",
            organization="B", specializations=["reference"], years_experience=1,
        )  # fmt: skip
        session.add_all([mentor, mentee])
        session.flush()
        pairing = Pairing(
            program_id=program.id, mentor_enrollment_id=mentor.id, mentee_enrollment_id=mentee.id,
            status="introduced", approved_at=datetime(2025, 2, 20, tzinfo=UTC),
        )  # fmt: skip
        session.add(pairing)
        session.flush()
        session.add(
            CheckIn(
                pairing_id=pairing.id, logged_by="U0INTRE01", met_on=date(2025, 3, 10), duration_minutes=60,
                rating=5, idempotency_key=f"pairing:{pairing.id}:2025-03-10", topics=["reference"],
            )
        )  # fmt: skip
    shown = block_texts(slack.admin(ADMIN_ID, "summary").json()["blocks"])
    assert "*Check-ins*: 1" in shown
    assert "1 of 1" in shown and "(100%)" in shown, shown


def test_imported_applicants_get_their_names_and_time_zones_from_slack(
    operator_shell: Path, slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """`shelfmate import` stores each applicant's Slack name and time zone, not a blank name and the
    program's zone."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user(
        "U0NYC00001", name="jose", real_name="José Núñez 📚", email="jose@nypl.example",
        tz="America/New_York", tz_offset=-18000,
    )  # fmt: skip
    path = write_csv(
        operator_shell / "applications.csv",
        [IMPORT_HEADER, ["jose@nypl.example", "mentor", "public", "New York Public Library", "reference", "12"]],
    )
    assert main(["import", str(path), "--program", PROGRAM]) == 0
    slack.admin(ADMIN_ID, "export participants")
    [upload] = wait_for(lambda: emulator.uploaded_files)
    [row] = list(csv.DictReader(upload.content.decode("utf-8-sig").splitlines()))
    assert row["slack_user_id"] == "U0NYC00001"
    assert row["display_name"] == "José Núñez 📚", row
    with session_scope(engine) as session:
        assert session.get(Person, "U0NYC00001").timezone == "America/New_York"


def test_preview_waitlist_does_not_overstate_how_many_mentors_to_recruit(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Two waitlisted mentees each seek youth and teen services: the preview counts mentees seeking each
    specialization instead of claiming four more mentors are needed."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    wanted = ["youth_services", "teen_services"]
    for k in range(2):
        user = f"U0FULLM{k:03d}"
        emulator.add_user(user, name=user.lower())
        join(slack, emulator, user, "join mentor", role="mentor", years_experience="12", capacity="1",
             specializations=wanted, organization=f"System {k}")  # fmt: skip
    for k in range(4):
        user = f"U0WAITE{k:03d}"
        emulator.add_user(user, name=user.lower())
        join(slack, emulator, user, "join mentee", specializations=wanted)
    slack.admin(ADMIN_ID, "match preview")
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "2 pairs proposed, 2 waitlisted" in replies[-1]["text"]
    [posted] = [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")]
    shown = block_texts(posted["blocks"])
    claimed = sum(int(n) for n in re.findall(r"(\d+) more mentors? needed", shown))
    assert claimed <= 2, shown


def test_pairing_a_paused_mentee_by_hand_does_not_silently_cancel_the_pause(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """`/mentor-admin pair` with a mentee who paused is refused with the reason, and the pause stands: no
    intro or nudges reach someone who asked for none."""
    make_program(engine)
    emulator.add_user("U0PMENTOR1", name="morgan")
    emulator.add_user("U0PMENTEE1", name="dana")
    join(slack, emulator, "U0PMENTOR1", "join mentor", role="mentor", years_experience="9", organization="Other USD")
    join(slack, emulator, "U0PMENTEE1", "join mentee")
    assert "2025" in slack.mentor("U0PMENTEE1", "pause until 2025-04-30").json()["text"]

    body = slack.admin(ADMIN_ID, "pair <@U0PMENTOR1|morgan> <@U0PMENTEE1|dana>").json()
    said = (body.get("text") or "") + block_texts(body.get("blocks") or [])
    [mentee] = [e for e in enrollments(engine) if e.person_id == "U0PMENTEE1"]
    assert "pause" in said.lower() or mentee.status == "paused", (said, mentee.status)

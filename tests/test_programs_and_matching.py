"""Coordinators, end to end: a program from creation to approved matches, through Slack and the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.services.pairing import MatchPreview, PreviewPair
from bot.views import admin as admin_views
from storage.engine import session_scope
from storage.models import AuditEvent, Enrollment, Pairing, Program
from tests.conftest import ADMIN_ID
from tests.factories import approve_all_value, block_texts, intake_state, make_program, program_modal_state
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import join, wait_for

ROOT = Path(__file__).resolve().parents[1]
ADMIN_CHANNEL = "C0ADMINS01"
STRANGER = "U0STRANGER"


def rows(engine: Engine, model: Any) -> list[Any]:
    with session_scope(engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


GOOD_PROGRAM = {
    "name": "School Librarians 2025",
    "applications_open": "2025-01-01",
    "applications_close": "2025-02-17",
    "agreement_due": "2025-03-01",
    "starts_on": "2025-03-01",
    "ends_on": "2025-06-30",
    "default_cadence": "monthly",
    "min_mentor_years": "3",
    "default_capacity": "2",
    "eligibility": "open",
    "admin_channel": ADMIN_CHANNEL,
    "timezone": "America/New_York",
    "cross_org": "prefer",
    "blackouts": "2025-04-07..2025-04-11",
}


def test_program_modal_creates_validates_and_is_audited(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    assert slack.admin(ADMIN_ID, "program create").status_code == 200
    view = wait_for(lambda: emulator.calls_to("views.open"))[-1].arg("view")
    assert view["callback_id"] == "shelfmate_program"

    bad = slack.view_submission(
        ADMIN_ID,
        view["callback_id"],
        program_modal_state(**(GOOD_PROGRAM | {"ends_on": "2025-02-01", "timezone": "Mars/Olympus"})),
        private_metadata=view["private_metadata"],
    ).json()
    assert bad["response_action"] == "errors"
    assert "after the start date" in bad["errors"]["ends_on"]
    assert "time zone" in bad["errors"]["timezone"]
    assert rows(engine, Program) == []

    ok = slack.view_submission(
        ADMIN_ID, view["callback_id"], program_modal_state(**GOOD_PROGRAM), private_metadata=view["private_metadata"]
    )
    assert ok.status_code == 200 and ok.content in (b"", b"{}")
    [program] = rows(engine, Program)
    assert (program.name, program.cross_org, program.blackouts) == (
        "School Librarians 2025",
        "prefer",
        [["2025-04-07", "2025-04-11"]],
    )
    assert [e.action for e in rows(engine, AuditEvent)] == ["program.create"]
    listing = slack.admin(ADMIN_ID, "program list").json()
    assert "School Librarians 2025" in block_texts(listing["blocks"])


def test_non_admins_are_refused_everywhere_and_nothing_changes(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    program = make_program(engine)
    for text in ("program create", "program list", "match preview", "audit", "pair <@U1AAA> <@U2BBB>", "help"):
        body = slack.admin(STRANGER, text).json()
        assert "for program coordinators" in body["text"], text
    for action in (
        "shelfmate_approve_all",
        "shelfmate_approve_pair",
        "shelfmate_reject_pair",
        "shelfmate_dissolve_pair",
    ):
        slack.block_action(STRANGER, action, str(program.id), channel_id=ADMIN_CHANNEL)
        replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
        assert "for program coordinators" in replies[-1]["text"] or "no longer exists" in replies[-1]["text"]
    edit = slack.view_submission(
        STRANGER,
        "shelfmate_program",
        program_modal_state(**(GOOD_PROGRAM | {"name": "Hijacked"})),
        private_metadata=json.dumps({"program_id": program.id}),
    ).json()
    assert edit["response_action"] == "errors"
    assert rows(engine, Program)[0].name == "PLSEP Mentorship 2025"
    assert emulator.calls_to("views.open") == []
    assert rows(engine, AuditEvent) == [AuditEvent(**rows(engine, AuditEvent)[0].model_dump())]  # only the create


def test_program_admins_listed_on_the_program_may_act(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine, admins="U0PROGADM1")
    body = slack.admin("U0PROGADM1", "program list").json()
    assert "PLSEP Mentorship 2025" in block_texts(body["blocks"])


def enroll_pool(slack: SlackDriver, emulator: SlackEmulator) -> dict[str, str]:
    """Three mentors, four mentees: one mentee seeks what nobody offers."""
    people = {
        "U0MENTORA": ("mentor", {"specializations": ["school_instruction", "collection_development"], "capacity": "1"}),
        "U0MENTORB": ("mentor", {"specializations": ["youth_services"], "capacity": "1", "organization": "Valley USD"}),
        "U0MENTORC": (
            "mentor",
            {"specializations": ["school_instruction"], "capacity": "1", "organization": "Hill USD"},
        ),
        "U0MENTEE1": ("mentee", {"specializations": ["school_instruction"]}),
        "U0MENTEE2": ("mentee", {"specializations": ["youth_services"]}),
        "U0MENTEE3": ("mentee", {"specializations": ["collection_development"]}),
        "U0MENTEE4": ("mentee", {"specializations": ["cataloging"]}),
    }
    for user, (role, state) in people.items():
        emulator.add_user(user, name=user.lower())
        years = "10" if role == "mentor" else "1"
        response = join(slack, emulator, user, f"join {role}", role=role, years_experience=years, **state)
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    return {u: r for u, (r, _) in people.items()}


def test_match_preview_approve_reject_and_waitlist_end_to_end(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    enroll_pool(slack, emulator)

    body = slack.admin(ADMIN_ID, "match preview").json()
    assert "Working out matches" in body["text"]
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "3 pairs proposed, 1 waitlisted" in replies[-1]["text"]
    posted = emulator.messages_in(ADMIN_CHANNEL)[-1]
    shown = block_texts(posted["blocks"])
    assert "Proposed matches: PLSEP Mentorship 2025" in shown
    assert "<@U0MENTEE4>" in shown and "Cataloging and technical services: sought by 1 waitlisted mentee" in shown
    assert len(posted["blocks"]) <= 50

    pairings = rows(engine, Pairing)
    assert len(pairings) == 3 and all(p.status == "proposed" and p.reasons for p in pairings)
    mentee4 = [e for e in rows(engine, Enrollment) if e.person_id == "U0MENTEE4"][0]
    assert mentee4.status == "waitlisted" and "cataloging" in (mentee4.waitlist_reason or "").lower()

    # Approve one, reject one, then approve all: the rejected one stays rejected, double clicks change nothing.
    first, second, third = pairings
    person_of = {e.id: e.person_id for e in rows(engine, Enrollment)}
    first_mentor, first_mentee = person_of[first.mentor_enrollment_id], person_of[first.mentee_enrollment_id]
    # Until a coordinator approves it, a proposal is a draft: the mentee hears a match waits, not with whom.
    status = json.dumps(slack.mentor(first_mentee, "status").json())
    assert "proposed match waiting" in status and first_mentor not in status
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(first.id), channel_id=ADMIN_CHANNEL)
    approved = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert f"approved <@{first_mentor}> mentoring <@{first_mentee}>" in approved, approved
    assert first_mentor in json.dumps(slack.mentor(first_mentee, "status").json())
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(first.id), channel_id=ADMIN_CHANNEL)
    assert "already decided" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    slack.block_action(ADMIN_ID, "shelfmate_reject_pair", str(second.id), channel_id=ADMIN_CHANNEL)
    wait_for(lambda: emulator.responses_to(slack.last_response_url))
    slack.block_action(
        ADMIN_ID,
        "shelfmate_approve_all",
        approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )
    assert "approved 1 pair in" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    by_id = {p.id: p for p in rows(engine, Pairing)}
    assert by_id[first.id].approved_at and by_id[third.id].approved_at
    assert by_id[second.id].status == "dissolved"
    matched = {e.person_id for e in rows(engine, Enrollment) if e.status == "matched"}
    assert len(matched) == 4

    # A second preview never proposes the rejected pair again, and never touches approved pairs.
    slack.admin(ADMIN_ID, "match preview")
    wait_for(lambda: "proposed" in (emulator.responses_to(slack.last_response_url) or [{}])[-1].get("text", ""))
    again = rows(engine, Pairing)
    rejected = (by_id[second.id].mentor_enrollment_id, by_id[second.id].mentee_enrollment_id)
    assert [
        p for p in again if (p.mentor_enrollment_id, p.mentee_enrollment_id) == rejected and p.status == "proposed"
    ] == []
    assert {p.id for p in again if p.approved_at} == {first.id, third.id}
    actions = [e.action for e in rows(engine, AuditEvent)]
    # The one Approve and the one Approve all (which approved the third): one line each.
    assert actions.count("match.preview") == 2 and "pairing.reject" in actions
    assert actions.count("pairing.approve") == 1 and actions.count("pairing.approve_all") == 1


def test_hand_pairing_checks_rules_and_needs_a_confirmed_override(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine, cross_org="require")
    emulator.add_user("U0MENTORA", name="a")
    emulator.add_user("U0MENTEE1", name="b")
    join(slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="9", capacity="2")
    join(slack, emulator, "U0MENTEE1", "join mentee")  # same organization: breaks "require"

    body = slack.admin(ADMIN_ID, "pair <@U0MENTORA|a> <@U0MENTEE1|b>").json()
    assert "break a matching rule" in block_texts(body["blocks"])
    assert rows(engine, Pairing) == []
    override = next(b for b in body["blocks"] if b["type"] == "actions")["elements"][0]
    slack.block_action(STRANGER, override["action_id"], override["value"])
    wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert rows(engine, Pairing) == []
    slack.block_action(ADMIN_ID, override["action_id"], override["value"])
    wait_for(lambda: rows(engine, Pairing))
    [pairing] = rows(engine, Pairing)
    assert pairing.approved_at is not None and "despite" in pairing.reasons[0]

    body = slack.admin(ADMIN_ID, "unpair <@U0MENTORA|a> <@U0MENTEE1|b>").json()
    assert "no longer paired" in body["text"]
    assert rows(engine, Pairing)[0].status == "dissolved"
    body = slack.admin(ADMIN_ID, "unpair <@U0MENTORA|a> <@U0MENTEE1|b>").json()
    assert "already unpaired" in body["text"] and "nothing changed" in body["text"]
    body = slack.admin(ADMIN_ID, "pair <@U0MENTORA>").json()
    assert "Mention two people" in body["text"]


def test_rematch_request_reaches_only_admins(slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> None:
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    emulator.add_user("U0MENTORA", name="a")
    emulator.add_user("U0MENTEE1", name="b")
    join(slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="9", organization="Other USD")
    join(slack, emulator, "U0MENTEE1", "join mentee")
    assert "nothing to rematch" in slack.mentor("U0MENTEE1", "rematch we never meet").json()["text"]
    slack.admin(ADMIN_ID, "pair <@U0MENTORA> <@U0MENTEE1>")
    assert "Tell me briefly" in slack.mentor("U0MENTEE1", "rematch").json()["text"]
    assert (
        "coordinators will follow up" in slack.mentor("U0MENTEE1", "rematch our schedules never line up").json()["text"]
    )
    alert = emulator.messages_in(ADMIN_CHANNEL)[-1]
    assert "our schedules never line up" in block_texts(alert["blocks"])
    assert not any("schedules" in m.get("text", "") for m in emulator.messages_in("U0MENTORA"))
    dissolve = next(b for b in alert["blocks"] if b["type"] == "actions")["elements"][0]
    slack.block_action(ADMIN_ID, dissolve["action_id"], dissolve["value"], channel_id=ADMIN_CHANNEL)
    wait_for(lambda: rows(engine, Pairing)[0].status == "dissolved")


def run_cli(args: list[str], database_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    environment |= {"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)} | env
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_program_create_edit_list_from_options_and_file(database_url: str, tmp_path: Path, engine: Engine) -> None:
    result = run_cli(
        [
            "program", "create", "--name", "PLSEP 2026", "--applications-close", "2026-02-17",
            "--agreement-due", "2026-03-01", "--starts", "2026-03-01", "--ends", "2026-06-30",
            "--admin-channel", "C0ADMINS01",
        ],
        database_url,
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bad = run_cli(["program", "edit", "PLSEP 2026", "--ends", "2026-01-01"], database_url, tmp_path)
    assert bad.returncode != 0 and "Ends (--ends): must be after the start date." in bad.stderr
    assert "Traceback" not in bad.stderr
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('agreement_due = "2026-03-05"\nblackouts = ["2026-04-06..2026-04-10"]\ncross_org = "prefer"\n')
    assert run_cli(["program", "edit", "PLSEP 2026", "--file", str(calendar)], database_url, tmp_path).returncode == 0
    [program] = rows(engine, Program)
    assert (str(program.agreement_due), program.blackouts, program.cross_org) == (
        "2026-03-05",
        [["2026-04-06", "2026-04-10"]],
        "prefer",
    )
    listing = run_cli(["program", "list"], database_url, tmp_path)
    assert "PLSEP 2026" in listing.stdout


def test_cli_import_reports_bad_rows_by_line_and_loads_the_good_ones(
    database_url: str, tmp_path: Path, engine: Engine, emulator: SlackEmulator
) -> None:
    make_program(engine)
    emulator.add_user("U0BYEMAIL1", name="em", email="kim@library.example")
    csv_file = tmp_path / "applications.csv"
    csv_file.write_text(
        "slack_user,role,library_type,organization,region,specializations,years_experience,grade_levels,goals,"
        "meeting_format,capacity,not_with\n"
        "U0IMPORT01,mentor,public,County Library,North,reference;Youth services (children),12,,,video,2,\n"
        "kim@library.example,mentee,school,Riverside USD,South,school_instruction,1,middle,Grow,any,,\n"
        "nobody@library.example,mentee,school,Riverside USD,South,school_instruction,1,,,any,,\n"
        "U0IMPORT03,mentor,public,County Library,North,reference,1,,,video,2,\n"
        "U0IMPORT04,mentee,museum,County Library,North,underwater basket weaving,1,,,video,,\n"
    )
    result = run_cli(
        ["import", str(csv_file), "--program", "PLSEP Mentorship 2025"],
        database_url,
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5",
        SLACK_API_URL=emulator.api_url,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("line 4: no Slack user has the email nobody@library.example")
    assert lines[1].startswith("line 5: years_experience") or "line 5:" in lines[1]
    assert lines[2].startswith("line 6: unknown specialization")
    assert "Loaded 2 application(s)" in lines[-1]
    loaded = {(e.person_id, e.role) for e in rows(engine, Enrollment)}
    assert loaded == {("U0IMPORT01", "mentor"), ("U0BYEMAIL1", "mentee")}
    mentor = [e for e in rows(engine, Enrollment) if e.person_id == "U0IMPORT01"][0]
    assert mentor.specializations == ["reference", "youth_services"]
    [audited] = [e for e in rows(engine, AuditEvent) if e.action == "applications.import"]
    assert (audited.actor, audited.program_id) == ("cli", rows(engine, Program)[0].id)
    assert audited.detail == {"file": "applications.csv", "loaded": 2, "skipped": 3}


@pytest.mark.parametrize("text", ["match preview Nonexistent Program", "program edit Nope"])
def test_unknown_program_names_are_explained(slack: SlackDriver, engine: Engine, text: str) -> None:
    make_program(engine)
    body = slack.admin(ADMIN_ID, text).json()
    assert "no program called" in body["text"] and "PLSEP Mentorship 2025" in body["text"]


def test_intake_state_helper_matches_the_modal(slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> None:
    """Guard for the other tests: the state we submit names exactly the modal's blocks."""
    make_program(engine)
    emulator.add_user("U0LIB0001", name="dana")
    slack.mentor("U0LIB0001", "join")
    view = wait_for(lambda: emulator.calls_to("views.open"))[-1].arg("view")
    modal_blocks = {b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    assert set(intake_state()) == modal_blocks


# -- review fixes ------------------------------------------------------------------------------------------
def pairing_ids_in(blocks: list[dict[str, Any]], action_id: str) -> list[int]:
    return [
        int(element["value"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    ]


def test_preview_of_a_large_program_fits_one_message_and_the_rest_is_in_the_csv(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    for k in range(14):
        user = f"U0MTR{k:04d}"
        emulator.add_user(user, name=user.lower())
        join(slack, emulator, user, "join mentor", role="mentor", years_experience="12", capacity="3")
    for k in range(45):
        user = f"U0MTE{k:04d}"
        emulator.add_user(user, name=user.lower())
        join(slack, emulator, user, "join mentee", specializations=["school_instruction"])

    slack.admin(ADMIN_ID, "match preview")
    replies = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "42 pairs proposed, 3 waitlisted" in replies[-1]["text"]
    assert "Review them in <#C0ADMINS01>" in replies[-1]["text"]
    [posted] = [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")]
    assert len(posted["blocks"]) <= 50
    shown = block_texts(posted["blocks"])
    listed = pairing_ids_in(posted["blocks"], "shelfmate_approve_pair")
    assert "Approve all 42" in shown and "*Waitlist:* 3 mentees" in shown
    assert f"{42 - len(listed)} more pairs are in the CSV file" in shown and len(listed) >= 10

    [csv_file] = emulator.uploaded_files
    assert csv_file.channel_id == ADMIN_CHANNEL
    in_csv = [int(r[0]) for r in csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))) if r and r[0].isdigit()]
    proposed = {p.id for p in rows(engine, Pairing) if p.status == "proposed"}
    assert len(proposed) == 42 and set(in_csv) == proposed and set(listed) < proposed

    slack.block_action(
        ADMIN_ID,
        "shelfmate_approve_all",
        approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )
    assert "approved 42 pairs" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert all(p.approved_at for p in rows(engine, Pairing))


@pytest.mark.parametrize("rehearsal", [False, True])
@pytest.mark.parametrize(("pairs", "waiting"), [(0, 0), (1, 0), (14, 3), (15, 0), (16, 20), (500, 200)])
def test_preview_message_stays_within_50_blocks_for_any_size(rehearsal: bool, pairs: int, waiting: int) -> None:
    program = Program(id=1, name="PLSEP Mentorship 2025")
    preview = MatchPreview(
        program=program,
        pairs=[
            PreviewPair(pairing=Pairing(id=k, score=80.0, reasons=["Same time zone"]), mentor_id="U0A", mentee_id="U0B")
            for k in range(1, pairs + 1)
        ],
        waitlist=[(f"U0W{k}", "All mentor capacity is used") for k in range(waiting)],
        shortages={},
        mentors=10,
        mentees=pairs + waiting,
        open_slots=pairs,
        seconds=0.1,
    )
    blocks = admin_views.match_preview_blocks(preview, rehearsal=rehearsal)
    shown = block_texts(blocks)
    listed = len(pairing_ids_in(blocks, "shelfmate_approve_pair"))
    assert len(blocks) <= 50
    assert ("REHEARSAL" in shown) == rehearsal
    left_out = "1 more pair is" if pairs - listed == 1 else f"{pairs - listed} more pairs are"
    assert listed == pairs or f"{left_out} in the CSV file" in shown
    assert listed == min(pairs, 14) or (listed == 15 and pairs == 15 and not rehearsal)
    assert admin_views.preview_needs_file(preview, rehearsal=rehearsal) == (listed < pairs or waiting > 8)


def test_approving_a_stale_proposal_never_overfills_a_mentor(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    for user in ("U0MENTORA", "U0MENTEE1", "U0MENTEE2"):
        emulator.add_user(user, name=user.lower())
    join(slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10", capacity="1")
    join(slack, emulator, "U0MENTEE1", "join mentee")
    join(slack, emulator, "U0MENTEE2", "join mentee")
    slack.admin(ADMIN_ID, "match preview")
    assert (
        "1 pair proposed, 1 waitlisted" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    )
    [proposal] = rows(engine, Pairing)
    people = {e.id: e.person_id for e in rows(engine, Enrollment)}
    proposed_mentee = people[proposal.mentee_enrollment_id]
    other = ({"U0MENTEE1", "U0MENTEE2"} - {proposed_mentee}).pop()

    # The coordinator gives the mentor's only slot to the other mentee by hand.
    assert "Paired <@U0MENTORA>" in slack.admin(ADMIN_ID, f"pair <@U0MENTORA> <@{other}>").json()["text"]

    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(proposal.id), channel_id=ADMIN_CHANNEL)
    refused = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert "no open mentee slots (1 of 1 taken)" in refused and f"find <@{proposed_mentee}> a mentor" in refused
    slack.block_action(
        ADMIN_ID,
        "shelfmate_approve_all",
        approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )
    answer = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert "approved 0 pairs" in answer and "1 not approved" in answer
    assert f"<@U0MENTORA> and <@{proposed_mentee}>: Not approved: <@U0MENTORA> has no open mentee slots" in answer

    approved = [p for p in rows(engine, Pairing) if p.approved_at]
    assert [people[p.mentee_enrollment_id] for p in approved] == [other]
    statuses = {e.person_id: e.status for e in rows(engine, Enrollment)}
    assert statuses[proposed_mentee] != "matched"
    assert [e.action for e in rows(engine, AuditEvent)].count("pairing.approve") == 0


def _two_previews_of_the_same_pool(slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> list[str]:
    """Two mentors, two mentees, previewed twice with nothing changed between: the Approve all values."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    for user in ("U0MENTORA", "U0MENTORB", "U0MENTEE1", "U0MENTEE2"):
        emulator.add_user(user, name=user.lower())
    join(slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10", capacity="1")
    join(slack, emulator, "U0MENTORB", "join mentor", role="mentor", years_experience="10", capacity="1")
    join(slack, emulator, "U0MENTEE1", "join mentee")
    join(slack, emulator, "U0MENTEE2", "join mentee")
    values = []
    for _ in range(2):
        posts = len(emulator.messages_in(ADMIN_CHANNEL))
        slack.admin(ADMIN_ID, "match preview")
        wait_for(lambda posts=posts: len(emulator.messages_in(ADMIN_CHANNEL)) > posts, what="the preview")
        values.append(approve_all_value(emulator.messages_in(ADMIN_CHANNEL)[posts:]))
    return values


def test_approve_all_on_an_earlier_preview_of_the_very_same_pairs_approves_them(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A repeat preview that proposes the same pairs has not changed what the earlier message showed: its
    Approve all still approves them (only a preview of different pairs makes the earlier button stale)."""
    first, second = _two_previews_of_the_same_pool(slack, emulator, engine)
    assert first == second
    slack.block_action(ADMIN_ID, "shelfmate_approve_all", first, channel_id=ADMIN_CHANNEL)
    assert "approved 2 pairs" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert all(p.approved_at for p in rows(engine, Pairing) if p.status == "proposed")


def test_an_approve_all_button_from_before_previews_were_fingerprinted_approves_nothing_after_a_new_one(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A preview posted before this version carried the program id alone: pressed once a newer preview has
    been posted, it is necessarily that older message's, and is refused like any replaced preview's."""
    _two_previews_of_the_same_pool(slack, emulator, engine)
    program_id = rows(engine, Program)[0].id
    slack.block_action(ADMIN_ID, "shelfmate_approve_all", str(program_id), channel_id=ADMIN_CHANNEL)
    answer = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert "newer preview" in answer and "latest preview" in answer, answer
    assert not any(p.approved_at for p in rows(engine, Pairing))


def test_approval_rechecks_hard_rules_changed_since_the_preview(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    for user in ("U0MENTORA", "U0MENTEE1"):
        emulator.add_user(user, name=user.lower())
    join(slack, emulator, "U0MENTORA", "join mentor", role="mentor", years_experience="10", capacity="2")
    join(slack, emulator, "U0MENTEE1", "join mentee")
    slack.admin(ADMIN_ID, "match preview")
    wait_for(lambda: emulator.responses_to(slack.last_response_url))
    [proposal] = rows(engine, Pairing)
    with session_scope(engine, write=True) as session:  # the mentee's "not with" list changed since
        mentee = session.get(Enrollment, proposal.mentee_enrollment_id)
        assert mentee is not None
        mentee.not_with = ["U0MENTORA"]
        session.add(mentee)
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(proposal.id), channel_id=ADMIN_CHANNEL)
    refused = wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    assert "<@U0MENTEE1> asked not to be paired with <@U0MENTORA>" in refused
    assert rows(engine, Pairing)[0].approved_at is None


def test_audit_shows_a_program_admin_only_their_own_programs(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    make_program(engine)
    make_program(engine, name="Academic Circle 2025", admins="U0PROGADM1")
    mine = block_texts(slack.admin("U0PROGADM1", "audit 50").json()["blocks"])
    assert "Last admin action" in mine and "Last 1" not in mine
    assert "<@U0ADMIN01> created a program (name Academic Circle 2025)" in mine
    assert "PLSEP" not in mine
    everything = block_texts(slack.admin(ADMIN_ID, "audit 50").json()["blocks"])
    assert "Last 2 admin actions" in everything and "PLSEP Mentorship 2025" in everything
    assert "Academic Circle 2025" in everything
    assert "for program coordinators" in slack.admin(STRANGER, "audit 50").json()["text"]


def test_import_help_and_readme_document_every_column(database_url: str, tmp_path: Path) -> None:
    from bot.cli_admin import IMPORT_COLUMNS, REQUIRED_COLUMNS

    help_text = run_cli(["import", "--help"], database_url, tmp_path).stdout
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Importing applications") : readme.index("## Architecture")]
    for column in IMPORT_COLUMNS:
        assert f"  {column} " in help_text, column
        assert f"| `{column}` | {'yes' if column in REQUIRED_COLUMNS else 'no'} |" in section, column


def test_program_from_the_cli_to_approved_matches_through_slack(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    created = run_cli(
        [
            "program", "create", "--name", "Solo Librarians 2025", "--applications-close", "2025-02-17",
            "--agreement-due", "2025-03-01", "--starts", "2025-03-01", "--ends", "2025-06-30",
            "--admin-channel", ADMIN_CHANNEL, "--cross-org", "require", "--neighbor-orgs", "Hill USD",
        ],
        database_url,
        tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    emulator.add_channel(ADMIN_CHANNEL, "solo-admins", members=[ADMIN_ID])
    librarians = {
        "U0HILL0001": ("mentor", {"organization": "Hill USD", "capacity": "2", "years_experience": "15"}),
        "U0FAR00001": ("mentor", {"organization": "Far USD", "capacity": "1", "years_experience": "15"}),
        "U0SOLO0001": ("mentee", {}),
        "U0SOLO0002": ("mentee", {}),
        "U0SOLO0003": ("mentee", {}),
    }
    for user, (role, answers) in librarians.items():
        emulator.add_user(user, name=user.lower())
        response = join(slack, emulator, user, f"join {role}", role=role, **answers)
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text

    emulator.reset_calls()
    slack.admin(ADMIN_ID, "match preview Solo Librarians 2025")
    assert (
        "3 pairs proposed, 0 waitlisted" in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    )
    [post] = [c for c in emulator.calls_to("chat.postMessage") if c.arg("channel") == ADMIN_CHANNEL]
    assert post.ok and emulator.violations == []  # the preview passed the catalogue check
    blocks = post.arg("blocks")
    assert "U0hill0001 is at Hill USD, one of the neighbor organizations; " in block_texts(blocks)

    approve_all = next(
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "shelfmate_approve_all"
    )
    slack.block_action(ADMIN_ID, approve_all["action_id"], approve_all["value"], channel_id=ADMIN_CHANNEL)
    assert (
        "approved 3 pairs in Solo Librarians 2025"
        in wait_for(lambda: emulator.responses_to(slack.last_response_url))[-1]["text"]
    )
    pairings = rows(engine, Pairing)
    assert len(pairings) == 3 and all(p.approved_at and p.decided_by == ADMIN_ID for p in pairings)
    assert {e.status for e in rows(engine, Enrollment)} == {"matched"}
    actions = [(e.actor, e.action) for e in rows(engine, AuditEvent)]
    # One audit line for the three approvals: who approved each, and when, is on the pairings themselves.
    assert actions == [("cli", "program.create"), (ADMIN_ID, "match.preview"), (ADMIN_ID, "pairing.approve_all")]


def test_a_program_name_with_an_ampersand_is_found_as_slack_sends_it(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Slack escapes & in a slash command's text: `/mentor-admin program edit Teens & Tweens 2026` arrives as
    "Teens &amp; Tweens 2026", and the coordinator must get the program's form, not "no program called"."""
    make_program(engine, name="Teens & Tweens 2026")
    answer = slack.admin(ADMIN_ID, "program edit Teens &amp; Tweens 2026")
    assert "no program called" not in answer.text, answer.text
    view = wait_for(lambda: emulator.calls_to("views.open"))[-1].arg("view")
    [name] = [b["element"]["initial_value"] for b in view["blocks"] if b.get("block_id") == "name"]
    assert name == "Teens & Tweens 2026"


def test_preview_head_counts_read_as_words_for_one_of_each() -> None:
    """One mentee, one mentor with one open slot: the head said "1 mentors with 1 open slots"."""
    preview = MatchPreview(
        program=Program(id=1, name="Hillcrest USD School Librarians 2025"),
        pairs=[PreviewPair(pairing=Pairing(id=1, score=80.0, reasons=[]), mentor_id="U0A", mentee_id="U0B")],
        waitlist=[],
        shortages={},
        mentors=1,
        mentees=1,
        open_slots=1,
        seconds=0.1,
    )
    shown = block_texts(admin_views.match_preview_blocks(preview, rehearsal=False))
    assert "*1* of 1 waiting mentee matched · 1 mentor with 1 open slot ·" in shown, shown

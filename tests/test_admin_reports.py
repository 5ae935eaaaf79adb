"""Coordinators' summaries, chart, weekly digest and exports, checked against a program with known state."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import CheckIn, Enrollment, Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program, stored_enrollment, stored_pairing
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import wait_for

ADMIN_CHANNEL = "C0ADMINS01"
NOTE = "SECRET-NOTE: my principal is difficult"
NOW = datetime(2025, 5, 20, 18, 0, tzinfo=UTC)  # Tuesday, 11 AM in Los Angeles


def build_known_state(engine: Engine, **program_overrides: str) -> dict[str, Any]:
    """3 mentors, 5 mentees; 3 pairings (active met in May, active at risk, introduced); 2 waitlisted."""
    program = make_program(engine, **program_overrides)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid in ("U0M1", "U0M2", "U0M3", "U0E1", "U0E2", "U0E3", "U0E4", "U0E5"):
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone="America/Los_Angeles"))
        session.get(Person, "U0E5") or None
        session.flush()
        session.get(Person, "U0E3").unreachable_reason = "account_inactive"

        def enroll(uid: str, role: str, status: str, specs: list[str]) -> Enrollment:
            capacity = 2 if role == "mentor" else 0
            return stored_enrollment(
                session, program.id, uid, role, status=status, specializations=specs, capacity=capacity
            )

        m1 = enroll("U0M1", "mentor", "matched", ["reference"])
        m2 = enroll("U0M2", "mentor", "matched", ["reference"])
        enroll("U0M3", "mentor", "paused", ["reference"])
        e1 = enroll("U0E1", "mentee", "matched", ["reference"])
        e2 = enroll("U0E2", "mentee", "matched", ["reference"])
        e3 = enroll("U0E3", "mentee", "matched", ["reference"])
        enroll("U0E4", "mentee", "waitlisted", ["cataloging", "reference"])
        enroll("U0E5", "mentee", "waitlisted", ["cataloging"])
        approved = datetime(2025, 2, 20, tzinfo=UTC)
        p1 = stored_pairing(session, m1, e1, approved)
        p2 = stored_pairing(session, m2, e2, approved, at_risk=True)
        stored_pairing(session, m2, e3, approved, status="introduced")
        for pairing, day, minutes, rating in (
            (p1, date(2025, 3, 5), 60, 5),
            (p1, date(2025, 5, 2), 30, 4),
            (p2, date(2025, 3, 12), 90, 3),
        ):
            session.add(
                CheckIn(
                    pairing_id=pairing.id, logged_by="U0E1", met_on=day, duration_minutes=minutes, rating=rating,
                    private_note=NOTE, idempotency_key=f"{pairing.id}:{day}", topics=["reference"],
                )
            )  # fmt: skip
        return {"program": program, "p1": p1.id, "p2": p2.id}


@pytest.fixture
def known(engine: Engine, emulator: SlackEmulator, clock: FixedClock) -> dict[str, Any]:
    clock.set(NOW)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    return build_known_state(engine)


def test_summary_counts_exactly_and_posts_with_a_chart(
    slack: SlackDriver, emulator: SlackEmulator, known: dict[str, Any]
) -> None:
    body = slack.admin(ADMIN_ID, "summary").json()
    shown = block_texts(body["blocks"])
    assert "Mentors: 2 matched, 1 paused" in shown
    assert "Mentees: 2 waitlisted, 3 matched" in shown
    assert "Cataloging and technical services: 2 waiting, 2 more mentor places needed" in shown
    # U0M1 and U0M2 each have one open place; the paused U0M3 does not count.
    assert "Reference and information services: 1 waiting, mentors have room" in shown
    assert "*Pairings*: 1 introduced, 2 active" in shown
    assert "*Agreements*: 1 pending, 1 overdue" in shown
    # The introduced P3 counts too: it could have met (introduced pairs log meetings). May: only P1 met.
    assert "1 of 3 pairs met (33%)" in shown
    assert "Mar: 67% → Apr: 0% → May: 33%" in shown
    assert "*Check-ins*: 3 · 3 mentoring hours · average rating 4.0/5" in shown
    assert "<@U0M2> and <@U0E2>: last met 69 days ago" in shown
    assert "<@U0E3> (account deactivated)" in shown
    assert "41 days left" in shown
    assert NOTE not in str(body)

    posted = wait_for(lambda: emulator.messages_in(ADMIN_CHANNEL))
    assert "Mentees: 2 waitlisted, 3 matched" in block_texts(posted[-1]["blocks"])
    png = wait_for(lambda: emulator.uploaded_files)
    assert png[-1].content.startswith(b"\x89PNG") and png[-1].channel_id == ADMIN_CHANNEL
    assert [c.method for c in emulator.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert all(NOTE not in str(c.args) for c in emulator.calls)


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("kind", "columns", "count"),
    [
        ("participants", ["slack_user_id", "display_name", "role", "status", "library_type", "organization"], 8),
        (
            "pairings",
            [
                "pairing_id",
                "mentor",
                "mentor_name",
                "mentor_organization",
                "mentee",
                "mentee_name",
                "mentee_organization",
                "status",
                "score",
                "at_risk",
            ],
            3,
        ),
        (
            "checkins",
            ["pairing_id", "met_on", "duration_minutes", "format", "topics", "rating", "logged_by", "logged_by_name"],
            3,
        ),
        # Everyone paired, with or without meetings: U0E3 of the introduced pair is there with 0 hours.
        ("hours", ["slack_user_id", "display_name", "role", "meetings", "hours", "organization"], 5),
    ],
)
def test_exports_upload_csv_without_private_notes(
    slack: SlackDriver, emulator: SlackEmulator, known: dict[str, Any], kind: str, columns: list[str], count: int
) -> None:
    body = slack.admin(ADMIN_ID, f"export {kind}").json()
    assert f"Preparing the {kind} export" in body["text"]
    [upload] = wait_for(lambda: emulator.uploaded_files)
    rows = csv_rows(upload.content)
    assert list(rows[0].keys())[: len(columns)] == columns
    assert len(rows) == count
    assert NOTE.encode() not in upload.content and b"private" not in upload.content.lower()
    if kind == "hours":
        by_person = {(r["slack_user_id"], r["role"]): (r["meetings"], r["hours"]) for r in rows}
        assert by_person[("U0M1", "mentor")] == ("2", "1.5")
        assert by_person[("U0E2", "mentee")] == ("1", "1.5")
        assert by_person[("U0E3", "mentee")] == ("0", "0.0")
    if kind == "pairings":
        assert {(r["mentor_name"], r["mentee_name"], r["mentee_organization"]) for r in rows} == {
            ("u0m1", "u0e1", "X"), ("u0m2", "u0e2", "X"), ("u0m2", "u0e3", "X")
        }  # fmt: skip
    if kind == "checkins":
        assert {r["logged_by_name"] for r in rows} == {"u0e1"}


def test_non_admins_cannot_summarize_or_export(
    slack: SlackDriver, emulator: SlackEmulator, known: dict[str, Any]
) -> None:
    for text in ("summary", "export participants", "export hours"):
        assert "for program coordinators" in slack.admin("U0E1", text).json()["text"]
    assert emulator.uploaded_files == [] and emulator.messages_in(ADMIN_CHANNEL) == []


def test_cli_export_writes_the_same_csv(database_url: str, tmp_path: Any, known: dict[str, Any]) -> None:
    from tests.test_programs_and_matching import run_cli

    out = tmp_path / "hours.csv"
    result = run_cli(["export", "hours", "--out", str(out)], database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(csv_rows(out.read_bytes())) == 5
    assert out.read_bytes().startswith("\ufeff".encode())  # the byte-order mark Excel needs to read UTF-8
    assert NOTE not in out.read_text()


async def test_weekly_digest_goes_out_once_a_week_across_restarts(
    engine: Engine, emulator: SlackEmulator, settings: Settings, known: dict[str, Any]
) -> None:
    """Default digest: Mondays at 9:00 in the program's zone. Each sweep below runs in a fresh runtime."""
    moment = datetime(2025, 5, 4, 15, 0, tzinfo=UTC)  # Sunday
    while moment < datetime(2025, 5, 26, 0, 0, tzinfo=UTC):
        runtime = create_runtime(settings, engine=engine, clock=FixedClock(moment))  # a restart
        await tick(runtime)
        moment += timedelta(hours=6)
    digests = [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("text", "").startswith("Weekly digest")]
    assert len(digests) == 3  # May 5, 12 and 19
    assert all(NOTE not in str(m) for m in digests)
    # Each digest carries its chart in its thread, uploaded through Slack's external upload flow.
    charts = [f for f in emulator.uploaded_files if f.channel_id == ADMIN_CHANNEL]
    assert len(charts) == 3 and all(f.content.startswith(b"\x89PNG") for f in charts)
    completes = [c for c in emulator.calls_to("files.completeUploadExternal") if c.ok]
    assert sorted(c.arg("thread_ts") for c in completes) == sorted(m["ts"] for m in digests)


def test_shortages_count_only_waiting_mentees_against_open_mentor_places() -> None:
    from bot.services.reports import shortages
    from storage.models import Pairing as PairingRow

    def e(eid: int, role: str, status: str, specs: list[str], capacity: int = 0) -> Enrollment:
        return Enrollment(
            id=eid, program_id=1, person_id=f"U{eid}", role=role, status=status, specializations=specs,
            capacity=capacity,
        )  # fmt: skip

    enrollments = [
        e(1, "mentor", "matched", ["reference"], capacity=2),  # one place taken below, one open
        e(2, "mentor", "waitlisted", ["cataloging"], capacity=1),  # unmatched mentor: supply, not demand
        e(3, "mentor", "paused", ["cataloging"], capacity=3),  # paused: no places
        e(4, "mentee", "matched", ["reference"]),
        e(5, "mentee", "waitlisted", ["reference", "reference"]),
        e(6, "mentee", "waitlisted", ["reference", "cataloging"]),
        e(7, "mentee", "waitlisted", ["cataloging"]),
    ]
    pairings = [PairingRow(id=1, program_id=1, mentor_enrollment_id=1, mentee_enrollment_id=4, status="active")]
    assert sorted(shortages(enrollments, pairings)) == [("cataloging", 2, 1), ("reference", 2, 1)]


def test_a_blackout_month_is_left_out_of_the_meeting_trend(engine: Engine, clock: FixedClock) -> None:
    from bot.services.reports import summarize

    state = build_known_state(engine, blackouts="2025-04-01..2025-04-30")
    with session_scope(engine) as session:
        summary = summarize(session, session.get(Program, state["program"].id), NOW)
    assert [m.month for m in summary.months] == ["2025-03", "2025-05"]


def test_the_meeting_rate_counts_each_pair_in_the_months_it_was_together(engine: Engine, clock: FixedClock) -> None:
    """Approved before the month ended and not ended before it began; a rejected proposal was never a pair."""
    from bot.services.reports import summarize

    state = build_known_state(engine)
    with session_scope(engine, write=True) as session:
        [m1, m3] = [
            session.exec(select(Enrollment).where(Enrollment.person_id == uid)).one() for uid in ("U0M1", "U0M3")
        ]
        [e4, e5] = [
            session.exec(select(Enrollment).where(Enrollment.person_id == uid)).one() for uid in ("U0E4", "U0E5")
        ]
        session.add_all(
            [
                # Together in March and April only: dissolved on Apr 10.
                Pairing(
                    program_id=m1.program_id, mentor_enrollment_id=m3.id, mentee_enrollment_id=e4.id,
                    status="dissolved", approved_at=datetime(2025, 3, 3, tzinfo=UTC),
                    ended_at=datetime(2025, 4, 10, 17, tzinfo=UTC),
                ),
                # Approved in April: not expected to have met in March.
                Pairing(
                    program_id=m1.program_id, mentor_enrollment_id=m1.id, mentee_enrollment_id=e5.id,
                    status="active", approved_at=datetime(2025, 4, 15, 17, tzinfo=UTC),
                ),
                # Rejected at the preview: never a pair.
                Pairing(
                    program_id=m1.program_id, mentor_enrollment_id=m3.id, mentee_enrollment_id=e5.id,
                    status="dissolved", ended_at=datetime(2025, 2, 25, tzinfo=UTC),
                ),
            ]
        )  # fmt: skip
    with session_scope(engine) as session:
        summary = summarize(session, session.get(Program, state["program"].id), NOW)
    assert [(m.month, m.live_pairs, m.pairs_met) for m in summary.months] == [
        ("2025-03", 4, 2),  # P1, P2, P3 and the pair dissolved in April
        ("2025-04", 5, 0),  # ... and the pair approved in April
        ("2025-05", 4, 1),  # the dissolved pair no longer
    ]


def test_cut_lists_in_the_summary_say_how_many_more_and_where() -> None:
    from bot.services.reports import ProgramSummary
    from bot.views.summary import summary_blocks

    summary = ProgramSummary(program_id=1, program_name="PLSEP 2025", today=date(2025, 5, 20), days_left=41)
    summary.participants = {"mentee": {"waitlisted": 12}}
    summary.waitlist_by_specialization = [(f"spec_{k}", 1, 1) for k in range(10)]
    summary.unreachable = [(f"U0GONE{k:03d}", "account_inactive") for k in range(20)]
    summary.at_risk = [(f"U0QM{k:04d}", f"U0QE{k:04d}", None) for k in range(3)]
    sections = [b["text"]["text"] for b in summary_blocks(summary) if b["type"] == "section"]
    [waitlist] = [t for t in sections if t.startswith("*Waitlist*")]
    assert waitlist.startswith("*Waitlist*: 12 mentees waiting") and waitlist.count("\n• ") == 8
    assert "… and 2 more specializations" in waitlist and "export participants PLSEP 2025" in waitlist
    [unreachable] = [t for t in sections if t.startswith("*Can't reach*")]
    assert unreachable.startswith("*Can't reach*: 20 people") and unreachable.count("account deactivated") == 15
    assert "… and 5 more people" in unreachable and "unreachable column" in unreachable
    [at_risk] = [t for t in sections if "At risk" in t]
    assert "3 pairs have gone quiet" in at_risk and "more" not in at_risk  # nothing cut, nothing to point to


def test_an_overdue_agreement_alert_counts_the_pairs_it_cannot_list() -> None:
    from bot.views.messages import render_delivery

    pairs = [[f"U0M{k:04d}", f"U0E{k:04d}"] for k in range(45)]
    text, blocks = render_delivery(
        "agreement_overdue", {"program": "PLSEP 2025", "agreement_due": "2025-03-01", "pairs": pairs}
    )
    shown = block_texts(blocks)
    assert text == "45 agreements overdue" and "45 pairs missed the agreement date" in shown
    assert shown.count("• <@") == 40 and "… and 5 more" in shown and "export pairings PLSEP 2025" in shown


def test_participants_export_says_who_cannot_be_reached(
    slack: SlackDriver, emulator: SlackEmulator, known: dict[str, Any]
) -> None:
    """The summary's "Can't reach" list points here for the people it leaves out: the column says why in the
    summary's words ("account deactivated"), not in Slack's codes ("account_inactive")."""
    slack.admin(ADMIN_ID, "export participants")
    [upload] = wait_for(lambda: emulator.uploaded_files)
    reasons = {r["slack_user_id"]: r["unreachable"] for r in csv_rows(upload.content)}
    assert reasons["U0E3"] == "account deactivated" and reasons["U0E1"] == ""


def test_audit_lines_read_as_words_and_name_the_program() -> None:
    from bot.views.audit import audit_blocks
    from storage.models import AuditEvent

    at = datetime(2025, 1, 15, 17, 0, tzinfo=UTC)
    events = [
        AuditEvent(actor="U0ADMIN01", action="program.edit", program_id=1, detail={"changed": ["ends_on", "timezone"]}, at=at),
        AuditEvent(actor="cli", action="applications.import", program_id=1,
                   detail={"file": "a<b>.csv", "loaded": 40, "skipped": 2}, at=at),
        AuditEvent(actor="U0ADMIN01", action="pairing.dissolve", program_id=1,
                   detail={"pairing_id": 7, "reason": "personal matter"}, at=at),
        AuditEvent(actor="U0ADMIN01", action="pairing.hand_pair", program_id=2,
                   detail={"pairing_id": 8, "override": True}, at=at),
        AuditEvent(actor="cli", action="program.edit", program_id=1, detail={"changed": []}, at=at),
        AuditEvent(actor="ops@host", action="program.create", program_id=3, detail={"name": "New"}, at=at),
    ]  # fmt: skip
    pairs = {7: ("U0MENTOR7", "U0MENTEE7"), 8: ("U0MENTOR8", "U0MENTEE8")}
    shown = block_texts(audit_blocks(events, {1: "PLSEP 2025"}, zones={1: "America/Los_Angeles"}, pairs=pairs))
    assert "<@U0ADMIN01> edited a program, *PLSEP 2025* (changed Ends and Time zone)" in shown
    assert (
        "the `shelfmate` command line imported applications from a file in *PLSEP 2025* "
        "(file a&lt;b&gt;.csv; 40 loaded; 2 skipped)"
    ) in shown
    assert "dissolved a pairing in *PLSEP 2025* (<@U0MENTOR7> mentoring <@U0MENTEE7>)" in shown
    assert "personal" not in shown
    assert "paired two people by hand (matching rules overridden; <@U0MENTOR8> mentoring <@U0MENTEE8>)" in shown
    # Each reader's own clock; a client that cannot show it reads the program's local time.
    assert "• <!date^1736960400^{date_short_pretty} {time}|Jan 15, 2025 9:00 AM Pacific time>: <@U0ADMIN01>" in shown
    assert "edited a program, *PLSEP 2025* (saved with no changes)" in shown
    assert "`ops@host` created a program (name New)" in shown
    assert "<@cli>" not in shown and "<@ops" not in shown


def test_an_ended_programs_summary_gives_final_figures_and_survey_totals() -> None:
    """After the end: no days left, no places to find for mentees nobody will match now, no agreements due,
    and the wrap-up survey as totals (it told people it helps coordinators plan, not that answers are read)."""
    from bot.services.reports import MonthRate, ProgramSummary, SurveyResults
    from bot.views.summary import summary_blocks, summary_text

    summary = ProgramSummary(program_id=1, program_name="PLSEP 2025", today=date(2026, 1, 20), days_left=0)
    summary.ended_on = date(2025, 6, 30)
    summary.participants = {"mentee": {"waitlisted": 2}}
    summary.waitlist_by_specialization = [("cataloging", 2, 2)]
    summary.months = [MonthRate("2025-05", 4, 3, 5), MonthRate("2025-06", 4, 2, 2)]
    summary.survey = SurveyResults(
        pairs_asked=4, pairs_answered=3, people_answered=5, average_satisfaction=4.2, would_continue=4,
        still_in_libraries=5,
    )  # fmt: skip
    # A digest carries the summary as JSON: the ended date and the survey survive the trip.
    summary = ProgramSummary.from_payload(summary.as_payload())
    shown = block_texts(summary_blocks(summary)) + "\n" + summary_text(summary)
    assert "Ended on Jun 30, 2025" in shown and "days left" not in shown and "this month" not in shown, shown
    assert "2 mentees still waiting when the program ended" in shown and "mentor place" not in shown, shown
    assert "Agreements" not in shown and "At risk" not in shown, shown
    assert "Jun: 2 of 4 (50%)" in shown, shown
    assert "5 answers from 3 of 4 pairs · average satisfaction 4.2/5" in shown, shown
    assert "4 of 5 would like to keep meeting · 5 of 5 still work in libraries" in shown, shown

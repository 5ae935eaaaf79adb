"""Defects a review found in the day's own fixes: each test failed before its fix and says what a person would notice."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.delivery import deliver_due
from bot.runtime import Runtime
from bot.services import checkins, schedule
from bot.services import enrollment as enrollment_service
from bot.services.enrollment import IntakeAnswers
from bot.views import participant
from bot.views.pairs import checkins_list_text
from storage.engine import session_scope
from storage.models import CheckIn, Delivery, Enrollment, Pairing, Program
from tests.factories import make_program
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_pairs import MENTEE, pairing_id  # noqa: F401 - the fixture
from tests.test_participants import wait_for
from tests.test_scheduler import LA, _pair, deliveries, settle_agreement


async def test_a_reminder_due_during_a_one_day_pause_is_asked_once_the_pause_lifts(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """March's "Did you meet?" is due Fri Mar 28, 9 AM; the mentee pauses at 8:30 AM until Saturday. The ask
    waits while she is paused (it is not dropped for good), and the pair is asked on Monday Mar 31, still in
    March, which is not excused by one paused day."""
    program = make_program(engine)
    emulator.add_user("U0MENT1", name="u0ment1", tz=LA)
    emulator.add_user("U0MTEE1", name="u0mtee1", tz=LA)
    pid = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC))
    settle_agreement(engine, pid, datetime(2025, 2, 25, 18, tzinfo=UTC))  # monthly, work hours only

    with session_scope(engine, write=True) as session:
        planned = schedule.plan(session, datetime(2025, 3, 28, 15, 0, tzinfo=UTC))  # Fri 8:00 AM in LA
    assert [(k.kind, k.period) for k in planned.enqueued] == [("did_you_meet", "2025-03")]
    with session_scope(engine, write=True) as session:  # `/mentor pause until 2025-03-29` at 8:30 AM
        enrollment_service.pause(session, "U0MTEE1", date(2025, 3, 29), datetime(2025, 3, 28, 15, 30, tzinfo=UTC))

    clock.set(datetime(2025, 3, 28, 16, 5, tzinfo=UTC))  # 9:05 AM: paused, so the ask waits (not dropped)
    report = await deliver_due(runtime)
    assert (report.sent, report.skipped, report.held) == (0, 0, 1)

    with session_scope(engine, write=True) as session:  # Saturday: the sweep lifts the pause
        assert enrollment_service.end_due_pauses(session, datetime(2025, 3, 29, 17, 0, tzinfo=UTC))

    monday = datetime(2025, 3, 31, 17, 5, tzinfo=UTC)  # Mon Mar 31, 10:05 AM: still March
    clock.set(monday)
    with session_scope(engine, write=True) as session:
        schedule.plan(session, monday)
    await deliver_due(runtime)
    asked = [d for d in deliveries(engine) if d.kind in ("did_you_meet", "did_you_meet_again") and d.status == "sent"]
    assert asked, "the pair was never asked whether they met in March"


def test_leaving_and_rejoining_does_not_give_back_the_former_partners_private_notes(engine: Engine) -> None:
    """The mentee leaves (answers and *their* notes erased; the code says the partner's notes "are not theirs to
    keep") and re-applies while applications are still open (or a coordinator re-runs the sign-up import).
    The withdrawn enrollment row is reused and set back to `applied`, so `readable_pairings` lists the old,
    dissolved pairing again and `/mentor checkins` shows the mentor's private note to someone who left."""
    program = make_program(engine)
    pid = _pair(engine, program, datetime(2025, 1, 20, 18, tzinfo=UTC), status="active")
    with session_scope(engine, write=True) as session:
        session.add(
            CheckIn(
                pairing_id=pid, logged_by="U0MENT1", met_on=date(2025, 1, 24), duration_minutes=30,
                private_note="MENTOR-ONLY-NOTE about the mentee", idempotency_key="review-1",
            )
        )  # fmt: skip
    with session_scope(engine, write=True) as session:
        enrollment_service.leave(session, "U0MTEE1", datetime(2025, 2, 1, 18, tzinfo=UTC))
        assert session.get(Pairing, pid).status == "dissolved"
    with session_scope(engine) as session:
        assert checkins.history(session, "U0MTEE1") == []  # right after leaving: nothing to read

    answers = IntakeAnswers(
        role="mentee", program_id=program.id, library_type="public", organization="Elsewhere", region="North",
        specializations=["school_instruction"], years_experience="1", goals="Try again.", meeting_format="any",
    )  # fmt: skip
    with session_scope(engine, write=True) as session:  # what `apply` (window open) and `shelfmate import` save
        enrollment_service.submit_intake(
            session, "U0MTEE1", session.get(Program, program.id), answers, datetime(2025, 2, 3, 18, tzinfo=UTC)
        )
    with session_scope(engine) as session:
        shown = "\n".join(checkins_list_text(h.pair, h.checkins) for h in checkins.history(session, "U0MTEE1"))
    assert "MENTOR-ONLY-NOTE" not in shown


def test_the_profile_choice_buttons_have_distinct_action_ids_within_their_block() -> None:
    """Block Kit requires each action_id to be unique within its block; the choice puts every button (one per
    profile, all ACTION_EDIT_PROFILE) in one actions block, so Slack refuses the message with invalid_blocks
    and the person in two programs gets no choice at all. (The emulator does not check this rule.)"""
    choices = [
        (
            Enrollment(id=i, program_id=i, person_id="U0ME", role=role),
            Program(
                id=i,
                name=f"Program {i}",
                applications_close=date(2025, 2, 17),
                agreement_due=date(2025, 3, 1),
                starts_on=date(2025, 3, 1),
                ends_on=date(2025, 6, 30),
            ),
        )  # fmt: skip
        for i, role in ((1, "mentor"), (2, "mentee"))
    ]
    _, blocks = participant.profile_choice(choices)
    for block in blocks:
        ids = [e["action_id"] for e in block.get("elements", []) if "action_id" in e]
        assert len(ids) == len(set(ids)), f"duplicate action_id in one block: {ids}"


def test_a_second_not_yet_mid_month_is_not_told_the_period_is_nearly_over(
    slack: SlackDriver,
    emulator: SlackEmulator,
    engine: Engine,
    pairing_id: int,  # noqa: F811 - the fixture imported above
    clock: FixedClock,
) -> None:
    """ "Not yet" on Mon Mar 10 queues the re-ask for Mar 13; it is sent; "Not yet" again on Mar 13 gets `False`
    from ask_again (the re-ask for March exists), and the listener reads every False as "This period is nearly
    over" although 18 days of March are left."""
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "active"
    clock.set(datetime(2025, 3, 10, 18, tzinfo=UTC))
    slack.block_action(MENTEE, "shelfmate_not_yet", str(pairing_id))
    first = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "ask again in a few days" in first[-1]["text"]
    with session_scope(engine, write=True) as session:  # the re-ask went out on Mar 13
        [again] = [d for d in session.exec(select(Delivery)) if d.kind == "did_you_meet_again"]
        again.status = "sent"
        session.add(again)

    clock.set(datetime(2025, 3, 13, 18, tzinfo=UTC))
    slack.block_action(MENTEE, "shelfmate_not_yet", str(pairing_id))
    second = wait_for(lambda: emulator.responses_to(slack.last_response_url))
    assert "nearly over" not in second[-1]["text"], second[-1]["text"]


def test_a_program_saved_with_many_one_day_blackouts_can_still_be_edited(engine: Engine) -> None:
    """The 3,000-character check counts the text as typed ("2025-03-03, 2025-03-04, ..."), but a one-day blackout
    is stored as [day, day] and shown back (program form, and `current()` when another field is edited) as
    "2025-03-03..2025-03-03", twice as long. 130 school-year days typed in 1,688 characters are accepted; after
    that, renaming the program (or any edit) is refused with "blackouts is too long", and the edit form's
    initial value is longer than its own max_length, which Slack refuses."""
    from datetime import timedelta

    from bot.services import programs as program_service
    from bot.views.admin import program_modal

    days, day = [], date(2025, 3, 3)
    while len(days) < 130:
        if day.weekday() < 5:
            days.append(day.isoformat())
        day += timedelta(days=1)
    typed = ", ".join(days)
    assert len(typed) <= program_service.LIST_TEXT_LIMIT
    program = make_program(engine, blackouts=typed, ends_on="2025-12-31")
    with session_scope(engine, write=True) as session:
        program_service.edit_program(
            session, session.get(Program, program.id), {"name": "PLSEP 2025 (renamed)"},
            actor="U0ADMIN01", now=datetime(2025, 1, 2, tzinfo=UTC),
        )  # fmt: skip
    with session_scope(engine) as session:
        stored = session.get(Program, program.id)
        modal = program_modal(stored)
    [field] = [b["element"] for b in modal["blocks"] if b.get("block_id") == "blackouts"]
    assert len(field.get("initial_value", "")) <= field["max_length"], "the edit form cannot be opened"

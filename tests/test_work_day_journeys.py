"""A program's own work day. Work hours were fixed at 9 AM - 5 PM, Monday to Friday; a school district's day runs
from 7:30 AM to 3:30 PM. A pair that said "work hours only" got a nudge at 4 PM, after the school day, and
reminders planned for 9 AM landed mid-lesson. The coordinator now sets the program's work day; a program that
does not keeps 9 AM - 5 PM (the rest of the suite runs on that default).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.clock import FixedClock
from bot.runtime import Runtime
from storage import queries
from storage.engine import session_scope
from storage.models import Program
from tests.conftest import ADMIN_ID
from tests.factories import each_shown, introduce_pair, make_program, program_form, shown_text, ticks_at
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_participants import opened_view
from tests.test_scheduler import deliveries, settle_agreement
from tests.test_school_year_journeys import SCHOOL_YEAR, _neighbouring_districts_paired, _pair_up

LA = ZoneInfo("America/Los_Angeles")
MENTOR, LIBRARIAN = "U0WDMENTR", "U0WDLIBRN"
SCHOOL_DAY = {"work_day_starts": "07:30", "work_day_ends": "15:30"}
# October's nudge is due on Thursday Oct 16, the middle of the month (Pacific daylight time, UTC-7).
NUDGE_DAY = date(2025, 10, 16)


def at_la(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LA).astimezone(UTC)


def school_program(engine: Engine, emulator: SlackEmulator) -> Program:
    program = make_program(engine, **(SCHOOL_YEAR | SCHOOL_DAY))
    emulator.add_channel("C0ADMINS01", "district-library-admins", members=[ADMIN_ID])
    return program


def work_hours_only_pair(engine: Engine, emulator: SlackEmulator, program: Program) -> int:
    """Marisol and Juniper, both in Los Angeles, settled in September: monthly, no chat outside work hours."""
    pairing_id = _pair_up(engine, emulator, program, MENTOR, LIBRARIAN, at_la(date(2025, 9, 10), 10))
    settle_agreement(engine, pairing_id, at_la(date(2025, 9, 11), 10), after_hours=False)
    return pairing_id


def nudges_posted(emulator: SlackEmulator) -> list[str]:
    posted = [c for c in emulator.calls_to("chat.postMessage") if c.ok]
    return [text for text in each_shown([{"text": c.arg("text"), "blocks": c.arg("blocks")} for c in posted])
            if "friendly nudge" in text]  # fmt: skip


# -- the pair's quiet hours --------------------------------------------------------------------------------------
async def test_a_work_hours_only_pairs_nudge_due_after_school_waits_for_the_next_school_morning(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """The sweep at 4 PM on the nudge's day finds it due. 4 PM is inside 9-5 but after the school day, and the pair
    said work hours only: it waits until 7:30 AM on Friday, not a minute earlier, and goes out then."""
    program = school_program(engine, emulator)
    pairing_id = work_hours_only_pair(engine, emulator, program)

    await ticks_at(runtime, clock, at_la(NUDGE_DAY, 16))
    assert nudges_posted(emulator) == [], "the nudge went out at 4 PM, after the school day"
    [nudge] = [d for d in deliveries(engine) if d.kind == "nudge" and d.pairing_id == pairing_id]
    due = nudge.due_at if nudge.due_at.tzinfo else nudge.due_at.replace(tzinfo=UTC)
    assert due.astimezone(LA) == datetime(2025, 10, 17, 7, 30, tzinfo=LA), due.astimezone(LA)

    await ticks_at(runtime, clock, at_la(NUDGE_DAY, 21), at_la(date(2025, 10, 17), 7, 29))
    assert nudges_posted(emulator) == [], "the nudge went out before the school day began"
    await ticks_at(runtime, clock, at_la(date(2025, 10, 17), 7, 30))
    assert len(nudges_posted(emulator)) == 1, "the nudge did not go out as the school day began"


async def test_reminders_are_planned_for_the_start_of_the_school_day_not_9_am(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A sweep before dawn plans the day's nudge for the start of the program's work day: 7:30 AM, before the
    first lesson, not 9 AM in the middle of one."""
    program = school_program(engine, emulator)
    work_hours_only_pair(engine, emulator, program)

    await ticks_at(runtime, clock, at_la(NUDGE_DAY, 6))
    assert nudges_posted(emulator) == []
    await ticks_at(runtime, clock, at_la(NUDGE_DAY, 7, 30))
    assert len(nudges_posted(emulator)) == 1, "the nudge was not sent as the school day began"


# -- what the pair reads --------------------------------------------------------------------------------------
async def test_the_intro_and_the_agreement_form_say_the_programs_hours(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The pair decides whether the mentor is on call during work hours and whether chat outside them is fine:
    the intro and the form name the school's hours, not 9 AM - 5 PM."""
    program = school_program(engine, emulator)
    introduced = at_la(date(2025, 9, 10), 10)
    clock.set(introduced)
    pairing_id = _neighbouring_districts_paired(engine, emulator, program, MENTOR, LIBRARIAN, introduced)
    conversation = await introduce_pair(emulator, runtime, clock, MENTOR, LIBRARIAN)

    intro = shown_text(emulator.messages_in(conversation))
    assert "Work hours here: 7:30 AM - 3:30 PM on weekdays, each in your own time zone." in intro, intro

    opened = len(emulator.calls_to("views.open"))
    slack.block_action(LIBRARIAN, "shelfmate_open_agreement", str(pairing_id), channel_id=conversation)
    form = shown_text([{"blocks": opened_view(emulator, opened)["blocks"]}])
    assert "Work hours here are 7:30 AM - 3:30 PM, Monday to Friday, each in your own time zone." in form, form
    assert "9 AM" not in form and "5 PM" not in form, form


# -- what the coordinator sets ------------------------------------------------------------------------------------
def program_row(engine: Engine, name: str) -> Program:
    with session_scope(engine) as session:
        program = queries.program_by_name(session, name)
        assert program is not None
        session.expunge(program)
        return program


def test_the_program_form_sets_shows_and_checks_the_work_day(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """The coordinator creates the district's program with a 7:30 AM - 3:30 PM day; the list shows it, the edit form
    opens with it, and an end before the start is refused next to the field in plain words, the program as it
    was."""
    name = SCHOOL_YEAR["name"]
    emulator.add_channel("C0ADMINS01", "district-library-admins", members=[ADMIN_ID])
    slack.admin(ADMIN_ID, "program create")
    new = opened_view(emulator)
    starts, ends = (next(b for b in new["blocks"] if b["block_id"] == k) for k in ("work_day_starts", "work_day_ends"))
    assert (starts["element"]["initial_time"], ends["element"]["initial_time"]) == ("09:00", "17:00")
    assert "own time zone" in ends["hint"]["text"], ends

    form = program_form(**(SCHOOL_YEAR | SCHOOL_DAY))
    answer = slack.view_submission(ADMIN_ID, new["callback_id"], form, private_metadata=new["private_metadata"])
    assert answer.status_code == 200 and answer.content in (b"", b"{}"), answer.text
    program = program_row(engine, name)
    assert (program.work_day_starts, program.work_day_ends) == (time(7, 30), time(15, 30))

    listed = slack.admin(ADMIN_ID, "program list").json()
    assert "work hours 7:30 AM - 3:30 PM" in shown_text([listed]), listed

    opened = len(emulator.calls_to("views.open"))
    slack.admin(ADMIN_ID, f"program edit {name}")
    edit = opened_view(emulator, opened)
    times = {
        b["block_id"]: b["element"].get("initial_time") for b in edit["blocks"] if b["block_id"].startswith("work")
    }
    assert times == {"work_day_starts": "07:30", "work_day_ends": "15:30"}, times

    wrong = program_form(
        **(SCHOOL_YEAR | {"work_day_starts": "07:30", "work_day_ends": "07:00", "ends_on": "2026-06-19"})
    )
    answer = slack.view_submission(
        ADMIN_ID, edit["callback_id"], wrong, private_metadata=edit["private_metadata"], view_hash="edit.2"
    )
    errors = answer.json()["errors"]
    assert errors == {"work_day_ends": "must be later than the start of the work day (7:30 AM), on the same day."}
    program = program_row(engine, name)
    assert (program.work_day_ends, program.ends_on) == (time(15, 30), date(2026, 6, 12)), "a refused edit changed it"


def test_the_command_line_sets_the_work_day_from_a_file_and_refuses_an_end_before_the_start(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A district keeps its calendar in a TOML file: the work day is two more lines, as a TOML time or as typed.
    An end before the start is one plain line naming the option, and nothing changes."""
    calendar = operator_shell / "hillcrest.toml"
    calendar.write_text(
        'name = "Hillcrest"\napplications_close = 2025-09-05\nagreement_due = 2025-09-19\n'
        'starts = 2025-09-08\nends = 2026-06-12\nwork_day_starts = 07:30:00\nwork_day_ends = "3:30 PM"\n',
        encoding="utf-8",
    )
    assert main(["program", "create", "--file", str(calendar)]) == 0
    assert main(["program", "list"]) == 0
    assert "work hours 7:30 AM - 3:30 PM" in capsys.readouterr().out

    assert main(["program", "edit", "Hillcrest", "--work-day-ends", "7:00 AM", "--ends", "2026-06-19"]) != 0
    captured = capsys.readouterr()
    told = captured.out + captured.err
    assert (
        "Work day ends (--work-day-ends): must be later than the start of the work day (7:30 AM), on the same day."
        in told
    ), told
    assert "Traceback" not in told, told
    assert main(["program", "edit", "Hillcrest", "--work-day-starts", "4 PM"]) != 0
    told = "".join(capsys.readouterr())
    assert "Work day starts (--work-day-starts): must be earlier than the end of the work day (3:30 PM)." in told
    assert main(["program", "edit", "Hillcrest", "--work-day-starts", "half past seven"]) != 0
    told = "".join(capsys.readouterr())
    assert "'half past seven' is not a time of day: use HH:MM, e.g. 07:30 or 3:30 PM." in told, told
    program = program_row(engine, "Hillcrest")
    assert (program.work_day_starts, program.work_day_ends, program.ends_on) == (
        time(7, 30),
        time(15, 30),
        date(2026, 6, 12),
    )


def test_a_program_that_sets_no_work_day_keeps_9_to_5(engine: Engine) -> None:
    """Existing programs, and new ones that leave it alone, keep the hours every program had."""
    program = make_program(engine)
    assert (program.work_day_starts, program.work_day_ends) == (time(9, 0), time(17, 0))

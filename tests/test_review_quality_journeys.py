"""Journeys behind the code-quality review: alerts that were silently skipped, copies sent to the person an
alert is about, an audit ordering a set-back clock upset, and answers that disagreed about the same pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from bot.services import checkins as checkins_service
from bot.services import pairing as pairing_service
from bot.services import programs as program_service
from bot.services import reports, schedule
from bot.services.accounts import record_account_status
from bot.views import ids
from bot.views import participant as participant_views
from storage.engine import session_scope
from storage.models import Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, make_program, shown_text
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_scheduler import ADMIN_CHANNEL, _pair, deliveries, enroll, person, settle_agreement
from tests.test_workspace_change_journeys import MENTOR, _introduced_active_pair

USERS = ("U0MENT1", "U0MTEE1", "U0MENT2", "U0MTEE2", "U0ADMIN01")


def _people(emulator: SlackEmulator) -> None:
    for uid in USERS:
        emulator.add_user(uid, name=uid.lower(), tz="America/Los_Angeles")


async def _tick_at(runtime: Runtime, clock: FixedClock, at: datetime) -> None:
    clock.set(at)
    await tick(runtime)


def _at_risk_posts(emulator: SlackEmulator, channel: str = ADMIN_CHANNEL) -> list[dict[str, Any]]:
    return [m for m in emulator.messages_in(channel) if "at risk" in str(m.get("text", ""))]


async def test_a_pair_that_goes_quiet_mid_period_is_reported_once_even_after_the_monthly_alert(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Pair 1 never meets: on May 1 the coordinators hear it missed March and April. Pair 2, introduced in
    March, lets its agreement date pass and never meets either: it is in the same May 1 alert (a pair that never
    settles is asked to meet at the program's cadence all the same, see tests/test_coordinator_review.py), and
    settling on May 15 while still quiet reports it no second time."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=["U0ADMIN01"])
    _people(emulator)
    first = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), n=1)
    settle_agreement(engine, first, datetime(2025, 2, 25, 18, tzinfo=UTC))
    second = _pair(engine, program, datetime(2025, 3, 2, 18, tzinfo=UTC), n=2)

    await _tick_at(runtime, clock, datetime(2025, 5, 1, 17, 5, tzinfo=UTC))
    may_first = _at_risk_posts(emulator)
    assert len(may_first) == 1 and "<@U0MTEE1>" in block_texts(may_first[0]["blocks"])
    assert "<@U0MTEE2>" in block_texts(may_first[0]["blocks"])

    settle_agreement(engine, second, datetime(2025, 5, 15, 16, tzinfo=UTC))
    await _tick_at(runtime, clock, datetime(2025, 5, 15, 17, 5, tzinfo=UTC))
    await _tick_at(runtime, clock, datetime(2025, 5, 15, 20, 5, tzinfo=UTC))
    await _tick_at(runtime, clock, datetime(2025, 5, 16, 17, 5, tzinfo=UTC))
    later = _at_risk_posts(emulator)[1:]
    assert later == [], f"{len(later)} at-risk posts after May 1 (pair 2 was reported then)"


def _preview(session: Any, program: Program, now: datetime) -> pairing_service.MatchPreview:
    """As `/mentor-admin match preview` does it: the preview, and its audit event with the fingerprint."""
    preview = pairing_service.preview(session, program, now)
    program_service.record_admin_action(
        session, "U0ADMIN01", pairing_service.PREVIEW_ACTION, program.id, {"fingerprint": preview.fingerprint}, now
    )
    return preview


def test_approve_all_on_the_newest_preview_works_after_the_rehearsal_clock_was_set_back(engine: Engine) -> None:
    """A coordinator rehearsing previews the matches on Feb 20, sets the rehearsal clock back to Feb 10, a
    new applicant arrives, and previews again: Approve all on that newest preview approves its proposals
    instead of saying a newer preview replaced it."""
    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in (("U0MENT1", "mentor"), ("U0MTEE1", "mentee")):
            person(session, uid)
            enroll(session, program, uid, role)
        _preview(session, program, datetime(2025, 2, 20, 18, tzinfo=UTC))
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        person(session, "U0MTEE2")
        enroll(session, program, "U0MTEE2", "mentee")
        newest = _preview(session, program, datetime(2025, 2, 10, 18, tzinfo=UTC))
        fingerprint = newest.fingerprint
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        result = pairing_service.approve_all(
            session, program, "U0ADMIN01", datetime(2025, 2, 10, 19, tzinfo=UTC), preview_fingerprint=fingerprint
        )
    assert result.approved == 2


async def test_a_coordinator_whose_own_account_is_gone_is_not_sent_the_copy_of_the_alert_about_them(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """Morgan mentors in the program and coordinates it too. Morgan's account is deactivated while the admin
    channel is archived: the other coordinator gets the alert by DM; nobody tries to DM Morgan about Morgan
    (a send that fails and would report Morgan as someone the bot can't reach)."""
    program = make_program(engine, admins=f"{MENTOR},{ADMIN_ID}")
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id], is_archived=True)
    emulator.add_user(ADMIN_ID, name="admin", tz="America/Los_Angeles")
    await _introduced_active_pair(engine, emulator, program, runtime, clock)

    at = datetime(2025, 3, 11, 17, tzinfo=UTC)  # a Tuesday: no weekly digest (and its copies) that day
    emulator.deactivate_user(MENTOR)
    with session_scope(engine, write=True) as session:
        record_account_status(session, session.get(Person, MENTOR), deactivated=True, now=at)
    await _tick_at(runtime, clock, at)
    await _tick_at(runtime, clock, at + timedelta(minutes=5))

    told = shown_text(emulator.messages_in(ADMIN_ID))
    assert "Morgan" in told or f"<@{MENTOR}>" in told, "the other coordinator heard nothing"
    tried_mentor = [c for c in emulator.calls_to("chat.postMessage") if c.arg("channel") in (MENTOR,)]
    opened_for_mentor = [c for c in emulator.calls_to("conversations.open") if c.arg("users") == MENTOR]
    assert not tried_mentor and not opened_for_mentor, "the bot tried to DM Morgan the alert about Morgan"
    reported = [d for d in deliveries(engine) if d.kind == "unreachable" and MENTOR in d.subject]
    assert not reported, "Morgan reported as someone the bot can't reach, over the alert about Morgan"


def test_an_account_gone_in_tokyo_is_excused_from_the_day_it_went_in_the_programs_calendar(engine: Engine) -> None:
    """A mentee in Tokyo loses the account at 11 AM on Monday Apr 7 there: Sunday evening Apr 6 in Los
    Angeles, the program's zone. The days the pair is excused, on the program's calendar, start on Apr 6;
    and when the account comes back at 9 AM Tokyo on Apr 21 (Apr 20 in Los Angeles), they end on Apr 20."""
    program = make_program(engine)
    pairing_id = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), n=1)
    with session_scope(engine, write=True) as session:
        mentee = session.get(Person, "U0MTEE1")
        mentee.timezone = "Asia/Tokyo"
        record_account_status(session, mentee, deactivated=True, now=datetime(2025, 4, 7, 2, tzinfo=UTC))
    with session_scope(engine) as session:
        program = session.get(Program, program.id)
        pairing = session.get(Pairing, pairing_id)
        gone = schedule.pair_excusals(program, pairing, None, None, (session.get(Person, "U0MTEE1"),))
    assert ["2025-04-06", "2025-06-30"] in gone, gone
    with session_scope(engine, write=True) as session:
        record_account_status(
            session, session.get(Person, "U0MTEE1"), deactivated=False, now=datetime(2025, 4, 21, 0, tzinfo=UTC)
        )
    with session_scope(engine) as session:
        program = session.get(Program, program.id)
        pairing = session.get(Pairing, pairing_id)
        back = schedule.pair_excusals(program, pairing, None, None, (session.get(Person, "U0MTEE1"),))
    assert ["2025-04-06", "2025-04-20"] in back, back


def test_the_hours_export_leaves_out_a_pair_unpaired_before_their_intro_went_out(engine: Engine) -> None:
    """Pair 1 was approved on a Friday evening and unpaired before Monday's intro: the two never heard of each
    other, and `/mentor checkins` shows them nothing. The hours export, which library systems read as
    professional-development evidence, should not list them with 0 hours either; pair 2, introduced, is listed."""
    program = make_program(engine)
    first = _pair(engine, program, datetime(2025, 2, 21, 3, tzinfo=UTC), status="proposed", n=1)
    _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), status="introduced", n=2)
    with session_scope(engine, write=True) as session:
        pairing_service.dissolve(
            session, session.get(Pairing, first), "U0ADMIN01", datetime(2025, 2, 22, 18, tzinfo=UTC), "Unpaired."
        )
    with session_scope(engine) as session:
        program = session.get(Program, program.id)
        rows = reports.export_csv(session, program, "hours").decode("utf-8-sig").splitlines()
        assert checkins_service.readable_pairings(session, "U0MTEE1") == []
    listed = {row.split(",")[0] for row in rows[1:]}
    assert listed == {"U0MENT2", "U0MTEE2"}, listed


async def test_without_an_admin_channel_the_coordinators_hear_of_overdue_agreements_and_pairs_at_risk_by_dm(
    engine: Engine, emulator: SlackEmulator, runtime: Runtime, clock: FixedClock
) -> None:
    """A program set up without an admin channel: pair 1 never settles its agreement (due Mar 1) and pair 2
    settles but never meets. The coordinator (SHELFMATE_ADMINS) gets both alerts by DM, as the newer notices
    (an account gone, a changed profile) already do, instead of nobody hearing of either."""
    program = make_program(engine, admin_channel="")
    _people(emulator)
    _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), n=1)
    quiet = _pair(engine, program, datetime(2025, 2, 20, 18, tzinfo=UTC), n=2)
    settle_agreement(engine, quiet, datetime(2025, 2, 25, 18, tzinfo=UTC))

    await _tick_at(runtime, clock, datetime(2025, 3, 3, 17, 5, tzinfo=UTC))
    await _tick_at(runtime, clock, datetime(2025, 3, 3, 20, 5, tzinfo=UTC))
    overdue = [m for m in emulator.messages_in(ADMIN_ID) if "overdue" in str(m.get("text", ""))]
    assert len(overdue) == 1 and "<@U0MTEE1>" in shown_text(overdue), shown_text(emulator.messages_in(ADMIN_ID))[:300]

    await _tick_at(runtime, clock, datetime(2025, 5, 1, 17, 5, tzinfo=UTC))
    await _tick_at(runtime, clock, datetime(2025, 5, 1, 20, 5, tzinfo=UTC))
    at_risk = _at_risk_posts(emulator, ADMIN_ID)
    assert len(at_risk) == 1 and "<@U0MTEE2>" in shown_text(at_risk)


def test_a_rematch_choice_without_a_pairing_says_it_is_out_of_date(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """A choice button made for a request that had no pairing (or a hand-edited one) is answered as out of
    date, with the command to use again, not treated as a choice about some pairing "0"."""
    make_program(engine)
    emulator.add_user("U0MTEE1", name="u0mtee1", tz="America/Los_Angeles")
    value = participant_views.rematch_choice_value(None, "we never find a time that works")
    assert participant_views.parse_rematch_choice(value) == (None, "we never find a time that works")
    slack.block_action("U0MTEE1", ids.ACTION_REMATCH_CHOICE, value, message_ts="1741197600.000100")
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")
    assert "out of date" in said[-1]["text"] and "/mentor rematch" in said[-1]["text"]

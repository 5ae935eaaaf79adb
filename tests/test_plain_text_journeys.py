"""Text Slack shows as plain text must read as typed.

A modal's form errors (`response_action: "errors"`) and every `plain_text` object (titles, labels, hints,
placeholders, headers, button and option texts) are shown literally: mrkdwn markup there shows as `&lt;`,
asterisks, backticks and raw `<@U…>` / `<#C…>` references. The join form's refusals were composed as mrkdwn
and shown so when a program closed, or its channel rule changed, while someone's form was open.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.mrkdwn import escape
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import Enrollment, Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import intake_state, make_program, program_form
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_ended_program_journeys import LATE_MENTEE, paired_late
from tests.test_scheduler import enroll, hand_pair, person
from tests.test_second_year_journeys import DAY_AFTER_THE_END, LAST_YEAR, MENTOR, checkin_state

LIB = "U0PLAIN01"
TYPED_NAME = "Tweens <&> Teens"
# What plain text must never show: mrkdwn escapes, emphasis markers, code spans and raw references.
MARKUP = ("&lt;", "&gt;", "&amp;", "<@", "<#", "<!", "*", "`")
OPEN = datetime(2025, 2, 18, 7, 59, 30, tzinfo=UTC)  # 11:59 PM on Feb 17 in Los Angeles: still open
CLOSED = datetime(2025, 2, 18, 8, 0, 30, tzinfo=UTC)  # a minute later: applications have closed


def _librarian(emulator: SlackEmulator) -> str:
    emulator.add_user(LIB, name="dana", real_name="Dana Reyes", tz="America/Los_Angeles", tz_offset=-28800)
    return LIB


def _open_join_form(slack: SlackDriver, emulator: SlackEmulator, user: str) -> dict[str, Any]:
    emulator.reset_calls()
    assert slack.mentor(user, "join mentee").status_code == 200
    wait_for(lambda: emulator.calls_to("views.open"), what="the join form")
    return emulator.calls_to("views.open")[-1].arg("view")


def _submit(slack: SlackDriver, user: str, view: dict[str, Any]) -> dict[str, str]:
    """The form errors Slack is asked to show under the modal's fields."""
    answer = slack.view_submission(user, view["callback_id"], intake_state(), private_metadata=view["private_metadata"])
    body = answer.json()
    assert body.get("response_action") == "errors", answer.text
    return body["errors"]


def _markup_in(text: str) -> list[str]:
    return [markup for markup in MARKUP if markup in text]


def test_a_program_that_closes_while_the_join_form_is_open_is_named_as_typed_in_the_form_error(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Dana opens the join form a minute before "Tweens <&> Teens" closes and presses Apply a minute after: the
    form says applications closed, naming the program as the coordinator typed it, without mrkdwn markup."""
    make_program(engine, name=TYPED_NAME)
    user = _librarian(emulator)
    clock.set(OPEN)
    view = _open_join_form(slack, emulator, user)
    clock.set(CLOSED)

    errors = _submit(slack, user, view)
    shown = " ".join(errors.values())
    assert "closed on Feb 17, 2025" in shown, errors
    assert f"Applications for {TYPED_NAME} closed" in shown, errors
    assert _markup_in(shown) == [], errors


def test_a_channel_rule_that_shuts_someone_out_while_the_form_is_open_names_program_and_channel_readably(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """ "Tweens <&> Teens" is open to #teen-services; Dana, a member, opens the join form and then leaves the
    channel. Pressing Apply tells her, in the form, the program and the channel by the names she knows."""
    make_program(engine, name=TYPED_NAME, eligibility="channel", eligibility_channel="C0TEENS01")
    user = _librarian(emulator)
    emulator.add_channel("C0TEENS01", "teen-services", members=[user])
    clock.set(OPEN)
    view = _open_join_form(slack, emulator, user)
    emulator.add_channel("C0TEENS01", "teen-services", members=[])

    errors = _submit(slack, user, view)
    shown = " ".join(errors.values())
    assert f"{TYPED_NAME} is open to members of #teen-services" in shown, errors
    assert "/mentor join" in shown, errors
    assert _markup_in(shown) == [], errors
    assert "C0TEENS01" not in json.dumps(errors), errors


async def test_a_check_in_form_for_a_pair_never_introduced_names_the_partner_not_their_slack_id(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Paired on the program's last evening, the pair's intro was dropped at the end. A check-in form for that
    pairing is refused in the form; it names the partner as people see them, not `<@U…>`, and the program
    without asterisks."""
    late_pair = paired_late(engine, emulator, clock, datetime(2025, 7, 1, 1, 0, tzinfo=UTC))
    await tick(runtime)  # the intro waits for the morning
    clock.set(DAY_AFTER_THE_END)
    await tick(runtime)  # the program closes; the intro is dropped
    with session_scope(engine) as session:
        partner_name = session.get(Person, MENTOR).display_name

    refused = slack.view_submission(
        LATE_MENTEE,
        "shelfmate_checkin",
        checkin_state("2025-06-30"),
        private_metadata=json.dumps({"pairing_id": late_pair}),
    )
    assert refused.json().get("response_action") == "errors", refused.text
    shown = " ".join(refused.json()["errors"].values())
    assert f"You and @{partner_name} were never introduced: {LAST_YEAR} ended" in shown, shown
    assert _markup_in(shown) == [], shown


def test_a_profile_form_saved_after_leaving_names_the_program_as_typed(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Dana joins "Tweens <&> Teens", opens her profile form, and leaves the program from another window before
    saving it: the form says she left, naming the program as typed (the text was quoted raw into mrkdwn)."""
    program = make_program(engine, name=TYPED_NAME)
    user = _librarian(emulator)
    view = _open_join_form(slack, emulator, user)
    assert slack.view_submission(user, view["callback_id"], intake_state(), private_metadata=view["private_metadata"])
    assert _enrollment_status(engine, program.id, user) == "applied"
    emulator.reset_calls()
    slack.mentor(user, "profile")
    wait_for(lambda: emulator.calls_to("views.open"), what="the profile form")
    profile = emulator.calls_to("views.open")[-1].arg("view")
    slack.block_action(user, "shelfmate_leave_confirm", "leave")
    wait_for(lambda: _enrollment_status(engine, program.id, user) == "withdrawn", what="Dana has left")

    errors = _submit(slack, user, profile)
    shown = " ".join(errors.values())
    assert f"You left {TYPED_NAME}, so there is no profile to save." in shown, errors
    assert _markup_in(shown) == [], errors


def _enrollment_status(engine: Engine, program_id: int | None, user: str) -> str | None:
    with session_scope(engine) as session:
        found = session.exec(
            select(Enrollment).where(Enrollment.program_id == program_id, Enrollment.person_id == user)
        ).first()
        return found.status if found else None


# -- every plain_text a journey shows -------------------------------------------------------------------------
# What plain text must not show whatever was typed: mrkdwn escapes and Slack references.
ESCAPES_AND_REFERENCES = ("&lt;", "&gt;", "&amp;", "<@", "<#", "<!")
OTHER_NAME = "Readers & Writers <Club>"
BO = "U0PLAINBO"


def plain_texts(node: Any) -> list[str]:
    """The text of every plain_text object in a view (titles, labels, hints, placeholders, options, buttons)."""
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "plain_text" and isinstance(node.get("text"), str):
            out.append(node["text"])
        for value in node.values():
            out += plain_texts(value)
    elif isinstance(node, list):
        for item in node:
            out += plain_texts(item)
    return out


def views_shown(emulator: SlackEmulator) -> list[dict[str, Any]]:
    return [
        call.arg("view")
        for method in ("views.open", "views.update", "views.push", "views.publish")
        for call in emulator.calls_to(method)
    ]


async def test_no_modal_nor_form_error_shows_mrkdwn_escapes_or_raw_references(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Two programs named with markup are open. Dana joins one (choosing it in the form), opens her profile;
    Bo mentors her in both, so she logs a meeting choosing between them, opens the agreement form and the
    wrap-up survey; the coordinator edits a program and mistypes its time zone; Dana's form for the other
    program is still open when its applications close. No modal, Home tab nor form error
    shows `&lt;`, `&amp;` or a raw `<@…>`, `<#…>` or `<!…>`, and the programs' names read as typed."""
    first, second = make_program(engine, name=TYPED_NAME), make_program(engine, name=OTHER_NAME)
    user = _librarian(emulator)
    emulator.add_user(BO, name="bo", real_name="Bo Mentor", display_name="Bo", tz="America/Los_Angeles")
    shown: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []

    join_form = _open_join_form(slack, emulator, user)
    joined = slack.view_submission(
        user,
        join_form["callback_id"],
        intake_state(program_id=first.id),
        private_metadata=join_form["private_metadata"],
    )
    assert joined.status_code == 200 and not joined.content, joined.text
    shown += views_shown(emulator)
    emulator.reset_calls()
    slack.mentor(user, "profile")
    wait_for(lambda: emulator.calls_to("views.open"), what="the profile form")
    shown += views_shown(emulator)

    with session_scope(engine, write=True) as session:
        person(session, BO)
        for program in (session.get(Program, first.id), session.get(Program, second.id)):
            enroll(session, program, BO, "mentor", status="matched")
        enroll(session, session.get(Program, second.id), user, "mentee", status="matched")
    pairings = [hand_pair(engine, program, BO, user, clock.now()) for program in (first, second)]
    with session_scope(engine, write=True) as session:
        for pairing_id in pairings:
            session.get(Pairing, pairing_id).status = "introduced"
    for action in ("shelfmate_checkin", "shelfmate_open_agreement", "shelfmate_survey"):
        emulator.reset_calls()
        slack.block_action(user, action, str(pairings[0]))
        wait_for(lambda: emulator.calls_to("views.open") or emulator.responses_to(slack.last_response_url))
        shown += views_shown(emulator)
    emulator.reset_calls()
    slack.mentor(user, "checkin")
    checkin_form = wait_for(lambda: emulator.calls_to("views.open"), what="the check-in form")[-1].arg("view")
    shown += views_shown(emulator)
    assert any(f"in {TYPED_NAME}" in text for text in plain_texts(checkin_form)), plain_texts(checkin_form)

    emulator.reset_calls()
    slack.admin(ADMIN_ID, f"program edit {escape(TYPED_NAME)}")
    program_modal = wait_for(lambda: emulator.calls_to("views.open"), what="the program form")[-1].arg("view")
    shown += views_shown(emulator)
    form = program_form(name=TYPED_NAME, timezone="Mars/<&>")
    answer = slack.view_submission(
        ADMIN_ID, program_modal["callback_id"], form, private_metadata=program_modal["private_metadata"]
    )
    errors.append(answer.json().get("errors") or {})
    assert "Mars/<&>" in json.dumps(errors[-1]), answer.text

    clock.set(OPEN)  # Dana opens the join form again for the other program, which closes before she applies
    late_form = _open_join_form(slack, emulator, user)
    shown += views_shown(emulator)
    clock.set(CLOSED)
    answer = slack.view_submission(
        user,
        late_form["callback_id"],
        intake_state(program_id=second.id),
        private_metadata=late_form["private_metadata"],
    )
    errors.append(answer.json().get("errors") or {})
    assert "closed on" in json.dumps(errors[-1]), answer.text

    assert len(shown) >= 8, [view.get("callback_id") for view in shown]
    texts = [text for view in shown for text in plain_texts(view)] + [e for err in errors for e in err.values()]
    assert any(TYPED_NAME in text for text in texts) and any(OTHER_NAME in text for text in texts), texts
    marked = [text for text in texts if any(markup in text for markup in ESCAPES_AND_REFERENCES)]
    assert marked == [], marked

"""People with more than one hat, as found in a product review: a librarian who is both a mentor and a
mentee, a coordinator of one program among several, a coordinator who is also a participant. Each test is
a bug one of them would notice, or a privacy or authorization hole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.services import pairing as pairing_service
from bot.views import ids
from storage.engine import session_scope
from storage.models import LIVE_PAIRING_STATUSES, Enrollment, Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import block_texts, intake_state, make_program, program_form
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_fuzz import settle

LA = "America/Los_Angeles"
ADMIN_CHANNEL = "C0ADMINS01"
OTHER_ADMIN_CHANNEL = "C0ADMINSB1"
OTHER_PROGRAM = "Academic Libraries Circle"

BOTH = "U0BOTHHAT1"  # Bea: a mentor, and a mentee too
ZED = "U0ZEDMENT1"  # Bea's mentee
YARA = "U0YARAMTR1"  # Bea's mentor
COORD = "U0COORDA01"  # coordinator of PLSEP only (its program admin), and a participant in it
MORGAN = "U0MORGANM1"  # a mentor
RUTH = "U0RUTHMTE1"  # a mentee

NAMES = {
    BOTH: "Bea Both",
    ZED: "Zed Okafor",
    YARA: "Yara Mendes",
    COORD: "Cam Coordinator",
    MORGAN: "Morgan Reyes",
    RUTH: "Ruth Ito",
}

MAR_5 = datetime(2025, 3, 5, 18, 0, tzinfo=UTC)  # a Wednesday, 10 AM in Los Angeles; the program is running


def add_people(engine: Engine, emulator: SlackEmulator, *user_ids: str) -> None:
    with session_scope(engine, write=True) as session:
        for uid in user_ids:
            emulator.add_user(uid, name=uid.lower(), real_name=NAMES[uid], tz=LA)
            session.add(Person(slack_user_id=uid, display_name=NAMES[uid], timezone=LA))


def enroll(engine: Engine, program_id: int, uid: str, role: str, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "program_id": program_id, "person_id": uid, "role": role, "library_type": "public",
        "organization": f"{NAMES[uid]} library system", "region": "Bay Area", "specializations": ["reference"],
        "years_experience": 9 if role == "mentor" else 2, "capacity": 2 if role == "mentor" else 0,
        "meeting_format": "video",
    } | overrides  # fmt: skip
    with session_scope(engine, write=True) as session:
        enrollment = Enrollment(**values)
        session.add(enrollment)
        session.flush()
        return enrollment.id  # type: ignore[return-value]


def introduce(engine: Engine, program_id: int, mentor: str, mentee: str) -> int:
    """A coordinator's approved pair whose intro went out (status introduced)."""
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program_id)
        pairing = pairing_service.pair_by_hand_once(
            session, program, mentor, mentee, ADMIN_ID, datetime(2025, 2, 20, 18, tzinfo=UTC), override=True
        )
        assert pairing is not None
        pairing.status = "introduced"
        session.add(pairing)
        return pairing.id  # type: ignore[return-value]


def bea_with_two_partners(
    engine: Engine, emulator: SlackEmulator, clock: FixedClock, *, one_program: bool
) -> tuple[int, int]:
    """Bea mentors Zed (in PLSEP) and is Yara's mentee (in PLSEP too, or in another program); both pairs
    introduced, Mar 5. Returns the two pairings' ids (with Zed, with Yara)."""
    plsep = make_program(engine, admin_channel=ADMIN_CHANNEL)
    other = plsep if one_program else make_program(engine, name=OTHER_PROGRAM, admin_channel=OTHER_ADMIN_CHANNEL)
    if not one_program:
        emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
        emulator.add_channel(OTHER_ADMIN_CHANNEL, "alc-admins", members=[ADMIN_ID])
    add_people(engine, emulator, BOTH, ZED, YARA)
    enroll(engine, plsep.id, BOTH, "mentor")
    enroll(engine, plsep.id, ZED, "mentee")
    enroll(engine, other.id, BOTH, "mentee")
    enroll(engine, other.id, YARA, "mentor", years_experience=15)
    with_zed = introduce(engine, plsep.id, BOTH, ZED)
    with_yara = introduce(engine, other.id, YARA, BOTH)
    clock.set(MAR_5)
    return with_zed, with_yara


def coordinator_mentors_ruth(engine: Engine, emulator: SlackEmulator, clock: FixedClock) -> None:
    """Cam is PLSEP's own coordinator and Ruth's mentor in it; the pair introduced, Mar 5."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORD])
    add_people(engine, emulator, COORD, RUTH)
    enroll(engine, program.id, COORD, "mentor")
    enroll(engine, program.id, RUTH, "mentee")
    introduce(engine, program.id, COORD, RUTH)
    clock.set(MAR_5)


def live_pairings_between(engine: Engine, mentor: str, mentee: str) -> list[Pairing]:
    with session_scope(engine) as session:
        by_id = {e.id: e for e in session.exec(select(Enrollment))}
        return [
            p
            for p in session.exec(select(Pairing))
            if p.status in LIVE_PAIRING_STATUSES
            and by_id[p.mentor_enrollment_id].person_id == mentor
            and by_id[p.mentee_enrollment_id].person_id == mentee
        ]


def shown(message: dict[str, Any]) -> str:
    """Everything a person reads in one message or response: its text and its blocks."""
    return (message.get("text") or "") + "\n" + block_texts(message.get("blocks") or [])


def mentions(text: str, uid: str) -> bool:
    return f"<@{uid}>" in text or NAMES[uid] in text


# -- (1) a librarian who is both a mentor and a mentee -------------------------------------------------------
def test_agreement_command_lets_someone_with_two_partners_reach_either_agreement(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Bea mentors Zed and is mentored by Yara: `/mentor agreement` silently opened her agreement with Zed
    only; she should be offered both partners (as `/mentor checkin` does)."""
    bea_with_two_partners(engine, emulator, clock, one_program=True)

    emulator.reset_calls()
    response = slack.mentor(BOTH, "agreement")
    assert response.status_code == 200
    url = slack.last_response_url
    wait_for(lambda: emulator.calls_to("views.open") or emulator.responses_to(url), what="an answer")
    settle(emulator)
    seen = [shown(response.json()) if response.content not in (b"", b"{}") else ""]
    seen += [block_texts(call.arg("view")["blocks"]) for call in emulator.calls_to("views.open")]
    seen += [shown(reply) for reply in emulator.responses_to(url)]
    text = "\n".join(seen)
    assert mentions(text, ZED) and mentions(text, YARA), (
        f"Bea has two agreements to settle (with Zed and with Yara) but was shown only:\n{text}"
    )


def test_a_rematch_request_reaches_only_the_coordinators_of_the_pairing_it_is_about(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Bea mentors Zed in PLSEP and is a mentee of Yara in another program: her `/mentor rematch` about her
    mentor was posted to PLSEP's coordinators too, saying her pairing with Zed is not working."""
    bea_with_two_partners(engine, emulator, clock, one_program=False)

    reason = "my mentor cancels every meeting at the last minute"
    assert slack.mentor(BOTH, f"rematch {reason}").status_code == 200
    settle(emulator)
    told_plsep = [shown(m) for m in emulator.messages_in(ADMIN_CHANNEL) if reason in shown(m)]
    assert told_plsep == [], (
        "PLSEP's coordinators, where Bea mentors Zed and nothing is wrong, were told her pairing with Zed is "
        f"not working:\n{told_plsep}"
    )


# -- a pair is never one person ---------------------------------------------------------------------------------
def test_a_coordinator_cannot_pair_a_librarian_with_themselves(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Bea is both a mentor and a mentee in PLSEP: `/mentor-admin pair @Bea @Bea` offered *Pair anyway* and
    then paired her with herself; it should be refused outright."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    add_people(engine, emulator, BOTH)
    enroll(engine, program.id, BOTH, "mentor")
    enroll(engine, program.id, BOTH, "mentee")
    clock.set(datetime(2025, 2, 20, 18, 0, tzinfo=UTC))

    body = slack.admin(ADMIN_ID, f"pair <@{BOTH}> <@{BOTH}>").json()
    # The "Pair anyway" button's own value, pressed (or sent by hand) the way Slack sends it.
    value = json.dumps({"program_id": program.id, "mentor": BOTH, "mentee": BOTH})
    slack.block_action(ADMIN_ID, ids.ACTION_OVERRIDE_PAIR, value, channel_id="C0GENERAL")
    settle(emulator)
    assert live_pairings_between(engine, BOTH, BOTH) == [], "Bea was paired with herself"
    offered = [e for b in body.get("blocks") or [] for e in b.get("elements") or [] if isinstance(e, dict)]
    assert not [e for e in offered if e.get("action_id") == ids.ACTION_OVERRIDE_PAIR], (
        f"a self-pairing was offered as a rule to override: {shown(body)}"
    )


def test_not_with_answer_still_holds_when_the_librarian_joins_in_a_second_role(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Bea asked, when she applied as a mentee, not to be paired with Ruth; she then also joined as a mentor,
    and the preview proposed that she mentor Ruth."""
    make_program(engine, admin_channel=ADMIN_CHANNEL)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID])
    for uid in (BOTH, RUTH):
        emulator.add_user(uid, name=uid.lower(), real_name=NAMES[uid], tz=LA)

    def join(uid: str, text: str, **state: Any) -> None:
        emulator.reset_calls()
        assert slack.mentor(uid, text).status_code == 200
        view = wait_for(lambda: emulator.calls_to("views.open"), what="the intake form")[-1].arg("view")
        if "not_with" not in state:  # what the form offers, left as it is
            [block] = [b for b in view["blocks"] if b.get("block_id") == "not_with"]
            state["not_with"] = block["element"].get("initial_users") or []
        response = slack.view_submission(
            uid, view["callback_id"], intake_state(**state), private_metadata=view["private_metadata"]
        )
        assert response.content in (b"", b"{}"), response.text
        settle(emulator)

    join(BOTH, "join mentee", role="mentee", library_type="public", years_experience="9",
         specializations=["reference"], not_with=[RUTH])  # fmt: skip
    join(BOTH, "join mentor", role="mentor", library_type="public", years_experience="9",
         specializations=["reference"], capacity="2")  # fmt: skip
    join(RUTH, "join mentee", role="mentee", library_type="public", organization="Other County Library",
         specializations=["reference"])  # fmt: skip
    with session_scope(engine) as session:
        roles = sorted((e.person_id, e.role) for e in session.exec(select(Enrollment)))
    assert roles == [(BOTH, "mentee"), (BOTH, "mentor"), (RUTH, "mentee")]

    emulator.reset_calls()
    slack.admin(ADMIN_ID, "match preview")
    posted = wait_for(lambda: [m for m in emulator.messages_in(ADMIN_CHANNEL) if m.get("blocks")], what="preview")
    text = shown(posted[-1])
    assert f"<@{BOTH}> mentors <@{RUTH}>" not in text, text
    assert live_pairings_between(engine, BOTH, RUTH) == []


# -- (2) a program's own coordinators ---------------------------------------------------------------------------
def test_a_program_admin_can_manage_the_program_they_just_created(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Cam coordinates PLSEP (a program admin, not in SHELFMATE_ADMINS) and creates next year's program:
    "Saved", then `program edit` on it was refused as "for program coordinators"."""
    make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    emulator.add_user(COORD, name="cam", real_name=NAMES[COORD], tz=LA)
    slack.admin(COORD, "program create")
    view = wait_for(lambda: emulator.calls_to("views.open"), what="the program form")[-1].arg("view")
    [admins_block] = [b for b in view["blocks"] if b.get("block_id") == "admins"]
    admins = admins_block["element"].get("initial_users") or []  # the field as the form offers it, untouched
    form = program_form(
        name="PLSEP 2026",
        applications_open="2026-01-05",
        applications_close="2026-02-17",
        agreement_due="2026-03-01",
        starts_on="2026-03-01",
        ends_on="2026-06-30",
        admin_channel="C0ADMINS26",
        timezone=LA,
        cross_org="none",
        admins=",".join(admins),
    )
    response = slack.view_submission(COORD, view["callback_id"], form, private_metadata=view["private_metadata"])
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    wait_for(lambda: [m for m in emulator.messages_in(COORD) if "Saved" in m.get("text", "")], what="Saved")

    emulator.reset_calls()
    answer = slack.admin(COORD, "program edit PLSEP 2026")
    said = shown(answer.json()) if answer.content not in (b"", b"{}") else ""
    assert "for program coordinators" not in said, said
    wait_for(lambda: emulator.calls_to("views.open"), what="the edit form to open")


# -- (3) a coordinator who is also a participant -------------------------------------------------------------
def test_a_coordinator_cannot_override_a_mentors_decline_to_pair_themselves(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Cam, PLSEP's coordinator and a mentee in it, typed `/mentor-admin pair @Morgan @Cam`: the answer told
    Cam that Morgan asked not to be paired with them, and *Pair anyway* paired them regardless."""
    program = make_program(engine, admin_channel=ADMIN_CHANNEL, admins=COORD)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORD])
    add_people(engine, emulator, COORD, MORGAN)
    enroll(engine, program.id, COORD, "mentee")
    enroll(engine, program.id, MORGAN, "mentor", not_with=[COORD])
    clock.set(datetime(2025, 2, 20, 18, 0, tzinfo=UTC))

    body = slack.admin(COORD, f"pair <@{MORGAN}> <@{COORD}>").json()
    value = json.dumps({"program_id": program.id, "mentor": MORGAN, "mentee": COORD})
    slack.block_action(COORD, ids.ACTION_OVERRIDE_PAIR, value, channel_id="C0GENERAL")
    settle(emulator)
    assert live_pairings_between(engine, MORGAN, COORD) == [], (
        "Cam overrode Morgan's request not to be paired with Cam, to pair Cam with Morgan"
    )
    assert "asked not to be paired" not in shown(body), f"Cam was told who declined them: {shown(body)}"


def test_a_rematch_about_a_coordinator_is_not_shown_to_that_coordinator(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Ruth's mentor Cam is also PLSEP's coordinator: her `/mentor rematch` reason ("your partner won't see
    it") was posted in the admin channel Cam reads, with a button for Cam to dissolve the pair."""
    coordinator_mentors_ruth(engine, emulator, clock)

    prompt = slack.mentor(RUTH, "rematch").json()["text"]
    assert "your partner won't" in prompt  # the promise Ruth was given
    reason = "Cam talks over me in every meeting and dismisses my questions"
    assert slack.mentor(RUTH, f"rematch {reason}").status_code == 200
    settle(emulator)
    seen_by_cam = [
        shown(m)
        for conversation in (ADMIN_CHANNEL, COORD, emulator.im_id(COORD, RUTH))
        if conversation
        for m in emulator.messages_in(conversation)
        if reason in shown(m)
    ]
    seen_by_cam += [shown(m) for m in emulator.ephemerals(user_id=COORD) if reason in shown(m)]
    assert seen_by_cam == [], f"Cam, the partner Ruth complained about, can read it:\n{seen_by_cam}"

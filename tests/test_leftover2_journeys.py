"""More leftovers from the reviews: each test is something a coordinator or a librarian would have noticed.

1. A program's name with Slack markup in it (`<&>`, `<!channel>`) was quoted as is in some coordinator and
   participant messages: it pinged the channel or broke the message.
2. The copy by DM of an admin-channel message (the weekly digest) went to a deactivated coordinator.
3. A pause was excused in the person's calendar days, laid on the program's periods in another zone.
4. An answer flipped back and forth an odd number of times left the coordinators' last notice wrong.
5. The same-organization refusal quoted the typed organization as mrkdwn.
6. The Home tab counted an applicant in a pending proposal as unmatched and as proposed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.scheduler import tick
from storage.engine import session_scope
from storage.models import Delivery, Enrollment, Pairing, Person, Program
from tests.conftest import ADMIN_ID
from tests.factories import approve_all_value, block_texts, each_shown, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_partner_change_journeys import MENTEE, _edit_profile, _settle_down
from tests.test_programs_and_matching import enroll_pool
from tests.test_scheduler import enroll, hand_pair, log_meeting, settle_agreement
from tests.test_security_review_journeys import _about, _running_pair
from tests.test_wording_journeys import ADMIN_CHANNEL

LA = "America/Los_Angeles"
BO, ANA, CY, DI = "U0LFBO", "U0LFANA", "U0LFCY", "U0LFDI"
FEB_20 = datetime(2025, 2, 20, 18, tzinfo=UTC)

# A program name a coordinator may well type ("Teens & Tweens"), with the markup Slack would act on.
MARKED_NAME = "Teens <&> Tweens <!channel>"
ESCAPED_NAME = "Teens &lt;&amp;&gt; Tweens &lt;!channel&gt;"


def mrkdwn_texts(node: Any, *, top: bool = True) -> list[str]:
    """The strings Slack reads as mrkdwn in a message, an answer or a view: a message's own `text` and every
    mrkdwn text object (plain_text, such as headers and button labels, is shown as typed)."""
    out: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("text"), str) and (node.get("type") == "mrkdwn" or (top and "type" not in node)):
            out.append(node["text"])
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                out += mrkdwn_texts(value, top=False)
    elif isinstance(node, list):
        for item in node:
            out += mrkdwn_texts(item, top=False)
    return out


def naming_the_program(emulator: SlackEmulator, answers: list[Any]) -> tuple[list[str], list[str]]:
    """Every text said that names the marked-up program, and those of them that quote it as mrkdwn."""
    naming = [text for text in everything_said(emulator, answers) if "Tweens" in text]
    return naming, [text for text in naming if "<!channel>" in text or "<&>" in text]


def everything_said(emulator: SlackEmulator, answers: list[Any]) -> list[str]:
    """The mrkdwn of every message posted, every view published, and the given answers."""
    said: list[str] = []
    for method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
        for call in emulator.calls_to(method):
            said += mrkdwn_texts({"text": call.arg("text") or "", "blocks": call.arg("blocks") or []})
    for call in emulator.calls_to("views.publish"):
        said += mrkdwn_texts(call.arg("view"), top=False)
    for answer in answers:
        said += mrkdwn_texts(answer)
    return said


# -- 1. a program name with markup ------------------------------------------------------------------------------
async def test_a_program_name_with_slack_markup_is_shown_as_typed_everywhere(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """The coordinator names the program "Teens <&> Tweens <!channel>". People join, the coordinator lists the
    programs, reads the summary and the Home tab, previews and approves the matches, and the pairs are
    introduced. Every message should show the name as typed: none pings the channel or loses the `<&>`."""
    make_program(engine, name=MARKED_NAME)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    answers: list[Any] = []
    enroll_pool(slack, emulator)  # resets the recorded calls before each join: the last join's answers stay
    answers += [slack.admin(ADMIN_ID, "program list").json()]
    answers += [slack.admin(ADMIN_ID, "summary").json()]
    slack.app_home_opened(ADMIN_ID)
    wait_for(lambda: emulator.calls_to("views.publish"), what="the Home tab")
    answers += [slack.admin(ADMIN_ID, "match preview").json()]
    preview_url = slack.last_response_url
    wait_for(lambda: emulator.responses_to(preview_url), what="the preview's outcome")
    answers += emulator.responses_to(preview_url)
    slack.block_action(
        ADMIN_ID, "shelfmate_approve_all", approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )  # fmt: skip
    approve_url = slack.last_response_url
    answers += wait_for(lambda: emulator.responses_to(approve_url), what="the approval")
    clock.set(datetime(2025, 2, 20, 18, tzinfo=UTC))
    for _ in range(3):
        await tick(runtime)
        clock.set(clock.now() + timedelta(minutes=1))
    emulator.wait_idle()

    naming, raw = naming_the_program(emulator, answers)
    assert len(naming) >= 5, naming
    assert raw == [], ("the program's name was quoted as mrkdwn", *raw)
    assert any(ESCAPED_NAME in text for text in naming), naming


# -- 2. the digest's copy to coordinators when the admin channel is archived --------------------------------------
COORD = "U0LFCOORD"


async def test_a_coordinator_whose_account_is_deactivated_gets_no_copy_of_the_digest(
    emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """PLSEP's admin channel was archived, so Monday's weekly digest comes to each coordinator by DM. Cam, one of
    the program's coordinators, left and their Slack account was deactivated in April (Shelfmate knows): the copy
    should go to the other coordinator only, not be sent to a deactivated account (and then reported as
    undeliverable)."""
    make_program(engine, admins=COORD)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, COORD], is_archived=True)
    emulator.add_user(COORD, name="cam", real_name="Cam Coordinator", tz=LA)
    emulator.deactivate_user(COORD)
    with session_scope(engine, write=True) as session:
        session.add(
            Person(slack_user_id=COORD, display_name="Cam Coordinator", timezone=LA, deactivated=True,
                   deactivated_on=date(2025, 4, 15))
        )  # fmt: skip

    clock.set(datetime(2025, 5, 5, 16, 5, tzinfo=UTC))  # Monday May 5, 9:05 AM in Los Angeles
    for _ in range(3):
        await tick(runtime)
        clock.set(clock.now() + timedelta(minutes=1))
    emulator.wait_idle()

    copies = [m for m in emulator.messages_in(ADMIN_ID) if (m.get("text") or "").startswith("Weekly digest")]
    assert len(copies) == 1, "the other coordinator should get the digest by DM"
    opened = [c for c in emulator.calls_to("conversations.open") if COORD in str(c.arg("users"))]
    posted = [c for c in emulator.calls_to("chat.postMessage") if c.arg("channel") == COORD]
    assert opened == [] and posted == [], "Shelfmate tried to DM a coordinator whose account is deactivated"
    with session_scope(engine) as session:
        rows = session.exec(select(Delivery).where(Delivery.recipient == COORD)).all()
    assert rows == [], [(r.kind, r.status) for r in rows]


# -- 3. a pause near midnight far from the program's time zone -----------------------------------------------------
TOKYO = "Asia/Tokyo"


def two_running_pairs(engine: Engine, emulator: SlackEmulator) -> tuple[int, int]:
    """PLSEP (Los Angeles): Bo mentors Ana, who lives in Tokyo, and Cy mentors Di in Los Angeles; both pairs
    introduced in February and agreed on monthly meetings."""
    program = make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    zones = {BO: LA, ANA: TOKYO, CY: LA, DI: LA}
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role in ((BO, "mentor"), (ANA, "mentee"), (CY, "mentor"), (DI, "mentee")):
            emulator.add_user(uid, name=uid.lower(), tz=zones[uid])
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone=zones[uid]))
            session.flush()
            enroll(session, program, uid, role)
    pairs = hand_pair(engine, program, BO, ANA, FEB_20), hand_pair(engine, program, CY, DI, FEB_20)
    for pairing_id in pairs:
        with session_scope(engine, write=True) as session:
            session.get(Pairing, pairing_id).status = "introduced"
        settle_agreement(engine, pairing_id, datetime(2025, 2, 25, 18, tzinfo=UTC))
    return pairs


def test_a_pause_from_tokyo_late_in_the_los_angeles_day_excuses_the_month_it_began_in_los_angeles(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, clock: FixedClock
) -> None:
    """Ana, in Tokyo, pauses at 9:30 AM on Thursday Apr 17, her time: in Los Angeles, the program's zone, it
    is still Wednesday Apr 16, 5:30 PM. From Apr 16 on, half of April, the pair is paused: April is excused
    and the coordinators' meeting rate leaves the pair out (Cy and Di met: 1 of 1 pairs, not 1 of 2). The
    pause was counted from Apr 17, a day in Tokyo's calendar laid on Los Angeles' months."""
    _, cy_and_di = two_running_pairs(engine, emulator)
    log_meeting(engine, cy_and_di, date(2025, 4, 10), CY)

    clock.set(datetime(2025, 4, 17, 0, 30, tzinfo=UTC))
    said = slack.mentor(ANA, "pause").json().get("text", "")
    assert "Paused" in said, said

    clock.set(datetime(2025, 4, 30, 18, tzinfo=UTC))  # Wednesday Apr 30, 11 AM in Los Angeles
    shown = block_texts(slack.admin(ADMIN_ID, "summary").json().get("blocks") or [])
    assert "*Meetings this month*: 1 of 1 pair met" in shown, shown


# -- 4. flipping an answer an odd number of times -------------------------------------------------------------------
async def test_an_answer_flipped_back_and_forth_ends_with_the_coordinators_told_where_it_landed(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, runtime: Runtime, clock: FixedClock
) -> None:
    """Ana moves her region to the Bay Area, back to the Inland Empire, and to the Bay Area again, all on
    Thursday morning. The coordinators read the first two changes; the third, the same change as the first,
    was held back for the day, so their last notice said she is in the Inland Empire while she is in the Bay
    Area. Once she stops flipping, they should be told where she ended up (and only that, once)."""
    _running_pair(engine, emulator, clock, meeting_format="in_person")
    for edit, region in enumerate(("Bay Area", "Inland Empire", "Bay Area"), start=1):
        _edit_profile(slack, emulator, MENTEE, edit, meeting_format="in_person", region=region)
        await _settle_down(runtime, emulator, clock)
    clock.set(clock.now() + timedelta(hours=1))
    await _settle_down(runtime, emulator, clock)

    told = each_shown(_about(emulator, MENTEE))
    assert len(told) == 3, told
    assert "from *Inland Empire* to *Bay Area*" in told[-1], ("the last notice is out of date", told)


# -- 5. the same-organization refusal quotes the organization as typed --------------------------------------------
TYPED_ORG = "Hill <!channel> & <Co>"


def proposed_then_same_org(slack: SlackDriver, emulator: SlackEmulator, engine: Engine) -> int:
    """PLSEP requires cross-organization pairs. Bo (at "Hill <!channel> & <Co>", as typed) and Ana (Riverside)
    are proposed; before the coordinator approves, Ana moves to Bo's organization. The proposal's id."""
    program = make_program(engine, cross_org="require")
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    with session_scope(engine, write=True) as session:
        program = session.get(Program, program.id)
        for uid, role, org in ((BO, "mentor", TYPED_ORG), (ANA, "mentee", "Riverside Unified")):
            emulator.add_user(uid, name=uid.lower(), tz=LA)
            session.add(Person(slack_user_id=uid, display_name=uid.lower(), timezone=LA))
            session.flush()
            enroll(session, program, uid, role, organization=org, status="applied", grade_levels=["middle"])
    slack.admin(ADMIN_ID, "match preview")
    wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the preview's outcome")
    with session_scope(engine, write=True) as session:
        [proposal] = session.exec(select(Pairing)).all()
        [ana] = [e for e in session.exec(select(Enrollment)) if e.person_id == ANA]
        ana.organization = TYPED_ORG
        return proposal.id


def test_the_same_organization_refusal_quotes_the_organization_as_typed(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """The coordinator presses Approve on Bo and Ana's proposal: it is refused, as they are now in the same
    organization, and the refusal names it. It should read as typed, not ping the channel or lose `<Co>`;
    the mentions of Bo and Ana stay mentions."""
    proposal = proposed_then_same_org(slack, emulator, engine)
    slack.block_action(ADMIN_ID, "shelfmate_approve_pair", str(proposal), channel_id=ADMIN_CHANNEL)
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")[-1]["text"]
    assert "same organization" in said, said
    assert "<!channel>" not in said and "<Co>" not in said, said
    assert "Hill &lt;!channel&gt; &amp; &lt;Co&gt;" in said and f"<@{ANA}>" in said, said

    slack.block_action(
        ADMIN_ID, "shelfmate_approve_all", approve_all_value(emulator.messages_in(ADMIN_CHANNEL)),
        channel_id=ADMIN_CHANNEL,
    )  # fmt: skip
    said = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the answer")[-1]["text"]
    assert "same organization" in said and "<!channel>" not in said and "<Co>" not in said, said

    # Pairing them by hand offers an override, quoting the same reason.
    offered = "\n".join(mrkdwn_texts(slack.admin(ADMIN_ID, f"pair <@{BO}|bo> <@{ANA}|ana>").json()))
    assert "same organization" in offered and "Hill &lt;!channel&gt; &amp; &lt;Co&gt;" in offered, offered
    assert "<!channel>" not in offered and "<Co>" not in offered, offered


# -- 6. the Home tab's waiting counts ---------------------------------------------------------------------------
def home_tab_text(slack: SlackDriver, emulator: SlackEmulator, user_id: str) -> str:
    """What the person reads on their Home tab, freshly opened."""
    published = len(emulator.calls_to("views.publish"))
    slack.app_home_opened(user_id)
    wait_for(lambda: len(emulator.calls_to("views.publish")) > published, what="the Home tab")
    return block_texts(emulator.calls_to("views.publish")[-1].arg("view")["blocks"])


def test_the_home_tab_counts_each_applicant_once_while_proposals_await_approval(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine
) -> None:
    """Three mentors and four mentees apply; the coordinator's preview proposes three pairs and waitlists the
    mentee nobody can mentor. The Home tab said "7 applications not matched yet · 3 proposals awaiting
    approval": the six people in the proposals were counted twice, as waiting and as proposed. Everyone
    applied is in a proposal or on the waitlist, so no application is left unmatched."""
    make_program(engine)
    emulator.add_channel(ADMIN_CHANNEL, "plsep-admins", members=[ADMIN_ID, emulator.bot_user_id])
    enroll_pool(slack, emulator)
    before = home_tab_text(slack, emulator, ADMIN_ID)
    assert "7 applications not matched yet" in before and "0 proposals awaiting approval" in before, before

    slack.admin(ADMIN_ID, "match preview")
    wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the preview's outcome")
    shown = home_tab_text(slack, emulator, ADMIN_ID)
    assert "3 proposals awaiting approval" in shown, shown
    assert "0 applications not matched yet" in shown, shown

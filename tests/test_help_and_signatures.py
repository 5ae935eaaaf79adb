"""The first user-facing command end to end, and Slack's request signing on the app's one endpoint."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from bot.cli import main
from bot.cli_admin import PROGRAM_OPTIONS, program_option_help
from bot.services.programs import ProgramInvalid, validate_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver


def _texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            out.append(element.get("text", ""))
    return "\n".join(out)


@pytest.mark.parametrize("text", ["help", "", "   ", "HELP"])
def test_help_lists_every_subcommand_privately(slack: SlackDriver, text: str) -> None:
    response = slack.mentor("U0LIB0001", text)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    shown = _texts(body["blocks"])
    for sub in ("join", "profile", "status", "checkin", "pause", "resume", "leave", "help"):
        assert f"/mentor {sub}" in shown


def test_unknown_subcommand_says_so_and_shows_help(slack: SlackDriver) -> None:
    body = slack.mentor("U0LIB0001", "frobnicate the <catalogue>").json()
    shown = _texts(body["blocks"])
    assert "I don't know `frobnicate`" in shown
    assert "/mentor join" in shown


def test_admin_help_is_refused_to_non_admins(slack: SlackDriver) -> None:
    body = slack.admin("U0LIB0001", "help").json()
    assert body["response_type"] == "ephemeral"
    assert "for program coordinators" in body["text"]
    assert "blocks" not in body


def test_admin_help_for_admins(slack: SlackDriver) -> None:
    body = slack.admin("U0ADMIN01", "").json()
    assert "/mentor-admin match preview" in _texts(body["blocks"])


def test_help_makes_no_web_api_call_but_auth(slack: SlackDriver, emulator: Any) -> None:
    slack.mentor("U0LIB0001", "help")
    assert {c.method for c in emulator.calls} <= {"auth.test"}


@pytest.mark.parametrize(
    "attack",
    [
        {"signed": False},
        {"secret": "0000000000wrongsecret0000"},
        {"timestamp": int(time.time()) - 6 * 60},
        {"tamper": True},
    ],
    ids=["unsigned", "wrong-secret", "six-minutes-old", "tampered-body"],
)
def test_bad_signatures_get_401(slack: SlackDriver, emulator: Any, attack: dict[str, Any]) -> None:
    response = slack.mentor("U0LIB0001", "help", **attack)
    assert response.status_code == 401
    assert emulator.calls == []


def test_healthz(slack: SlackDriver) -> None:
    response = slack.http.get(slack.app_url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_a_failing_listener_answers_kindly_instead_of_500(
    slack: SlackDriver, monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    from bot.services import overview

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database exploded: token xoxb-test-token")

    monkeypatch.setattr(overview, "person_overview", broken)
    response = slack.mentor("U0LIB0001", "status")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral" and "something went wrong" in body["text"]
    assert "Traceback" not in response.text and "exploded" not in response.text


def test_a_failing_modal_keeps_the_answers_and_says_so(slack: SlackDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.views import intake

    def broken(_view: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(intake, "parse_intake", broken)
    response = slack.view_submission("U0LIB0001", "shelfmate_intake", {"goals": {"goals": {"value": "x"}}})
    assert response.status_code == 200
    assert response.json() == {
        "response_action": "errors",
        "errors": {
            "goals": "Sorry, something went wrong on our side and nothing was changed. Please try again in a minute."
        },
    }


def test_a_button_that_fails_after_acking_still_answers_200_and_apologizes(
    slack: SlackDriver, monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    from bot.services import surveys

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(surveys, "is_member", broken)
    response = slack.block_action("U0LIB0001", "shelfmate_not_yet", "1")
    assert response.status_code == 200  # Bolt alone would drop the ack and answer 404 after 3 s
    [apology] = wait_for(lambda: emulator.responses_to(slack.last_response_url), what="the apology")
    assert "something went wrong" in apology["text"] and "boom" not in apology["text"]


def test_help_shows_what_each_command_takes(slack: SlackDriver) -> None:
    """A rematch needs a reason, and pair, unpair and program edit take a program name: help says so, escaped
    so that Slack does not read `<reason>` as a link."""
    mentor = _texts(slack.mentor("U0LIB0001", "help").json()["blocks"])
    assert "/mentor rematch &lt;reason&gt;" in mentor
    admin = _texts(slack.admin("U0ADMIN01", "help").json()["blocks"])
    for usage in ("program edit [program]", "pair @mentor @mentee [program]", "unpair @mentor @mentee [program]"):
        assert f"/mentor-admin {usage}`" in admin


# -- `shelfmate program create|edit --help` --------------------------------------------------------------------
SMALLEST_PROGRAM = {
    "name": "Spring",
    "applications_close": "2030-02-17",
    "agreement_due": "2030-03-01",
    "starts_on": "2030-03-01",
    "ends_on": "2030-06-30",
}


def _accepted(field: str, value: str) -> dict[str, Any] | None:
    """What validate_program makes of `value` in an otherwise valid program; None when it refuses it."""
    try:
        return validate_program(SMALLEST_PROGRAM | {field: value})
    except ProgramInvalid:
        return None


def test_program_option_help_states_what_validation_accepts() -> None:
    """The help is read off validate_program: each range, list of values and default it states is what
    validation accepts and fills in, and exactly the required fields say "(required)"."""
    helps = program_option_help(creating=True)
    assert set(helps) == set(PROGRAM_OPTIONS)
    for option, words in helps.items():
        assert "must be" not in words and "()" not in words and not words.endswith(": "), (option, words)
    required = {option for option, words in helps.items() if words.endswith("(required)")}
    assert required == {"name", "applications_close", "agreement_due", "starts", "ends"}
    assert not any(words.endswith("(required)") for words in program_option_help(creating=False).values())

    for option in ("min_mentor_years", "capacity", "digest_hour"):
        field = PROGRAM_OPTIONS[option]
        found = re.search(r"a whole number from (\d+) to (\d+) \(default (\d+)\)", helps[option])
        assert found, helps[option]
        low, high, default = map(int, found.groups())
        assert _accepted(field, str(low)) and _accepted(field, str(high))
        assert _accepted(field, str(low - 1)) is None and _accepted(field, str(high + 1)) is None
        assert (_accepted(field, "") or {})[field] == default

    for option in ("cadence", "eligibility", "cross_org"):
        field = PROGRAM_OPTIONS[option]
        found = re.search(r"one of ([a-z, ]+) \(default ([a-z]+)\)", helps[option])
        assert found, helps[option]
        values = found.group(1).split(", ")
        assert (_accepted(field, "") or {})[field] == found.group(2)
        extra = {"eligibility_allowlist": "U012AB3CD", "eligibility_channel": "C0123ABCD"}
        for value in values:
            assert validate_program(SMALLEST_PROGRAM | extra | {field: value})[field] == value
        assert _accepted(field, "sometimes") is None

    assert "(default monday)" in helps["digest_day"] and (_accepted("digest_weekday", "") or {})["digest_weekday"] == 0
    assert "at most 120 characters" in helps["name"]
    assert _accepted("name", "x" * 120) and _accepted("name", "x" * 121) is None


@pytest.mark.parametrize("command", ["create", "edit"])
def test_every_program_option_is_explained_beside_it(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["program", command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in PROGRAM_OPTIONS:
        flag = "--" + option.replace("_", "-")
        [line] = [line for line in out.splitlines() if line.startswith(f"  {flag} ")]
        assert len(line.split()) > 2, f"{flag} has no help beside it: {line!r}"
    assert "YYYY-MM-\n" not in out  # a date format is never split across lines

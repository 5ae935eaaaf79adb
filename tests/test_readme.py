"""The README is the operator's only guide: what it names must be what the software has, and the reverse.

Each test reads README.md (or .env.example, .ci/run) and the code's own lists, so neither can drift alone.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.cli import build_parser
from bot.config import DEFAULT_DATABASE_URL, DEFAULT_SLACK_API_URL, LOG_LEVELS, WHERE
from bot.views.help import ADMIN_SUBCOMMANDS, MENTOR_SUBCOMMANDS
from tests.slack_driver import SlackDriver
from tests.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The text under a `## title` heading, up to the next `## ` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _configuration_rows() -> dict[str, list[str]]:
    rows = {}
    for line in _section("Configuration").splitlines():
        if found := re.match(r"\| `([A-Z_]+)` \|", line):
            rows[found.group(1)] = [cell.strip() for cell in line.strip("|").split("|")]
    return rows


def test_the_configuration_table_names_exactly_the_settings_the_app_reads() -> None:
    assert sorted(_configuration_rows()) == sorted(WHERE)


def test_the_configuration_table_gives_the_real_defaults_and_values() -> None:
    """LOG_LEVEL accepts CRITICAL, which the table left out; the defaults are the code's own."""
    rows = _configuration_rows()
    assert rows["SLACK_API_URL"][1] == f"`{DEFAULT_SLACK_API_URL}`"
    assert rows["DATABASE_URL"][1] == f"`{DEFAULT_DATABASE_URL}`"
    assert rows["SLACK_BOT_TOKEN"][1] == rows["SLACK_SIGNING_SECRET"][1] == "required"
    assert [level for level in LOG_LEVELS if f"`{level}`" not in rows["LOG_LEVEL"][2]] == []


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert sorted(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE)) == sorted(WHERE)


def test_every_slash_subcommand_help_offers_is_in_the_readme() -> None:
    """`/mentor help` and `/mentor-admin help` are what people read in Slack; the README must offer the same."""
    using = _section("Using Shelfmate")
    missing = [f"/mentor {usage}" for usage, _ in MENTOR_SUBCOMMANDS if f"/mentor {usage.split()[0]}" not in using]
    missing += [
        f"/mentor-admin {usage}"
        for usage, _ in ADMIN_SUBCOMMANDS
        if f"`{usage.split()[0]}" not in using and f"`/mentor-admin {usage.split()[0]}" not in using
    ]
    assert missing == []


def _shelfmate_commands(parser: argparse.ArgumentParser, prefix: str = "shelfmate") -> list[str]:
    """Every runnable command line: `shelfmate run`, `shelfmate program edit`..."""
    groups = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not groups:
        return [prefix]
    return [
        command
        for name, subparser in groups[0].choices.items()
        for command in _shelfmate_commands(subparser, f"{prefix} {name}")
    ]


def test_every_shelfmate_command_is_in_the_readme() -> None:
    """`shelfmate program edit` (the program's name first) and `program list` were only in `--help`."""
    commands = _shelfmate_commands(build_parser())
    assert "shelfmate program edit" in commands
    assert [command for command in commands if command not in README] == []


def test_ci_runs_the_readmes_test_command_on_sqlite_and_postgresql() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh     # set up and run the whole test suite" in README
    assert re.search(r"^bash scripts/test.sh$", ci, flags=re.MULTILINE)
    assert re.search(r'^SHELFMATE_TEST_DATABASE_URL="postgresql\+psycopg://[^"]+" bash scripts/test.sh$', ci, re.M)


def test_sweep_help_says_when_at_moves_the_rehearsal_clock(tmp_path: Path) -> None:
    """`shelfmate sweep --help` said `--at` "moves the rehearsal clock"; it does only with
    SHELFMATE_CLOCK=rehearsal and not in a dry run, so an operator rehearsing with the system clock, or
    checking with --dry-run first, believed the clock had moved (`shelfmate clock show` says it had not)."""
    result = run_cli(["sweep", "--help"], tmp_path)
    assert result.returncode == 0
    options = result.stdout.split("options:", 1)[1]
    at_help = " ".join(options.split("--at AT", 1)[1].split("\n  --dry-run", 1)[0].split())
    assert "SHELFMATE_CLOCK=rehearsal" in at_help, at_help
    assert "dry run" in at_help or "--dry-run" in at_help, at_help


def test_mentor_help_says_leave_withdraws_from_every_program(slack: SlackDriver) -> None:
    """`/mentor help` said `leave` withdraws "from the program"; it withdraws from every program the person
    is in (the confirmation says so), so a mentor in one program and a mentee in another who wants out of
    one would learn too late, at the confirmation, that it ends both."""
    answer = slack.mentor("U0HELP0001", "help").json()
    section = next(block["text"]["text"] for block in answer["blocks"] if block["type"] == "section")
    leave = next(line for line in section.splitlines() if "/mentor leave" in line)
    assert "every program" in leave, leave

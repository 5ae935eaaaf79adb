"""Coordinator commands: `shelfmate program create|edit|list` and `shelfmate import FILE.csv`.

The same validation as the Slack modal, so a calendar kept in a file (or a shell script) behaves exactly
like one typed into Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.config import Settings, load_settings, refused_by_slack
from bot.mrkdwn import unescape
from bot.services import enrollment as enrollment_service
from bot.services import programs as program_service
from bot.services.catalog import specializations
from bot.services.enrollment import IntakeAnswers, SlackProfile
from bot.services.schedule import WorkDay
from bot.slack_gateway import (
    TOKEN_ERRORS,
    TOKEN_OR_PERSON_ERRORS,
    RateLimited,
    SlackGateway,
    SlackUnavailable,
    TokenRefused,
    slack_error_code,
)
from bot.views.common import admin_channel_problem, on_the_command_line, plural
from storage import queries
from storage.engine import make_engine, session_scope, sqlite_file

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient
    from sqlalchemy.engine import Engine


# CLI option -> program field.
PROGRAM_OPTIONS = {
    "name": "name",
    "applications_open": "applications_open",
    "applications_close": "applications_close",
    "agreement_due": "agreement_due",
    "starts": "starts_on",
    "ends": "ends_on",
    "cadence": "default_cadence",
    "min_mentor_years": "min_mentor_years",
    "capacity": "default_capacity",
    "eligibility": "eligibility",
    "allowlist": "eligibility_allowlist",
    "eligibility_channel": "eligibility_channel",
    "admin_channel": "admin_channel",
    "timezone": "timezone",
    "blackouts": "blackouts",
    "cross_org": "cross_org",
    "neighbor_orgs": "neighbor_orgs",
    "weights": "weights",
    "admins": "admins",
    "allow_guests": "allow_guests",
    "digest_day": "digest_weekday",
    "digest_hour": "digest_hour",
    "work_day_starts": "work_day_starts",
    "work_day_ends": "work_day_ends",
}

IMPORT_COLUMNS = (
    "slack_user",
    "role",
    "library_type",
    "organization",
    "region",
    "specializations",
    "years_experience",
    "grade_levels",
    "goals",
    "meeting_format",
    "capacity",
    "not_with",
)
REQUIRED_COLUMNS = ("slack_user", "role", "library_type", "organization", "specializations", "years_experience")
IMPORT_EPILOG = """\
The CSV file has a header row; column order does not matter. Required columns are marked *.
  slack_user *        Slack user id (U012AB3CD) or the person's Slack email (resolved with users.lookupByEmail)
  role *              mentor or mentee
  library_type *      school, public, academic or special
  organization *      district or library system
  specializations *   ids or labels from the shared list, separated by ";"
  years_experience *  whole years in the kind of library given in library_type (a school librarian
                      counts years in school libraries only); mentors need the program minimum
  region              free text
  grade_levels        school librarians: elementary;middle;high
  goals               free text
  meeting_format      in_person, video, phone or any (default any)
  capacity            mentors: how many mentees, 1-20 (default: the program's)
  not_with            user ids or emails separated by ";"
Names, time zones and account status are read from Slack (users.lookupByEmail, users.info); bot,
deactivated and (unless the program allows guests) guest accounts are bad rows.
Every bad row is reported with its line number (the header is line 1) and skipped; good rows are
loaded together in one transaction, and the import is recorded in the audit log.
Exit status 1 when any row was skipped."""


class CommandFailed(Exception):
    """Reported by the CLI as one or more readable lines."""


class BadRow(Exception):
    """One import row that cannot be loaded: reported with its line number, and the row is skipped."""


# What each option takes, shown after it in `--help` (e.g. `--starts YYYY-MM-DD`).
PROGRAM_METAVARS = {
    "name": "NAME",
    "applications_open": "YYYY-MM-DD",
    "applications_close": "YYYY-MM-DD",
    "agreement_due": "YYYY-MM-DD",
    "starts": "YYYY-MM-DD",
    "ends": "YYYY-MM-DD",
    "cadence": "CADENCE",
    "min_mentor_years": "YEARS",
    "capacity": "N",
    "eligibility": "RULE",
    "allowlist": "USER_IDS",
    "eligibility_channel": "CHANNEL_ID",
    "admin_channel": "CHANNEL_ID",
    "timezone": "ZONE",
    "blackouts": "PERIODS",
    "cross_org": "RULE",
    "neighbor_orgs": "NAMES",
    "weights": "WEIGHTS",
    "admins": "USER_IDS",
    "allow_guests": "true|false",
    "digest_day": "DAY",
    "digest_hour": "HOUR",
    "work_day_starts": "HH:MM",
    "work_day_ends": "HH:MM",
}
# The smallest program validate_program accepts: validating it shows the default of every other field.
_SMALLEST_PROGRAM = {
    "name": "-",
    "applications_close": "2000-01-01",
    "starts_on": "2000-01-02",
    "agreement_due": "2000-01-03",
    "ends_on": "2000-01-04",
}


def _problems(values: dict[str, str]) -> dict[str, str]:
    """validate_program's complaints about `values` (field -> sentence); empty when it accepts them."""
    try:
        program_service.validate_program(values)
    except program_service.ProgramInvalid as invalid:
        return invalid.errors
    return {}


def _rule(field_name: str, wrong: str) -> str:
    """The rule validate_program states for a wrong value ("must be one of weekly, biweekly, monthly."), as help."""
    return _problems({field_name: wrong}).get(field_name, "").removeprefix("must be ").rstrip(".")


def program_option_help(*, creating: bool) -> dict[str, str]:
    """Each option's help (option -> text), taken from the validation itself so that `--help` cannot drift from
    what is accepted: the rules it states for wrong values, the defaults it fills in for empty ones, the
    required fields it names, and the allowed names from the same constants."""
    defaults = program_service.validate_program(_SMALLEST_PROGRAM)
    required = {k for k, v in _problems({}).items() if v.startswith("is required")}
    weights = ", ".join(f"{k}={v:g}" for k, v in program_service.DEFAULT_WEIGHTS.items())
    ids = "Slack user ids such as U012AB3CD, separated by commas"
    long_list = f"separated by commas, at most {program_service.LIST_TEXT_LIMIT:,} characters"

    def rule(field_name: str, purpose: str = "") -> str:
        """validate_program's rule for the field, its default when it has one, then what the field is for."""
        default = defaults[field_name]
        if field_name == "digest_weekday":
            default = program_service.WEEKDAYS[default]
        return f"{_rule(field_name, '?')} (default {default})" + (f"; {purpose}" if purpose else "")

    text = {
        "name": _rule("name", "x" * 1000),
        "applications_open": "a date on or before applications close (optional: open until then)",
        "applications_close": "the last day to apply (until 11:59 PM), before the program starts",
        "agreement_due": "the date pairs should have settled their agreement by, after applications close and "
        "before the program ends",
        "starts_on": "the first day of mentoring",
        "ends_on": "the last day of mentoring, after the start date",
        "default_cadence": rule("default_cadence", "how often pairs meet until they agree otherwise"),
        "min_mentor_years": rule("min_mentor_years", "years a mentor needs in their kind of library"),
        "default_capacity": rule("default_capacity", "mentees per mentor, unless the mentor says otherwise"),
        "eligibility": rule(
            "eligibility", "who may join: anyone, the people in --allowlist, or members of --eligibility-channel"
        ),
        "eligibility_allowlist": f"{ids}; who may join when --eligibility is allowlist",
        "eligibility_channel": f"{_rule('eligibility_channel', '?')}; its members may join when --eligibility is "
        "channel",
        "admin_channel": f"{_rule('admin_channel', '?')}, for summaries, match previews and exports (invite the "
        "bot there)",
        "timezone": f"a time zone name such as America/Chicago (default {defaults['timezone']})",
        "blackouts": f"periods YYYY-MM-DD..YYYY-MM-DD or single days YYYY-MM-DD, {long_list}; school breaks and "
        "holidays, when no pair is nudged",
        "cross_org": rule("cross_org", "whether a mentor and mentee should come from different organizations"),
        "neighbor_orgs": f"organization names, {long_list}; their mentors count as a good cross-organization match",
        "weights": f"name=number (0 to 100), separated by commas; how much each part of a match counts (names "
        f"left out keep their default: {weights})",
        "admins": f"{ids}; this program's coordinators, besides SHELFMATE_ADMINS",
        "allow_guests": f"true or false (default {str(defaults['allow_guests']).lower()}); whether guest accounts "
        "may join",
        "digest_weekday": rule("digest_weekday", "the day of the weekly summary in the admin channel"),
        "digest_hour": rule("digest_hour", "the hour of the weekly summary, in the program's time zone"),
        "work_day_starts": f"a time of day such as 07:30 or 7:30 AM (default {defaults['work_day_starts']:%H:%M}); "
        "when work hours begin, Monday to Friday in each person's own time zone: reminders go out then, and pairs "
        "who say no to chat outside work hours hear from Shelfmate only within them",
        "work_day_ends": f"a time of day such as 15:30 or 3:30 PM, after the start (default "
        f"{defaults['work_day_ends']:%H:%M}); when work hours end",
    }
    out = {}
    for option, field_name in PROGRAM_OPTIONS.items():
        label = program_service.FIELD_LABELS.get(field_name, field_name.replace("_", " ").capitalize())
        words = f"{label}: {text[field_name]}"
        out[option] = words + " (required)" if creating and field_name in required else words
    return out


def _add_program_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    helps = program_option_help(creating=creating)
    for option in PROGRAM_OPTIONS:
        parser.add_argument(
            "--" + option.replace("_", "-"),
            dest=option,
            default=None,
            metavar=PROGRAM_METAVARS[option],
            help=helps[option].replace("%", "%%"),
        )
    parser.add_argument("--file", type=Path, help="read fields from a TOML file (same names as the options)")


class _ProgramHelpFormatter(argparse.HelpFormatter):
    """Every option's help starts beside it (`--eligibility-channel CHANNEL_ID` is the longest), and a date
    format is never split across lines ("YYYY-MM-" / "DD")."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=36)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _program_values(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, str] = {}
    if args.file:
        try:
            data = tomllib.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise CommandFailed(f"{args.file}: {error}") from None
        for key, value in data.items():
            field = PROGRAM_OPTIONS.get(key.replace("-", "_"), key)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            values[field] = str(value).lower() if isinstance(value, bool) else str(value)
    for option, field in PROGRAM_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            values[field] = value
    return values


def open_database(settings: Settings) -> Engine:
    """Migrate, then connect: every operator command opens the database this one way, so an unreachable or
    mistyped one is the same one DATABASE_URL line everywhere, never a traceback or a silent default.

    bot.cli's error is re-raised as CommandFailed: run as `python -m bot.cli`, bot.cli is loaded twice (once
    as __main__), and main() does not recognise the other copy's CliError.
    """
    from bot import cli

    new_file = _sqlite_file_not_there(settings.database_url)
    try:
        cli._upgrade_database(settings)
    except cli.CliError as error:
        raise CommandFailed(str(error)) from None
    if new_file is not None:
        print(
            f"shelfmate: note: made a new, empty database {new_file}: run shelfmate from the folder that holds "
            "your .env, or set DATABASE_URL to an absolute path",
            file=sys.stderr,
        )
    return make_engine(settings.database_url)


def _sqlite_file_not_there(database_url: str) -> Path | None:
    """The SQLite file `database_url` names when it does not exist yet: the default is relative to the working
    folder, so a command run from elsewhere makes (and reads) a new, empty database."""
    path = sqlite_file(database_url)
    return None if path is None or path.exists() else path


def _engine() -> Engine:
    return open_database(load_settings(require_slack=False))


def _now() -> Any:
    from bot.clock import make_clock

    settings = load_settings(require_slack=False)
    engine = make_engine(settings.database_url)
    try:
        return make_clock(settings.clock_mode, engine).now()
    finally:
        engine.dispose()


def cmd_program_create(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            program = program_service.create_program(
                session, _program_values(args), actor=program_service.CLI_ACTOR, now=_now()
            )
            print(f"Created program {program.name!r} (id {program.id}).")
            name, channel = program.name, program.admin_channel
    except program_service.ProgramInvalid as invalid:
        raise CommandFailed(_invalid_lines(invalid)) from None
    finally:
        engine.dispose()
    if channel:  # saved first, as the Slack form does: the warning says what to do, it does not refuse
        _print_admin_channel_note(name, channel)
    return 0


def cmd_program_edit(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            program = queries.program_by_name(session, args.program)
            if program is None:
                raise CommandFailed(f"there is no program called {args.program!r}")
            was_closed = program.closed_at is not None
            old_channel = program.admin_channel
            program_service.edit_program(
                session, program, _program_values(args), actor=program_service.CLI_ACTOR, now=_now()
            )
            print(f"Updated program {program.name!r}.")
            if was_closed and program.closed_at is None:
                print(
                    unescape(program_service.reopened_note(program)).replace(
                        "`/mentor-admin pair`", "/mentor-admin pair"
                    )
                )
            name, channel = program.name, program.admin_channel
    except program_service.ProgramInvalid as invalid:
        raise CommandFailed(_invalid_lines(invalid)) from None
    finally:
        engine.dispose()
    if channel and channel != old_channel:  # as the Slack form: only a new channel is checked
        _print_admin_channel_note(name, channel)
    return 0


def _print_admin_channel_note(program_name: str, channel: str) -> None:
    """The Slack program form's check that Shelfmate can post in the admin channel, for the command line:
    a warning when it cannot, or a note that Slack could not be asked. Never a failure: the program is saved."""
    settings = load_settings(require_slack=False)
    unchecked = f"Note: could not check that Shelfmate can post in the admin channel {channel}"
    invite = (
        "If Shelfmate is not in that channel, invite it with /invite @Shelfmate there, or summaries and alerts "
        "can't be posted in it."
    )
    if not settings.bot_token:
        print(f"{unchecked}: SLACK_BOT_TOKEN is not set here. {invite}")
        return
    try:
        problem = asyncio.run(_admin_channel_problem(settings, channel))
    except TokenRefused as refused:
        print(f"{unchecked}: Slack refused SLACK_BOT_TOKEN ({refused.error}); check it. {invite}")
        return
    except SlackUnavailable as error:
        print(f"{unchecked}: Slack did not answer ({error}). {invite}")
        return
    if problem is not None:
        print(admin_channel_warning(program_name, channel, problem))


async def _admin_channel_problem(settings: Settings, channel: str) -> str | None:
    """Why Shelfmate cannot post in `channel` (the gateway's check the Slack form uses); None when it can."""
    from bot.slack_client import connection_pool, make_slack_client

    async with connection_pool() as pool:
        client = make_slack_client(settings, pool=pool)
        refused = await token_refusal(client)
        if refused is not None:
            raise TokenRefused(refused)
        return await SlackGateway(client).channel_post_problem(channel)


def admin_channel_warning(program_name: str, channel: str, problem: str) -> str:
    """What the Slack form says about an admin channel Shelfmate cannot post in, in words for a terminal."""
    speaker = on_the_command_line(program_name)
    return "Warning: " + admin_channel_problem(problem, f"the admin channel {channel}", speaker)


def cmd_program_list(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine) as session:
            programs = queries.all_programs(session)
            counts = queries.enrollment_counts(session)
            if not programs:
                print("No programs yet: shelfmate program create --name ...")
            for p in programs:
                c = counts.get(p.id or 0, {})
                print(
                    f"{p.name}\t{'closed' if p.closed_at else 'open'}\t"
                    f"applications close {p.applications_close}\tagreement due {p.agreement_due}\t"
                    f"runs {p.starts_on}..{p.ends_on}\t{plural(c.get('mentor', 0), 'mentor')}\t"
                    f"{plural(c.get('mentee', 0), 'mentee')}\t"
                    f"admin channel {p.admin_channel or '-'}\twork hours {WorkDay.of(p).words}"
                )
    finally:
        engine.dispose()
    return 0


def _invalid_lines(invalid: program_service.ProgramInvalid) -> str:
    """The program checks' problems, one per option; they quote what was typed escaped for Slack: unescaped."""
    return "\n".join(
        f"{program_service.FIELD_LABELS.get(k, k)} ({'--' + _option_for(k)}): {unescape(v)}"
        for k, v in invalid.errors.items()
    )


def _option_for(field: str) -> str:
    for option, name in PROGRAM_OPTIONS.items():
        if name == field:
            return option.replace("_", "-")
    return field


# -- import ------------------------------------------------------------------------------------------------
# A Slack call that fails is tried again after these pauses (seconds): one 5xx in hundreds of lookups is
# common and passes in a moment.
SLACK_RETRY_DELAYS = (0.5, 2.0)
# Slack failing for this many people in a row is an outage or a bad token, not a hiccup: stop early with one
# line instead of printing the same failure for every row.
SLACK_GIVE_UP_AFTER = 3


@dataclass
class ImportRow:
    line: int
    user: str
    answers: IntakeAnswers
    not_with: list[str]


@dataclass
class Directory:
    """What Slack said about the people a file names, asked before the import's transaction opens."""

    profiles: dict[str, SlackProfile | None] = field(default_factory=dict)  # None: Slack has no such user
    unanswered: dict[str, str] = field(default_factory=dict)  # email or id -> Slack's last error

    def not_answered(self, line: int, value: str) -> BadRow:
        return BadRow(f"line {line}: Slack didn't answer for {value} ({self.unanswered[value]}); try again")


def _is_email(value: str) -> bool:
    return "@" in value


def _is_slack_user_id(value: str) -> bool:
    return bool(program_service.SLACK_USER_ID.match(value))


def _split_list(text: str) -> list[str]:
    """Grade levels, user ids and emails: ';' as documented, ',' too (form exports); none holds a comma."""
    return [part.strip() for part in re.split(r"[;,]", text) if part.strip()]


def _name_key(text: str) -> str:
    return " ".join(text.split()).lower()


def _specialization_ids(text: str) -> tuple[list[str], list[str]]:
    """Ids or labels (any case) separated by ';'; return (ids, unknown).

    A label may hold a comma ("Data, assessment and evaluation"), so ',' cannot simply separate. A form
    export may still use ',': within each ';' part the longest run of ','-pieces that names an entry wins,
    and a part that cannot be read whole that way is reported as typed.
    """
    catalog = specializations()
    by_name = {_name_key(sid): sid for sid in catalog} | {_name_key(label): sid for sid, label in catalog.items()}
    ids: list[str] = []
    unknown: list[str] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        found = _names_in(part, by_name)
        if found is None:
            unknown.append(part)
        else:
            ids.extend(found)
    return ids, unknown


def _names_in(part: str, by_name: dict[str, str]) -> list[str] | None:
    """The entries a ';' part names, reading ','-pieces greedily; None when some piece names nothing."""
    pieces = [p.strip() for p in part.split(",")]
    found: list[str] = []
    start = 0
    while start < len(pieces):
        if not pieces[start]:  # "reference," or "a,,b"
            start += 1
            continue
        for end in range(len(pieces), start, -1):
            sid = by_name.get(_name_key(", ".join(pieces[start:end])))
            if sid is not None:
                found.append(sid)
                start = end
                break
        else:
            return None
    return found


SAVE_AS_CSV_UTF8 = 'In Excel, save the sheet with File > Save As > "CSV UTF-8 (Comma delimited)" and import that file'


def _import_text(path: Path) -> str:
    """The file as text: UTF-8, with or without the byte-order mark Excel's "CSV UTF-8" writes. Excel's plain
    "CSV" (the Windows code page) and "Unicode Text" (UTF-16, full of NUL bytes) are refused with how to save
    the sheet rather than guessed at: a wrong guess would load garbled names ("BibliothÃ¨que")."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CommandFailed(f"{path}: {error.strerror}") from None
    bad = data.find(b"\0")  # NUL is valid UTF-8, but no CSV holds one; UTF-16 text is half NULs
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = error.start if bad < 0 else min(bad, error.start)
    if bad >= 0:
        line = data.count(b"\n", 0, bad) + 1
        raise CommandFailed(f"{path}: line {line} is not UTF-8 text, so nothing was loaded. {SAVE_AS_CSV_UTF8}")
    return text


def read_import_file(path: Path) -> tuple[list[ImportRow], list[str]]:
    """Parse every row; problems are reported with the file's line numbers (the header is line 1)."""
    reader = csv.DictReader(io.StringIO(_import_text(path), newline=""))
    try:
        return _read_rows(path, reader)
    except csv.Error as error:  # a runaway quoted field: probably not a CSV file at all
        raise CommandFailed(
            f"{path}: {error} after line {reader.line_num}, so nothing was loaded. Is it a CSV file? {SAVE_AS_CSV_UTF8}"
        ) from None


def _read_rows(path: Path, reader: csv.DictReader[str]) -> tuple[list[ImportRow], list[str]]:
    """The rows `reader` yields as ImportRows, and a line for each row that cannot be one."""
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CommandFailed(
            f"{path}: missing column(s) {', '.join(missing)}. Expected columns: {', '.join(IMPORT_COLUMNS)}"
        )
    rows, problems = [], []
    for raw in reader:
        line = reader.line_num
        if raw.get(None):  # DictReader files values past the header under None: an unquoted comma shifted the row
            problems.append(
                f"line {line}: {len(header) + len(raw[None])} values for {len(header)} columns: put a value that "
                'holds a comma in double quotes ("U0A,U0B"), or separate list items with ;'
            )
            continue
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        specs, unknown = _specialization_ids(row.get("specializations", ""))
        if unknown:
            problems.append(f"line {line}: unknown specialization(s) {', '.join(unknown)}")
            continue
        answers = IntakeAnswers(
            role=row.get("role", "").lower(),
            library_type=row.get("library_type", "").lower(),
            organization=row.get("organization", ""),
            region=row.get("region", ""),
            specializations=specs,
            years_experience=row.get("years_experience", ""),
            grade_levels=[g.lower() for g in _split_list(row.get("grade_levels", ""))],
            goals=row.get("goals", ""),
            meeting_format=(row.get("meeting_format") or "any").lower().replace(" ", "_"),
            capacity=row.get("capacity", ""),
        )
        if not row.get("slack_user"):
            problems.append(f"line {line}: slack_user is empty (a Slack user id like U012AB3CD, or an email)")
            continue
        rows.append(
            ImportRow(line=line, user=row["slack_user"], answers=answers, not_with=_split_list(row.get("not_with", "")))
        )
    return rows, problems


def _people_to_ask_about(rows: list[ImportRow]) -> list[str]:
    """Each applicant (for the profile) and each not_with email (for the id), once, in file order."""
    wanted = [r.user for r in rows if _is_email(r.user) or _is_slack_user_id(r.user)]
    wanted += [p for r in rows for p in r.not_with if _is_email(p)]
    return list(dict.fromkeys(wanted))


async def _find_with_retries(gateway: SlackGateway, value: str) -> SlackProfile | None:
    """Slack's client retries only 429s and broken connections; a 5xx or a timeout is tried again here."""
    for delay in SLACK_RETRY_DELAYS:
        try:
            return await gateway.find_person(value)
        except TokenRefused:
            raise
        except SlackUnavailable as error:
            await asyncio.sleep(error.retry_after if isinstance(error, RateLimited) else delay)
    return await gateway.find_person(value)


async def token_refusal(client: AsyncWebClient) -> str | None:
    """Slack's error when it refuses SLACK_BOT_TOKEN itself (auth.test), else None; None too when Slack does
    not answer, which callers leave to their own retries."""
    try:
        await client.auth_test()
    except SlackApiError as error:
        code = slack_error_code(error)
        return code if code in TOKEN_ERRORS | TOKEN_OR_PERSON_ERRORS else None
    except Exception:  # no answer either way
        return None
    return None


async def stop_if_token_refused(client: AsyncWebClient) -> None:
    """A mistyped or revoked SLACK_BOT_TOKEN is the setting's fault, not Slack's: say so in one line, as
    `shelfmate run` does, before import or sweep asks Slack anything."""
    refused = await token_refusal(client)
    if refused is not None:
        raise refused_by_slack("SLACK_BOT_TOKEN", refused)


async def _ask_slack(values: list[str]) -> Directory:
    """Profiles for everyone the file names. Whom Slack did not answer for is recorded, so those rows are
    reported and skipped like other bad rows (a rerun updates what loaded, so "try again" is safe)."""
    from bot.slack_client import connection_pool, make_slack_client

    settings = load_settings(receives_requests=False)
    directory = Directory()
    failed_in_a_row = 0
    async with connection_pool() as pool:
        client = make_slack_client(settings, pool=pool)
        await stop_if_token_refused(client)
        gateway = SlackGateway(client)
        for value in values:
            try:
                directory.profiles[value] = await _find_with_retries(gateway, value)
                failed_in_a_row = 0
            except TokenRefused as refused:  # the setting is wrong, not Slack: no retry will help
                raise refused_by_slack("SLACK_BOT_TOKEN", refused.error) from None
            except SlackUnavailable as error:
                directory.unanswered[value] = str(error)
                failed_in_a_row += 1
                if failed_in_a_row >= SLACK_GIVE_UP_AFTER:
                    raise CommandFailed(
                        f"Slack did not answer for {failed_in_a_row} people in a row ({error}), so nothing was "
                        "loaded. Check SLACK_BOT_TOKEN and https://slack-status.com, then run the import again."
                    ) from None
    return directory


def _user_id_of(row: ImportRow, directory: Directory) -> str:
    """The row's Slack user id; BadRow says why there is none."""
    if row.user in directory.unanswered:
        raise directory.not_answered(row.line, row.user)
    if _is_email(row.user):
        profile = directory.profiles.get(row.user)
        if profile is None:
            raise BadRow(f"line {row.line}: no Slack user has the email {row.user}")
        return profile.user_id
    if not _is_slack_user_id(row.user):
        raise BadRow(f"line {row.line}: {row.user!r} is neither a Slack user id nor an email")
    return row.user


def _not_with_ids(row: ImportRow, directory: Directory) -> list[str]:
    """The user ids of the row's not_with people; BadRow names the ones that are not Slack users."""
    unanswered = [p for p in row.not_with if p in directory.unanswered]
    if unanswered:
        raise directory.not_answered(row.line, unanswered[0])
    ids: list[str] = []
    unknown: list[str] = []
    for value in row.not_with:
        profile = directory.profiles.get(value) if _is_email(value) else None
        if profile is not None:
            ids.append(profile.user_id)
        elif _is_slack_user_id(value):
            ids.append(value)
        else:
            unknown.append(value)
    if unknown:
        raise BadRow(f"line {row.line}: not_with has unknown people: {', '.join(unknown)}")
    return ids


def _line_number(message: str) -> int:
    return int(message.split()[1].rstrip(":")) if message.startswith("line ") else 0


# What a column that the Slack form fills from a menu takes in a file, for its "Choose ..." messages.
CSV_CHOICES = {
    "role": "mentor or mentee",
    "library_type": "school, public, academic or special",
    "grade_levels": "elementary, middle or high",
    "meeting_format": "in_person, video, phone or any",
}


def _cell_problem(answers: IntakeAnswers, column: str, message: str) -> str:
    """The form's message about `column`, with the value as the file has it, so the coordinator can find it."""
    typed = getattr(answers, column, None)
    shown = ";".join(typed) if isinstance(typed, list) else typed
    if not shown:
        return f"{column}: {message}"
    if column in CSV_CHOICES:
        return f"{column} {shown!r} is not {CSV_CHOICES[column]}"
    return f"{column} {shown!r}: {message}"


def cmd_import(args: argparse.Namespace) -> int:
    rows, problems = read_import_file(args.file)
    engine = _engine()
    notes: list[str] = []
    loaded = 0
    try:
        with session_scope(engine) as session:
            if queries.program_by_name(session, args.program) is None:  # before hundreds of Slack calls
                raise CommandFailed(f"there is no program called {args.program!r}")
        people = _people_to_ask_about(rows)
        directory = asyncio.run(_ask_slack(people)) if people else Directory()
        with session_scope(engine, write=True) as session:
            program = queries.program_by_name(session, args.program)
            if program is None:
                raise CommandFailed(f"there is no program called {args.program!r}")
            now = _now()
            seen: set[tuple[str, str]] = set()
            good = []
            for row in rows:
                try:
                    uid = _user_id_of(row, directory)
                    row.answers.not_with = _not_with_ids(row, directory)
                except BadRow as bad:
                    problems.append(str(bad))
                    continue
                row.answers.program_id = program.id
                errors = enrollment_service.validate_intake(row.answers, program, uid)
                if errors:
                    problems.append(
                        f"line {row.line}: " + "; ".join(_cell_problem(row.answers, k, v) for k, v in errors.items())
                    )
                    continue
                if (uid, row.answers.role) in seen:
                    problems.append(f"line {row.line}: {row.user} appears twice as {row.answers.role}")
                    continue
                seen.add((uid, row.answers.role))
                good.append((uid, row))
            for uid, row in good:
                profile = directory.profiles.get(row.user)
                if profile is not None:
                    person = enrollment_service.save_profile(session, profile, now)
                else:
                    # An id Slack does not know (users.info: user_not_found) is loaded as before, but the
                    # coordinator is told: it may be a typo, and nobody can be introduced to a typo.
                    notes.append(
                        f"line {row.line}: loaded {row.user}, but Slack has no such user: check the id (until "
                        "they use Shelfmate they have no name and the program's time zone)"
                    )
                    person = queries.person(session, uid)
                    if person is None:
                        person = enrollment_service.save_profile(
                            session, SlackProfile(user_id=uid, display_name="", timezone=program.timezone), now
                        )
                        person.refreshed_at = None  # so that their first /mentor asks Slack at once
                refusal = enrollment_service.refusal_for_person(person, program)
                if refusal:
                    problems.append(f"line {row.line}: {row.user}: {refusal}")
                    continue
                enrollment_service.submit_intake(session, uid, program, row.answers, now)
                loaded += 1
            program_service.record_admin_action(
                session,
                program_service.CLI_ACTOR,
                "applications.import",
                program.id,
                {"file": args.file.name, "loaded": loaded, "skipped": len(problems)},
                now,
            )
    finally:
        engine.dispose()
    for line in sorted(problems, key=_line_number) + sorted(notes, key=_line_number):
        print(line)
    print(f"Loaded {loaded} application(s) into {args.program}; {len(problems)} row(s) skipped.")
    return 0 if not problems else 1


@contextlib.contextmanager
def _export_file(out: str | None) -> Iterator[IO[bytes] | None]:
    """The file `--out` names, opened before any database work, so that a missing folder or a read-only file
    is one line before anything is exported or audited (None: standard output). It is opened for appending,
    so an existing file is replaced only by a finished export; a file made here is removed if the export fails.
    """
    if out in (None, "-"):
        yield None
        return
    path = Path(out)
    existed = path.exists()
    try:
        handle = path.open("ab")
    except OSError as error:
        raise CommandFailed(_cannot_write(path, error)) from None
    try:
        with handle:
            yield handle
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)
        raise


def _cannot_write(path: Path, error: OSError) -> str:
    if isinstance(error, FileNotFoundError) and not path.parent.is_dir():
        reason = f"there is no folder {path.parent}"
    else:
        reason = (error.strerror or str(error)).lower()
    return f"cannot write {path} ({reason}); nothing was exported"


def _write_export(handle: IO[bytes], out: str, content: bytes) -> None:
    """Replace the file's contents with the export; a full disk is one line, and the export is not audited."""
    try:
        if handle.seekable():  # not a pipe or a terminal (`--out /dev/stdout`)
            handle.seek(0)
            handle.truncate()
        handle.write(content)
        handle.flush()
    except OSError as error:
        raise CommandFailed(_cannot_write(Path(out), error)) from None


def _for_the_terminal(message: str) -> str:
    """The Slack command's advice about which program, in what an operator types instead."""
    return (
        message.replace("`/mentor-admin program create`.", "shelfmate program create --name ...")
        .replace("add the name of the one you mean:", "add --program NAME:")
        .replace("add the name:", "add --program NAME:")
    )


def cmd_export(args: argparse.Namespace) -> int:
    from bot.services import reports

    with _export_file(args.out) as handle:
        engine = _engine()
        try:
            with session_scope(engine, write=True) as session:
                try:
                    program = program_service.resolve_program(session, args.program or "")
                except program_service.ProgramInvalid as invalid:
                    raise CommandFailed(_for_the_terminal(unescape("; ".join(invalid.errors.values())))) from None
                content = reports.export_csv(session, program, args.kind)
                if handle is not None:  # written before the audit event, which rolls back if writing fails
                    _write_export(handle, args.out, content)
                program_service.record_admin_action(
                    session, program_service.CLI_ACTOR, "export", program.id, {"kind": args.kind}, _now()
                )
        finally:
            engine.dispose()
    if handle is None:
        print(content.decode("utf-8"), end="")
    else:
        print(f"Wrote {args.kind} for {program.name} to {args.out}.")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write participants, pairings, check-ins or hours as CSV")
    export.add_argument("kind", choices=("participants", "pairings", "checkins", "hours"))
    export.add_argument("--program", help="program name (optional when only one is running)")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(handler=cmd_export)

    program = sub.add_parser("program", help="create, edit or list programs")
    program_sub = program.add_subparsers(dest="program_command", required=True)
    create = program_sub.add_parser(
        "create",
        help="create a program",
        description="Create a program: the same fields and checks as `/mentor-admin program create` in Slack.",
        formatter_class=_ProgramHelpFormatter,
    )
    _add_program_options(create, creating=True)
    create.set_defaults(handler=cmd_program_create)
    edit = program_sub.add_parser(
        "edit",
        help="change a program's settings",
        description="Change a program's settings. Options left out keep their value; an empty value ('') "
        "clears an optional setting or restores its default.",
        formatter_class=_ProgramHelpFormatter,
    )
    edit.add_argument("program", help="the program's current name")
    _add_program_options(edit, creating=False)
    edit.set_defaults(handler=cmd_program_edit)
    program_sub.add_parser("list", help="list programs").set_defaults(handler=cmd_program_list)

    importer = sub.add_parser(
        "import",
        help="load applications from a CSV file",
        description="Load applications collected elsewhere (a form export) into a program.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("file", type=Path, help="CSV file with the columns listed below")
    importer.add_argument("--program", required=True, help="the program's name")
    importer.set_defaults(handler=cmd_import)

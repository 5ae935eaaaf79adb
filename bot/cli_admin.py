"""Coordinator commands: `shelfmate program create|edit|list` and `shelfmate import FILE.csv`.

The same validation as the Slack modal, so a calendar kept in a file (or a shell script) behaves exactly
like one typed into Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.services import enrollment as enrollment_service
from bot.services import programs as program_service
from bot.services.catalog import specializations
from bot.services.enrollment import IntakeAnswers, SlackProfile
from bot.slack_gateway import RateLimited, SlackGateway, SlackUnavailable
from storage import queries
from storage.engine import make_engine, session_scope

CLI_ACTOR = "cli"

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
  years_experience *  whole years as a librarian
  region              free text
  grade_levels        school librarians: elementary;middle;high
  goals               free text
  meeting_format      in_person, video, phone or any (default any)
  capacity            mentors: how many mentees (default: the program's)
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


def _add_program_options(parser: argparse.ArgumentParser) -> None:
    for option in PROGRAM_OPTIONS:
        parser.add_argument("--" + option.replace("_", "-"), dest=option, default=None)
    parser.add_argument("--file", type=Path, help="read fields from a TOML file (same names as the options)")


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


def _engine() -> Any:
    settings = load_settings(require_slack=False)
    from bot.cli import _upgrade_database

    _upgrade_database(settings)
    return make_engine(settings.database_url)


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
            program = program_service.create_program(session, _program_values(args), actor=CLI_ACTOR, now=_now())
            print(f"Created program {program.name!r} (id {program.id}).")
    except program_service.ProgramInvalid as invalid:
        raise CommandFailed(_invalid_lines(invalid)) from None
    finally:
        engine.dispose()
    return 0


def cmd_program_edit(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            program = queries.program_by_name(session, args.program)
            if program is None:
                raise CommandFailed(f"there is no program called {args.program!r}")
            program_service.edit_program(session, program, _program_values(args), actor=CLI_ACTOR, now=_now())
            print(f"Updated program {program.name!r}.")
    except program_service.ProgramInvalid as invalid:
        raise CommandFailed(_invalid_lines(invalid)) from None
    finally:
        engine.dispose()
    return 0


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
                    f"{p.name}\tapplications close {p.applications_close}\tagreement due {p.agreement_due}\t"
                    f"runs {p.starts_on}..{p.ends_on}\t{c.get('mentor', 0)} mentors\t{c.get('mentee', 0)} mentees\t"
                    f"admin channel {p.admin_channel or '-'}"
                )
    finally:
        engine.dispose()
    return 0


def _invalid_lines(invalid: program_service.ProgramInvalid) -> str:
    return "\n".join(
        f"{program_service.FIELD_LABELS.get(k, k)} ({'--' + _option_for(k)}): {v}" for k, v in invalid.errors.items()
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


def _is_user_id(value: str) -> bool:
    return value[:1] in ("U", "W") and value[1:].isalnum()


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


def read_import_file(path: Path) -> tuple[list[ImportRow], list[str]]:
    """Parse every row; problems are reported with the file's line numbers (the header is line 1)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise CommandFailed(f"{path}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CommandFailed(
                f"{path}: missing column(s) {', '.join(missing)}. Expected columns: {', '.join(IMPORT_COLUMNS)}"
            )
        rows, problems = [], []
        for raw in reader:
            line = reader.line_num
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
                ImportRow(
                    line=line, user=row["slack_user"], answers=answers, not_with=_split_list(row.get("not_with", ""))
                )
            )
    return rows, problems


def _people_to_ask_about(rows: list[ImportRow]) -> list[str]:
    """Each applicant (for the profile) and each not_with email (for the id), once, in file order."""
    wanted = [r.user for r in rows if _is_email(r.user) or _is_user_id(r.user)]
    wanted += [p for r in rows for p in r.not_with if _is_email(p)]
    return list(dict.fromkeys(wanted))


async def _find_with_retries(gateway: SlackGateway, value: str) -> SlackProfile | None:
    """Slack's client retries only 429s and broken connections; a 5xx or a timeout is tried again here."""
    for delay in SLACK_RETRY_DELAYS:
        try:
            return await gateway.find_person(value)
        except SlackUnavailable as error:
            await asyncio.sleep(error.retry_after if isinstance(error, RateLimited) else delay)
    return await gateway.find_person(value)


async def _ask_slack(values: list[str]) -> Directory:
    """Profiles for everyone the file names. Whom Slack did not answer for is recorded, so those rows are
    reported and skipped like other bad rows (a rerun updates what loaded, so "try again" is safe)."""
    from bot.slack_client import connection_pool, make_slack_client

    settings = load_settings()
    directory = Directory()
    failed_in_a_row = 0
    async with connection_pool() as pool:
        gateway = SlackGateway(make_slack_client(settings, pool=pool))
        for value in values:
            try:
                directory.profiles[value] = await _find_with_retries(gateway, value)
                failed_in_a_row = 0
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
    if not _is_user_id(row.user):
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
        elif _is_user_id(value):
            ids.append(value)
        else:
            unknown.append(value)
    if unknown:
        raise BadRow(f"line {row.line}: not_with has unknown people: {', '.join(unknown)}")
    return ids


def _line_number(message: str) -> int:
    return int(message.split()[1].rstrip(":")) if message.startswith("line ") else 0


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
                    problems.append(f"line {row.line}: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
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
                CLI_ACTOR,
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


def cmd_export(args: argparse.Namespace) -> int:
    from bot.services import reports

    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            try:
                program = program_service.resolve_program(session, args.program or "")
            except program_service.ProgramInvalid as invalid:
                raise CommandFailed("; ".join(invalid.errors.values())) from None
            content = reports.export_csv(session, program, args.kind)
            program_service.record_admin_action(session, CLI_ACTOR, "export", program.id, {"kind": args.kind}, _now())
    finally:
        engine.dispose()
    if args.out in (None, "-"):
        print(content.decode("utf-8"), end="")
    else:
        Path(args.out).write_bytes(content)
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
    create = program_sub.add_parser("create", help="create a program")
    _add_program_options(create)
    create.set_defaults(handler=cmd_program_create)
    edit = program_sub.add_parser("edit", help="change a program's settings")
    edit.add_argument("program", help="the program's current name")
    _add_program_options(edit)
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

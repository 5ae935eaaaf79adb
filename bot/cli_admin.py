"""Coordinator commands: `shelfmate program create|edit|list` and `shelfmate import FILE.csv`.

The same validation as the Slack modal, so a calendar kept in a file (or a shell script) behaves exactly
like one typed into Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.services import enrollment as enrollment_service
from bot.services import programs as program_service
from bot.services.catalog import specializations
from bot.services.enrollment import IntakeAnswers, SlackProfile
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
Every bad row is reported with its line number (the header is line 1) and skipped; good rows are
loaded together in one transaction, and the import is recorded in the audit log.
Exit status 1 when any row was skipped."""


class CommandFailed(Exception):
    """Reported by the CLI as one or more readable lines."""


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
@dataclass
class ImportRow:
    line: int
    user: str
    answers: IntakeAnswers
    not_with: list[str]


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]


def _specialization_ids(values: list[str]) -> tuple[list[str], list[str]]:
    """Accept ids or labels (case-insensitive); return (ids, unknown)."""
    catalog = specializations()
    by_label = {label.lower(): sid for sid, label in catalog.items()}
    ids, unknown = [], []
    for value in values:
        key = value.strip()
        if key in catalog:
            ids.append(key)
        elif key.lower() in by_label:
            ids.append(by_label[key.lower()])
        else:
            unknown.append(value)
    return ids, unknown


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
            specs, unknown = _specialization_ids(_split_list(row.get("specializations", "")))
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


async def _resolve_emails(addresses: set[str]) -> dict[str, str | None]:
    from bot.app import create_runtime

    settings = load_settings()
    runtime = create_runtime(settings, engine=make_engine("sqlite://"))
    gateway = runtime.gateway
    found: dict[str, str | None] = {}
    for address in sorted(addresses):
        found[address] = await gateway.lookup_email(address)
    return found


def cmd_import(args: argparse.Namespace) -> int:
    rows, problems = read_import_file(args.file)
    emails = {r.user for r in rows if "@" in r.user} | {p for r in rows for p in r.not_with if "@" in p}
    resolved = asyncio.run(_resolve_emails(emails)) if emails else {}

    def user_id(value: str) -> str | None:
        return resolved.get(value) if "@" in value else value

    engine = _engine()
    loaded = 0
    try:
        with session_scope(engine, write=True) as session:
            program = queries.program_by_name(session, args.program)
            if program is None:
                raise CommandFailed(f"there is no program called {args.program!r}")
            now = _now()
            seen: set[tuple[str, str]] = set()
            good = []
            for row in rows:
                uid = user_id(row.user)
                if uid is None:
                    problems.append(f"line {row.line}: no Slack user has the email {row.user}")
                    continue
                if not (uid[:1] in ("U", "W") and uid[1:].isalnum()):
                    problems.append(f"line {row.line}: {row.user!r} is neither a Slack user id nor an email")
                    continue
                unresolved = [p for p in row.not_with if user_id(p) is None]
                if unresolved:
                    problems.append(f"line {row.line}: not_with has unknown people: {', '.join(unresolved)}")
                    continue
                row.answers.not_with = [user_id(p) or "" for p in row.not_with]
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
                if queries.person(session, uid) is None:
                    # Stored without a profile; display name and time zone are filled in from Slack later.
                    enrollment_service.save_profile(
                        session, SlackProfile(user_id=uid, display_name="", timezone=program.timezone), now
                    )
                    session.flush()
                    queries.person(session, uid).refreshed_at = None  # type: ignore[union-attr]
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
    for problem in sorted(problems, key=lambda p: int(p.split()[1].rstrip(":")) if p.startswith("line ") else 0):
        print(problem)
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

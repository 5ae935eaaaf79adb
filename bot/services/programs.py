"""Programs: a mentoring cycle's calendar and rules, validated the same way from a modal and from the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from bot.mrkdwn import escape  # refusals are mrkdwn: typed words must not ping or link
from bot.services.catalog import CADENCES
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import AuditEvent, Program

DEFAULT_WEIGHTS: dict[str, float] = {
    "specialization": 4.0,
    "library_type": 2.0,
    "experience": 2.0,
    "grade_levels": 1.0,
    "time_zone": 1.0,
    "meeting_format": 1.0,
    "cross_org": 2.0,
}
ELIGIBILITY = ("open", "allowlist", "channel")
CROSS_ORG = ("none", "prefer", "require")
# One limit for a program's default and a mentor's own answer: group mentoring (the seeds' answer to a
# shortage of volunteer mentors) can mean a dozen mentees or more for one mentor.
MAX_CAPACITY = 20
# Lists a statewide program keeps long (dozens of library systems, a school year of breaks) must still fit
# the program form's text inputs, which Slack caps at 3,000 characters.
LIST_TEXT_LIMIT = 3000
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# The actor the `shelfmate` command line records: a person at a shell, not a Slack user.
CLI_ACTOR = "cli"
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
# A program's work day unless its coordinator sets another: the hours every program kept before it could.
WORK_START = time(9, 0)
WORK_END = time(17, 0)
# "7:30", "07:30", "15:30", "7:30 AM", "3 pm", "07:30:00" (a TOML time), "15" (a 24-hour clock's hour).
_CLOCK_TIME = re.compile(
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?::(?P<second>00))?)?\s*(?:(?P<half>[ap])\.?\s*m\.?)?", re.IGNORECASE
)

# Field name -> what a person sees next to a problem with it.
FIELD_LABELS = {
    "name": "Name",
    "applications_open": "Applications open",
    "applications_close": "Applications close",
    "agreement_due": "Agreement due",
    "starts_on": "Starts",
    "ends_on": "Ends",
    "default_cadence": "Default cadence",
    "min_mentor_years": "Minimum mentor years",
    "default_capacity": "Default mentor capacity",
    "eligibility": "Eligibility",
    "eligibility_allowlist": "Allowlist",
    "eligibility_channel": "Eligibility channel",
    "admin_channel": "Admin channel",
    "timezone": "Time zone",
    "blackouts": "Blackout periods",
    "cross_org": "Cross-organization rule",
    "neighbor_orgs": "Neighbouring organizations",
    "weights": "Matching weights",
    "admins": "Program admins",
    "digest_weekday": "Digest day",
    "digest_hour": "Digest hour",
    "work_day_starts": "Work day starts",
    "work_day_ends": "Work day ends",
}


class ProgramInvalid(Exception):
    """Field name -> one-sentence problem. Rendered inline in a modal, or as lines by the CLI."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class ProgramFields:
    """A program's settings as people type them (strings), before validation."""

    values: dict[str, str] = field(default_factory=dict)


def parse_date(text: str) -> date:
    return date.fromisoformat(text.strip())


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def blackouts_text(blackouts: list[list[str]]) -> str:
    """Blackouts as the program form shows and reads them: a single day as itself, a span as `from..to`."""
    return ", ".join(start if start == end else f"{start}..{end}" for start, end in blackouts)


def time_words(at: time) -> str:
    """A time as people say it: "9 AM", "7:30 AM", "12 PM"."""
    hour = at.hour % 12 or 12
    minutes = f":{at.minute:02d}" if at.minute else ""
    return f"{hour}{minutes} {'AM' if at.hour < 12 else 'PM'}"


def parse_time(text: str) -> time:
    """A time of day as a coordinator types it: "7:30", "15:30", "7:30 AM", "3 PM"."""
    match = _CLOCK_TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if match["half"].lower() == "p" else 0)
    if hour > 23 or minute > 59:
        raise ValueError(text)
    return time(hour, minute)


def parse_blackouts(text: str) -> list[list[str]]:
    """`2025-04-07..2025-04-11, 2025-05-26` -> [[start, end], ...]; a single date is a one-day blackout."""
    periods = []
    for part in _split(text):
        start_text, _, end_text = part.partition("..")
        try:
            start = parse_date(start_text)
            end = parse_date(end_text) if end_text else start
        except ValueError:  # Python's own message ("Invalid isoformat string") means nothing to a coordinator
            raise ValueError(f"{part[:40]!r} is not a date or a period") from None
        if end < start:
            raise ValueError(f"{part} ends before it starts")
        periods.append([start.isoformat(), end.isoformat()])
    return periods


def parse_weights(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in _split(text):
        name, _, number = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_WEIGHTS:
            raise ValueError(f"unknown component {name!r} (known: {', '.join(DEFAULT_WEIGHTS)})")
        try:
            value = float(number)
        except ValueError:  # not Python's "could not convert string to float"
            raise ValueError(f"{name} needs a number, e.g. {name}=2") from None
        if not 0 <= value <= 100:
            raise ValueError(f"{name} must be between 0 and 100")
        weights[name] = value
    return weights


def validate_program(values: dict[str, str], *, existing: Program | None = None) -> dict[str, Any]:
    """Check every field and return typed column values; raise ProgramInvalid with all problems at once."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    def current(name: str) -> str:
        if name in values:
            return (values[name] or "").strip()
        if existing is None:
            return ""
        value = getattr(existing, name)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, time):
            return f"{value:%H:%M}"
        if isinstance(value, list) and name == "blackouts":
            return blackouts_text(value)
        if isinstance(value, list):
            return ", ".join(value)
        if isinstance(value, dict):
            return ", ".join(f"{k}={v:g}" for k, v in value.items())
        return "" if value is None else str(value)

    name = current("name")
    if not name:
        errors["name"] = "is required."
    elif len(name) > 120:
        errors["name"] = "must be at most 120 characters."
    out["name"] = name

    for key, required in (
        ("applications_open", False),
        ("applications_close", True),
        ("agreement_due", True),
        ("starts_on", True),
        ("ends_on", True),
    ):
        text = current(key)
        if not text:
            if required:
                errors[key] = "is required (YYYY-MM-DD)."
            out[key] = None
            continue
        try:
            out[key] = parse_date(text)
        except ValueError:
            errors[key] = f"{escape(repr(text))} is not a date: use YYYY-MM-DD."

    dates = {
        k: out.get(k) for k in ("applications_open", "applications_close", "agreement_due", "starts_on", "ends_on")
    }
    if (
        dates["applications_open"]
        and dates["applications_close"]
        and dates["applications_open"] > dates["applications_close"]
    ):
        errors.setdefault("applications_open", "must be on or before the application deadline.")
    if dates["applications_close"] and dates["starts_on"] and dates["applications_close"] >= dates["starts_on"]:
        errors.setdefault("applications_close", "must be before the program starts (pairs need time to be matched).")
    if dates["starts_on"] and dates["ends_on"] and dates["starts_on"] >= dates["ends_on"]:
        errors.setdefault("ends_on", "must be after the start date.")
    if dates["agreement_due"] and dates["applications_close"] and dates["agreement_due"] <= dates["applications_close"]:
        errors.setdefault("agreement_due", "must be after the application deadline.")
    if dates["agreement_due"] and dates["ends_on"] and dates["agreement_due"] >= dates["ends_on"]:
        errors.setdefault("agreement_due", "must be before the program ends.")

    cadence = current("default_cadence") or "monthly"
    if cadence not in CADENCES:
        errors["default_cadence"] = f"must be one of {', '.join(CADENCES)}."
    out["default_cadence"] = cadence

    for key, default, low, high in (
        ("min_mentor_years", 3, 0, 60),
        ("default_capacity", 2, 1, MAX_CAPACITY),
        ("digest_hour", 9, 0, 23),
    ):
        text = current(key)
        try:
            number = int(text) if text else default
            if not low <= number <= high:
                raise ValueError
            out[key] = number
        except ValueError:
            errors[key] = f"must be a whole number from {low} to {high}."

    work_day: dict[str, time] = {}
    for key, default in (("work_day_starts", WORK_START), ("work_day_ends", WORK_END)):
        text = current(key)
        try:
            work_day[key] = parse_time(text) if text else default
        except ValueError:
            errors[key] = f"{escape(repr(text[:40]))} is not a time of day: use HH:MM, e.g. 07:30 or 3:30 PM."
    out.update(work_day)
    if len(work_day) == 2 and work_day["work_day_ends"] <= work_day["work_day_starts"]:
        # Said of the time that was changed: an edit of the start alone is refused at the start.
        if "work_day_starts" in values and "work_day_ends" not in values:
            ends = time_words(work_day["work_day_ends"])
            errors["work_day_starts"] = f"must be earlier than the end of the work day ({ends})."
        else:
            starts = time_words(work_day["work_day_starts"])
            errors["work_day_ends"] = f"must be later than the start of the work day ({starts}), on the same day."

    weekday = (current("digest_weekday") or "0").lower()
    if weekday.isdigit() and 0 <= int(weekday) <= 6:
        out["digest_weekday"] = int(weekday)
    elif weekday in WEEKDAYS:
        out["digest_weekday"] = WEEKDAYS.index(weekday)
    else:
        errors["digest_weekday"] = "must be a day of the week, e.g. monday."

    eligibility = (current("eligibility") or "open").lower()
    if eligibility not in ELIGIBILITY:
        errors["eligibility"] = f"must be one of {', '.join(ELIGIBILITY)}."
    out["eligibility"] = eligibility
    allowlist = _split(current("eligibility_allowlist"))
    bad = [u for u in allowlist if not SLACK_USER_ID.match(u)]
    if bad:
        errors["eligibility_allowlist"] = f"these are not Slack user ids: {escape(', '.join(bad))}."
    out["eligibility_allowlist"] = allowlist
    if eligibility == "allowlist" and not allowlist:
        errors.setdefault("eligibility_allowlist", "is required when eligibility is allowlist.")
    channel = current("eligibility_channel") or None
    if channel and not _CHANNEL_ID.match(channel):
        errors["eligibility_channel"] = "must be a channel id such as C0123ABCD."
    if eligibility == "channel" and not channel:
        errors.setdefault("eligibility_channel", "is required when eligibility is channel.")
    out["eligibility_channel"] = channel

    admin_channel = current("admin_channel") or None
    if admin_channel and not _CHANNEL_ID.match(admin_channel):
        errors["admin_channel"] = "must be a channel id such as C0123ABCD."
    out["admin_channel"] = admin_channel

    tz = current("timezone") or "America/Los_Angeles"
    try:
        if len(tz) > 64:  # no IANA name is this long; ZoneInfo would ask the file system anyway
            raise ValueError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        errors["timezone"] = f"{escape(repr(tz[:40]))} is not a time zone name such as America/Chicago."
    out["timezone"] = tz

    try:
        out["blackouts"] = parse_blackouts(current("blackouts"))
    except ValueError as error:
        errors["blackouts"] = f"{escape(str(error))}. Use YYYY-MM-DD..YYYY-MM-DD, separated by commas."

    cross_org = (current("cross_org") or "none").lower()
    if cross_org not in CROSS_ORG:
        errors["cross_org"] = f"must be one of {', '.join(CROSS_ORG)}."
    out["cross_org"] = cross_org
    out["neighbor_orgs"] = _split(current("neighbor_orgs"))
    # Measured as the form will show them next time (its input holds at most this much), not as typed.
    shown = {"blackouts": blackouts_text(out.get("blackouts") or []), "neighbor_orgs": ", ".join(out["neighbor_orgs"])}
    for key, text in shown.items():
        if len(text) > LIST_TEXT_LIMIT:
            errors[key] = f"is too long for the program form: at most {LIST_TEXT_LIMIT:,} characters."

    try:
        out["weights"] = parse_weights(current("weights"))
    except ValueError as error:
        errors["weights"] = f"{escape(str(error))}. Use name=number, e.g. specialization=4, library_type=2."

    admins = _split(current("admins"))
    bad = [u for u in admins if not SLACK_USER_ID.match(u)]
    if bad:
        errors["admins"] = f"these are not Slack user ids: {escape(', '.join(bad))}."
    out["admins"] = admins

    allow = (current("allow_guests") or "false").lower()
    out["allow_guests"] = allow in ("1", "true", "yes", "on")

    if errors:
        raise ProgramInvalid(errors)
    return out


def create_program(
    session: Session, values: dict[str, str], *, actor: str, now: datetime, creator_coordinates: bool = False
) -> Program:
    """`creator_coordinates`: the creator is not a coordinator of every program, so they coordinate this one
    (or they could not manage the program they just made)."""
    columns = validate_program(values)
    if creator_coordinates and actor not in columns["admins"]:
        columns["admins"] = [*columns["admins"], actor]
    if queries.program_by_name(session, columns["name"]) is not None:
        raise ProgramInvalid({"name": f"a program named {columns['name']!r} already exists."})
    program = Program(**columns, created_at=now)
    session.add(program)
    session.flush()
    record_admin_action(session, actor, "program.create", program.id, {"name": program.name}, now)
    return program


def edit_program(session: Session, program: Program, values: dict[str, str], *, actor: str, now: datetime) -> Program:
    """A closed program whose end date moves to today or later runs again (the scheduler skips closed ones);
    its pairings that ended with it stay ended: their wrap-up went out, and the coordinator pairs again."""
    columns = validate_program(values, existing=program)
    other = queries.program_by_name(session, columns["name"])
    if other is not None and other.id != program.id:
        raise ProgramInvalid({"name": f"a program named {columns['name']!r} already exists."})
    changed = {k: str(v) for k, v in columns.items() if getattr(program, k) != v}
    old_channel = program.admin_channel
    for key, value in columns.items():
        setattr(program, key, value)
    reopened = program.closed_at is not None and now.astimezone(program_zone(program)).date() <= program.ends_on
    if reopened:
        program.closed_at = None
    session.add(program)
    if old_channel and program.admin_channel and program.admin_channel != old_channel:
        # Alerts and digests still queued for the old channel follow the coordinators to the new one.
        deliveries.retarget_pending(session, program.id, old_channel, program.admin_channel)
    detail: dict[str, Any] = {"changed": sorted(changed)} | ({"status": "reopened"} if reopened else {})
    record_admin_action(session, actor, "program.edit", program.id, detail, now)
    return program


def save_program_once(
    session: Session,
    request_key: str,
    program_id: int | None,
    values: dict[str, str],
    *,
    actor: str,
    now: datetime,
    creator_coordinates: bool = False,
) -> Program | None:
    """Create (no `program_id`) or edit from one modal submission; None for Slack's retry or a double submit.

    The key goes in first: a concurrent copy waits on it (PostgreSQL) until this transaction ends, then finds
    it taken instead of failing on the name ("already exists") or auditing the edit twice. A submission with
    errors rolls back, key and all, so the corrected one is saved.
    """
    if not queries.remember_request(session, request_key, now):
        return None
    program = queries.program_by_id(session, program_id) if program_id is not None else None
    if program_id is not None and program is None:
        raise ProgramInvalid({"name": "This program no longer exists."})
    if program is None:
        return create_program(session, values, actor=actor, now=now, creator_coordinates=creator_coordinates)
    return edit_program(session, program, values, actor=actor, now=now)


def record_admin_action(
    session: Session, actor: str, action: str, program_id: int | None, detail: dict[str, Any], now: datetime
) -> None:
    session.add(AuditEvent(actor=actor, action=action, program_id=program_id, detail=detail, at=now))


def program_zone(program: Program) -> ZoneInfo:
    return ZoneInfo(program.timezone)


# The payload field naming the people a coordinators' message is about, who are not sent a copy of it.
LEAVE_OUT = "leave_out"


def queue_coordinator_notice(
    session: Session,
    program: Program,
    key: DeliveryKey,
    payload: dict[str, Any],
    *,
    due_at: datetime,
    now: datetime,
    coordinators: frozenset[str] = frozenset(),
    leave_out: frozenset[str] = frozenset(),
    pairing_id: int | None = None,
) -> list[DeliveryKey]:
    """A message for a program's coordinators, in the Delivery ledger (sent once): to its admin channel, which
    the delivery copies to each coordinator by DM if the channel refuses it; without an admin channel, to each
    coordinator (`coordinators`, who coordinate every program, and the program's own admins) by DM, except
    `leave_out` (the people it is about), who are left out of the DM copies too when the channel refuses it
    (the payload carries them: LEAVE_OUT). The keys of the rows written."""
    if leave_out:
        payload = payload | {LEAVE_OUT: sorted(leave_out)}
    if program.admin_channel:
        targets = [(key, program.admin_channel)]
    else:
        people = sorted(program_coordinators(program, coordinators) - set(leave_out))
        targets = [(DeliveryKey(key.kind, f"{key.subject}:{person}", key.period), person) for person in people]
    for target_key, recipient in targets:
        deliveries.enqueue(
            session,
            target_key,
            recipient=recipient,
            due_at=due_at,
            payload=payload,
            program_id=program.id,
            pairing_id=pairing_id,
            now=now,
        )
    return [target_key for target_key, _ in targets]


def applications_deadline(program: Program) -> datetime:
    """The seed's "11:59 PM": applications close at the end of 23:59 on that day in the program's zone."""
    local = datetime.combine(program.applications_close, time(23, 59), tzinfo=program_zone(program))
    return local + timedelta(minutes=1)


def applications_open_at(program: Program) -> datetime | None:
    if program.applications_open is None:
        return None
    return datetime.combine(program.applications_open, time(0, 0), tzinfo=program_zone(program))


def accepting_applications(program: Program, now: datetime) -> bool:
    opens = applications_open_at(program)
    return (opens is None or now >= opens) and now < applications_deadline(program) and program.closed_at is None


def waitlist_is_final(program: Program, today: date) -> bool:
    """Whether a mentee a preview left out is on the waitlist yet: not while applications are open (`today` in
    the program's zone), when a mentor who applies later may take her and the next preview decides afresh."""
    return today > program.applications_close


def has_ended(program: Program, now: datetime) -> bool:
    """Closed by the sweep, or past its last day in its own time zone (the sweep may not have run yet)."""
    return program.closed_at is not None or now.astimezone(program_zone(program)).date() > program.ends_on


def reopened_note(program: Program) -> str:
    """Said to the coordinator whose edit reopened a closed program: what runs again and what does not."""
    return (
        f"{escape(program.name)} was closed and is reopened: it now runs until {program.ends_on:%b %-d, %Y}. Pairs that "
        "ended with it stay ended; pair them again with `/mentor-admin pair` if they carry on."
    )


def ended_message(program: Program) -> str:
    return (
        f"{escape(program.name)} ended on {program.ends_on:%b %-d, %Y}, so nobody can be matched or paired in it now. "
        "Use a program that is running (`/mentor-admin program list`)."
    )


def program_coordinators(program: Program, super_admins: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Who coordinates a program: its own admins and the super admins (SHELFMATE_ADMINS), who coordinate every
    program. The one list every coordinators' message (alert, DM copy, private rematch reason) goes to."""
    return set(super_admins) | set(program.admins or [])


def is_own_program_admin(program: Program, user_id: str) -> bool:
    """The person is one of the program's own admins (not a super admin by SHELFMATE_ADMINS)."""
    return user_id in (program.admins or [])


def is_program_admin(program: Program | None, user_id: str, super_admins: frozenset[str]) -> bool:
    """The person coordinates this program (one of `program_coordinators`); with no program, a super admin."""
    return user_id in super_admins or (program is not None and is_own_program_admin(program, user_id))


def effective_weights(program: Program) -> dict[str, float]:
    return DEFAULT_WEIGHTS | dict(program.weights or {})


class NotAllowed(Exception):
    """The person is not a coordinator of this program; the message is a polite refusal."""


REFUSAL = (
    "Sorry, that's for program coordinators. If you coordinate this program, ask an existing coordinator "
    "to add you as a program admin."
)


def require_admin(session: Session, program: Program | None, user_id: str, super_admins: frozenset[str]) -> None:
    """Checked on the server for every admin request, whatever button or payload it came from."""
    if program is None:
        if user_id in super_admins or any(is_own_program_admin(p, user_id) for p in queries.all_programs(session)):
            return
    elif is_program_admin(program, user_id, super_admins):
        return
    raise NotAllowed(REFUSAL)


def visible_programs(session: Session, user_id: str, super_admins: frozenset[str]) -> list[Program]:
    """The programs this person coordinates: all of them for super admins (SHELFMATE_ADMINS), otherwise
    those they are a program admin of. Another program's enrollment and admin channel are not theirs to see."""
    programs = queries.all_programs(session)
    if user_id in super_admins:
        return programs
    return [p for p in programs if is_own_program_admin(p, user_id)]


def visible_programs_with_counts(
    session: Session, user_id: str, super_admins: frozenset[str]
) -> tuple[list[Program], dict[int, dict[str, int]]]:
    """`/mentor-admin program list`: the programs this person coordinates (`visible_programs`), and for each
    program id the enrollments per role that are not withdrawn."""
    return visible_programs(session, user_id, super_admins), queries.enrollment_counts(session)


def program_by_id(session: Session, program_id: int) -> Program | None:
    """The program a button or a modal names by id; None when it no longer exists."""
    return queries.program_by_id(session, program_id)


def programs_by_id(session: Session) -> dict[int, Program]:
    """Every program, open or closed, by id: what a person's enrollments name."""
    return {p.id: p for p in queries.all_programs(session) if p.id is not None}


def visible_audit_events(session: Session, user_id: str, super_admins: frozenset[str], limit: int) -> list[AuditEvent]:
    """The newest `limit` admin actions this person may read.

    Super admins (SHELFMATE_ADMINS) see everything; a program's own coordinators see only their programs'
    events, since one program's decisions (who was paired, dissolved, exported) are not another's business.
    """
    if user_id in super_admins:
        return queries.audit_events(session, limit)
    mine = {p.id for p in queries.all_programs(session) if p.id is not None and is_own_program_admin(p, user_id)}
    return queries.audit_events(session, limit, program_ids=mine) if mine else []


@dataclass(frozen=True)
class AuditTrail:
    """The admin actions a person may read, with what the lines need to say them in words."""

    events: list[AuditEvent]
    program_names: dict[int, str]
    program_zones: dict[int, str]  # program id -> its time zone, for a time no Slack client could show
    pairs: dict[int, tuple[str, str]]  # pairing id in an event -> (mentor, mentee) person ids


def audit_trail(session: Session, user_id: str, super_admins: frozenset[str], limit: int) -> AuditTrail:
    """`visible_audit_events`, and the names its lines show instead of ids: each program, and the two people
    of each pairing an event is about (an event stores the pairing's id only)."""
    events = visible_audit_events(session, user_id, super_admins, limit)
    programs = [p for p in queries.all_programs(session) if p.id is not None]
    # Two queries for the whole page (its pairings, then their members), not two or three per event.
    pairing_ids = {(event.detail or {}).get("pairing_id") for event in events}
    pairings = queries.pairings_by_id(session, sorted(i for i in pairing_ids if isinstance(i, int)))
    members = queries.enrollments_by_id(
        session, sorted({e for p in pairings.values() for e in (p.mentor_enrollment_id, p.mentee_enrollment_id)})
    )
    pairs: dict[int, tuple[str, str]] = {}
    for pairing_id, pairing in pairings.items():
        mentor, mentee = members.get(pairing.mentor_enrollment_id), members.get(pairing.mentee_enrollment_id)
        if mentor is not None and mentee is not None:
            pairs[pairing_id] = (mentor.person_id, mentee.person_id)
    return AuditTrail(
        events=events,
        program_names={p.id: p.name for p in programs if p.id is not None},
        program_zones={p.id: p.timezone for p in programs if p.id is not None},
        pairs=pairs,
    )


def resolve_program(session: Session, name: str) -> Program:
    """A program by name, or when no name is given the only running one, or, when none runs, the only one there
    is: the name is needed only when several could be meant, so a program that ended still answers for its final
    summary and exports (its coordinator is not told to create one)."""
    name = name.strip()
    if name:
        program = queries.program_by_name(session, name)
        if program is None:
            known = ", ".join(escape(p.name) for p in queries.all_programs(session)) or "none yet"
            raise ProgramInvalid({"name": f"there is no program called {escape(repr(name))} (programs: {known})."})
        return program
    running = queries.unclosed_programs(session)
    if len(running) == 1:
        return running[0]
    if running:
        raise ProgramInvalid(
            {"name": "several programs are running; add the name: " + ", ".join(escape(p.name) for p in running)}
        )
    ended = queries.all_programs(session)  # newest first
    if len(ended) == 1:
        return ended[0]
    if not ended:
        raise ProgramInvalid({"name": "there is no program yet: `/mentor-admin program create`."})
    shown = ", ".join(f"{escape(p.name)} (ended {p.ends_on:%b %-d, %Y})" for p in ended[:5])
    raise ProgramInvalid({"name": f"no program is running now; add the name of the one you mean: {shown}."})

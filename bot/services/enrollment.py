"""Enrollment: who may join which program, the intake answers, pause, resume and leave.

Nothing here calls Slack: listeners fetch what Slack knows (a user's profile, a channel's members) and
pass it in; results say what to tell whom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session

from bot.mrkdwn import escape  # refusals are mrkdwn: typed words must not ping or link
from bot.services import accounts
from bot.services import programs as program_rules
from bot.services.catalog import (
    GRADE_LEVELS,
    LIBRARY_TYPES,
    MEETING_FORMATS,
    ROLES,
    applications_deadline_words,
    specializations,
    years_in_kind,
)
from bot.services.schedule import zone
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import (
    LIVE_PAIRING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Pairing,
    PairingStatus,
    Person,
    Program,
    Role,
)

PROFILE_MAX_AGE = timedelta(hours=24)
# A leave repeated within this long (a double click, Slack's retry) is answered like the first one.
LEAVE_REPEAT_WINDOW = timedelta(minutes=5)
LEFT_REASON = "A participant left the program."
MAX_YEARS = 60
TEXT_LIMITS = {"organization": 200, "region": 200, "goals": 3000}


@dataclass(frozen=True)
class SlackProfile:
    """What `users.info` says about a person, reduced to what Shelfmate keeps."""

    user_id: str
    display_name: str
    timezone: str
    is_bot: bool = False
    is_guest: bool = False
    deactivated: bool = False


@dataclass
class IntakeAnswers:
    """The intake modal's answers as typed; validated by `validate_intake`."""

    role: str = ""
    program_id: int | None = None
    library_type: str = ""
    organization: str = ""
    region: str = ""
    specializations: list[str] = field(default_factory=list)
    years_experience: str = ""
    grade_levels: list[str] = field(default_factory=list)
    goals: str = ""
    meeting_format: str = ""
    capacity: str = ""
    not_with: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubmitResult:
    enrollment: Enrollment
    program: Program
    created: bool
    # A mentor's approved mentees in this program now: what a change of capacity means for them is told with it.
    mentees: int = 0


# The Delivery kind of the coordinators' notice that a pairing ended because a member left.
PAIRING_DISSOLVED = "pairing_dissolved"


@dataclass(frozen=True)
class PartnerNotice:
    """Someone whose pairing ended because their partner left; told kindly, and admins are told too."""

    partner_id: str
    program_id: int
    program_name: str
    admin_channel: str | None
    pairing_id: int
    # The coordinators' notice, in the Delivery ledger (sent once; by DM if the admin channel refuses it).
    admin_notice: DeliveryKey | None = None
    leaver_id: str = ""
    # The partner's other partners through the same enrollment (a mentor's other mentees): those pairings go on.
    still_paired_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeaveResult:
    # What this call withdrew; for a repeat within LEAVE_REPEAT_WINDOW, what the first copy withdrew, so it
    # is told the same, not that there was nothing to leave.
    withdrawn: list[Enrollment]
    partners: list[PartnerNotice]  # only the pairings this call ended: each partner is told once
    staying: list[Enrollment] = field(default_factory=list)  # after leaving one program: the others she is in


class JoinRefused(Exception):
    """A person may not join (now): the message says why and what to do."""


# -- people --------------------------------------------------------------------------------------------
def needs_refresh(person: Person | None, now: datetime) -> bool:
    return person is None or person.refreshed_at is None or now - person.refreshed_at > PROFILE_MAX_AGE


def save_profile(
    session: Session, profile: SlackProfile, now: datetime, coordinators: frozenset[str] = frozenset()
) -> Person:
    """Keep what Slack says about a person (`users.info`)."""
    return _store_profile(session, profile, now, coordinators).person


@dataclass(frozen=True)
class ProfileUpdate:
    person: Person
    notices: list[DeliveryKey]  # what the change owes partners and coordinators (an account deactivated)


def update_known_profile(
    session: Session, profile: SlackProfile, now: datetime, coordinators: frozenset[str] = frozenset()
) -> ProfileUpdate | None:
    """Slack told us someone's profile changed (`user_change`): keep the name, time zone and account status
    of people Shelfmate knows current, so reminders, summaries and exports follow them. Slack sends this for
    everyone in the workspace; strangers are not stored. None when the person is unknown."""
    if queries.person(session, profile.user_id) is None:
        return None
    return _store_profile(session, profile, now, coordinators)


def _store_profile(
    session: Session, profile: SlackProfile, now: datetime, coordinators: frozenset[str]
) -> ProfileUpdate:
    """An account found deactivated (or active again) here is handled like any other way of finding out
    (`accounts.record_account_status`): what it owes people goes in the ledger in this transaction."""
    person = queries.ensure_person(session, profile.user_id)
    person.display_name = profile.display_name[:200]
    person.timezone = profile.timezone or "UTC"
    person.is_bot = profile.is_bot
    person.is_guest = profile.is_guest
    person.refreshed_at = now
    session.add(person)
    notices = accounts.record_account_status(
        session, person, deactivated=profile.deactivated, now=now, coordinators=coordinators
    )
    return ProfileUpdate(person, notices)


def refusal_for_person(person: Person, program: Program | None = None) -> str | None:
    if person.is_bot:
        return "Bots can't join a mentoring program."
    if accounts.is_deactivated(person):
        return "This account is deactivated, so it can't join a mentoring program."
    # Guests are judged per program (some allow them), so only when a program is given.
    if person.is_guest and program is not None and not program.allow_guests:
        return (
            "Guest accounts can't join this program. If you should be able to, ask your program "
            "coordinator to allow guests."
        )
    return None


# -- programs a person may join ------------------------------------------------------------------------
def joinable_programs(session: Session, now: datetime) -> list[Program]:
    return [p for p in queries.unclosed_programs(session) if program_rules.accepting_applications(p, now)]


def why_no_program(session: Session, now: datetime) -> str:
    """The refusal when nothing is open: name the deadline that passed and what to do instead."""
    programs = queries.all_programs(session)
    if not programs:
        return "No mentoring program has been set up yet. Your program coordinator will announce it here."
    upcoming = [p for p in programs if (opens := program_rules.applications_open_at(p)) and now < opens]
    if upcoming:
        first = min(upcoming, key=lambda p: p.applications_open or date.max)
        return (
            f"Applications for *{escape(first.name)}* open on {_day(first.applications_open)}. "
            "Come back then, or ask your coordinator to add you early."
        )
    latest = max(programs, key=lambda p: p.applications_close)
    return closed_refusal(latest)


def closed_refusal(program: Program) -> str:
    """Said to someone who tries to join after the application deadline."""
    closed = applications_deadline_words(program.applications_close, program.timezone)
    return (
        f"Applications for *{escape(program.name)}* closed on {closed}. "
        "Ask your program coordinator about joining late or about the next cycle."
    )


def check_eligible(program: Program, user_id: str, channel_members: set[str] | None) -> None:
    """Eligibility is enforced on the server; channel membership is fetched by the caller."""
    if program.eligibility == "allowlist" and user_id not in (program.eligibility_allowlist or []):
        raise JoinRefused(
            f"*{escape(program.name)}* is open to invited participants only. Ask your program coordinator to add you."
        )
    if program.eligibility == "channel" and (channel_members is None or user_id not in channel_members):
        raise JoinRefused(
            f"*{escape(program.name)}* is open to members of <#{program.eligibility_channel}>. "
            "Join that channel, then try `/mentor join` again."
        )


def channel_to_check(program: Program) -> str | None:
    """The channel whose members may join, when the program is open to one channel only."""
    return program.eligibility_channel if program.eligibility == "channel" and program.eligibility_channel else None


def check_can_join(
    session: Session, user_id: str, program: Program, now: datetime, channel_members: set[str] | None
) -> None:
    person = queries.person(session, user_id)
    if person is not None and (refusal := refusal_for_person(person, program)):
        raise JoinRefused(refusal)
    if not program_rules.accepting_applications(program, now):
        raise JoinRefused(closed_refusal(program))
    check_eligible(program, user_id, channel_members)


# -- intake --------------------------------------------------------------------------------------------
def validate_intake(answers: IntakeAnswers, program: Program, person_id: str) -> dict[str, str]:
    """Field -> problem, for inline modal errors. Empty when the answers can be saved."""
    errors: dict[str, str] = {}
    if answers.role not in ROLES:
        errors["role"] = "Choose mentor or mentee."
    if answers.library_type not in LIBRARY_TYPES:
        errors["library_type"] = "Choose the kind of library you work in."
    for name, limit in TEXT_LIMITS.items():
        value = getattr(answers, name).strip()
        if len(value) > limit:
            errors[name] = f"Please keep this under {limit} characters."
    if not answers.organization.strip():
        errors["organization"] = "Tell us your district or library system."
    known = specializations()
    unknown = [s for s in answers.specializations if s not in known]
    if unknown:
        errors["specializations"] = "Choose from the list."
    elif not answers.specializations:
        errors["specializations"] = (
            "Choose at least one area you can coach in."
            if answers.role == Role.MENTOR
            else "Choose at least one area you want to grow in."
        )
    years = _whole_number(answers.years_experience)
    if years is None or not 0 <= years <= MAX_YEARS:
        errors["years_experience"] = f"Enter a whole number of years from 0 to {MAX_YEARS}."
    elif answers.role == Role.MENTOR and years < program.min_mentor_years:
        errors["years_experience"] = (
            f"Mentors in {program.name} need at least {years_in_kind(program.min_mentor_years, answers.library_type)}"
            ". You're welcome to join as a mentee."
        )
    if any(g not in GRADE_LEVELS for g in answers.grade_levels):
        errors["grade_levels"] = "Choose from the list."
    if answers.meeting_format not in MEETING_FORMATS:
        errors["meeting_format"] = "Choose how you'd like to meet."
    if answers.role == Role.MENTOR:
        capacity = _whole_number(answers.capacity) if answers.capacity.strip() else program.default_capacity
        if capacity is None or not 1 <= capacity <= program_rules.MAX_CAPACITY:
            errors["capacity"] = f"Enter how many mentees you can take, from 1 to {program_rules.MAX_CAPACITY}."
    if person_id in answers.not_with:
        errors["not_with"] = "You can't list yourself here."
    return errors


def submit_intake(
    session: Session, person_id: str, program: Program, answers: IntakeAnswers, now: datetime
) -> SubmitResult:
    """Create or update the person's enrollment for (program, role): a double submit updates the same row."""
    # The profile fetch may not have landed (or was lost); a bare row is refreshed from Slack later.
    queries.ensure_person(session, person_id)
    existing = queries.enrollment_for(session, program.id, person_id, answers.role)  # type: ignore[arg-type]
    created = existing is None or existing.status == EnrollmentStatus.WITHDRAWN
    enrollment = existing or Enrollment(program_id=program.id, person_id=person_id, role=answers.role, created_at=now)
    if enrollment.status == EnrollmentStatus.WITHDRAWN:
        enrollment.status = EnrollmentStatus.APPLIED
        enrollment.waitlist_reason = None
    enrollment.library_type = answers.library_type
    enrollment.organization = answers.organization.strip()
    enrollment.region = answers.region.strip()
    enrollment.specializations = sorted(set(answers.specializations))
    enrollment.years_experience = int(answers.years_experience)
    enrollment.grade_levels = sorted(set(answers.grade_levels)) if answers.library_type == "school" else []
    enrollment.goals = answers.goals.strip()
    enrollment.meeting_format = answers.meeting_format
    if answers.role == Role.MENTOR:
        enrollment.capacity = int(answers.capacity) if answers.capacity.strip() else program.default_capacity
    else:
        enrollment.capacity = 0
    enrollment.not_with = sorted(set(answers.not_with) - {person_id})
    enrollment.updated_at = now
    session.add(enrollment)
    session.flush()
    mentees = 0
    if answers.role == Role.MENTOR and not created:
        pairings = queries.pairings_of_enrollments(session, [enrollment.id])  # type: ignore[list-item]
        mentees = sum(1 for p in pairings if p.approved_at is not None)
    return SubmitResult(enrollment=enrollment, program=program, created=created, mentees=mentees)


@dataclass(frozen=True)
class Application:
    """How an intake submission went: field -> problem, or the saved result (once per submission)."""

    errors: dict[str, str]
    result: SubmitResult | None = None
    first_time: bool = False
    # The coordinators' notice of a paired person's changed answers (profile_changes), in the ledger.
    notices: tuple[DeliveryKey, ...] = ()


def apply(
    session: Session,
    request_key: str,
    person_id: str,
    answers: IntakeAnswers,
    now: datetime,
    *,
    joining: bool,
    channel_members: set[str] | None,
    coordinators: frozenset[str] = frozenset(),
) -> Application:
    """Check the answers and, for a new application, whether the person may join; then save them.

    A double submit or a Slack retry carries the same `request_key` (view id and hash): it saves once and
    is confirmed once. Editing a profile (`joining=False`) skips the join checks: the person is already in,
    unless they left meanwhile. A paired person's changed answers that their match used are told to the
    program's coordinators (`coordinators`: those of every program), each distinct change once a day.
    """
    # Read again here, not taken from the caller: the program may have closed while Slack was asked who
    # may join, and the checks must see the row this transaction writes against.
    program = queries.program_by_id(session, answers.program_id) if answers.program_id else None
    if program is None:
        return Application({"program_id": "Choose a program."})
    errors = validate_intake(answers, program, person_id)
    if joining and not errors:
        try:
            check_can_join(session, person_id, program, now, channel_members)
        except JoinRefused as refusal:
            errors = {"role": str(refusal)}
    elif not joining and not errors:
        # A profile form left open while the person left: saving it must not bring them back past every check.
        enrollment = queries.enrollment_for(session, program.id, person_id, answers.role)  # type: ignore[arg-type]
        if enrollment is None or enrollment.status == EnrollmentStatus.WITHDRAWN:
            errors = {
                "role": f"You left *{escape(program.name)}*, so there is no profile to save. `/mentor join` to apply."
            }
    if errors:
        return Application(errors)
    first_time = queries.remember_request(session, request_key, now)
    existing = queries.enrollment_for(session, program.id, person_id, answers.role)  # type: ignore[arg-type]
    if existing is None or existing.status == EnrollmentStatus.WITHDRAWN:
        return Application({}, submit_intake(session, person_id, program, answers, now), first_time)
    # Imported here: the comparison scores pairs (numpy, OR-Tools), which only an edit of answers needs.
    from bot.services import profile_changes

    before = profile_changes.match_answers(existing)
    capacity_before = existing.capacity
    result = submit_intake(session, person_id, program, answers, now)
    notices = profile_changes.queue_edit_notice(session, result.enrollment, before, now, coordinators)
    notices += queue_room_notice(session, result, capacity_before, now, coordinators)
    return Application({}, result, first_time, tuple(notices))


# The Delivery kind of the coordinators' notice that a mentor made room while mentees wait.
MENTOR_HAS_ROOM = "mentor_has_room"


def queue_room_notice(
    session: Session, result: SubmitResult, capacity_before: int, now: datetime, coordinators: frozenset[str]
) -> list[DeliveryKey]:
    """A mentor who raises her capacity while mentees wait on the program's waitlist: the coordinators are told
    (nobody else can pair them, and the waitlist only says it in the weekly digest). Capacity is otherwise no
    business of theirs, so nothing is said when it goes down or when nobody waits."""
    enrollment, program = result.enrollment, result.program
    if enrollment.role != Role.MENTOR or enrollment.status not in (EnrollmentStatus.APPLIED, EnrollmentStatus.MATCHED):
        return []
    if program_rules.has_ended(program, now) or enrollment.id is None:
        return []
    open_before = max(0, capacity_before - result.mentees)
    open_now = max(0, enrollment.capacity - result.mentees)
    waiting = [
        e
        for e in queries.enrollments_in_program(session, program.id)  # type: ignore[arg-type]
        if e.role == Role.MENTEE and e.status == EnrollmentStatus.WAITLISTED
    ]
    if open_now <= open_before or not waiting:
        return []
    today = now.astimezone(program_rules.program_zone(program)).date()
    return program_rules.queue_coordinator_notice(
        session,
        program,
        DeliveryKey(MENTOR_HAS_ROOM, f"enrollment:{enrollment.id}", f"{today.isoformat()}:{enrollment.capacity}"),
        {
            "program": program.name,
            "mentor": enrollment.person_id,
            "capacity": enrollment.capacity,
            "taken": result.mentees,
            "waiting": len(waiting),
        },
        due_at=now,
        now=now,
        coordinators=coordinators,
        leave_out=frozenset({enrollment.person_id}),
    )


def answers_from_enrollment(enrollment: Enrollment) -> IntakeAnswers:
    """Prefill for `/mentor profile`."""
    return IntakeAnswers(
        role=enrollment.role,
        program_id=enrollment.program_id,
        library_type=enrollment.library_type,
        organization=enrollment.organization,
        region=enrollment.region,
        specializations=list(enrollment.specializations or []),
        years_experience=str(enrollment.years_experience),
        grade_levels=list(enrollment.grade_levels or []),
        goals=enrollment.goals,
        meeting_format=enrollment.meeting_format,
        capacity=str(enrollment.capacity) if enrollment.role == Role.MENTOR else "",
        not_with=list(enrollment.not_with or []),
    )


@dataclass(frozen=True)
class JoinPrefill:
    """The join form's starting answers, and where they were copied from (None: a blank form)."""

    answers: IntakeAnswers
    source_role: str | None = None
    source_program: str | None = None


def join_prefill(session: Session, person_id: str, role: str, program_id: int | None) -> JoinPrefill:
    """Start a new application from the person's latest answers (any program, any role).

    A returning librarian should not retype everything, and above all must not lose, unnoticed, the people
    they asked not to be paired with. An application already made for this program and role is what the form
    will update, so it comes first. Capacity is a mentor's answer: it is copied only from a mentor enrollment.
    """
    blank = IntakeAnswers(role=role, program_id=program_id)
    # Withdrawn enrollments were erased when the person left: there is nothing in them to offer.
    enrollments = current_enrollments(session, person_id)
    if not enrollments:
        return JoinPrefill(blank)
    same = [e for e in enrollments if e.program_id == program_id and e.role == role] if program_id and role else []
    source = same[0] if same else max(enrollments, key=lambda e: (e.updated_at, e.id or 0))
    answers = answers_from_enrollment(source)
    answers.role = role
    answers.program_id = program_id
    mentor_answers = [e for e in enrollments if e.role == Role.MENTOR]
    if role == Role.MENTEE or not mentor_answers:
        answers.capacity = ""
    elif source.role != Role.MENTOR:
        answers.capacity = str(max(mentor_answers, key=lambda e: (e.updated_at, e.id or 0)).capacity)
    program = queries.program_by_id(session, source.program_id)
    return JoinPrefill(answers, source.role, program.name if program else None)


def current_enrollments(session: Session, person_id: str) -> list[Enrollment]:
    return [e for e in queries.enrollments_of_person(session, person_id) if e.status != EnrollmentStatus.WITHDRAWN]


def running_enrollments(session: Session, person_id: str, now: datetime) -> list[Enrollment]:
    """The current enrollments whose program has not ended: an ended program's are a record, left alone by
    pause, resume and profile edits (leaving still erases them)."""
    running = []
    for enrollment in current_enrollments(session, person_id):
        program = queries.program_by_id(session, enrollment.program_id)
        if program is not None and not program_rules.has_ended(program, now):
            running.append(enrollment)
    return running


# -- pause, resume, leave ------------------------------------------------------------------------------
def person_today(session: Session, person_id: str, now: datetime) -> date:
    """'Today' where the person is: at 5:30 PM in Los Angeles it is already tomorrow in UTC."""
    person = queries.person(session, person_id)
    return now.astimezone(zone(person.timezone if person else None)).date()


def pause(session: Session, person_id: str, until: date | None, now: datetime) -> list[Enrollment]:
    """A paused person is never matched and never nudged; a dated pause ends by itself."""
    today = person_today(session, person_id, now)
    if until is not None and until <= today:
        raise ValueError(f"The pause end date must be after today ({_day(today)}).")
    paused = []
    for enrollment in running_enrollments(session, person_id, now):
        if enrollment.status != EnrollmentStatus.PAUSED:
            enrollment.status_before_pause = enrollment.status
            enrollment.status = EnrollmentStatus.PAUSED
            enrollment.paused_on = today
        enrollment.paused_until = until
        enrollment.updated_at = now
        session.add(enrollment)
        paused.append(enrollment)
    return paused


def resume(session: Session, person_id: str, now: datetime) -> list[Enrollment]:
    resumed = []
    today = person_today(session, person_id, now)
    for enrollment in running_enrollments(session, person_id, now):
        if enrollment.status == EnrollmentStatus.PAUSED:
            _unpause(enrollment, today, now)
            session.add(enrollment)
            resumed.append(enrollment)
    return resumed


def end_due_pauses(session: Session, now: datetime) -> list[Enrollment]:
    """Run by a sweep: a pause "until Mar 11" is lifted when Mar 11 begins where the person is."""
    # No time zone is more than 14 hours ahead of UTC, so tomorrow's UTC date covers everyone due today.
    candidates = queries.paused_enrollments_due(session, now.date() + timedelta(days=1))
    ended = []
    for enrollment in candidates:
        today = person_today(session, enrollment.person_id, now)
        if enrollment.paused_until is not None and enrollment.paused_until <= today:
            _unpause(enrollment, today, now)
            session.add(enrollment)
            ended.append(enrollment)
    return ended


def _unpause(enrollment: Enrollment, today: date, now: datetime) -> None:
    if enrollment.paused_on is not None:
        last_day = max(enrollment.paused_on, today - timedelta(days=1))
        history = list(enrollment.pause_history or [])
        history.append([enrollment.paused_on.isoformat(), last_day.isoformat()])
        enrollment.pause_history = history
        enrollment.paused_on = None
    enrollment.status = enrollment.status_before_pause or EnrollmentStatus.APPLIED
    enrollment.status_before_pause = None
    enrollment.paused_until = None
    enrollment.updated_at = now


def leave(session: Session, person_id: str, now: datetime, program_id: int | None = None) -> LeaveResult:
    """Withdraw from everything (or from one program: `program_id`), erase personal answers and private notes
    there, dissolve live pairings there. Someone who mentors in one program and is mentored in another can
    leave the first and keep her own mentor."""
    # A concurrent copy (double click, Slack's retry) waits here on PostgreSQL and then finds nothing left to
    # end, so partners and coordinators hear once; SQLite's writers already run one at a time.
    queries.lock_person(session, person_id)
    enrollments = [e for e in current_enrollments(session, person_id) if program_id in (None, e.program_id)]
    # Coordinators' decisions on these programs (approve, dissolve) lock the program: wait for them, in id
    # order, so the two never overwrite each other's pairing and enrollment changes.
    for program_id in sorted({e.program_id for e in enrollments}):
        queries.lock_program(session, program_id)
    partners: list[PartnerNotice] = []
    for pairing in queries.pairings_of_enrollments(session, [e.id for e in enrollments]):  # type: ignore[misc]
        partner = _dissolve(session, pairing, person_id, now, reason=LEFT_REASON)
        if partner is not None:
            partners.append(partner)
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.WITHDRAWN
        enrollment.library_type = ""
        enrollment.meeting_format = "any"
        enrollment.capacity = 0
        enrollment.organization = ""
        enrollment.region = ""
        enrollment.goals = ""
        enrollment.specializations = []
        enrollment.grade_levels = []
        enrollment.not_with = []
        enrollment.years_experience = 0
        enrollment.waitlist_reason = None
        enrollment.paused_until = None
        enrollment.status_before_pause = None
        enrollment.updated_at = now
        session.add(enrollment)
    left_pairings = {
        p.id
        for p in queries.pairings_of_enrollments(session, [e.id for e in enrollments], live_only=False)  # type: ignore[misc]
    }
    for checkin in queries.checkins_by(session, person_id):
        if program_id is None or checkin.pairing_id in left_pairings:
            checkin.private_note = None
            session.add(checkin)
    if not enrollments:  # a repeat of a leave that just happened is told the same, not "nothing to leave"
        just_now = now - LEAVE_REPEAT_WINDOW
        enrollments = [
            e
            for e in queries.enrollments_of_person(session, person_id)
            if e.status == EnrollmentStatus.WITHDRAWN
            and e.updated_at >= just_now
            and program_id in (None, e.program_id)
        ]
    staying = [] if program_id is None else [e for e in current_enrollments(session, person_id)]
    return LeaveResult(withdrawn=enrollments, partners=partners, staying=staying)


def _dissolve(session: Session, pairing: Pairing, leaver_id: str, now: datetime, reason: str) -> PartnerNotice | None:
    pairing.status = PairingStatus.DISSOLVED
    pairing.ended_at = now
    pairing.end_reason = reason
    pairing.decided_by = leaver_id  # who ended it: a leaver who comes back must not read the partner's notes
    session.add(pairing)
    mentor = queries.enrollment(session, pairing.mentor_enrollment_id)
    mentee = queries.enrollment(session, pairing.mentee_enrollment_id)
    program = queries.program_by_id(session, pairing.program_id)
    if mentor is None or mentee is None or program is None:
        return None
    partner = mentee if mentor.person_id == leaver_id else mentor
    if partner.person_id == leaver_id:
        return None
    still_paired_with = tuple(_other_partners(session, partner, pairing.id))
    # The partner goes back to the pool: their enrollment is waiting for a new match.
    if partner.status == EnrollmentStatus.MATCHED and not _has_other_live_pairing(session, partner, pairing.id):
        partner.status = EnrollmentStatus.APPLIED
        session.add(partner)
    admin_notice = None
    if program.admin_channel:
        admin_notice = DeliveryKey(PAIRING_DISSOLVED, f"pairing:{pairing.id}", "left")
        deliveries.enqueue(
            session,
            admin_notice,
            recipient=program.admin_channel,
            due_at=now,
            payload={
                "program": program.name,
                "partner": partner.person_id,
                "leaver": leaver_id,
                "still_paired_with": list(still_paired_with),
            },
            program_id=program.id,
            now=now,
        )
    return PartnerNotice(
        partner_id=partner.person_id,
        program_id=program.id,  # type: ignore[arg-type]
        program_name=program.name,
        admin_channel=program.admin_channel,
        pairing_id=pairing.id,  # type: ignore[arg-type]
        admin_notice=admin_notice,
        leaver_id=leaver_id,
        still_paired_with=still_paired_with,
    )


def _other_partners(session: Session, enrollment: Enrollment, except_id: int | None) -> list[str]:
    """Whom else this enrollment is paired with and introduced to (a mentor's other mentees)."""
    others = []
    for pairing in queries.pairings_of_enrollments(session, [enrollment.id]):  # type: ignore[list-item]
        members = queries.pair_members(session, pairing)
        if pairing.id == except_id or not pairing.is_running() or members is None:
            continue
        others += [member for member in members if member != enrollment.person_id]
    return others


def _has_other_live_pairing(session: Session, enrollment: Enrollment, except_id: int | None) -> bool:
    return any(
        p.id != except_id and p.status in LIVE_PAIRING_STATUSES
        for p in queries.pairings_of_enrollments(session, [enrollment.id])  # type: ignore[list-item]
    )


def _whole_number(text: str) -> int | None:
    """ASCII digits only: str.isdigit() also accepts "²", which int() then refuses."""
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text) else None


def _day(value: date | None) -> str:
    return value.strftime("%b %-d, %Y") if value else "an unannounced date"

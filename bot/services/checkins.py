"""Logging a meeting: one CheckIn per pair and day, validated against the program's calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.mrkdwn import escape  # form errors are mrkdwn, like every refusal: the listener shows them plain
from bot.services.agreements import (
    NotYourPairing,
    PairView,
    Terms,
    current_terms,
    ended_for_member,
    member_view,
    pair_for,
)
from bot.services.catalog import MEETING_FORMATS, specializations
from bot.services.enrollment import LEFT_REASON
from bot.services.schedule import ENDED_BEFORE_INTRO_REASON, zone
from storage import queries
from storage.models import CheckIn, EnrollmentStatus, Pairing, PairingStatus, Program

MAX_DURATION_MINUTES = 8 * 60
# "Did you meet?" goes out near the end of the last period, and a pair that meets on the program's last day
# answers the morning after, when the program has closed: a pairing that ended with its program can still log
# its meetings (dated within the program) for this many days after the end.
LATE_LOGGING_DAYS = 14


@dataclass(frozen=True)
class CheckInAnswers:
    met_on: date | None
    duration_minutes: int | None
    format: str
    topics: list[str] = field(default_factory=list)
    other_topics: str = ""
    rating: int | None = None
    private_note: str = ""


@dataclass(frozen=True)
class Logged:
    checkin: CheckIn
    pair: PairView
    created: bool


def late_logging_until(program: Program) -> date:
    """The last day a pairing that ended with this program may still log the program's meetings."""
    return program.ends_on + timedelta(days=LATE_LOGGING_DAYS)


def _ended_with_program(session: Session, pairing: Pairing) -> bool:
    """Ended by its program's close (not dissolved) after the two were introduced, and neither member has left
    since: leaving erases. A pair never introduced cannot have met through the program."""
    if pairing.status != PairingStatus.ENDED or ended_before_intro(pairing):
        return False
    members = queries.enrollments_by_id(session, [pairing.mentor_enrollment_id, pairing.mentee_enrollment_id])
    return len(members) == 2 and all(e.status != EnrollmentStatus.WITHDRAWN for e in members.values())


def checkin_pairings(session: Session, user_id: str, now: datetime) -> list[PairView]:
    """The pairings this person can log a meeting for now: live ones, and ones that ended with their program
    no more than LATE_LOGGING_DAYS ago."""
    out = loggable_pairings(session, user_id)
    enrollments = _own_enrollment_ids(session, user_id)
    for pairing in queries.pairings_of_enrollments(session, enrollments, live_only=False):
        if not _ended_with_program(session, pairing):
            continue
        pair = member_view(session, pairing, user_id)
        if pair is not None and local_today(session, pair, now) <= late_logging_until(pair.program):
            out.append(pair)
    return out


def pair_to_log(session: Session, pairing_id: int | None, user_id: str) -> PairView:
    """The pairing as `user_id` logs a meeting for it: live, or ended with its program (`validate` then checks
    the late-logging window). Refuses anyone not in it, and dissolved pairings."""
    pairing = queries.pairing(session, pairing_id) if pairing_id is not None else None
    pair = member_view(session, pairing, user_id) if pairing is not None else None
    if pair is None or pairing is None:
        raise NotYourPairing
    if not pairing.is_running() and not _ended_with_program(session, pairing):
        raise NotYourPairing
    return pair


def loggable_pairings(session: Session, user_id: str) -> list[PairView]:
    """The pairings this person can log a meeting for (introduced or active)."""
    enrollments = _own_enrollment_ids(session, user_id)
    out = []
    for pairing in queries.pairings_of_enrollments(session, enrollments):
        if pairing.is_running():
            pair = member_view(session, pairing, user_id)
            if pair is not None:
                out.append(pair)
    return out


def _own_enrollment_ids(session: Session, user_id: str) -> list[int]:
    """The person's enrollments whose pairings are still theirs: someone who left asked for their answers and
    notes to be erased, and the partner's notes are not theirs to keep."""
    return [
        e.id
        for e in queries.enrollments_of_person(session, user_id)
        if e.id is not None and e.status != EnrollmentStatus.WITHDRAWN
    ]


def validate(answers: CheckInAnswers, pair: PairView, today: date) -> dict[str, str]:
    """Inline errors keyed by the modal's block ids; empty when the answers can be saved."""
    errors: dict[str, str] = {}
    program = pair.program
    ended = pair.pairing.status == PairingStatus.ENDED
    if not pair.pairing.is_running() and not ended:
        errors["met_on"] = "You can log meetings once you've been introduced to your partner."
    elif ended and today > late_logging_until(program):
        errors["met_on"] = (
            f"{program.name} ended on {program.ends_on:%b %-d, %Y}, and its meetings could be logged until "
            f"{late_logging_until(program):%b %-d, %Y} ({LATE_LOGGING_DAYS} days after the end)."
        )
    elif answers.met_on is None:
        errors["met_on"] = "Pick the day you met."
    elif answers.met_on > today:
        errors["met_on"] = "That day is still to come: log a meeting once it has happened."
    elif answers.met_on < program.starts_on:
        errors["met_on"] = f"The program starts on {program.starts_on:%b %-d, %Y}; pick a day from then on."
    elif ended and answers.met_on > program.ends_on:
        errors["met_on"] = (
            f"{escape(program.name)} ended on {program.ends_on:%b %-d, %Y}; pick the day you met, up to then."
        )
    if answers.duration_minutes is None or not 5 <= answers.duration_minutes <= MAX_DURATION_MINUTES:
        errors["duration"] = f"Enter the minutes you met, from 5 to {MAX_DURATION_MINUTES}."
    if answers.format not in MEETING_FORMATS or answers.format == "any":
        errors["format"] = "Choose how you met."
    unknown = [t for t in answers.topics if t not in specializations()]
    if unknown:
        errors["topics"] = "Choose topics from the list (add others in the box below)."
    if answers.rating is not None and not 1 <= answers.rating <= 5:
        errors["rating"] = "Rate from 1 to 5."
    return errors


def local_today(session: Session, pair: PairView, now: datetime) -> date:
    """'Today' for the person logging: their own time zone, or the program's if Slack gave none."""
    person = queries.person(session, pair.user_id)
    return now.astimezone(zone(person.timezone if person else pair.program.timezone)).date()


def log_meeting(session: Session, pairing_id: int, user_id: str, answers: CheckInAnswers, now: datetime) -> Logged:
    """Save a meeting once. The same day logged again (the partner, a double click) returns the first one."""
    pair = pair_to_log(session, pairing_id, user_id)
    assert answers.met_on is not None and answers.duration_minutes is not None
    key = _meeting_key(pairing_id, answers.met_on)
    existing = queries.checkin_by_key(session, key)
    if existing is not None:
        return Logged(existing, pair, created=False)
    topics = list(answers.topics)
    if answers.other_topics.strip():
        topics.append(answers.other_topics.strip()[:200])
    checkin = CheckIn(
        pairing_id=pairing_id,
        logged_by=user_id,
        met_on=answers.met_on,
        duration_minutes=answers.duration_minutes,
        format=answers.format,
        topics=topics,
        rating=answers.rating,
        private_note=answers.private_note.strip()[:3000] or None,
        idempotency_key=key,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(checkin)
    except IntegrityError:  # a concurrent request for the same meeting won the insert
        existing = queries.checkin_by_key(session, key)
        assert existing is not None
        return Logged(existing, pair, created=False)
    _record_recovery(session, pair.pairing)
    return Logged(checkin, pair, created=True)


@dataclass(frozen=True)
class LogOutcome:
    logged: Logged | None = None  # saved by this request
    already_logged: CheckIn | None = None  # that day is on record already (the partner, or an earlier log)
    repeat: bool = False  # Slack re-sent a submission that was handled


def log_once(
    session: Session, request_key: str, pairing_id: int, user_id: str, answers: CheckInAnswers, now: datetime
) -> LogOutcome:
    """Save a meeting from one modal submission.

    A Slack retry of a handled submission changes nothing. A day already on record is reported, not
    silently dropped, and the submission is not remembered, so the person can pick another day and resend.
    """
    # A concurrent copy of this submission (a double click, Slack's retry) waits here on PostgreSQL until the
    # first commits, then finds its key: it is a repeat, not "that day is already logged".
    queries.lock_pairing(session, pairing_id)
    if queries.request_seen(session, request_key):
        return LogOutcome(repeat=True)
    assert answers.met_on is not None
    existing = queries.checkin_by_key(session, _meeting_key(pairing_id, answers.met_on))
    if existing is not None:
        return LogOutcome(already_logged=existing)
    logged = log_meeting(session, pairing_id, user_id, answers, now)
    if not logged.created:  # a concurrent request for the same day won
        return LogOutcome(already_logged=logged.checkin)
    queries.remember_request(session, request_key, now)
    return LogOutcome(logged=logged)


def _meeting_key(pairing_id: int, day: date) -> str:
    return f"pairing:{pairing_id}:{day.isoformat()}"


def _record_recovery(session: Session, pairing: Pairing) -> None:
    """A meeting means the pair is no longer quiet: the next sweep recomputes at-risk from the rows."""
    if pairing.at_risk:
        pairing.at_risk = False
        session.add(pairing)


def recent_for_pair(session: Session, pair: PairView, limit: int = 5) -> list[CheckIn]:
    """The pair's latest meetings, private notes included: only ever shown to the two of them."""
    return list(reversed(queries.checkins_for_pairing(session, pair.pairing.id)))[:limit]  # type: ignore[arg-type]


@dataclass(frozen=True)
class PairHistory:
    """One pairing's record as one of its two members reads it back."""

    pair: PairView
    checkins: list[CheckIn]


def readable_pairings(session: Session, user_id: str) -> list[PairView]:
    """Every pairing this person was introduced in, live or over: the pair's record stays the pair's to read
    after the program ends or the pairing is dissolved. Only ever pairings the person is one of the two in."""
    enrollments = _own_enrollment_ids(session, user_id)
    live, past = [], []
    for pairing in queries.pairings_of_enrollments(session, enrollments, live_only=False):
        if not was_introduced(pairing) or _left_by(pairing, user_id):
            continue
        pair = member_view(session, pairing, user_id)
        if pair is not None:
            (live if pairing.is_running() else past).append(pair)
    past.sort(key=lambda p: p.pairing.id or 0, reverse=True)  # the latest pairing first
    return live + past


def history(session: Session, user_id: str, limit: int = 10) -> list[PairHistory]:
    """`/mentor checkins`: the person's pairings (current first) with their latest meetings and notes."""
    return [PairHistory(pair, recent_for_pair(session, pair)) for pair in readable_pairings(session, user_id)[:limit]]


def _left_by(pairing: Pairing, user_id: str) -> bool:
    """They ended this pairing by leaving (and may have come back since): its notes are no longer theirs."""
    return (
        pairing.status == PairingStatus.DISSOLVED
        and pairing.end_reason == LEFT_REASON
        and pairing.decided_by == user_id
    )


def was_introduced(pairing: Pairing) -> bool:
    """Whether the two were introduced by the program (running, or over since): their record to read and their
    hours to count, 0 too. A proposal never approved (still open, rejected, or dropped at the end) was never the
    pair's; nor was one approved whose intro has not gone out, or that ended or was dissolved before it did."""
    if pairing.is_running():
        return True
    if pairing.status == PairingStatus.PROPOSED:
        return False
    if pairing.status == PairingStatus.DISSOLVED and pairing.approved_at is None:
        return False
    return not _over_before_intro(pairing)


def _over_before_intro(pairing: Pairing) -> bool:
    """Approved, but over before its intro went out, so the two never heard of each other through the program:
    the program ended while the intro waited for working hours (the closing sweep says so in the pairing's end
    reason), or the pairing was dissolved first (unpaired, a member left): the intro opens the pair's group DM,
    so a dissolved pairing without one was never introduced."""
    if pairing.status == PairingStatus.ENDED:
        return pairing.end_reason == ENDED_BEFORE_INTRO_REASON
    return pairing.status == PairingStatus.DISSOLVED and not pairing.conversation_id


def ended_before_intro(pairing: Pairing) -> bool:
    """The program's end overtook the intro (not a dissolve): the two never heard of each other through the
    program, which `never_introduced` explains and the status card leaves unnamed."""
    return pairing.status == PairingStatus.ENDED and _over_before_intro(pairing)


def never_introduced(session: Session, user_id: str, pairing_id: int | None = None) -> list[PairView]:
    """This person's pairings that ended with their program before the two were introduced (only `pairing_id`,
    if given): they are told why there is nothing to log, not that they have no partner or that it is not theirs."""
    enrollments = _own_enrollment_ids(session, user_id)
    out = []
    for pairing in queries.pairings_of_enrollments(session, enrollments, live_only=False):
        if not ended_before_intro(pairing) or (pairing_id is not None and pairing.id != pairing_id):
            continue
        pair = member_view(session, pairing, user_id)
        if pair is not None:
            out.append(pair)
    return out


# -- what a person may log, or why not ------------------------------------------------------------------
class CheckinRefusal(StrEnum):
    """Why there is no meeting to log: each reads differently to the person, so each is told apart."""

    NO_PAIRING = "no_pairing"  # never introduced to anyone: "not yet"
    NOT_YOURS = "not_yours"  # the pairing named is someone else's (or unknown)
    PAIRING_OVER = "pairing_over"  # theirs, but dissolved (or ended) since
    LATE_LOGGING_CLOSED = "late_logging_closed"  # ended with its program more than LATE_LOGGING_DAYS ago
    NEVER_INTRODUCED = "never_introduced"  # the program ended before the two were introduced


@dataclass(frozen=True)
class CheckinTarget:
    """The pairings a person may log a meeting for now and their local 'today'; or, with none, why not.

    `about` is the pairing a refusal names (late logging closed, never introduced)."""

    pairs: list[PairView] = field(default_factory=list)
    today: date | None = None
    refusal: CheckinRefusal | None = None
    about: PairView | None = None


def checkin_choice(session: Session, user_id: str, now: datetime, chosen: int | None = None) -> CheckinTarget:
    """Opening the check-in form: the pairings the person can log for (only `chosen`, from a pairing's button,
    must be among them), or why there is nothing to log."""
    pairs = checkin_pairings(session, user_id, now)
    if pairs and (chosen is None or any(p.pairing.id == chosen for p in pairs)):
        return CheckinTarget(pairs=pairs, today=local_today(session, pairs[0], now))
    # Someone whose pairing is over had a partner: "not yet" would read as if they never did.
    over = [p for p in readable_pairings(session, user_id) if chosen is None or p.pairing.id == chosen]
    if not over:
        # Paired on the program's last evening, its intro dropped at the end: say so, not "not yours" or "yet".
        never_met = never_introduced(session, user_id, chosen)
        if never_met:
            return CheckinTarget(refusal=CheckinRefusal.NEVER_INTRODUCED, about=never_met[0])
        return CheckinTarget(refusal=CheckinRefusal.NOT_YOURS if chosen is not None else CheckinRefusal.NO_PAIRING)
    if over[0].pairing.status == PairingStatus.ENDED:
        return CheckinTarget(refusal=CheckinRefusal.LATE_LOGGING_CLOSED, about=over[0])
    return CheckinTarget(refusal=CheckinRefusal.PAIRING_OVER)


def checkin_target(session: Session, pairing_id: int | None, user_id: str, now: datetime) -> CheckinTarget:
    """Submitting the check-in form: the pairing as `user_id` logs for it (`pair_to_log`) with their 'today',
    or why it cannot be logged for."""
    try:
        pair = pair_to_log(session, pairing_id, user_id)
    except NotYourPairing:
        # Their own pairing, dissolved since the form opened, is over, not someone else's.
        if any(p.pairing.id == pairing_id for p in readable_pairings(session, user_id)):
            return CheckinTarget(refusal=CheckinRefusal.PAIRING_OVER)
        # Theirs, but the program ended before the two were introduced: say that, not "another pair".
        never_met = never_introduced(session, user_id, pairing_id) if pairing_id is not None else []
        if never_met:
            return CheckinTarget(refusal=CheckinRefusal.NEVER_INTRODUCED, about=never_met[0])
        return CheckinTarget(refusal=CheckinRefusal.NOT_YOURS)
    return CheckinTarget(pairs=[pair], today=local_today(session, pair, now))


# -- which agreement to open, or why not ----------------------------------------------------------------
# Here rather than in agreements.py: whether a person's pairing is live or over is decided in this module.
class AgreementRefusal(StrEnum):
    NO_PARTNER = "no_partner"  # never introduced to anyone: "not yet"
    PAIRING_OVER = "pairing_over"  # theirs, but ended or dissolved: nothing to settle now
    NOT_YOURS = "not_yours"  # the pairing named is someone else's (or unknown)


@dataclass(frozen=True)
class AgreementTarget:
    """The pairing whose agreement form to open, with the terms on record; or, for someone with several
    partners and no pairing named, the pairings to choose from; or why there is none."""

    pair: PairView | None = None
    terms: Terms | None = None
    choices: list[PairView] = field(default_factory=list)
    refusal: AgreementRefusal | None = None


def agreement_to_open(session: Session, user_id: str, pairing_id: int | None = None) -> AgreementTarget:
    """Opening the agreement form for a pairing (from a button), or from the command for the person's only one."""
    if pairing_id is None:
        pairs = loggable_pairings(session, user_id)
        if not pairs:
            # Someone whose pairing is over had a partner: "not yet" would read as if they never did.
            over = bool(readable_pairings(session, user_id))
            return AgreementTarget(refusal=AgreementRefusal.PAIRING_OVER if over else AgreementRefusal.NO_PARTNER)
        if len(pairs) > 1:
            return AgreementTarget(choices=pairs)
        pairing_id = pairs[0].pairing.id
    try:
        pair = pair_for(session, pairing_id, user_id)
    except NotYourPairing:
        over = ended_for_member(session, pairing_id, user_id)
        return AgreementTarget(refusal=AgreementRefusal.PAIRING_OVER if over else AgreementRefusal.NOT_YOURS)
    return AgreementTarget(pair=pair, terms=current_terms(session, pair))

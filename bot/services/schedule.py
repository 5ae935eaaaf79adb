"""What the bot owes whom, right now: derived from rows every sweep, recorded as Delivery rows.

Nothing here sends. `plan(session, now)` looks at programs, pairings, agreements and check-ins and
enqueues each message once (the ledger's unique key makes a second sweep a no-op). The payload holds
the facts a view needs to render the message later; the Slack side renders and sends.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from bot.services import programs as program_rules
from bot.services.agreements import after_hours_agreed, settled_cadence
from bot.services.catalog import specialization_label
from bot.services.programs import WORK_END, WORK_START, time_words
from bot.services.reasons import CONCERN_MARK, split_reasons
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import (
    Agreement,
    Delivery,
    Enrollment,
    EnrollmentStatus,
    Pairing,
    PairingStatus,
    Person,
    Program,
)

log = logging.getLogger(__name__)

AGREEMENT_REMINDER_DAYS = 3
# A pair introduced late (a rematch, a late approval) gets at least this long to settle its agreement.
AGREEMENT_GRACE_DAYS = 7
# ... and at least the working days a week holds: a week that runs into a school break is extended by it.
AGREEMENT_GRACE_WORKING_DAYS = 5
APPLICATION_REMINDER_DAYS = 3
ASK_AGAIN_DAYS = 3
AT_RISK_MISSED = 2
# Reminders about one period of a pair's meetings: they can wait days in the ledger (quiet hours, a weekend,
# "Not yet"'s re-ask), so whether they still apply is decided again when they go out.
REMINDER_KINDS = frozenset({"nudge", "did_you_meet", "did_you_meet_again"})
# The reminder to settle an agreement can wait in the ledger too, and is likewise decided again at send time.
AGREEMENT_REMINDER = "agreement_reminder"
# Why the closing sweep ended a pairing. An approved pairing whose intro was still held (quiet hours) ends with
# the program too, but its two were never introduced: the reason is what tells the two cases apart afterwards.
PROGRAM_ENDED_REASON = "The program ended."
NEVER_MATCHED = "never_matched"  # told to each applicant still waiting when the program ended
WAITLISTED = "waitlisted"  # told to each mentee left waiting once the coordinators decided every proposal
ENDED_BEFORE_INTRO_REASON = "The program ended before the two were introduced."


# -- time ------------------------------------------------------------------------------------------------
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class WorkDay:
    """When work hours are, Monday to Friday, on each person's own clock: a pair that said no to chat outside
    work hours hears from the bot only then, and reminders are planned for the day's start."""

    starts: time = WORK_START
    ends: time = WORK_END

    @classmethod
    def of(cls, program: Program | None) -> WorkDay:
        if program is None:
            return DEFAULT_WORK_DAY
        return cls(program.work_day_starts or WORK_START, program.work_day_ends or WORK_END)

    def contains(self, local: datetime) -> bool:
        return local.weekday() < 5 and self.starts <= local.time() < self.ends

    @property
    def words(self) -> str:
        """ "9 AM - 5 PM", "7:30 AM - 3:30 PM"."""
        return f"{time_words(self.starts)} - {time_words(self.ends)}"


DEFAULT_WORK_DAY = WorkDay()


def in_working_hours(moment: datetime, tz: str, work_day: WorkDay = DEFAULT_WORK_DAY) -> bool:
    return work_day.contains(moment.astimezone(zone(tz)))


def next_allowed_time(
    moment: datetime, zones: list[str], *, after_hours_ok: bool, work_day: WorkDay = DEFAULT_WORK_DAY
) -> datetime:
    """The first moment from `moment` when every recipient is in working hours (if they asked for that).

    That is `moment` itself (to the next whole minute) or the start of someone's work day: shared hours begin
    when the last of them starts work, so a message held overnight goes out as a school day begins (7:30 AM),
    not at some quarter hour after it. People far apart may share no working hour; then the first
    recipient's (the mentee's) hours win.
    """
    if after_hours_ok or not zones:
        return moment
    first = moment.replace(second=0, microsecond=0)
    if first < moment:
        first += timedelta(minutes=1)
    candidates = {first}
    for tz in set(zones):
        local_day = first.astimezone(zone(tz)).date()
        for offset in range(9):
            start = local_moment(local_day + timedelta(days=offset), tz, work_day.starts)
            if start > first:
                candidates.add(start)
    for candidate in sorted(candidates):
        if all(in_working_hours(candidate, tz, work_day) for tz in zones):
            return candidate
    if len(zones) > 1:
        return next_allowed_time(moment, zones[:1], after_hours_ok=False, work_day=work_day)
    return first  # not reached: every week holds a work day


def local_moment(day: date, tz: str, at: time = WORK_START) -> datetime:
    return datetime.combine(day, at, tzinfo=zone(tz))


def work_day_start(program: Program, day: date) -> datetime:
    """When the program's work day begins on `day` in its own time zone: the moment its reminders are planned."""
    return local_moment(day, program.timezone, WorkDay.of(program).starts)


class QuietHours(NamedTuple):
    """When the bot may message a pair: their time zones (mentee first), whether their settled agreement
    allows after-hours messages, and their program's work day."""

    zones: list[str]
    after_hours_ok: bool
    work_day: WorkDay

    def next_allowed(self, moment: datetime) -> datetime:
        return next_allowed_time(moment, self.zones, after_hours_ok=self.after_hours_ok, work_day=self.work_day)


def pair_quiet_hours(session: Session, pairing: Pairing) -> QuietHours | None:
    """When the bot may message this pair (`QuietHours`).

    Read when a message goes out rather than when it was planned, so an agreement settled since is obeyed.
    """
    members = queries.pair_members(session, pairing)
    if members is None:
        return None
    program = queries.program_by_id(session, pairing.program_id)
    fallback = program.timezone if program is not None else "UTC"
    people = queries.people(session, list(members))
    zones = [people[m].timezone if m in people and people[m].timezone else fallback for m in reversed(members)]
    return QuietHours(zones, after_hours_agreed(queries.agreement_for(session, pairing.id or 0)), WorkDay.of(program))


def pair_notice_key(pairing_id: int, request_key: str) -> DeliveryKey:
    """The ledger key of the reply to one request: a retry of that request finds the same row."""
    return DeliveryKey("pair_notice", f"pairing:{pairing_id}", hashlib.sha256(request_key.encode()).hexdigest()[:32])


def queue_pair_notice(
    session: Session, pairing_id: int, request_key: str, text: str, blocks: list[dict[str, Any]], now: datetime
) -> None:
    """A message to a pair in reply to one member's action, written to the ledger in the action's own
    transaction: a crash right after the action cannot lose it. It is due now, or at the first working
    moment of both (unless they agreed otherwise)."""
    pairing = queries.pairing(session, pairing_id)
    quiet = pair_quiet_hours(session, pairing) if pairing is not None else None
    if pairing is None or quiet is None:
        log.warning("no message queued for pairing %s: it or one of its enrollments is gone", pairing_id)
        return
    due = quiet.next_allowed(now)
    if due <= now + timedelta(minutes=1):  # allowed now (next_allowed_time rounds up to a whole minute)
        due = now
    members = queries.pair_members(session, pairing)
    assert members is not None
    deliveries.enqueue(
        session,
        pair_notice_key(pairing_id, request_key),
        recipient=pairing.conversation_id or "users:" + ",".join(members),
        due_at=due,
        payload={"text": text, "blocks": blocks},
        program_id=pairing.program_id,
        pairing_id=pairing_id,
        now=now,
    )


# -- periods -----------------------------------------------------------------------------------------------
CADENCE_DAYS = {"weekly": 7, "biweekly": 14}


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date  # inclusive

    @property
    def middle(self) -> date:
        return self.start + (self.end - self.start) // 2

    @property
    def ask_day(self) -> date:
        """When to ask "Did you meet?": a few days before the end, so there is still time to meet.

        On a working day: a day on a weekend would wait for Monday, which may be after the period (a weekly
        Monday-to-Sunday period asked on its Saturday would hear the question after the week is over).
        """
        candidate = self.end - timedelta(days=3 if self.days > 14 else 1)
        return self.last_working_day(candidate) or self.last_working_day(self.end) or candidate

    def last_working_day(self, by: date, blackouts: list[list[str]] | None = None) -> date | None:
        """The last Monday-to-Friday day of the period up to `by`, outside `blackouts`; None if there is none."""
        day = min(by, self.end)
        while day >= self.start:
            if day.weekday() < 5 and not _in_blackout(day, blackouts or []):
                return day
            day -= timedelta(days=1)
        return None

    def ask_day_outside(self, blackouts: list[list[str]]) -> date | None:
        """The ask day moved out of a school break: the last working day before the break, within the period.

        A day in a break would wait past it, often past the period too, and the pair would never be asked.
        None when the period has no working day outside the breaks: the pair cannot be asked in it.
        """
        breaks = [[a, b] for a, b in blackouts if a <= self.end.isoformat() and b >= self.start.isoformat()]
        if not breaks:
            return self.ask_day
        candidate = self.end - timedelta(days=3 if self.days > 14 else 1)
        return self.last_working_day(candidate, breaks) or self.last_working_day(self.end, breaks)

    def overlap_days(self, first: date, last: date) -> int:
        return max(0, (min(self.end, last) - max(self.start, first)).days + 1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_containing(program: Program, cadence: str, day: date) -> Period:
    if cadence in CADENCE_DAYS:
        n = CADENCE_DAYS[cadence]
        index = max(0, (day - program.starts_on).days // n)
        start = program.starts_on + timedelta(days=index * n)
        return Period(f"{cadence}-{index + 1}", start, min(program.ends_on, start + timedelta(days=n - 1)))
    start = day.replace(day=1)
    next_month = (start + timedelta(days=32)).replace(day=1)
    return Period(f"{start:%Y-%m}", max(start, program.starts_on), min(program.ends_on, next_month - timedelta(days=1)))


def periods_until(program: Program, cadence: str, day: date) -> list[Period]:
    """Every period from the program start up to and including the one containing `day`."""
    out: list[Period] = []
    cursor = program.starts_on
    while cursor <= min(day, program.ends_on):
        period = period_containing(program, cadence, cursor)
        out.append(period)
        cursor = period.end + timedelta(days=1)
    return out


def excused(period: Period, blackouts: list[list[str]]) -> bool:
    """A period mostly inside a blackout or pause sends nothing and counts as nothing.

    Days are counted once however many spans cover them (a pause during a school break is not two excuses).
    """
    covered: set[date] = set()
    for a, b in blackouts:
        first, last = max(period.start, date.fromisoformat(a)), min(period.end, date.fromisoformat(b))
        covered.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return len(covered) * 2 >= period.days


def running_pause(enrollment: Enrollment, program_end: date) -> list[str] | None:
    """The pause still in progress as [first day, last day], or None.

    Only a lifted pause reaches `pause_history`; until then its days must be excused too. A dated pause ends
    the day before `paused_until` (the day the sweep lifts it, as its history will then say); an open-ended
    one runs to the program's end.
    """
    if enrollment.status != EnrollmentStatus.PAUSED or enrollment.paused_on is None:
        return None
    last = enrollment.paused_until - timedelta(days=1) if enrollment.paused_until is not None else program_end
    return [enrollment.paused_on.isoformat(), max(enrollment.paused_on, last).isoformat()]


def deactivation_spans(person: Person | None, program: Program) -> list[list[str]]:
    """The spans a person's Slack account was deactivated, as [first day, last day] on the program's calendar;
    one still running lasts to the program's end (like a pause without an end date). The pair could not meet
    then.

    The account code records those days where the person is (`accounts`): each span becomes every day in
    the program's zone it overlaps, so a Tokyo morning is the evening before in Los Angeles."""
    if person is None:
        return []
    spans = [_days_in_program_zone(first, last, person, program) for first, last in person.deactivation_history or []]
    if person.deactivated and person.deactivated_on is not None:
        first, _ = _days_in_program_zone(person.deactivated_on, person.deactivated_on, person, program)
        spans.append([first, max(date.fromisoformat(first), program.ends_on).isoformat()])
    return spans


def _days_in_program_zone(first: date | str, last: date | str, person: Person, program: Program) -> list[str]:
    """[first, last], days in the person's zone, as the program-zone days those whole days overlap."""
    first_day = date.fromisoformat(first) if isinstance(first, str) else first
    last_day = date.fromisoformat(last) if isinstance(last, str) else last
    theirs, ours = zone(person.timezone), zone(program.timezone)
    starts = datetime.combine(first_day, time.min, tzinfo=theirs).astimezone(ours).date()
    ends = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=theirs) - timedelta(microseconds=1)
    return [starts.isoformat(), ends.astimezone(ours).date().isoformat()]


def pairing_started_on(pairing: Pairing, program: Program) -> date:
    """The pairing's first day in the program's time zone: when it was approved, else created."""
    moment = pairing.approved_at or pairing.created_at
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return aware.astimezone(zone(program.timezone)).date()


def pair_excusals(
    program: Program,
    pairing: Pairing,
    mentor: Enrollment | None,
    mentee: Enrollment | None,
    people: tuple[Person | None, ...] = (),
) -> list[list[str]]:
    """Spans that count as nothing for a pair: blackouts, each member's pauses (lifted or still running), the
    days a member's Slack account was deactivated (`people`: the two Person rows), and the days before the
    pairing existed (a pair matched in May has not missed March).

    One rule for the schedule (nudges, missed periods) and the coordinators' meeting rate."""
    spans = list(program.blackouts or [])
    members = {person.slack_user_id: person for person in people if person is not None}
    for enrollment in (mentor, mentee):
        if enrollment is None:
            continue
        pauses = list(enrollment.pause_history or [])
        running = running_pause(enrollment, program.ends_on)
        if running is not None:
            pauses.append(running)
        # A pause's days are the person's own (a Tokyo morning is the evening before in Los Angeles); the
        # periods are the program's: the days are laid on the program's calendar, as a deactivation's are.
        person = members.get(enrollment.person_id)
        spans += [_days_in_program_zone(a, b, person, program) if person is not None else [a, b] for a, b in pauses]
    for person in people:
        spans += deactivation_spans(person, program)
    started_on = pairing_started_on(pairing, program)
    if started_on > program.starts_on:
        spans.append([program.starts_on.isoformat(), (started_on - timedelta(days=1)).isoformat()])
    return spans


def expected_to_meet(program: Program, pairing: Pairing, today: date) -> bool:
    """Whether the pair is asked to meet (nudged, asked "Did you meet?", flagged at risk, shown whether it met):
    once it settled its agreement, or once the date for settling it has passed without one, at the program's
    default cadence (a pair that never settles still has the program's "meet at least monthly", and must not go
    quiet unseen)."""
    if pairing.status == PairingStatus.ACTIVE:
        return True
    return pairing.status == PairingStatus.INTRODUCED and today > agreement_due_on(program, pairing)


def agreement_due_on(program: Program, pairing: Pairing) -> date:
    """The day this pair's agreement is due: the program's date, or a week after the pair was introduced if
    that is later (a pair matched after the program's date must not be told a day already past, nor count
    as overdue at once), never after the program ends. A week that runs into a school break is extended by
    it: the pair gets as many working days as a week holds, none of them in a blackout.

    The one rule for the intro, the reminder, the coordinators' overdue alert and the summary."""
    started_on = pairing_started_on(pairing, program)
    late = started_on + timedelta(days=AGREEMENT_GRACE_DAYS)
    if program.blackouts:  # without a break, a week always holds its working days
        late = max(late, _working_days_after(started_on, program))
    return min(max(program.agreement_due, late), program.ends_on)


def _working_days_after(day: date, program: Program) -> date:
    """The day on which a week's worth of working days (Monday to Friday, outside blackouts) after `day` is
    complete; the program's end if it comes first (a break that runs to the end leaves no more days)."""
    left = AGREEMENT_GRACE_WORKING_DAYS
    while left > 0 and day < program.ends_on:
        day += timedelta(days=1)
        if day.weekday() < 5 and not _in_blackout(day, program.blackouts or []):
            left -= 1
    return day


# -- plan --------------------------------------------------------------------------------------------------
@dataclass
class PlanReport:
    enqueued: list[DeliveryKey] = field(default_factory=list)
    missed: list[tuple[int, str]] = field(default_factory=list)  # (pairing id, period key)
    at_risk: list[int] = field(default_factory=list)
    closed_programs: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PairContext:
    pairing: Pairing
    program: Program
    mentor: Enrollment
    mentee: Enrollment
    mentor_person: Person | None
    mentee_person: Person | None
    agreement: Agreement | None
    met_days: tuple[date, ...] = ()

    @property
    def cadence(self) -> str:
        return settled_cadence(self.agreement, self.program.default_cadence)

    @property
    def after_hours_ok(self) -> bool:
        return after_hours_agreed(self.agreement)

    @property
    def zones(self) -> list[str]:
        return [
            p.timezone if p is not None else self.program.timezone for p in (self.mentee_person, self.mentor_person)
        ]

    @property
    def recipient(self) -> str:
        if self.pairing.conversation_id:
            return self.pairing.conversation_id
        return "users:" + ",".join([self.mentor.person_id, self.mentee.person_id])

    @property
    def paused(self) -> bool:
        return EnrollmentStatus.PAUSED in (self.mentor.status, self.mentee.status)

    @property
    def member_deactivated(self) -> bool:
        """A member's Slack account is deactivated: the pair cannot meet until it is back."""
        return any(p is not None and p.deactivated for p in (self.mentor_person, self.mentee_person))

    @property
    def started_on(self) -> date:
        return pairing_started_on(self.pairing, self.program)

    @property
    def agreement_due(self) -> date:
        return agreement_due_on(self.program, self.pairing)

    def expected_to_meet(self, today: date) -> bool:
        return expected_to_meet(self.program, self.pairing, today)

    def excusals(self) -> list[list[str]]:
        return pair_excusals(
            self.program, self.pairing, self.mentor, self.mentee, (self.mentor_person, self.mentee_person)
        )


@dataclass
class Scope:
    """What a read-only survey found to do: the only part of the plan redone under the write lock.

    A program in `programs` is planned whole (its calendar, digest or wrap-up is due); otherwise only the
    pairings listed for it. The survey's digest summaries are kept so the write pass need not rebuild them.
    """

    programs: set[int] = field(default_factory=set)
    pairings: dict[int, set[int]] = field(default_factory=dict)  # program id -> pairing ids
    digests: dict[int, dict[str, Any]] = field(default_factory=dict)  # program id -> summary payload

    def __bool__(self) -> bool:
        return bool(self.programs or self.pairings)

    def covers(self, program: Program) -> bool:
        return program.id in self.programs or program.id in self.pairings


class Planner:
    """Derives what is owed from the rows. In survey mode it writes nothing and only notes, in `scope`,
    which programs and pairings have something to enqueue or change."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        *,
        scope: Scope | None = None,
        survey: bool = False,
        coordinators: frozenset[str] = frozenset(),
    ) -> None:
        self.session = session
        self.now = now
        self.coordinators = coordinators  # SHELFMATE_ADMINS: they coordinate every program
        self.report = PlanReport()
        self.survey = survey
        self.scope = scope
        self.found = Scope()
        self._about: Pairing | None = None  # the pairing being planned, when the work is that pair's

    def note_work(self, program: Program) -> None:
        program_id = program.id or 0
        if self._about is None or self._about.id is None:
            self.found.programs.add(program_id)
        else:
            self.found.pairings.setdefault(program_id, set()).add(self._about.id)

    def enqueue(
        self,
        key: DeliveryKey,
        recipient: str,
        not_before: datetime,
        payload: dict[str, Any],
        *,
        program: Program,
        pairing: Pairing | None = None,
        zones: list[str] | None = None,
        after_hours_ok: bool = True,
    ) -> None:
        if deliveries.exists(self.session, key):
            return
        if self.survey:
            self.note_work(program)
            return
        # Channel posts (coordinators, announcements) wait for working hours in the program's zone.
        zones = zones or [program.timezone]
        after_hours_ok = after_hours_ok if pairing is not None else False
        due = next_allowed_time(
            max(not_before, self.now), zones, after_hours_ok=after_hours_ok, work_day=WorkDay.of(program)
        )
        created = deliveries.enqueue(
            self.session,
            key,
            recipient=recipient,
            due_at=due,
            payload=payload | {"rehearsal_program": program.name},
            program_id=program.id,
            pairing_id=pairing.id if pairing else None,
            now=self.now,
        )
        if created:
            self.report.enqueued.append(key)

    def coordinator_keys(self, key: DeliveryKey, program: Program) -> list[DeliveryKey]:
        """The ledger keys a coordinators' alert is written under (`queue_coordinator_notice`): its own with an
        admin channel, else one per coordinator DMed."""
        if program.admin_channel:
            return [key]
        people = sorted(program_rules.program_coordinators(program, self.coordinators))
        return [DeliveryKey(key.kind, f"{key.subject}:{person}", key.period) for person in people]

    def tell_coordinators(
        self, key: DeliveryKey, program: Program, not_before: datetime, payload: dict[str, Any]
    ) -> None:
        """An alert for the program's coordinators, once: in its admin channel, or without one by DM to each
        (as the account-gone and profile-change notices go), in working hours in the program's zone."""
        keys = self.coordinator_keys(key, program)
        owed = [k for k in keys if not deliveries.exists(self.session, k)]
        if not owed:
            return
        if self.survey:
            self.note_work(program)
            return
        due = next_allowed_time(
            max(not_before, self.now), [program.timezone], after_hours_ok=False, work_day=WorkDay.of(program)
        )
        program_rules.queue_coordinator_notice(
            self.session,
            program,
            key,
            payload | {"rehearsal_program": program.name},
            due_at=due,
            now=self.now,
            coordinators=self.coordinators,
        )
        self.report.enqueued.extend(owed)

    def today(self, program: Program) -> date:
        return self.now.astimezone(zone(program.timezone)).date()

    # ------------------------------------------------------------------------------------------------
    def run(self) -> PlanReport:
        for program in queries.unclosed_programs(self.session):
            if self.scope is None or self.scope.covers(program):
                self.plan_program(program)
        return self.report

    def plan_program(self, program: Program) -> None:
        today = self.today(program)
        whole = self.scope is None or program.id in self.scope.programs
        only = None if whole or self.scope is None else self.scope.pairings.get(program.id or 0, set())
        if whole:
            self.application_reminder(program, today)
        contexts = self.pair_contexts(program, only)
        for ctx in contexts:
            if ctx.pairing.awaiting_intro():
                with self.about(ctx):
                    self.intro(ctx)
        running = today <= program.ends_on  # once it has ended, nobody is asked for an agreement any more
        for ctx in contexts:
            if running and ctx.pairing.status == PairingStatus.INTRODUCED:
                with self.about(ctx):
                    self.agreement_reminder(ctx, today)
        if whole and running:
            self.agreements_overdue(program, today, contexts)
            self.waitlist_notices(program, today, contexts)
        quiet: list[QuietPair] = []
        for ctx in contexts:
            if ctx.expected_to_meet(today):
                with self.about(ctx):
                    if (flagged := self.meetings(ctx, today)) is not None:
                        quiet.append(flagged)
        if whole:
            self.at_risk_alert(program, today, quiet)
            self.digest(program)
            if today > program.ends_on:
                self.wrap_up(program, contexts)

    @contextmanager
    def about(self, ctx: PairContext) -> Iterator[None]:
        self._about = ctx.pairing
        try:
            yield
        finally:
            self._about = None

    def pair_contexts(self, program: Program, only: set[int] | None = None) -> list[PairContext]:
        """Every live pairing (or those in `only`) with what planning needs, loaded in a handful of queries
        (not a few per pair: the write pass holds SQLite's write lock, and requests wait for it)."""
        pairings = queries.pairings_in_program(
            self.session,
            program.id,  # type: ignore[arg-type]
            [PairingStatus.PROPOSED, PairingStatus.INTRODUCED, PairingStatus.ACTIVE],
            ids=sorted(only) if only is not None else None,
        )
        if not pairings:
            return []
        if only is None:
            enrollments = {e.id: e for e in queries.enrollments_in_program(self.session, program.id)}  # type: ignore[arg-type]
        else:
            wanted = {e for p in pairings for e in (p.mentor_enrollment_id, p.mentee_enrollment_id)}
            enrollments = queries.enrollments_by_id(self.session, sorted(wanted))  # type: ignore[assignment]
        people = queries.people(self.session, sorted({e.person_id for e in enrollments.values()}))
        pairing_ids = [p.id for p in pairings if p.id is not None]
        agreements = queries.agreements_for_pairings(self.session, pairing_ids)
        meetings = queries.checkin_days_by_pairing(self.session, pairing_ids)
        out = []
        for pairing in pairings:
            mentor = enrollments.get(pairing.mentor_enrollment_id)
            mentee = enrollments.get(pairing.mentee_enrollment_id)
            if mentor is None or mentee is None:
                continue
            out.append(
                PairContext(
                    pairing=pairing,
                    program=program,
                    mentor=mentor,
                    mentee=mentee,
                    mentor_person=people.get(mentor.person_id),
                    mentee_person=people.get(mentee.person_id),
                    agreement=agreements.get(pairing.id),  # type: ignore[arg-type]
                    met_days=tuple(meetings.get(pairing.id, ())),  # type: ignore[arg-type]
                )
            )
        return out

    # -- calendar ------------------------------------------------------------------------------------
    def application_reminder(self, program: Program, today: date) -> None:
        """Before the deadline: the eligibility channel hears it, or each invited person who has not applied
        (an allowlist program has no channel to post in), or else the coordinators, who can pass it on."""
        remind_on = program.applications_close - timedelta(days=APPLICATION_REMINDER_DAYS)
        if not remind_on <= today <= program.applications_close:
            return
        closes = program.applications_close.isoformat()
        payload = {"program": program.name, "closes": closes, "timezone": program.timezone}
        if program.eligibility == "allowlist" and not program.eligibility_channel:
            applied = {e.person_id for e in queries.enrollments_in_program(self.session, program.id)}  # type: ignore[arg-type]
            invited = sorted(set(program.eligibility_allowlist or []) - applied)
            targets = [(f"person:{user_id}:program:{program.id}", user_id) for user_id in invited]
        else:
            channel = program.eligibility_channel or program.admin_channel
            targets = [(f"program:{program.id}", channel)] if channel else []
        for subject, recipient in targets:
            self.enqueue(
                DeliveryKey("applications_closing", subject, closes),
                recipient,
                work_day_start(program, today),
                payload,
                program=program,
            )

    def intro(self, ctx: PairContext) -> None:
        program = ctx.program

        def profile(e: Enrollment, p: Person | None) -> dict[str, Any]:
            return {
                "id": e.person_id,
                "role": e.role,
                "organization": e.organization,
                "library_type": e.library_type,
                "specializations": [specialization_label(s) for s in e.specializations],
                "timezone": p.timezone if p else program.timezone,
                "goals": e.goals[:500],
                "years": e.years_experience,
            }

        today_iso = self.today(program).isoformat()
        self.enqueue(
            DeliveryKey("intro", f"pairing:{ctx.pairing.id}", "-"),
            "users:" + ",".join([ctx.mentor.person_id, ctx.mentee.person_id]),
            self.now,
            {
                "pairing_id": ctx.pairing.id,
                "program": program.name,
                "mentor": profile(ctx.mentor, ctx.mentor_person),
                "mentee": profile(ctx.mentee, ctx.mentee_person),
                # Strengths say why they were matched; concerns (a specialization the mentor does not coach,
                # say) are worth raising early rather than hidden from the pair.
                "reasons": split_reasons(ctx.pairing.reasons)[0][:4],
                "talk_about": [c.removeprefix(CONCERN_MARK) for c in split_reasons(ctx.pairing.reasons)[1]],
                "agreement_due": ctx.agreement_due.isoformat(),
                "starts_on": program.starts_on.isoformat(),
                "ends_on": program.ends_on.isoformat(),
                "cadence": program.default_cadence,
                # What "work hours" means in the questions they settle: the program's work day.
                "work_hours": WorkDay.of(program).words,
                # The school breaks still ahead: the pair should know no reminders come then, and that they
                # need not find a meeting over winter break.
                "breaks": [[a, b] for a, b in program.blackouts or [] if b >= today_iso],
            },
            program=program,
            pairing=ctx.pairing,
            zones=ctx.zones,
            after_hours_ok=False,
        )

    def agreement_reminder(self, ctx: PairContext, today: date) -> None:
        program = ctx.program
        due = ctx.agreement_due
        if not due - timedelta(days=AGREEMENT_REMINDER_DAYS) <= today <= due:
            return
        if agreement_reminder_not_owed(ctx, today) is not None:
            return
        self.enqueue(
            DeliveryKey(AGREEMENT_REMINDER, f"pairing:{ctx.pairing.id}", due.isoformat()),
            ctx.recipient,
            work_day_start(program, today),
            {"program": program.name, "agreement_due": due.isoformat(), "pairing_id": ctx.pairing.id},
            program=program,
            pairing=ctx.pairing,
            zones=ctx.zones,
            after_hours_ok=ctx.after_hours_ok,
        )

    def agreements_overdue(self, program: Program, today: date, contexts: list[PairContext]) -> None:
        """One alert each time a pair's agreement date passes unsettled, listing every pair then overdue.

        Keyed by the latest of their dates: a pair introduced late is reported when its own date passes, and
        pairs due on the program's date keep the key they always had.

        A pair with a deactivated member is left out: it cannot settle anything until the account is back (its
        reminder waits too), and the coordinators were told of the account, with a Dissolve button, by its own
        alert; listing it here again would ask them to chase a pair about an agreement it cannot make."""
        overdue = [
            c
            for c in contexts
            if c.pairing.status == PairingStatus.INTRODUCED and today > c.agreement_due and not c.member_deactivated
        ]
        if not overdue:
            return
        latest = max(c.agreement_due for c in overdue)
        self.tell_coordinators(
            DeliveryKey("agreement_overdue", f"program:{program.id}", latest.isoformat()),
            program,
            work_day_start(program, today),
            {
                "program": program.name,
                "agreement_due": latest.isoformat(),
                "pairs": [[c.mentor.person_id, c.mentee.person_id, c.agreement_due.isoformat()] for c in overdue],
            },
        )

    # -- meetings ------------------------------------------------------------------------------------
    def meetings(self, ctx: PairContext, today: date) -> QuietPair | None:
        """Flag the pair at risk (or no longer) and plan its reminder; the pair when it has gone quiet, for
        the program's one at-risk alert (`at_risk_alert`)."""
        program = ctx.program
        if not program.starts_on <= today <= program.ends_on:
            return None
        met_days = list(ctx.met_days)
        periods = periods_until(program, ctx.cadence, today)
        record = meeting_record(program, ctx.cadence, met_days, ctx.excusals(), today)
        self.report.missed.extend((ctx.pairing.id or 0, key) for key in record.missed)
        at_risk = record.missed_in_a_row >= AT_RISK_MISSED
        newly_flagged = at_risk and not ctx.pairing.at_risk
        if at_risk != ctx.pairing.at_risk:
            if self.survey:
                self.note_work(program)
            else:
                ctx.pairing.at_risk = at_risk
                self.session.add(ctx.pairing)
        quiet = None
        if at_risk and record.last_missed_end is not None:
            self.report.at_risk.append(ctx.pairing.id or 0)
            quiet = QuietPair(
                ctx.mentor.person_id,
                ctx.mentee.person_id,
                record.missed_in_a_row,
                max(met_days) if met_days else None,
                record.last_missed_end,
                ctx.pairing.id or 0,
                newly_flagged,
            )

        # The current period: a nudge at its middle, "Did you meet?" near its end.
        current = periods[-1]
        if reminder_not_owed(ctx, current, today) is not None:
            return quiet
        common = {
            "program": program.name,
            "pairing_id": ctx.pairing.id,
            "period_end": current.end.isoformat(),
            "cadence": ctx.cadence,
            "mentor": ctx.mentor.person_id,
            "mentee": ctx.mentee.person_id,
        }
        if ctx.pairing.status == PairingStatus.INTRODUCED:  # asked to meet though its agreement date passed
            common["agreement_due"] = ctx.agreement_due.isoformat()
        ask_day = current.ask_day_outside(program.blackouts or [])
        if ask_day is not None and today >= ask_day:
            kind = "did_you_meet"
            day = ask_day
        elif today >= current.middle:
            kind = "nudge"
            day = current.middle
        else:
            return quiet
        self.enqueue(
            DeliveryKey(kind, f"pairing:{ctx.pairing.id}", current.key),
            ctx.recipient,
            work_day_start(program, day),
            common,
            program=program,
            pairing=ctx.pairing,
            zones=ctx.zones,
            after_hours_ok=ctx.after_hours_ok,
        )
        return quiet

    def at_risk_alert(self, program: Program, today: date, quiet: list[QuietPair]) -> None:
        """One admin-channel alert listing every pair then at risk: when a pair newly goes quiet, and about pairs
        still quiet once a month (when the latest period they missed ends in a later month than the last
        alert's). A pair meeting weekly or every two weeks would otherwise bring an alert every period on top
        of the weekly digest, which lists them anyway; a monthly pair is re-announced each month as before.

        Keyed by the latest end of the periods they missed (a date: pairs on weekly and monthly cadences
        compare), as the overdue-agreement alert is: 70 pairs quiet since April are one post, not 70. A pair
        newly flagged in a month already alerted makes its own key, the date and a short hash of the ids newly
        flagged, so it is reported once (an agreement settled late counts the months before it; an account
        back shortens its excused span). An admin channel that refuses it passes it to the coordinators by DM,
        as every admin alert does (the delivery ledger's copy to coordinators)."""
        if not quiet:
            return
        latest = max(q.last_missed_end for q in quiet)
        period = latest.isoformat()
        keys = self.coordinator_keys(DeliveryKey("at_risk", f"program:{program.id}", period), program)
        alerted = [
            date.fromisoformat(sent.period[:10])
            for key in keys
            for sent in deliveries.keys_about(self.session, "at_risk", key.subject)
        ]
        if alerted and (latest.year, latest.month) <= (max(alerted).year, max(alerted).month):
            newly_flagged = sorted(q.pairing_id for q in quiet if q.newly_flagged)
            if not newly_flagged:
                return
            period = f"{period}~{_short_hash(newly_flagged)}"
        # The quietest first: those that missed the most periods, then those who have not met for longest.
        ordered = sorted(quiet, key=lambda q: (-q.missed, q.last_met or date.min, q.mentor, q.mentee))
        self.tell_coordinators(
            DeliveryKey("at_risk", f"program:{program.id}", period),
            program,
            work_day_start(program, today),
            {
                "program": program.name,
                "pairs": [
                    [q.mentor, q.mentee, q.missed, q.last_met.isoformat() if q.last_met else None] for q in ordered
                ],
            },
        )

    def digest(self, program: Program) -> None:
        """The weekly summary, on the program's day and hour in its own time zone, once per ISO week."""
        if not program.admin_channel:
            return
        local = self.now.astimezone(zone(program.timezone))
        if local.weekday() != program.digest_weekday or local.hour < program.digest_hour:
            return
        if local.date() < (program.applications_open or program.applications_close) or local.date() > program.ends_on:
            return
        year, week, _ = local.isocalendar()
        key = DeliveryKey("digest", f"program:{program.id}", f"{year}-W{week:02d}")
        if deliveries.exists(self.session, key):
            return
        from bot.services.reports import summarize

        summary = self.scope.digests.get(program.id or 0) if self.scope is not None else None
        if summary is None:
            summary = summarize(self.session, program, self.now).as_payload()
        if self.survey:
            self.found.digests[program.id or 0] = summary
        self.enqueue(
            key,
            program.admin_channel,
            self.now,
            {"summary": summary},
            program=program,
            after_hours_ok=True,
        )

    # -- the end ---------------------------------------------------------------------------------------
    def wrap_up(self, program: Program, contexts: list[PairContext]) -> None:
        if self.survey:
            self.note_work(program)
            return
        for ctx in contexts:
            if ctx.pairing.is_running():
                self.enqueue(
                    DeliveryKey("wrapup", f"pairing:{ctx.pairing.id}", program.ends_on.isoformat()),
                    ctx.recipient,
                    self.now,
                    {"program": program.name, "pairing_id": ctx.pairing.id},
                    program=program,
                    pairing=ctx.pairing,
                    zones=ctx.zones,
                    after_hours_ok=ctx.after_hours_ok,
                )
                ctx.pairing.status = PairingStatus.ENDED
                ctx.pairing.ended_at = self.now
                ctx.pairing.end_reason = PROGRAM_ENDED_REASON
                self.session.add(ctx.pairing)
            elif ctx.pairing.awaiting_intro():
                # Approved, its intro still waiting for quiet hours (and dropped now): it ends like the others,
                # without a wrap-up, since the two were never introduced (and so cannot log meetings late).
                ctx.pairing.status = PairingStatus.ENDED
                ctx.pairing.ended_at = self.now
                ctx.pairing.end_reason = ENDED_BEFORE_INTRO_REASON
                self.session.add(ctx.pairing)
            elif ctx.pairing.status == PairingStatus.PROPOSED:
                ctx.pairing.status = PairingStatus.DISSOLVED
                ctx.pairing.ended_at = self.now
                ctx.pairing.end_reason = "The program ended before this proposal was approved."
                self.session.add(ctx.pairing)
        self.never_matched_notices(program)
        program.closed_at = self.now
        self.session.add(program)
        self.report.closed_programs.append(program.id or 0)

    def waitlist_notices(self, program: Program, today: date, contexts: list[PairContext]) -> None:
        """Each mentee the matching left waiting hears it once, when the round is over: the deadline passed and
        the coordinators approved pairs and decided every proposal. Until then the waitlist is a draft (a
        preview run early marks people waitlisted who a later one may match), and after it nothing told them."""
        deadline_passed = program_rules.waitlist_is_final(program, today)
        decided = bool(contexts) and not any(c.pairing.is_draft() for c in contexts)
        if not (deadline_passed and decided):
            return
        told = {key.period for key in deliveries.keys_about(self.session, WAITLISTED, f"program:{program.id}")}
        waiting = {
            e.person_id: e
            for e in queries.waitlisted_in_program(self.session, program.id)  # type: ignore[arg-type]
            if e.person_id not in told
        }
        for person_id in self.still_in_workspace(waiting):
            self.enqueue(
                DeliveryKey(WAITLISTED, f"program:{program.id}", person_id),
                person_id,
                self.now,
                {"program": program.name, "enrollment_id": waiting[person_id].id},
                program=program,
            )

    def still_in_workspace(self, person_ids: Iterable[str]) -> list[str]:
        """These people, sorted, less those whose Slack account is gone: there is nobody to tell."""
        ids = sorted(set(person_ids))
        people = queries.people(self.session, ids)
        return [p for p in ids if not (p in people and people[p].deactivated)]

    def never_matched_notices(self, program: Program) -> None:
        """Everyone still waiting when the program ends (waitlisted, or applied and never matched) hears it once:
        they were told "you'll hear from me when you're matched", and nothing else would ever tell them."""
        waiting = [
            e.person_id
            for e in queries.enrollments_in_program(self.session, program.id)  # type: ignore[arg-type]
            if e.status in (EnrollmentStatus.WAITLISTED, EnrollmentStatus.APPLIED)
        ]
        for person_id in self.still_in_workspace(waiting):
            self.enqueue(
                DeliveryKey(NEVER_MATCHED, f"person:{person_id}:program:{program.id}", program.ends_on.isoformat()),
                person_id,
                self.now,
                {"program": program.name, "ended_on": program.ends_on.isoformat()},
                program=program,
            )


def _in_blackout(day: date, blackouts: list[list[str]]) -> bool:
    return any(date.fromisoformat(a) <= day <= date.fromisoformat(b) for a, b in blackouts or [])


# Why a reminder waits rather than lapses: a pause or a school break ends, a deactivated account comes back, and
# the reminder is owed again then (if its period or agreement date has not passed meanwhile: the check at each
# send drops it for good then).
MEMBER_PAUSED = "a member is paused"
MEMBER_DEACTIVATED = "a member's Slack account is deactivated"
IN_BLACKOUT = "today is in a blackout"
WAIT_REASONS = frozenset({MEMBER_PAUSED, MEMBER_DEACTIVATED, IN_BLACKOUT})


def reminder_not_owed(ctx: PairContext, period: Period, today: date) -> str | None:
    """Why a nudge or "Did you meet?" about `period` is not owed to this pair today; None when it is.

    One rule for planning a reminder and for sending it: a reminder that waited in the ledger goes out only
    if it would still be planned now.
    """
    # Reasons for good first, then the ones that pass (WAIT_REASONS): a paused pair whose period is over is done.
    if not ctx.expected_to_meet(today):
        return f"the pairing is {ctx.pairing.status}"
    if today > period.end:
        return "the period is over"
    if excused(period, ctx.excusals()):
        return "the period is excused"
    if any(period.start <= d <= period.end for d in ctx.met_days):
        return "the pair met in the period"
    return pair_away(ctx, today)


def pair_away(ctx: PairContext, today: date) -> str | None:
    """Why the pair cannot be asked anything today though nothing is over (a member paused or deactivated, a
    school break): the reminder waits rather than lapses. One rule for the meeting and agreement reminders."""
    if ctx.paused:
        return MEMBER_PAUSED
    if ctx.member_deactivated:
        return MEMBER_DEACTIVATED
    if _in_blackout(today, ctx.program.blackouts):
        return IN_BLACKOUT
    return None


@dataclass(frozen=True)
class QuietPair:
    """A pair the sweep found at risk, as the coordinators' alert lists it."""

    mentor: str
    mentee: str
    missed: int  # periods missed in a row
    last_met: date | None
    last_missed_end: date
    pairing_id: int
    newly_flagged: bool  # at risk in this sweep and not before it


def _short_hash(pairing_ids: list[int]) -> str:
    """Eight hex digits naming a set of pairings, short enough for a ledger key's period (32 characters)."""
    return hashlib.sha256(",".join(str(i) for i in sorted(pairing_ids)).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class MeetingRecord:
    """A pair's meeting history as the schedule judges it: what it missed, and whether it has gone quiet."""

    missed: list[str]  # keys of the completed periods the pair missed, oldest first
    missed_in_a_row: int  # missed periods since the pair last met (0 once it meets again, this period too)
    last_missed_end: date | None  # the last day of the last period missed, while the streak lasts


def meeting_record(
    program: Program, cadence: str, met_days: list[date], excusals: list[list[str]], today: date
) -> MeetingRecord:
    """Which completed periods a pair missed, and how many in a row it has gone quiet for.

    A period counts only if it is not excused and the pair could be asked "Did you meet?" in it (a working day
    outside the breaks). A meeting in the current period ends the quiet streak at once: a pair that met again
    is not quiet, even before its period is over. One rule for the schedule's at-risk flag and the summary.
    """
    periods = periods_until(program, cadence, today)
    missed: list[Period] = []
    streak = 0
    for period in periods[:-1]:
        if excused(period, excusals) or not askable(period, program.blackouts or []):
            continue
        if any(period.start <= d <= period.end for d in met_days):
            streak = 0
        else:
            streak += 1
            missed.append(period)
    if met_this_period(program, cadence, met_days, today):
        streak = 0
    last = missed[-1] if streak and missed else None
    return MeetingRecord([p.key for p in missed], streak, last.end if last else None)


def met_this_period(program: Program, cadence: str, met_days: list[date], today: date) -> bool:
    """Whether the pair met in the period `today` is in: a pair flagged quiet that did is quiet no more."""
    current = period_containing(program, cadence, min(max(today, program.starts_on), program.ends_on))
    return any(d >= current.start for d in met_days)


def askable(period: Period, blackouts: list[list[str]]) -> bool:
    """Whether the pair could be asked "Did you meet?" in `period`: one it could not is never counted missed."""
    return period.ask_day_outside(blackouts) is not None


def agreement_reminder_not_owed(ctx: PairContext, today: date) -> str | None:
    """Why a reminder to settle the agreement is not owed to this pair today; None when it is.

    One rule for planning it and for sending it: it may wait in the ledger for quiet hours, and the pair may
    settle (or a member pause, or the pairing end) meanwhile.
    """
    if ctx.pairing.status != PairingStatus.INTRODUCED:
        return "the agreement is settled" if ctx.pairing.status == PairingStatus.ACTIVE else "the pair is not waiting"
    if today > ctx.program.ends_on:
        return "the program has ended"
    if today > ctx.agreement_due:
        return "the agreement date has passed"
    return pair_away(ctx, today)


def lapsed_reminders(session: Session, owed: list[Delivery], now: datetime) -> dict[int, str]:
    """The reminders in `owed` that no longer apply as they are about to go out, by delivery id, with why.

    Between planning and sending, the pair may log the meeting or settle the agreement, a member may pause,
    the period may end, or the pairing may end: a "did you meet?" then would be wrong. An intro is in the
    answer once its program has ended or its pairing was dissolved; other kinds of message never are. A
    handful of queries per program, not per reminder: this runs under the write lock of a claimed batch.
    """
    by_program: dict[int, list[Delivery]] = {}
    lapsed: dict[int, str] = {}
    for delivery in owed:
        if delivery.kind == WAITLISTED and delivery.id is not None:
            # Matched (or gone) since it was planned: "you're on the waitlist" would now be wrong.
            enrollment = queries.enrollment(session, int(delivery.payload.get("enrollment_id") or 0))
            if enrollment is None or enrollment.status != EnrollmentStatus.WAITLISTED:
                lapsed[delivery.id] = "the mentee is no longer on the waitlist"
            continue
        rechecked = delivery.kind in REMINDER_KINDS or delivery.kind in (AGREEMENT_REMINDER, "intro")
        if not rechecked or delivery.pairing_id is None or delivery.id is None:
            continue
        pairing = queries.pairing(session, delivery.pairing_id)
        if pairing is None:
            lapsed[delivery.id] = "the pairing is gone"
        else:
            by_program.setdefault(pairing.program_id, []).append(delivery)
    for program_id, reminders in by_program.items():
        program = queries.program_by_id(session, program_id)
        if program is None:
            lapsed.update((d.id, "the program is gone") for d in reminders if d.id is not None)
            continue
        planner = Planner(session, now)
        today = planner.today(program)
        live = {c.pairing.id: c for c in planner.pair_contexts(program, {d.pairing_id or 0 for d in reminders})}
        ended = today > program.ends_on or program.closed_at is not None
        for delivery in reminders:
            assert delivery.id is not None and delivery.pairing_id is not None
            ctx = live.get(delivery.pairing_id)
            if delivery.kind == "intro":
                # Held for quiet hours past the program's last day: nothing is left to start. Held while a
                # coordinator dissolved the pairing (unpaired, or a member left): there is nobody to introduce.
                if ended:
                    lapsed[delivery.id] = "the program has ended"
                elif ctx is None:
                    lapsed[delivery.id] = "the pairing was dissolved before its intro went out"
                continue
            if ctx is None:  # ended, dissolved, or an enrollment is gone
                lapsed[delivery.id] = "the pairing is no longer live"
                continue
            if delivery.kind == AGREEMENT_REMINDER:
                reason = agreement_reminder_not_owed(ctx, today)
            else:
                reason = reminder_not_owed(ctx, _reminder_period(ctx, delivery.payload, today), today)
            if reason is not None:
                lapsed[delivery.id] = reason
    return lapsed


def _reminder_period(ctx: PairContext, payload: dict[str, Any], today: date) -> Period:
    """The period a reminder asks about, from its payload (the cadence it was planned under, which a changed
    agreement does not rewrite); the current one if the payload does not say."""
    try:
        return period_containing(ctx.program, str(payload["cadence"]), date.fromisoformat(str(payload["period_end"])))
    except (KeyError, ValueError):
        return period_containing(ctx.program, ctx.cadence, today)


def survey(session: Session, now: datetime, coordinators: frozenset[str] = frozenset()) -> Scope:
    """Read-only: which programs and pairings have something to plan now.

    The scheduler surveys in a read transaction, then plans only what the survey found in a write one: on
    SQLite the write lock is then held for milliseconds instead of a whole pass over every pairing."""
    planner = Planner(session, now, survey=True, coordinators=coordinators)
    planner.run()
    return planner.found


def plan(
    session: Session, now: datetime, *, scope: Scope | None = None, coordinators: frozenset[str] = frozenset()
) -> PlanReport:
    """Enqueue what is owed: everything, or only what `scope` (from `survey`) names. `coordinators`
    (SHELFMATE_ADMINS) are DMed the alerts of a program without an admin channel, with its own admins."""
    return Planner(session, now, scope=scope, coordinators=coordinators).run()


# -- after a delivery is sent ------------------------------------------------------------------------------
def on_sent(session: Session, kind: str, pairing_id: int | None, channel_id: str, now: datetime) -> None:
    """State that changes because a message went out: an intro makes a pairing `introduced`."""
    if pairing_id is None:
        return
    pairing = queries.pairing(session, pairing_id)
    if pairing is None:
        return
    if not pairing.conversation_id and channel_id:
        pairing.conversation_id = channel_id
    if kind == "intro" and pairing.status == PairingStatus.PROPOSED:
        pairing.status = PairingStatus.INTRODUCED
    session.add(pairing)


class AskAgain(StrEnum):
    """What "Not yet" did, so the pair is told the truth about a second "Did you meet?"."""

    QUEUED = "queued"  # now, or by an earlier click, and still to come
    PERIOD_ENDING = "period_ending"  # no working day left after today to ask on
    ALREADY_ASKED = "already_asked"  # the one second ask of this period has gone out (or lapsed)
    NOT_ACTIVE = "not_active"


@dataclass(frozen=True)
class AskedAgain:
    """What "Not yet" did, and the pair's cadence: the answer names their own stretch ("these two weeks")."""

    outcome: AskAgain
    cadence: str | None = None


def ask_again(session: Session, pairing_id: int, now: datetime) -> AskedAgain:
    """ "Not yet": ask "Did you meet?" once more in a few days, still within the period."""
    pairing = queries.pairing(session, pairing_id)
    program = queries.program_by_id(session, pairing.program_id) if pairing else None
    if pairing is None or program is None or pairing.status != PairingStatus.ACTIVE:
        return AskedAgain(AskAgain.NOT_ACTIVE)
    agreement = queries.agreement_for(session, pairing_id)
    cadence = settled_cadence(agreement, program.default_cadence)
    today = now.astimezone(zone(program.timezone)).date()
    current = period_containing(program, cadence, today)
    members = queries.pair_members(session, pairing)
    if members is None:
        return AskedAgain(AskAgain.NOT_ACTIVE)
    people = queries.people(session, list(members))
    zones = [people[m].timezone if m in people else program.timezone for m in reversed(members)]
    # A few days on, but by the period's last working day: a later ask would wait past the period's end (and
    # one on that very day would come at once, right after "Not yet").
    last_working = current.last_working_day(current.end)
    ask_on = min(today + timedelta(days=ASK_AGAIN_DAYS), last_working or today)
    if ask_on <= today:
        return AskedAgain(AskAgain.PERIOD_ENDING, cadence)
    key = DeliveryKey("did_you_meet_again", f"pairing:{pairing_id}", current.key)
    created = deliveries.enqueue(
        session,
        key,
        recipient=pairing.conversation_id or "users:" + ",".join(members),
        due_at=next_allowed_time(
            max(work_day_start(program, ask_on), now),
            zones,
            after_hours_ok=after_hours_agreed(agreement),
            work_day=WorkDay.of(program),
        ),
        payload={
            "program": program.name,
            "pairing_id": pairing_id,
            "period_end": current.end.isoformat(),
            "cadence": cadence,
            "mentor": members[0],
            "mentee": members[1],
            "rehearsal_program": program.name,
        },
        program_id=program.id,
        pairing_id=pairing_id,
        now=now,
    )
    if created or deliveries.due_later(session, key, now) is not None:
        return AskedAgain(AskAgain.QUEUED, cadence)
    return AskedAgain(AskAgain.ALREADY_ASKED, cadence)


def request_help(session: Session, pairing_id: int, user_id: str, now: datetime) -> bool:
    """ "We need help": the program's coordinators hear about it (once per pair per day)."""
    pairing = queries.pairing(session, pairing_id)
    program = queries.program_by_id(session, pairing.program_id) if pairing else None
    members = queries.pair_members(session, pairing) if pairing else None
    if pairing is None or program is None or members is None or user_id not in members:
        return False
    if not program.admin_channel:
        return False
    return deliveries.enqueue(
        session,
        DeliveryKey("help_request", f"pairing:{pairing_id}", now.date().isoformat()),
        recipient=program.admin_channel,
        due_at=now,
        payload={
            "program": program.name,
            "requester": user_id,
            "mentor": members[0],
            "mentee": members[1],
            "rehearsal_program": program.name,
        },
        program_id=program.id,
        pairing_id=pairing_id,
        now=now,
    )

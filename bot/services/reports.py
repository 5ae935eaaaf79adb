"""Program summaries and exports for coordinators: counts, rates and names, never private notes."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session

from bot.services import programs as program_rules
from bot.services.agreements import settled_cadence
from bot.services.catalog import specialization_label, unreachable_label
from bot.services.csv_files import SpreadsheetCsv
from bot.services.schedule import (
    agreement_due_on,
    askable,
    excused,
    met_this_period,
    pair_excusals,
    period_containing,
    zone,
)
from storage import queries
from storage.models import (
    LIVE_PAIRING_STATUSES,
    CheckIn,
    Enrollment,
    EnrollmentStatus,
    Pairing,
    PairingStatus,
    Person,
    Program,
    Role,
)

EXPORT_KINDS = ("participants", "pairings", "checkins", "hours")
# A running pair can be flagged quiet whether or not it settled its agreement: the schedule asks one that let its
# agreement date pass to meet all the same (`PairContext.expected_to_meet`).
QUIET_STATUSES = (PairingStatus.ACTIVE, PairingStatus.INTRODUCED)


@dataclass(frozen=True)
class MonthRate:
    month: str  # YYYY-MM
    # Pairs together at some point in the month (introduced, active, or ended/dissolved later): introduced
    # pairs may log meetings before settling their agreement, so leaving them out undercounts who met. A pair
    # for whom the month is excused (a member paused most of it, or it was mostly before they were matched)
    # is expected to meet in it no more than in a blackout month: it counts only if it met anyway.
    live_pairs: int
    pairs_met: int
    checkins: int

    @property
    def rate(self) -> float:
        return self.pairs_met / self.live_pairs if self.live_pairs else 0.0


@dataclass(frozen=True)
class SurveyResults:
    """The wrap-up survey in totals. The survey told people their answers help coordinators plan the next
    cycle, not that anyone reads one person's answers, so only totals are shown (it has no free-text question)."""

    pairs_asked: int  # pairings that ended with the program, each sent the survey
    pairs_answered: int
    people_answered: int
    average_satisfaction: float | None  # 1-5
    would_continue: int  # people who would like to keep meeting
    still_in_libraries: int


@dataclass
class ProgramSummary:
    program_id: int
    program_name: str
    today: date
    days_left: int
    participants: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> status -> n
    # (specialization, mentees waiting for it, mentor places still needed after the open places are used)
    waitlist_by_specialization: list[tuple[str, int, int]] = field(default_factory=list)
    pairings: dict[str, int] = field(default_factory=dict)
    # Proposed pairs no coordinator has approved yet (a proposed pairing that is approved waits for its intro).
    proposals_awaiting_approval: int = 0
    agreements_pending: int = 0
    agreements_overdue: int = 0
    months: list[MonthRate] = field(default_factory=list)
    at_risk: list[tuple[str, str, int | None]] = field(default_factory=list)  # mentor, mentee, days since met
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # person id, reason
    average_rating: float | None = None
    total_hours: float = 0.0
    checkins: int = 0
    # Before the run starts its days left say little (166 in January): the summary gives the start date instead.
    starts_on: date | None = None
    # Set once the program's run is over: its figures are final, and there is no "this month" or days left.
    ended_on: date | None = None
    survey: SurveyResults | None = None
    # While applications are open (until this day) a preview's waitlist is a draft: those it left out are told
    # that matching happens after the deadline, and the coordinator reads the waitlist as not final.
    waitlist_draft_until: date | None = None

    @property
    def this_month(self) -> MonthRate | None:
        """The current month's figures (the last month's once the program ended); None before the start and
        in a school break, which has no figures: the month before the break is not this month."""
        if not self.months:
            return None
        latest = self.months[-1]
        if self.ended_on is None and latest.month != f"{self.today:%Y-%m}":
            return None
        return latest

    @property
    def in_break(self) -> bool:
        """The program runs, but this month is mostly a blackout, which the meeting rates do not count."""
        return bool(self.months) and self.ended_on is None and self.this_month is None

    def as_payload(self) -> dict[str, Any]:
        """A JSON-safe copy, stored in a digest Delivery and rendered when it is sent."""
        return {
            "program_id": self.program_id,
            "program_name": self.program_name,
            "today": self.today.isoformat(),
            "days_left": self.days_left,
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "participants": self.participants,
            "waitlist_by_specialization": self.waitlist_by_specialization,
            "pairings": self.pairings,
            "proposals_awaiting_approval": self.proposals_awaiting_approval,
            "agreements_pending": self.agreements_pending,
            "agreements_overdue": self.agreements_overdue,
            "months": [[m.month, m.live_pairs, m.pairs_met, m.checkins] for m in self.months],
            "at_risk": self.at_risk,
            "unreachable": self.unreachable,
            "average_rating": self.average_rating,
            "total_hours": self.total_hours,
            "checkins": self.checkins,
            "ended_on": self.ended_on.isoformat() if self.ended_on else None,
            "survey": asdict(self.survey) if self.survey else None,
            "waitlist_draft_until": self.waitlist_draft_until.isoformat() if self.waitlist_draft_until else None,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ProgramSummary:
        summary = cls(
            program_id=data["program_id"],
            program_name=data["program_name"],
            today=date.fromisoformat(data["today"]),
            days_left=data["days_left"],
            # Digests queued before this was added hold none.
            starts_on=date.fromisoformat(data["starts_on"]) if data.get("starts_on") else None,
        )
        summary.participants = data["participants"]
        # Digests queued before shortages were computed hold (specialization, waiting) only.
        summary.waitlist_by_specialization = [
            (str(x[0]), int(x[1]), int(x[2] if len(x) > 2 else x[1])) for x in data["waitlist_by_specialization"]
        ]
        summary.pairings = data["pairings"]
        summary.proposals_awaiting_approval = data.get("proposals_awaiting_approval", 0)  # absent from older digests
        summary.agreements_pending = data["agreements_pending"]
        summary.agreements_overdue = data["agreements_overdue"]
        summary.months = [MonthRate(*m) for m in data["months"]]
        summary.at_risk = [tuple(x) for x in data["at_risk"]]  # type: ignore[misc]
        summary.unreachable = [tuple(x) for x in data["unreachable"]]  # type: ignore[misc]
        summary.average_rating = data["average_rating"]
        summary.total_hours = data["total_hours"]
        summary.checkins = data["checkins"]
        # Digests queued before these were added hold neither.
        summary.ended_on = date.fromisoformat(data["ended_on"]) if data.get("ended_on") else None
        summary.survey = SurveyResults(**data["survey"]) if data.get("survey") else None
        draft_until = data.get("waitlist_draft_until")  # absent from older digests
        summary.waitlist_draft_until = date.fromisoformat(draft_until) if draft_until else None
        return summary


def _months_between(first: date, last: date) -> list[date]:
    months, cursor = [], first.replace(day=1)
    while cursor <= last:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _local_day(moment: datetime, program: Program) -> date:
    """A stored moment as the program's calendar day (SQLite hands back naive UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(program.timezone)).date()


def _live_during(pairing: Pairing, program: Program, first: date, last: date) -> bool:
    """Whether a pair was together at some point between `first` and `last`, so was expected to meet.

    A dissolved pairing never approved was a rejected or dropped proposal, never a pair; a pairing without an
    approval time (rows from before it was recorded) counts from the start.
    """
    if pairing.status == PairingStatus.PROPOSED:
        return False  # not introduced yet (even when approved): the two do not know of each other
    if pairing.status == PairingStatus.DISSOLVED and pairing.approved_at is None:
        return False
    if pairing.approved_at is not None and _local_day(pairing.approved_at, program) > last:
        return False
    if pairing.status in (PairingStatus.ENDED, PairingStatus.DISSOLVED) and pairing.ended_at is not None:
        return _local_day(pairing.ended_at, program) >= first
    return True


def _unreachable(person: Person | None) -> str:
    """Why the bot cannot message someone ("" when it can): the summary's "Can't reach" list, in full."""
    if person is None:
        return ""
    return person.unreachable_reason or ("deactivated" if person.deactivated else "")


def _unreachable_label(person: Person | None) -> str:
    """The export's words for it, the summary's ("account deactivated"), not Slack's code ("account_inactive")."""
    reason = _unreachable(person)
    return unreachable_label(reason) if reason else ""


def shortages(enrollments: list[Enrollment], pairings: list[Pairing]) -> list[tuple[str, int, int]]:
    """Waiting mentees per specialization, and how many more mentor places that needs.

    Only mentees are demand (a waitlisted mentor is supply without a match), and open places of mentors
    who offer the specialization and can take someone now are subtracted.
    """
    waiting: Counter[str] = Counter()
    for e in enrollments:
        if e.role == Role.MENTEE and e.status == EnrollmentStatus.WAITLISTED:
            waiting.update(set(e.specializations or []))
    load = Counter(p.mentor_enrollment_id for p in pairings if p.status in LIVE_PAIRING_STATUSES)
    open_places: Counter[str] = Counter()
    for e in enrollments:
        if e.role == Role.MENTOR and e.status in (EnrollmentStatus.APPLIED, EnrollmentStatus.MATCHED,
                                                  EnrollmentStatus.WAITLISTED):  # fmt: skip
            spare = max(0, e.capacity - load[e.id])
            for spec in set(e.specializations or []):
                open_places[spec] += spare
    return [(spec, n, max(0, n - open_places[spec])) for spec, n in waiting.most_common()]


def hours_of(minutes: int) -> Decimal:
    """Logged minutes as hours to the hundredth, halves up: a 45-minute meeting is 0.75 hours and three of them
    2.25, not 0.8 and 2.2 (one decimal rounded 2.25 down, so the hours on a certificate fell short of the log)."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def hours_cell(minutes: int) -> str:
    """The hours export's cell: "2.25", "1.5", "0.0" (at least one decimal, as a spreadsheet shows hours)."""
    text = f"{hours_of(minutes):.2f}"
    return text[:-1] if text.endswith("0") else text


def summarize(session: Session, program: Program, now: datetime) -> ProgramSummary:
    today = now.astimezone(zone(program.timezone)).date()
    summary = ProgramSummary(
        program_id=program.id or 0,
        program_name=program.name,
        today=today,
        days_left=max(0, (program.ends_on - today).days),
        starts_on=program.starts_on,
    )
    enrollments = queries.enrollments_in_program(session, program.id)  # type: ignore[arg-type]
    by_id = {e.id: e for e in enrollments}
    for e in enrollments:
        summary.participants.setdefault(e.role, {}).setdefault(e.status, 0)
        summary.participants[e.role][e.status] += 1
    pairings = queries.pairings_in_program(session, program.id)  # type: ignore[arg-type]
    summary.waitlist_by_specialization = shortages(enrollments, pairings)
    if not program_rules.waitlist_is_final(program, today):
        summary.waitlist_draft_until = program.applications_close
    summary.pairings = dict(Counter(p.status for p in pairings))
    summary.proposals_awaiting_approval = sum(1 for p in pairings if p.is_draft())
    pending = [p for p in pairings if p.status == PairingStatus.INTRODUCED]
    summary.agreements_pending = len(pending)
    summary.agreements_overdue = sum(1 for p in pending if today > agreement_due_on(program, p))

    checkins: dict[int, list[CheckIn]] = queries.checkins_by_pairing(
        session, [p.id for p in pairings if p.id is not None]
    )
    all_checkins = [c for cs in checkins.values() for c in cs]
    summary.checkins = len(all_checkins)
    summary.total_hours = float(hours_of(sum(c.duration_minutes for c in all_checkins)))
    ratings = [c.rating for c in all_checkins if c.rating]
    summary.average_rating = round(sum(ratings) / len(ratings), 2) if ratings else None

    last = min(today, program.ends_on)
    blackouts = program.blackouts or []
    if today >= program.starts_on:
        # The schedule's own excusals, so a month it neither nudges nor counts as missed is no 0% here either.
        members = queries.people(session, sorted({e.person_id for e in enrollments}))

        def excusals_of(p: Pairing) -> list[list[str]]:
            mentor, mentee = by_id.get(p.mentor_enrollment_id), by_id.get(p.mentee_enrollment_id)
            people = tuple(members.get(e.person_id) if e is not None else None for e in (mentor, mentee))
            return pair_excusals(program, p, mentor, mentee, people)

        excusals = {p.id: excusals_of(p) for p in pairings}
        for month in _months_between(program.starts_on, last):
            period = period_containing(program, "monthly", month)
            if excused(period, blackouts):
                continue  # a blackout month expects no meetings: it is no 0% in the trend
            key = f"{month:%Y-%m}"
            met = {c.pairing_id for c in all_checkins if f"{c.met_on:%Y-%m}" == key}
            live = {
                p.id
                for p in pairings
                if _live_during(p, program, month, _month_end(month))
                and (p.id in met or not (excused(period, excusals[p.id]) or not askable(period, blackouts)))
            }
            summary.months.append(
                MonthRate(
                    month=key,
                    live_pairs=len(live),
                    pairs_met=len(met & live),
                    checkins=sum(1 for c in all_checkins if f"{c.met_on:%Y-%m}" == key),
                )
            )

    flagged = [p for p in pairings if p.at_risk and p.status in QUIET_STATUSES]
    agreements = queries.agreements_for_pairings(session, [p.id for p in flagged if p.id is not None])
    for p in flagged:
        mentor, mentee = by_id.get(p.mentor_enrollment_id), by_id.get(p.mentee_enrollment_id)
        if mentor is None or mentee is None:
            continue
        met_days = [c.met_on for c in checkins.get(p.id or 0, [])]
        # The flag is the last sweep's: a pair that has met since is not listed as quiet.
        cadence = settled_cadence(agreements.get(p.id or 0), program.default_cadence)
        if not met_this_period(program, cadence, met_days, last):
            since = (today - max(met_days)).days if met_days else None
            summary.at_risk.append((mentor.person_id, mentee.person_id, since))

    if today > program.ends_on or program.closed_at is not None:
        summary.ended_on = program.ends_on
    summary.survey = survey_results(session, program, pairings, ended=summary.ended_on is not None)

    people = queries.people(
        session, sorted({e.person_id for e in enrollments if e.status != EnrollmentStatus.WITHDRAWN})
    )
    summary.unreachable = sorted((pid, _unreachable(person)) for pid, person in people.items() if _unreachable(person))
    return summary


def survey_results(session: Session, program: Program, pairings: list[Pairing], *, ended: bool) -> SurveyResults | None:
    """Totals of the wrap-up survey; None while a program runs and nobody has answered (nothing to show)."""
    responses = queries.survey_responses_in_program(session, program.id)  # type: ignore[arg-type]
    if not responses and not ended:
        return None
    satisfaction = [r.satisfaction for r in responses]
    return SurveyResults(
        pairs_asked=sum(1 for p in pairings if p.status == PairingStatus.ENDED),
        pairs_answered=len({r.pairing_id for r in responses}),
        people_answered=len({(r.pairing_id, r.person_id) for r in responses}),
        average_satisfaction=round(sum(satisfaction) / len(satisfaction), 2) if satisfaction else None,
        would_continue=sum(1 for r in responses if r.would_continue),
        still_in_libraries=sum(1 for r in responses if r.still_in_libraries),
    )


# -- exports -----------------------------------------------------------------------------------------------
def export_csv(session: Session, program: Program, kind: str) -> bytes:
    """CSV for coordinators. Private check-in notes are never exported."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"Unknown export {kind!r}: choose one of {', '.join(EXPORT_KINDS)}.")
    writer = SpreadsheetCsv()
    enrollments = queries.enrollments_in_program(session, program.id)  # type: ignore[arg-type]
    by_id: dict[int | None, Enrollment] = {e.id: e for e in enrollments}
    people = queries.people(session, sorted({e.person_id for e in enrollments}))
    name = {pid: p.display_name for pid, p in people.items()}
    pairings = queries.pairings_in_program(session, program.id)  # type: ignore[arg-type]

    if kind == "participants":
        writer.writerow(
            ["slack_user_id", "display_name", "role", "status", "library_type", "organization", "region",
             "specializations", "years_in_library_type", "capacity", "waitlist_reason", "unreachable"]
        )  # fmt: skip
        for e in enrollments:
            writer.writerow(
                [e.person_id, name.get(e.person_id, ""), e.role, e.status, e.library_type, e.organization, e.region,
                 "; ".join(specialization_label(s) for s in e.specializations), e.years_experience,
                 e.capacity if e.role == "mentor" else "", e.waitlist_reason or "", _unreachable_label(people.get(e.person_id))]
            )  # fmt: skip
    elif kind == "pairings":
        # Who is who next to each Slack id: the coordinator phoning the quiet pairs reads names, not U0... ids.
        writer.writerow(
            ["pairing_id", "mentor", "mentor_name", "mentor_organization", "mentee", "mentee_name",
             "mentee_organization", "status", "score", "at_risk", "approved_at", "ended_at", "reasons"]
        )  # fmt: skip
        # The flag is left as the last sweep set it; only a running pairing can be at risk (as in the summary).
        for p in pairings:
            mentor, mentee = by_id.get(p.mentor_enrollment_id), by_id.get(p.mentee_enrollment_id)
            writer.writerow(
                [p.id, *_who(mentor, name), *_who(mentee, name), p.status,
                 f"{p.score:.1f}", "yes" if p.at_risk and p.status in QUIET_STATUSES else "no",
                 p.approved_at.isoformat() if p.approved_at else "", p.ended_at.isoformat() if p.ended_at else "",
                 " | ".join(p.reasons)]
            )  # fmt: skip
    elif kind == "checkins":
        writer.writerow(
            ["pairing_id", "met_on", "duration_minutes", "format", "topics", "rating", "logged_by", "logged_by_name"]
        )
        checkins_of = queries.checkins_by_pairing(session, [p.id for p in pairings if p.id is not None])
        for p in pairings:
            for c in checkins_of.get(p.id or 0, []):
                writer.writerow(
                    [p.id, c.met_on.isoformat(), c.duration_minutes, c.format, "; ".join(c.topics), c.rating or "",
                     c.logged_by, name.get(c.logged_by, "")]
                )  # fmt: skip
    else:  # hours: professional-development evidence per person
        # Everyone who was paired is listed, with 0 meetings if need be: a missing row reads as "left out".
        participants: dict[tuple[str, str], Enrollment] = {}
        meetings: Counter[tuple[str, str]] = Counter()
        minutes: Counter[tuple[str, str]] = Counter()
        checkins_of = queries.checkins_by_pairing(session, [p.id for p in pairings if p.id is not None])
        for p in pairings:
            members = [e for e in (by_id.get(p.mentor_enrollment_id), by_id.get(p.mentee_enrollment_id)) if e]
            checkins = checkins_of.get(p.id or 0, [])
            if not (_was_paired(p) or checkins):
                continue
            for e in members:
                participants[(e.person_id, e.role)] = e
            for c in checkins:
                for e in members:
                    meetings[(e.person_id, e.role)] += 1
                    minutes[(e.person_id, e.role)] += c.duration_minutes
        writer.writerow(["slack_user_id", "display_name", "role", "meetings", "hours", "organization"])
        for (pid, role), e in sorted(participants.items()):
            writer.writerow(
                [
                    pid,
                    name.get(pid, ""),
                    role,
                    meetings[(pid, role)],
                    hours_cell(minutes[(pid, role)]),
                    e.organization,
                ]
            )
    return writer.content()


def coordinator_export(session: Session, program_id: int, kind: str, actor: str, now: datetime) -> bytes:
    """`/mentor-admin export`: the CSV, and the export recorded in the audit trail (who took which records)."""
    program = queries.program_by_id(session, program_id)
    assert program is not None  # the coordinator's command resolved it; programs are never deleted
    program_rules.record_admin_action(session, actor, "export", program_id, {"kind": kind}, now)
    return export_csv(session, program, kind)


def _who(enrollment: Enrollment | None, names: dict[str, str]) -> list[str]:
    """A pairing member as three CSV cells: Slack id, display name, organization."""
    if enrollment is None:
        return ["", "", ""]
    return [enrollment.person_id, names.get(enrollment.person_id, ""), enrollment.organization]


def _was_paired(pairing: Pairing) -> bool:
    """The pairings whose hours count (0 too): those the two were introduced in, as `/mentor checkins` reads it."""
    from bot.services.checkins import was_introduced

    return was_introduced(pairing)

"""A person's own view of their participation: each enrollment, the partner if any, and what is due next.

Used by `/mentor status` and the Home tab, so both always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Session

from bot.services import accounts, reports
from bot.services import enrollment as enrollment_service
from bot.services import programs as program_rules
from bot.services.agreements import Terms, agreed_terms, is_settled, settled_cadence
from bot.services.catalog import CADENCES, cadence_stretch
from bot.services.checkins import ended_before_intro
from bot.services.schedule import agreement_due_on, expected_to_meet, met_this_period
from storage import queries
from storage.models import (
    LIVE_PAIRING_STATUSES,
    RUNNING_PAIRING_STATUSES,
    Agreement,
    Enrollment,
    EnrollmentStatus,
    Pairing,
    PairingStatus,
    Person,
    Program,
    Role,
)

# Pairings a card shows: the live ones, and those the program's wrap-up ended (the pair worked together to
# the end). Dissolved ones are left out: that partner left or was unpaired and is no longer "yours".
SHOWN_PAIRING_STATUSES = (*LIVE_PAIRING_STATUSES, PairingStatus.ENDED)


@dataclass(frozen=True)
class Meetings:
    """Whether a running pair met in the current period, and when it last met: for a mentor of several mentees,
    whom to reach out to."""

    this_period: str  # "this month", "this week"
    met_this_period: bool
    last_met: date | None


@dataclass(frozen=True)
class Partnership:
    """One pairing of an enrollment, seen from this person's side."""

    pairing: Pairing
    partner_id: str | None
    partner: Person | None
    # Only for a pair asked to meet now (active, or past its agreement date), within the program's dates.
    meetings: Meetings | None = None
    # The terms the pair settled and the bot follows (how often, on call, after hours, boundaries), shown back
    # so neither has to scroll their DM for them; None until both accepted some, and once the pairing is over.
    agreed: Terms | None = None
    change_pending: bool = False  # one of them proposed other terms the partner has not accepted yet
    # The partner paused (a month of leave): the pair is not asked to meet meanwhile, so the card says so instead
    # of "Meet with ...". `partner_paused_until` is the day their pause ends by itself, None for an open-ended one.
    partner_paused: bool = False
    partner_paused_until: date | None = None


@dataclass(frozen=True)
class EnrollmentCard:
    enrollment: Enrollment
    program: Program
    next_step: str
    # Every pairing shown for this enrollment: a mentor with capacity 2 may have two mentees.
    partnerships: tuple[Partnership, ...] = ()
    program_ended: bool = False
    # An approved match the program's end dropped before its intro went out: the two were never introduced, so
    # the partner is not shown, only that the program ended first.
    ended_before_intro: bool = False
    # Applications are still open: a waitlisting by an early preview is a draft, not yet this person's status.
    waitlist_draft: bool = False

    @property
    def status(self) -> str:
        """The enrollment's status as its person should read it: left out of a preview run before the deadline,
        she has applied and waits for the matching, which happens after applications close."""
        if self.waitlist_draft and self.enrollment.status == EnrollmentStatus.WAITLISTED:
            return EnrollmentStatus.APPLIED
        return self.enrollment.status

    @property
    def paused(self) -> bool:
        return self.enrollment.status == EnrollmentStatus.PAUSED

    @property
    def partner_ids(self) -> list[str]:
        """Everyone this person is (or was, in an ended program) paired with through this enrollment. A match
        the coordinator has not approved yet is a draft: it may be rejected, so its name is not shown."""
        return [p.partner_id for p in self.partnerships if p.partner_id and p.pairing.approved_at is not None]

    @property
    def can_log(self) -> bool:
        """Whether the Home tab offers *Log a check-in*: the same rule the check-in service applies."""
        return any(p.pairing.is_running() for p in self.partnerships)


@dataclass(frozen=True)
class PersonOverview:
    user_id: str
    cards: list[EnrollmentCard]
    can_join: bool

    @property
    def running_cards(self) -> list[EnrollmentCard]:
        """Cards whose program has not ended: only these can be paused, resumed or edited."""
        return [c for c in self.cards if not c.program_ended]

    @property
    def paused(self) -> bool:
        return any(card.paused for card in self.running_cards)

    @property
    def live_pairings(self) -> list[EnrollmentCard]:
        """Cards with a pairing that can log meetings now (introduced or active)."""
        return [c for c in self.cards if c.can_log]


def person_overview(session: Session, user_id: str, now: datetime) -> PersonOverview:
    # Read first: a card's program is nearly always one of these, and the session then has it without a query.
    unclosed = queries.unclosed_programs(session)
    cards = []
    enrollments = [e for e in queries.enrollments_of_person(session, user_id) if e.status != EnrollmentStatus.WITHDRAWN]
    for enrollment in enrollments:
        program = queries.program_by_id(session, enrollment.program_id)
        if program is None:
            continue
        pairings = queries.pairings_of_enrollments(session, [enrollment.id], live_only=False)  # type: ignore[list-item]
        dropped = any(ended_before_intro(p) for p in pairings)
        today = now.astimezone(program_rules.program_zone(program)).date()
        partnerships = tuple(_partnerships(session, enrollment, program, pairings, today))
        cards.append(
            EnrollmentCard(
                enrollment=enrollment,
                program=program,
                next_step=next_step(enrollment, program, partnerships, now, ended_before_intro=dropped),
                partnerships=partnerships,
                program_ended=program_rules.has_ended(program, now),
                ended_before_intro=dropped,
                waitlist_draft=not program_rules.waitlist_is_final(program, today),
            )
        )
    open_ids = {p.id for p in unclosed if program_rules.accepting_applications(p, now)}
    return PersonOverview(user_id=user_id, cards=cards, can_join=bool(open_ids))


def home(
    session: Session, user_id: str, now: datetime, super_admins: frozenset[str]
) -> tuple[PersonOverview, Coordinating]:
    """Everything the Home tab shows, read in one transaction: the person's own cards and the programs they
    coordinate (one session and one thread hop per Home tab, not two)."""
    return person_overview(session, user_id, now), coordinating(session, user_id, now, super_admins)


# Programs a coordinator's Home tab details: each is a summary (a few queries per pair), and the Home tab holds
# 100 blocks. The rest are counted, with the command that lists them all.
COORDINATED_SHOWN = 10
# How long an ended program stays on its coordinators' Home tab: the wrap-up survey's answers arrive after it.
RECENTLY_ENDED_DAYS = 30


@dataclass(frozen=True)
class CoordinatedProgram:
    """One program a person coordinates, at a glance: its calendar and the summary's figures."""

    program: Program
    summary: reports.ProgramSummary
    # Applied enrollments in a proposal awaiting approval: counted there, so not as unmatched applications.
    applied_in_proposals: int = 0

    @property
    def waitlisted_mentees(self) -> int:
        return self.summary.participants.get(Role.MENTEE, {}).get(EnrollmentStatus.WAITLISTED, 0)

    @property
    def applications_unmatched(self) -> int:
        """Applications (mentors and mentees) not matched, waitlisted or proposed yet: each person is counted
        once, a person in a proposal under the proposals awaiting approval."""
        applied = sum(statuses.get(EnrollmentStatus.APPLIED, 0) for statuses in self.summary.participants.values())
        return max(0, applied - self.applied_in_proposals)

    @property
    def pairs_running(self) -> int:
        """Introduced or active: the two know each other and are expected to meet."""
        return sum(self.summary.pairings.get(status, 0) for status in RUNNING_PAIRING_STATUSES)


@dataclass(frozen=True)
class Coordinating:
    """The open programs a person coordinates, as their Home tab shows them; empty for everyone else."""

    programs: list[CoordinatedProgram]
    more: int = 0  # open programs they coordinate beyond those shown

    def __bool__(self) -> bool:
        return bool(self.programs)


def coordinating(
    session: Session, user_id: str, now: datetime, super_admins: frozenset[str], shown: int = COORDINATED_SHOWN
) -> Coordinating:
    """The programs still running (or not started) that this person coordinates, scoped as `program list` is:
    every one for a global admin, their own for a program's admin; then those that ended in the last
    `RECENTLY_ENDED_DAYS`, whose final figures and survey answers come in after the last day. Older ones are
    left to `program list`."""
    running: list[Program] = []
    recently_ended: list[Program] = []
    for program in program_rules.visible_programs(session, user_id, super_admins):
        if not program_rules.has_ended(program, now):
            running.append(program)
        elif _recently_ended(program, now):
            recently_ended.append(program)
    running += recently_ended
    return Coordinating(
        programs=[
            CoordinatedProgram(p, reports.summarize(session, p, now), _applied_in_proposals(session, p))
            for p in running[:shown]
        ],
        more=max(0, len(running) - shown),
    )


def _recently_ended(program: Program, now: datetime) -> bool:
    today = now.astimezone(program_rules.program_zone(program)).date()
    return (today - program.ends_on).days <= RECENTLY_ENDED_DAYS


def _applied_in_proposals(session: Session, program: Program) -> int:
    """How many applied mentors and mentees are in a proposal no coordinator has approved yet."""
    proposed = queries.pairings_in_program(session, program.id, [PairingStatus.PROPOSED])  # type: ignore[arg-type]
    waiting = {p.mentor_enrollment_id for p in proposed if p.is_draft()}
    waiting |= {p.mentee_enrollment_id for p in proposed if p.is_draft()}
    return sum(
        1
        for e in queries.enrollments_in_program(session, program.id)  # type: ignore[arg-type]
        if e.id in waiting and e.status == EnrollmentStatus.APPLIED
    )


def _partnerships(
    session: Session, enrollment: Enrollment, program: Program, pairings: list[Pairing], today: date
) -> list[Partnership]:
    """The enrollment's pairings worth showing, each with the partner on the other side. A pairing the program's
    end dropped before its intro is not one: the two never heard of each other."""
    out = []
    for pairing in pairings:
        if pairing.status not in SHOWN_PAIRING_STATUSES or ended_before_intro(pairing):
            continue
        other_id = pairing.mentee_enrollment_id if enrollment.role == Role.MENTOR else pairing.mentor_enrollment_id
        other = queries.enrollment(session, other_id)
        partner_id = other.person_id if other else None
        partner = queries.person(session, partner_id) if partner_id else None
        # A partner whose account is gone cannot meet: the card says so instead of "not yet this month".
        # Only a running pair has terms in force or meetings to count: an ended one costs no agreement read.
        agreement = queries.agreement_for(session, pairing.id) if pairing.is_running() else None  # type: ignore[arg-type]
        meetings = None if accounts.is_deactivated(partner) else _meetings(session, program, pairing, agreement, today)
        agreed = agreed_terms(agreement)
        out.append(
            Partnership(
                pairing=pairing,
                partner_id=partner_id,
                partner=partner,
                meetings=meetings,
                agreed=agreed,
                change_pending=agreed is not None and not is_settled(agreement),
                partner_paused=other is not None and other.status == EnrollmentStatus.PAUSED,
                partner_paused_until=other.paused_until if other is not None else None,
            )
        )
    return out


def _meetings(
    session: Session, program: Program, pairing: Pairing, agreement: Agreement | None, today: date
) -> Meetings | None:
    """This period's meetings of a pair asked to meet, by the cadence it agreed (the check-in rule the nudges
    use): a pair that let its agreement date pass is asked too, at the program's cadence."""
    if not expected_to_meet(program, pairing, today) or not program.starts_on <= today <= program.ends_on:
        return None
    met_days = [c.met_on for c in queries.checkins_for_pairing(session, pairing.id)]  # type: ignore[arg-type]
    cadence = settled_cadence(agreement, program.default_cadence)
    return Meetings(
        this_period=cadence_stretch(cadence),
        met_this_period=met_this_period(program, cadence, met_days, today),
        last_met=max(met_days, default=None),
    )


def next_step(
    enrollment: Enrollment,
    program: Program,
    partnerships: tuple[Partnership, ...],
    now: datetime,
    *,
    ended_before_intro: bool = False,
) -> str:
    """Plain sentences: what this person should expect or do next in this program, for every partner."""
    today = now.astimezone(program_rules.program_zone(program)).date()
    if today > program.ends_on:  # checked first: a pause or a pending match means nothing once it is over
        if partnerships:
            return f"The program ended on {_day(program.ends_on)}. Thank you for taking part!"
        if ended_before_intro:
            return (
                f"The program ended on {_day(program.ends_on)}, before you were introduced to your match. "
                "Thank you for applying!"
            )
        return f"The program ended on {_day(program.ends_on)}. Thank you for applying!"
    if enrollment.status == EnrollmentStatus.PAUSED:
        if enrollment.paused_until:
            return f"Paused until {_day(enrollment.paused_until)}: no matching and no reminders until then."
        return "Paused: no matching and no reminders. Type `/mentor resume` when you're ready."
    live = [p for p in partnerships if p.pairing.status in LIVE_PAIRING_STATUSES]
    if not live:
        if enrollment.status == EnrollmentStatus.WAITLISTED and program_rules.waitlist_is_final(program, today):
            # The reason is written for coordinators ("1 asked not to mentor them"): not for the mentee's eyes.
            return "On the waitlist: no mentor is free for you yet. You'll hear from me as soon as a match is possible."
        if today <= program.applications_close:
            return (
                f"Application received. Matching starts after applications close on {_day(program.applications_close)}."
            )
        return "Application received. Your coordinator is preparing matches."
    steps = []
    if drafts := [p for p in live if p.pairing.is_draft()]:
        steps.append(
            "You have a proposed match waiting for your coordinator's approval."
            if len(drafts) == 1
            else f"You have {len(drafts)} proposed matches waiting for your coordinator's approval."
        )
    if approved := [p for p in live if p.pairing.awaiting_intro()]:
        # Approved, the introduction not sent yet: it waits for working hours (or for the next sweep).
        steps.append(
            f"You've been matched with {_names(approved)}! I'll introduce you in a group message shortly, "
            "during working hours."
        )
    # A partner whose Slack account was deactivated cannot meet: no agreement or meeting is asked of this pair.
    gone = [p for p in live if p.pairing.status != PairingStatus.PROPOSED and accounts.is_deactivated(p.partner)]
    live = [p for p in live if p not in gone]
    # A partner on leave: the pair is excused from meeting until they are back, so nothing is asked of it.
    away = [p for p in live if p.pairing.is_running() and p.partner_paused]
    live = [p for p in live if p not in away]
    steps += [
        f"<@{p.partner_id}> is taking a break "
        + (f"until {_day(p.partner_paused_until)}" if p.partner_paused_until else "for now")
        + ": your pairing stays, and no reminders come for it meanwhile."
        for p in away
    ]
    steps += [
        f"<@{p.partner_id}>'s Slack account is no longer active, so reminders for your pairing are stopped. "
        "Your coordinators can find you a new match: `/mentor rematch` to ask them."
        for p in gone
    ]
    introduced = [p for p in live if p.pairing.status == PairingStatus.INTRODUCED]
    for due in sorted({agreement_due_on(program, p.pairing) for p in introduced}):  # a late match has a later date
        with_them = [p for p in introduced if agreement_due_on(program, p.pairing) == due]
        if today <= due:
            steps.append(f"Settle your mentoring agreement with {_names(with_them)} by {_day(due)}.")
        else:  # the schedule asks them to meet anyway, at the program's pace
            steps.append(
                f"Your mentoring agreement with {_names(with_them)} was due on {_day(due)} and is not settled yet: "
                f"`/mentor agreement` settles it. Meanwhile, meet {_pace(program)} and log it with `/mentor checkin`."
            )
    if active := [p for p in live if p.pairing.status == PairingStatus.ACTIVE]:
        if today < program.starts_on:
            steps.append(f"You're all set with {_names(active)}. The program starts on {_day(program.starts_on)}.")
        else:
            steps.append(
                f"Meet with {_names(active)} and log it with `/mentor checkin`. "
                f"The program runs until {_day(program.ends_on)}."
            )
    return " ".join(steps)


def _pace(program: Program) -> str:
    """ "at least monthly": the program's own cadence, which holds until a pair agrees its own."""
    return f"at least {CADENCES.get(program.default_cadence, 'monthly').lower()}"


def _names(partnerships: list[Partnership]) -> str:
    """`<@A>`, `<@A> and <@B>`, `<@A>, <@B> and <@C>`; "your partner" when Slack ids are missing."""
    names = [f"<@{p.partner_id}>" if p.partner_id else "your partner" for p in partnerships]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _day(value: date) -> str:
    return value.strftime("%b %-d, %Y")


# -- which profile to edit, or why not -------------------------------------------------------------------
class ProfileRefusal(StrEnum):
    PROGRAM_ENDED = "program_ended"  # the profile asked for belongs to a program that has ended
    LEFT = "left"  # the profile asked for: they left that program since (an old choice)
    ALL_ENDED = "all_ended"  # every profile they have belongs to an ended program
    NOT_JOINED = "not_joined"  # no profile at all (in that role)


@dataclass(frozen=True)
class ProfileTarget:
    """The profiles a person may edit with their programs: one opens its form, several are offered as a
    choice (two programs, or mentor and mentee, are edited separately); none, with why not."""

    choices: list[tuple[Enrollment, Program]] = field(default_factory=list)
    refusal: ProfileRefusal | None = None


def profile_to_edit(
    session: Session, user_id: str, now: datetime, role: str = "", enrollment_id: int | None = None
) -> ProfileTarget:
    """`/mentor profile [role]` or a profile button (`enrollment_id`, only ever one of this person's own)."""
    current = enrollment_service.current_enrollments(session, user_id)
    enrollments = enrollment_service.running_enrollments(session, user_id, now)
    if enrollment_id is not None:
        if any(e.id == enrollment_id for e in current) and not any(e.id == enrollment_id for e in enrollments):
            return ProfileTarget(refusal=ProfileRefusal.PROGRAM_ENDED)
        enrollments = [e for e in enrollments if e.id == enrollment_id]
        if not enrollments:
            return ProfileTarget(refusal=ProfileRefusal.LEFT)
    elif role:
        current = [e for e in current if e.role == role]
        enrollments = [e for e in enrollments if e.role == role]
    if not enrollments:
        return ProfileTarget(refusal=ProfileRefusal.ALL_ENDED if current else ProfileRefusal.NOT_JOINED)
    programs = program_rules.programs_by_id(session)
    return ProfileTarget(choices=[(e, programs[e.program_id]) for e in enrollments if e.program_id in programs])

"""A person's own view of their participation: each enrollment, the partner if any, and what is due next.

Used by `/mentor status` and the Home tab, so both always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from bot.services import programs as program_rules
from bot.services.checkins import CHECKIN_STATUSES
from bot.services.schedule import agreement_due_on
from storage import queries
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

# Pairings a card shows: the live ones, and those the program's wrap-up ended (the pair worked together to
# the end). Dissolved ones are left out: that partner left or was unpaired and is no longer "yours".
SHOWN_PAIRING_STATUSES = (*LIVE_PAIRING_STATUSES, PairingStatus.ENDED)


@dataclass(frozen=True)
class Partnership:
    """One pairing of an enrollment, seen from this person's side."""

    pairing: Pairing
    partner_id: str | None
    partner: Person | None


@dataclass(frozen=True)
class EnrollmentCard:
    enrollment: Enrollment
    program: Program
    next_step: str
    # Every pairing shown for this enrollment: a mentor with capacity 2 may have two mentees.
    partnerships: tuple[Partnership, ...] = ()
    program_ended: bool = False

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
        return any(p.pairing.status in CHECKIN_STATUSES for p in self.partnerships)


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
    cards = []
    enrollments = [e for e in queries.enrollments_of_person(session, user_id) if e.status != EnrollmentStatus.WITHDRAWN]
    for enrollment in enrollments:
        program = queries.program_by_id(session, enrollment.program_id)
        if program is None:
            continue
        partnerships = tuple(_partnerships(session, enrollment))
        cards.append(
            EnrollmentCard(
                enrollment=enrollment,
                program=program,
                next_step=next_step(enrollment, program, partnerships, now),
                partnerships=partnerships,
                program_ended=program_rules.has_ended(program, now),
            )
        )
    open_ids = {p.id for p in queries.unclosed_programs(session) if program_rules.accepting_applications(p, now)}
    return PersonOverview(user_id=user_id, cards=cards, can_join=bool(open_ids))


def _partnerships(session: Session, enrollment: Enrollment) -> list[Partnership]:
    """The enrollment's pairings worth showing, each with the partner on the other side."""
    pairings = queries.pairings_of_enrollments(session, [enrollment.id], live_only=False)  # type: ignore[list-item]
    out = []
    for pairing in pairings:
        if pairing.status not in SHOWN_PAIRING_STATUSES:
            continue
        other_id = pairing.mentee_enrollment_id if enrollment.role == Role.MENTOR else pairing.mentor_enrollment_id
        other = queries.enrollment(session, other_id)
        partner_id = other.person_id if other else None
        partner = queries.person(session, partner_id) if partner_id else None
        out.append(Partnership(pairing=pairing, partner_id=partner_id, partner=partner))
    return out


def next_step(enrollment: Enrollment, program: Program, partnerships: tuple[Partnership, ...], now: datetime) -> str:
    """Plain sentences: what this person should expect or do next in this program, for every partner."""
    today = now.astimezone(program_rules.program_zone(program)).date()
    if today > program.ends_on:  # checked first: a pause or a pending match means nothing once it is over
        if partnerships:
            return f"The program ended on {_day(program.ends_on)}. Thank you for taking part!"
        return f"The program ended on {_day(program.ends_on)}. Thank you for applying!"
    if enrollment.status == EnrollmentStatus.PAUSED:
        if enrollment.paused_until:
            return f"Paused until {_day(enrollment.paused_until)}: no matching and no reminders until then."
        return "Paused: no matching and no reminders. Type `/mentor resume` when you're ready."
    live = [p for p in partnerships if p.pairing.status in LIVE_PAIRING_STATUSES]
    if not live:
        if enrollment.status == EnrollmentStatus.WAITLISTED:
            # The reason is written for coordinators ("1 asked not to mentor them"): not for the mentee's eyes.
            return "On the waitlist: no mentor is free for you yet. You'll hear from me as soon as a match is possible."
        if today <= program.applications_close:
            return (
                f"Application received. Matching starts after applications close on {_day(program.applications_close)}."
            )
        return "Application received. Your coordinator is preparing matches."
    steps = []
    proposed = [p for p in live if p.pairing.status == PairingStatus.PROPOSED]
    if drafts := [p for p in proposed if p.pairing.approved_at is None]:
        steps.append(
            "You have a proposed match waiting for your coordinator's approval."
            if len(drafts) == 1
            else f"You have {len(drafts)} proposed matches waiting for your coordinator's approval."
        )
    if approved := [p for p in proposed if p.pairing.approved_at is not None]:
        # Approved, the introduction not sent yet: it waits for working hours (or for the next sweep).
        steps.append(
            f"You've been matched with {_names(approved)}! I'll introduce you in a group message shortly, "
            "during working hours."
        )
    # A partner whose Slack account was deactivated cannot meet: no agreement or meeting is asked of this pair.
    gone = [p for p in live if p.pairing.status != PairingStatus.PROPOSED and p.partner and p.partner.deactivated]
    live = [p for p in live if p not in gone]
    steps += [
        f"<@{p.partner_id}>'s Slack account is no longer active, so reminders for your pairing are stopped. "
        "Your coordinators can find you a new match: `/mentor rematch` to ask them."
        for p in gone
    ]
    introduced = [p for p in live if p.pairing.status == PairingStatus.INTRODUCED]
    for due in sorted({agreement_due_on(program, p.pairing) for p in introduced}):  # a late match has a later date
        with_them = [p for p in introduced if agreement_due_on(program, p.pairing) == due]
        steps.append(f"Settle your mentoring agreement with {_names(with_them)} by {_day(due)}.")
    if active := [p for p in live if p.pairing.status == PairingStatus.ACTIVE]:
        if today < program.starts_on:
            steps.append(f"You're all set with {_names(active)}. The program starts on {_day(program.starts_on)}.")
        else:
            steps.append(
                f"Meet with {_names(active)} and log it with `/mentor checkin`. "
                f"The program runs until {_day(program.ends_on)}."
            )
    return " ".join(steps)


def _names(partnerships: list[Partnership]) -> str:
    """`<@A>`, `<@A> and <@B>`, `<@A>, <@B> and <@C>`; "your partner" when Slack ids are missing."""
    names = [f"<@{p.partner_id}>" if p.partner_id else "your partner" for p in partnerships]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _day(value: date) -> str:
    return value.strftime("%b %-d, %Y")

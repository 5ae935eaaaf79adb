"""A person's own view of their participation: each enrollment, the partner if any, and what is due next.

Used by `/mentor status` and the Home tab, so both always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from bot.services import programs as program_rules
from storage import queries
from storage.models import Enrollment, EnrollmentStatus, Pairing, PairingStatus, Person, Program, Role


@dataclass(frozen=True)
class EnrollmentCard:
    enrollment: Enrollment
    program: Program
    pairing: Pairing | None
    partner: Person | None
    partner_id: str | None
    next_step: str

    @property
    def paused(self) -> bool:
        return self.enrollment.status == EnrollmentStatus.PAUSED


@dataclass(frozen=True)
class PersonOverview:
    user_id: str
    cards: list[EnrollmentCard]
    can_join: bool

    @property
    def paused(self) -> bool:
        return any(card.paused for card in self.cards)

    @property
    def live_pairings(self) -> list[EnrollmentCard]:
        return [c for c in self.cards if c.pairing is not None and c.pairing.status != PairingStatus.PROPOSED]


def person_overview(session: Session, user_id: str, now: datetime) -> PersonOverview:
    cards = []
    enrollments = [e for e in queries.enrollments_of_person(session, user_id) if e.status != EnrollmentStatus.WITHDRAWN]
    for enrollment in enrollments:
        program = queries.program_by_id(session, enrollment.program_id)
        if program is None:
            continue
        pairings = queries.pairings_of_enrollments(session, [enrollment.id])  # type: ignore[list-item]
        pairing = pairings[0] if pairings else None
        partner_id = None
        if pairing is not None:
            other_id = pairing.mentee_enrollment_id if enrollment.role == Role.MENTOR else pairing.mentor_enrollment_id
            other = queries.enrollment(session, other_id)
            partner_id = other.person_id if other else None
        partner = queries.person(session, partner_id) if partner_id else None
        cards.append(
            EnrollmentCard(
                enrollment=enrollment,
                program=program,
                pairing=pairing,
                partner=partner,
                partner_id=partner_id,
                next_step=next_step(enrollment, program, pairing, partner_id, now),
            )
        )
    open_ids = {p.id for p in queries.unclosed_programs(session) if program_rules.accepting_applications(p, now)}
    return PersonOverview(user_id=user_id, cards=cards, can_join=bool(open_ids))


def next_step(
    enrollment: Enrollment, program: Program, pairing: Pairing | None, partner_id: str | None, now: datetime
) -> str:
    """One plain sentence: what this person should expect or do next in this program."""
    today = now.astimezone(program_rules.program_zone(program)).date()
    partner = f"<@{partner_id}>" if partner_id else "your partner"
    if enrollment.status == EnrollmentStatus.PAUSED:
        if enrollment.paused_until:
            return f"Paused until {_day(enrollment.paused_until)}: no matching and no reminders until then."
        return "Paused: no matching and no reminders. Type `/mentor resume` when you're ready."
    if pairing is None:
        if enrollment.status == EnrollmentStatus.WAITLISTED:
            reason = f" ({enrollment.waitlist_reason})" if enrollment.waitlist_reason else ""
            return f"On the waitlist{reason}. You'll hear from me as soon as a match is possible."
        if today <= program.applications_close:
            return (
                f"Application received. Matching starts after applications close on {_day(program.applications_close)}."
            )
        return "Application received. Your coordinator is preparing matches."
    if pairing.status == PairingStatus.PROPOSED:
        return "You have a proposed match waiting for your coordinator's approval."
    if pairing.status == PairingStatus.INTRODUCED:
        return f"Settle your mentoring agreement with {partner} by {_day(program.agreement_due)}."
    if today < program.starts_on:
        return f"You're all set with {partner}. The program starts on {_day(program.starts_on)}."
    if today > program.ends_on:
        return f"The program ended on {_day(program.ends_on)}. Thank you for taking part!"
    return f"Meet with {partner} and log it with `/mentor checkin`. The program runs until {_day(program.ends_on)}."


def _day(value: date) -> str:
    return value.strftime("%b %-d, %Y")

"""What a pair settles at the start (cadence, on call, after hours, boundaries), and who has accepted it.

Whoever submits terms accepts them; the partner then accepts or proposes a change, which resets the
first person's acceptance. The pairing turns `active` once both have accepted the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from bot.services.catalog import CADENCES
from storage import queries
from storage.models import Agreement, Pairing, PairingStatus, Program, Role

BOUNDARIES: dict[str, str] = {
    "professional": "Professional library topics only",
    "open": "Open: also how work touches personal life",
}
# A pair settles its agreement once introduced (never before the coordinators approved it and the intro
# went out); an active pair may renegotiate it.
AGREEABLE_STATUSES = (PairingStatus.INTRODUCED, PairingStatus.ACTIVE)


class NotYourPairing(Exception):
    """The person is not one of the two in this pairing (or it no longer runs)."""


@dataclass(frozen=True)
class Terms:
    cadence: str
    mentor_on_call: bool
    after_hours_ok: bool
    boundaries: str
    first_meeting_on: date | None = None

    @classmethod
    def of(cls, agreement: Agreement) -> Terms:
        return cls(
            cadence=agreement.cadence,
            mentor_on_call=agreement.mentor_on_call,
            after_hours_ok=agreement.after_hours_ok,
            boundaries=agreement.boundaries,
            first_meeting_on=agreement.first_meeting_on,
        )

    def sentences(self) -> list[str]:
        return [
            f"Meet: {CADENCES.get(self.cadence, self.cadence).lower()}",
            "Mentor on call during work hours: " + ("yes" if self.mentor_on_call else "no"),
            "Chat outside work hours: " + ("fine" if self.after_hours_ok else "no, work hours only"),
            f"Boundaries: {BOUNDARIES.get(self.boundaries, self.boundaries)}",
        ] + ([f"First meeting: {self.first_meeting_on:%b %-d, %Y}"] if self.first_meeting_on else [])


@dataclass(frozen=True)
class PairView:
    """A pairing seen by one of its two members."""

    pairing: Pairing
    program: Program
    user_id: str
    role: str
    partner_id: str
    mentor_id: str
    mentee_id: str


@dataclass(frozen=True)
class AgreementState:
    pair: PairView
    terms: Terms
    accepted_by: frozenset[str]
    proposed_by: str | None

    @property
    def settled(self) -> bool:
        return {self.pair.mentor_id, self.pair.mentee_id} <= self.accepted_by

    def waiting_for(self) -> str | None:
        for person in (self.pair.mentor_id, self.pair.mentee_id):
            if person not in self.accepted_by:
                return person
        return None


def pair_for(session: Session, pairing_id: int | None, user_id: str) -> PairView:
    """The pairing as `user_id` sees it; refuses anyone who is not in it, whatever the payload claims."""
    pairing = queries.pairing(session, pairing_id) if pairing_id is not None else None
    members = queries.pair_members(session, pairing) if pairing is not None else None
    if pairing is None or members is None or user_id not in members or pairing.status not in AGREEABLE_STATUSES:
        raise NotYourPairing
    program = queries.program_by_id(session, pairing.program_id)
    assert program is not None
    mentor_id, mentee_id = members
    role = Role.MENTOR if user_id == mentor_id else Role.MENTEE
    partner = mentee_id if role == Role.MENTOR else mentor_id
    return PairView(pairing, program, user_id, role, partner, mentor_id, mentee_id)


def current_terms(session: Session, pair: PairView) -> Terms:
    """The terms on record, or the program's defaults for a pair that has not proposed any yet."""
    agreement = queries.agreement_for(session, pair.pairing.id)  # type: ignore[arg-type]
    if agreement is not None:
        return Terms.of(agreement)
    return Terms(
        cadence=pair.program.default_cadence, mentor_on_call=False, after_hours_ok=False, boundaries="professional"
    )


def _state(pair: PairView, agreement: Agreement) -> AgreementState:
    accepted = set()
    if agreement.mentor_accepted_at is not None:
        accepted.add(pair.mentor_id)
    if agreement.mentee_accepted_at is not None:
        accepted.add(pair.mentee_id)
    return AgreementState(pair, Terms.of(agreement), frozenset(accepted), agreement.proposed_by)


def _settle_if_both(session: Session, pair: PairView, agreement: Agreement) -> AgreementState:
    state = _state(pair, agreement)
    if state.settled and pair.pairing.status == PairingStatus.INTRODUCED:
        pair.pairing.status = PairingStatus.ACTIVE
        session.add(pair.pairing)
    return state


def propose(session: Session, pairing_id: int, user_id: str, terms: Terms, now: datetime) -> AgreementState:
    """Record terms from one member. Changed terms need the partner's acceptance again."""
    pair = pair_for(session, pairing_id, user_id)
    agreement = queries.agreement_for(session, pairing_id)
    if agreement is None:
        agreement = Agreement(pairing_id=pairing_id)
    changed = agreement.id is None or Terms.of(agreement) != terms
    if changed:
        agreement.cadence = terms.cadence
        agreement.mentor_on_call = terms.mentor_on_call
        agreement.after_hours_ok = terms.after_hours_ok
        agreement.boundaries = terms.boundaries
        agreement.first_meeting_on = terms.first_meeting_on
        agreement.mentor_accepted_at = None
        agreement.mentee_accepted_at = None
        agreement.proposed_by = user_id
    _mark_accepted(agreement, pair, now)
    agreement.updated_at = now
    session.add(agreement)
    session.flush()
    return _settle_if_both(session, pair, agreement)


def accept(session: Session, pairing_id: int, user_id: str, now: datetime) -> AgreementState | None:
    """The partner accepts the terms on record; None when nothing has been proposed yet."""
    pair = pair_for(session, pairing_id, user_id)
    agreement = queries.agreement_for(session, pairing_id)
    if agreement is None:
        return None
    _mark_accepted(agreement, pair, now)
    session.add(agreement)
    session.flush()
    return _settle_if_both(session, pair, agreement)


def _mark_accepted(agreement: Agreement, pair: PairView, now: datetime) -> None:
    if pair.role == Role.MENTOR:
        agreement.mentor_accepted_at = agreement.mentor_accepted_at or now
    else:
        agreement.mentee_accepted_at = agreement.mentee_accepted_at or now

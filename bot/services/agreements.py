"""What a pair settles at the start (cadence, on call, after hours, boundaries), and who has accepted it.

Whoever submits terms accepts them; the partner then accepts or proposes a change, which resets the
first person's acceptance. The pairing turns `active` once both have accepted the same terms.

Once settled, the terms are also copied aside (`Agreement.settled_*`): a change one of them proposes later
replaces the terms on record, but the bot keeps following the settled copy until the partner accepts.
"""

from __future__ import annotations

import hashlib
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

    @classmethod
    def last_settled(cls, agreement: Agreement) -> Terms | None:
        """The copy kept from the last time both accepted; None for an agreement never settled."""
        if agreement.settled_cadence is None:
            return None
        return cls(
            cadence=agreement.settled_cadence,
            mentor_on_call=bool(agreement.settled_mentor_on_call),
            after_hours_ok=bool(agreement.settled_after_hours_ok),
            boundaries=agreement.settled_boundaries or "professional",
            first_meeting_on=agreement.settled_first_meeting_on,
        )

    @property
    def fingerprint(self) -> str:
        """Names these exact terms: an Accept button carries it, so accepting old terms cannot settle new ones."""
        text = f"{self.cadence}|{self.mentor_on_call}|{self.after_hours_ok}|{self.boundaries}|{self.first_meeting_on}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def sentences(self, work_hours: str = "") -> list[str]:
        """The terms in words; `work_hours` ("7:30 AM - 3:30 PM") names the program's own work day, which a
        school's differs from the 9 to 5 people assume."""
        hours = f" ({work_hours} on weekdays)" if work_hours else ""
        return [
            f"Meet: {CADENCES.get(self.cadence, self.cadence).lower()}",
            "Mentor on call during work hours: " + ("yes" if self.mentor_on_call else "no"),
            f"Chat outside work hours{hours}: " + ("fine" if self.after_hours_ok else "no, work hours only"),
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
    partner_name: str = ""


@dataclass(frozen=True)
class AgreementState:
    pair: PairView
    terms: Terms
    accepted_by: frozenset[str]
    proposed_by: str | None
    # False when this request changed nothing (a double click, an old button): nothing to announce.
    news: bool = True
    # True when the person accepted terms that have since changed: they must look at the new ones.
    outdated: bool = False
    # The terms the pair settled before this proposal, which the bot keeps following until it is accepted.
    in_force: Terms | None = None

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
    pair = member_view(session, pairing, user_id) if pairing is not None else None
    if pair is None or pairing is None or not pairing.is_running():
        raise NotYourPairing
    return pair


def ended_for_member(session: Session, pairing_id: int | None, user_id: str) -> bool:
    """Whether this pairing is over (its program ended, or it was dissolved) and `user_id` was one of its two:
    they are told it ended, not that it belongs to someone else."""
    pairing = queries.pairing(session, pairing_id) if pairing_id is not None else None
    if pairing is None or pairing.status not in (PairingStatus.ENDED, PairingStatus.DISSOLVED):
        return False
    return member_view(session, pairing, user_id) is not None


def member_view(session: Session, pairing: Pairing, user_id: str) -> PairView | None:
    """The pairing as `user_id` sees it, whatever its status; None unless they are one of its two members.

    `pair_for` also refuses pairings that no longer run (nothing may change them); reading back is wider."""
    members = queries.pair_members(session, pairing)
    program = queries.program_by_id(session, pairing.program_id)
    if members is None or user_id not in members or program is None:
        return None
    mentor_id, mentee_id = members
    role = Role.MENTOR if user_id == mentor_id else Role.MENTEE
    partner = mentee_id if role == Role.MENTOR else mentor_id
    partner_person = queries.person(session, partner)
    name = partner_person.display_name if partner_person is not None and partner_person.display_name else partner
    return PairView(pairing, program, user_id, role, partner, mentor_id, mentee_id, name)


def current_terms(session: Session, pair: PairView) -> Terms:
    """The terms on record, or the program's defaults for a pair that has not proposed any yet."""
    agreement = queries.agreement_for(session, pair.pairing.id)  # type: ignore[arg-type]
    if agreement is not None:
        return Terms.of(agreement)
    return Terms(
        cadence=pair.program.default_cadence, mentor_on_call=False, after_hours_ok=False, boundaries="professional"
    )


def _state(pair: PairView, agreement: Agreement, *, news: bool = True, outdated: bool = False) -> AgreementState:
    accepted = set()
    if agreement.mentor_accepted_at is not None:
        accepted.add(pair.mentor_id)
    if agreement.mentee_accepted_at is not None:
        accepted.add(pair.mentee_id)
    return AgreementState(
        pair, Terms.of(agreement), frozenset(accepted), agreement.proposed_by, news, outdated, agreed_terms(agreement)
    )


def _settle_if_both(session: Session, pair: PairView, agreement: Agreement, *, news: bool = True) -> AgreementState:
    state = _state(pair, agreement, news=news)
    if state.settled:
        _keep_as_settled(agreement)
        session.add(agreement)
        if pair.pairing.status == PairingStatus.INTRODUCED:
            pair.pairing.status = PairingStatus.ACTIVE
            session.add(pair.pairing)
    return state


def _keep_as_settled(agreement: Agreement) -> None:
    """Copy the terms both accepted aside, so a later proposal cannot change what the bot obeys meanwhile."""
    agreement.settled_cadence = agreement.cadence
    agreement.settled_mentor_on_call = agreement.mentor_on_call
    agreement.settled_after_hours_ok = agreement.after_hours_ok
    agreement.settled_boundaries = agreement.boundaries
    agreement.settled_first_meeting_on = agreement.first_meeting_on


def _locked_pair(session: Session, pairing_id: int | None, user_id: str) -> tuple[PairView, Agreement | None]:
    """The pairing and its agreement, locked for this transaction on PostgreSQL (SQLite's writers already
    serialize), so a proposal and an acceptance racing each other cannot settle terms nobody accepted."""
    if pairing_id is not None:
        queries.lock_pairing(session, pairing_id)
    pair = pair_for(session, pairing_id, user_id)
    return pair, queries.agreement_for(session, pairing_id, for_update=True)  # type: ignore[arg-type]


def propose(session: Session, pairing_id: int, user_id: str, terms: Terms, now: datetime) -> AgreementState:
    """Record terms from one member. Changed terms need the partner's acceptance again."""
    pair, agreement = _locked_pair(session, pairing_id, user_id)
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


def accept(session: Session, pairing_id: int, user_id: str, fingerprint: str, now: datetime) -> AgreementState | None:
    """The partner accepts the terms they were shown (`fingerprint`); None when nothing was proposed.

    Terms changed since that message are not accepted: the state comes back `outdated`.
    """
    pair, agreement = _locked_pair(session, pairing_id, user_id)
    if agreement is None:
        return None
    if Terms.of(agreement).fingerprint != fingerprint:
        return _state(pair, agreement, news=False, outdated=True)
    news = _mark_accepted(agreement, pair, now)
    session.add(agreement)
    session.flush()
    return _settle_if_both(session, pair, agreement, news=news)


def _mark_accepted(agreement: Agreement, pair: PairView, now: datetime) -> bool:
    """Record this person's acceptance; False when it was already recorded."""
    if pair.role == Role.MENTOR:
        if agreement.mentor_accepted_at is not None:
            return False
        agreement.mentor_accepted_at = now
    else:
        if agreement.mentee_accepted_at is not None:
            return False
        agreement.mentee_accepted_at = now
    return True


def is_settled(agreement: Agreement | None) -> bool:
    """Both accepted the terms on record (False while a change one of them proposed is pending)."""
    return (
        agreement is not None and agreement.mentor_accepted_at is not None and agreement.mentee_accepted_at is not None
    )


def agreed_terms(agreement: Agreement | None) -> Terms | None:
    """The terms in force: those on record once both accepted them, else the last ones both accepted (a change
    only one of them proposed is not agreed yet); None for a pair that never settled any."""
    if agreement is None:
        return None
    return Terms.of(agreement) if is_settled(agreement) else Terms.last_settled(agreement)


def settled_cadence(agreement: Agreement | None, default: str) -> str:
    """The cadence both people accepted; a proposal only one of them made does not change the schedule."""
    terms = agreed_terms(agreement)
    return terms.cadence if terms is not None else default


def after_hours_agreed(agreement: Agreement | None) -> bool:
    """Only a settled agreement lifts quiet hours: one person's proposal is not the pair's consent.

    Consent is also withdrawn at once: while a proposal that says "work hours only" is pending, quiet hours hold,
    since it takes one person (not both) to stop being messaged after hours.
    """
    terms = agreed_terms(agreement)
    return terms is not None and terms.after_hours_ok and agreement is not None and agreement.after_hours_ok


def propose_once(
    session: Session, request_key: str, pairing_id: int | None, user_id: str, terms: Terms, now: datetime
) -> AgreementState | None:
    """`propose`, with Slack's retry of the same submission recorded once; None for the retry."""
    if pairing_id is None:
        raise NotYourPairing
    state = propose(session, pairing_id, user_id, terms, now)
    return state if queries.remember_request(session, request_key, now) else None

"""From enrollments to pairings: preview a program's matches, approve or reject them, pair by hand.

Matching itself is a pure function (bot/services/matching.py); this module feeds it rows and stores
its answer.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from bot.mrkdwn import escape  # refusals are mrkdwn: typed words must not ping or link
from bot.services import accounts, matching
from bot.services import programs as program_rules
from bot.services.catalog import specializations
from bot.services.reasons import split_reasons
from bot.services.schedule import zone
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import (
    LIVE_PAIRING_STATUSES,
    AuditEvent,
    Enrollment,
    EnrollmentStatus,
    Pairing,
    PairingStatus,
    Person,
    Program,
    Role,
)

POOL_STATUSES = (EnrollmentStatus.APPLIED, EnrollmentStatus.WAITLISTED, EnrollmentStatus.MATCHED)


class PairingRefused(Exception):
    """A coordinator's request cannot be carried out; the message says why in plain words."""


class OwnPairing(PairingRefused):
    """The coordinator is one of the two: another coordinator of the program has to decide it."""


@dataclass(frozen=True)
class Who:
    """A participant as a coordinator's spreadsheet names them: Slack display name and organization."""

    name: str = ""
    organization: str = ""


@dataclass(frozen=True)
class PreviewPair:
    pairing: Pairing
    mentor_id: str
    mentee_id: str
    mentor: Who = Who()
    mentee: Who = Who()

    @property
    def concerns(self) -> list[str]:
        return split_reasons(self.pairing.reasons)[1]


@dataclass(frozen=True)
class MatchPreview:
    program: Program
    pairs: list[PreviewPair]  # in review order (see `review_order`)
    waitlist: list[tuple[str, str]]  # (person id, reason)
    shortages: dict[str, int]
    mentors: int
    mentees: int
    open_slots: int
    seconds: float
    waitlisted: dict[str, Who] = field(default_factory=dict)  # person id -> who, for each waitlisted mentee
    # The application deadline when the preview ran before it: people who apply later are not in it.
    applications_close: date | None = None

    @property
    def average_score(self) -> float | None:
        """Each pair scores out of 100, so the average is what a coordinator can read; None with no pairs."""
        return sum(p.pairing.score for p in self.pairs) / len(self.pairs) if self.pairs else None

    @property
    def with_concerns(self) -> int:
        return sum(1 for p in self.pairs if p.concerns)

    @property
    def fingerprint(self) -> str:
        """Which pairs this preview proposed, in 16 characters: its Approve all button carries it, so a press
        on a preview that a newer one replaced is refused rather than approving pairs it never showed."""
        return proposal_fingerprint(
            (p.pairing.mentor_enrollment_id, p.pairing.mentee_enrollment_id) for p in self.pairs
        )


def proposal_fingerprint(pairs: Iterable[tuple[int, int]]) -> str:
    """A short hash of a set of (mentor enrollment, mentee enrollment) pairs: Slack's button values hold 2,000
    characters, a list of 310 pairs does not fit, and the same pairs proposed again give the same hash."""
    text = ",".join(f"{mentor}:{mentee}" for mentor, mentee in sorted(pairs))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def review_order(pairs: list[PreviewPair]) -> list[PreviewPair]:
    """The order a coordinator reviews proposals in: those with concerns first, then the lowest scores, so
    the channel message (which lists only the first few of a big preview) shows what most needs weighing."""
    return sorted(pairs, key=lambda p: (not p.concerns, p.pairing.score))


def utc_offset_hours(timezone: str, now: datetime) -> float:
    try:
        offset = now.astimezone(ZoneInfo(timezone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0.0
    return offset.total_seconds() / 3600 if offset is not None else 0.0


def to_candidate(enrollment: Enrollment, timezone: str, now: datetime, already_assigned: int = 0) -> matching.Candidate:
    return matching.Candidate(
        enrollment_id=enrollment.id,  # type: ignore[arg-type]
        person_id=enrollment.person_id,
        library_type=enrollment.library_type,
        organization=enrollment.organization,
        region=enrollment.region,
        specializations=frozenset(enrollment.specializations or []),
        years_experience=enrollment.years_experience,
        grade_levels=frozenset(enrollment.grade_levels or []),
        meeting_format=enrollment.meeting_format,
        utc_offset_hours=utc_offset_hours(timezone, now),
        capacity=enrollment.capacity if enrollment.role == Role.MENTOR else 0,
        already_assigned=already_assigned,
        not_with=frozenset(enrollment.not_with or []),
    )


def rules_for(session: Session, program: Program) -> matching.MatchRules:
    past = queries.pairings_in_program(session, program.id, [PairingStatus.ENDED, PairingStatus.DISSOLVED])  # type: ignore[arg-type]
    by_id = {e.id: e for e in queries.enrollments_in_program(session, program.id)}  # type: ignore[arg-type]
    forbidden = {
        (by_id[p.mentor_enrollment_id].person_id, by_id[p.mentee_enrollment_id].person_id)
        for p in past
        if p.mentor_enrollment_id in by_id and p.mentee_enrollment_id in by_id
    }
    # A pair that was broken up elsewhere (a rematch request, a coordinator's dissolve, one of them leaving) is
    # not proposed again in a later cohort; this program's own past pairings are covered above.
    ended_early = {(mentor, mentee) for pid, mentor, mentee in queries.ended_early_pairs(session) if pid != program.id}
    return matching.MatchRules(
        min_mentor_years=program.min_mentor_years,
        cross_org=program.cross_org,  # type: ignore[arg-type]
        neighbor_orgs=frozenset(program.neighbor_orgs or []),
        forbidden_pairs=frozenset(forbidden),
        ended_early_pairs=frozenset(ended_early),
        weights=dict(program.weights or {}),
    )


def _names(session: Session, person_ids: list[str]) -> dict[str, str]:
    return {pid: p.display_name for pid, p in queries.people(session, person_ids).items() if p.display_name}


# A waitlisted mentee who coordinates the program reads the preview in its admin channel: the real reason
# could tell them which mentor declined them, so they (and the channel) get this instead.
COORDINATOR_WAITLIST_REASON = "No compatible mentor in this preview"


def preview(
    session: Session, program: Program, now: datetime, super_admins: frozenset[str] = frozenset()
) -> MatchPreview:
    """Propose pairs for everyone still waiting; earlier unapproved proposals are replaced.

    `super_admins` (SHELFMATE_ADMINS) coordinate every program: a waitlisted one gets a neutral reason too."""
    _decide_alone(session, program.id)  # type: ignore[arg-type]  # not while an Approve all reads the proposals
    for stale in queries.pairings_in_program(session, program.id, [PairingStatus.PROPOSED]):  # type: ignore[arg-type]
        if stale.is_draft():
            session.delete(stale)
    session.flush()

    enrollments = queries.enrollments_in_program(session, program.id)  # type: ignore[arg-type]
    live = queries.pairings_in_program(session, program.id, [s.value for s in LIVE_PAIRING_STATUSES])  # type: ignore[arg-type]
    load = Counter(p.mentor_enrollment_id for p in live)
    paired_mentees = {p.mentee_enrollment_id for p in live}
    people = queries.people(session, sorted({e.person_id for e in enrollments}))

    def zone(person_id: str) -> str:
        person = people.get(person_id)
        return person.timezone if person is not None else program.timezone

    mentors = [
        to_candidate(e, zone(e.person_id), now, load[e.id])
        for e in enrollments
        if e.role == Role.MENTOR and e.status in POOL_STATUSES and not accounts.is_deactivated(people.get(e.person_id))
    ]
    # Enrolled mentors left out of the pool: the waitlist reasons name them rather than say nobody is enrolled.
    left_out = Counter(
        "deactivated" if accounts.is_deactivated(people.get(e.person_id)) else "paused"
        for e in enrollments
        if e.role == Role.MENTOR
        and e.status != EnrollmentStatus.WITHDRAWN
        and (e.status == EnrollmentStatus.PAUSED or accounts.is_deactivated(people.get(e.person_id)))
    )
    mentees = [
        to_candidate(e, zone(e.person_id), now)
        for e in enrollments
        if e.role == Role.MENTEE
        and e.status in (EnrollmentStatus.APPLIED, EnrollmentStatus.WAITLISTED)
        and e.id not in paired_mentees
        and not accounts.is_deactivated(people.get(e.person_id))
    ]
    result = matching.match(
        mentors,
        mentees,
        rules_for(session, program),
        names=_names(session, [c.person_id for c in mentors + mentees]),
        labels=specializations(),
        paused_mentors=left_out["paused"],
        deactivated_mentors=left_out["deactivated"],
    )
    by_id = {e.id: e for e in enrollments}
    pairs = []
    for proposed in result.pairs:
        pairing = Pairing(
            program_id=program.id,  # type: ignore[arg-type]
            mentor_enrollment_id=proposed.mentor_enrollment_id,
            mentee_enrollment_id=proposed.mentee_enrollment_id,
            status=PairingStatus.PROPOSED,
            score=proposed.score,
            reasons=list(proposed.reasons),
            created_at=now,
        )
        session.add(pairing)
        mentor, mentee = by_id[proposed.mentor_enrollment_id], by_id[proposed.mentee_enrollment_id]
        mentee.status = EnrollmentStatus.APPLIED
        mentee.waitlist_reason = None
        session.add(mentee)
        pairs.append(
            PreviewPair(
                pairing=pairing,
                mentor_id=mentor.person_id,
                mentee_id=mentee.person_id,
                mentor=_who(mentor, people),
                mentee=_who(mentee, people),
            )
        )
    waitlist = []
    waitlisted: dict[str, Who] = {}
    for waiting in result.waitlist:
        mentee = by_id[waiting.mentee_enrollment_id]
        waitlisted[mentee.person_id] = _who(mentee, people)
        reason = (
            COORDINATOR_WAITLIST_REASON
            if program_rules.is_program_admin(program, mentee.person_id, super_admins)
            else waiting.reason
        )
        mentee.status = EnrollmentStatus.WAITLISTED
        mentee.waitlist_reason = reason[:500]
        session.add(mentee)
        waitlist.append((mentee.person_id, reason))
    session.flush()
    return MatchPreview(
        program=program,
        pairs=review_order(pairs),
        waitlist=waitlist,
        shortages=dict(result.shortages),
        mentors=len(mentors),
        mentees=len(mentees),
        open_slots=result.stats.open_slots,
        seconds=result.stats.seconds,
        waitlisted=waitlisted,
        applications_close=program.applications_close if now < program_rules.applications_deadline(program) else None,
    )


def coordinator_preview(
    session: Session, program_id: int, actor: str, now: datetime, super_admins: frozenset[str] = frozenset()
) -> MatchPreview:
    """`/mentor-admin match preview`: propose the program's pairs (`preview`) and record the preview in the
    audit trail with its fingerprint, which tells Approve all on an older, replaced preview from the latest one's.
    """
    program = queries.program_by_id(session, program_id)
    assert program is not None  # the coordinator's command resolved it; programs are never deleted
    proposed = preview(session, program, now, super_admins)
    program_rules.record_admin_action(
        session,
        actor,
        PREVIEW_ACTION,
        program_id,
        {"pairs": len(proposed.pairs), "waitlist": len(proposed.waitlist), "fingerprint": proposed.fingerprint},
        now,
    )
    return proposed


def _who(enrollment: Enrollment, people: dict[str, Person]) -> Who:
    person = people.get(enrollment.person_id)
    return Who(name=person.display_name if person is not None else "", organization=enrollment.organization)


def _binding(pairing: Pairing) -> bool:
    """A pairing that holds a mentor's slot: approved (or introduced, active). A bare proposal does not."""
    return not pairing.is_draft()


def _decide_alone(session: Session, program_id: int) -> None:
    """Wait for any other pairing decision in this program to commit, and read what it wrote.

    A double click or Slack's retry runs the same decision twice at once; on PostgreSQL both would read the
    proposal as open and both approve it (two audit events, "approved" said twice). SQLite's writers already
    run one at a time.
    """
    queries.lock_program(session, program_id)


def _decide_alone_on(session: Session, pairing: Pairing) -> None:
    """`_decide_alone` for one pairing, then read it again: a concurrent copy may just have decided it."""
    _decide_alone(session, pairing.program_id)
    session.refresh(pairing)


class _Approver:
    """Re-checks proposals at approval time against what is true now, not at preview time.

    Between a preview and a click, people pause or leave, coordinators pair by hand, mentors lower their
    capacity or add someone to their "not with" list. A proposal is approved only if it still passes every
    hard rule with the mentor's load counted from binding pairings (approved ones and those approved here
    before it); otherwise it stays proposed and the coordinator is told why.
    """

    def __init__(self, session: Session, program: Program, now: datetime) -> None:
        self.session, self.program, self.now = session, program, now
        self.rules = rules_for(session, program)
        live = queries.pairings_in_program(session, program.id, [s.value for s in LIVE_PAIRING_STATUSES])  # type: ignore[arg-type]
        self.load = Counter(p.mentor_enrollment_id for p in live if _binding(p))
        self.taken = {p.mentee_enrollment_id for p in live if _binding(p)}

    def problem(self, mentor: Enrollment, mentee: Enrollment) -> str | None:
        """Why this proposal cannot be approved now, in words for the coordinator; None when it can."""
        again = f" Run a new preview to find <@{mentee.person_id}> a mentor."
        if {mentor.status, mentee.status} & {EnrollmentStatus.WITHDRAWN, EnrollmentStatus.PAUSED}:
            return "One of these people has paused or left since the preview. Run a new preview."
        if mentee.id in self.taken:
            return f"<@{mentee.person_id}> already has a mentor in {escape(self.program.name)}."
        people = queries.people(self.session, [mentor.person_id, mentee.person_id])

        def zone(person_id: str) -> str:
            return people[person_id].timezone if person_id in people else self.program.timezone

        verdict = matching.explain_pair(
            to_candidate(mentor, zone(mentor.person_id), self.now, self.load[mentor.id]),
            to_candidate(mentee, zone(mentee.person_id), self.now),
            self.rules,
            names={person_id: _MENTION.format(person_id) for person_id in (mentor.person_id, mentee.person_id)},
            labels=specializations(),
        )
        if isinstance(verdict, matching.Forbidden):
            return f"Not approved: {_mrkdwn_reason(verdict.reason)}.{again}"
        return None

    def approve(self, pairing: Pairing, actor: str, *, audit: bool = True) -> bool:
        """False when already decided (a double click changes nothing); PairingRefused when it no longer fits,
        or when it is the coordinator's own pairing (a conflict of interest, as in `check_hand_pair`).

        `audit=False` when the caller records one event for many approvals (Approve all): the pairing keeps
        who approved it and when (`decided_by`, `approved_at`) either way."""
        if not pairing.is_draft():
            return False
        mentor = queries.enrollment(self.session, pairing.mentor_enrollment_id)
        mentee = queries.enrollment(self.session, pairing.mentee_enrollment_id)
        if mentor is None or mentee is None:
            return False
        if actor in (mentor.person_id, mentee.person_id):
            raise OwnPairing(own_pairing_message(self.program))
        if problem := self.problem(mentor, mentee):
            raise PairingRefused(problem)
        pairing.approved_at = self.now
        pairing.decided_by = actor
        self.session.add(pairing)
        for enrollment in (mentor, mentee):
            enrollment.status = EnrollmentStatus.MATCHED
            enrollment.updated_at = self.now
            self.session.add(enrollment)
        self.load[mentor.id] += 1  # type: ignore[index]
        self.taken.add(mentee.id)  # type: ignore[arg-type]
        if audit:
            program_rules.record_admin_action(
                self.session, actor, "pairing.approve", pairing.program_id, {"pairing_id": pairing.id}, self.now
            )
        return True


def approve(session: Session, pairing: Pairing, actor: str, now: datetime) -> bool:
    """Approve one proposal; False when it was already decided, PairingRefused (with why) when it no longer fits."""
    _decide_alone_on(session, pairing)
    program = queries.program_by_id(session, pairing.program_id)
    if program is None:
        return False
    return _Approver(session, program, now).approve(pairing, actor)


@dataclass(frozen=True)
class ApprovalResult:
    approved: int
    refused: list[tuple[str, str, str]]  # (mentor id, mentee id, why it was not approved)
    decided_one_by_one: int = 0  # the preview's proposals approved or rejected with their own buttons before


class PreviewReplaced(PairingRefused):
    """Approve all was pressed on a preview that a newer one has replaced: its proposals are gone."""


PREVIEW_ACTION = "match.preview"


# A coordinator's decision on one proposal with its own button: Approve all says how many came before it.
ONE_BY_ONE_ACTIONS = ["pairing.approve", "pairing.reject"]


def _fingerprint(preview_event: AuditEvent | None) -> str | None:
    fingerprint = (preview_event.detail or {}).get("fingerprint") if preview_event is not None else None
    return str(fingerprint) if fingerprint else None


def decided_one_by_one(session: Session, program_id: int, preview_event: AuditEvent | None) -> int:
    """How many of the latest preview's proposals a coordinator approved or rejected with their own buttons.

    Only that preview's proposals can be: a newer preview deletes the open ones of an older, a hand pairing is
    approved as it is made, and a proposal already decided cannot be decided again."""
    if preview_event is None:
        return 0
    events = queries.audit_events_after(session, program_id, ONE_BY_ONE_ACTIONS, preview_event)
    return len({(e.detail or {}).get("pairing_id") for e in events})


def approve_all(
    session: Session, program: Program, actor: str, now: datetime, *, preview_fingerprint: str | None = None
) -> ApprovalResult:
    """Approve every open proposal of the preview the coordinator saw that still fits, best scores first; the
    rest are reported, not dropped. One audit event records the whole action.

    `preview_fingerprint` is the pressed button's (None from a button that carried none): unless it is the
    latest preview's, a newer preview replaced the one pressed and nothing is approved (PreviewReplaced).
    Proposals decided one by one since the preview do not change it: Approve all then approves the others,
    which is what the coordinator who rejected a few and pressed it expects.

    Best first so that when a later change leaves room for only some of a mentor's proposals, the
    strongest ones are kept.
    """
    _decide_alone(session, program.id)  # type: ignore[arg-type]
    preview_event = queries.latest_audit_event(session, program.id, PREVIEW_ACTION)  # type: ignore[arg-type]
    if preview_fingerprint != _fingerprint(preview_event):
        raise PreviewReplaced(
            f"A newer preview of {escape(program.name)} replaced this one, so nothing was approved: "
            "use the buttons on the latest preview."
        )
    approver = _Approver(session, program, now)
    proposals = queries.pairings_in_program(session, program.id, [PairingStatus.PROPOSED])  # type: ignore[arg-type]
    approved, refused = 0, []
    for pairing in sorted(proposals, key=lambda p: (-p.score, p.id or 0)):
        try:
            approved += approver.approve(pairing, actor, audit=False)
        except PairingRefused as problem:
            mentor = queries.enrollment(session, pairing.mentor_enrollment_id)
            mentee = queries.enrollment(session, pairing.mentee_enrollment_id)
            why = (
                f"your own pairing, left for another coordinator of {escape(program.name)} to approve"
                if isinstance(problem, OwnPairing)
                else str(problem)
            )
            refused.append((mentor.person_id if mentor else "", mentee.person_id if mentee else "", why))
    if approved:  # a second press that found nothing left changed nothing, and is not an action to audit
        program_rules.record_admin_action(
            session, actor, "pairing.approve_all", program.id, {"approved": approved, "not_approved": len(refused)}, now
        )
    return ApprovalResult(
        approved=approved,
        refused=refused,
        decided_one_by_one=decided_one_by_one(session, program.id, preview_event),  # type: ignore[arg-type]
    )


def approve_all_in_program(
    session: Session, program_id: int, actor: str, now: datetime, *, preview_fingerprint: str | None = None
) -> ApprovalResult:
    """`approve_all` for a program named by id (an Approve all button's): nothing to approve if it is gone."""
    program = queries.program_by_id(session, program_id)
    if program is None:
        return ApprovalResult(approved=0, refused=[])
    return approve_all(session, program, actor, now, preview_fingerprint=preview_fingerprint)


def reject(session: Session, pairing: Pairing, actor: str, now: datetime) -> bool:
    """A rejected proposal is dissolved, so matching never proposes the same two people again.

    OwnPairing when the coordinator is one of the two: like approving it, that is another coordinator's call."""
    _decide_alone_on(session, pairing)
    if not pairing.is_draft():
        return False
    _refuse_own(session, pairing, actor)
    pairing.status = PairingStatus.DISSOLVED
    pairing.ended_at = now
    pairing.end_reason = "Rejected by a coordinator."
    pairing.decided_by = actor
    session.add(pairing)
    program_rules.record_admin_action(
        session, actor, "pairing.reject", pairing.program_id, {"pairing_id": pairing.id}, now
    )
    return True


def own_pairing_message(program: Program, *, approved: bool = False) -> str:
    """A coordinator never decides a pairing they are in: by hand, by Approve, Approve all, Reject, Dissolve or
    unpair. Once it is approved they can ask for a change as any participant does (`approved`)."""
    ask = " If your pairing isn't working, `/mentor rematch <reason>` tells the coordinators why." if approved else ""
    return (
        f"You're one of these two, so please ask another coordinator of {escape(program.name)} to decide your "
        f"own pairing.{ask} Nothing changed."
    )


def _refuse_own(session: Session, pairing: Pairing, actor: str) -> None:
    """OwnPairing when `actor` is the mentor or the mentee of this pairing, a global admin too (as for Approve)."""
    members = queries.pair_members(session, pairing)
    if members is None or actor not in members:
        return
    program = queries.program_by_id(session, pairing.program_id)
    assert program is not None  # a pairing's program is a foreign key
    raise OwnPairing(own_pairing_message(program, approved=pairing.approved_at is not None))


# A person named in a refusal's reason, marked so that the words typed around it (organizations, regions) can be
# escaped for Slack's mrkdwn and the name then made a mention. NUL never reaches a typed answer.
_MENTION = "\x00{}\x00"


def _mrkdwn_reason(reason: str) -> str:
    """A matching reason, whose typed words are quoted as typed (no `<!channel>` ping), with its people mentioned."""
    return re.sub("\x00([^\x00]+)\x00", r"<@\1>", escape(reason))


@dataclass(frozen=True)
class HandPairCheck:
    mentor: Enrollment
    mentee: Enrollment
    verdict: matching.PairScore | matching.Forbidden
    # These two are already paired (a double click, Slack's retry, or another coordinator got there first).
    already: Pairing | None = None


def check_hand_pair(
    session: Session, program: Program, mentor_id: str, mentee_id: str, now: datetime, *, actor: str
) -> HandPairCheck:
    """Check a coordinator's own pair against the hard rules.

    A hand pair supersedes the machine's unapproved proposals: the mentor's load counts binding pairings
    only, because a coordinator pairing by hand has decided, while a proposal is a suggestion awaiting
    review. A proposal that no longer fits afterwards is refused at approval, with the reason.

    Refused outright, never offered as an override: a pair of one person, a pair in a program that ended,
    and a coordinator pairing themselves (a conflict of interest; the answer names nobody's not-with list).
    """
    if mentor_id == mentee_id:
        raise PairingRefused("A pair needs two different people: nobody can be their own mentor. Nothing changed.")
    if actor in (mentor_id, mentee_id):
        raise PairingRefused(own_pairing_message(program))
    if program_rules.has_ended(program, now):
        raise PairingRefused(program_rules.ended_message(program))
    mentor = queries.enrollment_for(session, program.id, mentor_id, Role.MENTOR)  # type: ignore[arg-type]
    mentee = queries.enrollment_for(session, program.id, mentee_id, Role.MENTEE)  # type: ignore[arg-type]
    if mentor is None or mentor.status == EnrollmentStatus.WITHDRAWN:
        raise PairingRefused(f"<@{mentor_id}> is not a mentor in {escape(program.name)}.")
    if mentee is None or mentee.status == EnrollmentStatus.WITHDRAWN:
        raise PairingRefused(f"<@{mentee_id}> is not a mentee in {escape(program.name)}.")
    for person_id, enrollment in ((mentor_id, mentor), (mentee_id, mentee)):
        if enrollment.status == EnrollmentStatus.PAUSED:  # pairing would end the pause and message them
            until = f" until {enrollment.paused_until:%b %-d, %Y}" if enrollment.paused_until else ""
            raise PairingRefused(
                f"<@{person_id}> has paused{until}, so nothing changed. Pair them once they `/mentor resume`."
            )
    live = queries.pairings_of_enrollments(session, [mentee.id])  # type: ignore[list-item]
    taken = [p for p in live if _binding(p) and p.mentee_enrollment_id == mentee.id]
    already = next((p for p in taken if p.mentor_enrollment_id == mentor.id), None)
    if taken and already is None:
        raise PairingRefused(f"<@{mentee_id}> already has a mentor in {escape(program.name)}. Unpair them first.")
    load = sum(
        1
        for p in queries.pairings_of_enrollments(session, [mentor.id])  # type: ignore[list-item]
        if _binding(p) and p.mentor_enrollment_id == mentor.id
    )
    people = queries.people(session, [mentor_id, mentee_id])
    verdict = matching.explain_pair(
        to_candidate(mentor, people[mentor_id].timezone if mentor_id in people else program.timezone, now, load),
        to_candidate(mentee, people[mentee_id].timezone if mentee_id in people else program.timezone, now),
        rules_for(session, program),
        names=_names(session, [mentor_id, mentee_id]),
        labels=specializations(),
    )
    return HandPairCheck(mentor=mentor, mentee=mentee, verdict=verdict, already=already)


def pair_by_hand_once(
    session: Session, program: Program, mentor_id: str, mentee_id: str, actor: str, now: datetime, *, override: bool
) -> Pairing | None:
    """A coordinator's own decision: hard rules still apply unless the coordinator confirmed an override.

    None when these two are already paired (a double click, Slack's retry): nothing changes."""
    _decide_alone(session, program.id)  # type: ignore[arg-type]
    check = check_hand_pair(session, program, mentor_id, mentee_id, now, actor=actor)
    if check.already is not None:
        return None
    if isinstance(check.verdict, matching.Forbidden) and not override:
        raise PairingRefused(escape(check.verdict.reason))  # names and answers as typed, no mentions
    existing = [
        p
        for p in queries.pairings_in_program(session, program.id)  # type: ignore[arg-type]
        if p.mentor_enrollment_id == check.mentor.id and p.mentee_enrollment_id == check.mentee.id
    ]
    for stale in queries.pairings_of_enrollments(session, [check.mentee.id]):  # type: ignore[list-item]
        if stale.is_draft() and stale not in existing:
            session.delete(stale)
    pairing = (
        existing[0]
        if existing
        else Pairing(program_id=program.id, mentor_enrollment_id=check.mentor.id, mentee_enrollment_id=check.mentee.id)
    )  # type: ignore[arg-type]
    if isinstance(check.verdict, matching.PairScore):
        pairing.score, pairing.reasons = check.verdict.score, list(check.verdict.reasons)
    else:
        pairing.score, pairing.reasons = 0.0, [f"Paired by a coordinator despite: {check.verdict.reason}"]
    pairing.status = PairingStatus.PROPOSED
    pairing.ended_at = None
    pairing.end_reason = None
    pairing.approved_at = now
    pairing.decided_by = actor
    pairing.created_at = now
    session.add(pairing)
    for enrollment in (check.mentor, check.mentee):
        enrollment.status = EnrollmentStatus.MATCHED
        enrollment.waitlist_reason = None
        session.add(enrollment)
    session.flush()
    program_rules.record_admin_action(
        session,
        actor,
        "pairing.hand_pair",
        program.id,
        {"pairing_id": pairing.id, "override": isinstance(check.verdict, matching.Forbidden)},
        now,
    )
    return pairing


def dissolve(session: Session, pairing: Pairing, actor: str, now: datetime, reason: str) -> bool:
    """End a live pairing; False when it had already ended (a double click, Slack's retry): nothing changes.

    OwnPairing when the coordinator is one of the two: another coordinator decides (they can ask with
    `/mentor rematch`)."""
    _decide_alone_on(session, pairing)
    if pairing.status not in LIVE_PAIRING_STATUSES:
        return False
    _refuse_own(session, pairing, actor)
    pairing.status = PairingStatus.DISSOLVED
    pairing.ended_at = now
    pairing.end_reason = reason[:500]
    session.add(pairing)
    for enrollment_id in (pairing.mentor_enrollment_id, pairing.mentee_enrollment_id):
        enrollment = queries.enrollment(session, enrollment_id)
        if enrollment is not None and enrollment.status == EnrollmentStatus.MATCHED:
            others = [p for p in queries.pairings_of_enrollments(session, [enrollment_id]) if p.id != pairing.id]
            if not others:
                enrollment.status = EnrollmentStatus.APPLIED
                session.add(enrollment)
    program_rules.record_admin_action(
        session, actor, "pairing.dissolve", pairing.program_id, {"pairing_id": pairing.id, "reason": reason[:200]}, now
    )
    return True


# What a coordinator's Approve, Reject or Dissolve button did, in the words their answer uses.
Decision = Literal["approved", "rejected", "dissolved"]
COORDINATOR_DISSOLVE_REASON = "Dissolved by a coordinator."


@dataclass(frozen=True)
class Decided:
    """The outcome of one decision on one pairing: whether it changed anything (a double click does not), and
    the two people (mentor, mentee) the answer names; None when the pairing is no longer known."""

    changed: bool
    members: tuple[str, str] | None


def program_of_pairing(session: Session, pairing_id: int | None) -> Program | None:
    """The program a pairing belongs to, so the listener can check that the clicker coordinates it; None when
    the pairing (or its program) no longer exists."""
    pairing = queries.pairing(session, pairing_id) if pairing_id is not None else None
    return queries.program_by_id(session, pairing.program_id) if pairing is not None else None


def decide(session: Session, pairing_id: int, decision: Decision, actor: str, now: datetime) -> Decided:
    """Approve, reject or dissolve one pairing by id (a coordinator's button), and say whom it was about.

    PairingRefused (with why) as `approve`, `reject` and `dissolve` raise it."""
    pairing = queries.pairing(session, pairing_id)
    if pairing is None:
        return Decided(changed=False, members=None)
    if decision == "approved":
        changed = approve(session, pairing, actor, now)
    elif decision == "rejected":
        changed = reject(session, pairing, actor, now)
    else:  # the button is under a rematch request or under the alert that a member's account was deactivated
        changed = dissolve(session, pairing, actor, now, COORDINATOR_DISSOLVE_REASON)
    return Decided(changed=changed, members=queries.pair_members(session, pairing))


def unpair(session: Session, program: Program, mentor_id: str, mentee_id: str, actor: str, now: datetime) -> Pairing:
    mentor = queries.enrollment_for(session, program.id, mentor_id, Role.MENTOR)  # type: ignore[arg-type]
    mentee = queries.enrollment_for(session, program.id, mentee_id, Role.MENTEE)  # type: ignore[arg-type]
    theirs = (
        [
            p
            for p in queries.pairings_of_enrollments(session, [mentee.id], live_only=False)  # type: ignore[list-item]
            if p.mentor_enrollment_id == mentor.id
        ]
        if mentor is not None and mentee is not None
        else []
    )
    live = [p for p in theirs if p.status in LIVE_PAIRING_STATUSES]
    if live:
        dissolve(session, live[0], actor, now, "Unpaired by a coordinator.")
        return live[0]
    ended_at = max((p.ended_at for p in theirs if p.ended_at is not None), default=None)
    if ended_at is not None:  # typed twice, or a second coordinator: say it is done, not that they never were
        aware = ended_at if ended_at.tzinfo else ended_at.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        on = aware.astimezone(zone(program.timezone)).strftime("%b %-d, %Y")
        raise PairingRefused(
            f"<@{mentor_id}> and <@{mentee_id}> were already unpaired in {escape(program.name)} on {on}; nothing changed."
        )
    raise PairingRefused(f"<@{mentor_id}> and <@{mentee_id}> are not paired in {escape(program.name)}.")


@dataclass(frozen=True)
class RematchRequest:
    pairing: Pairing
    program: Program
    requester_id: str
    partner_id: str
    requester_is_mentor: bool = False


def rematch_requests(session: Session, person_id: str) -> list[RematchRequest]:
    """Live pairings a participant can ask to end; the reason is kept only until it is sent to admins."""
    requests = []
    mine = [e for e in queries.enrollments_of_person(session, person_id) if e.status != EnrollmentStatus.WITHDRAWN]
    for pairing in queries.pairings_of_enrollments(session, [e.id for e in mine]):  # type: ignore[misc]
        if pairing.is_draft():  # not the pair's yet: nobody approved it, so there is nothing to end
            continue
        program = queries.program_by_id(session, pairing.program_id)
        mentor = queries.enrollment(session, pairing.mentor_enrollment_id)
        mentee = queries.enrollment(session, pairing.mentee_enrollment_id)
        if program is None or mentor is None or mentee is None:
            continue
        partner = mentee.person_id if mentor.person_id == person_id else mentor.person_id
        requests.append(
            RematchRequest(
                pairing=pairing,
                program=program,
                requester_id=person_id,
                partner_id=partner,
                requester_is_mentor=mentor.person_id == person_id,
            )
        )
    return requests


@dataclass(frozen=True)
class RematchRoute:
    """Who may read a rematch reason. Normally the program's admin channel; when the partner it is about
    coordinates the program (and so reads that channel), only the other coordinators, each by DM."""

    recipients: list[str]
    privately: bool  # the partner coordinates the program: recipients are people, not the admin channel


def rematch_route(request: RematchRequest, super_admins: frozenset[str]) -> RematchRoute:
    program = request.program
    if not program_rules.is_program_admin(program, request.partner_id, super_admins):
        return RematchRoute(recipients=[program.admin_channel] if program.admin_channel else [], privately=False)
    others = program_rules.program_coordinators(program, super_admins) - {request.partner_id, request.requester_id}
    return RematchRoute(recipients=sorted(others), privately=True)


REMATCH_REQUEST = "rematch_request"


def claim_rematch_choice(
    session: Session, user_id: str, pairing_id: int, message_ts: str, reason: str, now: datetime
) -> bool:
    """True the first time this choice (the choice message, the pairing picked, the reason it carries) is
    pressed: a double click or Slack's retry of it sends the request once."""
    digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
    return queries.remember_request(session, f"rematch:{user_id}:{pairing_id}:{message_ts}:{digest}", now)


REMATCH_REASON_LIMIT = 1000  # characters of a rematch reason passed on to the coordinators


def queue_rematch(
    session: Session, request: RematchRequest, route: RematchRoute, reason: str, now: datetime
) -> list[DeliveryKey]:
    """The rematch reason, one Delivery row per recipient: sent once (a retried command, or the same reason
    typed again that day, finds its row), and a post the admin channel refuses is copied to the coordinators
    by DM. A private route's rows name no program, so a failure is never reported in the admin channel that
    the partner it is about reads."""
    said = hashlib.sha256(f"{request.requester_id}:{reason}".encode()).hexdigest()[:20]
    payload = {
        "pairing_id": request.pairing.id or 0,
        "requester": request.requester_id,
        "partner": request.partner_id,
        "program": request.program.name,
        "reason": reason,
        "privately": route.privately,
    }
    keys = []
    for recipient in route.recipients:
        # The key's period is 32 characters at most: the recipient goes in the subject, the day and words after.
        key = DeliveryKey(REMATCH_REQUEST, f"pairing:{request.pairing.id}:{recipient}", f"{now:%Y-%m-%d}:{said}")
        deliveries.enqueue(
            session,
            key,
            recipient=recipient,
            due_at=now,
            payload=payload,
            program_id=None if route.privately else request.program.id,
            now=now,
        )
        keys.append(key)
    return keys

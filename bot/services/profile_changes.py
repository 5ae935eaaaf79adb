"""A paired person edits an answer their match was based on: the program's coordinators are told what changed.

Only answers that the pair's match actually used count, judged pair by pair: both breakdowns (before and after
the edit, `matching.score_pair`) are compared part by part, and a changed answer is told when a part of the
match that reads it now reads differently. A region is used only when someone wants to meet in person; goals,
capacity and the people someone asked not to be paired with are no part of a pair's score (and the last is
private), so they are never told. The message names the answers, their old and new values, the partner, and how
the changed parts of the match read now.

The pairing's stored score and reasons are left as they were: they are the record of what the coordinator
approved (and, for a pair made by hand over a rule, of that decision), and the coordinators' message says what
reads differently now.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.services import matching
from bot.services import pairing as pairing_service
from bot.services import programs as program_rules
from bot.services.catalog import (
    GRADE_LEVELS,
    LIBRARY_TYPES,
    MEETING_FORMATS,
    specialization_label,
    specializations,
    years_phrase,
)
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import Delivery, DeliveryStatus, Enrollment, Pairing, Person, Program, Role

PROFILE_CHANGED = "profile_changed"
# Hex digits of a change's digest in its notice's key: with the day ("2025-04-10:") it fits the 32-character
# period, and 80 bits leave no chance of two changes to one person's answers sharing a key.
NOTICE_DIGEST_LENGTH = 20
# A change repeated the same day (an answer flipped back and forth) is told once the person has left it alone
# this long; a flip back in the meantime cancels it.
CHANGE_SETTLES = timedelta(minutes=30)
# In a notice's payload: the answers it told, as they were then (raw values), to know what coordinators know.
TOLD_ANSWERS = "told_answers"


def _listed(labels: dict[str, str]) -> Callable[[Any], str]:
    return lambda values: ", ".join(labels.get(v, v) for v in values) or "none"


def _text(value: Any) -> str:
    return " ".join(str(value).split()) or "not given"


@dataclass(frozen=True)
class MatchAnswer:
    """An intake answer that matching reads: its words for coordinators, and the parts of the score reading it."""

    label: str
    components: frozenset[str]
    shown: Callable[[Any], str]


MATCH_ANSWERS: dict[str, MatchAnswer] = {
    "library_type": MatchAnswer(
        "library type", frozenset({"library_type", "grade_levels"}), lambda v: LIBRARY_TYPES.get(v, _text(v))
    ),
    "organization": MatchAnswer("organization", frozenset({"cross_org"}), _text),
    "region": MatchAnswer("region", frozenset({"meeting_format"}), _text),
    "specializations": MatchAnswer(
        "specializations", frozenset({"specialization"}), lambda v: ", ".join(map(specialization_label, v)) or "none"
    ),
    "years_experience": MatchAnswer("years of experience", frozenset({"experience"}), years_phrase),
    "grade_levels": MatchAnswer("grade levels", frozenset({"grade_levels"}), _listed(GRADE_LEVELS)),
    "meeting_format": MatchAnswer(
        "meeting format", frozenset({"meeting_format"}), lambda v: MEETING_FORMATS.get(v, _text(v))
    ),
}


def match_answers(enrollment: Enrollment) -> dict[str, Any]:
    """The answers matching reads, as they are now (taken before an edit, to compare after it)."""
    return {name: _comparable(getattr(enrollment, name)) for name in MATCH_ANSWERS}


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(sorted(value))
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def queue_edit_notice(
    session: Session,
    enrollment: Enrollment,
    before: dict[str, Any],
    now: datetime,
    coordinators: frozenset[str] = frozenset(),
) -> list[DeliveryKey]:
    """Tell the program's coordinators which answers a running pairing's match used have changed. The keys of
    the rows written (none when nothing the match used changed, or the person is not paired).

    Each distinct change (these answers, from these values to those, for these pairs) is told at most once a
    day in the program's time zone (`_notice_period`): a resent submission finds its row, and a person flipping
    an answer back and forth posts two notices that day, not one a save. A change repeated that day is held
    back until the person stops flipping (CHANGE_SETTLES), and dropped if the answers end where the last notice
    left them, so the coordinators' last notice is never wrong. The same change made again on another day is
    told again."""
    after = match_answers(enrollment)
    changed = {name for name in MATCH_ANSWERS if before.get(name) != after[name]}
    program = queries.program_by_id(session, enrollment.program_id)
    if not changed or program is None or enrollment.id is None:
        return []
    pairings = [
        pairing
        for pairing in queries.pairings_of_enrollments(session, [enrollment.id])
        # a draft the coordinators have not approved: the next preview scores it afresh
        if not pairing.is_draft()
    ]
    if not pairings:
        return []
    # Read once for all the person's pairs (a mentor may have many), not once a pair: the program's rules, the
    # pairs' members and their people.
    rules = pairing_service.rules_for(session, program)
    members = queries.enrollments_by_id(
        session, sorted({e for p in pairings for e in (p.mentor_enrollment_id, p.mentee_enrollment_id)})
    )
    members[enrollment.id] = enrollment
    people = queries.people(session, sorted({e.person_id for e in members.values()}))
    pairs = []
    told: set[str] = set()
    for pairing in pairings:
        found = _pair_change(program, rules, pairing, members, people, enrollment, before, changed)
        if found is not None:
            answers, pair = found
            told |= answers
            pairs.append(pair)
    if not pairs:
        return []
    payload = {
        "program": program.name,
        "person": enrollment.person_id,
        "role": enrollment.role,
        "changes": [
            [MATCH_ANSWERS[name].label, MATCH_ANSWERS[name].shown(before[name]), MATCH_ANSWERS[name].shown(after[name])]
            for name in MATCH_ANSWERS
            if name in told
        ],
        "pairs": pairs,
    }
    payload[TOLD_ANSWERS] = {name: after[name] for name in sorted(told)}
    period = _notice_period(program, now, [(name, before[name], after[name]) for name in sorted(told)], pairs)
    subject = f"enrollment:{enrollment.id}"
    earlier = deliveries.rows_about(session, PROFILE_CHANGED, subject)
    for row in earlier:  # a held-back change not yet told is superseded by this one
        if row.status == DeliveryStatus.DUE and row.period.startswith(_held_prefix(period)):
            row.status, row.error = DeliveryStatus.SKIPPED, "superseded by a later change"
            session.add(row)
    due_at = now
    if any(row.period == period for row in earlier):
        # This very change was told today: the person is flipping an answer back and forth. Not told again
        # at once, but the coordinators' last notice must not stay wrong: unless the answers are back where
        # it left them, the change is told once they have stopped flipping (CHANGE_SETTLES later).
        last = next((r for r in reversed(earlier) if r.status != DeliveryStatus.SKIPPED), None)
        if last is not None and _left_as(last, after, told):
            return []
        period, due_at = f"{_held_prefix(period)}{len(earlier)}", now + CHANGE_SETTLES
    return program_rules.queue_coordinator_notice(
        session,
        program,
        DeliveryKey(PROFILE_CHANGED, subject, period),
        payload,
        due_at=due_at,
        now=now,
        coordinators=coordinators,
        leave_out=frozenset({enrollment.person_id}),
    )


def _held_prefix(period: str) -> str:
    """The key period of a held-back change on this notice's day ("2025-04-10:held:")."""
    return period.split(":", 1)[0] + ":held:"


def _left_as(row: Delivery, after: dict[str, Any], told: set[str]) -> bool:
    """Whether this notice left the coordinators knowing these answers as they are now."""
    known = (row.payload or {}).get(TOLD_ANSWERS) or {}
    return all(name in known and _comparable(known[name]) == after[name] for name in told)


def _notice_period(
    program: Program, now: datetime, changes: list[tuple[str, Any, Any]], pairs: list[dict[str, Any]]
) -> str:
    """The program's local day and a digest of the change (answers, old and new values, the pairs it is
    about): the key under which a notice is told once. A hash, since typed answers exceed the key's length."""
    change = json.dumps([changes, sorted((pair["mentor"], pair["mentee"]) for pair in pairs)], default=str)
    digest = hashlib.sha256(change.encode()).hexdigest()[:NOTICE_DIGEST_LENGTH]
    return f"{now.astimezone(program_rules.program_zone(program)).date().isoformat()}:{digest}"


def _pair_change(
    program: Program,
    rules: matching.MatchRules,
    pairing: Pairing,
    members: dict[int, Enrollment],
    people: dict[str, Person],
    enrollment: Enrollment,
    before: dict[str, Any],
    changed: set[str],
) -> tuple[set[str], dict[str, Any]] | None:
    """(the changed answers this pairing's match used, how its match reads then and now); None when no part of
    it reads differently. `members` and `people` hold the enrollments and people of the pairing (read once for
    all the edited person's pairs)."""
    mentor = members.get(pairing.mentor_enrollment_id)
    mentee = members.get(pairing.mentee_enrollment_id)
    if mentor is None or mentee is None:
        return None
    names = {
        pid: p.display_name for pid in (mentor.person_id, mentee.person_id) if (p := people.get(pid)) and p.display_name
    }

    def candidate(e: Enrollment, answers: dict[str, Any] | None = None) -> matching.Candidate:
        person = people.get(e.person_id)
        plain = pairing_service.to_candidate(e, person.timezone if person else program.timezone, pairing.created_at)
        if answers is None:
            return plain
        return dataclasses.replace(plain, **answers)  # lists as tuples: Candidate keeps them as sets

    mine = enrollment.role == Role.MENTOR
    old_pair = (
        (candidate(mentor, before), candidate(mentee)) if mine else (candidate(mentor), candidate(mentee, before))
    )
    new_pair = (candidate(mentor), candidate(mentee))
    old = _by_component(matching.score_pair(*old_pair, rules, names=names, labels=specializations()))
    new = _by_component(matching.score_pair(*new_pair, rules, names=names, labels=specializations()))
    moved = {name for name in set(old) | set(new) if old.get(name) != new.get(name)}
    answers = {name for name in changed if MATCH_ANSWERS[name].components & moved}
    if not answers:
        return None
    order = [name for name in matching.COMPONENTS if name in moved]
    return answers, {
        "mentor": mentor.person_id,
        "mentee": mentee.person_id,
        "was": [old[name][0] for name in order if name in old],
        "now": [new[name][0] for name in order if name in new],
        # A part of the match that was fine and is now a concern: the pairing may no longer fit.
        "new_concern": any(new[n][1] and not old.get(n, ("", False))[1] for n in order if n in new),
    }


def _by_component(score: matching.PairScore) -> dict[str, tuple[str, bool]]:
    """Each part of a match: (its reason as shown to people, whether it is a concern)."""
    return {part.name: (part.reason, part.concern) for part in score.components}

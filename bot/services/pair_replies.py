"""One member's action on a pairing and the pair's message about it, saved in one transaction.

The message goes into the Delivery ledger beside the action, so a crash between the two cannot lose it,
and a retried request finds it there (sent once) instead of writing it again. The message is rendered by
the caller's `render` (a view builder): this module never knows what Slack shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlmodel import Session

from bot.services import agreements, checkins, schedule
from bot.services import enrollment as enrollment_service
from bot.services.agreements import AgreementState, Terms
from bot.services.checkins import CheckInAnswers, Logged, LogOutcome
from storage import queries
from storage.deliveries import DeliveryKey
from storage.models import Enrollment

T = TypeVar("T")
Render = Callable[[T], tuple[str, list[dict[str, Any]]]]


def log_meeting(
    session: Session,
    request_key: str,
    pairing_id: int,
    user_id: str,
    answers: CheckInAnswers,
    now: datetime,
    render: Render[Logged],
) -> LogOutcome:
    outcome = checkins.log_once(session, request_key, pairing_id, user_id, answers, now)
    if outcome.logged is not None:
        schedule.queue_pair_notice(session, pairing_id, request_key, *render(outcome.logged), now)
    return outcome


def propose(
    session: Session,
    request_key: str,
    pairing_id: int | None,
    user_id: str,
    terms: Terms,
    now: datetime,
    render: Render[AgreementState],
) -> AgreementState | None:
    state = agreements.propose_once(session, request_key, pairing_id, user_id, terms, now)
    if state is not None and state.pair.pairing.id is not None:
        schedule.queue_pair_notice(session, state.pair.pairing.id, request_key, *render(state), now)
    return state


def accept(
    session: Session,
    request_key: str,
    pairing_id: int | None,
    user_id: str,
    fingerprint: str,
    now: datetime,
    render: Render[AgreementState],
) -> AgreementState | None:
    """Only the acceptance that settles the terms is announced to the pair."""
    state = agreements.accept(session, pairing_id, user_id, fingerprint, now)
    if state is not None and state.settled and state.news and state.pair.pairing.id is not None:
        schedule.queue_pair_notice(session, state.pair.pairing.id, request_key, *render(state), now)
    return state


# (program name, the day the pause ends by itself or None) -> the pair's message; resuming passes None too.
RenderBreak = Callable[[str, date | None], tuple[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class BreakOutcome:
    """A pause or a resume: the enrollments it changed, the partners told, and their messages in the ledger."""

    enrollments: list[Enrollment]
    partners: list[str]
    notices: list[DeliveryKey]


def pause(session: Session, person_id: str, until: date | None, now: datetime, render: RenderBreak) -> BreakOutcome:
    """Pause every running enrollment, and tell each running pair of them: the partner's reminders stop too, and
    without a word they would read only silence (or their own card asking them to meet)."""
    paused = enrollment_service.pause(session, person_id, until, now)
    return _tell_pairs(session, person_id, paused, f"pause:{until}", now, render, until)


def resume(session: Session, person_id: str, now: datetime, render: RenderBreak) -> BreakOutcome:
    resumed = enrollment_service.resume(session, person_id, now)
    return _tell_pairs(session, person_id, resumed, "resume", now, render, None)


def _tell_pairs(
    session: Session,
    person_id: str,
    changed: list[Enrollment],
    what: str,
    now: datetime,
    render: RenderBreak,
    until: date | None,
) -> BreakOutcome:
    today = enrollment_service.person_today(session, person_id, now)
    partners: list[str] = []
    notices: list[DeliveryKey] = []
    for enrollment in changed:
        program = queries.program_by_id(session, enrollment.program_id)
        for pairing in queries.pairings_of_enrollments(session, [enrollment.id]):  # type: ignore[list-item]
            members = queries.pair_members(session, pairing)
            if program is None or members is None or not pairing.is_running() or pairing.id is None:
                continue
            # One message per change and day: a retried request (or a double click) finds the same row.
            request_key = f"{what}:{enrollment.id}:{today.isoformat()}"
            schedule.queue_pair_notice(session, pairing.id, request_key, *render(program.name, until), now)
            notices.append(schedule.pair_notice_key(pairing.id, request_key))
            partners += [member for member in members if member != person_id and member not in partners]
    return BreakOutcome(changed, partners, notices)

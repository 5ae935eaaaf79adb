"""One member's action on a pairing and the pair's message about it, saved in one transaction.

The message goes into the Delivery ledger beside the action, so a crash between the two cannot lose it,
and a retried request finds it there (sent once) instead of writing it again. The message is rendered by
the caller's `render` (a view builder): this module never knows what Slack shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session

from bot.services import agreements, checkins, schedule
from bot.services.agreements import AgreementState, Terms
from bot.services.checkins import CheckInAnswers, Logged, LogOutcome

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

"""The wrap-up survey at the end of a program: satisfaction, would continue, still in libraries."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.services import schedule
from storage import queries
from storage.models import SurveyResponse


def save_response(
    session: Session,
    pairing_id: int,
    person_id: str,
    *,
    satisfaction: int,
    would_continue: bool,
    still_in_libraries: bool,
    now: datetime,
) -> SurveyResponse | None:
    """One answer per person and pairing; answering again replaces it. None when not in the pairing."""
    queries.lock_pairing(session, pairing_id)  # concurrent copies of one answer: the second replaces the first
    pairing = queries.pairing(session, pairing_id)
    members = queries.pair_members(session, pairing) if pairing else None
    if members is None or person_id not in members or not 1 <= satisfaction <= 5:
        return None
    existing = queries.survey_response(session, pairing_id, person_id)
    response = existing or SurveyResponse(
        pairing_id=pairing_id, person_id=person_id, satisfaction=satisfaction, would_continue=would_continue,
        still_in_libraries=still_in_libraries, created_at=now,
    )  # fmt: skip
    response.satisfaction = satisfaction
    response.would_continue = would_continue
    response.still_in_libraries = still_in_libraries
    session.add(response)
    return response


def is_member(session: Session, pairing_id: int, person_id: str) -> bool:
    pairing = queries.pairing(session, pairing_id)
    members = queries.pair_members(session, pairing) if pairing else None
    return members is not None and person_id in members


def ask_again_if_member(session: Session, pairing_id: int, person_id: str, now: datetime) -> schedule.AskedAgain | None:
    """*Not yet* pressed by someone in the pairing: `schedule.ask_again`; None for anyone else. One transaction
    for the check and the change: a press costs one session and one thread hop, and the rows the check loaded
    are the ones ask_again reads."""
    if not is_member(session, pairing_id, person_id):
        return None
    return schedule.ask_again(session, pairing_id, now)

"""A person's Slack account going away or coming back, however Shelfmate found out.

Three paths learn it: Slack's `user_change` event, a profile read again from `users.info`, and a message Slack
refused because the account is gone (`ACCOUNT_GONE_ERRORS`). They all end here, so the state is one
(`Person.deactivated`, from `deactivated_on`) and so is what follows: the other member of each running pairing
is told once, the program's coordinators are asked to decide about the pairing, and the pair's reminders wait
(`bot.services.schedule`) until the account is back. The pairing itself is left alone: a deactivation may be
a mistake undone the next day, and ending a pairing is the coordinators' call.

Nothing here calls Slack; callers send the returned Delivery keys (or leave them to the next sweep).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from bot.services import programs as program_rules
from bot.services.agreements import after_hours_agreed
from bot.services.schedule import WorkDay, next_allowed_time, zone
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import EnrollmentStatus, Pairing, Person, Program

# Slack's errors for an account that was deactivated or removed: over once Slack says the account is active.
ACCOUNT_GONE_ERRORS = frozenset({"account_inactive", "user_disabled", "user_not_found"})
# The Delivery kinds of what a deactivation sets off: the partner's DM, and the coordinators' alert.
PARTNER_ACCOUNT_GONE = "partner_account_gone"
ACCOUNT_GONE_ALERT = "account_gone_alert"


def is_deactivated(person: Person | None) -> bool:
    """The person's Slack account is known to be gone (deactivated or removed): they cannot meet, be matched
    or join until it is back. No Person row (never seen) is not a deactivation."""
    return person is not None and person.deactivated


def stored_person(session: Session, user_id: str) -> Person | None:
    """The person as Shelfmate last read them from Slack; None before their first request."""
    return queries.person(session, user_id)


def record_account_status(
    session: Session, person: Person, *, deactivated: bool, now: datetime, coordinators: frozenset[str] = frozenset()
) -> list[DeliveryKey]:
    """What Slack says now about the person's account; the messages this change owes (none if nothing changed)."""
    if deactivated:
        return account_gone(session, person, now, coordinators)
    account_back(session, person, now)
    return []


def account_gone(
    session: Session, person: Person, now: datetime, coordinators: frozenset[str] = frozenset()
) -> list[DeliveryKey]:
    """Mark the account deactivated from today (where the person is) and queue, for each running pairing, the
    partner's DM and the coordinators' alert. Only the change does this: an account already known to be gone
    (Slack's event again, a second failed message) owes nothing more, and the ledger's keys (per pairing and
    day) keep two concurrent copies of the same news to one message each."""
    if person.deactivated:
        return []
    today = _local_day(person, now)
    person.deactivated = True
    person.deactivated_on = today
    session.add(person)
    session.flush()
    keys: list[DeliveryKey] = []
    for pairing, program in _running_pairings(session, person.slack_user_id, now):
        keys += _tell_about(session, pairing, program, person.slack_user_id, today, now, coordinators)
    return keys


def account_back(session: Session, person: Person, now: datetime) -> None:
    """The account is active again: the deactivation becomes history (its periods stay excused) and the pair's
    reminders resume by themselves, since the schedule reads the state. Nobody is messaged: the partner was told
    reminders would resume, and the coordinators see it in the summary's *Can't reach* list."""
    if person.deactivated:
        person.deactivated = False
        if person.deactivated_on is not None:
            last_day = max(person.deactivated_on, _local_day(person, now) - timedelta(days=1))
            history = list(person.deactivation_history or [])
            history.append([person.deactivated_on.isoformat(), last_day.isoformat()])
            person.deactivation_history = history
            person.deactivated_on = None
    if person.unreachable_reason in ACCOUNT_GONE_ERRORS:
        person.unreachable_reason = None  # the account is back: the bot may reach them again
    session.add(person)


def _local_day(person: Person, now: datetime) -> date:
    return now.astimezone(zone(person.timezone)).date()


def _running_pairings(session: Session, person_id: str, now: datetime) -> list[tuple[Pairing, Program]]:
    enrollments = [
        e for e in queries.enrollments_of_person(session, person_id) if e.status != EnrollmentStatus.WITHDRAWN
    ]
    out = []
    for pairing in queries.pairings_of_enrollments(session, [e.id for e in enrollments if e.id is not None]):
        program = queries.program_by_id(session, pairing.program_id)
        if pairing.is_running() and program is not None and not program_rules.has_ended(program, now):
            out.append((pairing, program))
    return out


def _tell_about(
    session: Session,
    pairing: Pairing,
    program: Program,
    gone_id: str,
    today: date,
    now: datetime,
    coordinators: frozenset[str],
) -> list[DeliveryKey]:
    members = queries.pair_members(session, pairing)
    if members is None or pairing.id is None:
        return []
    mentor_id, mentee_id = members
    partner_id = mentee_id if gone_id == mentor_id else mentor_id
    payload = {
        "program": program.name,
        "gone": gone_id,
        "partner": partner_id,
        "mentor": mentor_id,
        "mentee": mentee_id,
        "pairing_id": pairing.id,
    }
    keys = []
    partner = queries.person(session, partner_id)
    if partner is not None and not partner.deactivated:
        # A message about the pair keeps the hours the pair agreed on, in the partner's time zone.
        after_hours_ok = after_hours_agreed(queries.agreement_for(session, pairing.id))
        key = DeliveryKey(PARTNER_ACCOUNT_GONE, f"pairing:{pairing.id}:{gone_id}", today.isoformat())
        deliveries.enqueue(
            session,
            key,
            recipient=partner_id,
            due_at=next_allowed_time(
                now, [partner.timezone], after_hours_ok=after_hours_ok, work_day=WorkDay.of(program)
            ),
            payload=payload,
            program_id=program.id,
            pairing_id=pairing.id,
            now=now,
        )
        keys.append(key)
    keys += program_rules.queue_coordinator_notice(
        session,
        program,
        DeliveryKey(ACCOUNT_GONE_ALERT, f"pairing:{pairing.id}:{gone_id}", today.isoformat()),
        payload,
        due_at=now,
        now=now,
        coordinators=coordinators,
        leave_out=frozenset({gone_id}),
        pairing_id=pairing.id,
    )
    return keys

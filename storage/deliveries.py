"""The Delivery ledger: every message the bot owes someone, keyed by (kind, subject, period).

Exactly once: a row is created once (unique key, insert-or-ignore), claimed by one worker in a single
UPDATE ... RETURNING statement (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), and marked sent
only by the claim that sent it.

`claimed_at` is real (wall-clock) time, never the schedule's clock: a claim is about a request that is in
flight to the real Slack, and a test or rehearsal clock that jumps (or stands still) says nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.models import Delivery, DeliveryStatus

# The `error` of a claimed row whose send got no clear answer (a timeout, a 5xx), as opposed to one whose
# worker died mid-attempt: the first means Slack is struggling (back off), the second does not.
UNCLEAR = "unclear: "


_KEY_LIMITS: dict[str, int] = {
    name: next(m.max_length for m in Delivery.model_fields[name].metadata if hasattr(m, "max_length"))
    for name in ("kind", "subject", "period")
}


@dataclass(frozen=True)
class DeliveryKey:
    kind: str
    subject: str
    period: str

    def __post_init__(self) -> None:
        # PostgreSQL refuses a key longer than its column while SQLite stores it whole: checking here makes a
        # key that would only fail in production fail on either database, the moment it is made.
        for name, limit in _KEY_LIMITS.items():
            if len(getattr(self, name)) > limit:
                raise ValueError(f"delivery key {name} is longer than {limit} characters: {getattr(self, name)!r}")


def enqueue(
    session: Session,
    key: DeliveryKey,
    *,
    recipient: str,
    due_at: datetime,
    payload: dict[str, Any],
    program_id: int | None = None,
    pairing_id: int | None = None,
    now: datetime,
) -> bool:
    """Create the row unless it exists; True when this call created it."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = (
        insert(Delivery)
        .values(
            kind=key.kind,
            subject=key.subject,
            period=key.period,
            recipient=recipient,
            due_at=due_at,
            payload=payload,
            program_id=program_id,
            pairing_id=pairing_id,
            status=DeliveryStatus.DUE,
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "subject", "period"])
        .returning(Delivery.id)
    )
    return session.execute(statement).first() is not None


def _has_key(key: DeliveryKey) -> ColumnElement[bool]:
    return and_(Delivery.kind == key.kind, Delivery.subject == key.subject, Delivery.period == key.period)


def exists(session: Session, key: DeliveryKey) -> bool:
    return session.execute(select(Delivery.id).where(_has_key(key))).first() is not None


def find(session: Session, key: DeliveryKey) -> Delivery | None:
    return session.execute(select(Delivery).where(_has_key(key))).scalar_one_or_none()


def keys_about(session: Session, kind: str, subject: str) -> list[DeliveryKey]:
    """The keys of every row of this kind and subject (say, each coordinator's copy of one message)."""
    statement = select(Delivery.period).where(Delivery.kind == kind, Delivery.subject == subject).order_by(Delivery.id)
    return [DeliveryKey(kind, subject, period) for period in session.scalars(statement)]


def rows_about(session: Session, kind: str, subject: str) -> list[Delivery]:
    """Every row of this kind about this subject, oldest first: the one sent to a channel (`subject`) and each
    coordinator's own copy (`subject:<person>`)."""
    statement = (
        select(Delivery)
        .where(Delivery.kind == kind, or_(Delivery.subject == subject, col(Delivery.subject).startswith(f"{subject}:")))
        .order_by(Delivery.id)
    )
    return list(session.scalars(statement))


def claim_due(session: Session, now: datetime, token: str, limit: int, *, claimed_at: datetime) -> list[Delivery]:
    """Claim up to `limit` rows due by `now` (schedule time) for this worker, stamped `claimed_at` (real time).

    Concurrent workers never get the same row.
    """
    candidates = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.DUE, Delivery.due_at <= now)
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(Delivery)
        .where(col(Delivery.id).in_(candidates.scalar_subquery()), Delivery.status == DeliveryStatus.DUE)
        .values(
            status=DeliveryStatus.CLAIMED,
            claim_token=token,
            claimed_at=claimed_at,
            attempts=Delivery.attempts + 1,
            error=None,  # from here on `error` describes this attempt
        )
        .returning(Delivery)
    )
    rows = [row[0] for row in session.execute(statement, execution_options={"synchronize_session": False})]
    return sorted(rows, key=lambda d: (d.due_at, d.id or 0))


def claim_key(
    session: Session, key: DeliveryKey, now: datetime, token: str, *, claimed_at: datetime
) -> Delivery | None:
    """Claim the one row with this key if it is due by `now`: a reply sent straight after the request that
    queued it. None when it is sent, claimed by another worker, or due later."""
    statement = (
        update(Delivery)
        .where(_has_key(key), Delivery.status == DeliveryStatus.DUE, Delivery.due_at <= now)
        .values(
            status=DeliveryStatus.CLAIMED,
            claim_token=token,
            claimed_at=claimed_at,
            attempts=Delivery.attempts + 1,
            error=None,
        )
        .returning(Delivery)
    )
    row = session.execute(statement, execution_options={"synchronize_session": False}).first()
    return row[0] if row is not None else None


def due_later(session: Session, key: DeliveryKey, now: datetime) -> datetime | None:
    """When the row with this key will go out, if it waits for a later moment than `now`."""
    statement = select(Delivery.due_at).where(
        _has_key(key), Delivery.status == DeliveryStatus.DUE, Delivery.due_at > now
    )
    return session.execute(statement).scalar_one_or_none()


def mark_sent(session: Session, delivery_id: int, token: str, channel_id: str, ts: str, now: datetime) -> bool:
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim_token == token, Delivery.status == DeliveryStatus.CLAIMED)
        .values(status=DeliveryStatus.SENT, channel_id=channel_id, message_ts=ts, sent_at=now, error=None)
        .returning(Delivery.id)
    )
    return session.execute(statement, execution_options={"synchronize_session": False}).first() is not None


def touch_claim(session: Session, delivery_id: int, token: str, at: datetime) -> bool:
    """Restamp a claim (real time) just before its send attempt; False when another worker took it over.

    The stamp is what recovery measures from, so a row that waited in a batch is not taken for a dead one.
    """
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim_token == token, Delivery.status == DeliveryStatus.CLAIMED)
        .values(claimed_at=at)
        .returning(Delivery.id)
    )
    return session.execute(statement, execution_options={"synchronize_session": False}).first() is not None


def note_unclear(session: Session, delivery_id: int, token: str, error: str) -> None:
    """The attempt got no clear answer (Slack may have posted): the claim stays, and says so for recovery."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim_token == token, Delivery.status == DeliveryStatus.CLAIMED)
        .values(error=(UNCLEAR + error)[:200]),
        execution_options={"synchronize_session": False},
    )


def hold(session: Session, delivery_id: int, token: str, until: datetime) -> None:
    """Put a claimed row back untried (e.g. outside the pair's working hours): not an attempt."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim_token == token, Delivery.status == DeliveryStatus.CLAIMED)
        .values(status=DeliveryStatus.DUE, due_at=until, claim_token=None, attempts=Delivery.attempts - 1),
        execution_options={"synchronize_session": False},
    )


def release(session: Session, delivery_id: int, token: str, retry_at: datetime, error: str) -> None:
    """A temporary failure: due again later."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim_token == token, Delivery.status == DeliveryStatus.CLAIMED)
        .values(status=DeliveryStatus.DUE, due_at=retry_at, claim_token=None, error=error[:200]),
        execution_options={"synchronize_session": False},
    )


def skip(session: Session, delivery_id: int, token: str, reason: str) -> bool:
    """A claimed row that is no longer owed (say, a reminder to a pair that has since met): final, never sent.

    Only before its send begins, by the claim that holds it, so a message that may have reached Slack is
    never marked skipped. Not an attempt. False when the claim was not this token's.
    """
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim_token == token, Delivery.status == DeliveryStatus.CLAIMED)
        .values(status=DeliveryStatus.SKIPPED, claim_token=None, attempts=Delivery.attempts - 1, error=reason[:200])
        .returning(Delivery.id)
    )
    return session.execute(statement, execution_options={"synchronize_session": False}).first() is not None


def mark_final(session: Session, delivery_id: int, token: str | None, status: str, error: str) -> None:
    """Undeliverable or skipped: never retried."""
    conditions = [Delivery.id == delivery_id]
    if token is not None:
        conditions.append(Delivery.claim_token == token)
    session.execute(
        update(Delivery).where(and_(*conditions)).values(status=status, error=error[:200]),
        execution_options={"synchronize_session": False},
    )


def stale_claims(session: Session, older_than: datetime, limit: int = 500) -> list[Delivery]:
    """Claims not restamped since `older_than` (real time): their worker died, or its send certainly ended."""
    statement = (
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.CLAIMED, Delivery.claimed_at < older_than)
        .order_by(Delivery.claimed_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def take_over_claim(session: Session, delivery_id: int, old_token: str | None, new_token: str, at: datetime) -> bool:
    """Move a stale claim to a recovering worker (stamped `at`, real time); False if someone else moved it."""
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.CLAIMED, Delivery.claim_token == old_token)
        .values(claim_token=new_token, claimed_at=at)
        .returning(Delivery.id)
    )
    return session.execute(statement, execution_options={"synchronize_session": False}).first() is not None


def retarget_pending(session: Session, program_id: int | None, old_recipient: str, new_recipient: str) -> int:
    """Point a program's rows still due for `old_recipient` at `new_recipient` (say, its admin channel moved).

    Claimed rows are left alone: their send may be in flight. Returns how many rows moved."""
    statement = (
        update(Delivery)
        .where(
            Delivery.program_id == program_id,
            Delivery.recipient == old_recipient,
            Delivery.status == DeliveryStatus.DUE,
        )
        .values(recipient=new_recipient)
        .returning(Delivery.id)
    )
    return len(session.execute(statement, execution_options={"synchronize_session": False}).all())


def by_status(session: Session, status: str | None = None) -> list[Delivery]:
    statement = select(Delivery).order_by(Delivery.id)
    if status is not None:
        statement = statement.where(Delivery.status == status)
    return list(session.scalars(statement))


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes, at most an hour: Slack outages are usually short."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))

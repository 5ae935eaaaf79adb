"""Sends what the Delivery ledger says is due, exactly once, through the Slack gateway.

Claim (one statement) -> post with message metadata carrying the delivery id -> mark sent with the ts.
A claim left behind by a crash is recovered by looking for that metadata in the conversation's history
before anything is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.runtime import Runtime
from bot.services import schedule
from bot.slack_gateway import SlackUnavailable, Unreachable
from bot.views.messages import render_delivery
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)

METADATA_EVENT = "shelfmate_delivery"
STALE_CLAIM = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BATCH = 20
CONCURRENCY = 4


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    undeliverable: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


def recipients_of(recipient: str) -> list[str]:
    return recipient.removeprefix("users:").split(",") if recipient.startswith("users:") else [recipient]


async def resolve_channel(runtime: Runtime, recipient: str) -> str:
    """`users:U1,U2` opens (or finds) the group DM; a user id posts to their DM; channel ids are used as is."""
    if recipient.startswith("users:"):
        return await runtime.gateway.open_conversation(recipients_of(recipient))
    if recipient[:1] in ("U", "W"):
        return await runtime.gateway.open_conversation([recipient])
    return recipient


async def deliver_due(runtime: Runtime, *, max_batches: int | None = None) -> DeliveryReport:
    report = DeliveryReport()
    token = uuid.uuid4().hex
    semaphore = asyncio.Semaphore(CONCURRENCY)
    batches = 0
    while max_batches is None or batches < max_batches:
        now = runtime.now()
        claimed = await runtime.write(deliveries.claim_due, now, token, BATCH)
        if not claimed:
            break
        batches += 1

        async def send(delivery: Delivery) -> None:
            async with semaphore:
                await _send_one(runtime, delivery, token, report)

        await asyncio.gather(*(send(d) for d in claimed))
    return report


async def _send_one(runtime: Runtime, delivery: Delivery, token: str, report: DeliveryReport) -> None:
    text, blocks = render_delivery(delivery.kind, delivery.payload, rehearsal=runtime.rehearsal)
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"delivery_id": delivery.id}}
    try:
        channel = await resolve_channel(runtime, delivery.recipient)
        posted = await runtime.gateway.post(channel, text, blocks, metadata=metadata)
    except Unreachable as error:
        await runtime.write(_undeliverable, delivery.id, token, error.error, runtime.now())
        report.undeliverable += 1
        return
    except SlackUnavailable as error:
        report.retried += 1
        if error.ambiguous:
            # Slack may have posted it: keep the claim; recovery looks in the conversation before resending.
            return
        await _retry_or_give_up(runtime, delivery.id, delivery.attempts, token, str(error))
        if delivery.attempts >= MAX_ATTEMPTS:
            report.undeliverable += 1
        return
    await runtime.write(_sent, delivery.id, token, posted.channel, posted.ts, runtime.now())
    report.sent += 1


async def _retry_or_give_up(runtime: Runtime, delivery_id: int, attempts: int, token: str, error: str) -> None:
    if attempts >= MAX_ATTEMPTS:
        await runtime.write(_undeliverable, delivery_id, token, f"gave up: {error}", runtime.now())
    else:
        retry_at = runtime.now() + deliveries.retry_delay(attempts)
        await runtime.write(deliveries.release, delivery_id, token, retry_at, error)


def _sent(session: Session, delivery_id: int, token: str, channel: str, ts: str, now: datetime) -> bool:
    if not deliveries.mark_sent(session, delivery_id, token, channel, ts, now):
        return False
    delivery = session.get(Delivery, delivery_id)
    if delivery is not None:
        schedule.on_sent(session, delivery.kind, delivery.pairing_id, channel, now)
    return True


def _undeliverable(session: Session, delivery_id: int, token: str, error: str, now: datetime) -> None:
    """Permanent: record it, remember the person can't be reached, and tell the coordinators once."""
    deliveries.mark_final(session, delivery_id, token, DeliveryStatus.UNDELIVERABLE, error)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return
    people = [r for r in recipients_of(delivery.recipient) if r[:1] in ("U", "W")]
    if not people and delivery.pairing_id:
        pairing = queries.pairing(session, delivery.pairing_id)
        members = queries.pair_members(session, pairing) if pairing else None
        people = list(members or [])
    for person_id in people:
        person = queries.person(session, person_id)
        if person is not None:
            person.unreachable_reason = error[:64]
            session.add(person)
    program = queries.program_by_id(session, delivery.program_id) if delivery.program_id else None
    if delivery.kind == "unreachable" or program is None or not program.admin_channel:
        log.warning("delivery %s (%s) is undeliverable: %s", delivery_id, delivery.kind, error)
        return
    deliveries.enqueue(
        session,
        DeliveryKey("unreachable", "people:" + ",".join(sorted(people)) if people else delivery.recipient, "-"),
        recipient=program.admin_channel,
        due_at=now,
        payload={"program": program.name, "people": people, "error": error[:100], "kind": delivery.kind},
        program_id=program.id,
        now=now,
    )


async def recover_stale(runtime: Runtime) -> DeliveryReport:
    """Claims older than a couple of minutes belong to a worker that died mid-send (or got no answer).

    conversations.history is throttled hard, so it is read once per conversation, not once per row.
    """
    report = DeliveryReport()
    now = runtime.now()
    stale = await runtime.read(deliveries.stale_claims, now - STALE_CLAIM, 500)
    by_recipient: dict[str, list[Delivery]] = {}
    for delivery in stale:
        by_recipient.setdefault(delivery.recipient, []).append(delivery)
    for recipient, group in by_recipient.items():
        token = uuid.uuid4().hex
        mine = [d for d in group if await runtime.write(deliveries.take_over_claim, d.id, d.claim_token, token, now)]
        if not mine:
            continue
        try:
            channel = await resolve_channel(runtime, recipient)
            # No `oldest` bound: under a rehearsal clock "now" is not Slack's now. Recent messages suffice.
            history = await runtime.gateway.history_with_metadata(channel, limit=200)
        except Unreachable as error:
            for delivery in mine:
                await runtime.write(_undeliverable, delivery.id, token, error.error, now)
            continue
        except SlackUnavailable:
            continue  # still unsure: the claims stay, with a fresh time, for the next sweep
        landed = {_delivery_id(m): m for m in history}
        for delivery in mine:
            found = landed.get(delivery.id)
            if found is not None:
                await runtime.write(_sent, delivery.id, token, channel, str(found.get("ts", "")), now)
                report.recovered += 1
            else:
                # Never reached Slack: due again right away.
                await runtime.write(deliveries.release, delivery.id, token, now, "resent after an interrupted send")
    return report


def _delivery_id(message: dict[str, Any]) -> int | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    value = (metadata.get("event_payload") or {}).get("delivery_id")
    return value if isinstance(value, int) else None

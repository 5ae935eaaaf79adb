"""Sends what the Delivery ledger says is due, exactly once, through the Slack gateway.

Claim (one statement) -> post with message metadata carrying the delivery id -> mark sent with the ts.
A send whose outcome is unknown (a timeout, a 5xx, a crash) keeps its claim; once that claim is certainly
over (CLAIM_LEASE of real time since its attempt began) recovery looks for the metadata in the conversation
before anything is sent again.

Two clocks: `runtime.now()` is the schedule's time (what is due, working hours; a test or rehearsal clock
moves it), `runtime.wall_now()` is real time (how long a request to Slack may still be in flight).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session

from bot.conversation_pacer import ConversationPacer
from bot.runtime import Runtime
from bot.services import accounts, schedule
from bot.services import programs as program_rules
from bot.slack_client import caller_waits_out_rate_limits
from bot.slack_gateway import PostedMessage, RateLimited, SlackUnavailable, TokenRefused, Unreachable
from bot.views.messages import render_delivery
from storage import deliveries, queries
from storage.deliveries import DeliveryKey
from storage.models import Delivery, DeliveryStatus, Program

log = logging.getLogger(__name__)

METADATA_EVENT = "shelfmate_delivery"
# One send attempt (conversations.open + chat.postMessage, with the client's own retries) is cut off after
# this, so no request of an attempt leaves later than its claim stamp + SEND_DEADLINE.
SEND_DEADLINE = timedelta(seconds=60)
# How long Slack may still act on a request we stopped waiting for (a timed-out post can land afterwards).
LANDING_GRACE = timedelta(seconds=60)
# A claim not restamped for this long (real time) is over: its message has landed, or never will.
CLAIM_LEASE = SEND_DEADLINE + LANDING_GRACE
MAX_ATTEMPTS = 8
BATCH = 20
CONCURRENCY = 4
# Claimed rows waiting for their conversation's turn (see ConversationPacer) hold no send slot, so more
# are claimed meanwhile, up to this many in hand: a row waits its turn well within CLAIM_LEASE.
MAX_IN_HAND = 3 * BATCH
# A conversation Slack asks to wait longer than this (seconds) is not waited for: its row goes back,
# due when Slack said (a later sweep sends it). Slack's rate windows are a minute, so its waits fit.
MAX_PARK_SECONDS = 60.0
MAX_PARKS = 10  # waits for one row's conversation within one sweep
# A program's admin channel that refuses our posts for good: its messages go to the coordinators by DM.
ADMIN_CHANNEL_ERRORS = frozenset({"is_archived", "not_in_channel", "channel_not_found"})
COORDINATOR_COPY = "coordinator_copy"
# Payload fields only their readers may see (a rematch reason): blanked once the row is sent or given up, so
# the ledger does not keep what a participant told the coordinators in confidence.
PRIVATE_FIELDS = {"rematch_request": "reason"}
FORGOTTEN = "(removed once delivered)"


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    undeliverable: int = 0
    recovered: int = 0
    held: int = 0
    skipped: int = 0  # reminders that no longer applied when their turn came (the pair met, paused, ended)
    rate_limited: int = 0  # 429s waited out by parking the conversation, not counted as attempts
    errors: list[str] = field(default_factory=list)


def recipients_of(recipient: str) -> list[str]:
    return recipient.removeprefix("users:").split(",") if recipient.startswith("users:") else [recipient]


async def resolve_channel(runtime: Runtime, recipient: str) -> str:
    """`users:U1,U2` opens (or finds) the group DM; a user id posts to their DM; channel ids are used as is.

    A person's DM channel is stored once opened: conversations.open is rate-limited (Tier 3), and the DM id
    never changes.
    """
    if recipient.startswith("users:"):
        return await runtime.gateway.open_conversation(recipients_of(recipient))
    if recipient[:1] in ("U", "W"):
        known = await runtime.read(queries.dm_channel_of, recipient)
        if known:
            return known
        channel = await runtime.gateway.open_conversation([recipient])
        if channel:
            await runtime.write(queries.remember_dm_channel, recipient, channel)
        return channel
    return recipient


async def deliver_due(runtime: Runtime, *, max_batches: int | None = None) -> DeliveryReport:
    """Send everything due, CONCURRENCY at a time, one send at a time per conversation.

    The next batch is claimed as soon as fewer than CONCURRENCY sends are in flight, not when the whole
    batch is done; sends waiting for a rate-limited conversation do not count. So one busy conversation
    (Slack may ask to wait a while) holds up only its own messages.
    """
    report = DeliveryReport()
    token = uuid.uuid4().hex
    semaphore = asyncio.Semaphore(CONCURRENCY)
    pacer = ConversationPacer()
    in_flight: set[asyncio.Task[None]] = set()
    failure: BaseException | None = None
    batches = 0
    if not await _token_may_work(runtime):
        return report

    async def send(delivery: Delivery) -> None:
        wait = 0.0
        for _ in range(MAX_PARKS):
            async with pacer.turn(delivery.recipient), semaphore:
                if runtime.gateway.token_refused:
                    # Slack refuses the bot's own token: the row goes back untried, nobody is blamed.
                    await runtime.write(deliveries.hold, delivery.id, token, runtime.now())
                    report.held += 1
                    return
                try:
                    with caller_waits_out_rate_limits():
                        await _send_one(runtime, delivery, token, report)
                    return
                except RateLimited as limited:
                    wait = limited.retry_after
                    report.rate_limited += 1
                    if wait > MAX_PARK_SECONDS:
                        break
                    pacer.rate_limited(delivery.recipient, wait)
        # Slack asks to wait longer than a sweep should: the row goes back untried (a 429 is not a failed
        # attempt, and must not use up MAX_ATTEMPTS), due when Slack said.
        until = runtime.now() + timedelta(seconds=wait)
        await runtime.write(deliveries.hold, delivery.id, token, until)
        report.held += 1

    def no_room() -> bool:
        return len(in_flight) - pacer.parked >= CONCURRENCY or len(in_flight) >= MAX_IN_HAND

    try:
        while failure is None and (max_batches is None or batches < max_batches):
            if runtime.gateway.token_refused:
                break  # the next sweep tries the token again
            now = runtime.now()
            claimed = await runtime.write(deliveries.claim_due, now, token, BATCH, claimed_at=runtime.wall_now())
            if not claimed:
                break
            batches += 1
            ready, skipped = await runtime.write(_ready_to_send, claimed, token, now)
            report.skipped += skipped
            report.held += len(claimed) - len(ready) - skipped
            in_flight.update(asyncio.create_task(send(delivery)) for delivery in ready)
            while failure is None and no_room():
                pacer.changed.clear()
                parked_changed = asyncio.ensure_future(pacer.changed.wait())
                try:
                    done, _ = await asyncio.wait(in_flight | {parked_changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    parked_changed.cancel()
                done.discard(parked_changed)
                in_flight -= done
                failure = _first_failure(done)
    except asyncio.CancelledError:
        # Shutting down: sends cut off mid-post keep their claims, and recovery checks the conversation.
        for task in in_flight:
            task.cancel()
        raise
    finally:
        outcomes = await asyncio.gather(*in_flight, return_exceptions=True)
    # A failure stops claiming more; what was already claimed still goes out first.
    failure = failure or next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failure is not None:
        raise failure
    return report


async def _token_may_work(runtime: Runtime) -> bool:
    """Start a sweep afresh about the bot token: after a refusal, ask Slack once (auth.test) whether the
    token works again; until it does, every row stays due, untried."""
    gateway = runtime.gateway
    gateway.recheck_token()
    if not gateway.token_refused:
        return True
    try:
        return not await gateway.token_is_refused()
    except SlackUnavailable:
        return False


async def deliver_now(runtime: Runtime, key: DeliveryKey) -> datetime | None:
    """Send the row with this key now if it is due: a reply to someone's action goes out at once, with the
    ledger's exactly-once guarantee (a retry of the action, or a sweep, finds it sent or sends it once).

    Returns when it will go out if it waits for the pair's working hours; None otherwise (sent now, sent
    before, or in another worker's hands).
    """
    now = runtime.now()
    token = uuid.uuid4().hex
    claimed = await runtime.write(deliveries.claim_key, key, now, token, claimed_at=runtime.wall_now())
    if claimed is None:
        return await runtime.read(deliveries.due_later, key, now)
    await _send_one(runtime, claimed, token, DeliveryReport())  # the client sleeps out a 429 here
    return None


Reach = Literal["reached", "waiting", "lost"]


async def deliver_now_or_copy(runtime: Runtime, key: DeliveryKey) -> Reach:
    """`deliver_now` for a message to coordinators, and, when the admin channel refused it for good, its
    copies to each coordinator by DM at once too. Says honestly where it stands: "reached" (sent, or copied to
    coordinators), "waiting" (Slack did not answer; the ledger sends it later, once), "lost" (nobody can get it).
    """
    await deliver_now(runtime, key)
    row = await runtime.read(deliveries.find, key)
    if row is None:
        return "lost"
    if row.status == DeliveryStatus.SENT:
        return "reached"
    if row.status in (DeliveryStatus.DUE, DeliveryStatus.CLAIMED):  # a retry later, or a send in flight
        return "waiting"
    if row.status != DeliveryStatus.UNDELIVERABLE:
        return "lost"
    copies = await runtime.read(deliveries.keys_about, COORDINATOR_COPY, f"delivery:{row.id}")
    for copy in copies:
        await deliver_now(runtime, copy)
    return "reached" if copies else "lost"


def _first_failure(done: set[asyncio.Task[None]]) -> BaseException | None:
    """Every finished send's exception is read (none goes unretrieved); the first is kept."""
    failures = [None if task.cancelled() else task.exception() for task in done]
    return next((f for f in failures if f is not None), None)


async def _send_one(runtime: Runtime, delivery: Delivery, token: str, report: DeliveryReport) -> None:
    # Restamp the claim as this attempt begins: recovery measures from here (the row may have waited).
    if not await runtime.write(deliveries.touch_claim, delivery.id, token, runtime.wall_now()):
        return  # a recovery took this claim over; it decides what happens to the row
    text, blocks = render_delivery(delivery.kind, delivery.payload)
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"delivery_id": delivery.id}}
    posting = False
    try:
        async with asyncio.timeout(SEND_DEADLINE.total_seconds()):
            channel = await resolve_channel(runtime, delivery.recipient)
            posting = True
            posted = await runtime.gateway.post(channel, text, blocks, metadata=metadata)
    except RateLimited:
        raise  # Slack did nothing: the caller waits for the conversation's turn and sends again
    except TokenRefused:
        # Slack refuses the bot's own token (the gateway logged it): not the recipient's fault and not an
        # attempt; the row waits, untried, for a sweep with a working token.
        await runtime.write(deliveries.hold, delivery.id, token, runtime.now())
        report.held += 1
        return
    except Unreachable as error:
        try:
            concerned = await _people_concerned(runtime, delivery)
        except TokenRefused:
            await runtime.write(deliveries.hold, delivery.id, token, runtime.now())
            report.held += 1
            return
        await runtime.write(
            _undeliverable, delivery.id, token, error.error, runtime.now(), concerned, runtime.settings.admins
        )
        report.undeliverable += 1
        return
    except (SlackUnavailable, TimeoutError) as error:
        ambiguous = error.ambiguous if isinstance(error, SlackUnavailable) else True
        if posting and ambiguous:
            # Slack may have posted it: keep the claim; after CLAIM_LEASE recovery looks in the conversation.
            await runtime.write(deliveries.note_unclear, delivery.id, token, str(error) or "timed out")
            report.retried += 1
            return
        if await _retry_or_give_up(runtime, delivery, token, str(error) or "timed out"):
            report.undeliverable += 1
        else:
            report.retried += 1
        return
    await runtime.write(_sent, delivery.id, token, posted.channel, posted.ts, runtime.now())
    report.sent += 1
    if delivery.kind == "digest":
        await _attach_chart(runtime, delivery, posted)


async def _attach_chart(runtime: Runtime, delivery: Delivery, posted: PostedMessage) -> None:
    """The weekly digest's meeting-rate chart, uploaded in the digest's thread.

    At most once: the digest itself is the Delivery; a crash between the two only loses the picture.
    """
    from bot.services.reports import ProgramSummary
    from bot.views.chart import meeting_rate_png

    summary = ProgramSummary.from_payload(delivery.payload["summary"])
    if not summary.months:
        return
    try:
        png = await asyncio.to_thread(meeting_rate_png, summary)
        await runtime.gateway.upload_file(
            posted.channel, "meeting-rate.png", png, f"{summary.program_name}: meetings by month",
            thread_ts=posted.ts,
        )  # fmt: skip
    except (SlackUnavailable, Unreachable) as error:
        log.warning("digest %s: chart not uploaded: %s", delivery.id, error)


async def _retry_or_give_up(
    runtime: Runtime, delivery: Delivery, token: str, error: str, *, back_off: bool = True
) -> bool:
    """A failed attempt: due again (after a back-off when Slack is struggling; in working hours if the pair
    asked), or, after MAX_ATTEMPTS, undeliverable and reported like any permanent failure. True when it gave up."""
    now = runtime.now()
    if delivery.attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {delivery.attempts} attempts: {error.removeprefix(deliveries.UNCLEAR)}"
        await runtime.write(_undeliverable, delivery.id, token, reason, now, None, runtime.settings.admins)
        return True
    retry_at = now + deliveries.retry_delay(delivery.attempts) if back_off else now
    log.warning(
        "delivery %s (%s) could not be sent on attempt %d: %s; it is due again",
        delivery.id,
        delivery.kind,
        delivery.attempts,
        error,
    )
    await runtime.write(_release, delivery.id, token, retry_at, error)
    return False


def _release(session: Session, delivery_id: int, token: str, retry_at: datetime, error: str) -> None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is not None:
        retry_at = _allowed_from(session, delivery, retry_at)
    deliveries.release(session, delivery_id, token, retry_at, error)


def _ready_to_send(session: Session, claimed: list[Delivery], token: str, now: datetime) -> tuple[list[Delivery], int]:
    """(the claimed rows to send now, how many were skipped), in one write transaction after the claim.

    A reminder that no longer applies (the pair logged the meeting, the period or the pairing ended) is
    skipped for good: nothing of it has been sent yet, so exactly-once holds. One that applies again later (a
    member is paused, a school break) waits a day and is checked again. Backlog after downtime (or a late
    sweep) must not reach a pair after hours: it goes back, untried.
    """
    lapsed = schedule.lapsed_reminders(session, claimed, now)
    ready = []
    skipped = 0
    for delivery in claimed:
        reason = lapsed.get(delivery.id) if delivery.id is not None else None
        if reason in schedule.WAIT_REASONS:
            deliveries.hold(session, delivery.id, token, now + timedelta(days=1))
        elif reason is not None:
            if deliveries.skip(session, delivery.id, token, reason):
                log.info("delivery %s (%s) skipped: %s", delivery.id, delivery.kind, reason)
                skipped += 1
        elif (allowed := _allowed_from(session, delivery, now)) > now:
            deliveries.hold(session, delivery.id, token, allowed)
        else:
            ready.append(delivery)
    return ready, skipped


def _allowed_from(session: Session, delivery: Delivery, moment: datetime) -> datetime:
    """The first moment from `moment` the bot may message this delivery's recipients (quiet hours)."""
    quiet = _pair_quiet_hours(session, delivery)
    return moment if quiet is None else quiet.next_allowed(moment)


def _pair_quiet_hours(session: Session, delivery: Delivery) -> schedule.QuietHours | None:
    """When the bot may message a pair (time zones, mentee first; whether the settled agreement allows
    after-hours; the program's work day) for a message to that pair.

    None for anything else: channel posts keep the time the planner gave them. Read now rather than at
    enqueue, so an agreement settled (or changed) since then is obeyed.
    """
    pairing = queries.pairing(session, delivery.pairing_id) if delivery.pairing_id is not None else None
    if pairing is None or not _addressed_to_pair(delivery, pairing.conversation_id):
        return None
    return schedule.pair_quiet_hours(session, pairing)


def _addressed_to_pair(delivery: Delivery, conversation_id: str | None) -> bool:
    """A pair's own messages go to `users:...` or their group DM; alerts about them go to the admin channel."""
    return delivery.recipient.startswith("users:") or (
        conversation_id is not None and delivery.recipient == conversation_id
    )


def _audience(session: Session, recipient: str, pairing_id: int | None) -> list[str]:
    """The people a message reaches: its user recipients, or a pair's members for their group DM."""
    users = [r for r in recipients_of(recipient) if r[:1] in ("U", "W")]
    if users or pairing_id is None:
        return users
    pairing = queries.pairing(session, pairing_id)
    if pairing is None or pairing.conversation_id != recipient:
        return []
    return list(queries.pair_members(session, pairing) or [])


async def _people_concerned(runtime: Runtime, delivery: Delivery) -> list[str]:
    """Whom an "unreachable" error is about. Slack does not say for a group DM, so ask users.info which
    member is deactivated or gone; an empty list means it could not be told (flag no one)."""
    audience = await runtime.read(_audience, delivery.recipient, delivery.pairing_id)
    if len(audience) <= 1:
        return audience
    concerned: list[str] = []
    for user_id in audience:
        try:
            profile = await runtime.gateway.profile(user_id)
        except Unreachable:
            concerned.append(user_id)
            continue
        except TokenRefused:
            raise  # nobody can be told apart while the bot's own token is refused
        except SlackUnavailable:
            return []
        if profile.deactivated:
            concerned.append(user_id)
    return concerned


def _sent(session: Session, delivery_id: int, token: str, channel: str, ts: str, now: datetime) -> bool:
    if not deliveries.mark_sent(session, delivery_id, token, channel, ts, now):
        return False
    delivery = session.get(Delivery, delivery_id)
    if delivery is not None:
        _forget_private_words(session, delivery)
        schedule.on_sent(session, delivery.kind, delivery.pairing_id, channel, now)
        # It reached them, so whatever made them unreachable is over.
        for person in queries.people(session, _audience(session, delivery.recipient, delivery.pairing_id)).values():
            if person.unreachable_reason is not None:
                person.unreachable_reason = None
                session.add(person)
    return True


def _undeliverable(
    session: Session,
    delivery_id: int,
    token: str,
    error: str,
    now: datetime,
    concerned: list[str] | None,
    coordinators: frozenset[str] = frozenset(),
) -> None:
    """Permanent: record it, flag the people Slack's error is about, and tell the program's coordinators
    (once a day per program for the same people).

    `concerned` empty or None flags no one (a group DM whose culprit is unknown, or Slack never answering);
    the report then names everyone the message was for. Someone whose account Slack says is gone
    (`accounts.ACCOUNT_GONE_ERRORS`) is marked deactivated, with all that sets off. A message the program's
    admin channel could not take (archived, or Shelfmate not in it) goes to the coordinators (`coordinators`,
    every program's, and the program's own admins) by DM instead.
    """
    deliveries.mark_final(session, delivery_id, token, DeliveryStatus.UNDELIVERABLE, error)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return
    flagged = sorted(concerned or [])
    for person_id in flagged:
        person = queries.person(session, person_id)
        if person is not None:
            person.unreachable_reason = error[:64]
            session.add(person)
            if error in accounts.ACCOUNT_GONE_ERRORS:
                # Slack says the account itself is gone: the same as being told it was deactivated (the
                # partner and the coordinators are told through the ledger, due now; reminders wait).
                accounts.account_gone(session, person, now, coordinators)
    program = queries.program_by_id(session, delivery.program_id) if delivery.program_id else None
    if program is not None and _admin_channel_refused(session, delivery, error):
        _copy_to_coordinators(session, delivery, program, error, coordinators, now)
    _forget_private_words(session, delivery)  # the copies, if any, carry it until they are sent
    if delivery.kind == "unreachable" or program is None or not program.admin_channel:
        log.warning("delivery %s (%s) is undeliverable: %s", delivery_id, delivery.kind, error)
        return
    audience = _audience(session, delivery.recipient, delivery.pairing_id)
    # Per program and day: someone in two programs is reported to each program's coordinators, about their
    # own message, and again on a later day if it happens again; one report a day at most, not one a message.
    day = now.astimezone(schedule.zone(program.timezone)).date()
    deliveries.enqueue(
        session,
        DeliveryKey(
            "unreachable",
            "people:" + ",".join(flagged) if flagged else delivery.recipient,
            f"program:{program.id}:{day.isoformat()}",
        ),
        recipient=program.admin_channel,
        due_at=now,
        payload={
            "program": program.name,
            "people": flagged or audience,
            "individuals_known": bool(flagged),
            "error": error[:100],
            "kind": delivery.kind,
        },
        program_id=program.id,
        now=now,
    )


def _forget_private_words(session: Session, delivery: Delivery) -> None:
    """Blank a finished row's private field (PRIVATE_FIELDS), in its own payload or in the copied one."""
    copy = delivery.kind == COORDINATOR_COPY
    payload = dict(delivery.payload or {})
    inner = dict(payload.get("payload") or {}) if copy else payload
    field_name = PRIVATE_FIELDS.get(str(payload.get("kind")) if copy else delivery.kind)
    if field_name is None or field_name not in inner:
        return
    inner[field_name] = FORGOTTEN
    delivery.payload = payload | {"payload": inner} if copy else inner
    session.add(delivery)


def _admin_channel_refused(session: Session, delivery: Delivery, error: str) -> bool:
    """Whether a post to a program's channel failed for good because of the channel itself.

    Not for a pair's own messages (their group DM), nor for a "can't reach" report about that very channel:
    the coordinators already got the message it would report, with the reason.
    """
    if error not in ADMIN_CHANNEL_ERRORS or delivery.kind == COORDINATOR_COPY:
        return False
    if delivery.recipient.startswith("users:") or delivery.recipient[:1] in ("U", "W"):
        return False
    if delivery.kind == "unreachable" and delivery.subject == delivery.recipient:
        return False
    pairing = queries.pairing(session, delivery.pairing_id) if delivery.pairing_id is not None else None
    return pairing is None or pairing.conversation_id != delivery.recipient


def _copy_to_coordinators(
    session: Session, delivery: Delivery, program: Program, error: str, coordinators: frozenset[str], now: datetime
) -> None:
    """The message each coordinator would have read in the admin channel, by DM, saying why it came so; not
    to the people it is about, nor to a coordinator whose Slack account is known to be deactivated."""
    about = set((delivery.payload or {}).get(program_rules.LEAVE_OUT) or [])
    candidates = program_rules.program_coordinators(program, coordinators) - about
    # A coordinator whose Slack account is deactivated cannot read a DM: sending one only fails again.
    gone = {
        pid for pid, person in queries.people(session, sorted(candidates)).items() if accounts.is_deactivated(person)
    }
    people = sorted(candidates - gone)
    if not people:
        log.warning("delivery %s (%s): the admin channel refused it and the program has no coordinators to DM",
                    delivery.id, delivery.kind)  # fmt: skip
        return
    payload = {
        "program": program.name,
        "channel": delivery.recipient,
        "error": error[:100],
        "kind": delivery.kind,
        "payload": delivery.payload,
    }
    for person_id in people:
        deliveries.enqueue(
            session,
            DeliveryKey(COORDINATOR_COPY, f"delivery:{delivery.id}", f"user:{person_id}"),
            recipient=person_id,
            due_at=now,
            payload=payload,
            program_id=program.id,
            now=now,
        )


async def recover_stale(runtime: Runtime) -> DeliveryReport:
    """Claims whose attempt is certainly over (CLAIM_LEASE of real time): a worker died mid-send or got no
    clear answer. Whatever landed is marked sent; the rest counts as a failed attempt.

    conversations.history is throttled hard, so it is read once per conversation, not once per row, and a
    row is looked for at most once per attempt.
    """
    report = DeliveryReport()
    now = runtime.now()
    wall = runtime.wall_now()
    stale = await runtime.read(deliveries.stale_claims, wall - CLAIM_LEASE, 500)
    by_recipient: dict[str, list[Delivery]] = {}
    for delivery in stale:
        by_recipient.setdefault(delivery.recipient, []).append(delivery)
    for recipient, group in by_recipient.items():
        token = uuid.uuid4().hex
        mine = [d for d in group if await runtime.write(deliveries.take_over_claim, d.id, d.claim_token, token, wall)]
        if not mine:
            continue
        try:
            async with asyncio.timeout(SEND_DEADLINE.total_seconds()):
                channel = await resolve_channel(runtime, recipient)
                # No `oldest` bound: under a rehearsal clock "now" is not Slack's now. Recent messages suffice.
                history = await runtime.gateway.history_with_metadata(channel, limit=200)
        except Unreachable as error:
            try:
                concerned = await _people_concerned(runtime, mine[0])
            except TokenRefused:
                break  # these claims stay, and are looked at again once the token works
            for delivery in mine:
                await runtime.write(
                    _undeliverable, delivery.id, token, error.error, now, concerned, runtime.settings.admins
                )
                report.undeliverable += 1
            continue
        except (SlackUnavailable, TimeoutError):
            # Still unsure: these claims stay (restamped: looked at again after a lease). Slack is throttling
            # or failing, so leave the other conversations for the next sweep instead of spending the budget.
            break
        landed = {_delivery_id(m): m for m in history}
        for delivery in mine:
            found = landed.get(delivery.id)
            if found is not None:
                await runtime.write(_sent, delivery.id, token, channel, str(found.get("ts", "")), now)
                report.recovered += 1
                continue
            # It never reached Slack. After an unclear answer, Slack is struggling: back off. A worker that
            # died mid-attempt says nothing about Slack: due again now (a crash loop still ends at MAX_ATTEMPTS).
            unclear = (delivery.error or "").startswith(deliveries.UNCLEAR)
            error = (delivery.error or "") + ", not in the conversation" if unclear else "interrupted, not sent"
            if await _retry_or_give_up(runtime, delivery, token, error, back_off=unclear):
                report.undeliverable += 1
            else:
                report.retried += 1
    return report


def _delivery_id(message: dict[str, Any]) -> int | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    value = (metadata.get("event_payload") or {}).get("delivery_id")
    return value if isinstance(value, int) else None

"""Flows a librarian can start from a command or from a Home tab button; both entry points share these.

Each flow runs after the request was acked: it fetches what Slack knows, calls one service and answers
through `reply` (the command's response_url, or a DM when there is none).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from bot import delivery
from bot.mrkdwn import escape
from bot.runtime import Runtime
from bot.services import enrollment as enrollment_service
from bot.services import overview as overview_service
from bot.services import pair_replies
from bot.services import pairing as pairing_service
from bot.services import programs as program_service
from bot.services.accounts import stored_person
from bot.services.enrollment import Application, IntakeAnswers, JoinRefused
from bot.services.overview import ProfileRefusal
from bot.slack_gateway import SlackUnavailable, Unreachable
from bot.views import intake as intake_views
from bot.views import participant as views
from bot.views.common import SLACK_TROUBLE
from storage.deliveries import DeliveryKey
from storage.models import Program

log = logging.getLogger(__name__)

Reply = Callable[[str], Awaitable[None]]
# Answers that carry buttons: text (the notification) and blocks, to the same place as `Reply`.
Offer = Callable[[str, list[dict[str, Any]]], Awaitable[None]]


async def apply(
    runtime: Runtime, user_id: str, answers: IntakeAnswers, *, joining: bool, request_key: str
) -> Application | None:
    """Save an intake submission once it passes every check; None when Slack did not answer who may join
    (a channel-only program), in which case nothing was saved."""
    channel_members = None
    program = (
        await runtime.read(program_service.program_by_id, answers.program_id)
        if joining and answers.program_id
        else None
    )
    channel = enrollment_service.channel_to_check(program) if program else None
    if program and channel:
        if problems := enrollment_service.validate_intake(answers, program, user_id):
            return Application(problems)  # no need to wait for Slack to say what can be fixed now
        try:
            channel_members = await runtime.gateway.channel_members(channel)
        except SlackUnavailable:
            return None
        except Unreachable:  # archived, or Shelfmate was removed from it: pressing again will not help
            return Application({"role": views.eligibility_channel_unreadable(channel)})
    return await runtime.write(
        enrollment_service.apply,
        request_key,
        user_id,
        answers,
        runtime.now(),
        joining=joining,
        channel_members=channel_members,
        coordinators=runtime.settings.admins,
    )


async def tell_coordinators(runtime: Runtime, application: Application) -> None:
    """What a saved submission owes the coordinators (a paired person's changed answers), sent now; a failure
    is the ledger's to retry."""
    for key in application.notices:
        await delivery.deliver_now_or_copy(runtime, key)


async def refresh_person(runtime: Runtime, user_id: str) -> str | None:
    """Refresh the stored profile when it is stale; return a refusal if this account cannot take part."""
    now = runtime.now()
    person = await runtime.read(stored_person, user_id)
    if enrollment_service.needs_refresh(person, now):
        profile = await runtime.gateway.profile(user_id)
        person = await runtime.write(enrollment_service.save_profile, profile, now, runtime.settings.admins)
    assert person is not None
    return enrollment_service.refusal_for_person(person)


async def eligible_programs(runtime: Runtime, user_id: str) -> tuple[list[Program], str | None]:
    """Programs taking applications that this person may join, or the reason there are none."""
    now = runtime.now()
    programs = await runtime.read(enrollment_service.joinable_programs, now)
    if not programs:
        return [], await runtime.read(enrollment_service.why_no_program, now)
    eligible, first_refusal = [], None
    for program in programs:
        channel = enrollment_service.channel_to_check(program)
        try:
            members = await runtime.gateway.channel_members(channel) if channel else None
        except Unreachable:  # archived, or Shelfmate is not in it: that program only is closed to them
            first_refusal = first_refusal or views.eligibility_channel_unreadable(channel or "")
            continue
        try:
            await runtime.read(enrollment_service.check_can_join, user_id, program, now, members)
            eligible.append(program)
        except JoinRefused as refusal:
            first_refusal = first_refusal or str(refusal)
    return eligible, first_refusal


async def open_join(
    runtime: Runtime, user_id: str, trigger_id: str, role: str, reply: Reply, *, from_home: bool = False
) -> None:
    try:
        refusal = await refresh_person(runtime, user_id)
        if refusal:
            await reply(refusal)
            return
        programs, refusal = await eligible_programs(runtime, user_id)
        if not programs:
            await reply(refusal or "No program is taking applications right now.")
            return
        program_id = programs[0].id if len(programs) == 1 else None
        prefill = await runtime.read(enrollment_service.join_prefill, user_id, role, program_id)
        view = intake_views.intake_modal(
            programs=programs,
            answers=prefill.answers,
            editing=False,
            from_home=from_home,
            prefilled_from=intake_views.prefill_source(prefill),
        )
        await runtime.gateway.open_view(trigger_id, view)
    except (SlackUnavailable, Unreachable):
        log.warning("join: Slack unavailable", exc_info=True)
        await reply(SLACK_TROUBLE)


async def open_profile(
    runtime: Runtime,
    user_id: str,
    trigger_id: str,
    role: str,
    reply: Reply,
    *,
    offer: Offer,
    from_home: bool = False,
    enrollment_id: int | None = None,
) -> None:
    """Open one enrollment's profile form: the one asked for, the only one, or else a choice of them all (a
    librarian in two programs, or both mentor and mentee, edits each one separately)."""
    target = await runtime.read(overview_service.profile_to_edit, user_id, runtime.now(), role, enrollment_id)
    if target.refusal == ProfileRefusal.PROGRAM_ENDED:
        await reply("That program has ended, so its profile stays as it was. `/mentor profile` edits the others.")
        return
    if target.refusal == ProfileRefusal.LEFT:  # an old choice: they left that program since
        await reply("You've left that program, so its profile is gone. `/mentor profile` edits the ones you have.")
        return
    if target.refusal == ProfileRefusal.ALL_ENDED:
        await reply("Your program has ended, so there is no profile to edit. `/mentor join` to apply to the next one.")
        return
    if not target.choices:
        await reply(
            "You haven't joined a program yet" + (f" as a {role}" if role else "") + ". `/mentor join` to apply."
        )
        return
    if len(target.choices) > 1:
        await offer(*views.profile_choice(target.choices))
        return
    enrollment, program = target.choices[0]
    view = intake_views.intake_modal(
        programs=[program],
        answers=enrollment_service.answers_from_enrollment(enrollment),
        editing=True,
        from_home=from_home,
    )
    try:
        await runtime.gateway.open_view(trigger_id, view)
    except (SlackUnavailable, Unreachable):
        await reply(SLACK_TROUBLE)


async def publish_home(runtime: Runtime, user_id: str) -> None:
    overview, coordinating = await runtime.read(overview_service.home, user_id, runtime.now(), runtime.settings.admins)
    await runtime.gateway.publish_home(user_id, views.home_view(overview, coordinating, rehearsal=runtime.rehearsal))


async def refresh_home(runtime: Runtime, user_id: str) -> None:
    """Republish the Home tab after a change made elsewhere (a modal, a confirmation), so a person looking
    at it sees the change. Best effort: the change itself was saved and answered already, and the tab is
    rebuilt whenever it is opened again, so a Slack failure here is only logged."""
    try:
        await publish_home(runtime, user_id)
    except (SlackUnavailable, Unreachable):
        log.warning("could not refresh a Home tab after a change")


def parse_pause_until(words: list[str]) -> date | None:
    """`pause`, `pause until 2025-04-30` or `pause 2025-04-30`; anything else is a ValueError for the user."""
    if words and words[0].lower() == "until":
        words = words[1:]
    if not words:
        return None
    if len(words) > 1:
        raise ValueError("Use `/mentor pause` or `/mentor pause until YYYY-MM-DD`.")
    try:
        return date.fromisoformat(words[0])
    except ValueError:
        raise ValueError(f"`{words[0][:30]}` is not a date. Use `/mentor pause until YYYY-MM-DD`.") from None


def _break_render(user_id: str) -> pair_replies.RenderBreak:
    return lambda program, until: views.partner_break_message(user_id, program, until)


def _back_render(user_id: str) -> pair_replies.RenderBreak:
    return lambda program, _until: views.partner_back_message(user_id, program)


async def tell_pairs(runtime: Runtime, notices: list[DeliveryKey]) -> None:
    """Send the pairs' messages about a pause or a resume (in the ledger already: a failure here loses nothing,
    and one outside the pair's hours waits for them)."""
    for key in notices:
        await delivery.deliver_now(runtime, key)


async def pause(runtime: Runtime, user_id: str, until: date | None) -> tuple[str, list[DeliveryKey]]:
    """The answer to `/mentor pause`, and the pairs' messages to send once it is given."""
    now = runtime.now()
    try:
        outcome = await runtime.write(pair_replies.pause, user_id, until, now, _break_render(user_id))
    except ValueError as problem:
        return str(problem), []
    return views.paused_message(outcome.enrollments, await _program_names(runtime), outcome.partners), outcome.notices


async def pause_from_home(runtime: Runtime, user_id: str) -> None:
    """The Home tab's Pause button: the republished tab is the answer, so no message is composed (an open-ended
    pause cannot be refused)."""
    outcome = await runtime.write(pair_replies.pause, user_id, None, runtime.now(), _break_render(user_id))
    await publish_home(runtime, user_id)
    await tell_pairs(runtime, outcome.notices)


async def resume_from_home(runtime: Runtime, user_id: str) -> None:
    """The Home tab's Resume button: the republished tab is the answer."""
    outcome = await runtime.write(pair_replies.resume, user_id, runtime.now(), _back_render(user_id))
    await publish_home(runtime, user_id)
    await tell_pairs(runtime, outcome.notices)


async def resume(runtime: Runtime, user_id: str) -> tuple[str, list[DeliveryKey]]:
    outcome = await runtime.write(pair_replies.resume, user_id, runtime.now(), _back_render(user_id))
    return views.resumed_message(outcome.enrollments, await _program_names(runtime), outcome.partners), outcome.notices


async def _program_names(runtime: Runtime) -> dict[int, str]:
    return {program_id: p.name for program_id, p in (await runtime.read(program_service.programs_by_id)).items()}


async def leave(runtime: Runtime, user_id: str, program_id: int | None = None) -> str:
    result = await runtime.write(enrollment_service.leave, user_id, runtime.now(), program_id)
    for notice in result.partners:
        try:
            await runtime.gateway.post(
                notice.partner_id,
                views.partner_left_message(notice.program_name, notice.leaver_id, notice.still_paired_with),
            )
        except (SlackUnavailable, Unreachable):
            log.warning("could not tell %s that a pairing ended", notice.partner_id)
        if notice.admin_notice is not None:  # in the ledger: sent once, to coordinators by DM if need be
            await delivery.deliver_now_or_copy(runtime, notice.admin_notice)
    if result.withdrawn:
        await refresh_home(runtime, user_id)
    return views.left_message(result, await _program_names(runtime) if result.staying else None)


async def request_rematch(
    runtime: Runtime, user_id: str, reason: str, pairing_id: int | None = None
) -> tuple[str, list[dict[str, Any]] | None]:
    """ "This pairing is not working": the reason goes only to the coordinators of the pairing it is about.

    Someone with several partners is first asked which pairing (`pairing_id`, from their choice)."""
    requests = await runtime.read(pairing_service.rematch_requests, user_id)
    if pairing_id is not None:
        requests = [r for r in requests if r.pairing.id == pairing_id]
        if not requests:
            return "That pairing has ended (or isn't yours), so I didn't send anything.", None
    if not requests:
        return "You don't have a mentoring partner right now, so there is nothing to rematch.", None
    reason = reason.strip()
    if not reason:
        return (
            "Tell me briefly what isn't working, e.g. `/mentor rematch our schedules never line up`. "
            "Only your program's coordinators will see it; your partner won't."
        ), None
    if len(requests) > 1:
        return views.rematch_choice(requests, reason[: pairing_service.REMATCH_REASON_LIMIT])
    return await _send_rematch(runtime, requests[0], reason[: pairing_service.REMATCH_REASON_LIMIT]), None


async def _send_rematch(runtime: Runtime, request: pairing_service.RematchRequest, reason: str) -> str:
    route = pairing_service.rematch_route(request, runtime.settings.admins)
    if route.privately and not route.recipients:
        return (
            f"I haven't sent this: <@{request.partner_id}> is the only coordinator of {escape(request.program.name)}, "
            "so anything I pass on would reach them. Please talk to someone you trust at your library or "
            "system about it instead."
        )
    keys = await runtime.write(pairing_service.queue_rematch, request, route, reason, runtime.now())
    reached = {await delivery.deliver_now_or_copy(runtime, key) for key in keys}
    if "reached" in reached:
        return "Thanks for telling us. Your coordinators will follow up with you privately."
    if "waiting" in reached:  # Slack did not answer: the ledger sends it as soon as it does
        return (
            "Thanks for telling us. Slack is slow right now, so it will reach your coordinators in a few "
            "minutes; they'll follow up with you privately."
        )
    log.warning("a rematch request reached no coordinator")
    return "I couldn't reach your coordinators, so please contact them directly."

"""`/mentor-admin`, its modal and its buttons. Every request re-checks that the person is a coordinator."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.listeners import as_typed, form_errors, user_of
from bot.listeners.commands import split_command
from bot.mrkdwn import escape
from bot.runtime import Runtime
from bot.services import pairing as pairing_service
from bot.services import programs as program_service
from bot.services import reports
from bot.services.pairing import PairingRefused
from bot.services.programs import NotAllowed, ProgramInvalid
from bot.slack_gateway import SlackUnavailable, Unreachable
from bot.views import admin as admin_views
from bot.views import audit as audit_views
from bot.views import help as help_views
from bot.views import summary as summary_views
from bot.views.chart import meeting_rate_png
from bot.views.ids import (
    ACTION_APPROVE_ALL,
    ACTION_APPROVE_PAIR,
    ACTION_DISSOLVE_PAIR,
    ACTION_OVERRIDE_PAIR,
    ACTION_REJECT_PAIR,
    ADMIN_COMMAND,
    PROGRAM_CALLBACK,
)
from bot.views.state import SubmittedView, as_int, submission_key
from storage.models import Program

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
DEFAULT_AUDIT_ROWS = 20


def parse_two_people(args: list[str]) -> tuple[str, str, str]:
    """`<@U1|a> <@U2|b> Program name` -> (U1, U2, "Program name")."""
    text = " ".join(args)
    people = MENTION.findall(text)
    if len(people) != 2:
        raise ValueError("Mention two people: the mentor first, then the mentee, e.g. `pair @Morgan @Dana`.")
    rest = MENTION.sub("", text).strip()
    return people[0], people[1], rest


def register(app: AsyncApp, runtime: Runtime) -> None:
    admins = runtime.settings.admins

    async def authorized(user_id: str, program: Program | None) -> str | None:
        try:
            await runtime.read(program_service.require_admin, program, user_id, admins)
        except NotAllowed as refusal:
            return str(refusal)
        return None

    async def program_named(name: str) -> Program:
        return await runtime.read(program_service.resolve_program, as_typed(name))

    @app.command(ADMIN_COMMAND)
    async def admin_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        user_id = str(command.get("user_id", ""))
        subcommand, args = split_command(command.get("text"))
        action = args[0].lower() if args else ""

        async def say(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        try:
            if subcommand == "program" and action in ("create", "edit", "list"):
                program = await program_named(" ".join(args[1:])) if action == "edit" else None
                if refusal := await authorized(user_id, program):
                    await ack(text=refusal, response_type="ephemeral")
                    return
                if action == "list":
                    programs, counts = await runtime.read(program_service.visible_programs_with_counts, user_id, admins)
                    await ack(
                        blocks=admin_views.program_list_blocks(programs, counts),
                        text="Programs",
                        response_type="ephemeral",
                    )
                    return
                await ack()
                # A program's own coordinator who creates one coordinates it (a global admin needs no entry).
                creator = user_id if program is None and user_id not in admins else None
                await runtime.gateway.open_view(
                    str(command.get("trigger_id", "")), admin_views.program_modal(program, creator)
                )
            elif subcommand == "match" and action == "preview":
                program = await program_named(" ".join(args[1:]))
                if refusal := await authorized(user_id, program):
                    await ack(text=refusal, response_type="ephemeral")
                    return
                if program_service.has_ended(program, runtime.now()):
                    await ack(text=program_service.ended_message(program), response_type="ephemeral")
                    return
                await ack(text=f"Working out matches for {escape(program.name)}…", response_type="ephemeral")
                await say(await _post_preview(runtime, program, user_id))
            elif subcommand in ("pair", "unpair"):
                mentor_id, mentee_id, name = parse_two_people(args)
                program = await program_named(name)
                if refusal := await authorized(user_id, program):
                    await ack(text=refusal, response_type="ephemeral")
                    return
                if subcommand == "unpair":
                    await runtime.write(pairing_service.unpair, program, mentor_id, mentee_id, user_id, runtime.now())
                    await ack(
                        text=f"<@{mentor_id}> and <@{mentee_id}> are no longer paired.", response_type="ephemeral"
                    )
                    return
                check = await runtime.read(
                    pairing_service.check_hand_pair, program, mentor_id, mentee_id, runtime.now(), actor=user_id
                )
                already = f"<@{mentor_id}> and <@{mentee_id}> are already paired; nothing changed."
                if check.already is not None:
                    await ack(text=already, response_type="ephemeral")
                    return
                if isinstance(check.verdict, pairing_service.matching.Forbidden):
                    await ack(
                        blocks=admin_views.override_blocks(mentor_id, mentee_id, program.id or 0, check.verdict.reason),
                        text="This pair breaks a matching rule.",
                        response_type="ephemeral",
                    )
                    return
                paired = await runtime.write(
                    pairing_service.pair_by_hand_once,
                    program,
                    mentor_id,
                    mentee_id,
                    user_id,
                    runtime.now(),
                    override=False,
                )
                if paired is None:  # a concurrent copy of this command paired them first
                    await ack(text=already, response_type="ephemeral")
                    return
                await ack(
                    text=f"Paired <@{mentor_id}> with <@{mentee_id}> (score {check.verdict.score:.1f}). "
                    "They'll be introduced shortly.",
                    response_type="ephemeral",
                )
            elif subcommand in ("summary", "export"):
                kind = action if subcommand == "export" else ""
                if subcommand == "export" and kind not in reports.EXPORT_KINDS:
                    raise ValueError("Use `/mentor-admin export participants|pairings|checkins|hours [program]`.")
                program = await program_named(" ".join(args[1:] if subcommand == "export" else args))
                if refusal := await authorized(user_id, program):
                    await ack(text=refusal, response_type="ephemeral")
                    return
                if subcommand == "summary":
                    summary = await runtime.read(reports.summarize, program, runtime.now())
                    await ack(
                        blocks=summary_views.summary_blocks(summary, rehearsal=runtime.rehearsal),
                        text=summary_views.summary_text(summary),
                        response_type="ephemeral",
                    )
                    await say(await _post_summary(runtime, program, summary))
                else:
                    await ack(text=f"Preparing the {kind} export…", response_type="ephemeral")
                    await say(await _post_export(runtime, program, kind, user_id))
            elif subcommand == "audit":
                if refusal := await authorized(user_id, None):
                    await ack(text=refusal, response_type="ephemeral")
                    return
                limit = as_int(action) or DEFAULT_AUDIT_ROWS
                trail = await runtime.read(program_service.audit_trail, user_id, admins, max(1, min(limit, 100)))
                await ack(
                    blocks=audit_views.audit_blocks(
                        trail.events, trail.program_names, zones=trail.program_zones, pairs=trail.pairs
                    ),
                    text="Recent admin actions",
                    response_type="ephemeral",
                )
            else:
                if refusal := await authorized(user_id, None):
                    await ack(text=refusal, response_type="ephemeral")
                    return
                unknown = None if subcommand in ("", "help") else " ".join([subcommand, action]).strip()
                await ack(
                    blocks=help_views.help_blocks(unknown=unknown, admin=True),
                    text=help_views.help_text(admin=True),
                    response_type="ephemeral",
                )
        except (ProgramInvalid, PairingRefused, ValueError) as problem:
            message = "; ".join(problem.errors.values()) if isinstance(problem, ProgramInvalid) else str(problem)
            await ack(text=message[:1].upper() + message[1:], response_type="ephemeral")

    @app.view(PROGRAM_CALLBACK)
    async def program_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = user_of(body)
        program_id, values = admin_views.parse_program_modal(view)
        program = await runtime.read(program_service.program_by_id, program_id) if program_id else None
        if program_id and program is None:
            await ack(response_action="errors", errors=form_errors({"name": "This program no longer exists."}))
            return
        if refusal := await authorized(user_id, program):
            await ack(response_action="errors", errors=form_errors({"name": refusal}))
            return
        try:
            saved = await runtime.write(
                program_service.save_program_once,
                submission_key(view, user_id),
                program_id,
                values,
                actor=user_id,
                now=runtime.now(),
                creator_coordinates=user_id not in admins,
            )
        except ProgramInvalid as invalid:
            present = SubmittedView(view).fields
            errors = {k: v for k, v in invalid.errors.items() if k in present}
            leftover = [
                f"{program_service.FIELD_LABELS.get(k, k)} {v}" for k, v in invalid.errors.items() if k not in present
            ]
            if leftover or not errors:
                errors["name"] = (errors.get("name", "") + " " + " ".join(leftover)).strip() or "Please check the form."
            await ack(response_action="errors", errors=form_errors(errors))
            return
        await ack()
        if saved is None:
            return  # a repeat of a saved submission: the first copy confirms it
        channel = saved.admin_channel
        moved = bool(channel) and (program is None or program.admin_channel != channel)
        problem = await runtime.gateway.why_cannot_post_in(channel) if channel and moved else None
        try:
            text = admin_views.program_saved_text(saved.name, channel, problem)
            if program is not None and program.closed_at is not None and saved.closed_at is None:
                text += "\n" + program_service.reopened_note(saved)
            await runtime.gateway.post(user_id, text)
        except (SlackUnavailable, Unreachable):
            log.warning("could not confirm a saved program by DM")

    async def decide_pair(body: dict[str, Any], respond: AsyncRespond, decision: pairing_service.Decision) -> None:
        """Approve, Reject or Dissolve one pairing, and say who decided what about whom."""
        user_id = user_of(body)
        pairing_id = as_int(str(((body.get("actions") or [{}])[0]).get("value") or ""))
        program = await runtime.read(pairing_service.program_of_pairing, pairing_id)
        if pairing_id is None or program is None:
            await respond(text="That pairing no longer exists.", replace_original=False)
            return
        if refusal := await authorized(user_id, program):
            await respond(text=refusal, replace_original=False)
            return
        try:
            decided = await runtime.write(pairing_service.decide, pairing_id, decision, user_id, runtime.now())
        except PairingRefused as problem:  # their own pairing: another coordinator decides
            await respond(text=str(problem), replace_original=False)
            return
        text = admin_views.decision_text(decision, user_id, decided.members, changed=decided.changed)
        await respond(text=text, replace_original=False)

    @app.action(ACTION_APPROVE_PAIR)
    async def approve_pair(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await decide_pair(body, respond, "approved")

    @app.action(ACTION_REJECT_PAIR)
    async def reject_pair(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await decide_pair(body, respond, "rejected")

    @app.action(ACTION_DISSOLVE_PAIR)
    async def dissolve_pair(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await decide_pair(body, respond, "dissolved")

    @app.action(ACTION_APPROVE_ALL)
    async def approve_all(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = user_of(body)
        value = str(((body.get("actions") or [{}])[0]).get("value") or "")
        program_id, fingerprint = admin_views.parse_approve_all_value(value)
        program = await runtime.read(program_service.program_by_id, program_id) if program_id is not None else None
        if program is None:
            await respond(text="That program no longer exists.", replace_original=False)
            return
        if refusal := await authorized(user_id, program):
            await respond(text=refusal, replace_original=False)
            return
        try:
            result = await runtime.write(
                pairing_service.approve_all_in_program,
                program.id,
                user_id,
                runtime.now(),
                preview_fingerprint=fingerprint,
            )
        except PairingRefused as problem:
            await respond(text=str(problem), replace_original=False)
            return
        await respond(text=admin_views.approve_all_text(user_id, program.name, result), replace_original=False)

    @app.action(ACTION_OVERRIDE_PAIR)
    async def override_pair(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = user_of(body)
        try:
            data = json.loads(str(((body.get("actions") or [{}])[0]).get("value") or "{}"))
            program_id = as_int(data["program_id"])
            if program_id is None:
                raise ValueError("not a program id")
            program = await runtime.read(program_service.program_by_id, program_id)
            mentor_id, mentee_id = str(data["mentor"]), str(data["mentee"])
        except (ValueError, KeyError, TypeError):
            await respond(text="That button is out of date. Run the pair command again.", replace_original=False)
            return
        if program is None:
            await respond(text="That program no longer exists.", replace_original=False)
            return
        if refusal := await authorized(user_id, program):
            await respond(text=refusal, replace_original=False)
            return
        try:
            # None when a concurrent copy of this click paired them first: the message ends the same either way.
            await runtime.write(
                pairing_service.pair_by_hand_once, program, mentor_id, mentee_id, user_id, runtime.now(), override=True
            )
        except PairingRefused as problem:
            await respond(text=str(problem), replace_original=False)
            return
        await respond(text=f"Paired <@{mentor_id}> with <@{mentee_id}> (rule overridden).", replace_original=True)


async def _post_preview(runtime: Runtime, program: Program, actor: str) -> str:
    """Run matching, post the proposal to the admin channel (CSV for the full list), return a short answer."""
    preview = await runtime.write(
        pairing_service.coordinator_preview, program.id, actor, runtime.now(), runtime.settings.admins
    )
    channel = program.admin_channel
    summary = admin_views.preview_answer(preview)
    if not channel:
        return summary + " Set an admin channel (`/mentor-admin program edit`) to review them there."
    try:
        await runtime.gateway.post(
            channel,
            admin_views.preview_post_text(preview),
            admin_views.match_preview_blocks(preview, rehearsal=runtime.rehearsal),
        )
        if admin_views.preview_needs_file(preview, rehearsal=runtime.rehearsal):
            await runtime.gateway.upload_file(
                channel,
                f"matches-{program.id}.csv",
                admin_views.preview_csv(preview),
                title=f"All proposed matches: {program.name}",
                initial_comment=None,
            )
    except Unreachable as error:
        return f"{summary} {admin_views.admin_channel_refused(channel, error.error)}"
    except SlackUnavailable:
        return summary + " Slack didn't answer; the proposal is saved, run the preview again to post it."
    return summary + f" Review them in <#{channel}>."


async def _post_summary(runtime: Runtime, program: Program, summary: reports.ProgramSummary) -> str:
    """The summary and its chart go to the admin channel too, where coordinators live."""
    if not program.admin_channel:
        return "Set an admin channel (`/mentor-admin program edit`) to get summaries there."
    try:
        await runtime.gateway.post(
            program.admin_channel,
            summary_views.summary_text(summary),
            summary_views.summary_blocks(summary, rehearsal=runtime.rehearsal),
        )
        if summary.months:
            await runtime.gateway.upload_file(
                program.admin_channel,
                f"meetings-{program.id}.png",
                meeting_rate_png(summary),
                title=f"{program.name}: meetings by month",
            )
    except Unreachable as error:
        return admin_views.admin_channel_refused(program.admin_channel, error.error)
    except SlackUnavailable:
        return "Slack didn't answer; please try again in a minute."
    return f"Posted to <#{program.admin_channel}>."


async def _post_export(runtime: Runtime, program: Program, kind: str, actor: str) -> str:
    if not program.admin_channel:
        return "Set an admin channel (`/mentor-admin program edit`) first: exports are uploaded there."
    content = await runtime.write(reports.coordinator_export, program.id, kind, actor, runtime.now())
    try:
        await runtime.gateway.upload_file(
            program.admin_channel,
            f"{kind}-{program.id}.csv",
            content,
            title=f"{program.name}: {kind}",
            initial_comment=f"<@{actor}> exported {kind}.",
        )
    except Unreachable as error:
        return admin_views.admin_channel_refused(program.admin_channel, error.error, doing="upload to")
    except SlackUnavailable:
        return "Slack didn't answer; please try again in a minute."
    return f"Uploaded `{kind}` to <#{program.admin_channel}>."

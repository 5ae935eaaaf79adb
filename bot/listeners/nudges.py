"""Buttons on nudges and the wrap-up survey: "Not yet", "We need help", "Answer the survey"."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.listeners import form_errors, user_of
from bot.runtime import Runtime
from bot.services import schedule, surveys
from bot.views.ids import ACTION_NEED_HELP, ACTION_NOT_YET, ACTION_SURVEY, SURVEY_CALLBACK
from bot.views.pairs import not_yet_answer
from bot.views.state import as_int
from bot.views.survey import parse_survey, survey_modal


def _user_and_pairing(body: dict[str, Any]) -> tuple[str, int | None]:
    user_id = user_of(body)
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    return user_id, as_int(value)


NOT_YOURS = "That button belongs to another pair's conversation, so nothing changed."


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.action(ACTION_NOT_YET)
    async def not_yet(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, pairing_id = _user_and_pairing(body)
        asked = (
            await runtime.write(surveys.ask_again_if_member, pairing_id, user_id, runtime.now())
            if pairing_id is not None
            else None
        )
        if asked is None:
            await respond(text=NOT_YOURS, replace_original=False, response_type="ephemeral")
            return
        await respond(text=not_yet_answer(asked), replace_original=False, response_type="ephemeral")

    @app.action(ACTION_NEED_HELP)
    async def need_help(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, pairing_id = _user_and_pairing(body)
        if pairing_id is None or not await runtime.read(surveys.is_member, pairing_id, user_id):
            await respond(text=NOT_YOURS, replace_original=False, response_type="ephemeral")
            return
        await runtime.write(schedule.request_help, pairing_id, user_id, runtime.now())
        await respond(
            text="I've let your program coordinators know; one of them will reach out to you.",
            replace_original=False,
            response_type="ephemeral",
        )

    @app.action(ACTION_SURVEY)
    async def open_survey(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, pairing_id = _user_and_pairing(body)
        if pairing_id is None or not await runtime.read(surveys.is_member, pairing_id, user_id):
            await respond(text=NOT_YOURS, replace_original=False, response_type="ephemeral")
            return
        await runtime.gateway.open_view(str(body.get("trigger_id", "")), survey_modal(pairing_id))

    @app.view(SURVEY_CALLBACK)
    async def survey_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = user_of(body)
        pairing_id, answers, errors = parse_survey(view)
        if errors:
            await ack(response_action="errors", errors=form_errors(errors))
            return
        saved = (
            await runtime.write(surveys.save_response, pairing_id, user_id, **answers, now=runtime.now())
            if pairing_id is not None
            else None
        )
        if saved is None:
            await ack(
                response_action="errors", errors=form_errors({"satisfaction": "This survey isn't for your pairing."})
            )
            return
        await ack()

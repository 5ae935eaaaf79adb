"""The wrap-up survey modal."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import InputBlock, Option, RadioButtonsElement, StaticSelectElement
from slack_sdk.models.views import View

from bot.views.ids import SURVEY_CALLBACK
from bot.views.state import SubmittedView, as_int

YES_NO = [Option(value="yes", label="Yes"), Option(value="no", label="No")]


def survey_modal(pairing_id: int) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=SURVEY_CALLBACK,
        title="Wrap-up survey",
        submit="Send",
        close="Cancel",
        private_metadata=json.dumps({"pairing_id": pairing_id}),
        blocks=[
            InputBlock(
                block_id="satisfaction",
                label="How satisfied are you with your mentoring?",
                element=StaticSelectElement(
                    action_id="satisfaction",
                    options=[
                        Option(value=str(n), label=f"{n} - {w}")
                        for n, w in enumerate(["not at all", "a little", "somewhat", "very", "extremely"], start=1)
                    ],
                ),
            ),
            InputBlock(
                block_id="would_continue",
                label="Would you like to keep meeting?",
                element=RadioButtonsElement(action_id="would_continue", options=YES_NO),
            ),
            InputBlock(
                block_id="still_in_libraries",
                label="Are you still working in libraries?",
                element=RadioButtonsElement(action_id="still_in_libraries", options=YES_NO),
            ),
        ],
    ).to_dict()


def parse_survey(view: dict[str, Any]) -> tuple[int | None, dict[str, Any], dict[str, str]]:
    """(pairing id, answers, inline errors)."""
    submitted = SubmittedView(view)
    errors: dict[str, str] = {}
    satisfaction = submitted.selected("satisfaction")
    if satisfaction not in {"1", "2", "3", "4", "5"}:
        errors["satisfaction"] = "Choose 1 to 5."
    answers: dict[str, Any] = {"satisfaction": as_int(satisfaction) or 0}
    for name in ("would_continue", "still_in_libraries"):
        value = submitted.selected(name)
        if value not in ("yes", "no"):
            errors[name] = "Choose yes or no."
        answers[name] = value == "yes"
    return as_int(submitted.metadata.get("pairing_id")), answers, errors

"""Drives the app the way Slack does: signed HTTP requests shaped like Slack's own payload samples.

Shapes follow `shared/slack-specs/java-slack-sdk-json-logs/json-logs/samples/app-backend/` and `events/`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

TEAM_ID = "T0SHELF01"
APP_ID = "A0SHELF01"
_event_ids = itertools.count(1)


def interactive_envelope(user_id: str, trigger_id: str) -> dict[str, Any]:
    """The fields every interactive payload (block actions, view submissions) carries, as Slack sends them."""
    return {
        "team": {"id": TEAM_ID, "domain": "libraries"},
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token-unused",
        "trigger_id": trigger_id,
        "is_enterprise_install": False,
    }


def view_submission_payload(
    envelope: dict[str, Any],
    callback_id: str,
    values: Any,
    private_metadata: str,
    *,
    view_id: str,
    view_hash: str,
    title: str = "Shelfmate",
) -> dict[str, Any]:
    """A `view_submission` interaction as Slack sends it, around the submitted state."""
    return envelope | {
        "type": "view_submission",
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "hash": view_hash,
            "title": {"type": "plain_text", "text": title},
            "app_id": APP_ID,
            "root_view_id": view_id,
            "previous_view_id": None,
        },
        "response_urls": [],
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackDriver:
    """Sends slash commands, block actions, view submissions and events to the app under test."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        issue_trigger_id: Callable[[], str] | None = None,
        new_response_url: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.events_url = self.app_url + "/slack/events"
        self.signing_secret = signing_secret
        self._issue_trigger_id = issue_trigger_id or (lambda: f"{int(time.time())}.trigger")
        self._new_response_url = new_response_url or (lambda: "https://hooks.slack.invalid/commands/x")
        self._clock = clock
        self.http = httpx.Client(timeout=30)
        self.last_response_url = ""

    def _response_url(self) -> str:
        self.last_response_url = self._new_response_url()
        return self.last_response_url

    def close(self) -> None:
        self.http.close()

    # -- raw -------------------------------------------------------------------------------------------
    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        signed: bool = True,
        secret: str | None = None,
        timestamp: int | None = None,
        retry_num: int | None = None,
        tamper: bool = False,
    ) -> httpx.Response:
        ts = str(int(self._clock()) if timestamp is None else timestamp)
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
        if signed:
            headers["X-Slack-Signature"] = sign(secret or self.signing_secret, ts, body)
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        if tamper:
            body = body + b"&x=1" if content_type.startswith("application/x-www") else body[:-1] + b" }"
        return self.http.post(self.events_url, content=body, headers=headers)

    # -- shapes ------------------------------------------------------------------------------------------
    def command_body(
        self, user_id: str, command: str, text: str = "", *, channel_id: str = "C0GENERAL"
    ) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "libraries",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._response_url(),
            "trigger_id": self._issue_trigger_id(),
        }

    def command(self, user_id: str, command: str, text: str = "", **kwargs: Any) -> httpx.Response:
        channel_id = kwargs.pop("channel_id", "C0GENERAL")
        form = self.command_body(user_id, command, text, channel_id=channel_id)
        return self.post(urlencode(form).encode(), "application/x-www-form-urlencoded", **kwargs)

    def mentor(self, user_id: str, text: str = "", **kwargs: Any) -> httpx.Response:
        return self.command(user_id, "/mentor", text, **kwargs)

    def admin(self, user_id: str, text: str = "", **kwargs: Any) -> httpx.Response:
        return self.command(user_id, "/mentor-admin", text, **kwargs)

    def interactive(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded", **kwargs)

    def _envelope(self, user_id: str) -> dict[str, Any]:
        return interactive_envelope(user_id, self._issue_trigger_id())

    def block_action(
        self,
        user_id: str,
        action_id: str,
        value: str = "",
        *,
        block_id: str = "actions",
        channel_id: str | None = None,
        message_ts: str | None = None,
        view: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        payload = self._envelope(user_id) | {
            "type": "block_actions",
            "response_url": self._response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "text": {"type": "plain_text", "text": "button"},
                    "action_ts": f"{self._clock():.6f}",
                }
            ],
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id", "V0HOME")}
            payload["view"] = view
            if view.get("type") == "home":
                del payload["response_url"]  # Slack sends none for the Home tab: there is no message to answer
        else:
            channel = channel_id or "D0DM"
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts or "1700000000.000100",
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel, "name": "directmessage"}
            payload["message"] = {"type": "message", "ts": message_ts or "1700000000.000100", "text": ""}
        return self.interactive(payload, **kwargs)

    def view_submission(
        self,
        user_id: str,
        callback_id: str,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        private_metadata: str = "",
        view_id: str = "V0MODAL01",
        view_hash: str = "1700000000.abcdef",
        **kwargs: Any,
    ) -> httpx.Response:
        payload = view_submission_payload(
            self._envelope(user_id), callback_id, values, private_metadata, view_id=view_id, view_hash=view_hash
        )
        return self.interactive(payload, **kwargs)

    def event(self, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
        envelope = {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": f"Ev{next(_event_ids):08d}",
            "event_time": int(self._clock()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0SHELFBOT", "is_bot": True}],
            "event": event,
        }
        return self.post(json.dumps(envelope).encode(), "application/json", **kwargs)

    def app_home_opened(self, user_id: str, **kwargs: Any) -> httpx.Response:
        return self.event(
            {
                "type": "app_home_opened",
                "user": user_id,
                "channel": "D0HOME" + user_id[-4:],
                "tab": "home",
                "event_ts": f"{self._clock():.6f}",
            },
            **kwargs,
        )

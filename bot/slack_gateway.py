"""The one place that talks to the Slack Web API.

Retries for 429 and connection errors are configured on the client (bot/runtime.py); here errors are
classified: "this person cannot be reached" is permanent and must be reported, not retried forever.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.enrollment import SlackProfile

log = logging.getLogger(__name__)

UNREACHABLE_ERRORS = frozenset(
    {
        "account_inactive",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "channel_not_found",
        "is_archived",
        "messages_tab_disabled",
        "not_in_channel",
        "users_not_found",
    }
)


class Unreachable(Exception):
    """Slack says the person or channel cannot receive messages from us (permanent)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackUnavailable(Exception):
    """A temporary failure after the client's own retries: try again later.

    `ambiguous` means Slack may have acted anyway (a timeout, a 5xx): a message must not simply be sent
    again, but first looked for in the conversation.
    """

    def __init__(self, message: str, *, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class RateLimited(SlackUnavailable):
    """Slack answered 429 (it did nothing) and asked to wait `retry_after` seconds.

    Raised only where the caller waits it out itself (bot.slack_client.caller_waits_out_rate_limits);
    elsewhere the client sleeps and retries.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(error: SlackApiError) -> float:
    headers = error.response.headers if error.response is not None else {}
    try:
        return max(1.0, float(headers.get("Retry-After") or headers.get("retry-after") or 1))
    except (TypeError, ValueError):
        return 1.0


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


def slack_error_code(error: SlackApiError) -> str:
    response = error.response
    data = response.data if response is not None and isinstance(response.data, dict) else {}
    return str(data.get("error") or "unknown_error")


REHEARSAL_TEXT = "[REHEARSAL] "
REHEARSAL_BLOCK: dict[str, Any] = {
    "type": "context",
    "elements": [{"type": "mrkdwn", "text": ":test_tube: *REHEARSAL*: simulated program clock; this is practice."}],
}


class SlackGateway:
    """`rehearsal` labels every message the bot posts, so nobody mistakes a rehearsal for the real program."""

    def __init__(self, client: AsyncWebClient, *, rehearsal: bool = False) -> None:
        self.client = client
        self.rehearsal = rehearsal

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            if method in _JSON_METHODS:
                response = await self.client.api_call(method, json=kwargs)
            else:
                response = await self.client.api_call(method, data=kwargs)
            return dict(response.data) if isinstance(response.data, dict) else {}
        except SlackApiError as error:
            code = slack_error_code(error)
            if code in UNREACHABLE_ERRORS:
                raise Unreachable(code) from None
            status = error.response.status_code if error.response is not None else 0
            if status == 429:
                raise RateLimited(f"{method}: rate limited (HTTP 429)", _retry_after(error)) from None
            raise SlackUnavailable(f"{method}: {code} (HTTP {status})", ambiguous=status >= 500) from None
        except TimeoutError:
            raise SlackUnavailable(f"{method}: timed out", ambiguous=True) from None
        except OSError as error:
            raise SlackUnavailable(f"{method}: {type(error).__name__}") from None
        except Exception as error:  # aiohttp's own errors (ClientError, ...) are not OSError
            if type(error).__module__.startswith("aiohttp"):
                ambiguous = "Timeout" in type(error).__name__ or "Disconnected" in type(error).__name__
                raise SlackUnavailable(f"{method}: {type(error).__name__}", ambiguous=ambiguous) from None
            raise

    # -- reading -------------------------------------------------------------------------------------------
    async def profile(self, user_id: str) -> SlackProfile:
        data = await self._call("users.info", user=user_id)
        return profile_from_user(data.get("user") or {"id": user_id})

    async def channel_members(self, channel_id: str) -> set[str]:
        members: set[str] = set()
        cursor = ""
        for _ in range(100):  # 100 pages of 1,000 is far beyond any library program
            args: dict[str, Any] = {"channel": channel_id, "limit": 1000}
            if cursor:
                args["cursor"] = cursor
            data = await self._call("conversations.members", **args)
            members.update(data.get("members") or [])
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return members

    async def find_person(self, id_or_email: str) -> SlackProfile | None:
        """A person's profile by user id or email; None when Slack has no such user. users.lookupByEmail
        answers with the whole user object, so an email costs one call, not a lookup and then users.info."""
        try:
            if "@" not in id_or_email:
                return await self.profile(id_or_email)
            data = await self._call("users.lookupByEmail", email=id_or_email)
        except Unreachable:
            return None
        user = data.get("user") or {}
        return profile_from_user(user) if user.get("id") else None

    # -- writing -------------------------------------------------------------------------------------------
    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.open", trigger_id=trigger_id, view=view)

    async def push_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.push", trigger_id=trigger_id, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._call("views.publish", user_id=user_id, view=view)

    async def open_conversation(self, user_ids: list[str]) -> str:
        data = await self._call("conversations.open", users=",".join(user_ids))
        return str((data.get("channel") or {}).get("id") or "")

    async def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        if self.rehearsal:
            # Big views (match preview, summary) carry their own label within their block budget.
            text = text if text.startswith(REHEARSAL_TEXT) else REHEARSAL_TEXT + text
            if blocks and "REHEARSAL" not in json.dumps(blocks):
                blocks = [REHEARSAL_BLOCK, *blocks]
        args: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            args["blocks"] = blocks
        if metadata:
            args["metadata"] = metadata
        if thread_ts:
            args["thread_ts"] = thread_ts
        data = await self._call("chat.postMessage", **args)
        return PostedMessage(channel=str(data.get("channel") or channel), ts=str(data.get("ts") or ""))

    async def post_ephemeral(self, channel: str, user_id: str, text: str) -> None:
        await self._call("chat.postEphemeral", channel=channel, user=user_id, text=text)

    async def history_with_metadata(self, channel: str, oldest: str | None = None, limit: int = 100) -> list[dict]:
        args: dict[str, Any] = {"channel": channel, "include_all_metadata": "true", "limit": limit}
        if oldest:
            args["oldest"] = oldest
        data = await self._call("conversations.history", **args)
        return list(data.get("messages") or [])

    async def upload_file(
        self,
        channel: str,
        filename: str,
        content: bytes,
        title: str,
        initial_comment: str | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Slack's external upload flow: get an upload URL, send the bytes, complete into the channel."""
        data = await self._call("files.getUploadURLExternal", filename=filename, length=len(content))
        upload_url, file_id = data["upload_url"], data["file_id"]
        import aiohttp

        async with aiohttp.ClientSession() as session, session.post(upload_url, data=content) as response:
            if response.status >= 300:
                raise SlackUnavailable(f"file upload: HTTP {response.status}")
        args: dict[str, Any] = {"files": [{"id": file_id, "title": title}], "channel_id": channel}
        if initial_comment or self.rehearsal:
            args["initial_comment"] = (REHEARSAL_TEXT if self.rehearsal else "") + (initial_comment or "")
        if thread_ts:
            args["thread_ts"] = thread_ts
        await self._call("files.completeUploadExternal", **args)
        return str(file_id)


# Methods whose catalogue entry accepts a JSON body; the rest are sent form-encoded, as Slack requires.
_JSON_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "conversations.open",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "files.completeUploadExternal",
    }
)


def profile_from_user(user: dict[str, Any]) -> SlackProfile:
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name") or ""
    return SlackProfile(
        user_id=str(user.get("id") or ""),
        display_name=str(name),
        timezone=str(user.get("tz") or "UTC"),
        is_bot=bool(user.get("is_bot")) or user.get("id") == "USLACKBOT",
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        deactivated=bool(user.get("deleted")),
    )

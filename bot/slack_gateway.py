"""The one place that talks to the Slack Web API.

Retries for 429 and connection errors are configured on the client (bot/runtime.py); here errors are
classified: "this person cannot be reached" is permanent and must be reported, not retried forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
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


# Slack says the app's own token is dead (the app was removed or reinstalled, the token revoked): nobody is at
# fault, and nothing should be sent, counted or given up on until the operator puts in a working token.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired"})
# Slack answers account_inactive both for a deactivated person and when the token's own account or workspace
# is gone ("Authentication token is for a deleted user or workspace"): auth.test tells the two apart.
TOKEN_OR_PERSON_ERRORS = frozenset({"account_inactive"})
# How long one auth.test answer stands (real time); each sweep starts afresh (`SlackGateway.recheck_token`).
TOKEN_CHECK_SECONDS = 10.0


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


class TokenRefused(SlackUnavailable):
    """Slack refuses the app's own bot token: hold every send (none is an attempt) until a token works."""

    def __init__(self, error: str) -> None:
        super().__init__(f"Slack refused the bot token ({error})")
        self.error = error


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


class TokenHealth:
    """Whether Slack accepts the app's own bot token, as last heard; one per process (the Runtime's), shared
    by every gateway, so a sweep stops at the first refusal and the operator reads one log line, not one a
    message."""

    def __init__(self) -> None:
        self.refused: str | None = None  # Slack's error while the token is refused, else None
        self.checked_at: float | None = None  # time.monotonic() of the last answer about the token
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def lock(self) -> asyncio.Lock:
        """Concurrent askers share one auth.test (a lock belongs to one event loop)."""
        return self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())

    def note_refused(self, error: str) -> None:
        if self.refused is None:
            # One line for the operator, when it starts (never the token itself).
            log.error(
                "Slack refused the bot token (%s): nothing is sent until it works again. If the app was removed "
                "or reinstalled, put its new Bot User OAuth Token in SLACK_BOT_TOKEN and restart Shelfmate.",
                error,
            )
        self.refused = error
        self.checked_at = time.monotonic()

    def note_works(self) -> None:
        if self.refused is not None:
            log.warning("Slack accepts the bot token again; held messages go out now")
        self.refused = None


class SlackGateway:
    """`rehearsal` labels every message the bot posts, so nobody mistakes a rehearsal for the real program."""

    def __init__(
        self, client: AsyncWebClient, *, rehearsal: bool = False, token_health: TokenHealth | None = None
    ) -> None:
        self.client = client
        self.rehearsal = rehearsal
        self.token_health = token_health if token_health is not None else TokenHealth()

    # -- the app's own token ---------------------------------------------------------------------------------
    @property
    def token_refused(self) -> bool:
        return self.token_health.refused is not None

    def recheck_token(self) -> None:
        """Forget the last answer about the token: a sweep asks again (at most once) if an error makes it matter."""
        self.token_health.checked_at = None

    async def token_is_refused(self) -> bool:
        """Ask Slack (auth.test) whether the bot token itself works, at most once per TOKEN_CHECK_SECONDS
        and sweep."""
        health = self.token_health
        async with health.lock():
            checked = health.checked_at
            if checked is not None and time.monotonic() - checked < TOKEN_CHECK_SECONDS:
                return health.refused is not None
            try:
                await self.client.api_call("auth.test")
            except SlackApiError as error:
                code = slack_error_code(error)
                if code in TOKEN_ERRORS | TOKEN_OR_PERSON_ERRORS:
                    health.note_refused(code)
                    return True
                raise SlackUnavailable(f"auth.test: {code}") from None
            except Exception as error:  # a timeout, a connection or aiohttp error: no answer either way
                raise SlackUnavailable(f"auth.test: {type(error).__name__}") from None
            health.checked_at = time.monotonic()
            health.note_works()
            return False

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            if method in _JSON_METHODS:
                response = await self.client.api_call(method, json=kwargs)
            else:
                response = await self.client.api_call(method, data=kwargs)
        except SlackApiError as error:
            code = slack_error_code(error)
            if code in TOKEN_ERRORS:
                self.token_health.note_refused(code)
                raise TokenRefused(code) from None
            if code in TOKEN_OR_PERSON_ERRORS and await self.token_is_refused():
                raise TokenRefused(code) from None
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
        if self.token_health.refused is not None:
            self.token_health.note_works()
        return dict(response.data) if isinstance(response.data, dict) else {}

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

    async def why_cannot_post_in(self, channel_id: str) -> str | None:
        """Why the bot could not post in this channel ("not_in_channel", "is_archived", "channel_not_found"),
        or None when it can (or Slack did not say)."""
        try:
            return await self.channel_post_problem(channel_id)
        except SlackUnavailable:
            return None

    async def channel_post_problem(self, channel_id: str) -> str | None:
        """`why_cannot_post_in`, but SlackUnavailable when Slack did not answer: for a caller that must say the
        channel could not be checked (the command line) rather than let silence read as "all is well"."""
        try:
            data = await self._call("conversations.info", channel=channel_id)
        except Unreachable as error:
            return error.error  # a private channel the bot is not in looks like no channel at all
        channel = data.get("channel") or {}
        if channel.get("is_archived"):
            return "is_archived"
        if channel.get("is_member") is False:
            return "not_in_channel"
        return None

    async def channel_name(self, channel_id: str) -> str | None:
        """The channel's name as people see it in Slack (without the #), or None when Slack does not say."""
        try:
            data = await self._call("conversations.info", channel=channel_id)
        except (SlackUnavailable, Unreachable):
            return None
        name = (data.get("channel") or {}).get("name")
        return name if isinstance(name, str) and name else None

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

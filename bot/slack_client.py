"""The Slack Web API client: which failures it retries by itself, and which it reports as "maybe sent".

Built once per process by `make_slack_client`; every call goes through `bot/slack_gateway.py`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import (
    ClientConnectorError,
    ClientOSError,
    ClientPayloadError,
    ClientSession,
    ClientTimeout,
    ConnectionTimeoutError,
    ServerConnectionError,
    TCPConnector,
)
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Settings

SLACK_TIMEOUT_SECONDS = 10

# Calls that do nothing new when repeated (reads, and writes that set a state rather than add something):
# safe to retry after a connection broke mid-request. Anything else (chat.postMessage above all) may have
# been done by Slack already, and a second call would do it twice.
REPEATABLE_METHODS = frozenset(
    {
        "auth.test",
        "conversations.history",
        "conversations.info",
        "conversations.members",
        "conversations.open",
        "conversations.replies",
        "users.info",
        "users.list",
        "users.lookupByEmail",
        "views.publish",
        "views.update",
        "chat.update",
        "files.getUploadURLExternal",
    }
)
# Failures that happen before a request leaves: nothing reached Slack.
NOT_SENT_ERRORS = (ClientConnectorError, ConnectionTimeoutError)
# Failures that may come after Slack received the request.
MAYBE_SENT_ERRORS = (ServerConnectionError, ClientOSError, ClientPayloadError)


class SlackOutcomeUnknown(TimeoutError):
    """The connection broke after a non-repeatable request was sent: like a timeout, Slack may have acted.

    A TimeoutError so that the gateway classifies it as ambiguous and the Delivery ledger verifies the
    conversation before sending again, instead of resending blindly.
    """


class SafeConnectionErrorRetryHandler(AsyncRetryHandler):
    """Retries a broken connection only when repeating the call cannot do anything twice.

    slack_sdk's AsyncConnectionErrorRetryHandler also retries ServerDisconnectedError and ClientOSError
    (connection reset) on chat.postMessage, which Slack may already have posted: an unnoticed duplicate.
    """

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if error is None:
            return False
        if isinstance(error, NOT_SENT_ERRORS):
            return True
        return isinstance(error, MAYBE_SENT_ERRORS) and method_of(request.url) in REPEATABLE_METHODS


def method_of(url: str) -> str:
    """`https://slack.com/api/chat.postMessage?x=1` -> `chat.postMessage`."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


_CALLER_WAITS_OUT_RATE_LIMITS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "shelfmate_caller_waits_out_rate_limits", default=False
)


@contextmanager
def caller_waits_out_rate_limits() -> Iterator[None]:
    """Within this block a 429 is not slept through by the client but raised (the gateway's RateLimited).

    For the delivery worker: a send that sleeps out Retry-After holds one of its few send slots, so every
    other conversation waits behind one busy channel. It parks that conversation instead.
    """
    token = _CALLER_WAITS_OUT_RATE_LIMITS.set(True)
    try:
        yield
    finally:
        _CALLER_WAITS_OUT_RATE_LIMITS.reset(token)


class RateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleep Retry-After, try again), unless the caller waits it out itself."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _CALLER_WAITS_OUT_RATE_LIMITS.get():
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


class LedgerSafeWebClient(AsyncWebClient):
    """An AsyncWebClient that reports "maybe sent" as such for calls that are not safe to repeat."""

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:  # type: ignore[override]
        try:
            return await super().api_call(api_method, **kwargs)
        except NOT_SENT_ERRORS:
            raise
        except MAYBE_SENT_ERRORS as error:
            if api_method in REPEATABLE_METHODS:
                raise
            raise SlackOutcomeUnknown(f"{api_method}: {type(error).__name__} after the request was sent") from error


def connection_pool(timeout: int = SLACK_TIMEOUT_SECONDS) -> ClientSession:
    """Kept-open connections to Slack for a serving process; create it inside the event loop that uses it.

    Without one, slack_sdk opens and closes a session (and a connection) for every call. No cap on
    connections: while Slack is slow, a call that answers a person must not queue behind background sends.
    """
    return ClientSession(connector=TCPConnector(limit=0), timeout=ClientTimeout(total=timeout))


def make_slack_client(
    settings: Settings, timeout: int = SLACK_TIMEOUT_SECONDS, *, pool: ClientSession | None = None
) -> AsyncWebClient:
    """WebClient retries only one connection error by default; 429s and broken connections need handlers.

    No automatic retry of 5xx, nor of a connection that broke after a non-repeatable call was sent: Slack
    may have acted, and a repeated chat.postMessage is a duplicate. The Delivery ledger verifies such sends
    against the conversation instead.
    """
    return LedgerSafeWebClient(
        token=settings.bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout,
        session=pool,
        retry_handlers=[
            SafeConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitRetryHandler(max_retry_count=3),
        ],
    )

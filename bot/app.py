"""The Bolt app factory. Nothing happens at import: `create_app` wires settings, storage and listeners."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_bolt.middleware import RequestVerification
from slack_bolt.middleware.async_builtins import AsyncRequestVerification
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.clock import Clock, make_clock
from bot.config import Settings
from bot.runtime import Runtime
from bot.slack_client import make_slack_client
from bot.views.state import SubmittedView
from storage.engine import make_engine

log = logging.getLogger(__name__)

FRIENDLY_ERROR = "Sorry, something went wrong on our side and nothing was changed. Please try again in a minute."


class _RejectedRequestWithoutBody(logging.Filter):
    """Bolt logs a request that fails signature verification with its whole body, at INFO.

    A stale or forged check-in carries its private note in that body. Keep the line (a run of them points
    at a wrong signing secret or a skewed clock) but rewrite it to the timestamp alone, whatever Bolt wrote.
    """

    _TIMESTAMP = re.compile(r"timestamp: (\d{1,12})\b")

    def filter(self, record: logging.LogRecord) -> bool:
        found = self._TIMESTAMP.search(record.getMessage())
        record.msg = "Invalid request signature detected (timestamp: %s); request body not logged"
        record.args = (found.group(1) if found else "?",)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


_REJECTED_REQUEST_WITHOUT_BODY = _RejectedRequestWithoutBody()


class _MisleadingTokenWarnings(logging.Filter):
    """Drops Bolt's two start-up warnings that the bot token "will be unused" / "will be ignored".

    They are about Bolt's own copy of SLACK_BOT_TOKEN: the app passes a client and an authorizer that
    both use that token, so it is used. Read at every start, they tell an operator the opposite; every
    other warning passes.
    """

    _MESSAGES = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self._MESSAGES


_MISLEADING_TOKEN_WARNINGS = _MisleadingTokenWarnings()


class _SocketModeRetriesInOneLine(logging.Filter):
    """Socket Mode's "Failed to connect (error: ...); Retrying..." as one WARNING line, not an ERROR trace.

    slack_sdk logs it with an 80-line traceback every ten seconds while Slack cannot be reached (a firewall,
    an outage), burying the rest of the log. The error's own words say what failed, and the client retries
    by itself, so it is a warning. Other records pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage().startswith("Failed to connect (error:"):
            record.msg, record.args = " ".join(record.getMessage().split()), ()
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


_SOCKET_MODE_RETRIES_IN_ONE_LINE = _SocketModeRetriesInOneLine()
BOLT_LOGGER = "shelfmate.bolt"


def create_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    client: AsyncWebClient | None = None,
) -> Runtime:
    engine = engine if engine is not None else make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        clock=clock if clock is not None else make_clock(settings.clock_mode, engine),
        client=client if client is not None else make_slack_client(settings),
    )


def _single_workspace_authorize(runtime: Runtime) -> Callable[..., Awaitable[AuthorizeResult]]:
    """One workspace, one bot token: call auth.test once and remember it.

    Bolt's built-in single-team authorizer calls auth.test through a per-request client that adds
    `team_id` to every call, an argument Slack's catalogue does not list for auth.test.
    """
    cached: list[AuthorizeResult] = []
    lock = asyncio.Lock()

    async def authorize(**_kwargs: Any) -> AuthorizeResult:
        async with lock:
            if not cached:
                response = await runtime.client.auth_test()
                cached.append(
                    AuthorizeResult.from_auth_test_response(
                        bot_token=runtime.settings.bot_token, auth_test_response=response
                    )
                )
        return cached[0]

    return authorize


def friendly_failure(body: dict[str, Any]) -> BoltResponse:
    """What Slack shows when a listener fails before acking: a kind sentence, never a 500 or a trace.

    A modal stays open with the message inline, so the person's answers are not lost.
    """
    if body.get("type") == "view_submission":
        first_block = next((k for k in SubmittedView(body.get("view")).values if isinstance(k, str)), None)
        if first_block:
            errors = {first_block: FRIENDLY_ERROR[:150]}
            return BoltResponse(status=200, body={"response_action": "errors", "errors": errors})
        return BoltResponse(status=200, body="")
    if "command" in body:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": FRIENDLY_ERROR})
    return BoltResponse(status=200, body="")


def create_app(runtime: Runtime) -> AsyncApp:
    """Build the Bolt app; signatures are always verified (there is no switch to turn that off)."""
    from bot.listeners import register_all

    # At DEBUG, Bolt and slack_sdk log whole request and response bodies, and those carry private
    # check-in notes (`/mentor checkins`) and people's answers: keep them at INFO whatever LOG_LEVEL says.
    for chatty in (BOLT_LOGGER, "slack_bolt", "slack_sdk"):
        logging.getLogger(chatty).setLevel(logging.INFO)
    # Bolt's signature check logs rejected requests, body and all, at INFO: nothing above stops that line.
    # It logs through `slack_bolt.<its class name>`; a logger filter outlives Bolt resetting that logger's level.
    for verifier in (RequestVerification, AsyncRequestVerification):
        logging.getLogger(f"slack_bolt.{verifier.__name__}").addFilter(_REJECTED_REQUEST_WITHOUT_BODY)
    logging.getLogger(BOLT_LOGGER).addFilter(_MISLEADING_TOKEN_WARNINGS)
    logging.getLogger(BOLT_LOGGER).addFilter(_SOCKET_MODE_RETRIES_IN_ONE_LINE)

    app = AsyncApp(
        signing_secret=runtime.settings.signing_secret,
        client=runtime.client,
        authorize=_single_workspace_authorize(runtime),
        request_verification_enabled=True,
        logger=logging.getLogger(BOLT_LOGGER),
    )

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None, logger: logging.Logger
    ) -> BoltResponse | None:
        # Log the kind of failure, never the payload: it can hold private notes.
        logger.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)
        # After an ack Slack already has its answer (Bolt passes no response then): nothing to replace.
        return friendly_failure(body) if response is not None else None

    register_all(app, runtime)
    return app

"""What every listener and sweep needs, built once per process: settings, database, clock, Slack client."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.config import Settings
from bot.slack_gateway import SlackGateway
from storage.engine import session_scope

T = TypeVar("T")

SLACK_TIMEOUT_SECONDS = 10


def make_slack_client(settings: Settings, timeout: int = SLACK_TIMEOUT_SECONDS) -> AsyncWebClient:
    """WebClient retries only one connection error by default; 429s and 5xx need handlers of their own."""
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout,
        # No automatic retry of 5xx: Slack may have acted, and a repeated chat.postMessage is a duplicate.
        # The Delivery ledger verifies such sends against the conversation instead.
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    client: AsyncWebClient

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def gateway(self) -> SlackGateway:
        return SlackGateway(self.client)

    @property
    def rehearsal(self) -> bool:
        return self.settings.clock_mode == "rehearsal"

    def is_super_admin(self, user_id: str) -> bool:
        return user_id in self.settings.admins

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a storage/service function in a worker thread so the event loop keeps acking requests."""
        return await asyncio.to_thread(self._in_session, False, fn, args, kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self._in_session, True, fn, args, kwargs)

    def _in_session(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with session_scope(self.engine, write=write) as session:
            return fn(session, *args, **kwargs)

    def run_in_session(self, fn: Callable[[Session], T], *, write: bool = False) -> T:
        return self._in_session(write, functools.partial(fn), (), {})

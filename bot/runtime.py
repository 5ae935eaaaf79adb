"""What every listener and sweep needs, built once per process: settings, database, clock, Slack client."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.slack_gateway import SlackGateway, TokenHealth
from storage.engine import is_sqlite, session_scope

if TYPE_CHECKING:
    from bot.worker_process import Worker

T = TypeVar("T")

log = logging.getLogger(__name__)


class ListenerWork:
    """How many listeners are still running, most of them after their ack.

    Slack never resends a request the app acked, so work still running when the process stops (a modal to
    open, a check-in to save, an answer to post) would be lost; a shutdown waits for it first.
    """

    def __init__(self) -> None:
        self.running = 0

    @contextmanager
    def track(self) -> Iterator[None]:
        self.running += 1  # only the event loop's thread counts, so no lock is needed
        try:
            yield
        finally:
            self.running -= 1

    async def finished(self, within: float) -> bool:
        """Whether every listener finished within `within` seconds (new ones included)."""
        deadline = time.monotonic() + within
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self.running


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    client: AsyncWebClient
    # Real time, for what happens in the real world (requests in flight to Slack), whatever `clock` says:
    # a test or rehearsal clock jumps or stands still. Tests may inject a hand-moved one.
    wall: Clock = field(default_factory=SystemClock)
    # A second process for long read-only work (see bot.worker_process); None runs it in a thread here.
    worker: Worker | None = None
    # SQLite lets one transaction write at a time. Writers queued on its busy handler sleep in steps of up
    # to 100 ms and are woken in no order, and each holds a thread the reads need meanwhile; one writer
    # thread per process queues them in order instead. PostgreSQL writes run side by side in the pool.
    _writer: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    listener_work: ListenerWork = field(default_factory=ListenerWork, init=False, repr=False)
    # Whether Slack accepts the bot token, shared by every gateway of this process.
    token_health: TokenHealth = field(default_factory=TokenHealth, init=False, repr=False)

    def __post_init__(self) -> None:
        if is_sqlite(self.engine):
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shelfmate-sqlite-writer")

    def now(self) -> datetime:
        return self.clock.now()

    def wall_now(self) -> datetime:
        return self.wall.now()

    @property
    def gateway(self) -> SlackGateway:
        return SlackGateway(self.client, rehearsal=self.rehearsal, token_health=self.token_health)

    @property
    def rehearsal(self) -> bool:
        return self.settings.clock_mode == "rehearsal"

    def is_super_admin(self, user_id: str) -> bool:
        return user_id in self.settings.admins

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a storage/service function in a worker thread so the event loop keeps acking requests."""
        return await asyncio.to_thread(self._in_session, False, fn, args, kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._writer is None:
            return await asyncio.to_thread(self._in_session, True, fn, args, kwargs)
        work = functools.partial(contextvars.copy_context().run, self._in_session, True, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._writer, work)

    async def read_in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Like `read`, in the worker process when there is one, so seconds of CPU do not slow the acks.

        `fn` and its arguments and answer cross a process boundary: module-level function, picklable values.
        A worker that died (killed, out of memory) is not fatal: this read runs here, the next in a new worker.
        """
        from bot import worker_process

        database_url = self.engine.url.render_as_string(hide_password=False)
        if self.worker is None or not worker_process.can_share(database_url):
            return await self.read(fn, *args)
        try:
            return await self.worker.read(database_url, fn, args)
        except worker_process.WorkerUnavailable as why:
            log.warning("%s; this read runs in the bot's process", why)
            return await self.read(fn, *args)

    def _in_session(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with session_scope(self.engine, write=write) as session:
            return fn(session, *args, **kwargs)

    def run_in_session(self, fn: Callable[[Session], T], *, write: bool = False) -> T:
        return self._in_session(write, functools.partial(fn), (), {})

"""A second process for read-only work that takes seconds of CPU (the scheduler's survey).

Python runs one thread at a time per process: a survey in a worker thread would still hold the lock the
event loop needs to ack Slack requests, and acks would wait behind it. In its own process it costs the
event loop nothing but the pickled answer.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.engine import Engine, make_url

from storage.engine import make_engine, session_scope

T = TypeVar("T")

_PARENT_CHECK_SECONDS = 1.0
WORKER_NICENESS = 10
_engines: dict[str, Engine] = {}


class WorkerUnavailable(Exception):
    """The worker process died (killed, out of memory) or is shut down; run the work elsewhere."""


class Worker:
    """One worker process, started fresh ("spawn": no copy of the parent's threads, sockets or locks).

    It starts at once, not at the first survey, so its second of imports is not paid while requests
    arrive; one that dies is replaced for the next read.
    """

    def __init__(self) -> None:
        self._pool = self._start()
        self._closed = False

    async def read(self, database_url: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._closed:
            raise WorkerUnavailable("the worker is shut down")
        try:
            return await asyncio.wrap_future(self._pool.submit(read, database_url, fn, args))
        except BrokenProcessPool:
            if self._closed:  # `close` stopped the process under this read: nothing to replace
                raise WorkerUnavailable("the worker is shut down") from None
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            raise WorkerUnavailable("the worker process died; a new one is starting") from None

    def close(self) -> None:
        """Stop the worker process now, then wait for the pool's own thread to finish.

        A read still running is abandoned, not waited for: it only reads. `shutdown(wait=False)` would
        return while the pool's thread still closes its wake-up pipe, and the interpreter's exit writes to
        that pipe (CPython gh-125451): the stopped bot then printed "Bad file descriptor" now and then.
        """
        self._closed = True
        terminate = getattr(self._pool, "terminate_workers", None)  # Python 3.14 and newer
        if terminate is not None:
            terminate()
        else:
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare,
            initargs=(os.getpid(),),
        )
        pool.submit(_import_the_survey)
        return pool


@contextmanager
def start_worker() -> Iterator[Worker]:
    worker = Worker()
    try:
        yield worker
    finally:
        worker.close()


def can_share(database_url: str) -> bool:
    """An in-memory SQLite database lives in one process only; another process would see an empty one."""
    url = make_url(database_url)
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def read(database_url: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """Run `fn(session, *args)` in a read transaction; the engine is made once per process and URL."""
    engine = _engines.get(database_url)
    if engine is None:
        engine = _engines[database_url] = make_engine(database_url)
    with session_scope(engine) as session:
        return fn(session, *args)


def _prepare(parent_pid: int) -> None:
    """Run below the bot's priority, and go when the bot goes.

    On a machine with few cores the survey would otherwise take a core the event loop needs: it is
    background work, due within the minute, and the operating system should prefer the acks. Ctrl-C
    reaches the whole process group; the bot stops its worker, which should not print a traceback. A
    parent killed with SIGKILL cannot stop its worker, so the worker watches for that itself.
    """
    os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _import_the_survey() -> None:
    import bot.services.schedule  # noqa: F401

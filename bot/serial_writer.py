"""One thread per process for SQLite's writes, running the ones a person's Slack request waits on first.

SQLite lets one transaction write at a time. Writers queued on its busy handler sleep in steps of up to
100 ms, are woken in no order, and each holds a thread the reads need meanwhile; queued here instead they
run one after another. A write made before its request was acknowledged (Slack gives up after 3 s) goes
ahead of background work: the writes that follow an ack, the scheduler's, the delivery worker's.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_SOMEONE_WAITING: contextvars.ContextVar[bool] = contextvars.ContextVar("shelfmate_someone_waiting", default=False)
URGENT, BACKGROUND = 0, 1
IDLE_EXIT_SECONDS = 5.0  # an idle writer thread ends (and a new one starts on the next write)


@contextmanager
def someone_waiting(waiting: bool = True) -> Iterator[None]:
    """Writes started within this block are for a request not yet acknowledged."""
    token = _SOMEONE_WAITING.set(waiting)
    try:
        yield
    finally:
        _SOMEONE_WAITING.reset(token)


def mark_answered() -> None:
    """The request was acknowledged: what this task writes from now on can wait behind the urgent."""
    _SOMEONE_WAITING.set(False)


class SerialWriter:
    def __init__(self, name: str = "shelfmate-sqlite-writer") -> None:
        self._name = name
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None]]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        context = contextvars.copy_context()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(context.run(work))
            except BaseException as error:  # handed to the awaiting coroutine, like an executor does
                future.set_exception(error)

        priority = URGENT if _SOMEONE_WAITING.get() else BACKGROUND
        with self._lock:
            self._queue.put((priority, next(self._order), run))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            try:
                _priority, _order, run = self._queue.get(timeout=IDLE_EXIT_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            run()

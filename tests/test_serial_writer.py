from __future__ import annotations

import functools
import threading
from typing import Any

from bot.listeners import guard
from bot.serial_writer import SerialWriter, someone_waiting


def test_a_write_someone_waits_for_runs_before_the_background_writes_queued_ahead_of_it() -> None:
    writer = SerialWriter()
    gate = threading.Event()
    order: list[str] = []
    busy = writer.submit(lambda: gate.wait(5))  # the writer thread is in the middle of a write
    background = [writer.submit(functools.partial(order.append, f"background {i}")) for i in range(3)]
    with someone_waiting():
        urgent = writer.submit(lambda: order.append("urgent"))
    gate.set()
    for future in [busy, *background, urgent]:
        future.result(timeout=5)
    assert order == ["urgent", "background 0", "background 1", "background 2"]


def test_a_failed_write_reaches_whoever_awaits_it_and_the_writer_goes_on() -> None:
    writer = SerialWriter()

    def broken() -> None:
        raise ValueError("constraint failed")

    failed = writer.submit(broken)
    assert isinstance(failed.exception(timeout=5), ValueError)
    assert writer.submit(lambda: 42).result(timeout=5) == 42


async def test_a_listener_writes_urgently_until_it_acks() -> None:
    writer = SerialWriter()
    gate = threading.Event()
    order: list[str] = []
    busy = writer.submit(lambda: gate.wait(5))
    writer.submit(functools.partial(order.append, "queued background"))

    async def ack(**_kwargs: Any) -> None:
        return None

    async def listener(ack: Any) -> None:
        writer.submit(functools.partial(order.append, "before ack"))
        await ack()
        writer.submit(functools.partial(order.append, "after ack"))

    await guard(listener)(ack=ack)
    gate.set()
    busy.result(timeout=5)
    writer.submit(lambda: None).result(timeout=5)  # runs after everything queued before it
    assert order == ["before ack", "queued background", "after ack"]

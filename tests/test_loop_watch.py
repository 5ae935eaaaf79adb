from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.loop_watch import watch_event_loop


async def test_a_blocked_event_loop_is_named_in_the_log_and_a_free_one_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.loop_watch")
    watching = asyncio.create_task(watch_event_loop(tick=0.01, warn_after=0.25))
    try:
        await asyncio.sleep(0.3)  # free: the watcher wakes on time
        assert caplog.records == []
        time.sleep(0.6)  # what CPU-heavy code on the loop does to every request in flight
        await asyncio.sleep(0.05)
    finally:
        watching.cancel()
    [record] = caplog.records
    assert "event loop could not run for" in record.getMessage()
    blocked_ms = int(record.getMessage().split("for ")[1].split(" ms")[0])
    assert blocked_ms >= 500

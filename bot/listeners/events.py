"""Events API: the Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.listeners import participant_flows as flows
from bot.runtime import Runtime


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await flows.publish_home(runtime, str(event["user"]))

"""Events API: the Home tab, and profile changes of the people Shelfmate knows."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import delivery
from bot.listeners import participant_flows as flows
from bot.runtime import Runtime
from bot.services import enrollment as enrollment_service
from bot.slack_gateway import profile_from_user


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await flows.publish_home(runtime, str(event["user"]))

    @app.event("user_change")
    async def user_changed(event: dict[str, Any]) -> None:
        user = event.get("user")
        if not isinstance(user, dict) or not user.get("id"):
            return
        profile = profile_from_user(user)
        update = await runtime.write(
            enrollment_service.update_known_profile, profile, runtime.now(), runtime.settings.admins
        )
        # An account deactivated: the partners and coordinators are told now, once (the ledger's rows).
        for key in update.notices if update is not None else []:
            await delivery.deliver_now_or_copy(runtime, key)

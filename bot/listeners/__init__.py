"""Thin Slack listeners: ack, parse, call one service, render one view, make one Slack call."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime


def register_all(app: AsyncApp, runtime: Runtime) -> None:
    from bot.listeners import actions, admin, commands, events, nudges, pairs, views

    commands.register(app, runtime)
    admin.register(app, runtime)
    actions.register(app, runtime)
    views.register(app, runtime)
    events.register(app, runtime)
    nudges.register(app, runtime)
    pairs.register(app, runtime)

"""Thin Slack listeners: ack, parse, call one service, render one view, make one Slack call."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp

from bot.delivery import resolve_channel
from bot.mrkdwn import as_plain_text, unescape
from bot.runtime import Runtime
from bot.views.common import clip
from bot.web import RECEIVED_AT

log = logging.getLogger(__name__)

FAILED_AFTER_ACK = "Sorry, something went wrong on our side while finishing that. Please try again in a minute."
_REGISTRARS = frozenset({"command", "action", "view", "event", "options", "shortcut"})

Listener = Callable[..., Awaitable[None]]
T = TypeVar("T")

# Slack waits 3 s for an answer, counted from when it sent the request. A listener that answers with the
# result of its work gives that work what is left of 2 s since the request arrived (under load it may
# have queued before the listener ran) and otherwise acks without it; the last second is for the network.
ACK_BUDGET_SECONDS = 2.0


def ack_budget_left(context: Mapping[str, Any]) -> float:
    """Seconds left of ACK_BUDGET_SECONDS since the request arrived (from listener start in Socket Mode)."""
    received_at = context.get(RECEIVED_AT)
    if not isinstance(received_at, float):
        return ACK_BUDGET_SECONDS
    return max(0.0, ACK_BUDGET_SECONDS - (time.monotonic() - received_at))


async def finished_within(task: asyncio.Future[T], seconds: float) -> bool:
    """Whether `task` is done within `seconds`; a task still running is left to run, never cancelled."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return task in done


def guard(listener: Listener, runtime: Runtime) -> Listener:
    """Keep an error after `ack()` inside the listener, and count the listener while it runs.

    Bolt resets the acknowledged response when a listener raises after acking, so Slack would get a 404
    three seconds later and show the person a failure icon. Before the ack, the error goes on to the app's
    error handler, which answers with a friendly message instead of a 500.
    """

    @functools.wraps(listener)
    async def guarded(**kwargs: Any) -> None:
        with runtime.listener_work.track():
            await _run_guarded(listener, kwargs)

    return guarded


def user_of(body: dict[str, Any]) -> str:
    """The Slack user who acted: `user.id` on interactive payloads, `user_id` on slash commands."""
    user = body.get("user")
    return str(user.get("id", "")) if isinstance(user, dict) else str(body.get("user_id", ""))


def respond_by_dm_without_response_url(runtime: Runtime) -> Callable[..., Awaitable[None]]:
    """Bolt middleware: a request Slack sent without a response_url (a button on the Home tab) gets a
    `respond` that answers in the person's DM with the bot, so the answer is not lost."""

    async def middleware(body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        if not body.get("response_url") and not context.get("response_url"):
            user_id = user_of(body)

            async def respond(text: str = "", blocks: list[dict[str, Any]] | None = None, **_how: Any) -> None:
                if not user_id or not (text or blocks):  # nobody to tell, or only "delete the original"
                    return
                channel = await resolve_channel(runtime, user_id)
                await runtime.gateway.post(channel, text, blocks)

            context["respond"] = respond
        await next()

    return middleware


async def _run_guarded(listener: Listener, kwargs: dict[str, Any]) -> None:
    try:
        await listener(**kwargs)
    except Exception as error:
        ack = kwargs.get("ack")
        if ack is None or getattr(ack, "response", None) is None:
            raise
        log.error("listener failed after ack: %s: %s", type(error).__name__, error, exc_info=error)
        respond = kwargs.get("respond")
        if respond is not None:
            try:
                await respond(text=FAILED_AFTER_ACK, response_type="ephemeral", replace_original=False)
            except Exception:  # the apology is best effort; the failure is logged above
                log.warning("could not tell the person about a failure")


class _GuardedApp:
    """The Bolt app as listeners see it: every listener they register is wrapped in `guard`."""

    def __init__(self, app: AsyncApp, runtime: Runtime) -> None:
        self._app = app
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        registrar = getattr(self._app, name)
        if name not in _REGISTRARS:
            return registrar

        def register(*args: Any, **kwargs: Any) -> Callable[[Listener], Listener]:
            decorator = registrar(*args, **kwargs)

            def apply(listener: Listener) -> Listener:
                decorator(guard(listener, self._runtime))
                return listener  # stacked decorators each wrap the plain function once

            return apply

        return register


def register_all(app: AsyncApp, runtime: Runtime) -> None:
    from bot.listeners import actions, admin, commands, events, nudges, pairs, views

    app.use(respond_by_dm_without_response_url(runtime))
    guarded: Any = _GuardedApp(app, runtime)
    for module in (commands, admin, actions, views, events, nudges, pairs):
        module.register(guarded, runtime)


def as_typed(text: str) -> str:
    """Slack sends a slash command's &, < and > as &amp;, &lt; and &gt;; a name looked up must be as typed."""
    return unescape(text)


# Slack cuts a form error at 150 characters.
FORM_ERROR_LIMIT = 150


def form_errors(errors: Mapping[str, str], names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Field -> problem as a modal shows it: Slack shows form errors as plain text, so the mrkdwn the services
    and views compose (a program's escaped name in bold, `<@U…>`, `/mentor join` in backticks) reads as typed.
    `names` gives the people and channels the problems mention by id their readable names."""
    return {field: clip(as_plain_text(problem, names), FORM_ERROR_LIMIT) for field, problem in errors.items()}

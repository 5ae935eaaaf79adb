"""HTTP mode: an ASGI app (served by uvicorn) with Bolt's endpoint and a health check."""

from __future__ import annotations

import time

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SLACK_EVENTS_PATH = "/slack/events"
# Bolt context key: when the request reached us (time.monotonic()), so listeners can budget Slack's 3 s
# from there rather than from when they start, which under load is later.
RECEIVED_AT = "shelfmate_received_at"


def create_asgi_app(bolt_app: AsyncApp) -> Starlette:
    handler = AsyncSlackRequestHandler(bolt_app)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request, {RECEIVED_AT: time.monotonic()})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route(SLACK_EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )

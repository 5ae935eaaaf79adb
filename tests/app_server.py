"""Runs the real ASGI app under uvicorn on 127.0.0.1 in a background thread, as `shelfmate run --http` does."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from bot.app import create_app
from bot.runtime import Runtime
from bot.web import create_asgi_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.bolt_app = create_app(runtime)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_asgi_app(self.bolt_app),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="app-under-test", daemon=True)

    def start(self) -> AppServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the app under test did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

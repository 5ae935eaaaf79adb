"""Runs the real ASGI app under uvicorn on 127.0.0.1 in a background thread, as `shelfmate run --http` does."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import httpx
import uvicorn

from bot.app import create_app
from bot.runtime import Runtime
from bot.web import create_asgi_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    # Servers running in this test process, so that a test can wait for their listeners to finish.
    live: ClassVar[set[AppServer]] = set()

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
        AppServer.live.add(self)
        return self

    @classmethod
    def listeners_running(cls) -> int:
        """Listeners still working (most after their ack) in the servers of this test process."""
        return sum(server.runtime.listener_work.running for server in list(cls.live))

    def stop(self) -> None:
        AppServer.live.discard(self)
        self._server.should_exit = True
        self._thread.join(timeout=10)


class ShelfmateProcess:
    """`shelfmate run --http` as an operator starts it: a real process on a free port, killable."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self, timeout: float = 30) -> ShelfmateProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"shelfmate run --http did not start:\n{self.output}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a power cut or an OOM kill."""
        assert self.process is not None
        self.process.kill()
        self.output += self.process.communicate()[0] or ""
        self._assert_no_secrets()

    def _assert_no_secrets(self) -> None:
        """Whatever the process printed (logs, errors), an operator's tokens and signing secret are not in it."""
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
            secret = self.env.get(name, "")
            assert not secret or secret not in self.output, f"the value of {name} was printed"

    def stop(self) -> str:
        """Terminate politely and return everything the process printed."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.output += self.process.communicate(timeout=10)[0] or ""
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.output += self.process.communicate()[0] or ""
        elif self.process is not None and self.process.stdout is not None:
            self.output += self.process.stdout.read() or ""
        self._assert_no_secrets()
        return self.output

"""`shelfmate` command line: run the bot, migrate the database, and (later) operate programs.

Every failure a person can cause (a missing token, a bad date, an unreachable database) ends with one
readable line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from bot.cli_admin import CommandFailed
from bot.config import ConfigError, Settings, load_settings, refused_by_slack

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.runtime import Runtime

log = logging.getLogger("shelfmate")

SWITCH_INTERVAL_SECONDS = 0.0005
# On SIGTERM the bot stops taking requests, then gives the ones it acked this long to finish: under the 10 s
# a container runtime waits before SIGKILL, and far more than a listener needs (Slack's calls time out).
DRAIN_SECONDS = 8.0
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a tool the pipe stopped
# How long start-up waits for Slack to answer its token checks before starting anyway: the client's own
# timeout and retries could take half a minute against a host that drops packets.
TOKEN_CHECK_SECONDS = 15.0
# Slack's answers that mean the token itself is wrong (revoked, mistyped, its workspace gone): retrying
# cannot help, so the bot stops and names the setting.
REFUSED_TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})

T = TypeVar("T")


class CliError(Exception):
    """A problem to report to the operator in one line."""


class _Stopped(Exception):
    """SIGTERM or SIGINT arrived before the bot was listening: nothing was acked, so nothing to drain."""


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        # Alembic announces every plugin at INFO; operators only need to hear about problems.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _upgrade_database(settings: Settings) -> None:
    from sqlalchemy.exc import ArgumentError, OperationalError

    from storage.engine import make_engine
    from storage.migrate import upgrade

    try:
        # Made here, not only inside Alembic, so that a URL SQLAlchemy cannot use (a driver that is not
        # installed, a malformed part load_settings let through) is reported, and nothing else is caught.
        make_engine(settings.database_url).dispose()
    except (ArgumentError, ImportError, ValueError) as error:
        raise CliError(f"DATABASE_URL: cannot use it ({_one_line(error, settings)})") from None
    try:
        upgrade(settings.database_url)
    except OperationalError as error:
        reason = _missing_sqlite_folder(settings.database_url) or " ".join(str(error.orig or error).split())
        raise CliError(f"DATABASE_URL: cannot open the database ({reason})") from None


def _missing_sqlite_folder(database_url: str) -> str | None:
    """SQLite's "unable to open database file" reads like a permissions or corruption problem; most often the
    file's folder is simply not there."""
    from storage.engine import sqlite_file

    path = sqlite_file(database_url)
    if path is None or path.parent.is_dir():
        return None
    return f"there is no folder {path.parent}: create it, or name another"


def _one_line(error: BaseException, settings: Settings) -> str:
    """The error's own words on one line, without the database password should they quote the URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = " ".join(f"{type(error).__name__}: {error}".split())
    try:
        password = make_url(settings.database_url).password
    except (ArgumentError, ValueError):  # load_settings parsed it; this is only belt and braces
        password = None
    return text.replace(str(password), "***") if password else text


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(require_slack=False)
    _configure_logging(settings.log_level)
    _upgrade_database(settings)
    print("Database is up to date.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not args.http and (args.port is not None or args.host is not None):
        raise CliError(
            "--port and --host need --http: Socket Mode listens on no port (shelfmate run --http --port 3000)"
        )
    args.host = args.host or "0.0.0.0"
    args.port = 3000 if args.port is None else args.port
    settings = load_settings()
    if not args.http and not settings.socket_mode:
        raise ConfigError(
            "SLACK_APP_TOKEN is not set, so Socket Mode cannot start (or run `shelfmate run --http --port 3000`). "
            "Where to get it: api.slack.com/apps -> your app -> Basic Information -> App-Level Tokens"
        )
    _configure_logging(settings.log_level)
    _upgrade_database(settings)
    log.info("starting with %s", settings)
    # Database work and sweeps run in threads beside the event loop. With CPython's default 5 ms switch
    # interval, a busy thread makes the loop wait up to 5 ms for the GIL at every await that did I/O, and a
    # request that needs a dozen of those waits 50 ms or more. 0.5 ms keeps the loop's answers prompt.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    asyncio.run(_serve(settings, http=args.http, host=args.host, port=args.port))
    return 0


async def _serve(settings: Settings, *, http: bool, host: str, port: int) -> None:
    from bot.app import create_app, create_runtime
    from bot.loop_watch import watch_event_loop
    from bot.scheduler import start_scheduler
    from bot.slack_client import connection_pool, make_slack_client
    from bot.worker_process import start_worker

    stop = _stop_on_signals()
    with start_worker() as worker:
        async with connection_pool() as pool:
            client = make_slack_client(settings, pool=pool)
            try:
                await _unless_stopped(_check_tokens(settings, client), stop)
            except _Stopped:
                log.info("stopped before listening")
                return
            runtime = create_runtime(settings, client=client)
            runtime.worker = worker
            listen = _listener(create_app(runtime), settings, stop, http=http, host=host, port=port)
            scheduler = start_scheduler(runtime)
            # A full garbage collection stops every thread while it walks every tracked object; the ~120,000
            # that imports and setup made live as long as the process, and walking them cost ~70 ms each
            # time, a stall every request in flight waits out. Frozen, they are never walked again (after one
            # last collection, so that startup's garbage is not kept for good).
            gc.collect()
            gc.freeze()
            watching = asyncio.create_task(watch_event_loop())
            try:
                await listen()
                await _drain(runtime)
            finally:
                watching.cancel()
                scheduler.shutdown(wait=False)


async def _check_tokens(settings: Settings, client: AsyncWebClient) -> None:
    """Ask Slack once whether it takes the tokens, so that a wrong one stops start-up with its name.

    Otherwise a refused app token makes Socket Mode retry for ever, a traceback per attempt, and a refused
    bot token fails each request with Bolt's "AuthorizeResult ... was not found". The app token goes first:
    Socket Mode cannot start without it. Only a refusal stops: Slack being slow or down is a warning, and
    Socket Mode and the authorizer try again by themselves.
    """
    if settings.app_token is not None:
        await _check_token("SLACK_APP_TOKEN", client.apps_connections_open(app_token=settings.app_token))
    await _check_token("SLACK_BOT_TOKEN", client.auth_test())


async def _check_token(name: str, call: Coroutine[Any, Any, object]) -> None:
    """Raise a one-line ConfigError naming `name` if Slack refuses the token; only warn if Slack cannot say."""
    from slack_sdk.errors import SlackApiError

    try:
        await asyncio.wait_for(call, TOKEN_CHECK_SECONDS)
    except SlackApiError as error:
        data = getattr(error.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if code in REFUSED_TOKEN_ERRORS:
            raise refused_by_slack(name, str(code)) from None
        reason = code or f"HTTP {error.response.status_code}"
        log.warning("could not check %s with Slack (%s); starting anyway", name, reason)
    except Exception as error:  # a network failure must not stop start-up: it is retried later
        log.warning("could not check %s with Slack (%s); starting anyway", name, type(error).__name__)


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T:
    """`work`'s result, or `_Stopped` (and `work` cancelled) if a stop signal comes first.

    Start-up and Socket Mode's connect can wait on Slack for a long time (connect retries for ever);
    `systemctl stop` or `docker stop` should not have to wait for them, nor end in SIGKILL.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise _Stopped
    finally:
        for waiting in (task, stopped):
            waiting.cancel()
        await asyncio.gather(task, stopped, return_exceptions=True)


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGTERM or SIGINT. Uvicorn handles them itself while it serves and hands them on after."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _drain(runtime: Runtime) -> None:
    """Let acked requests finish: Slack will not send them again."""
    work = runtime.listener_work
    if not work.running:
        return
    log.info("stopping: waiting for %d request(s) already acknowledged", work.running)
    if not await work.finished(within=DRAIN_SECONDS):
        log.warning("stopping with %d acknowledged request(s) unfinished after %.0f s", work.running, DRAIN_SECONDS)


def _listener(
    bolt_app: AsyncApp, settings: Settings, stop: asyncio.Event, *, http: bool, host: str, port: int
) -> Callable[[], Awaitable[None]]:
    """What takes Slack's requests until `stop` is set: an HTTP server, or a Socket Mode connection."""
    if http:
        import uvicorn

        from bot.web import create_asgi_app

        config = uvicorn.Config(
            create_asgi_app(bolt_app), host=host, port=port, log_level=settings.log_level.lower(), access_log=False
        )
        return uvicorn.Server(config).serve
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    async def socket_mode() -> None:
        handler = AsyncSocketModeHandler(bolt_app, settings.app_token)
        try:
            await _unless_stopped(handler.connect_async(), stop)
            await stop.wait()
        except _Stopped:
            log.info("stopped while connecting to Slack")
        finally:
            await handler.close_async()

    return socket_mode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shelfmate", description="Peer-mentoring programs for library staff.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot (Socket Mode, or HTTP with --http)")
    run.add_argument("--http", action="store_true", help="serve Slack's HTTP requests instead of Socket Mode")
    run.add_argument("--host", default=None, help="HTTP mode (needs --http): address to bind (default 0.0.0.0)")
    run.add_argument("--port", type=int, default=None, help="HTTP mode (needs --http): port (default 3000)")
    run.set_defaults(handler=cmd_run)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply database migrations").set_defaults(handler=cmd_db_upgrade)

    from bot import cli_admin, cli_ops

    cli_admin.add_commands(sub)
    cli_ops.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, where a reader that stopped early is caught, not at exit
        return code
    except (ConfigError, CliError, CommandFailed) as error:
        print(f"shelfmate: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (`| head`) stopped reading: nothing of ours failed. Output goes nowhere from here on,
        # so that the flush at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    # `python -m bot.cli` runs this file as __main__, and `from bot.cli import ...` elsewhere loads it again as
    # bot.cli: run that copy's main, so the CliError other modules raise is the one it catches.
    from bot.cli import main as shared_main

    sys.exit(shared_main())

"""Fixtures shared by the whole suite: a migrated database, the Slack emulator, the app over real HTTP.

Set SHELFMATE_TEST_DATABASE_URL=postgresql+psycopg://... to run the same suite on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot import slack_surface
from bot.app import create_runtime
from bot.clock import FixedClock
from bot.config import Settings
from bot.runtime import Runtime
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.app_server import AppServer
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN_ID = "U0ADMIN01"
POSTGRES_URL = os.environ.get("SHELFMATE_TEST_DATABASE_URL", "").strip()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run; each test then starts from a copy (SQLite) or an emptied schema (PostgreSQL)."""
    if POSTGRES_URL:
        upgrade(POSTGRES_URL)
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def _empty_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(_migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if POSTGRES_URL:
        engine = make_engine(POSTGRES_URL)
        _empty_postgres(engine)
        engine.dispose()
        yield POSTGRES_URL
        return
    template = Path(_migrated_template.removeprefix("sqlite:///"))
    target = tmp_path / "shelfmate.db"
    shutil.copyfile(template, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=BOT_TOKEN)
    emu.start()
    emu.add_user(ADMIN_ID, name="coordinator", real_name="Casey Coordinator")
    yield emu
    emu.stop()
    assert emu.violations == [], "calls that break Slack's published method catalogue:\n" + "\n".join(emu.violations)
    undeclared = {call.method for call in emu.calls} - slack_surface.WEB_API_METHODS
    assert undeclared == set(), f"add these to bot/slack_surface.py (and scopes to manifest.yml): {undeclared}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 1, 15, 17, 0, tzinfo=UTC))


@pytest.fixture
def settings(emulator: SlackEmulator, database_url: str) -> Settings:
    return Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        slack_api_url=emulator.api_url,
        database_url=database_url,
        admins=frozenset({ADMIN_ID}),
    )


@pytest.fixture
def runtime(settings: Settings, engine: Engine, clock: FixedClock) -> Runtime:
    return create_runtime(settings, engine=engine, clock=clock)


@pytest.fixture
def app_server(runtime: Runtime) -> Iterator[AppServer]:
    server = AppServer(runtime).start()
    yield server
    server.stop()


@pytest.fixture
def slack(app_server: AppServer, emulator: SlackEmulator) -> Iterator[SlackDriver]:
    driver = SlackDriver(
        app_server.url,
        SIGNING_SECRET,
        issue_trigger_id=emulator.issue_trigger_id,
        new_response_url=emulator.new_response_url,
    )
    yield driver
    driver.close()


@pytest.fixture
def operator_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, emulator: SlackEmulator) -> Path:
    """An operator's shell for `shelfmate` run in-process: the test database and emulator, no stray `.env`
    from the working directory, and no pauses between Slack retries."""
    from bot import cli_admin

    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_APP_TOKEN", "SHELFMATE_ADMINS", "SHELFMATE_CLOCK", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", emulator.api_url)
    monkeypatch.setattr(cli_admin, "SLACK_RETRY_DELAYS", (0.0, 0.0))
    return tmp_path

"""The `shelfmate` command as an operator runs it: real processes, real ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from storage.engine import make_engine
from tests.app_server import ShelfmateProcess
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[1]
CLEAN_ENV_KEYS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "SHELFMATE_ADMINS",
    "SHELFMATE_CLOCK",
)


def shelfmate_env(cwd: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_KEYS}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


def app_env(cwd: Path, emulator: SlackEmulator, database_url: str) -> dict[str, str]:
    """What an operator sets to run the app against the emulator and the test database."""
    return shelfmate_env(
        cwd,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.api_url,
        DATABASE_URL=database_url,
    )


def run_cli(args: list[str], cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=shelfmate_env(cwd, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_without_tokens_exits_with_one_readable_line(tmp_path: Path) -> None:
    result = run_cli(["run"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "SLACK_BOT_TOKEN" in lines[0]


def test_run_without_app_token_explains_socket_mode_or_http(tmp_path: Path) -> None:
    result = run_cli(["run"], tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="abcdef0123456789")
    assert result.returncode != 0
    assert "SLACK_APP_TOKEN" in result.stderr and "--http" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/missing/dir/x.db", "postgresql+psycopg://nobody@127.0.0.1:1/shelfmate"],
    ids=["sqlite-missing-dir", "postgresql-refused"],
)
def test_unreachable_database_is_one_line(tmp_path: Path, url: str) -> None:
    result = run_cli(["db", "upgrade"], tmp_path, DATABASE_URL=url.format(tmp=tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("shelfmate: DATABASE_URL")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_db_upgrade_creates_every_table_with_wal(tmp_path: Path, database_url: str) -> None:
    url = database_url if database_url.startswith("postgresql") else f"sqlite:///{tmp_path}/fresh.db"
    result = run_cli(["db", "upgrade"], tmp_path, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {
        "program",
        "person",
        "enrollment",
        "pairing",
        "agreement",
        "checkin",
        "delivery",
        "auditevent",
    } <= tables
    if url.startswith("sqlite"):
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


@pytest.fixture
def http_process(tmp_path: Path, emulator: SlackEmulator, database_url: str) -> Iterator[str]:
    app = ShelfmateProcess(tmp_path, app_env(tmp_path, emulator, database_url)).start()
    yield app.url
    output = app.stop()
    assert "Traceback" not in output
    assert SIGNING_SECRET not in output and BOT_TOKEN not in output


def test_http_mode_answers_signed_help_fast_and_refuses_bad_signatures(
    http_process: str, emulator: SlackEmulator
) -> None:
    driver = SlackDriver(http_process, SIGNING_SECRET, issue_trigger_id=emulator.issue_trigger_id)
    started = time.monotonic()
    response = driver.mentor("U0LIB0001", "help")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert elapsed < 3, f"help took {elapsed:.2f}s, past Slack's 3 s deadline"
    calls_before = len(emulator.calls)
    assert driver.mentor("U0LIB0001", "help", signed=False).status_code == 401
    assert driver.mentor("U0LIB0001", "help", secret="someoneelsesecret1").status_code == 401
    assert driver.mentor("U0LIB0001", "help", timestamp=int(time.time()) - 360).status_code == 401
    assert len(emulator.calls) == calls_before
    driver.close()

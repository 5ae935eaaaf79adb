"""An operator's first month: installing and running Shelfmate by the README, and what it says back.

Found in a product review: each test is a problem an IT person or a coordinator would have hit.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from bot.views.help import MENTOR_SUBCOMMANDS
from tests.app_server import free_port
from tests.conftest import SIGNING_SECRET
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_cli import ROOT, shelfmate_env
from tests.test_cli import run_cli as shelfmate

SECRET = "abcdef0123456789"
PROGRAM_CREATE = [
    *("program", "create", "--applications-close", "2030-02-17", "--agreement-due", "2030-03-01"),
    *("--starts", "2030-03-01", "--ends", "2030-06-30"),
]


def assert_one_readable_line(result: subprocess.CompletedProcess[str], *, names: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-1500:]
    assert names in lines[0], lines[0]


# -- configuration errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://shelfmate.db",  # one slash short of sqlite:///shelfmate.db
        "postgresql+psycopg2://postgres@127.0.0.1:55432/shelfmate",  # the driver every other tutorial uses
        "postgresql+psycopg://postgres@127.0.0.1:5432x/shelfmate",  # a typo in the port
    ],
    ids=["sqlite-two-slashes", "psycopg2-driver", "port-typo"],
)
def test_database_url_typo_is_one_line_not_a_traceback(tmp_path: Path, url: str) -> None:
    """`shelfmate db upgrade` with a mistyped DATABASE_URL prints a 20-40 line Python traceback
    (ArgumentError "Invalid SQLite URL", ModuleNotFoundError: psycopg2, ValueError: invalid literal for int()).
    It should print one line naming DATABASE_URL, as the README promises for a malformed value."""
    result = shelfmate(["db", "upgrade"], tmp_path, DATABASE_URL=url)
    assert_one_readable_line(result, names="DATABASE_URL")


def test_sqlite_url_without_a_file_is_refused(tmp_path: Path) -> None:
    """`DATABASE_URL=sqlite:///` (the file name forgotten) is an in-memory database: `shelfmate db upgrade`
    says "Database is up to date." (it migrated a database that vanished with its connection), `shelfmate
    run` starts, and every command then fails on "no such table"; `program create` prints that as a
    traceback. It should be refused at start-up with one line naming DATABASE_URL."""
    created = shelfmate([*PROGRAM_CREATE, "--name", "Spring"], tmp_path, DATABASE_URL="sqlite:///")
    assert created.returncode != 0, created.stdout
    assert "DATABASE_URL" in created.stderr


def test_clock_show_does_not_hide_an_unreachable_database(tmp_path: Path) -> None:
    """`shelfmate clock show` with PostgreSQL down (or a wrong DATABASE_URL) answers "rehearsal clock: not set"
    and exit 0, so the coordinator rehearsing a program believes the clock was reset. It should say the
    database cannot be opened (one line naming DATABASE_URL) and exit non-zero."""
    result = shelfmate(
        ["clock", "show"],
        tmp_path,
        DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/shelfmate",
        SHELFMATE_CLOCK="rehearsal",
    )
    assert "not set" not in result.stdout, result.stdout
    assert_one_readable_line(result, names="DATABASE_URL")


# -- coordinator commands --------------------------------------------------------------------------------


def _program(tmp_path: Path, url: str) -> None:
    created = shelfmate(
        [*PROGRAM_CREATE, "--name", "PLSEP 2026", "--admin-channel", "C0123ABCD"],
        tmp_path,
        DATABASE_URL=url,
    )
    assert created.returncode == 0, created.stderr


def test_export_to_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    """`shelfmate export checkins --out reports/checkins.csv` when `reports/` does not exist (or is not
    writable) prints a FileNotFoundError traceback, after the audit log already recorded the export. It
    should print one line naming the file and exit non-zero."""
    url = f"sqlite:///{tmp_path}/s.db"
    _program(tmp_path, url)
    result = shelfmate(
        ["export", "checkins", "--program", "PLSEP 2026", "--out", str(tmp_path / "reports" / "checkins.csv")],
        tmp_path,
        DATABASE_URL=url,
    )
    assert_one_readable_line(result, names="checkins.csv")


def test_import_of_a_csv_saved_by_excel_is_one_line(tmp_path: Path) -> None:
    """Excel's plain "CSV" format on Windows is cp1252, so "Bibliothèque" is byte 0xe8. `shelfmate import`
    prints a UnicodeDecodeError traceback. It should say in one line that the file is not UTF-8 (save it as
    "CSV UTF-8"), or read it, never a traceback."""
    url = f"sqlite:///{tmp_path}/s.db"
    _program(tmp_path, url)
    csv_file = tmp_path / "applications.csv"
    csv_file.write_bytes(
        "slack_user,role,library_type,organization,specializations,years_experience\n"
        "U012AB3CD,mentee,public,Bibliothèque de Québec,reference,2\n".encode("cp1252")
    )
    result = shelfmate(
        ["import", str(csv_file), "--program", "PLSEP 2026"],
        tmp_path,
        DATABASE_URL=url,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",
    )
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert "UnicodeDecodeError" not in result.stderr


def test_program_create_help_explains_its_options(tmp_path: Path) -> None:
    """`shelfmate program create --help` lists 22 options with no words at all (`--cadence CADENCE`,
    `--blackouts BLACKOUTS`, `--weights WEIGHTS`, `--eligibility ELIGIBILITY`): a coordinator cannot learn
    the date format, the cadence values or how to write blackouts. Each option should say what it takes."""
    result = shelfmate(["program", "create", "--help"], tmp_path)
    assert result.returncode == 0
    undocumented = [
        line.split()[0]
        for line in result.stdout.splitlines()
        if re.fullmatch(r"\s+--[a-z-]+ [A-Z_]+", line)  # an option line with nothing after its metavar
    ]
    assert undocumented == [], f"options without help: {undocumented}"


# -- the manifest and the help ---------------------------------------------------------------------------


def test_mentor_usage_hint_lists_every_subcommand_help_lists() -> None:
    """Typing `/mentor ` in Slack shows the manifest's usage hint: it leaves out `agreement` and `checkins`,
    two of the things `/mentor help` and the README offer. The hint should list every subcommand."""
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    hint = next(c["usage_hint"] for c in manifest["features"]["slash_commands"] if c["command"] == "/mentor")
    hinted = set(re.findall(r"[a-z]+", hint))
    offered = {usage.split()[0] for usage, _ in MENTOR_SUBCOMMANDS}
    assert offered - hinted == set()


# -- shelfmate run -----------------------------------------------------------------------------------------


class _RefusingSlack(BaseHTTPRequestHandler):
    """A Slack Web API that refuses every token, as Slack does for a revoked or mistyped one."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"ok": False, "error": "invalid_auth"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def refusing_slack() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingSlack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()
    server.server_close()


def _start(args: list[str], cwd: Path, **values: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=shelfmate_env(cwd, **values),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str], within: float) -> tuple[int | None, str]:
    """Wait for the process; kill it (SIGKILL) if it is still running after `within` seconds."""
    try:
        output, _ = process.communicate(timeout=within)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return None, output


def test_socket_mode_with_a_refused_app_token_stops_with_one_line(tmp_path: Path, refusing_slack: str) -> None:
    """`shelfmate run` with a revoked or mistyped SLACK_APP_TOKEN (xapp-...) never exits: it logs a 30-line
    SlackApiError traceback per attempt ("Failed to connect ... Retrying...") for ever. It should stop
    with one line naming SLACK_APP_TOKEN (Slack said invalid_auth) and a non-zero exit."""
    process = _start(
        ["run"],
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_APP_TOKEN="xapp-1-revoked",
        SLACK_API_URL=refusing_slack,
        DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
    )
    code, output = _finish(process, within=20)
    assert code is not None and code != 0, "still running 20 s after Slack refused the app token:\n" + output[-1500:]
    assert "Traceback" not in output, output[-1500:]
    assert "SLACK_APP_TOKEN" in output


def test_sigterm_stops_socket_mode_while_it_is_connecting(tmp_path: Path, refusing_slack: str) -> None:
    """While Socket Mode cannot connect (a wrong token, Slack unreachable), SIGTERM (`systemctl stop`,
    `docker stop`) is ignored: the process keeps retrying until it is SIGKILLed. It should exit at once."""
    process = _start(
        ["run"],
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_APP_TOKEN="xapp-1-revoked",
        SLACK_API_URL=refusing_slack,
        DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
    )
    time.sleep(8)  # migrated, and trying to connect
    process.send_signal(signal.SIGTERM)
    code, output = _finish(process, within=10)
    assert code is not None, "still running 10 s after SIGTERM:\n" + output[-1500:]


def _serve_http(tmp_path: Path, emulator: SlackEmulator, bot_token: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = _start(
        ["run", "--http", "--host", "127.0.0.1", "--port", str(port)],
        tmp_path,
        SLACK_BOT_TOKEN=bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.api_url,
        DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return process, url


def test_a_refused_bot_token_is_named_to_the_operator(tmp_path: Path, emulator: SlackEmulator) -> None:
    """With a revoked or mistyped SLACK_BOT_TOKEN (still `xoxb-...`),
    `shelfmate run` starts as if all were well; each `/mentor` then gets nothing useful and the log says only
    "the AuthorizeResult (returned value from authorize) for it was not found". It should stop at start-up
    (auth.test) with one line naming SLACK_BOT_TOKEN, or at least name it in the log when Slack refuses it."""
    process, url = _serve_http(tmp_path, emulator, bot_token="xoxb-revoked-token")
    if process.poll() is None:
        driver = SlackDriver(
            url, SIGNING_SECRET, issue_trigger_id=emulator.issue_trigger_id, new_response_url=emulator.new_response_url
        )
        try:
            driver.command("U0ADMIN01", "/mentor", "help")
        finally:
            driver.close()
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
    _code, output = _finish(process, within=15)
    # Bolt's own start-up warning mentions "SLACK_BOT_TOKEN env variable will be ignored": not an explanation.
    named = [line for line in output.splitlines() if "SLACK_BOT_TOKEN" in line and "will be ignored" not in line]
    assert named, output[-2000:]


def test_a_clean_start_logs_no_warnings(tmp_path: Path, emulator: SlackEmulator) -> None:
    """Every start, correctly configured, logs two WARNINGs from Bolt: "As you gave `client` as well, `token`
    will be unused" and "`token` (or SLACK_BOT_TOKEN env variable) will be ignored". An operator reading
    the log concludes the bot token is not being used. A clean start should log no WARNING."""
    process, _url = _serve_http(tmp_path, emulator, bot_token="xoxb-test-token")
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    _code, output = _finish(process, within=15)
    assert "Uvicorn running" in output, output[-2000:]
    warnings = [line for line in output.splitlines() if " WARNING " in line]
    assert warnings == []


def test_socket_mode_while_slack_is_unreachable_logs_one_line_per_attempt(tmp_path: Path) -> None:
    """The README promises that Slack being unreachable "only logs a warning". In Socket Mode behind a
    firewall (or during a Slack outage) `shelfmate run` logs an 80-line ERROR traceback (aiohttp's
    ClientConnectorError, twice chained) every ten seconds for as long as Slack stays away, burying anything
    else in the log. Each attempt should be one WARNING line saying what failed and that it retries."""
    closed_port = free_port()  # nothing listens there: every call is refused at once, as a firewall would
    log = tmp_path / "run.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=shelfmate_env(
                tmp_path,
                SLACK_BOT_TOKEN="xoxb-1",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_APP_TOKEN="xapp-1-valid",
                SLACK_API_URL=f"http://127.0.0.1:{closed_port}/api/",
                DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
            ),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Failed to connect" not in log.read_text():
            time.sleep(0.2)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert _finish(process, within=15)[0] is not None
    output = log.read_text()
    attempts = [line for line in output.splitlines() if "Failed to connect" in line]
    assert attempts, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert all(" WARNING " in line and "Retrying" in line for line in attempts), attempts

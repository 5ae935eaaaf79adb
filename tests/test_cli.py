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
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.cli import main
from storage.engine import make_engine, session_scope
from storage.models import Enrollment, Person
from tests.app_server import ShelfmateProcess
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.factories import make_program
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
    "LOG_LEVEL",
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


def test_run_with_a_port_but_not_http_says_the_port_needs_http(tmp_path: Path) -> None:
    """`shelfmate run --port 3000` would otherwise start Socket Mode and ignore the port without a word."""
    result = run_cli(["run", "--port", "3000"], tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "shelfmate: --port and --host need --http: Socket Mode listens on no port (shelfmate run --http --port 3000)"
    ]


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


def test_a_sqlite_file_in_a_folder_that_is_not_there_names_the_folder(tmp_path: Path) -> None:
    """SQLite says only "unable to open database file", which reads like a permissions or a corruption problem."""
    result = run_cli(["program", "list"], tmp_path, DATABASE_URL="sqlite:///data/shelfmate.db")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"shelfmate: DATABASE_URL: cannot open the database (there is no folder {tmp_path / 'data'}: create it, "
        "or name another)"
    ), line


def test_a_command_run_away_from_the_database_says_it_made_a_new_empty_one(tmp_path: Path) -> None:
    """From another folder, the default sqlite:///shelfmate.db is another file: `program list` said "No programs
    yet" about a database it had just made, and the coordinator believed the programs gone."""
    result = run_cli(["program", "list"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No programs yet")
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"shelfmate: note: made a new, empty database {tmp_path / 'shelfmate.db'}: run shelfmate from the folder "
        "that holds your .env, or set DATABASE_URL to an absolute path"
    ), line
    again = run_cli(["program", "list"], tmp_path)
    assert again.stderr == ""


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


# -- shelfmate import: what Slack says about each applicant ---------------------------------------------------
IMPORT_HEADER = "slack_user,role,library_type,organization,specializations,years_experience,not_with\n"


def _import(shell: Path, body: str) -> int:
    path = shell / "applications.csv"
    path.write_text(IMPORT_HEADER + body, encoding="utf-8")
    return main(["import", str(path), "--program", "PLSEP Mentorship 2025"])


def _enrolled(engine: Engine) -> dict[str, list[str]]:
    with session_scope(engine) as session:
        return {e.person_id: list(e.specializations) for e in session.exec(select(Enrollment))}


def test_import_keeps_slacks_profile_and_refuses_bot_and_deactivated_accounts(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    emulator.add_user("U0CHIID001", name="ana", real_name="Ana Ruiz", tz="America/Chicago", tz_offset=-21600)
    emulator.add_user("U0GONE0001", name="gone", email="gone@library.example", deleted=True)
    emulator.add_user("U0ROBOT001", name="robot", is_bot=True)
    code = _import(
        operator_shell,
        "U0CHIID001,mentee,public,Chicago Public Library,reference,1,\n"
        "gone@library.example,mentee,public,Kern County Library,reference,1,\n"
        "U0ROBOT001,mentee,public,Kern County Library,reference,1,\n",
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "line 3: gone@library.example: This account is deactivated" in out
    assert "line 4: U0ROBOT001: Bots can't join" in out
    assert "Loaded 1 application(s)" in out and "2 row(s) skipped" in out
    assert set(_enrolled(engine)) == {"U0CHIID001"}
    with session_scope(engine) as session:
        ana = session.get(Person, "U0CHIID001")
        assert ana is not None and (ana.display_name, ana.timezone) == ("Ana Ruiz", "America/Chicago")
        assert ana.refreshed_at is not None


def test_import_reports_the_row_slack_kept_failing_for_and_loads_the_rest(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    emulator.add_user("U0BYMAIL01", name="kim", email="kim@library.example")
    emulator.add_user("U0BYMAIL02", name="lee", email="lee@library.example")
    emulator.fail("users.lookupByEmail", status=500, times=3, match=lambda a: a.get("email") == "kim@library.example")
    code = _import(
        operator_shell,
        "kim@library.example,mentee,public,Fresno County Public Library,reference,1,\n"
        "lee@library.example,mentee,public,Kern County Library,reference,2,kim@library.example\n",
    )
    out = capsys.readouterr().out
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0].startswith("line 2: Slack didn't answer for kim@library.example") and "try again" in lines[0]
    assert lines[1].startswith("line 3: Slack didn't answer for kim@library.example")  # its not_with
    assert "Loaded 0 application(s)" in lines[-1]
    # Slack answers again: the same file loads both, and nothing is doubled.
    assert _import(
        operator_shell,
        "kim@library.example,mentee,public,Fresno County Public Library,reference,1,\n"
        "lee@library.example,mentee,public,Kern County Library,reference,2,kim@library.example\n",
    ) == 0  # fmt: skip
    assert set(_enrolled(engine)) == {"U0BYMAIL01", "U0BYMAIL02"}


def test_import_stops_with_one_line_when_slack_is_down(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    emulator.fail("*", status=503, times=None)
    rows = "".join(f"U0DOWN{k:04d},mentee,public,Kern County Library,reference,1,\n" for k in range(20))
    code = _import(operator_shell, rows)
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    [line] = captured.err.strip().splitlines()
    assert line.startswith("shelfmate: Slack did not answer for 3 people in a row") and "nothing was loaded" in line
    assert len(emulator.calls_to("users.info")) <= 9  # gave up after three people, not twenty
    assert _enrolled(engine) == {}


def test_import_quotes_a_mistyped_choice_and_lists_the_values_the_column_takes(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The form's "Choose the kind of library you work in." named neither the typo nor what to write."""
    make_program(engine)
    emulator.add_user("U0TYPO0001")
    code = _import(operator_shell, "U0TYPO0001,Mentee,libary,Kern County Library,reference,x,\n")
    out = capsys.readouterr().out
    assert code == 1, out
    assert (
        "line 2: library_type 'libary' is not school, public, academic or special; "
        "years_experience 'x': Enter a whole number of years from 0 to 60."
    ) in out, out


def test_import_reads_comma_lists_of_specializations_without_breaking_labels_that_hold_a_comma(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    for user in ("U0SPECS001", "U0SPECS002", "U0SPECS003"):
        emulator.add_user(user)
    code = _import(
        operator_shell,
        'U0SPECS001,mentee,public,A,"reference, Data, assessment and evaluation",1,\n'
        "U0SPECS002,mentee,public,B,data_assessment;  budgets and GRANTS ,1,\n"
        'U0SPECS003,mentee,public,C,"Data, assessment and evaulation",1,\n',
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "line 4: unknown specialization(s) Data, assessment and evaulation" in out
    assert _enrolled(engine) == {
        "U0SPECS001": ["data_assessment", "reference"],
        "U0SPECS002": ["budgets_grants", "data_assessment"],
    }


def test_import_with_a_refused_bot_token_stops_at_once_with_one_line_naming_it(
    tmp_path: Path, engine: Engine, emulator: SlackEmulator, database_url: str
) -> None:
    """A mistyped or revoked token used to read as Slack being down ("did not answer for 3 people"), after
    retries, under a log line telling the operator to restart Shelfmate."""
    make_program(engine)
    emulator.add_user("U0REFUSED1")
    path = tmp_path / "applications.csv"
    path.write_text(IMPORT_HEADER + "U0REFUSED1,mentee,public,Kern County Library,reference,1,\n", encoding="utf-8")
    env = app_env(tmp_path, emulator, database_url) | {"SLACK_BOT_TOKEN": "xoxb-mistyped"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "import", str(path), "--program", "PLSEP Mentorship 2025"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("shelfmate: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"), line
    assert "xoxb-mistyped" not in line
    assert _enrolled(engine) == {}


def test_import_refuses_a_row_with_more_values_than_the_header_has_columns(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unquoted comma shifts the row: in the last column (not_with, where the README allows commas) the
    values past the header were dropped without a word, so a person could be paired with someone they named."""
    make_program(engine)
    for user in ("U0EXTRA001", "U0EXTRA002", "U0AVOID001", "U0AVOID002"):
        emulator.add_user(user)
    code = _import(
        operator_shell,
        "U0EXTRA001,mentee,public,Kern County Library,reference,1,U0AVOID001,U0AVOID002\n"
        'U0EXTRA002,mentee,public,Kern County Library,reference,1,"U0AVOID001,U0AVOID002"\n',
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert (
        "line 2: 8 values for 7 columns: put a value that holds a comma in double quotes "
        '("U0A,U0B"), or separate list items with ;'
    ) in out
    assert set(_enrolled(engine)) == {"U0EXTRA002"}


# -- shelfmate run: what start-up asks Slack about the tokens, and stopping while it waits ------------------


async def _check_tokens_at(emulator: SlackEmulator, **values: str) -> None:
    """What `shelfmate run` asks Slack before it listens, with the emulator as Slack."""
    from bot.cli import _check_tokens
    from bot.config import load_settings
    from bot.slack_client import make_slack_client

    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": emulator.api_url}
    settings = load_settings(env | values)
    await _check_tokens(settings, make_slack_client(settings))


async def test_start_up_names_a_refused_token_and_starts_anyway_when_slack_only_falters(
    emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from bot.config import ConfigError

    await _check_tokens_at(emulator)  # the emulator takes its own token
    with pytest.raises(ConfigError) as refused:
        await _check_tokens_at(emulator, SLACK_BOT_TOKEN="xoxb-revoked-token")
    assert str(refused.value).startswith("SLACK_BOT_TOKEN was refused by Slack (invalid_auth)")
    # Slack down is not a wrong token: a warning, and start-up goes on.
    emulator.fail("auth.test", status=503, times=None)
    with caplog.at_level(logging.WARNING, logger="shelfmate"):
        await _check_tokens_at(emulator)
    assert "could not check SLACK_BOT_TOKEN with Slack" in caplog.text and "starting anyway" in caplog.text


async def test_a_stop_signal_while_waiting_on_slack_cancels_the_wait() -> None:
    import asyncio

    from bot.cli import _Stopped, _unless_stopped

    cancelled: list[bool] = []

    async def connect_for_ever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    with pytest.raises(_Stopped):
        await asyncio.wait_for(_unless_stopped(connect_for_ever(), stop), 5)
    assert cancelled == [True]
    assert await _unless_stopped(asyncio.sleep(0, result="connected"), asyncio.Event()) == "connected"


def test_bolts_token_warnings_are_dropped_and_its_other_warnings_kept(
    runtime: object, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from bot.app import BOLT_LOGGER, create_app
    from bot.runtime import Runtime

    assert isinstance(runtime, Runtime)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # Bolt reads it itself, hence "will be unused"
    with caplog.at_level(logging.WARNING):
        create_app(runtime)
        logging.getLogger(BOLT_LOGGER).warning("a warning worth reading")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == ["a warning worth reading"]


# -- shelfmate export --out, and import of files Excel saved ------------------------------------------------


def _audited(engine: Engine, action: str) -> list[dict[str, object]]:
    from storage.models import AuditEvent

    with session_scope(engine) as session:
        return [e.detail for e in session.exec(select(AuditEvent).where(AuditEvent.action == action))]


def test_export_to_a_folder_that_is_not_there_is_one_line_and_not_audited(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    target = operator_shell / "reports" / "checkins.csv"
    assert main(["export", "checkins", "--out", str(target)]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert str(target) in line and "there is no folder" in line and "nothing was exported" in line
    assert _audited(engine, "export") == []
    assert not target.parent.exists()


def test_a_failed_export_leaves_the_old_file_and_a_finished_one_replaces_it(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    old = operator_shell / "participants.csv"
    old.write_text("last week's export\n" * 500, encoding="utf-8")
    assert main(["export", "participants", "--program", "No Such Program", "--out", str(old)]) == 1
    assert main(["export", "participants", "--program", "No Such Program", "--out", "new.csv"]) == 1
    assert old.read_text(encoding="utf-8") == "last week's export\n" * 500
    assert not (operator_shell / "new.csv").exists()
    assert _audited(engine, "export") == []
    capsys.readouterr()

    assert main(["export", "participants", "--out", str(old)]) == 0
    assert old.read_text(encoding="utf-8-sig").startswith("slack_user_id,")
    assert "last week" not in old.read_text(encoding="utf-8-sig")
    assert _audited(engine, "export") == [{"kind": "participants"}]


CP1252_ROW = "U0EXCEL001,mentee,public,Bibliothèque de Québec,reference,2,\n"


def test_import_of_excels_plain_csv_says_to_save_it_as_csv_utf8(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    path = operator_shell / "applications.csv"
    path.write_bytes((IMPORT_HEADER + CP1252_ROW).encode("cp1252"))
    assert main(["import", str(path), "--program", "PLSEP Mentorship 2025"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "line 2 is not UTF-8" in line and '"CSV UTF-8' in line and "nothing was loaded" in line
    assert _enrolled(engine) == {} and emulator.calls == []

    path.write_bytes((IMPORT_HEADER + CP1252_ROW).encode("utf-16"))  # Excel's "Unicode Text"
    assert main(["import", str(path), "--program", "PLSEP Mentorship 2025"]) == 1
    assert '"CSV UTF-8' in capsys.readouterr().err


def test_import_reads_excels_csv_utf8_with_its_byte_order_mark(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    make_program(engine)
    emulator.add_user("U0EXCEL001")
    path = operator_shell / "applications.csv"
    path.write_bytes((IMPORT_HEADER + CP1252_ROW).encode("utf-8-sig"))
    assert main(["import", str(path), "--program", "PLSEP Mentorship 2025"]) == 0, capsys.readouterr()
    with session_scope(engine) as session:
        [enrollment] = session.exec(select(Enrollment))
        assert enrollment.organization == "Bibliothèque de Québec"


# -- shelfmate program create/edit --admin-channel: can Shelfmate post there? ----------------------------------
PROGRAM_DATES = [
    *("--applications-close", "2026-02-17", "--agreement-due", "2026-03-01"),
    *("--starts", "2026-03-01", "--ends", "2026-06-30"),
]


def _admin_channel(engine: Engine, name: str) -> str | None:
    from storage.models import Program

    with session_scope(engine) as session:
        return session.exec(select(Program).where(Program.name == name)).one().admin_channel


def test_program_create_and_edit_warn_when_shelfmate_cannot_post_in_the_admin_channel(
    operator_shell: Path, engine: Engine, emulator: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Slack form warns "I'm not in #plsep-admins yet: please invite me" when the admin channel is one
    Shelfmate is not a member of; `shelfmate program create --admin-channel` saved it without a word, and
    summaries and alerts never reached the channel. It should save the program and say the same."""
    emulator.add_channel("C0NOTINVTD", "plsep-admins", is_member=False)
    emulator.add_channel("C0ARCHIVED", "old-admins", is_archived=True)
    emulator.add_channel("C0JOINED01", "plsep-coordinators")

    assert main(["program", "create", "--name", "PLSEP 2026", *PROGRAM_DATES, "--admin-channel", "C0NOTINVTD"]) == 0
    out = capsys.readouterr().out
    assert "Created program 'PLSEP 2026'" in out, out
    assert "C0NOTINVTD" in out and "/invite @Shelfmate" in out, f"no word that Shelfmate is not in the channel:\n{out}"
    assert _admin_channel(engine, "PLSEP 2026") == "C0NOTINVTD"  # saved all the same, as the Slack form does

    assert main(["program", "edit", "PLSEP 2026", "--admin-channel", "C0ARCHIVED"]) == 0
    out = capsys.readouterr().out
    assert "C0ARCHIVED" in out and "archived" in out and "--admin-channel" in out, out
    assert _admin_channel(engine, "PLSEP 2026") == "C0ARCHIVED"

    assert main(["program", "edit", "PLSEP 2026", "--admin-channel", "C0JOINED01"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "Updated program 'PLSEP 2026'.", out  # Shelfmate is in it: nothing to warn about
    emulator.reset_calls()
    assert main(["program", "edit", "PLSEP 2026", "--ends", "2026-06-26"]) == 0  # the channel did not change
    assert emulator.calls_to("conversations.info") == [], "asked Slack about a channel that did not change"


def test_program_create_says_the_admin_channel_could_not_be_checked_when_slack_is_out_of_reach(
    operator_shell: Path,
    engine: Engine,
    emulator: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Slack down, or no bot token in this shell: the program is saved, and the operator is told the admin
    channel could not be checked (not a traceback, not silence)."""
    emulator.fail("conversations.info", status=503, times=None)
    assert main(["program", "create", "--name", "PLSEP 2026", *PROGRAM_DATES, "--admin-channel", "C0NOTINVTD"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    assert "could not check" in captured.out and "C0NOTINVTD" in captured.out, captured.out
    assert _admin_channel(engine, "PLSEP 2026") == "C0NOTINVTD"

    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert main(["program", "edit", "PLSEP 2026", "--admin-channel", "C0OTHER001"]) == 0
    out = capsys.readouterr().out
    assert "could not check" in out and "SLACK_BOT_TOKEN" in out, out
    assert _admin_channel(engine, "PLSEP 2026") == "C0OTHER001"


def test_program_edit_with_a_refused_bot_token_says_slack_refused_it_not_that_slack_did_not_answer(
    operator_shell: Path,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The note read "Slack did not answer (Slack refused the bot token ...)" under a log line telling the
    operator to restart Shelfmate, which was not running."""
    make_program(engine)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked-token")
    assert main(["program", "edit", "PLSEP Mentorship 2025", "--admin-channel", "C0OTHER001"]) == 0
    out = capsys.readouterr().out
    assert "could not check" in out and "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in out, out
    assert "did not answer" not in out, out
    assert not [r for r in caplog.records if "restart Shelfmate" in r.getMessage()]
    assert _admin_channel(engine, "PLSEP Mentorship 2025") == "C0OTHER001"


def test_output_piped_to_a_reader_that_stops_early_ends_without_a_traceback(
    tmp_path: Path, engine: Engine, database_url: str
) -> None:
    """`shelfmate program list | head -1` or `shelfmate export participants | head` printed a BrokenPipeError
    traceback once the reader had what it wanted."""
    make_program(engine)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "program", "list"],
        cwd=tmp_path,
        env=shelfmate_env(tmp_path, DATABASE_URL=database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is written
    errors = process.stderr.read()
    process.wait(timeout=60)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert errors == ""


def test_export_without_a_program_name_says_what_to_type_in_the_terminal(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a shell, "add the name" and "`/mentor-admin program create`" pointed at Slack, not at the option."""
    assert main(["export", "hours"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == "shelfmate: there is no program yet: shelfmate program create --name ...", line
    make_program(engine)
    make_program(engine, name="PLSEP 2026")
    assert main(["export", "hours"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("shelfmate: several programs are running; add --program NAME: "), line
    assert "PLSEP 2026" in line and "`" not in line


def test_program_list_counts_one_mentor_and_one_mentee_in_the_singular(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`shelfmate program list` printed "1 mentors\t1 mentees" for a program with one of each."""
    from tests.test_scheduler import enroll, person

    program = make_program(engine)
    with session_scope(engine, write=True) as session:
        for uid, role in (("U0LISTMTR", "mentor"), ("U0LISTMTE", "mentee"), ("U0LISTMT2", "mentee")):
            person(session, uid)
            enroll(session, program, uid, role)
    assert main(["program", "list"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    columns = line.split("\t")
    assert "1 mentor" in columns and "2 mentees" in columns, columns


def test_a_wrong_time_zone_or_admin_id_is_quoted_as_typed_in_the_terminal(
    operator_shell: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """The program checks escape what was typed, for the Slack form and slash command (mrkdwn); the terminal
    must show it as typed, not as `&lt;` and `&amp;`."""
    args = ["program", "create", "--name", "PLSEP 2026", *PROGRAM_DATES, "--timezone", "Pacific <&> Time"]
    assert main([*args, "--admins", "U0GOOD01,<@dana&co>"]) != 0
    captured = capsys.readouterr()
    told = captured.out + captured.err
    assert "'Pacific <&> Time' is not a time zone name" in told, told
    assert "<@dana&co>" in told and "&lt;" not in told and "&amp;" not in told, told
    assert "Traceback" not in told, told


def test_import_and_sweep_need_no_signing_secret_they_never_use(
    operator_shell: Path,
    engine: Engine,
    emulator: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only `shelfmate run` receives Slack's signed requests; a host that only imports or sweeps (a cron job)
    has no reason to hold the secret, and used to be refused for lacking it."""
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    make_program(engine)
    emulator.add_user("U0EXCEL001")
    path = operator_shell / "applications.csv"
    path.write_text(IMPORT_HEADER + "U0EXCEL001,mentee,public,Lakeview Library,reference,2,\n", encoding="utf-8")
    assert main(["import", str(path), "--program", "PLSEP Mentorship 2025"]) == 0, capsys.readouterr()
    assert list(_enrolled(engine)) != []
    assert main(["sweep"]) == 0, capsys.readouterr()
    assert "SLACK_SIGNING_SECRET" not in capsys.readouterr().err
    # The app that does receive them still refuses to start without it.
    assert main(["run", "--http"]) != 0
    assert "SLACK_SIGNING_SECRET is not set" in capsys.readouterr().err

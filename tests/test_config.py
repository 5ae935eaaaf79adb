"""Start-up settings: one clear line for each mistake a coordinator can make."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, DEFAULT_SLACK_API_URL, ConfigError, load_settings

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "abcdef0123456789"}


def test_defaults() -> None:
    settings = load_settings(GOOD)
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.admins == frozenset()
    assert settings.socket_mode is False


def test_everything_set() -> None:
    settings = load_settings(
        GOOD
        | {
            "SLACK_APP_TOKEN": "xapp-1-A-1-x",
            "SLACK_API_URL": "http://127.0.0.1:9999/api",
            "DATABASE_URL": "postgresql://u:p@localhost/db",
            "SHELFMATE_ADMINS": "U012AB3CD, W0ABCDEF",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.socket_mode is True
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.database_url == "postgresql+psycopg://u:p@localhost/db"
    assert settings.admins == {"U012AB3CD", "W0ABCDEF"}
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_SIGNING_SECRET": "abcdef0123456789"},
            "SLACK_BOT_TOKEN",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (GOOD | {"SLACK_SIGNING_SECRET": "has spaces in it"}, "SLACK_SIGNING_SECRET"),
        (GOOD | {"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        (GOOD | {"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        (GOOD | {"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        (GOOD | {"SHELFMATE_ADMINS": "casey,U0123ABC"}, "SHELFMATE_ADMINS"),
        (GOOD | {"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        (GOOD | {"SHELFMATE_CLOCK": "sundial"}, "SHELFMATE_CLOCK"),
    ],
)
def test_each_mistake_names_the_variable_and_where_to_find_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(named)
    assert "Where to get it" in message
    assert "\n" not in message


def test_secrets_never_appear_in_repr() -> None:
    settings = load_settings(GOOD | {"DATABASE_URL": "postgresql+psycopg://u:hunter2@h/db"})
    shown = repr(settings) + str(settings)
    assert "xoxb-1-2-abc" not in shown
    assert "abcdef0123456789" not in shown
    assert "hunter2" not in shown


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=filesecret123\nLOG_LEVEL=ERROR\n")
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "DATABASE_URL",
        "SHELFMATE_ADMINS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    settings = load_settings(env_file=env_file)
    assert settings.bot_token == "xoxb-from-file"
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://shelfmate.db",  # one slash short: SQLAlchemy's "Invalid SQLite URL" traceback
        "sqlite:///",  # no file: an in-memory database that vanishes with its connection
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:shelfmate?mode=memory&uri=true",
        "postgresql+psycopg2://postgres@127.0.0.1/shelfmate",  # a driver Shelfmate does not install
        "postgresql+asyncpg://postgres@127.0.0.1/shelfmate",
        "postgres://postgres@127.0.0.1/shelfmate",  # Heroku's spelling, which SQLAlchemy refuses
        "postgresql+psycopg://postgres@127.0.0.1:5432x/shelfmate",  # a typo in the port
        "mysql+pymysql://root@localhost/shelfmate",
        "shelfmate.db",
    ],
)
def test_a_database_url_sqlalchemy_would_refuse_or_lose_is_one_line(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(GOOD | {"DATABASE_URL": url})
    message = str(caught.value)
    assert message.startswith("DATABASE_URL")
    assert "Where to get it" in message
    assert "\n" not in message


def test_a_password_mistaken_for_a_port_is_not_printed() -> None:
    """Without the '@', SQLAlchemy reads `user:secret` as host and port; its error would quote the password."""
    with pytest.raises(ConfigError) as caught:
        load_settings(GOOD | {"DATABASE_URL": "postgresql+psycopg://shelfmate:hunter2/shelfmate"})
    assert "hunter2" not in str(caught.value)
    assert "port" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "used"),
    [
        ("sqlite:///shelfmate.db", "sqlite:///shelfmate.db"),
        ("sqlite:////var/lib/shelfmate/shelfmate.db", "sqlite:////var/lib/shelfmate/shelfmate.db"),
        ("sqlite+pysqlite:///shelfmate.db", "sqlite+pysqlite:///shelfmate.db"),
        ("postgresql://u:p%40ss@db.example:5432/shelfmate", "postgresql+psycopg://u:p%40ss@db.example:5432/shelfmate"),
        (
            "postgresql+psycopg://u@/shelfmate?host=/run/postgresql",
            "postgresql+psycopg://u@/shelfmate?host=/run/postgresql",
        ),
    ],
)
def test_database_urls_shelfmate_can_use_are_kept(url: str, used: str) -> None:
    assert load_settings(GOOD | {"DATABASE_URL": url}).database_url == used


def test_the_untouched_env_example_names_the_token_still_holding_its_example_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second `scripts/run.sh` on an unedited `.env` used to blame the signing secret's hyphens
    ("malformed"), when the file simply still held the example values."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text(encoding="utf-8")
    env_file.write_text(example, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=env_file)
    message = str(caught.value)
    assert message.startswith("SLACK_BOT_TOKEN still holds the example value from .env.example"), message
    assert "\n" not in message
    env_file.write_text(example.replace("xoxb-your-bot-token", "xoxb-1-2-abc"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=env_file)
    assert str(caught.value).startswith("SLACK_SIGNING_SECRET still holds the example value from .env.example")

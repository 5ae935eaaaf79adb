"""Settings read once from the environment and `.env`, validated before anything starts.

A coordinator installing Shelfmate should see one line naming the variable that is wrong and where to
find its value, never a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.services.programs import SLACK_USER_ID

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///shelfmate.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CLOCK_MODES = ("system", "rehearsal")
# What `.env.example` holds until someone pastes the real values: named as such, not as "malformed".
EXAMPLE_VALUES = {"SLACK_BOT_TOKEN": "xoxb-your-bot-token", "SLACK_SIGNING_SECRET": "your-signing-secret"}


WHERE = {
    "SLACK_BOT_TOKEN": "api.slack.com/apps -> your app -> OAuth & Permissions -> Bot User OAuth Token (xoxb-...)",
    "SLACK_SIGNING_SECRET": "api.slack.com/apps -> your app -> Basic Information -> App Credentials -> Signing Secret",
    "SLACK_APP_TOKEN": "api.slack.com/apps -> your app -> Basic Information -> App-Level Tokens "
    "(scope connections:write, xapp-...)",
    "SLACK_API_URL": "leave unset for slack.com; a GovSlack host or a local emulator, e.g. https://slack-gov.com/api/",
    "DATABASE_URL": "a SQLAlchemy URL, e.g. sqlite:///shelfmate.db or postgresql+psycopg://user:pw@host/db",
    "SHELFMATE_ADMINS": "comma-separated Slack user ids (profile -> ... -> Copy member ID), e.g. U012AB3CD",
    "LOG_LEVEL": "one of " + ", ".join(LOG_LEVELS),
    "SHELFMATE_CLOCK": "system (default) or rehearsal",
}


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for a person."""


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str
    app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    admins: frozenset[str] = field(default_factory=frozenset)
    log_level: str = "INFO"
    clock_mode: str = "system"

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    def __repr__(self) -> str:  # secrets must never reach logs
        return (
            f"Settings(slack_api_url={self.slack_api_url!r}, database_url={_redact_url(self.database_url)!r}, "
            f"admins={sorted(self.admins)!r}, socket_mode={self.socket_mode}, log_level={self.log_level!r}, "
            f"clock_mode={self.clock_mode!r})"
        )

    __str__ = __repr__


def _redact_url(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _problem(name: str, what: str) -> ConfigError:
    return ConfigError(f"{name} {what}. Where to get it: {WHERE[name]}")


def refused_by_slack(name: str, error: str) -> ConfigError:
    """Slack answered a token with `error` (invalid_auth, token_revoked...): the setting, not Slack, is wrong."""
    return ConfigError(
        f"{name} was refused by Slack ({error}): it is revoked, mistyped or from another app. "
        f"Where to get it: {WHERE[name]}"
    )


def _database_url(value: str) -> str:
    """Refuse now, in one line, a URL that SQLAlchemy would refuse later with a traceback, or accept and lose data.

    Shelfmate installs two drivers: pysqlite (in Python) and psycopg (version 3). `postgresql://` means
    psycopg2 to SQLAlchemy, so it is rewritten to psycopg; an in-memory SQLite database would vanish with
    its connection, taking the migrations and every program with it.
    """
    try:
        url = make_url(value)
    except ArgumentError:
        raise _problem("DATABASE_URL", "is not a database URL") from None
    except ValueError:
        # Not the parser's message: it quotes the "port", which is a password when the '@' is missing.
        raise _problem(
            "DATABASE_URL", "has a port that is not a number (percent-encode any / : @ % in the password)"
        ) from None
    driver = url.drivername
    if driver == "postgres" or driver.startswith("postgres+"):
        raise _problem("DATABASE_URL", "starts with postgres://, which SQLAlchemy refuses: write postgresql+psycopg://")
    if driver.startswith("postgresql+") and driver != "postgresql+psycopg":
        raise _problem(
            "DATABASE_URL",
            f"names the driver {driver.removeprefix('postgresql+')}; Shelfmate uses postgresql+psycopg://",
        )
    if driver == "postgresql":
        return "postgresql+psycopg" + value[len("postgresql") :]
    if driver == "postgresql+psycopg":
        return value
    if driver not in ("sqlite", "sqlite+pysqlite"):
        raise _problem("DATABASE_URL", "must start with sqlite:/// or postgresql+psycopg://")
    if url.host:
        raise _problem(
            "DATABASE_URL",
            "has two slashes after sqlite: where a file needs three (sqlite:///shelfmate.db), "
            "or four before an absolute path (sqlite:////var/lib/shelfmate/shelfmate.db)",
        )
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        raise _problem(
            "DATABASE_URL",
            "names no database file (an in-memory database vanishes when its connection closes): "
            "write sqlite:///shelfmate.db",
        )
    return value


def _read_environment(env_file: Path | None) -> dict[str, str]:
    """The process environment wins over `.env`, as twelve-factor tools expect."""
    values: dict[str, str] = {}
    path = env_file if env_file is not None else Path.cwd() / ".env"
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ)
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = None,
    require_slack: bool = True,
    receives_requests: bool = True,
) -> Settings:
    """Build validated settings; `require_slack=False` serves commands that never talk to Slack, and
    `receives_requests=False` those that call Slack but never receive its signed requests (import, sweep),
    so they do not ask for a signing secret they would never use."""
    env = dict(environ) if environ is not None else _read_environment(env_file)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    bot_token = get("SLACK_BOT_TOKEN")
    signing_secret = get("SLACK_SIGNING_SECRET")
    app_token = get("SLACK_APP_TOKEN")
    needed = ["SLACK_BOT_TOKEN"] if require_slack else []
    needed += ["SLACK_SIGNING_SECRET"] if require_slack and receives_requests else []
    for name in needed:
        if get(name) == EXAMPLE_VALUES[name]:
            raise _problem(name, "still holds the example value from .env.example: paste your app's own")
    if require_slack:
        if bot_token is None:
            raise _problem("SLACK_BOT_TOKEN", "is not set")
        if not bot_token.startswith("xoxb-"):
            raise _problem("SLACK_BOT_TOKEN", "does not look like a bot token (it should start with xoxb-)")
    if require_slack and receives_requests:
        if signing_secret is None:
            raise _problem("SLACK_SIGNING_SECRET", "is not set")
        if not re.fullmatch(r"[A-Za-z0-9]{8,}", signing_secret):
            raise _problem("SLACK_SIGNING_SECRET", "is malformed (expected letters and digits only)")
    if app_token is not None and not app_token.startswith("xapp-"):
        raise _problem("SLACK_APP_TOKEN", "does not look like an app-level token (it should start with xapp-)")

    api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not re.match(r"^https?://[^/\s]+", api_url):
        raise _problem("SLACK_API_URL", f"is not an http(s) URL ({api_url!r})")
    if not api_url.endswith("/"):
        api_url += "/"

    database_url = _database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL)

    admins = frozenset(a.strip() for a in (get("SHELFMATE_ADMINS") or "").split(",") if a.strip())
    bad = sorted(a for a in admins if not SLACK_USER_ID.match(a))
    if bad:
        raise _problem("SHELFMATE_ADMINS", f"has values that are not Slack user ids: {', '.join(bad)}")

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise _problem("LOG_LEVEL", f"is {log_level!r}")

    clock_mode = (get("SHELFMATE_CLOCK") or "system").lower()
    if clock_mode not in CLOCK_MODES:
        raise _problem("SHELFMATE_CLOCK", f"is {clock_mode!r}")

    return Settings(
        bot_token=bot_token or "",
        signing_secret=signing_secret or "",
        app_token=app_token,
        slack_api_url=api_url,
        database_url=database_url,
        admins=admins,
        log_level=log_level,
        clock_mode=clock_mode,
    )

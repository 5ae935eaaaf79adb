"""Engines for SQLite (embedded default) and PostgreSQL, configured the way concurrent writers need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL names, made absolute (a relative one is relative to the working folder); None for
    another database, an in-memory one or a `file:` URI."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database.startswith("file:"):
        return None
    return Path(url.database).absolute()


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """SQLite gets WAL, foreign keys and a busy timeout, or "database is locked" reaches users.

    Statement parameters are kept out of error messages: they hold private notes and people's answers,
    and errors are logged.
    """
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, issue BEGIN so that writers can ask for BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: no deadlock-prone read->write upgrade.
            immediate = conn.get_execution_options().get("shelfmate_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(
        database_url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True, **kwargs
    )


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error.

    `write=True` on SQLite starts with BEGIN IMMEDIATE so two processes serialize instead of failing.
    """
    bind = engine.execution_options(shelfmate_write=True) if write and is_sqlite(engine) else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

"""The database: an engine from a URL (SQLite or PostgreSQL), sessions, and migrations.

``upgrade(url)`` brings the schema to the newest Alembic revision (``store/migrations``). Several
processes may call it at once: PostgreSQL serialises them with an advisory lock, SQLite with a
file lock next to the database file. SQLite runs in WAL mode with a busy timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key of kaiban's migrations (any constant; "kaiban" in ASCII)
_PG_MIGRATION_LOCK = 0x6B616962616E
_IMMEDIATE = "kaiban_sqlite_immediate"  # execution option: SQLite write transactions take the lock at BEGIN


def database_url(url: str | URL) -> URL:
    """``url`` parsed; ``postgres://`` and ``postgresql://`` are read as psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL for logs and messages: the password masked."""
    return database_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str | URL, *, busy_timeout_s: float = 10.0) -> Engine:
    """An engine for ``url``; for SQLite the file's directory is created, WAL and a busy timeout are set."""
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    path = sqlite_path(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # persistent; readers never block the writer
            cursor.execute("PRAGMA synchronous=FULL")  # a recorded notice survives a power cut
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock at once: a read-then-write transaction never fails half-way
        # with "database is locked" when another process wrote in between.
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One engine per process and URL, with sessions for reading and for writing.

    Sync SQLAlchemy: from async code call it in a thread (``asyncio.to_thread``).
    """

    def __init__(self, url: str | URL, *, busy_timeout_s: float = 10.0) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url, busy_timeout_s=busy_timeout_s)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT (with ``on_conflict_do_nothing`` / ``_do_update``) into ``table``."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in one transaction, committed on success, rolled back on error."""
        with self._writer() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({safe_url(self.url)!r})"


def alembic_config() -> Config:
    """Alembic's configuration, without an ini file: the scripts are in ``store/migrations``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision``; safe when several processes start at once."""
    parsed = database_url(url)
    engine = make_engine(parsed)
    try:
        with _migration_lock(parsed), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # held until this transaction commits: the others wait, then find the schema at head
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _migration_lock(url: URL) -> Iterator[None]:
    """For a SQLite file, an exclusive ``flock`` on ``<file>.migrate.lock``; nothing otherwise."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

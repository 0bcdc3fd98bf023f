"""What the two simulated systems share: the departments' clock (Asia/Shanghai) and SQLite plumbing.

Each department keeps its own file and schema; only the way a file is opened, migrated and
written in one transaction is common.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

CST = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> datetime:
    """The department's wall clock."""
    return datetime.now(CST)


@contextlib.contextmanager
def connect(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    """One short-lived connection (files are shared with tests and the demo, possibly other processes)."""
    conn = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken at once (``BEGIN IMMEDIATE``), committed on leaving, rolled back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def init_schema(db_path: str | Path, schema: str, added_columns: Iterable[tuple[str, str]], then: str = "") -> None:
    """Create the file and ``schema`` if missing, add ``added_columns`` an older file lacks, run ``then``."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with connect(db_path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(schema)
        have = {r["name"] for r in conn.execute("PRAGMA table_info(submissions)")}
        for name, kind in added_columns:
            if name not in have:
                conn.execute(f"ALTER TABLE submissions ADD COLUMN {name} {kind}")
        if then:
            conn.executescript(then)


def iso(ts: float) -> str:
    """A timestamp as the departments write it (ISO 8601, +08:00, to the second)."""
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")

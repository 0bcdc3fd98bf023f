"""SQLite store of the submissions a simulated department system received.

Stdlib ``sqlite3`` only, WAL journal, one short-lived connection per call (the
store is shared by the portal app, the tests and the demo, possibly from other
processes). There is deliberately NO uniqueness on ``application_id``: a real
department records every submission it is sent, so a robot that files twice
leaves two rows, and the tests can see it.

Text is stored as UTF-8 (``ensure_ascii=False``), so characters outside the
Basic Multilingual Plane (𬱖, 䶮) round-trip unchanged.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    portal         TEXT NOT NULL,
    application_id TEXT NOT NULL,
    receipt_no     TEXT UNIQUE,
    submitted_at   TEXT NOT NULL,
    submitted_ts   REAL NOT NULL,
    ready_ts       REAL NOT NULL,
    status         TEXT NOT NULL DEFAULT 'in_review',
    reason         TEXT,
    data           TEXT NOT NULL,
    result         TEXT,
    username       TEXT
);
CREATE INDEX IF NOT EXISTS submissions_application_id ON submissions (application_id);
"""

IN_REVIEW = "in_review"
COMPLETED = "completed"
REJECTED = "rejected"


@contextlib.contextmanager
def connect(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        yield conn
    finally:
        conn.close()


def init_db(db_path: str | Path) -> None:
    """Create the file and schema if missing; switch the journal to WAL."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with connect(db_path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(row: sqlite3.Row, now: float) -> dict[str, Any]:
    status = row["status"]
    if status == IN_REVIEW and now >= row["ready_ts"]:
        status = COMPLETED  # the department finished processing
    return {
        "id": row["id"],
        "portal": row["portal"],
        "application_id": row["application_id"],
        "receipt_no": row["receipt_no"],
        "submitted_at": row["submitted_at"],
        "status": status,
        "reason": row["reason"],
        "data": json.loads(row["data"]),
        # a result exists from submission on, but is only issued once processing is over
        "result": json.loads(row["result"]) if status == COMPLETED and row["result"] else None,
    }


def insert_submission(
    db_path: str | Path,
    *,
    portal: str,
    application_id: str,
    data: dict[str, Any],
    submitted_at: str,
    submitted_ts: float,
    ready_ts: float,
    make_receipt_no: Callable[[int], str],
    make_result: Callable[[int], dict[str, Any]],
    username: str | None = None,
) -> dict[str, Any]:
    """Record one submission; the receipt number and result are derived from its row id."""
    with connect(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO submissions (portal, application_id, submitted_at, submitted_ts, ready_ts,"
                " status, data, username) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (portal, application_id, submitted_at, submitted_ts, ready_ts, IN_REVIEW, _dumps(data), username),
            )
            row_id = int(cur.lastrowid)
            conn.execute(
                "UPDATE submissions SET receipt_no = ?, result = ? WHERE id = ?",
                (make_receipt_no(row_id), _dumps(make_result(row_id)), row_id),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        row = conn.execute("SELECT * FROM submissions WHERE id = ?", (row_id,)).fetchone()
    return _row(row, time.time())


def find_submissions(
    db_path: str | Path, *, application_id: str | None = None, receipt_no: str | None = None
) -> list[dict[str, Any]]:
    """Submissions matching every given criterion, oldest first (all of them when none is given)."""
    where, args = [], []
    if application_id is not None:
        where.append("application_id = ?")
        args.append(application_id)
    if receipt_no is not None:
        where.append("receipt_no = ?")
        args.append(receipt_no)
    sql = "SELECT * FROM submissions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    with connect(db_path) as conn:
        rows = conn.execute(sql, args).fetchall()
    now = time.time()
    return [_row(r, now) for r in rows]


def count_submissions(db_path: str | Path, application_id: str) -> int:
    with connect(db_path) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM submissions WHERE application_id = ?", (application_id,)).fetchone()
    return int(n)


def set_status(db_path: str | Path, receipt_no: str, status: str, reason: str | None = None) -> bool:
    """Force a submission's status (e.g. a department sends it back for correction)."""
    with connect(db_path) as conn:
        cur = conn.execute(
            "UPDATE submissions SET status = ?, reason = ? WHERE receipt_no = ?", (status, reason, receipt_no)
        )
    return cur.rowcount > 0


def complete_now(db_path: str | Path, receipt_no: str, result: dict[str, Any] | None = None) -> bool:
    """Finish processing now (the demo's and tests' fast-forward), optionally re-issuing the result."""
    with connect(db_path) as conn:
        if result is None:
            cur = conn.execute(
                "UPDATE submissions SET ready_ts = MIN(ready_ts, ?) WHERE receipt_no = ?", (time.time(), receipt_no)
            )
        else:
            cur = conn.execute(
                "UPDATE submissions SET ready_ts = MIN(ready_ts, ?), result = ? WHERE receipt_no = ?",
                (time.time(), _dumps(result), receipt_no),
            )
    return cur.rowcount > 0


def get_row(db_path: str | Path, receipt_no: str) -> dict[str, Any] | None:
    """The raw stored row (with its hidden result and timestamps), or None."""
    with connect(db_path) as conn:
        row = conn.execute("SELECT * FROM submissions WHERE receipt_no = ?", (receipt_no,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["data"] = json.loads(out["data"])
    out["result"] = json.loads(out["result"]) if out["result"] else None
    return out

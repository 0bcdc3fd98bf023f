"""The department APIs' SQLite store: at most one live submission (neither rejected nor withdrawn)
per department and application; a ticket's status follows from its timestamps and rule decisions."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from simulators.common import CST, connect, immediate, init_schema, iso
from simulators.department_api.models import Submission
from simulators.department_api.results import issue_result

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    ticket          TEXT PRIMARY KEY,
    department      TEXT NOT NULL,
    application_id  TEXT NOT NULL,
    uscc            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    result          TEXT NOT NULL,
    callback_url    TEXT,
    received_at     TEXT NOT NULL,
    received_ts     REAL NOT NULL,
    ready_ts        REAL NOT NULL,
    rejected_reason TEXT,
    rejected_ts     REAL,
    decision_reason   TEXT,
    withdrawn_ts      REAL,
    withdrawal_reason TEXT
);
CREATE INDEX IF NOT EXISTS ix_submissions_application ON submissions(application_id);
"""
# columns added after the first release (added to an existing file by init_db)
_ADDED_COLUMNS = (("decision_reason", "TEXT"), ("withdrawn_ts", "REAL"), ("withdrawal_reason", "TEXT"))
# at most one live (neither rejected nor withdrawn) submission per department and application
_LIVE_INDEX = """
DROP INDEX IF EXISTS ux_submissions_live;
CREATE UNIQUE INDEX IF NOT EXISTS ux_submissions_live_v2
    ON submissions(department, application_id) WHERE rejected_reason IS NULL AND withdrawn_ts IS NULL;
"""
_LIVE = "rejected_reason IS NULL AND withdrawn_ts IS NULL"


def init_db(db_path: str | Path) -> None:
    init_schema(db_path, _SCHEMA, _ADDED_COLUMNS, then=_LIVE_INDEX)


def status(row: sqlite3.Row, now: float | None = None) -> str:
    if row["withdrawn_ts"] is not None:
        return "withdrawn"
    if row["rejected_reason"] is not None:
        return "rejected"
    now = time.time() if now is None else now
    if now < row["ready_ts"]:
        return "processing"
    return "rejected" if row["decision_reason"] is not None else "completed"


def public(row: sqlite3.Row, now: float | None = None) -> dict[str, Any]:
    """A submission as ``GET /api/v1/submissions/{ticket}`` answers it."""
    state = status(row, now)
    reason = None
    if state == "rejected":
        reason = row["rejected_reason"] if row["rejected_reason"] is not None else row["decision_reason"]
    elif state == "withdrawn":
        reason = row["withdrawal_reason"]
    return {
        "ticket": row["ticket"],
        "application_id": row["application_id"],
        "department": row["department"],
        "status": state,
        "result": json.loads(row["result"]) if state == "completed" else None,
        "reason": reason,
        "received_at": row["received_at"],
        "withdrawn_at": iso(row["withdrawn_ts"]) if row["withdrawn_ts"] is not None else None,
    }


def full(row: sqlite3.Row, now: float | None = None) -> dict[str, Any]:
    """A submission as the admin endpoint shows it: body, stored result and readiness included."""
    out = public(row, now)
    out.update(
        uscc=row["uscc"],
        callback_url=row["callback_url"],
        payload=json.loads(row["payload"]),
        stored_result=json.loads(row["result"]),
        ready_at=iso(row["ready_ts"]),
    )
    return out


def select(db_path: str | Path, where: str = "", params: tuple = ()) -> list[sqlite3.Row]:
    with connect(db_path) as conn:
        return conn.execute(f"SELECT * FROM submissions {where} ORDER BY received_ts, ticket", params).fetchall()


# the status a submission shows as of the parameter :now (the same decision as :func:`status`)
_EFFECTIVE_STATUS = (
    "CASE WHEN withdrawn_ts IS NOT NULL THEN 'withdrawn' WHEN rejected_reason IS NOT NULL THEN 'rejected'"
    " WHEN :now < ready_ts THEN 'processing' WHEN decision_reason IS NOT NULL THEN 'rejected' ELSE 'completed' END"
)


def department_page(
    db_path: str | Path,
    code: str,
    *,
    offset: int,
    limit: int,
    status: str | None = None,
    now: float | None = None,
) -> tuple[list[sqlite3.Row], int]:
    """One page of the department's submissions, newest first (by the time received, then stored), optionally only
    those showing ``status`` (processing, completed, rejected, withdrawn) as of ``now``; and how many there are."""
    where = "department = :code" + (f" AND {_EFFECTIVE_STATUS} = :status" if status else "")
    args = {"code": code, "status": status, "now": time.time() if now is None else now}
    with connect(db_path) as conn:
        (total,) = conn.execute(f"SELECT COUNT(*) FROM submissions WHERE {where}", args).fetchone()
        rows = conn.execute(
            f"SELECT * FROM submissions WHERE {where} ORDER BY received_ts DESC, rowid DESC LIMIT :limit OFFSET :offset",
            {**args, "limit": limit, "offset": offset},
        ).fetchall()
    return rows, int(total)


def decided_ts(row: sqlite3.Row, now: float | None = None) -> float | None:
    """When the submission was decided (completed, rejected or withdrawn); None while processing."""
    state = status(row, now)
    if state == "withdrawn":
        return float(row["withdrawn_ts"])
    if state == "rejected" and row["rejected_ts"] is not None:  # sent back, or a rule's rejection settled
        return float(row["rejected_ts"])
    return None if state == "processing" else float(row["ready_ts"])


def count_submissions(db_path: str | Path, application_id: str) -> int:
    """How many submissions (any department, rejected ones included) this database holds for an application."""
    with connect(db_path) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM submissions WHERE application_id = ?", (application_id,)).fetchone()
        return int(n)


def count_live_submissions(db_path: str | Path, application_id: str) -> int:
    """How many of an application's submissions (any department) are live now: neither rejected nor withdrawn."""
    now = time.time()
    rows = select(db_path, "WHERE application_id = ?", (application_id,))
    return sum(1 for r in rows if status(r, now) in ("processing", "completed"))


def list_submissions(db_path: str | Path) -> list[dict]:
    """Every stored submission as a full record (body, result, status as of now)."""
    now = time.time()
    return [full(r, now) for r in select(db_path)]


def _settle(conn: sqlite3.Connection, code: str, application_id: str, now: float) -> None:
    """Record the rejections that rules decided and processing has since made effective."""
    conn.execute(
        f"UPDATE submissions SET rejected_reason = decision_reason, rejected_ts = ready_ts"
        f" WHERE department = ? AND application_id = ? AND {_LIVE} AND decision_reason IS NOT NULL AND ready_ts <= ?",
        (code, application_id, now),
    )


def _insert(
    conn: sqlite3.Connection, code: str, body: Submission, process_delay_s: float, decision_reason: str | None
) -> str:
    now = time.time()
    ready = now + max(0.0, process_delay_s)
    ticket = f"{code.upper()}-{datetime.fromtimestamp(now, CST):%Y%m%d}-{secrets.token_hex(5).upper()}"
    payload = body.model_dump(mode="json", exclude={"materials": {"__all__": {"data"}}})  # files: table materials
    conn.execute(
        "INSERT INTO submissions (ticket, department, application_id, uscc, payload, result,"
        " callback_url, received_at, received_ts, ready_ts, decision_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            ticket,
            code,
            body.application_id,
            body.uscc,
            json.dumps(payload, ensure_ascii=False),
            json.dumps(issue_result(code, body, ready), ensure_ascii=False),
            body.callback_url,
            iso(now),
            now,
            ready,
            decision_reason,
        ),
    )
    return ticket


def store(
    db_path: str | Path, code: str, body: Submission, process_delay_s: float, decision_reason: str | None = None
) -> tuple[sqlite3.Row, bool]:
    """Store a submission unless a live one exists for the application; returns (row, created).

    ``decision_reason``: a rejection rule applies: the new submission will be rejected with it.
    """
    with connect(db_path) as conn, immediate(conn):
        _settle(conn, code, body.application_id, time.time())
        row = conn.execute(
            f"SELECT * FROM submissions WHERE department = ? AND application_id = ? AND {_LIVE}",
            (code, body.application_id),
        ).fetchone()
        if row is not None:
            return row, False
        ticket = _insert(conn, code, body, process_delay_s, decision_reason)
        return conn.execute("SELECT * FROM submissions WHERE ticket = ?", (ticket,)).fetchone(), True


def reject(db_path: str | Path, code: str, ticket: str, reason: str) -> tuple[sqlite3.Row | None, str | None]:
    """The department sends a submission still processing back; (row, None), or the problem: not_found, conflict."""
    with connect(db_path) as conn, immediate(conn):
        row = conn.execute("SELECT * FROM submissions WHERE ticket = ? AND department = ?", (ticket, code)).fetchone()
        if row is None:
            return None, "not_found"
        if status(row) != "processing":
            return row, "conflict"
        conn.execute(
            "UPDATE submissions SET rejected_reason = ?, rejected_ts = ? WHERE ticket = ?",
            (reason, time.time(), ticket),
        )
        return conn.execute("SELECT * FROM submissions WHERE ticket = ?", (ticket,)).fetchone(), None


def decide_rejection(db_path: str | Path, code: str, application_id: str, reason: str) -> int:
    """A rule: the application's submissions still processing will be rejected (an earlier decision stands)."""
    with connect(db_path) as conn:
        cur = conn.execute(
            f"UPDATE submissions SET decision_reason = ? WHERE department = ? AND application_id = ? AND {_LIVE}"
            " AND decision_reason IS NULL AND ready_ts > ?",
            (reason, code, application_id, time.time()),
        )
        return cur.rowcount


def withdraw(db_path: str | Path, code: str, ticket: str, reason: str) -> sqlite3.Row | None:
    """Mark a submission withdrawn (idempotent: the first withdrawal's time and reason stay). A completed
    one (the department has approved it) is never withdrawn: the row comes back as it is, still completed."""
    now = time.time()
    with connect(db_path) as conn, immediate(conn):
        conn.execute(
            "UPDATE submissions SET withdrawn_ts = ?, withdrawal_reason = ?"
            " WHERE ticket = ? AND department = ? AND withdrawn_ts IS NULL"
            " AND NOT (rejected_reason IS NULL AND decision_reason IS NULL AND ready_ts <= ?)",
            (now, reason, ticket, code, now),
        )
        return conn.execute("SELECT * FROM submissions WHERE ticket = ? AND department = ?", (ticket, code)).fetchone()

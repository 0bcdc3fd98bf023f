"""The portals' SQLite store: every submission a portal received, live until rejected (退回) or withdrawn (撤回).

No uniqueness on ``application_id``: a robot that files twice leaves two rows. A rejection decided in
advance (``decision_reason``) takes effect when processing ends (``ready_ts``). Text is UTF-8 (𬱖, 䶮).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from simulators.common import CST, connect, immediate, init_schema

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
    username       TEXT,
    decision_reason   TEXT,
    withdrawn_at      TEXT,
    withdrawal_reason TEXT,
    channel           TEXT,
    callback_url      TEXT,
    decided_ts        REAL
);
CREATE INDEX IF NOT EXISTS submissions_application_id ON submissions (application_id);
CREATE INDEX IF NOT EXISTS submissions_username ON submissions (username, id);
"""
# columns added after the first release: added to an existing file by init_db
_ADDED_COLUMNS = (
    ("decision_reason", "TEXT"),
    ("withdrawn_at", "TEXT"),
    ("withdrawal_reason", "TEXT"),
    ("channel", "TEXT"),  # NULL: filed on the portal; "api": filed through the department's JSON API
    ("callback_url", "TEXT"),  # where the JSON API calls back (filings through the API only)
    ("decided_ts", "REAL"),  # when a person decided outside processing (sent back, withdrawn); NULL: by ready_ts
)

IN_REVIEW = "in_review"
COMPLETED = "completed"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
CLOSED = (REJECTED, WITHDRAWN)  # no longer live


def init_db(db_path: str | Path) -> None:
    """Create the file and schema if missing; switch the journal to WAL."""
    init_schema(db_path, SCHEMA, _ADDED_COLUMNS)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _status(row: sqlite3.Row, now: float) -> tuple[str, str | None]:
    """(status, rejection reason) as of ``now``."""
    status = row["status"]
    if status == IN_REVIEW and now >= row["ready_ts"]:  # the department finished processing
        if row["decision_reason"]:
            return REJECTED, row["decision_reason"]
        return COMPLETED, None
    return status, row["reason"] if status == REJECTED else None


def _decided_at(row: sqlite3.Row, status: str) -> str | None:
    """When the case was decided (办结时间: completed, sent back or withdrawn), ISO in Asia/Shanghai; None in review."""
    if status == IN_REVIEW:
        return None
    ts = row["decided_ts"] if row["decided_ts"] is not None else row["ready_ts"]
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


def _row(row: sqlite3.Row, now: float) -> dict[str, Any]:
    status, reason = _status(row, now)
    return {
        "id": row["id"],
        "portal": row["portal"],
        "application_id": row["application_id"],
        "receipt_no": row["receipt_no"],
        "submitted_at": row["submitted_at"],
        "status": status,
        "reason": reason,
        "withdrawn_at": row["withdrawn_at"],
        "withdrawal_reason": row["withdrawal_reason"],
        "decided_at": _decided_at(row, status),
        "channel": row["channel"] or "portal",
        "data": json.loads(row["data"]),
        # a result exists from submission on, but is only issued once processing is over
        "result": json.loads(row["result"]) if status == COMPLETED and row["result"] else None,
    }


def insert_submission(db_path: str | Path, **fields: Any) -> dict[str, Any]:
    """Record one submission (every keyword of :func:`file_submission`); returns it."""
    return file_submission(db_path, **fields)[0]


def file_submission(
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
    decision_reason: str | None = None,
    channel: str | None = None,
    callback_url: str | None = None,
    unless_live_from: tuple[str | None, ...] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record one submission; the receipt number and result are derived from its row id.

    ``decision_reason``: the department will reject it with this reason when processing ends.
    ``unless_live_from`` (channels, None for the portal): when the application already has a live
    submission filed through one of them, nothing is stored and that one is returned. Returns
    (submission, created).
    """
    with connect(db_path) as conn:
        with immediate(conn):
            if unless_live_from is not None:
                now = time.time()
                for old in conn.execute(
                    "SELECT * FROM submissions WHERE application_id = ? ORDER BY id", (application_id,)
                ).fetchall():
                    if old["channel"] in unless_live_from and _status(old, now)[0] not in CLOSED:
                        return _row(old, now), False
            cur = conn.execute(
                "INSERT INTO submissions (portal, application_id, submitted_at, submitted_ts, ready_ts,"
                " status, data, username, decision_reason, channel, callback_url)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    portal,
                    application_id,
                    submitted_at,
                    submitted_ts,
                    ready_ts,
                    IN_REVIEW,
                    _dumps(data),
                    username,
                    decision_reason,
                    channel,
                    callback_url,
                ),
            )
            row_id = int(cur.lastrowid)
            conn.execute(
                "UPDATE submissions SET receipt_no = ?, result = ? WHERE id = ?",
                (make_receipt_no(row_id), _dumps(make_result(row_id)), row_id),
            )
        row = conn.execute("SELECT * FROM submissions WHERE id = ?", (row_id,)).fetchone()
    return _row(row, time.time()), True


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


# the status a case shows as of the parameter :now (processing over: completed, or rejected as decided)
_EFFECTIVE_STATUS = (
    "CASE WHEN status = 'in_review' AND ready_ts <= :now THEN"
    " CASE WHEN decision_reason IS NOT NULL AND decision_reason != '' THEN 'rejected' ELSE 'completed' END"
    " ELSE status END"
)


def account_submissions(
    db_path: str | Path, username: str, *, offset: int, limit: int, status: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One page of the cases ``username`` filed on the portal (我的办件), newest first, optionally only those
    showing ``status`` now; and how many there are in all."""
    where = "username = :username" + (f" AND {_EFFECTIVE_STATUS} = :status" if status else "")
    args = {"username": username, "status": status, "now": time.time(), "limit": limit, "offset": offset}
    with connect(db_path) as conn:
        (total,) = conn.execute(f"SELECT COUNT(*) FROM submissions WHERE {where}", args).fetchone()
        rows = conn.execute(
            f"SELECT * FROM submissions WHERE {where} ORDER BY id DESC LIMIT :limit OFFSET :offset", args
        ).fetchall()
    return [_row(r, args["now"]) for r in rows], int(total)


def count_submissions(db_path: str | Path, application_id: str) -> int:
    with connect(db_path) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM submissions WHERE application_id = ?", (application_id,)).fetchone()
    return int(n)


def count_live_submissions(db_path: str | Path, application_id: str) -> int:
    """Submissions of ``application_id`` that are neither rejected nor withdrawn (as of now)."""
    return sum(1 for r in find_submissions(db_path, application_id=application_id) if r["status"] not in CLOSED)


def decide_rejection(db_path: str | Path, portal: str, application_id: str, reason: str) -> int:
    """Make the department reject, when processing ends, every submission of ``application_id``
    still in review (an earlier decision stands). Returns how many were marked."""
    with connect(db_path) as conn:
        cur = conn.execute(
            "UPDATE submissions SET decision_reason = ? WHERE portal = ? AND application_id = ?"
            " AND status = ? AND ready_ts > ? AND decision_reason IS NULL",
            (reason, portal, application_id, IN_REVIEW, time.time()),
        )
    return cur.rowcount


def withdraw(
    db_path: str | Path, receipt_no: str, reason: str, withdrawn_at: str, *, rejected_too: bool = False
) -> dict[str, Any] | None:
    """The applicant withdraws a case (撤回). A case in review becomes withdrawn; a withdrawn one is left
    as it is, a rejected one too unless ``rejected_too`` (the JSON API's way); a completed one (已办结: the
    department has approved it, e.g. the business licence) is never withdrawn: that is a separate legal
    procedure. Returns the case as it now stands (the caller reads a refusal from its status), or None."""
    with connect(db_path) as conn, immediate(conn):
        row = conn.execute("SELECT * FROM submissions WHERE receipt_no = ?", (receipt_no,)).fetchone()
        closed = (WITHDRAWN, COMPLETED) if rejected_too else (*CLOSED, COMPLETED)
        if row is not None and _status(row, time.time())[0] not in closed:
            conn.execute(
                "UPDATE submissions SET status = ?, withdrawn_at = ?, withdrawal_reason = ?, decided_ts = ? WHERE id = ?",
                (WITHDRAWN, withdrawn_at, reason, time.time(), row["id"]),
            )
            row = conn.execute("SELECT * FROM submissions WHERE id = ?", (row["id"],)).fetchone()
    return None if row is None else _row(row, time.time())


def set_status(db_path: str | Path, receipt_no: str, status: str, reason: str | None = None) -> bool:
    """Force a submission's status (e.g. a department sends it back for correction)."""
    with connect(db_path) as conn:
        cur = conn.execute(
            "UPDATE submissions SET status = ?, reason = ?, decided_ts = ? WHERE receipt_no = ?",
            (status, reason, None if status == IN_REVIEW else time.time(), receipt_no),
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

"""Simulated department REST APIs: tax (税务局), nhsa (医疗保障局), bank (商业银行).

These stand in for foreign systems, so this module imports nothing from our own
packages: only the standard library, FastAPI/pydantic, python-stdnum and httpx.

Protocol (the same for every department; only the body differs)
-----------------------------------------------------------------
Every ``/api/v1`` call needs ``Authorization: Bearer <token>``; otherwise
``401 {"error": "unauthorized", "reason": ...}``.

``POST /api/v1/submissions`` with header ``Idempotency-Key: <application_id>``
(optional; when present it must equal the body's ``application_id``).

- first time: ``202 {"ticket", "status": "accepted", "application_id", "department", "received_at"}``
- the same ``application_id`` again: ``200`` with the same ticket; nothing new is stored.
  (Exception: once a submission was *rejected* by the department or *withdrawn*, it is no
  longer live, and a new submission for the same application gets a new ticket.)
- invalid body: ``422 {"error": "validation_failed", "reason": "<field>: <why>"}``;
  nothing is stored.

``GET /api/v1/submissions/{ticket}`` →
``{"ticket", "application_id", "department",
"status": "processing"|"completed"|"rejected"|"withdrawn", "result": {...}|null,
"reason": null|str, "received_at", "withdrawn_at": null|str}``. A submission is
``completed`` once ``process_delay_s`` has passed since receipt (zero: at once), or
``rejected`` then when a rejection rule applies to it (see Admin). ``reason`` is the
rejection's or the withdrawal's. Unknown ticket: ``404 {"error": "not_found", "reason": ...}``.

``POST /api/v1/submissions/{ticket}/withdrawal`` ``{"reason": "..."}`` → the applicant
withdraws (撤回): ``200`` with the submission, status ``withdrawn``; idempotent (a
submission already withdrawn answers the same, keeping the first reason); a completed or
rejected submission is marked withdrawn too. A missing reason: ``422``. Unknown ticket: ``404``.

``GET /api/v1/submissions?application_id=...`` → a JSON list of the above.

Bodies (all: ``application_id`` ``^[A-Za-z0-9-]{6,64}$``, ``uscc`` with a valid
GB 32100 check character, optional ``callback_url``; persons are
``{"name", "id_number"?, "mobile"?}``; unknown fields are refused):

- tax:  ``{application_id, uscc, company_name, division_code, address,
  legal_representative, financial_officer, tax_officer,
  invoice_types: ["digital_general"|"digital_special"...],
  expected_monthly_invoice_amount_wan_yuan: "50", callback_url?}``
  → result ``{taxpayer_id (= uscc), tax_authority, invoice_types}``
- nhsa: ``{application_id, uscc, company_name, division_code, address,
  legal_representative, liaison, employees_expected: int, callback_url?}``
  → result ``{mi_unit_code}``
- bank: ``{application_id, uscc, company_name, division_code, address,
  account_type: "basic", bank_code, branch_name, legal_representative,
  financial_officer, seal_codes: {seal_type: code, ...} (at least one),
  requested_seal_types: [...], callback_url?}``; when ``"financial"`` is among
  ``requested_seal_types`` its code must be in ``seal_codes``
  → result ``{account_no, bank_code, opened_at (ISO 8601, +08:00)}``

Callbacks: when a body carries ``callback_url``, the simulator POSTs the same JSON
as ``GET /api/v1/submissions/{ticket}`` there once the submission is completed (or
rejected by the admin endpoint), with header ``X-Department: <code>``; timeout 3 s,
failures ignored.

Admin (no auth, for tests and the demo):

- ``GET /_admin/submissions?application_id=...`` → a list of full records, body included.
- ``POST /_admin/submissions/{ticket}/reject`` ``{"reason": "..."}`` → the department
  asks for correction (需补正): only while the submission is still processing (else 409).
- ``POST /_admin/rejections`` ``{"application_id", "reason"}`` → a rejection rule: the
  application's submissions still processing, and every one received until the rule is
  deleted, are rejected with that reason when processing ends. ``GET /_admin/rejections``
  lists the rules; ``DELETE /_admin/rejections/{application_id}`` ends one (a corrected
  re-submission is then accepted; submissions received before stay rejected).
  ``create_department_api_app(reject_application_ids={...})`` sets rules at start.

Storage: SQLite (stdlib ``sqlite3``, WAL). ``count_submissions``,
``count_live_submissions`` and ``list_submissions`` read it directly. Text is stored as UTF-8, so names with
characters outside the BMP (𬱖, 䶮) round-trip unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from stdnum.cn import uscc as stdnum_uscc

DEPARTMENTS = ("tax", "nhsa", "bank")
DEFAULT_REJECTION_REASON = "材料不全，请补正 (materials incomplete, please correct)"
CST = timezone(timedelta(hours=8), name="Asia/Shanghai")
CALLBACK_TIMEOUT_S = 3.0

_USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_APP_ID_RE = r"^[A-Za-z0-9-]{6,64}$"


# ---------------------------------------------------------------------------
# request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(_Body):
    name: str = Field(min_length=1, max_length=50)
    id_number: str | None = None
    mobile: str | None = None


class _Submission(_Body):
    application_id: str = Field(pattern=_APP_ID_RE)
    uscc: str
    company_name: str = Field(min_length=1, max_length=100)
    division_code: str = Field(pattern=r"^\d{6}$")
    address: str = Field(min_length=1, max_length=200)
    legal_representative: PersonIn
    callback_url: str | None = Field(default=None, pattern=r"^https?://")

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, v: str) -> str:
        if not _USCC_RE.match(v) or not stdnum_uscc.is_valid(v):
            raise ValueError(
                f"统一社会信用代码校验位错误 (invalid unified social credit code {v!r}: "
                "GB 32100 check character does not match)"
            )
        return v


class TaxSubmission(_Submission):
    financial_officer: PersonIn
    tax_officer: PersonIn
    invoice_types: list[Literal["digital_general", "digital_special"]] = Field(default_factory=list)
    expected_monthly_invoice_amount_wan_yuan: str

    @field_validator("expected_monthly_invoice_amount_wan_yuan")
    @classmethod
    def _decimal(cls, v: str) -> str:
        try:
            d = Decimal(v)
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {v!r}") from None
        if not d.is_finite() or d < 0:
            raise ValueError(f"amount must be a non-negative decimal: {v!r}")
        return v


class NhsaSubmission(_Submission):
    liaison: PersonIn
    employees_expected: int = Field(ge=0)


class BankSubmission(_Submission):
    account_type: Literal["basic"] = "basic"
    bank_code: str = Field(min_length=2, max_length=16)
    branch_name: str = Field(min_length=1, max_length=100)
    financial_officer: PersonIn
    seal_codes: dict[str, str] = Field(default_factory=dict)
    requested_seal_types: list[str] = Field(default_factory=list)

    @field_validator("seal_codes")
    @classmethod
    def _seals(cls, v: dict[str, str]) -> dict[str, str]:
        codes = {k: c.strip() for k, c in v.items() if isinstance(c, str) and c.strip()}
        if not codes:
            raise ValueError("缺少印章备案编码 (at least one seal code from the seal engraving filing is required)")
        return codes

    def check_financial_seal(self) -> str | None:
        if "financial" in self.requested_seal_types and "financial" not in self.seal_codes:
            return (
                "seal_codes: 缺少财务专用章备案编码 (the financial seal was requested but its filing code is missing)"
            )
        return None


BODY_MODELS: dict[str, type[_Submission]] = {
    "tax": TaxSubmission,
    "nhsa": NhsaSubmission,
    "bank": BankSubmission,
}


# ---------------------------------------------------------------------------
# results

_PROVINCES = {"11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "31": "上海市", "44": "广东省"}
_CITIES = {"1401": "太原市", "1402": "大同市", "1404": "长治市", "1407": "晋中市", "1408": "运城市"}
_COUNTIES = {
    "140105": "小店区",
    "140106": "迎泽区",
    "140107": "杏花岭区",
    "140108": "尖草坪区",
    "140109": "万柏林区",
    "140110": "晋源区",
    "140121": "清徐县",
    "140122": "阳曲县",
    "140123": "娄烦县",
    "140181": "古交市",
}


def tax_authority_for(division_code: str) -> str:
    """The competent tax office for an administrative division (a small built-in table)."""
    county = _COUNTIES.get(division_code)
    city = _CITIES.get(division_code[:4])
    province = _PROVINCES.get(division_code[:2])
    if county and city:
        return f"国家税务总局{city}{county}税务局"
    if city:
        return f"国家税务总局{city}税务局"
    if province:
        return f"国家税务总局{province}税务局"
    return f"国家税务总局{division_code}税务局"


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode("utf-8")).hexdigest(), 16) % 10**n).zfill(n)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


def _result(code: str, body: _Submission, ready_ts: float) -> dict[str, Any]:
    if isinstance(body, TaxSubmission):
        approved = list(dict.fromkeys(body.invoice_types))
        return {
            "taxpayer_id": body.uscc,
            "tax_authority": tax_authority_for(body.division_code),
            "invoice_types": approved,
        }
    if isinstance(body, NhsaSubmission):
        return {"mi_unit_code": body.division_code + _digits("nhsa:" + body.uscc, 8)}
    if isinstance(body, BankSubmission):
        return {
            "account_no": _digits(f"bank:{body.bank_code}:{body.uscc}", 19),
            "bank_code": body.bank_code,
            "opened_at": _iso(ready_ts),
        }
    raise ValueError(f"unsupported department {code!r}")


# ---------------------------------------------------------------------------
# storage

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


def _connect(db_path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db_path), timeout=10.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def init_db(db_path: str | Path) -> None:
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(db_path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        have = {r["name"] for r in conn.execute("PRAGMA table_info(submissions)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in have:
                conn.execute(f"ALTER TABLE submissions ADD COLUMN {name} {kind}")
        conn.executescript(_LIVE_INDEX)
    finally:
        conn.close()


def _status(row: sqlite3.Row, now: float | None = None) -> str:
    if row["withdrawn_ts"] is not None:
        return "withdrawn"
    if row["rejected_reason"] is not None:
        return "rejected"
    now = time.time() if now is None else now
    if now < row["ready_ts"]:
        return "processing"
    return "rejected" if row["decision_reason"] is not None else "completed"


def _public(row: sqlite3.Row, now: float | None = None) -> dict[str, Any]:
    status = _status(row, now)
    reason = None
    if status == "rejected":
        reason = row["rejected_reason"] if row["rejected_reason"] is not None else row["decision_reason"]
    elif status == "withdrawn":
        reason = row["withdrawal_reason"]
    return {
        "ticket": row["ticket"],
        "application_id": row["application_id"],
        "department": row["department"],
        "status": status,
        "result": json.loads(row["result"]) if status == "completed" else None,
        "reason": reason,
        "received_at": row["received_at"],
        "withdrawn_at": _iso(row["withdrawn_ts"]) if row["withdrawn_ts"] is not None else None,
    }


def _full(row: sqlite3.Row, now: float | None = None) -> dict[str, Any]:
    out = _public(row, now)
    out.update(
        uscc=row["uscc"],
        callback_url=row["callback_url"],
        payload=json.loads(row["payload"]),
        stored_result=json.loads(row["result"]),
        ready_at=_iso(row["ready_ts"]),
    )
    return out


def _select(db_path: str | Path, where: str = "", params: tuple = ()) -> list[sqlite3.Row]:
    conn = _connect(db_path)
    try:
        return conn.execute(f"SELECT * FROM submissions {where} ORDER BY received_ts, ticket", params).fetchall()
    finally:
        conn.close()


def count_submissions(db_path: str | Path, application_id: str) -> int:
    """How many submissions (any department, rejected ones included) this database holds for an application."""
    conn = _connect(db_path)
    try:
        (n,) = conn.execute("SELECT COUNT(*) FROM submissions WHERE application_id = ?", (application_id,)).fetchone()
        return int(n)
    finally:
        conn.close()


def count_live_submissions(db_path: str | Path, application_id: str) -> int:
    """How many of an application's submissions (any department) are live now: neither rejected nor withdrawn."""
    now = time.time()
    rows = _select(db_path, "WHERE application_id = ?", (application_id,))
    return sum(1 for r in rows if _status(r, now) in ("processing", "completed"))


def list_submissions(db_path: str | Path) -> list[dict]:
    """Every stored submission as a full record (body, result, status as of now)."""
    now = time.time()
    return [_full(r, now) for r in _select(db_path)]


def _settle(conn: sqlite3.Connection, code: str, application_id: str, now: float) -> None:
    """Record the rejections that rules decided and processing has since made effective."""
    conn.execute(
        f"UPDATE submissions SET rejected_reason = decision_reason, rejected_ts = ready_ts"
        f" WHERE department = ? AND application_id = ? AND {_LIVE} AND decision_reason IS NOT NULL AND ready_ts <= ?",
        (code, application_id, now),
    )


def _store(
    db_path: str | Path, code: str, body: _Submission, process_delay_s: float, decision_reason: str | None = None
) -> tuple[sqlite3.Row, bool]:
    """Store a submission unless a live one exists for the application; returns (row, created).

    ``decision_reason``: a rejection rule applies: the new submission will be rejected with it.
    """
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            _settle(conn, code, body.application_id, time.time())
            row = conn.execute(
                f"SELECT * FROM submissions WHERE department = ? AND application_id = ? AND {_LIVE}",
                (code, body.application_id),
            ).fetchone()
            if row is not None:
                conn.execute("COMMIT")
                return row, False
            now = time.time()
            ready = now + max(0.0, process_delay_s)
            ticket = f"{code.upper()}-{datetime.fromtimestamp(now, CST):%Y%m%d}-{secrets.token_hex(5).upper()}"
            payload = body.model_dump(mode="json")
            conn.execute(
                "INSERT INTO submissions (ticket, department, application_id, uscc, payload, result,"
                " callback_url, received_at, received_ts, ready_ts, decision_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ticket,
                    code,
                    body.application_id,
                    body.uscc,
                    json.dumps(payload, ensure_ascii=False),
                    json.dumps(_result(code, body, ready), ensure_ascii=False),
                    body.callback_url,
                    _iso(now),
                    now,
                    ready,
                    decision_reason,
                ),
            )
            row = conn.execute("SELECT * FROM submissions WHERE ticket = ?", (ticket,)).fetchone()
            conn.execute("COMMIT")
            return row, True
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _reject(db_path: str | Path, code: str, ticket: str, reason: str) -> tuple[sqlite3.Row | None, str | None]:
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT * FROM submissions WHERE ticket = ? AND department = ?", (ticket, code)
            ).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None, "not_found"
            if _status(row) != "processing":
                conn.execute("COMMIT")
                return row, "conflict"
            conn.execute(
                "UPDATE submissions SET rejected_reason = ?, rejected_ts = ? WHERE ticket = ?",
                (reason, time.time(), ticket),
            )
            row = conn.execute("SELECT * FROM submissions WHERE ticket = ?", (ticket,)).fetchone()
            conn.execute("COMMIT")
            return row, None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _decide_rejection(db_path: str | Path, code: str, application_id: str, reason: str) -> int:
    """A rule: the application's submissions still processing will be rejected (an earlier decision stands)."""
    conn = _connect(db_path)
    try:
        cur = conn.execute(
            f"UPDATE submissions SET decision_reason = ? WHERE department = ? AND application_id = ? AND {_LIVE}"
            " AND decision_reason IS NULL AND ready_ts > ?",
            (reason, code, application_id, time.time()),
        )
        return cur.rowcount
    finally:
        conn.close()


def _withdraw(db_path: str | Path, code: str, ticket: str, reason: str) -> sqlite3.Row | None:
    """Mark a submission withdrawn (idempotent: the first withdrawal's time and reason stay)."""
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "UPDATE submissions SET withdrawn_ts = ?, withdrawal_reason = ?"
                " WHERE ticket = ? AND department = ? AND withdrawn_ts IS NULL",
                (time.time(), reason, ticket, code),
            )
            row = conn.execute(
                "SELECT * FROM submissions WHERE ticket = ? AND department = ?", (ticket, code)
            ).fetchone()
            conn.execute("COMMIT")
            return row
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# the app


def _error(status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status, headers=headers)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        msg = err.get("msg", "invalid")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def create_department_api_app(
    code: str,
    *,
    db_path: str | Path,
    token: str,
    process_delay_s: float = 0.0,
    reject_application_ids: Mapping[str, str] | None = None,
) -> FastAPI:
    """A FastAPI app simulating the REST API of department ``code`` (tax, nhsa or bank).

    ``reject_application_ids`` (application id -> reason): rejection rules in force from the
    start, as if posted to ``/_admin/rejections``.
    """
    if code not in BODY_MODELS:
        raise ValueError(f"no API simulator for department {code!r}; known: {', '.join(DEPARTMENTS)}")
    if not token:
        raise ValueError("token must not be empty")
    body_model = BODY_MODELS[code]
    db_path = Path(db_path)
    init_db(db_path)
    pending: set[asyncio.Task] = set()
    rejection_rules: dict[str, str] = {}
    for application_id, reason in (reject_application_ids or {}).items():
        rejection_rules[str(application_id)] = str(reason) or DEFAULT_REJECTION_REASON
        _decide_rejection(db_path, code, str(application_id), rejection_rules[str(application_id)])

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for task in list(pending):
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    app = FastAPI(title=f"{code} department API (simulator)", lifespan=lifespan)
    app.state.department = code
    app.state.db_path = db_path
    app.state.rejection_rules = rejection_rules

    def _authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode(), token.encode())

    def _unauthorized() -> JSONResponse:
        return _error(401, "unauthorized", "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})

    async def _post_callback(ticket: str, delay: float, expect: tuple[str, ...]) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            rows = await asyncio.to_thread(_select, db_path, "WHERE ticket = ?", (ticket,))
            if not rows or not rows[0]["callback_url"] or _status(rows[0]) not in expect:
                return
            row = rows[0]
            async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as client:
                await client.post(
                    row["callback_url"],
                    json=_public(row),
                    headers={"X-Department": code, "Authorization": f"Bearer {token}"},  # the shared account secret
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # a callback is best effort: the inquiry endpoint stays authoritative
            pass

    def _schedule_callback(ticket: str, delay: float, expect: tuple[str, ...]) -> None:
        task = asyncio.get_running_loop().create_task(_post_callback(ticket, delay, expect))
        pending.add(task)
        task.add_done_callback(pending.discard)

    @app.post("/api/v1/submissions")
    async def submit(request: Request) -> JSONResponse:
        if not _authorized(request):
            return _unauthorized()
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error(422, "validation_failed", "body: not valid JSON")
        if not isinstance(data, dict):
            return _error(422, "validation_failed", "body: a JSON object is expected")
        try:
            body = body_model.model_validate(data)
        except ValidationError as exc:
            return _error(422, "validation_failed", _reason(exc))
        if isinstance(body, BankSubmission) and (problem := body.check_financial_seal()):
            return _error(422, "validation_failed", problem)
        key = request.headers.get("idempotency-key")
        if key is not None and key.strip() != body.application_id:
            return _error(
                422,
                "validation_failed",
                f"Idempotency-Key {key!r} does not match application_id {body.application_id!r}",
            )
        row, created = await asyncio.to_thread(
            _store, db_path, code, body, process_delay_s, rejection_rules.get(body.application_id)
        )
        if created and row["callback_url"]:
            # once processed: completed, or rejected by a rule (possibly one set in the meantime)
            delay = max(0.0, row["ready_ts"] - time.time()) + 0.02
            _schedule_callback(row["ticket"], delay, ("completed", "rejected"))
        return JSONResponse(
            {
                "ticket": row["ticket"],
                "status": "accepted",
                "application_id": row["application_id"],
                "department": code,
                "received_at": row["received_at"],
            },
            status_code=202 if created else 200,
        )

    @app.get("/api/v1/submissions")
    async def search(request: Request, application_id: str | None = None) -> JSONResponse:
        if not _authorized(request):
            return _unauthorized()
        if application_id is None:
            rows = await asyncio.to_thread(_select, db_path, "WHERE department = ?", (code,))
        else:
            rows = await asyncio.to_thread(
                _select, db_path, "WHERE department = ? AND application_id = ?", (code, application_id)
            )
        now = time.time()
        return JSONResponse([_public(r, now) for r in rows])

    @app.get("/api/v1/submissions/{ticket}")
    async def inquire(request: Request, ticket: str) -> JSONResponse:
        if not _authorized(request):
            return _unauthorized()
        rows = await asyncio.to_thread(_select, db_path, "WHERE department = ? AND ticket = ?", (code, ticket))
        if not rows:
            return _error(404, "not_found", f"unknown ticket {ticket!r}")
        return JSONResponse(_public(rows[0]))

    @app.get("/_admin/submissions")
    async def admin_list(application_id: str | None = None) -> JSONResponse:
        if application_id is None:
            rows = await asyncio.to_thread(_select, db_path)
        else:
            rows = await asyncio.to_thread(_select, db_path, "WHERE application_id = ?", (application_id,))
        now = time.time()
        return JSONResponse([_full(r, now) for r in rows])

    @app.post("/_admin/submissions/{ticket}/reject")
    async def admin_reject(ticket: str, request: Request) -> JSONResponse:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            data = {}
        reason = str(data.get("reason") or "材料不全，请补正 (materials incomplete, please correct)")
        row, problem = await asyncio.to_thread(_reject, db_path, code, ticket, reason)
        if problem == "not_found":
            return _error(404, "not_found", f"unknown ticket {ticket!r}")
        if problem == "conflict":
            return _error(409, "conflict", f"ticket {ticket!r} is already {_status(row)}")
        if row["callback_url"]:
            _schedule_callback(ticket, 0.0, ("rejected",))
        return JSONResponse(_public(row))

    @app.post("/api/v1/submissions/{ticket}/withdrawal")
    async def withdraw(request: Request, ticket: str) -> JSONResponse:
        if not _authorized(request):
            return _unauthorized()
        try:
            data = json.loads(await request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(422, "validation_failed", "body: not valid JSON")
        reason = data.get("reason") if isinstance(data, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            return _error(422, "validation_failed", "reason: a withdrawal needs a reason (撤回原因)")
        row = await asyncio.to_thread(_withdraw, db_path, code, ticket, reason.strip()[:500])
        if row is None:
            return _error(404, "not_found", f"unknown ticket {ticket!r}")
        return JSONResponse(_public(row))

    @app.get("/_admin/rejections")
    async def admin_rejection_rules() -> JSONResponse:
        return JSONResponse(rejection_rules)

    @app.post("/_admin/rejections")
    async def admin_add_rejection_rule(request: Request) -> JSONResponse:
        try:
            data = json.loads(await request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = None
        application_id = str(data.get("application_id") or "").strip() if isinstance(data, dict) else ""
        if not application_id:
            return _error(422, "validation_failed", "application_id: required")
        reason = str(data.get("reason") or "").strip() or DEFAULT_REJECTION_REASON
        rejection_rules[application_id] = reason
        marked = await asyncio.to_thread(_decide_rejection, db_path, code, application_id, reason)
        return JSONResponse({"application_id": application_id, "reason": reason, "processing_marked": marked})

    @app.delete("/_admin/rejections/{application_id}")
    async def admin_remove_rejection_rule(application_id: str) -> JSONResponse:
        removed = rejection_rules.pop(application_id, None) is not None
        return JSONResponse({"application_id": application_id, "removed": removed})

    return app

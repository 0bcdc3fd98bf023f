"""The legacy portal of an API department (tax, nhsa, bank), filing into the API's own store.

The wizard's stored form becomes the API's body (the same model judges it, the same issuer issues the
result); the store keeps one live filing per application, so a case filed through the API is the one
the portal shows, and the other way round (the ticket is the receipt number).
"""

from __future__ import annotations

import json
import time
from typing import Any

from simulators.common import iso
from simulators.department.specs import BANK_SEALS
from simulators.department_api import store as api_store
from simulators.department_api.state import Department
from simulators.portal import store as portal_store

_PORTAL_STATUS = {
    "processing": portal_store.IN_REVIEW,
    "completed": portal_store.COMPLETED,
    "rejected": portal_store.REJECTED,
    "withdrawn": portal_store.WITHDRAWN,
}

_API_STATUS = {portal: api for api, portal in _PORTAL_STATUS.items()}


def _person(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = {"name": data.get(f"{prefix}_name", "")}
    for key in ("id_number", "mobile"):
        if data.get(f"{prefix}_{key}"):
            out[key] = data[f"{prefix}_{key}"]
    return out


def as_body(code: str, data: dict[str, Any]) -> dict[str, Any]:
    """A portal's stored form as the department API's body."""
    body: dict[str, Any] = {
        "application_id": data["external_ref"],
        "uscc": data["uscc"],
        "company_name": data["company_name"],
        "division_code": data["division_code"],
        "address": data["address"],
        "legal_representative": _person(data, "legal_rep"),
    }
    if code == "tax":
        body.update(
            financial_officer=_person(data, "financial_officer"),
            tax_officer=_person(data, "tax_officer"),
            invoice_types=list(data.get("invoice_types") or []),
            expected_monthly_invoice_amount_wan_yuan=data["expected_amount"],
        )
    elif code == "nhsa":
        body.update(liaison=_person(data, "liaison"), employees_expected=int(data["employees_expected"]))
    elif code == "bank":
        seals = {t: data[f"seal_{t}"] for t, _ in BANK_SEALS if data.get(f"seal_{t}")}
        body.update(
            account_type=data["account_type"],
            bank_code=data["bank_code"],
            branch_name=data["branch_name"],
            financial_officer=_person(data, "financial_officer"),
            seal_codes=seals,
            requested_seal_types=list(seals),
        )
    return body


def as_record(row: Any, now: float | None = None) -> dict[str, Any]:
    """A stored API submission as the portal shows a case (its status as of ``now``)."""
    now = time.time() if now is None else now
    status = _PORTAL_STATUS[api_store.status(row, now)]
    public = api_store.public(row, now)
    decided = api_store.decided_ts(row, now)
    return {
        "id": None,
        "portal": row["department"],
        "application_id": row["application_id"],
        "receipt_no": row["ticket"],
        "submitted_at": row["received_at"],
        "status": status,
        "reason": public["reason"] if status == portal_store.REJECTED else None,
        "withdrawn_at": iso(row["withdrawn_ts"]) if row["withdrawn_ts"] is not None else None,
        "withdrawal_reason": row["withdrawal_reason"],
        "decided_at": iso(decided) if decided is not None else None,
        "data": json.loads(row["payload"]),
        "result": public["result"],
    }


class ApiBackedPortal:
    """``simulators.portal.filings.Filings`` over a department API's store."""

    def __init__(self, department: Department) -> None:
        self.department = department
        self.db_path, self.code = department.db_path, department.code

    def file(
        self, data: dict[str, Any], *, username: str, decision: str | None, process_delay_s: float
    ) -> dict[str, Any]:
        body = self.department.body_model.model_validate(as_body(self.code, data))
        row, _created = api_store.store(self.db_path, self.code, body, process_delay_s, decision)  # type: ignore[arg-type]
        return as_record(row)

    def find(self, *, application_id: str | None = None, receipt_no: str | None = None) -> list[dict[str, Any]]:
        where, params = "WHERE department = ?", [self.code]
        if application_id is not None:
            where, params = where + " AND application_id = ?", [*params, application_id]
        if receipt_no is not None:
            where, params = where + " AND ticket = ?", [*params, receipt_no]
        return [as_record(r) for r in api_store.select(self.db_path, where, tuple(params))]

    def withdraw(self, receipt_no: str, reason: str) -> dict[str, Any] | None:
        rows = api_store.select(self.db_path, "WHERE department = ? AND ticket = ?", (self.code, receipt_no))
        if not rows:
            return None
        # a closed case stays as it is; a completed (approved) one too: the portal refuses its withdrawal
        if api_store.status(rows[0], time.time()) in ("rejected", "withdrawn", "completed"):
            return as_record(rows[0])
        row = api_store.withdraw(self.db_path, self.code, receipt_no, reason)
        return None if row is None else as_record(row)

    def decide_rejection(self, application_id: str, reason: str) -> int:
        return api_store.decide_rejection(self.db_path, self.code, application_id, reason)

    def account_page(
        self, username: str, *, offset: int, limit: int, status: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """我的办件 of the portal's account. The department has one portal account (its login is the only one),
        and that account is the department's only one: every filing in its store, through the portal or
        through the API, belongs to it and is listed, whichever ``username`` logged in."""
        now = time.time()
        wanted = None if status is None else _API_STATUS[status]
        rows, total = api_store.department_page(
            self.db_path, self.code, offset=offset, limit=limit, status=wanted, now=now
        )
        return [as_record(r, now) for r in rows], total

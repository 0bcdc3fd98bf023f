"""The JSON API of a portal department (amr, psb_seal, hrss, hpf), filing into the portal's own store.

A body becomes the portal's draft (``bodies``), is judged by the portal's checks and stored as the
wizard would store it (``channel = "api"``), with the result the portal's issuer gives (amr's USCC
with its GB 32100 check character...). One filing per application: a live case of the application,
filed on the portal or through the API, is the same filing (``200`` with its ticket, the receipt number).
"""

from __future__ import annotations

from typing import Any

from simulators.department.bodies import BODIES, SEAL_CODES
from simulators.department_api.filings import Filed
from simulators.portal import store as portal_store
from simulators.portal.filings import API, PortalStore
from simulators.portal.forms import structured, validate_step
from simulators.portal.state import Portal

_API_STATUS = {
    portal_store.IN_REVIEW: "processing",
    portal_store.COMPLETED: "completed",
    portal_store.REJECTED: "rejected",
    portal_store.WITHDRAWN: "withdrawn",
}
_SEAL_NAMES = {portal: api for api, portal in SEAL_CODES.items()}


def api_result(code: str, result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A portal's result in the API's words (psb_seal's seal codes keyed ``official``, ``financial``...)."""
    if result is None or code != "psb_seal":
        return result
    return {"seal_codes": {_SEAL_NAMES.get(k, k): v for k, v in result["seal_codes"].items()}}


def as_submission(code: str, record: dict[str, Any]) -> dict[str, Any]:
    """A portal case as ``GET /api/v1/submissions/{ticket}`` answers it."""
    status = _API_STATUS[record["status"]]
    reason = (
        record["reason"] if status == "rejected" else record["withdrawal_reason"] if status == "withdrawn" else None
    )
    return {
        "ticket": record["receipt_no"],
        "application_id": record["application_id"],
        "department": code,
        "status": status,
        "result": api_result(code, record["result"]) if status == "completed" else None,
        "reason": reason,
        "received_at": record["submitted_at"],
        "withdrawn_at": record["withdrawn_at"] if status == "withdrawn" else None,
    }


class PortalBackedApi:
    """``simulators.department_api.filings.Filings`` over a portal's store."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.code = portal.spec.code
        self.store = PortalStore(portal.db_path, portal.spec)
        self.to_draft = BODIES[self.code][1]

    def check(self, body: Any) -> str | None:
        draft = self.to_draft(body)
        errors: dict[str, str] = {}
        for step in self.portal.spec.steps:
            for name, message in validate_step(step, draft, draft).items():
                errors.setdefault(name, message)
        return "; ".join(f"{name}: {message}" for name, message in errors.items()) or None

    def submit(self, body: Any, process_delay_s: float, rule: str | None) -> Filed:
        spec = self.portal.spec
        data = structured(spec, self.to_draft(body))
        decision = rule or (spec.review(data) if spec.review else None)
        record, created = self.store.file_once(
            data,
            username=None,
            decision=decision,
            process_delay_s=self.portal.behaviour.process_delay_s,
            channel=API,
            callback_url=body.callback_url,
            unless_live_from=(None, API),
        )
        raw = self.store.raw(record["receipt_no"]) or {}
        return Filed(
            as_submission(self.code, record), created, float(raw.get("ready_ts") or 0), raw.get("callback_url")
        )

    def get(self, ticket: str) -> dict[str, Any] | None:
        rows = self.store.find(receipt_no=ticket)
        return as_submission(self.code, rows[0]) if rows else None

    def search(self, application_id: str | None) -> list[dict[str, Any]]:
        return [as_submission(self.code, r) for r in self.store.find(application_id=application_id)]

    def withdraw(self, ticket: str, reason: str) -> dict[str, Any] | None:
        record = self.store.withdraw(ticket, reason, rejected_too=True)
        return None if record is None else as_submission(self.code, record)

    def callback_target(self, ticket: str) -> tuple[dict[str, Any], str | None] | None:
        rows = self.store.find(receipt_no=ticket)
        if not rows:
            return None
        raw = self.store.raw(ticket) or {}
        return as_submission(self.code, rows[0]), raw.get("callback_url")

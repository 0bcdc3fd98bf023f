"""HTTP client for the departments' REST APIs (every department has one; bodies: ``activities.payloads``).

Pure httpx; no temporalio here: the activity that wraps this client turns the
exceptions below into retryable / non-retryable failures.

- ``DepartmentUnavailable``: retryable (connect errors, timeouts, 5xx, 408, 429,
  a malformed answer).
- ``DepartmentRejected``: non-retryable business outcome (4xx validation); ``.reason``
  holds the department's words.
- ``DepartmentAuthError``: non-retryable (401/403).
- ``WithdrawalRefused``: non-retryable business outcome of a withdrawal: the department has
  completed (approved) the submission and will not withdraw it (409); ``.reason`` says why.

``submit`` files a task, ``inquire`` asks what became of it, ``withdraw`` withdraws it (撤回).

The wire protocol is documented in ``simulators/README.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from activities.payloads import build_payload
from domain.requests import DepartmentRequest
from domain.results import Inquiry, Receipt, inquiry_status, validate_result
from runtime.http import retry_after_s

SUBMISSIONS_PATH = "/api/v1/submissions"
__all__ = [
    "DepartmentApiClient",
    "DepartmentAuthError",
    "DepartmentError",
    "DepartmentProtocolError",
    "DepartmentRejected",
    "DepartmentUnavailable",
    "WithdrawalRefused",
    "build_payload",
]


class DepartmentError(Exception):
    """Base of the client's errors; ``department``, ``reason`` and ``status_code`` are attributes."""

    def __init__(
        self,
        message: str,
        *,
        department: str | None = None,
        reason: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.department = department
        self.reason = reason if reason is not None else message
        self.status_code = status_code

    def __reduce__(self):  # keep attributes across pickling (keyword-only args are not in self.args)
        return (type(self), self.args, self.__dict__)


class DepartmentUnavailable(DepartmentError):
    """Retryable: the department could not be reached or answered 5xx/408/429."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


class DepartmentProtocolError(DepartmentUnavailable):
    """The department answered something this client cannot read (retryable: may be transient)."""


class DepartmentRejected(DepartmentError):
    """Non-retryable business outcome: the department refused the submission; see ``.reason``."""


class DepartmentAuthError(DepartmentError):
    """Non-retryable: the department refused our credentials (401/403)."""


class WithdrawalRefused(DepartmentError):
    """Non-retryable: the department will not withdraw a submission it has completed (approved); ``.reason``."""


# ---------------------------------------------------------------------------
# client


def _error_reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("reason", "detail", "message", "error"):
            value = data.get(key)
            if value:
                return value if isinstance(value, str) else str(value)
    text = response.text.strip()
    return text[:500] if text else (response.reason_phrase or f"HTTP {response.status_code}")


class DepartmentApiClient:
    """One department's REST API. Reusable: one pooled ``httpx.AsyncClient`` for every call.

    ``department`` (optional) names the department for messages and result
    validation of inquiries; otherwise it is learnt from ``submit`` or from the
    department's answer.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        department: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.department = department
        self._token = token
        self._timeout = httpx.Timeout(timeout)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=self._timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=False,
        )

    async def __aenter__(self) -> DepartmentApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _label(self, department: str | None = None) -> str:
        return department or self.department or f"department at {self.base_url}"

    async def _call(self, method: str, path: str, dept: str | None, **kwargs: Any) -> httpx.Response:
        label = self._label(dept)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        url = self.base_url + path
        try:
            response = await self._client.request(method, url, headers=headers, timeout=self._timeout, **kwargs)
        except httpx.TimeoutException as exc:
            raise DepartmentUnavailable(
                f"{label}: timed out on {method} {url}: {type(exc).__name__}", department=dept
            ) from exc
        except httpx.TransportError as exc:
            raise DepartmentUnavailable(
                f"{label}: cannot reach {method} {url}: {type(exc).__name__}: {exc}", department=dept
            ) from exc
        status = response.status_code
        if status < 300:
            return response
        reason = _error_reason(response)
        if status in (401, 403):
            raise DepartmentAuthError(
                f"{label}: credentials refused (HTTP {status}) on {method} {url}: {reason}",
                department=dept,
                reason=reason,
                status_code=status,
            )
        if status in (408, 429) or status >= 500:
            raise DepartmentUnavailable(
                f"{label}: temporarily unavailable (HTTP {status}) on {method} {url}: {reason}",
                department=dept,
                reason=reason,
                status_code=status,
                retry_after_s=retry_after_s(response.headers.get("retry-after")),
            )
        if 400 <= status < 500:
            raise DepartmentRejected(
                f"{label}: rejected (HTTP {status}) on {method} {url}: {reason}",
                department=dept,
                reason=reason,
                status_code=status,
            )
        raise DepartmentProtocolError(
            f"{label}: unexpected HTTP {status} on {method} {url}", department=dept, status_code=status
        )

    def _json(self, response: httpx.Response, dept: str | None) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            raise DepartmentProtocolError(
                f"{self._label(dept)}: answer is not JSON (HTTP {response.status_code})", department=dept
            ) from exc
        if not isinstance(data, dict):
            raise DepartmentProtocolError(f"{self._label(dept)}: answer is not a JSON object", department=dept)
        return data

    async def submit(
        self, request: DepartmentRequest, callback_url: str | None = None, materials: list[dict] | None = None
    ) -> Receipt:
        """File the task; idempotent by ``application_id`` (a repeat returns the same receipt). ``materials``:
        the files the department receives (``activities.material_files.api_materials_for``), sent as they are."""
        dept = request.department
        if self.department is None:
            self.department = dept
        payload = build_payload(request)
        if callback_url:
            payload["callback_url"] = callback_url
        if materials:
            payload["materials"] = materials
        response = await self._call(
            "POST",
            SUBMISSIONS_PATH,
            dept,
            json=payload,
            headers={"Idempotency-Key": request.application_id},
        )
        data = self._json(response, dept)
        ticket = data.get("ticket")
        if not isinstance(ticket, str) or not ticket:
            raise DepartmentProtocolError(f"{dept}: submission answer carries no ticket: {data!r}", department=dept)
        if data.get("application_id") not in (None, request.application_id):
            raise DepartmentProtocolError(
                f"{dept}: submission answer is for application {data.get('application_id')!r}, "
                f"not {request.application_id!r}",
                department=dept,
            )
        submitted_at = None
        if isinstance(data.get("received_at"), str):
            try:
                submitted_at = datetime.fromisoformat(data["received_at"])
            except ValueError:
                submitted_at = None
        return Receipt(receipt_no=ticket, submitted_at=submitted_at)

    async def inquire(self, receipt_no: str) -> Inquiry:
        """Ask what became of a receipt: ``in_review``, ``completed`` (validated result) or ``rejected``."""
        dept = self.department
        response = await self._call("GET", f"{SUBMISSIONS_PATH}/{quote(receipt_no, safe='')}", dept)
        data = self._json(response, dept)
        dept = dept or data.get("department")
        label = self._label(dept)
        status = inquiry_status(data.get("status"))
        if status is None:
            raise DepartmentProtocolError(
                f"{label}: unknown status {data.get('status')!r} for {receipt_no}", department=dept
            )
        if status == "in_review":
            return Inquiry(status="in_review")
        if status == "rejected":
            reason = data.get("reason")
            return Inquiry(status="rejected", reason=str(reason) if reason else "rejected without a reason")
        if status == "withdrawn":
            reason = data.get("reason")
            return Inquiry(status="withdrawn", reason=str(reason) if reason else None)
        result = data.get("result")
        if not isinstance(result, dict):
            raise DepartmentProtocolError(f"{label}: completed {receipt_no} without a result", department=dept)
        if dept is None:
            raise DepartmentProtocolError(
                f"{label}: cannot validate the result of {receipt_no}: department unknown", department=dept
            )
        try:
            checked = validate_result(dept, result)
        except ValidationError as exc:
            raise DepartmentProtocolError(
                f"{label}: malformed result for {receipt_no}: {exc.error_count()} error(s): "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                department=dept,
            ) from exc
        return Inquiry(status="completed", result=checked)

    async def withdraw(self, receipt_no: str, reason: str) -> None:
        """Withdraw (撤回) the submission ``receipt_no`` with ``reason``. Idempotent: a submission already
        withdrawn, or one the department does not know (404: nothing to withdraw), is success; one the
        department has completed (409: approved) is :class:`WithdrawalRefused`."""
        if not reason or not reason.strip():
            raise ValueError("a withdrawal needs a reason (撤回原因)")
        dept = self.department
        path = f"{SUBMISSIONS_PATH}/{quote(receipt_no, safe='')}/withdrawal"
        try:
            response = await self._call("POST", path, dept, json={"reason": reason.strip()})
        except DepartmentRejected as exc:
            if exc.status_code == 404:
                return
            if exc.status_code == 409:
                raise WithdrawalRefused(
                    f"{self._label(dept)}: {receipt_no} not withdrawn: {exc.reason}",
                    department=dept,
                    reason=exc.reason,
                    status_code=409,
                ) from exc
            raise
        data = self._json(response, dept)
        if data.get("status") != "withdrawn":
            raise DepartmentProtocolError(
                f"{self._label(dept)}: {receipt_no} is {data.get('status')!r} after its withdrawal", department=dept
            )

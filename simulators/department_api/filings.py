"""Where a department API's filings go: :class:`Filings`, what ``/api/v1/submissions`` and the callbacks
need of a store. An API department's own store is :class:`ApiStore`; a department whose store is its
portal's gives its API another implementation (``simulators.department``).

A submission is answered as ``GET /api/v1/submissions/{ticket}`` shows it (``store.public``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from simulators.department_api import store
from simulators.department_api.models import BankSubmission, Submission


@dataclass(frozen=True)
class Filed:
    """What a submission did: the submission, whether it was stored now, when it is processed, its callback URL."""

    submission: dict[str, Any]
    created: bool
    ready_ts: float
    callback_url: str | None


class Filings(Protocol):
    def check(self, body: Any) -> str | None:
        """The department's own rules on a well-formed body: ``"<field>: <why>"``, or None."""
        ...

    def submit(self, body: Any, process_delay_s: float, rule: str | None) -> Filed:
        """Store ``body`` unless the application has a live filing (then that one); ``rule``: a rejection rule."""
        ...

    def get(self, ticket: str) -> dict[str, Any] | None: ...

    def search(self, application_id: str | None) -> list[dict[str, Any]]: ...

    def withdraw(self, ticket: str, reason: str) -> dict[str, Any] | None: ...

    def callback_target(self, ticket: str) -> tuple[dict[str, Any], str | None] | None:
        """The submission as a callback carries it, and its callback URL; None for an unknown ticket."""
        ...


class ApiStore:
    """The department API's own SQLite store (``store``)."""

    def __init__(self, db_path: Path, code: str) -> None:
        self.db_path, self.code = db_path, code

    def check(self, body: Any) -> str | None:
        return body.check_financial_seal() if isinstance(body, BankSubmission) else None

    def submit(self, body: Submission, process_delay_s: float, rule: str | None) -> Filed:
        row, created = store.store(self.db_path, self.code, body, process_delay_s, rule)
        return Filed(store.public(row), created, row["ready_ts"], row["callback_url"])

    def _rows(self, where: str, params: tuple) -> list[Any]:
        return store.select(self.db_path, "WHERE department = ?" + where, (self.code, *params))

    def get(self, ticket: str) -> dict[str, Any] | None:
        rows = self._rows(" AND ticket = ?", (ticket,))
        return store.public(rows[0]) if rows else None

    def search(self, application_id: str | None) -> list[dict[str, Any]]:
        rows = (
            self._rows("", ()) if application_id is None else self._rows(" AND application_id = ?", (application_id,))
        )
        now = time.time()
        return [store.public(r, now) for r in rows]

    def withdraw(self, ticket: str, reason: str) -> dict[str, Any] | None:
        row = store.withdraw(self.db_path, self.code, ticket, reason)
        return None if row is None else store.public(row)

    def callback_target(self, ticket: str) -> tuple[dict[str, Any], str | None] | None:
        rows = store.select(self.db_path, "WHERE ticket = ?", (ticket,))
        return (store.public(rows[0]), rows[0]["callback_url"]) if rows else None

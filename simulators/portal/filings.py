"""Where a portal's filings go: :class:`Filings`, what the wizard, the progress page, the withdrawal and
我的办件 need of a store. A portal department's own store is :class:`PortalStore`; a department whose store is
its JSON API's gives its portal another implementation (``simulators.department``).

A record is a case as the portal shows it: ``receipt_no``, ``application_id``, ``submitted_at``,
``status`` (in_review, completed, rejected, withdrawn), ``reason``, ``withdrawn_at``,
``withdrawal_reason``, ``decided_at``, ``data`` (the stored form: ``company_name``, ``uscc``...) and ``result``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from simulators.common import now
from simulators.portal import store
from simulators.portal.specs import PortalSpec

API = "api"  # the channel a filing came through when not the portal's wizard


class Filings(Protocol):
    def file(
        self, data: dict[str, Any], *, username: str, decision: str | None, process_delay_s: float
    ) -> dict[str, Any]:
        """Store the wizard's finished form (or find the same filing already there); the record."""
        ...

    def find(self, *, application_id: str | None = None, receipt_no: str | None = None) -> list[dict[str, Any]]: ...

    def withdraw(self, receipt_no: str, reason: str) -> dict[str, Any] | None: ...

    def decide_rejection(self, application_id: str, reason: str) -> int: ...

    def account_page(
        self, username: str, *, offset: int, limit: int, status: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """我的办件: one page of the cases of portal account ``username``, newest first, only those showing
        ``status`` now (in_review, completed, rejected, withdrawn) when given, each record with its
        ``decided_at`` (None in review); and how many there are in all. Whose cases those are is the
        store's to say (a portal department's: those filed on its portal by that account)."""
        ...


class PortalStore:
    """The portal's own SQLite store. A robot filing twice leaves two cases; a filing through the
    department's JSON API that is still live is the same filing: the wizard shows its receipt."""

    def __init__(self, db_path: Path, spec: PortalSpec) -> None:
        self.db_path, self.spec = db_path, spec

    def file(
        self,
        data: dict[str, Any],
        *,
        username: str | None,
        decision: str | None,
        process_delay_s: float,
        channel: str | None = None,
        callback_url: str | None = None,
    ) -> dict[str, Any]:
        return self.file_once(
            data,
            username=username,
            decision=decision,
            process_delay_s=process_delay_s,
            channel=channel,
            callback_url=callback_url,
            unless_live_from=(API,) if channel is None else (None, API),
        )[0]

    def file_once(
        self,
        data: dict[str, Any],
        *,
        username: str | None,
        decision: str | None,
        process_delay_s: float,
        channel: str | None,
        callback_url: str | None,
        unless_live_from: tuple[str | None, ...],
    ) -> tuple[dict[str, Any], bool]:
        """(record, created): nothing is stored when a live filing of ``unless_live_from`` exists."""
        spec = self.spec
        received: datetime = now()
        submitted_ts = received.timestamp()
        ready_at = received + timedelta(seconds=process_delay_s)
        return store.file_submission(
            self.db_path,
            portal=spec.code,
            application_id=data["external_ref"],
            data=data,
            submitted_at=received.isoformat(timespec="seconds"),
            submitted_ts=submitted_ts,
            ready_ts=submitted_ts + process_delay_s,
            make_receipt_no=lambda row_id: f"{spec.receipt_prefix}{received:%Y%m%d}{row_id:06d}",
            make_result=lambda row_id: spec.issue_result(row_id, data, ready_at),
            username=username,
            decision_reason=decision,
            channel=channel,
            callback_url=callback_url,
            unless_live_from=unless_live_from,
        )

    def find(self, *, application_id: str | None = None, receipt_no: str | None = None) -> list[dict[str, Any]]:
        return store.find_submissions(self.db_path, application_id=application_id, receipt_no=receipt_no)

    def withdraw(self, receipt_no: str, reason: str, *, rejected_too: bool = False) -> dict[str, Any] | None:
        return store.withdraw(
            self.db_path, receipt_no, reason, now().isoformat(timespec="seconds"), rejected_too=rejected_too
        )

    def decide_rejection(self, application_id: str, reason: str) -> int:
        return store.decide_rejection(self.db_path, self.spec.code, application_id, reason)

    def account_page(
        self, username: str, *, offset: int, limit: int, status: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Cases filed on this portal by ``username`` (not another account's, not the JSON API's)."""
        return store.account_submissions(self.db_path, username, offset=offset, limit=limit, status=status)

    def raw(self, receipt_no: str) -> dict[str, Any] | None:
        return store.get_row(self.db_path, receipt_no)

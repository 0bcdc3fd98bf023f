"""Field mappings of changed department portals (self-healing): what a robot proposed for one version of a
portal's form, and what an admin decided. One record per department and form version (fingerprint): a
robot meeting the same changed form again finds the proposal there, not a second one.

Calls block briefly: from async code run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from store.db import Database
from store.tables import PortalMappingRow

STATUSES = ("proposed", "approved", "rejected", "needs_developer")


def mapping_id_of(department: str, fingerprint: str) -> str:
    """``PM`` + 12 hex: the same version of the same portal is the same mapping."""
    return "PM" + hashlib.sha256(f"{department}\x00{fingerprint}".encode()).hexdigest()[:12].upper()


@dataclass(frozen=True, slots=True)
class MappingRecord:
    mapping_id: str
    department: str
    fingerprint: str
    status: str
    proposal: dict[str, Any]
    mapping: dict[str, Any] | None
    screenshots: list[str]
    proposed_at: datetime
    proposed_for: str | None
    decided_at: datetime | None
    decided_by: str | None
    note: str | None


class UnknownMapping(KeyError):
    """No mapping of that id for that department."""


class MappingDecided(ValueError):
    """The mapping cannot be decided that way (already decided, or it needs a developer)."""


def _record(row: PortalMappingRow) -> MappingRecord:
    return MappingRecord(
        mapping_id=row.mapping_id,
        department=row.department,
        fingerprint=row.fingerprint,
        status=row.status,
        proposal=dict(row.proposal),
        mapping=dict(row.mapping) if row.mapping is not None else None,
        screenshots=list(row.screenshots or []),
        proposed_at=row.proposed_at,
        proposed_for=row.proposed_for,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        note=row.note,
    )


class MappingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def propose(
        self,
        *,
        department: str,
        fingerprint: str,
        proposal: Mapping[str, Any],
        screenshots: Sequence[str] = (),
        proposed_for: str | None = None,
        now: datetime | None = None,
    ) -> tuple[MappingRecord, bool]:
        """Record a robot's proposal for this version of the portal, unless one exists; (the record, new?)."""
        mapping_id = mapping_id_of(department, fingerprint)
        with self.db.writing() as s:
            row = s.get(PortalMappingRow, mapping_id)
            if row is not None:
                return _record(row), False
            row = PortalMappingRow(
                mapping_id=mapping_id,
                department=department,
                fingerprint=fingerprint,
                status="needs_developer" if proposal.get("needs_developer") else "proposed",
                proposal=dict(proposal),
                mapping=None,
                screenshots=list(screenshots),
                proposed_at=now or datetime.now(UTC),
                proposed_for=proposed_for,
                decided_at=None,
                decided_by=None,
                note=None,
            )
            s.add(row)
            s.flush()
            return _record(row), True

    def list(self, department: str) -> list[MappingRecord]:
        with self.db.reading() as s:
            rows = s.scalars(
                select(PortalMappingRow)
                .where(PortalMappingRow.department == department)
                .order_by(PortalMappingRow.proposed_at.desc(), PortalMappingRow.mapping_id)
            )
            return [_record(r) for r in rows]

    def get(self, department: str, mapping_id: str) -> MappingRecord:
        with self.db.reading() as s:
            row = s.get(PortalMappingRow, mapping_id)
            if row is None or row.department != department:
                raise UnknownMapping(mapping_id)
            return _record(row)

    def approved(self, department: str) -> dict[str, dict[str, Any]]:
        """The approved mappings of a department's portal, by form version: what its robots file through."""
        with self.db.reading() as s:
            rows = s.scalars(
                select(PortalMappingRow).where(
                    PortalMappingRow.department == department, PortalMappingRow.status == "approved"
                )
            )
            return {r.fingerprint: {"id": r.mapping_id, **(r.mapping or {})} for r in rows}

    def decide(
        self,
        department: str,
        mapping_id: str,
        *,
        approve: bool,
        mapping: Mapping[str, Any] | None,
        by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> MappingRecord:
        """Approve (with the mapping as the admin left it) or reject a proposal; once."""
        with self.db.writing() as s:
            row = s.get(PortalMappingRow, mapping_id, with_for_update=True)
            if row is None or row.department != department:
                raise UnknownMapping(mapping_id)
            if row.status in ("approved", "rejected"):
                raise MappingDecided(f"mapping {mapping_id} is already {row.status}")
            if approve and row.status == "needs_developer":
                raise MappingDecided(f"mapping {mapping_id} needs a developer: the form asks for fields the flow lacks")
            row.status = "approved" if approve else "rejected"
            row.mapping = dict(mapping) if approve and mapping is not None else None
            row.decided_at = now or datetime.now(UTC)
            row.decided_by = by
            row.note = note
            s.flush()
            return _record(row)

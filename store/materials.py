"""Materials as kaiban knows them: who uploaded which content as which kind, what was read from it, and the
pre-review findings of each application with the clerk's decisions.

The bytes are in the object storage (``store.objects``); this is their record. Calls block briefly: from
async code run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from store.db import Database
from store.tables import MaterialFindingRow, MaterialRow

DECISIONS = ("form_correct", "form_corrected")


def material_id_of(window_id: str, sha256: str, kind: str) -> str:
    """``MT`` + 20 hex: the same content of the same kind from the same window is the same material."""
    return "MT" + hashlib.sha256(f"{window_id}\x00{sha256}\x00{kind}".encode()).hexdigest()[:20].upper()


@dataclass(frozen=True, slots=True)
class MaterialRecord:
    material_id: str
    sha256: str
    kind: str
    content_type: str
    size_bytes: int
    filename: str | None
    window_id: str
    uploaded_by: str
    uploaded_at: datetime
    status: str  # stored | read | unreadable
    fields: dict[str, Any] | None
    read_at: datetime | None
    read_error: str | None


@dataclass(frozen=True, slots=True)
class FindingRecord:
    seq: int
    application_id: str
    material_id: str | None
    material_sha256: str
    kind: str
    concerns: str | None
    field: str
    read_field: str
    form_value: str
    read_value: str | None
    confidence: float
    message: str
    recorded_at: datetime
    decision: str | None
    corrected_value: str | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None


class UnknownFinding(KeyError):
    """The material has no finding of that field in that application."""


class MaterialStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        *,
        sha256: str,
        kind: str,
        content_type: str,
        size_bytes: int,
        filename: str | None,
        window_id: str,
        uploaded_by: str,
        uploaded_at: datetime,
    ) -> tuple[MaterialRecord, bool]:
        """The window's material of this content and kind, recorded unless it is already; whether it is new."""
        material_id = material_id_of(window_id, sha256, kind)
        statement = (
            self.db.insert(MaterialRow)
            .values(
                material_id=material_id,
                sha256=sha256,
                kind=kind,
                content_type=content_type,
                size_bytes=size_bytes,
                filename=filename,
                window_id=window_id,
                uploaded_by=uploaded_by,
                uploaded_at=uploaded_at,
                status="stored",
            )
            .on_conflict_do_nothing(index_elements=["material_id"])
        )
        with self.db.writing() as session:
            new = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
            row = session.get(MaterialRow, material_id)
            assert row is not None
            return _material(row), new

    def get(self, material_id: str) -> MaterialRecord | None:
        with self.db.reading() as session:
            row = session.get(MaterialRow, material_id)
            return _material(row) if row else None

    def of_window(self, window_id: str, sha256s: Iterable[str]) -> list[MaterialRecord]:
        """The window's materials with any of these digests (oldest upload first)."""
        wanted = sorted(set(sha256s))
        if not wanted:
            return []
        query = (
            select(MaterialRow)
            .where(MaterialRow.window_id == window_id, MaterialRow.sha256.in_(wanted))
            .order_by(MaterialRow.uploaded_at)
        )
        with self.db.reading() as session:
            return [_material(row) for row in session.scalars(query)]

    def set_reading(
        self, material_id: str, *, fields: Mapping[str, Any] | None, error: str | None, read_at: datetime
    ) -> None:
        """What the reader found (``fields``), or why it could not read the file (``error``)."""
        values: dict[str, Any] = {"read_at": read_at, "read_error": error}
        values["status"] = "unreadable" if error else "read"
        values["fields"] = dict(fields) if fields is not None else None
        with self.db.writing() as session:
            session.execute(update(MaterialRow).where(MaterialRow.material_id == material_id).values(**values))

    # ----------------------------------------------------------------- findings

    def record_findings(self, application_id: str, findings: Iterable[Mapping[str, Any]], at: datetime) -> int:
        """The application's findings (``domain.materials.Finding`` dumps with ``material_id``); a finding
        recorded before (same material and field) is kept with its decision. How many were new."""
        new = 0
        with self.db.writing() as session:
            for f in findings:
                statement = (
                    self.db.insert(MaterialFindingRow)
                    .values(
                        application_id=application_id,
                        material_id=f.get("material_id"),
                        material_sha256=f["material_sha256"],
                        kind=f["kind"],
                        concerns=f.get("concerns"),
                        field=f["field"],
                        read_field=f["read_field"],
                        form_value=f["form_value"],
                        read_value=f.get("read_value"),
                        confidence=float(f["confidence"]),
                        message=f["message"],
                        recorded_at=at,
                    )
                    .on_conflict_do_nothing(index_elements=["application_id", "material_sha256", "field"])
                )
                new += session.execute(statement).rowcount  # type: ignore[attr-defined]
        return new

    def findings(self, *, application_id: str | None = None, material_id: str | None = None) -> list[FindingRecord]:
        query = select(MaterialFindingRow).order_by(MaterialFindingRow.seq)
        if application_id is not None:
            query = query.where(MaterialFindingRow.application_id == application_id)
        if material_id is not None:
            query = query.where(MaterialFindingRow.material_id == material_id)
        with self.db.reading() as session:
            return [_finding(row) for row in session.scalars(query)]

    def decide(
        self,
        *,
        application_id: str,
        material_id: str,
        field: str,
        decision: str,
        decided_by: str,
        decided_at: datetime,
        corrected_value: str | None = None,
        note: str | None = None,
    ) -> FindingRecord:
        """The clerk's decision on one finding (a later decision replaces an earlier one; the audit keeps both)."""
        if decision not in DECISIONS:
            raise ValueError(f"decision is one of {DECISIONS}")
        where = (
            MaterialFindingRow.application_id == application_id,
            MaterialFindingRow.material_id == material_id,
            MaterialFindingRow.field == field,
        )
        with self.db.writing() as session:
            row = session.scalars(select(MaterialFindingRow).where(*where)).first()
            if row is None:
                raise UnknownFinding(field)
            row.decision = decision
            row.corrected_value = corrected_value
            row.note = note
            row.decided_by = decided_by
            row.decided_at = decided_at.astimezone(UTC)
            session.flush()
            return _finding(row)


def _material(row: MaterialRow) -> MaterialRecord:
    return MaterialRecord(
        material_id=row.material_id,
        sha256=row.sha256,
        kind=row.kind,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        filename=row.filename,
        window_id=row.window_id,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
        status=row.status,
        fields=row.fields,
        read_at=row.read_at,
        read_error=row.read_error,
    )


def _finding(row: MaterialFindingRow) -> FindingRecord:
    return FindingRecord(
        seq=row.seq,
        application_id=row.application_id,
        material_id=row.material_id,
        material_sha256=row.material_sha256,
        kind=row.kind,
        concerns=row.concerns,
        field=row.field,
        read_field=row.read_field,
        form_value=row.form_value,
        read_value=row.read_value,
        confidence=row.confidence,
        message=row.message,
        recorded_at=row.recorded_at,
        decision=row.decision,
        corrected_value=row.corrected_value,
        note=row.note,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )

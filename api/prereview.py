"""Pre-review (智能预审) at submission: the form against what was read from its materials, recorded.

Findings never refuse a submission: they are recorded with the application (``material_findings``) for
the clerk to confirm or correct (``POST /api/v1/materials/{id}/review``), and the submission's audit entry
says how many there were. A material not read yet has no findings (its reading shows on ``GET``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import Request

from domain.form import Application
from domain.materials import Finding, MaterialReading, ReadField, prereview
from store.materials import MaterialRecord, MaterialStore

log = structlog.get_logger(__name__)


def _reading_of(m_kind: str, candidates: list[MaterialRecord]) -> MaterialRecord | None:
    """The window's upload of that content: the one of the same kind if there is one, read ones first."""
    same = [r for r in candidates if r.kind == m_kind] or candidates
    read = [r for r in same if r.fields is not None]
    pick = read or same
    return pick[0] if pick else None


async def findings_for(
    materials: MaterialStore, application: Application, window_id: str
) -> list[tuple[Finding, str | None]]:
    """Every finding of the application's materials (with the material id each is about)."""
    records = await asyncio.to_thread(materials.of_window, window_id, [m.sha256 for m in application.materials])
    readings: list[MaterialReading] = []
    ids: dict[str, str] = {}
    for m in application.materials:
        record = _reading_of(m.kind, [r for r in records if r.sha256 == m.sha256])
        if record is None or not record.fields:
            continue
        ids[m.sha256] = record.material_id
        fields = {k: ReadField.model_validate(v) for k, v in record.fields.items()}
        readings.append(MaterialReading(sha256=m.sha256, kind=m.kind, concerns=m.concerns, fields=fields))
    return [(f, ids.get(f.material_sha256)) for f in prereview(application, readings)]


async def record_prereview(request: Request, application: Application, application_id: str, window_id: str) -> int:
    """Record the application's findings; how many it has. Noted for the submission's audit entry."""
    materials = MaterialStore(request.app.state.store.db)
    found = await findings_for(materials, application, window_id)
    rows = [{**f.model_dump(), "material_id": material_id} for f, material_id in found]
    await asyncio.to_thread(materials.record_findings, application_id, rows, datetime.now(UTC))
    request.state.audit_detail = {"prereview_findings": len(found), "fields": sorted({f.field for f, _ in found})}
    if found:
        log.info(
            "prereview_findings", application_id=application_id, n=len(found), fields=sorted(f.field for f, _ in found)
        )
    return len(found)

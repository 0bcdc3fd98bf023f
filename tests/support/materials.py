"""Real materials for an application: drawn by ``ai.synthetic`` (the legal representative's ID card, each
natural shareholder's, each corporate shareholder's licence, the premises proof, the articles), stored, and put
in the application's ``materials`` with their real SHA-256s, so ``KAIBAN_MATERIALS_MUST_BE_STORED`` can be on.

``with_uploaded_materials`` uploads them through ``POST /api/v1/materials`` (what a window does);
``with_stored_materials`` puts them straight into an object storage (tests below the API)."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from ai.synthetic import material_set
from store.objects import Objects

FILENAMES = {
    "id_card": "身份证正面.{ext}",
    "business_licence": "营业执照.{ext}",
    "premises_proof": "租赁合同.{ext}",
    "articles_of_association": "公司章程.{ext}",
}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}


def _drawn(application: dict[str, Any], seed: int) -> list[tuple[str, Any]]:
    return material_set(application, seed)


def _entry(concerns: str, drawn: Any, sha256: str) -> dict[str, str]:
    name = FILENAMES.get(drawn.kind, "材料.{ext}").format(ext=EXTENSIONS.get(drawn.content_type, "bin"))
    return {"kind": drawn.kind, "filename": name, "sha256": sha256, "concerns": concerns}


def with_stored_materials(application: dict[str, Any], objects: Objects, seed: int = 1) -> dict[str, Any]:
    """A copy of ``application`` whose materials are generated files stored in ``objects``."""
    out = copy.deepcopy(application)
    out["materials"] = [_entry(c, d, objects.put(d.data)[0]) for c, d in _drawn(out, seed)]
    return out


def _refused(r: httpx.Response) -> str:
    return f"upload refused ({r.status_code}): {r.text}"


def with_uploaded_materials(
    http: httpx.Client | Any, application: dict[str, Any], headers: dict[str, str] | None = None, seed: int = 1
) -> dict[str, Any]:
    """A copy of ``application`` whose materials are generated files uploaded through ``POST /api/v1/materials``
    with ``http`` (an ``httpx.Client`` or a ``TestClient``; ``headers``: the window's clerk)."""
    out = copy.deepcopy(application)
    entries = []
    for concerns, drawn in _drawn(out, seed):
        entry = _entry(concerns, drawn, "")
        r = http.post(
            "/api/v1/materials",
            files={"file": (entry["filename"], drawn.data)},
            data={"kind": drawn.kind},
            headers=headers,
        )
        assert r.status_code == 201, _refused(r)
        entries.append({**entry, "sha256": r.json()["sha256"]})
    out["materials"] = entries
    return out


async def with_uploaded_materials_async(
    http: httpx.AsyncClient, application: dict[str, Any], headers: dict[str, str] | None = None, seed: int = 1
) -> dict[str, Any]:
    """``with_uploaded_materials`` for an ``httpx.AsyncClient``."""
    out = copy.deepcopy(application)
    entries = []
    for concerns, drawn in _drawn(out, seed):
        entry = _entry(concerns, drawn, "")
        r = await http.post(
            "/api/v1/materials",
            files={"file": (entry["filename"], drawn.data)},
            data={"kind": drawn.kind},
            headers=headers,
        )
        assert r.status_code == 201, _refused(r)
        entries.append({**entry, "sha256": r.json()["sha256"]})
    out["materials"] = entries
    return out

"""The materials a department receives (catalog: ``materials:`` per department), read from kaiban's object
storage: files for the robot's attachment step, and the ``materials`` of an API department's submission
(inline or by signed link, ``materials_by``). Blocking: call them in a thread."""

from __future__ import annotations

import base64
import time

import structlog

from bots.attachments import Attachment
from domain.form import Application, Material
from runtime.material_links import link_key, material_link
from runtime.settings import Settings
from store.objects import ObjectNotFound, content_type_of, open_objects

log = structlog.get_logger(__name__)


def _stored(settings: Settings, department: str, application: Application) -> list[tuple[Material, bytes]]:
    """The application's materials of the kinds ``department`` receives, with their bytes, in the form's order.
    A material whose file is not stored (a deployment that does not insist on uploads) is left out, and logged;
    storage that cannot be reached raises (``ObjectStorageUnavailable``: the activity is retried)."""
    try:
        kinds = set(settings.catalog().get(department).materials)
    except KeyError:
        return []
    wanted = [m for m in application.materials if m.kind in kinds]
    if not wanted:
        return []
    objects = open_objects(settings.objects_url or settings.data_dir / "objects")
    out: list[tuple[Material, bytes]] = []
    for m in wanted:
        try:
            out.append((m, objects.get(m.sha256)))
        except ObjectNotFound:
            log.warning("material_file_missing", department=department, kind=m.kind, sha256=m.sha256[:12])
    return out


def attachments_for(settings: Settings, department: str, application: Application) -> list[Attachment]:
    """The files of a portal's attachment step (the kinds ``department`` receives)."""
    return [
        Attachment(name=m.filename, content_type=content_type_of(data) or "application/octet-stream", data=data)
        for m, data in _stored(settings, department, application)
    ]


def api_materials_for(
    settings: Settings, department: str, application_id: str, application: Application, now: float | None = None
) -> list[dict]:
    """The ``materials`` of an API department's submission: per material of a kind it receives, its ``kind``,
    ``filename``, ``concerns``, ``sha256``, ``content_type`` and ``size_bytes``, and either ``data`` (base64,
    ``materials_by: inline``) or ``url`` + ``expires_at`` (a signed link for this department only, ``link``)."""
    try:
        by = settings.catalog().get(department).materials_by
    except KeyError:
        return []
    stored = _stored(settings, department, application)
    if not stored:
        return []
    expires = int((time.time() if now is None else now) + settings.material_link_ttl_s)
    key = link_key(settings.payload_key)
    out: list[dict] = []
    for m, data in stored:
        entry: dict = {
            "kind": m.kind,
            "filename": m.filename,
            "concerns": m.concerns,
            "sha256": m.sha256,
            "content_type": content_type_of(data) or "application/octet-stream",
            "size_bytes": len(data),
        }
        if by == "link":
            entry["url"] = material_link(key, settings.public_base_url, department, application_id, m.sha256, expires)
            entry["expires_at"] = expires
        else:
            entry["data"] = base64.b64encode(data).decode("ascii")
        out.append(entry)
    log.info("materials_for_department", department=department, n=len(out), by=by)
    return out

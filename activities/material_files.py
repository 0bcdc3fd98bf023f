"""The materials a department receives (catalog: ``materials:`` per department), read from kaiban's object
storage for the robot's attachment step. Blocking: call it in a thread."""

from __future__ import annotations

import structlog

from bots.attachments import Attachment
from domain.form import Application
from runtime.settings import Settings
from store.objects import ObjectNotFound, content_type_of, open_objects

log = structlog.get_logger(__name__)


def attachments_for(settings: Settings, department: str, application: Application) -> list[Attachment]:
    """The application's materials of the kinds ``department`` receives, in the form's order. A material whose
    file is not stored (a deployment that does not insist on uploads) is left out, and logged."""
    try:
        kinds = set(settings.catalog().get(department).materials)
    except KeyError:
        return []
    wanted = [m for m in application.materials if m.kind in kinds]
    if not wanted:
        return []
    objects = open_objects(settings.objects_url or settings.data_dir / "objects")
    out: list[Attachment] = []
    for m in wanted:
        try:
            data = objects.get(m.sha256)
        except ObjectNotFound:
            log.warning("material_file_missing", department=department, kind=m.kind, sha256=m.sha256[:12])
            continue
        content_type = content_type_of(data) or "application/octet-stream"  # the upload checked it
        out.append(Attachment(name=m.filename, content_type=content_type, data=data))
    return out

"""Evidence of robot attempts (screenshots, Playwright traces), linked from a task that needs a person.

A file is served only to identities that may read its application (the id is in the file's name).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from api.access import IdentityDep, visible_window
from api.auth import Refusal, forbidden
from api.deps import ClientDep, SettingsDep
from api.schemas import Problem
from domain.access import Role

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])

# evidence files are named <department>-<application id>[-<action>]-attempt<N>.<suffix>
_APPLICATION_ID = re.compile(r"-(KB\d{8}-[0-9A-Za-z]+?)(?:-[a-z_]+)?(?:-attempt\d+)?(?:-\d+)?\.(?:png|jpg|zip|html)$")


def _missing() -> Refusal:
    return Refusal(404, "evidence_not_found", "未找到该留证文件")


@router.get(
    "/{path:path}",
    summary="机器人办理留证：截图或操作轨迹",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}, "application/zip": {}}, "description": "留证文件"},
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
    },
)
async def evidence(
    path: str, request: Request, settings: SettingsDep, client: ClientDep, identity: IdentityDep
) -> FileResponse:
    if identity.role is Role.DEPARTMENT:
        raise forbidden("部门身份不能查看窗口的留证文件", "department_scope")
    root = settings.evidence_path.resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file() or target.suffix not in (".png", ".zip"):
        raise _missing()
    found = _APPLICATION_ID.search(target.name)
    if found is None:  # not tied to an application: supervisors only
        if not identity.oversees:
            raise _missing()
    else:
        try:
            await visible_window(request, client, identity, found.group(1))
        except Refusal as refusal:
            raise _missing() from refusal
    media = "image/png" if target.suffix == ".png" else "application/zip"
    return FileResponse(target, media_type=media, filename=target.name)

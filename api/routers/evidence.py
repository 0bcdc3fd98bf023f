"""Evidence of robot attempts (screenshots, HTML, step logs, Playwright traces), linked from a task.

A file is served only to identities that may read its application (the id is in the file's name).
A portal page's HTML is served as text (``text/plain``, ``Content-Security-Policy: sandbox``, as an
attachment): a portal's script never runs on kaiban's origin.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse

from api.access import IdentityDep, visible_window
from api.auth import Refusal, forbidden
from api.clean import CheckedRoute
from api.deps import ClientDep, SettingsDep
from api.problems import COMMON, responses
from domain.access import Role

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"], route_class=CheckedRoute)

# evidence files are named <department>-<application id>[-<action>]-attempt<N>.<suffix>
_APPLICATION_ID = re.compile(
    r"-(KB\d{8}-[0-9A-Za-z]+?)(?:-[a-z_]+)?(?:-attempt\d+)?(?:-\d+)?\.(?:png|jpg|zip|html|json)$"
)

# what each kind of evidence file is served as
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".zip": "application/zip",
    ".html": "text/plain; charset=utf-8",  # a portal's page, shown as its source: never rendered here
    ".json": "application/json",  # a step log
}
# no script, form or plugin of a served file runs, whatever a browser makes of it
SAFE_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


def _missing() -> Refusal:
    return Refusal(404, "evidence_not_found", "未找到该留证文件")


@router.get(
    "/{path:path}",
    summary="机器人办理留证：截图、页面源码、步骤记录或操作轨迹",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
            "description": "留证文件",
        },
        **responses(
            *COMMON, 403, 404, 503, s403="部门身份不能查看窗口的留证文件", s404="没有该文件，或对当前身份不可见"
        ),
    },
)
async def evidence(
    path: Annotated[
        str,
        Path(
            max_length=300,
            description="留证文件相对路径（<日期>/<部门>-<申请编号>[-<动作>]-attempt<N>.png|jpg|html|json|zip）",
            examples=["2026-11-30/amr-KB20261130-AAAAAAAAAA-receipt-attempt1.png"],
        ),
    ],
    request: Request,
    settings: SettingsDep,
    client: ClientDep,
    identity: IdentityDep,
) -> FileResponse:
    if identity.role is Role.DEPARTMENT:
        raise forbidden("部门身份不能查看窗口的留证文件", "department_scope")
    root = settings.evidence_path.resolve()
    try:
        target = (root / path).resolve()
        found_file = root in target.parents and target.suffix in MEDIA_TYPES and target.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL: no such file
        found_file = False
    if not found_file:
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
    return FileResponse(target, media_type=MEDIA_TYPES[target.suffix], filename=target.name, headers=SAFE_HEADERS)

"""Evidence of robot attempts (screenshots, Playwright traces), linked from a task that needs a person."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from api.deps import SettingsDep

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])


@router.get("/{path:path}", summary="机器人办理留证：截图或操作轨迹", response_class=FileResponse)
async def evidence(path: str, settings: SettingsDep) -> FileResponse:
    root = settings.evidence_path.resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file() or target.suffix not in (".png", ".zip"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="未找到该留证文件")
    media = "image/png" if target.suffix == ".png" else "application/zip"
    return FileResponse(target, media_type=media, filename=target.name)

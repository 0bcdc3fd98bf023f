"""How the API answers what goes wrong: every refusal and failure a body with ``detail`` (Chinese) and ``code``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from api.audit import note_refusal
from api.auth import Refusal
from api.deps import TemporalUnavailable
from api.problems import http_problem
from domain.form_errors import request_errors

log = structlog.get_logger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if isinstance(exc.body, bytes) and any(tuple(e.get("loc") or ())[:1] == ("body",) for e in raw):
            # a body the route did not read as JSON: its content type is not application/json
            return await _refused(
                request, Refusal(415, "unsupported_media_type", "请求内容类型应为 application/json（JSON）")
            )
        errors = request_errors(raw)
        detail = validation_summary(request.url.path, raw, errors)
        note_refusal(request.state, detail, "invalid_request")
        log.info("request_rejected_at_validation", path=request.url.path, fields=[e["field"] for e in errors])
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail, "errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        body = http_problem(exc.status_code, exc.detail)
        note_refusal(request.state, body["detail"], body["code"])
        return JSONResponse(status_code=exc.status_code, content=body, headers=exc.headers)

    @app.exception_handler(Refusal)
    async def _refused(request: Request, exc: Refusal) -> JSONResponse:
        log.info("request_refused", path=request.url.path, status_code=exc.status_code, code=exc.code)
        note_refusal(request.state, exc.detail, exc.code)
        headers = {"WWW-Authenticate": 'Bearer realm="kaiban"'} if exc.status_code == 401 else exc.headers
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail, "code": exc.code}, headers=headers
        )

    @app.exception_handler(TemporalUnavailable)
    async def _temporal_down(request: Request, exc: TemporalUnavailable) -> JSONResponse:
        log.error("temporal_unavailable", error=str(exc))
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "工作流服务暂不可用，请稍后重试", "code": "temporal_unavailable"},
        )

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> JSONResponse:
        log.error("temporal_rpc_failed", status=str(exc.status), error=str(exc))
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "工作流服务暂不可用，请稍后重试", "code": "temporal_error"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # a bug: still a Problem body
        log.exception("request_failed", path=request.url.path, error=str(exc))
        return JSONResponse(status_code=500, content={"detail": "服务内部错误，请稍后重试", "code": "internal_error"})


#: the routes whose body is the one form
_FORM_PATHS = ("/api/v1/applications", "/corrections")


def validation_summary(path: str, raw: Sequence[Any], errors: list[dict[str, str]]) -> str:
    """The ``detail`` of a 422: how many places to fix (the one form: "申请表有 N 处需要修改")."""
    n = len(errors)
    if path.endswith(_FORM_PATHS) and all(tuple(e.get("loc") or ())[:1] == ("body",) for e in raw):
        return f"申请表有 {n} 处需要修改"
    if n == 1:
        field, message = errors[0]["field"], errors[0]["message"]
        return f"请求有 1 处需要修改：{field} {message}" if field else f"请求有 1 处需要修改：{message}"
    return f"请求有 {n} 处需要修改"

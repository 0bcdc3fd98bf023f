"""The HTTP API: ``create_app()`` builds it; the lifespan owns the Temporal client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client
from temporalio.service import RPCError

from api.audit import AuditMiddleware, note_refusal
from api.auth import Authenticator, Refusal
from api.deps import ClientHolder, TemporalUnavailable
from api.limits import BodyLimitMiddleware
from api.problems import http_problem
from api.routers import applications, audit, deadlines, departments, evidence, health, supervision
from domain.form_errors import request_errors
from runtime.logging import configure_logging
from runtime.settings import Settings, get_settings
from store import Store

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_format, settings.log_level)  # before uvicorn --factory logs its first line
    settings.refuse_unsafe_production()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_format, settings.log_level)  # again: uvicorn.Config(app) configures after
        app.state.settings = settings
        app.state.store = await asyncio.to_thread(Store.open, settings.database_url)  # migrates first
        app.state.temporal = ClientHolder(settings, client)
        app.state.authenticator = Authenticator(settings)
        try:
            await app.state.temporal.get()
        except TemporalUnavailable as exc:  # start anyway; requests answer 503 until it is back
            log.warning("temporal_unavailable_at_startup", error=str(exc))
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(
        title="kaiban 企业开办一窗通办",
        version="0.1.0",
        description="综合窗口一次提交，工作流同步至各部门（接口或机器人），限时办结。",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(applications.router)
    app.include_router(deadlines.router)
    app.include_router(departments.router)
    app.include_router(evidence.router)
    app.include_router(supervision.router)
    app.include_router(audit.router)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware)  # outermost: it records the body limit's refusals too

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
        headers = {"WWW-Authenticate": 'Bearer realm="kaiban"'} if exc.status_code == 401 else None
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

    return app


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

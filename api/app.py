"""The HTTP API: ``create_app()`` builds it; the lifespan owns the Temporal client."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import FastAPI
from temporalio.client import Client

from api.audit import AuditMiddleware
from api.auth import Authenticator
from api.calendars import CalendarBook
from api.deps import ClientHolder, TemporalUnavailable
from api.errors import install_error_handlers
from api.limits import BodyLimitMiddleware
from api.pages import install_pages
from api.routers import (
    admin_calendar,
    applications,
    audit,
    deadlines,
    departments,
    evidence,
    health,
    materials,
    portal_mappings,
    retry,
    supervision,
)
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
        app.state.calendars = CalendarBook(settings, app.state.store.calendars)
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
    app.include_router(retry.router)
    app.include_router(deadlines.router)
    app.include_router(departments.router)
    app.include_router(evidence.router)
    app.include_router(supervision.router)
    app.include_router(audit.router)
    app.include_router(materials.router)
    app.include_router(materials.prereview_router)
    app.include_router(admin_calendar.router)
    app.include_router(portal_mappings.router)
    install_pages(app, settings)  # the pages for people: /login, /applications/…, /board
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        # a material's file and the multipart around it
        path_limits={
            "/api/v1/materials": settings.material_max_bytes + 64 * 1024,
            "/applications/materials": settings.material_max_bytes + 64 * 1024,  # the one form's upload
        },
    )
    app.add_middleware(AuditMiddleware)  # outermost: it records the body limit's refusals too

    install_error_handlers(app)
    return app

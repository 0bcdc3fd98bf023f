"""The supervisor's deadline board (/board, a wall layout at ?wall=1) and a department's inbox.

The board is the API's ``supervision_board`` (every open task, remaining working time, SLA state) and
``list_escalations``, with today's figures (``api.pages.figures``); its live part is rendered again by the
server and swapped in by the page's script every few seconds. Filters by department and window.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import forbidden
from api.deps import ClientDep, SettingsDep
from api.pages.calls import call_route, page_calendar
from api.pages.figures import FiguresCache, chart
from api.pages.render import PageRoute, page
from api.pages.session import Session, SessionDep
from api.params import DepartmentCode
from api.routers.departments import department_inbox
from api.routers.supervision import board_now, list_escalations, supervision_board
from domain.access import Identity
from runtime.settings import Settings

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_figures = FiguresCache()

Filter = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]*$")]


def overseer(session: Session) -> Identity:
    identity = session.identity
    if identity is None or not identity.oversees:
        raise forbidden("督办看板仅供督办人员和管理员查看", "not_a_supervisor")
    return identity


async def _open_tasks(request: Request, client: Any, settings: Settings, identity: Identity, department: str | None):
    return await call_route(
        supervision_board,
        request,
        client=client,
        settings=settings,
        identity=identity,
        department=department,
        sla_state=None,
        limit=1000,
    )


async def board_context(
    request: Request, client: Any, settings: Settings, identity: Identity, department: str | None, window: str | None
) -> dict[str, Any]:
    board = await _open_tasks(request, client, settings, identity, department or None)
    items = [i for i in board.items if not window or i.window_id == window]
    notices = request.app.state.store.notices
    feed = await asyncio.to_thread(list_escalations, notices=notices, identity=identity, limit=30)
    catalog = settings.catalog()
    names = {d.code: d.name for d in catalog.departments}
    figures = await _figures.get(client, identity, await page_calendar(request), board_now())
    budgets = {d.code: float(d.budget_minutes) for d in catalog.departments}
    counts = {s: sum(1 for i in items if i.sla_state == s) for s in ("on_track", "at_risk", "breached")}
    return {
        "board": board,
        "items": items,
        "counts": counts,
        "feed": feed.items,
        "names": names,
        "figures": figures,
        "chart": chart(figures.per_department, budgets, names),
        "department": department or "",
        "window": window or "",
    }


@router.get("/board", response_class=HTMLResponse)
async def board_page(
    request: Request,
    session: SessionDep,
    client: ClientDep,
    settings: SettingsDep,
    department: Filter = None,
    window: Filter = None,
    wall: bool = False,
) -> Response:
    identity = overseer(session)
    context = await board_context(request, client, settings, identity, department, window)
    query = request.url.query
    windows = sorted({i.window_id for i in context["board"].items if i.window_id})
    return page(request, "board.html", session, wall=wall, windows=windows, live_query=query, **context)


@router.get("/board/live", response_class=HTMLResponse)
async def board_live(
    request: Request,
    session: SessionDep,
    client: ClientDep,
    settings: SettingsDep,
    department: Filter = None,
    window: Filter = None,
    wall: bool = False,
) -> Response:
    identity = overseer(session)
    context = await board_context(request, client, settings, identity, department, window)
    return page(request, "_board_live.html", session, wall=wall, **context)


@router.get("/departments/{code}/inbox", response_class=HTMLResponse)
async def inbox_page(
    code: DepartmentCode, request: Request, session: SessionDep, client: ClientDep, settings: SettingsDep
) -> Response:
    assert session.identity is not None
    inbox = await call_route(
        department_inbox,
        request,
        code=code,
        client=client,
        settings=settings,
        identity=session.identity,
        status=None,
        limit=500,
    )
    name = next((d.name for d in settings.catalog().departments if d.code == code), code)
    return page(request, "inbox.html", session, inbox=inbox, name=name)

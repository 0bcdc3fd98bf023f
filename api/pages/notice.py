"""The completion notice (开办结果告知单) a clerk hands over: every department's result on one sheet,
as a printable page and as a PDF printed by Chromium (the project's own: ``bots.browser``)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from playwright.async_api import async_playwright

from api.auth import Refusal
from api.deps import ClientDep
from api.pages.application import read_application
from api.pages.render import STATIC_DIR, PageRoute, page, templates
from api.pages.session import Session, SessionDep
from api.params import ApplicationId
from bots.browser import find_chromium, launch_args
from domain.calendar import SHANGHAI
from workflows.models import ApplicationView

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_printing = asyncio.Semaphore(1)  # one Chromium at a time for notices: memory stays bounded


def _finished(view: ApplicationView) -> None:
    if view.status != "completed":
        raise Refusal(409, "not_completed", "申请尚未全部办结，暂不能出具开办结果告知单")


def notice_context(view: ApplicationView) -> dict:
    return {"view": view, "printed_at": datetime.now(SHANGHAI), "pdf": False, "css": ""}


async def _view(application_id: str, request: Request, client, session: Session) -> ApplicationView:
    assert session.identity is not None
    view = await read_application(application_id, request, client, session.identity)
    _finished(view)
    return view


@router.get("/applications/{application_id}/notice", response_class=HTMLResponse)
async def notice_page(application_id: ApplicationId, request: Request, session: SessionDep, client: ClientDep):
    view = await _view(application_id, request, client, session)
    return page(request, "notice.html", session, **notice_context(view))


async def print_pdf(html: str) -> bytes:
    async with _printing, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=find_chromium(pw), args=launch_args(), headless=True)
        try:
            sheet = await browser.new_page()
            await sheet.set_content(html, wait_until="load")
            await sheet.evaluate("document.fonts.ready.then(() => true)")
            return await sheet.pdf(
                format="A4",
                print_background=True,
                margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
            )
        finally:
            await browser.close()


@router.get("/applications/{application_id}/notice.pdf")
async def notice_pdf(application_id: ApplicationId, request: Request, session: SessionDep, client: ClientDep):
    view = await _view(application_id, request, client, session)
    context = notice_context(view)
    context.update(pdf=True, css=(STATIC_DIR / "kaiban.css").read_text(encoding="utf-8"))
    html = templates.get_template("notice.html").render(
        request=request, session=session, me=session.identity, home="/", **context
    )
    pdf = await print_pdf(html)
    name = quote(f"开办结果告知单-{view.application_id}.pdf")
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"}
    )

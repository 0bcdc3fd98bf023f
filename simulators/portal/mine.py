"""我的办件: the logged-in account's own filings with their status, newest first, paged like a real portal's
list (``GET /mine?page=N&status=…``). A row shows the case's 受理号, 外部业务编号 (the application id), name,
submission and decision times, status and, once decided, its result (or the reason it was sent back or
withdrawn) in the same ``data-field`` markup as the progress page. Whose filings those are is the store's
(``Filings.account_page``): on a portal department's portal, those filed there by the account (not another
account's, not a filing through the department's JSON API); on the portal of an API department (tax, nhsa,
bank), whose one portal account is the department's only account, every filing in its store."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from simulators.portal.state import STATUS_LABELS, PortalDep

router = APIRouter()

PAGE_SIZE = 20
#: what ``status=`` accepts: the stored word or the label the portal shows (审核中, 已办结, ...)
STATUS_FILTERS = {**{k: k for k in STATUS_LABELS}, **{v: k for k, v in STATUS_LABELS.items()}}


def _link(page: int, status: str | None) -> str:
    query = {"page": page, **({"status": status} if status else {})}
    return "/mine?" + urlencode(query)


@router.get("/mine", response_class=HTMLResponse)
async def my_filings(request: Request, portal: PortalDep, page: str = "1", status: str = "") -> Response:
    session = portal.session(request)
    errors: dict[str, str] = {}
    wanted = STATUS_FILTERS.get(status.strip()) if status.strip() else None
    if status.strip() and wanted is None:
        errors["status"] = f"未知的办理状态：{status.strip()[:20]}"
    number = int(page) if page.isdigit() and int(page) >= 1 else 1
    rows, total = portal.filings.account_page(
        session["user"], offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE, status=wanted
    )
    pages = max(1, -(-total // PAGE_SIZE))
    records: list[dict[str, Any]] = [
        dict(r, result_rows=portal.spec.result_rows(r["result"]) if r["result"] else []) for r in rows
    ]
    return portal.render(
        "mine.html",
        session,
        status=400 if errors else 200,
        page_title="我的办件",
        records=records,
        page=number,
        pages=pages,
        total=total,
        status_filter=wanted or "",
        previous_link=_link(number - 1, wanted) if number > 1 else None,
        next_link=_link(number + 1, wanted) if number < pages else None,
        errors=errors,
    )

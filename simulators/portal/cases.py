"""A filed case after submission: the progress inquiry (办理进度查询) and the applicant's withdrawal (撤回)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from simulators.portal import store
from simulators.portal.state import Portal, PortalDep

router = APIRouter()

#: what the portal says when asked to withdraw a case it has already completed (已办结, e.g. a licence approved)
APPROVED_REFUSAL = "该办件已办结（已核准），不能撤回：撤销已核准的事项须另行依法申请"


def render_progress(
    portal: Portal,
    session: dict[str, Any],
    external_ref: str,
    receipt_no: str,
    searched: bool,
    errors: dict[str, str],
    *,
    status: int = 200,
) -> HTMLResponse:
    records: list[dict[str, Any]] = []
    if searched:
        records = portal.filings.find(application_id=external_ref or None, receipt_no=receipt_no or None)
    return portal.render(
        "progress.html",
        session,
        status=status,
        page_title="办理进度查询",
        values={"external_ref": external_ref, "receipt_no": receipt_no},
        searched=searched,
        records=[dict(r, result_rows=portal.spec.result_rows(r["result"]) if r["result"] else []) for r in records],
        withdrawable=(store.IN_REVIEW,),  # a completed case (已办结) is approved: no longer the applicant's to withdraw
        errors=errors,
    )


@router.get("/progress", response_class=HTMLResponse)
async def progress(request: Request, portal: PortalDep, external_ref: str = "", receipt_no: str = "") -> Response:
    session = portal.session(request)
    external_ref, receipt_no = external_ref.strip(), receipt_no.strip()
    searched = "external_ref" in request.query_params or "receipt_no" in request.query_params
    errors: dict[str, str] = {}
    if searched and not external_ref and not receipt_no:
        errors["_form"] = "请输入外部业务编号或受理号"
        searched = False
    return render_progress(portal, session, external_ref, receipt_no, searched, errors)


@router.post("/cases/{receipt_no}/withdrawal", response_class=HTMLResponse)
async def withdraw_case(request: Request, portal: PortalDep, receipt_no: str) -> Response:
    session = portal.session(request)
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    if not portal.filings.find(receipt_no=receipt_no):
        return portal.not_found(session, "未找到该办件。")
    if not reason:
        return render_progress(portal, session, "", receipt_no, True, {"withdraw_reason": "请填写撤回原因"})
    await portal.slow_step()
    record = portal.filings.withdraw(receipt_no, reason[:200])
    if record is not None and record["status"] == store.COMPLETED:  # approved meanwhile, or never offered
        return render_progress(portal, session, "", receipt_no, True, {"withdrawal": APPROVED_REFUSAL}, status=409)
    return RedirectResponse(f"/cases/{quote(receipt_no)}/withdrawal", status_code=303)


@router.get("/cases/{receipt_no}/withdrawal", response_class=HTMLResponse)
async def withdrawal_result(request: Request, portal: PortalDep, receipt_no: str) -> Response:
    return portal.case_page(portal.session(request), receipt_no, "withdrawal.html", "办件撤回", "未找到该办件。")

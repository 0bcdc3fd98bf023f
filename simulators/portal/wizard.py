"""The application wizard: a draft in the session, one page per step, the materials (where the portal asks
for them), confirmation, submission, receipt."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from simulators.portal.forms import display, read_form, step_groups, structured, validate_step
from simulators.portal.state import Portal, PortalDep

router = APIRouter()

ATTACHMENTS = "/apply/attachments"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: what a material is, by its first bytes (a legacy portal checks the content, not the file name)
ATTACHMENT_TYPES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def attachments_pending(portal: Portal, session: dict[str, Any]) -> bool:
    """The portal asks for materials and this draft has not been given them yet."""
    return portal.spec.attachments and "attachments" not in session


def render_step(
    portal: Portal, session: dict[str, Any], n: int, values: dict[str, Any], errors: dict[str, str]
) -> Response:
    step = portal.steps()[n - 1]
    return portal.render(
        "step.html",
        session,
        page_title=step.title,
        step=step,
        n=n,
        total=portal.n_steps,
        groups=step_groups(step, session["draft"]),
        values=values,
        errors=errors,
        prefix=portal.wire_prefix(),
    )


def summary(portal: Portal, draft: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """What the confirmation page lists: per step, (label, displayed value) of every control."""
    out = []
    for step in portal.steps():
        rows = [(f.label, display(f, draft.get(f.name))) for _, fs in step_groups(step, draft) for f in fs]
        out.append((step.title, rows))
    return out


def to_open_step(portal: Portal, session: dict[str, Any]) -> RedirectResponse:
    return RedirectResponse(f"/apply/step/{portal.first_open_step(session)}", status_code=303)


def file_submission(portal: Portal, session: dict[str, Any]) -> dict[str, Any]:
    """Store the finished draft as a submission (rejected when processing ends if a rule or review says so)."""
    spec = portal.spec
    data = structured(spec, session["draft"])
    if spec.attachments:
        data["attachments"] = list(session.get("attachments", []))
    decision = portal.rejection_rules.get(data["external_ref"]) or (spec.review(data) if spec.review else None)
    return portal.filings.file(
        data, username=session["user"], decision=decision, process_delay_s=portal.behaviour.process_delay_s
    )


@router.get("/apply")
async def start_application(request: Request, portal: PortalDep) -> Response:
    session = portal.session(request)
    session["draft"], session["done"] = {}, set()
    session.pop("attachments", None)
    return RedirectResponse("/apply/step/1", status_code=303)


@router.get("/apply/step/{n}", response_class=HTMLResponse)
async def step_form(request: Request, portal: PortalDep, n: int) -> Response:
    session = portal.session(request)
    if not 1 <= n <= portal.n_steps:
        return portal.not_found(session, "您访问的页面不存在。")
    if n > portal.first_open_step(session):
        return to_open_step(portal, session)
    return render_step(portal, session, n, session["draft"], {})


@router.post("/apply/step/{n}", response_class=HTMLResponse)
async def step_submit(request: Request, portal: PortalDep, n: int) -> Response:
    session = portal.session(request)
    await portal.slow_step()
    if not 1 <= n <= portal.n_steps or n > portal.first_open_step(session):
        return RedirectResponse(f"/apply/step/{min(portal.first_open_step(session), portal.n_steps)}", status_code=303)
    step = portal.steps()[n - 1]
    values = read_form(await request.form(), step_groups(step, session["draft"]), portal.wire_prefix())
    errors = validate_step(step, values, session["draft"])
    if errors:
        return render_step(portal, session, n, {**session["draft"], **values}, errors)
    session["draft"].update(values)
    session["done"].add(n)
    # a changed earlier answer (e.g. the row count) invalidates the later steps
    session["done"] = {i for i in session["done"] if i <= n}
    nxt = (
        f"/apply/step/{n + 1}" if n < portal.n_steps else (ATTACHMENTS if portal.spec.attachments else "/apply/confirm")
    )
    return RedirectResponse(nxt, status_code=303)


BLANK_FORM = "/apply/form"


@router.get(BLANK_FORM, response_class=HTMLResponse)
async def blank_form(request: Request, portal: PortalDep) -> Response:
    """The whole form of the current version as a sample (样表): every step with its controls, disabled; a
    repeated group shown once (its first row). Nothing is entered here and the draft is left alone."""
    session = portal.session(request)
    one_row = {rep.count_field: "1" for rep in (s.repeat for s in portal.steps()) if rep}
    steps = [(n, step, step_groups(step, one_row)) for n, step in enumerate(portal.steps(), 1)]
    return portal.render(
        "blank.html", session, page_title="表单样表", steps=steps, total=portal.n_steps, prefix=portal.wire_prefix()
    )


@router.get("/apply/confirm", response_class=HTMLResponse)
async def confirm(request: Request, portal: PortalDep) -> Response:
    session = portal.session(request)
    if portal.first_open_step(session) <= portal.n_steps:
        return to_open_step(portal, session)
    if attachments_pending(portal, session):
        return RedirectResponse(ATTACHMENTS, status_code=303)
    return portal.render("confirm.html", session, page_title="确认提交", summary=summary(portal, session["draft"]))


@router.post("/apply/submit", response_class=HTMLResponse)
async def submit(request: Request, portal: PortalDep) -> Response:
    session = portal.session(request)
    if portal.first_open_step(session) <= portal.n_steps:
        return to_open_step(portal, session)
    if attachments_pending(portal, session):
        return RedirectResponse(ATTACHMENTS, status_code=303)
    row = file_submission(portal, session)
    session["draft"], session["done"] = {}, set()
    session.pop("attachments", None)
    # stored first, answered late: a robot killed while waiting must find it on retry
    await portal.slow_step()
    return RedirectResponse(f"/receipt/{row['receipt_no']}", status_code=303)


def render_attachments(portal: Portal, session: dict[str, Any], errors: dict[str, str]) -> Response:
    return portal.render(
        "attachments.html",
        session,
        page_title="上传申请材料",
        total=portal.n_steps,
        attached=session.get("attachments", []),
        errors=errors,
    )


@router.get(ATTACHMENTS, response_class=HTMLResponse)
async def attachments_form(request: Request, portal: PortalDep) -> Response:
    session = portal.session(request)
    if not portal.spec.attachments:
        return portal.not_found(session, "您访问的页面不存在。")
    if portal.first_open_step(session) <= portal.n_steps:
        return to_open_step(portal, session)
    return render_attachments(portal, session, {})


@router.post(ATTACHMENTS, response_class=HTMLResponse)
async def attachments_submit(request: Request, portal: PortalDep) -> Response:
    """The materials of this draft: each file checked by its content and size; the portal keeps what it got
    (name, SHA-256 of the bytes received, size, type) with the submission."""
    session = portal.session(request)
    await portal.slow_step()
    if not portal.spec.attachments:
        return portal.not_found(session, "您访问的页面不存在。")
    if portal.first_open_step(session) <= portal.n_steps:
        return to_open_step(portal, session)
    form = await request.form()
    received, errors = [], {}
    for i, upload in enumerate(form.getlist("attachments")):
        if isinstance(upload, str) or not upload.filename:
            continue  # an empty file control
        data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
        kind = next((t for magic, t in ATTACHMENT_TYPES if data.startswith(magic)), None)
        if len(data) > MAX_ATTACHMENT_BYTES:
            errors[f"attachment-{i}"] = f"材料「{upload.filename}」超过 10 MB"
        elif kind is None:
            errors[f"attachment-{i}"] = f"材料「{upload.filename}」不是 PDF、JPEG 或 PNG 文件"
        else:
            digest = hashlib.sha256(data).hexdigest()
            received.append({"name": upload.filename, "sha256": digest, "size": len(data), "content_type": kind})
    if errors:
        return render_attachments(portal, session, errors)
    session["attachments"] = received
    return RedirectResponse("/apply/confirm", status_code=303)


@router.get("/receipt/{receipt_no}", response_class=HTMLResponse)
async def receipt(request: Request, portal: PortalDep, receipt_no: str) -> Response:
    return portal.case_page(portal.session(request), receipt_no, "receipt.html", "受理回执", "未找到该受理回执。")

"""Robot flows: what a clerk would do on each department's legacy portal.

The activities call :func:`dispatch` (file a request, at most once per application id),
:func:`inquire` (read a case's progress and result) and :func:`withdraw` (撤回 the live cases).
Which value goes to which field is :mod:`bots.mappings`; the story (idempotency, re-login,
resuming the portal's draft) is in bots/README.md. No temporalio here: ``on_step`` is how the
activity turns progress into heartbeats; personal data and passwords are never logged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from playwright.async_api import Page
from pydantic import ValidationError

from bots import evidence
from bots.attachments import Attachment, AttachmentPage, attachment_page_or, past_last_step
from bots.errors import PortalChanged, SessionExpired, SubmissionNotFound, WithdrawalRefused, portal_errors
from bots.healing import MappingNeeded, Synonyms, apply_mapping, load_synonyms, propose, read_form
from bots.mappings import CLOSED, FLOWS, STATUSES, FlowStep, PortalFlow, require_uscc
from bots.pages import ConfirmPage, LoginPage, ProgressPage, WizardStepPage, parse_time
from bots.portal_page import FieldValue
from domain.requests import DepartmentRequest
from domain.results import Inquiry, Receipt, validate_result

__all__ = [
    "FLOWS",
    "Attachment",
    "FlowStep",
    "Healing",
    "PortalAccess",
    "PortalFlow",
    "StepCallback",
    "dispatch",
    "inquire",
    "inquiry_of",
    "step_rank",
    "withdraw",
]

log = structlog.get_logger()


@dataclass(frozen=True)
class PortalAccess:
    base_url: str
    username: str
    password: str
    captcha_attempts: int = LoginPage.CAPTCHA_ATTEMPTS  # answers to a captcha per login (KAIBAN_ROBOT_CAPTCHA_ATTEMPTS)

    def __repr__(self) -> str:  # never show the password
        return f"PortalAccess(base_url={self.base_url!r}, username={self.username!r}, password='***')"


StepCallback = Callable[[str], Awaitable[None] | None] | None


@dataclass(frozen=True)
class Healing:
    """What a dispatch does when the portal's form changed (bots/healing.py): the approved mappings of
    this department's portal by form version (fingerprint), the synonyms, the confidence threshold."""

    approved: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    synonyms: Synonyms = field(default_factory=load_synonyms)
    threshold: float = 85.0


def _flow(department: str) -> PortalFlow:
    try:
        return FLOWS[department]
    except KeyError:
        raise ValueError(f"no robot flow for department {department!r}; known: {', '.join(FLOWS)}") from None


class _Steps:
    """Tracks the current step (for error context), reports it to ``on_step`` and logs it on the page's
    step log (names and times only: the evidence of a failed attempt, bots/evidence.py)."""

    def __init__(self, on_step: StepCallback, page: Page) -> None:
        self.on_step = on_step
        self.page = page
        self.current = "start"
        self.reported: set[str] = set()  # the steps reported by :meth:`once`

    def where(self) -> str:
        return self.current

    async def __call__(self, name: str, *, report: bool = True) -> None:
        self.current = name
        evidence.record_step(self.page, name)
        if report and self.on_step is not None:
            outcome = self.on_step(name)
            if inspect.isawaitable(outcome):
                await outcome

    async def once(self, name: str) -> None:
        """Enter step ``name``, reported the first time only, however often it is redone."""
        await self(name, report=name not in self.reported)
        self.reported.add(name)


PROGRESS_PATH = "/progress"  # the progress page's address (a bookmark): logging in leads straight there


async def _log_in_and_open_progress(page: Page, access: PortalAccess, flow: PortalFlow) -> tuple[ProgressPage, bool]:
    """The progress page, logged in; and whether the session was already logged in (a reused one)."""
    evidence.register_secret(page, access.password)  # kept out of any trace of this session
    login = LoginPage(page, access.base_url, captcha_attempts=access.captcha_attempts, captcha_rules=flow.captcha)
    await login.open(landing=PROGRESS_PATH)
    reused = login.already_logged_in
    landing = await login.log_in(access.username, access.password)  # returns at once when reused
    log.debug("robot.session_reused" if reused else "robot.logged_in", portal=access.base_url)
    if isinstance(landing, ProgressPage):
        return landing, reused
    return await landing.open_progress_inquiry(), reused  # the portal ignored the bookmark: use its menu


def step_rank(department: str, step: str | None) -> int:
    """How far into filing a dispatch ``step`` is: the form steps 0, 1, ..., then ``submit`` and
    ``receipt``; -1 for a step before the form (``login``, ``search_existing``, ...) or unknown."""
    if not step:
        return -1
    order = [*(f"form:{fs.slug}" for fs in _flow(department).steps), "attachments", "submit", "receipt"]
    return order.index(step) if step in order else -1


def _earliest(records: list[dict[str, Any]]) -> dict[str, Any]:
    return min(records, key=lambda r: (r.get("submitted_at") or "", r["receipt_no"]))


def _live(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if STATUSES.get(r["status"]) not in CLOSED]


def _current(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The case that counts: the first one still open or done, else the latest one closed."""
    live = _live(records)
    if live:
        return _earliest(live)
    return max(records, key=lambda r: (r.get("submitted_at") or "", r["receipt_no"]))


def _receipt(record: dict[str, Any]) -> Receipt:
    return Receipt(receipt_no=record["receipt_no"], submitted_at=parse_time(record.get("submitted_at")))


async def dispatch(
    page: Page,
    access: PortalAccess,
    request: DepartmentRequest,
    on_step: StepCallback = None,
    *,
    resume_from: str | None = None,
    attachments: Sequence[Attachment] = (),
    healing: Healing | None = None,
) -> Receipt:
    """File ``request`` at its department's portal (at most once per application id); return the receipt.

    ``healing``: when given, a form whose labels changed is read (typing nothing) and filed through an
    approved mapping of its version, or :class:`bots.healing.MappingNeeded` carries a proposal for one.

    ``resume_from``: the last step a previous attempt of this task reached (its heartbeat); from a
    form step on, a form the portal still holds for this application is continued (bots/README.md).
    ``attachments``: the materials for the portal's attachment step (上传申请材料), where it has one.
    """
    flow = _flow(request.department)
    if flow.needs_uscc:
        require_uscc(request)
    # compute every value before touching the browser: a mapping error is not a portal error
    step_values = [(step, dict(step.values(request))) for step in flow.steps]
    blog = log.bind(department=flow.department, application_id=request.application_id)
    steps = _Steps(on_step, page)
    with portal_errors(flow.department, steps.where, blog):
        await steps("login")
        progress, reused = await _log_in_and_open_progress(page, access, flow)
        # a form can only be left on the portal in a session that outlived the previous attempt
        resume = step_rank(flow.department, resume_from) >= 0
        if resume and healing is not None and healing.approved:
            # a changed form's draft is not read back by its old labels: a new form (the search comes first)
            blog.info("robot.dispatch.no_draft_to_resume", resume_from=resume_from, reason="mapped_portal")
            resume = False
        if resume and not reused:
            blog.info("robot.dispatch.no_draft_to_resume", resume_from=resume_from, reason="new_session")
            resume = False
        relogins = 0
        while True:
            await steps.once("search_existing")
            filed = [
                r
                for r in await progress.search(application_id=request.application_id)
                if r.get("application_id") == request.application_id
            ]
            # a case sent back (已退回, 需补正) or withdrawn (已撤回) is closed: the application is filed anew
            live = _live(filed)
            if live:
                record = _earliest(live)
                blog.info("robot.dispatch.already_filed", receipt_no=record["receipt_no"], submissions=len(filed))
                return _receipt(record)
            try:
                menu: ProgressPage | WizardStepPage = progress
                start: _Start | None = None
                if resume:
                    resume = False  # once: after a re-login the draft is gone with the old session
                    await steps.once("resume_draft")
                    try:
                        menu, start = await _resume_point(progress, access, flow, request, resume_from, blog)
                    except PortalChanged as exc:
                        if healing is None:
                            raise
                        # the draft's form changed: not resumed by its old labels; a new form heals as below
                        blog.info("robot.dispatch.no_draft_to_resume", resume_from=resume_from, reason=exc.message)
                        menu = WizardStepPage(page)
                        await menu.snapshot()
                try:
                    return await _file(
                        menu, flow, request, step_values, steps.once, blog, start=start, attachments=attachments
                    )
                except PortalChanged as exc:
                    if healing is None or not steps.current.startswith("form:"):
                        raise
                    mapped = await _healed(page, access, flow, step_values, healing, steps, blog, exc)
                    form_page = WizardStepPage(page)  # the sample page has the main menu: a new form from there
                    await form_page.snapshot()
                    return await _file(form_page, flow, request, mapped, steps.once, blog, attachments=attachments)
            except SessionExpired:
                # logged out mid-form (会话已过期): the draft went with the session. Log in again,
                # search again (the submission may have been stored), and fill the form anew.
                relogins += 1
                if relogins > MAX_RELOGINS:
                    raise
                blog.info("robot.dispatch.session_expired", step=steps.current, relogin=relogins)
                await steps("relogin")
                progress, _ = await _log_in_and_open_progress(page, access, flow)


async def _healed(
    page: Page,
    access: PortalAccess,
    flow: PortalFlow,
    step_values: list[tuple[FlowStep, dict[str, FieldValue]]],
    healing: Healing,
    steps: _Steps,
    blog: Any,
    changed: PortalChanged,
) -> list[tuple[FlowStep, dict[str, FieldValue]]]:
    """The form changed (``changed``, raised before any keystroke in it): read the whole new form; with an
    approved mapping of its version, the flow's values regrouped by it; else raise MappingNeeded."""
    await steps("read_changed_form")
    form, shots = await read_form(page, access.base_url)
    approved = healing.approved.get(form.fingerprint)
    if approved is not None:
        blog.info("robot.mapping_used", fingerprint=form.fingerprint, mapping_id=approved.get("id"))
        return apply_mapping(approved, step_values, [fs.slug for fs in flow.steps])
    proposal = propose(
        flow.department, form, step_values, healing.synonyms, threshold=healing.threshold, screenshots=shots
    )
    blog.info(
        "robot.mapping_proposed",
        fingerprint=proposal.fingerprint,
        fields=len(proposal.fields),
        low_confidence=len(proposal.low_confidence),
        unfilled_required=len(proposal.unfilled_required),
        changed=changed.message[:200],
    )
    what = (
        f"new required fields the flow cannot give: {', '.join(proposal.unfilled_required)}"
        if proposal.needs_developer
        else f"{len(proposal.fields)} fields matched, {len(proposal.low_confidence)} below {healing.threshold:g}"
    )
    raise MappingNeeded(
        f"the portal's form changed (version {proposal.fingerprint}): {what}", proposal=proposal
    ) from changed


MAX_RELOGINS = 5  # per dispatch: a portal that logs us out more often is treated as unavailable (retried)

# (index of the first step to fill, the page showing it)
_Start = tuple[int, "WizardStepPage | ConfirmPage | AttachmentPage"]


async def _resume_point(
    progress: ProgressPage,
    access: PortalAccess,
    flow: PortalFlow,
    request: DepartmentRequest,
    resume_from: str | None,
    blog: Any,
) -> tuple[ProgressPage | WizardStepPage, _Start | None]:
    """Where this application's form stands on the portal, if this session holds it.

    Returns the page to start a new form from (its menu) and, when the draft is this application's,
    the step to go on with: ``(i, step page)``, or ``(len(steps), confirmation page)`` when the
    portal has every step. A draft of another application, or none, is left alone (None)."""
    first = await progress.open_draft(access.base_url)
    first.expect_step(flow.steps[0].title)
    holds = await first.value_of(flow.reference_label)
    if holds != request.application_id:
        blog.info(
            "robot.dispatch.no_draft_to_resume",
            resume_from=resume_from,
            reason="another_application" if holds else "empty",
        )
        return first, None
    where = attachment_page_or(await first.continue_draft(access.base_url))
    if isinstance(where, ConfirmPage | AttachmentPage):
        index = len(flow.steps)
    else:
        assert where.snap is not None
        titles = [fs.title for fs in flow.steps]
        index = next((i for i, t in enumerate(titles) if t in where.snap.main_heading), -1)
        if index < 0:
            raise PortalChanged(f"the draft goes on at an unknown page {where.snap.main_heading!r}")
    at = (
        flow.steps[index].slug
        if index < len(flow.steps)
        else "attachments"
        if isinstance(where, AttachmentPage)
        else "confirm"
    )
    blog.info("robot.dispatch.resumed", resume_from=resume_from, at=at, steps_skipped=index)
    return first, (index, where)


async def _file(
    menu: ProgressPage | WizardStepPage,
    flow: PortalFlow,
    request: DepartmentRequest,
    step_values: list[tuple[FlowStep, dict[str, FieldValue]]],
    step: Callable[[str], Awaitable[None]],
    blog: Any,
    *,
    start: _Start | None = None,
    attachments: Sequence[Attachment] = (),
) -> Receipt:
    """Fill the portal's wizard and submit: a new form opened from ``menu``, or the portal's draft
    from ``start`` on (the steps before it are the portal's already). Every label of a step is
    checked before its first keystroke, so a changed portal stops the robot before anything is submitted."""
    index, current = start if start is not None else (0, await menu.start_application(flow.apply_link))
    confirm = current if isinstance(current, ConfirmPage) else None
    for i in range(index, len(step_values)):
        fs, values = step_values[i]
        assert isinstance(current, WizardStepPage)
        await step(f"form:{fs.slug}")
        current.expect_step(fs.title)
        await current.fill_in(values, flow.fill)
        if i + 1 < len(step_values):
            current = await current.proceed_to_next_step()
        else:
            after = await past_last_step(current)
            current, confirm = (after, None) if isinstance(after, AttachmentPage) else (current, after)
    if isinstance(current, AttachmentPage):
        await step("attachments")
        confirm = await current.attach(attachments)
        blog.info("robot.dispatch.attached", files=len(attachments))
    assert confirm is not None

    await step("submit")
    receipt_page = await confirm.submit_application()

    await step("receipt")
    receipt = receipt_page.read_receipt()
    if receipt_page.shown.get("application_id") not in (None, request.application_id):
        raise PortalChanged("the receipt names another application id")
    blog.info("robot.dispatch.filed", receipt_no=receipt.receipt_no)
    return receipt


async def inquire(
    page: Page,
    access: PortalAccess,
    department: str,
    application_id: str,
    receipt_no: str | None,
    on_step: StepCallback = None,
) -> Inquiry:
    """Read a case's progress at the portal; once completed, its result in the form of domain.results."""
    flow = _flow(department)
    blog = log.bind(department=department, application_id=application_id)
    steps = _Steps(on_step, page)
    with portal_errors(department, steps.where, blog):
        await steps("login")
        progress, _ = await _log_in_and_open_progress(page, access, flow)

        await steps("search")
        records = [
            r
            for r in await progress.search(application_id=application_id, receipt_no=receipt_no)
            if r.get("application_id") == application_id and (receipt_no is None or r["receipt_no"] == receipt_no)
        ]
        if not records:
            raise SubmissionNotFound(
                f"the portal holds no case for application {application_id}"
                + (f" with receipt {receipt_no}" if receipt_no else "")
            )
        record = _current(records)

        await steps("read_result")
        inquiry = inquiry_of(department, record)
        blog.info("robot.inquire.read", receipt_no=record["receipt_no"], status=inquiry.status)
        return inquiry


def inquiry_of(department: str, record: Mapping[str, Any]) -> Inquiry:
    """What a listed case (``{data-field: text}``) tells: its status and, once decided, its result or
    reason. Shared helper, the one reading of a case: :func:`inquire` (the progress search) and
    :func:`bots.sweep.sweep` (the 我的办件 list) both use it. PortalChanged for an unknown status or an
    unreadable result."""
    flow = _flow(department)
    status = STATUSES.get(record["status"])
    if status is None:
        raise PortalChanged(f"unknown case status {record['status']!r}")
    if status == "completed":
        try:
            result = validate_result(department, flow.read_result(dict(record)))
        except ValidationError as exc:
            raise PortalChanged(f"the completed case shows an unreadable result: {exc.error_count()} problems") from exc
        return Inquiry(status="completed", result=result)
    if status == "rejected":
        return Inquiry(status="rejected", reason=record.get("reason") or "部门退回，未说明原因")
    if status == "withdrawn":
        return Inquiry(status="withdrawn", reason=record.get("withdrawal_reason") or None)
    return Inquiry(status="in_review")


async def withdraw(
    page: Page,
    access: PortalAccess,
    department: str,
    application_id: str,
    receipt_no: str | None,
    reason: str,
    on_step: StepCallback = None,
) -> None:
    """Withdraw (撤回) the application's live case(s) at the portal, with ``reason``.

    Found by ``application_id`` (by ``receipt_no`` when no id is given). Idempotent: when
    nothing is live there (already withdrawn, sent back, or never filed) it returns quietly.
    A case the department has completed (已办结: approved) is not withdrawn, by the robot or by the
    portal: :class:`bots.errors.WithdrawalRefused` with the reason, nothing withdrawn.
    """
    flow = _flow(department)
    if not reason or not reason.strip():
        raise ValueError("a withdrawal needs a reason (撤回原因)")
    if not application_id and not receipt_no:
        raise ValueError("a withdrawal needs the application id or the receipt number")
    blog = log.bind(department=department, application_id=application_id)
    steps = _Steps(on_step, page)

    def ours(record: dict[str, Any]) -> bool:
        if application_id:
            return record.get("application_id") == application_id
        return record["receipt_no"] == receipt_no

    with portal_errors(department, steps.where, blog):
        await steps("login")
        progress, _ = await _log_in_and_open_progress(page, access, flow)
        withdrawn: list[str] = []
        while True:
            await steps("search")
            search = {"application_id": application_id} if application_id else {"receipt_no": receipt_no}
            records = [r for r in await progress.search(**search) if ours(r)]
            unknown = [r["status"] for r in records if r["status"] not in STATUSES]
            if unknown:
                raise PortalChanged(f"unknown case status {unknown[0]!r}")
            approved = [r for r in records if STATUSES[r["status"]] == "completed"]
            if approved:  # approved at the department: withdrawing it is a separate legal procedure
                receipt = approved[0]["receipt_no"]
                blog.info("robot.withdraw.refused_approved", receipt_no=receipt)
                raise WithdrawalRefused(f"部门已办结该件（受理号 {receipt}），不能撤回：撤销已核准的事项须另行依法申请")
            live = [r for r in _live(records) if r["receipt_no"] not in withdrawn]
            if not live:
                break
            record = _earliest(live)

            await steps("withdraw")
            done = await progress.withdraw(record["receipt_no"], reason.strip())
            shown = done.shown
            if shown.get("receipt_no") != record["receipt_no"]:
                raise PortalChanged("the withdrawal page names another case")
            if STATUSES.get(shown.get("status", "")) not in CLOSED:
                raise PortalChanged(f"case {record['receipt_no']} still shows {shown.get('status')!r} after withdrawal")
            withdrawn.append(record["receipt_no"])
            blog.info("robot.withdraw.withdrawn", receipt_no=record["receipt_no"])
            progress = await done.open_progress_inquiry()
        if not withdrawn:
            blog.info("robot.withdraw.nothing_live", cases=len(records))

"""Robot flows: what a clerk would do on each department's legacy portal.

The Temporal activities call three functions:

- :func:`dispatch` files a :class:`~domain.requests.DepartmentRequest` and returns the
  department's :class:`~domain.results.Receipt`. It is idempotent: it first searches
  the portal's progress page by our ``application_id`` (the form's 外部业务编号) and,
  if the portal already holds a live submission, returns that receipt without filing
  again (a case the department sent back for correction, 已退回, or one withdrawn,
  已撤回, does not count: the corrected application is filed anew).
- :func:`inquire` reads a case's progress and, once the department is done, its
  result in the shape of :mod:`domain.results`.
- :func:`withdraw` withdraws (撤回) the application's live case(s); idempotent: nothing
  live to withdraw (already withdrawn, sent back, never filed) is success.

Portals misbehave: a captcha on the login page is read and answered (:class:`~bots.pages.LoginPage`);
when the portal logs the robot out mid-form (会话已过期), :func:`dispatch` logs in again, searches
again (never filing twice) and fills the form anew, up to ``MAX_RELOGINS`` times; 5xx and timeouts
are :class:`~bots.errors.PortalUnavailable` (with ``retry_after_s`` when the portal sent
``Retry-After``, e.g. 系统维护中); a relabelled portal is :class:`~bots.errors.PortalChanged` before
the first keystroke of the step that changed, so nothing half-filled is ever submitted.

A page may come logged in already (:class:`bots.browser.BrowserPool` reuses an account's
session): every flow opens the portal first and logs in only when the portal shows its login page.

Resuming (``dispatch(resume_from=...)``): the portal keeps a half-filled application form (its
draft) in the server session. When the previous attempt reached a form step or the submission
(the step it last heartbeated) and this attempt found the portal still logged in, ``dispatch``
searches for the application as always (a stored submission ends it there), then opens the
draft: if its 外部业务编号 is this application's, it goes on from the first step the portal has
not got (or submits the completed form) instead of starting a new one; otherwise it starts anew.

Every flow registers the portal password with :func:`bots.evidence.register_secret`, so
a trace kept as evidence of a failed attempt does not hold it.

A :class:`PortalFlow` per department (``FLOWS``) maps the application to the
portal's labelled fields, step by step, and reads the department's result back.
No temporalio here: ``on_step`` is how the activity turns progress into heartbeats.
Personal data (ID numbers, mobiles) and passwords are never logged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from pydantic import ValidationError

from bots import evidence
from bots.errors import PortalChanged, PortalError, SessionExpired, SubmissionNotFound, from_playwright
from bots.pages import ConfirmPage, FieldValue, LoginPage, ProgressPage, WizardStepPage, parse_time
from domain.requests import DepartmentRequest
from domain.results import Inquiry, Receipt, validate_result

__all__ = [
    "FLOWS",
    "FlowStep",
    "PortalAccess",
    "PortalFlow",
    "StepCallback",
    "dispatch",
    "inquire",
    "step_rank",
    "withdraw",
]

log = structlog.get_logger()


@dataclass(frozen=True)
class PortalAccess:
    base_url: str
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"PortalAccess(base_url={self.base_url!r}, username={self.username!r}, password='***')"


StepCallback = Callable[[str], Awaitable[None] | None] | None


@dataclass(frozen=True)
class FlowStep:
    """One wizard step: the heading the portal shows, and the ``label: value`` pairs to enter."""

    slug: str
    title: str
    values: Callable[[DepartmentRequest], Mapping[str, FieldValue]]


@dataclass(frozen=True)
class PortalFlow:
    department: str
    apply_link: str  # the portal's menu entry that opens a new application
    steps: tuple[FlowStep, ...]
    read_result: Callable[[dict[str, Any]], dict[str, Any]]
    needs_uscc: bool = True  # every department but amr files under the USCC amr issued
    reference_label: str = "外部业务编号"  # the first step's field holding our application id


# ---------------------------------------------------------------------------
# Mapping the one form to each portal
# ---------------------------------------------------------------------------


def _plain(amount: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 100 -> '100', 0.1200 -> '0.12'."""
    return format(amount.normalize(), "f")


def _require_uscc(request: DepartmentRequest) -> str:
    uscc = request.uscc
    if not uscc:
        raise ValueError(
            f"department {request.department} files under the enterprise's USCC: "
            "request.upstream['amr']['uscc'] is missing"
        )
    return uscc


ENTITY_TYPES = {"limited_liability_company": "有限责任公司", "joint_stock_company": "股份有限公司"}
LEGAL_REP_ROLES = {"executive_director": "执行董事", "chairman": "董事长", "manager": "经理"}
SHAREHOLDER_KINDS = {"natural_person": "自然人", "legal_person": "企业法人"}
CONTRIBUTION_METHODS = {
    "currency": "货币",
    "in_kind": "实物",
    "intellectual_property": "知识产权",
    "land_use_right": "土地使用权",
    "equity": "股权",
    "debt": "债权",
}
SEAL_LABELS = {
    "official": "公章",
    "financial": "财务专用章",
    "invoice": "发票专用章",
    "legal_representative": "法定代表人名章",
    "contract": "合同专用章",
}


def _amr_basic(r: DepartmentRequest) -> dict[str, FieldValue]:
    a, c = r.application, r.application.company
    return {
        "外部业务编号": r.application_id,
        "企业名称": c.name,
        "企业类型": ENTITY_TYPES[c.entity_type],
        "注册资本（万元）": _plain(c.registered_capital_wan_yuan),
        "住所行政区划代码": c.address.division_code,
        "住所详细地址": c.address.detail,
        "经营范围": "；".join(c.business_scope),
        "营业期限（年）": str(c.operating_term_years) if c.operating_term_years else "",
        "股东人数": str(len(a.shareholders)),
    }


def _amr_people(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    out: dict[str, FieldValue] = {}
    for prefix, person in (
        ("法定代表人", a.legal_representative),
        ("监事", a.supervisor),
        ("财务负责人", a.financial_officer),
        ("联络员", a.liaison),
    ):
        out[f"{prefix}姓名"] = person.name
        out[f"{prefix}身份证号码"] = person.id_number
        out[f"{prefix}手机号码"] = person.mobile
    out["法定代表人职务"] = LEGAL_REP_ROLES[a.legal_representative.role]
    return out


def _amr_shareholders(r: DepartmentRequest) -> dict[str, FieldValue]:
    out: dict[str, FieldValue] = {}
    for i, sh in enumerate(r.application.shareholders, 1):
        p = f"股东{i}"
        out[f"{p}类型"] = SHAREHOLDER_KINDS[sh.kind]
        out[f"{p}名称"] = sh.name
        out[f"{p}证件号码"] = sh.id_number if sh.kind == "natural_person" else sh.uscc
        out[f"{p}认缴出资额（万元）"] = _plain(sh.contribution_wan_yuan)
        out[f"{p}出资方式"] = CONTRIBUTION_METHODS[sh.contribution_method]
        out[f"{p}出资期限"] = sh.contribution_deadline.isoformat()
    return out


def _amr_result(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("uscc", "licence_serial", "approved_at") if k in record}


def _psb_company(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    return {
        "外部业务编号": r.application_id,
        "统一社会信用代码": _require_uscc(r),
        "企业名称": a.company.name,
        "法定代表人姓名": a.legal_representative.name,
        "法定代表人身份证号码": a.legal_representative.id_number,
    }


def _psb_seals(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    wanted = set(a.seal.types)
    out: dict[str, FieldValue] = {label: code in wanted for code, label in SEAL_LABELS.items()}
    out["经办人姓名"] = a.liaison.name
    out["经办人手机号码"] = a.liaison.mobile
    return out


def _psb_result(record: dict[str, Any]) -> dict[str, Any]:
    by_label = {label: code for code, label in SEAL_LABELS.items()}
    shown = record.get("seal_code")
    if not isinstance(shown, dict):
        return {}
    unknown = [label for label in shown if label not in by_label]
    if unknown:
        raise PortalChanged(f"unknown seal types on the progress page: {', '.join(unknown)}")
    return {"seal_codes": {by_label[label]: code for label, code in shown.items()}}


def _hrss_unit(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    return {
        "外部业务编号": r.application_id,
        "统一社会信用代码": _require_uscc(r),
        "单位名称": a.company.name,
        "法定代表人姓名": a.legal_representative.name,
        "法定代表人身份证号码": a.legal_representative.id_number,
        "单位地址": a.company.address.detail,
        "参保人数": str(len(a.social_insurance.enroll_employees)),
    }


def _hrss_employees(r: DepartmentRequest) -> dict[str, FieldValue]:
    out: dict[str, FieldValue] = {}
    for i, e in enumerate(r.application.social_insurance.enroll_employees, 1):
        out[f"参保人{i}姓名"] = e.name
        out[f"参保人{i}身份证号码"] = e.id_number
    return out


def _hpf_unit(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    return {
        "外部业务编号": r.application_id,
        "统一社会信用代码": _require_uscc(r),
        "单位名称": a.company.name,
        "职工人数": str(a.company.employees_expected),
    }


def _hpf_contribution(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    rate = a.housing_fund.contribution_rate
    return {
        # the portal asks for a percentage: 0.12 -> "12"; a missing rate is left for the portal to refuse
        "单位缴存比例（%）": _plain(rate * 100) if rate is not None else "",
        "经办人姓名": a.liaison.name,
        "经办人身份证号码": a.liaison.id_number,
        "经办人手机号码": a.liaison.mobile,
    }


def _single(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def read(record: dict[str, Any]) -> dict[str, Any]:
        return {name: record[name]} if name in record else {}

    return read


FLOWS: dict[str, PortalFlow] = {
    "amr": PortalFlow(
        department="amr",
        apply_link="企业设立登记",
        steps=(
            FlowStep("basic", "企业基本信息", _amr_basic),
            FlowStep("people", "主要人员信息", _amr_people),
            FlowStep("shareholders", "股东（发起人）出资信息", _amr_shareholders),
        ),
        read_result=_amr_result,
        needs_uscc=False,
    ),
    "psb_seal": PortalFlow(
        department="psb_seal",
        apply_link="新刻印章备案",
        steps=(
            FlowStep("company", "用章单位信息", _psb_company),
            FlowStep("seals", "刻制信息", _psb_seals),
        ),
        read_result=_psb_result,
    ),
    "hrss": PortalFlow(
        department="hrss",
        apply_link="单位社会保险登记",
        steps=(
            FlowStep("unit", "单位基本信息", _hrss_unit),
            FlowStep("employees", "参保人员信息", _hrss_employees),
        ),
        read_result=_single("si_unit_code"),
    ),
    "hpf": PortalFlow(
        department="hpf",
        apply_link="单位缴存登记",
        steps=(
            FlowStep("unit", "单位信息", _hpf_unit),
            FlowStep("contribution", "缴存信息", _hpf_contribution),
        ),
        read_result=_single("hpf_unit_account"),
    ),
}

STATUSES = {"审核中": "in_review", "已办结": "completed", "已退回": "rejected", "已撤回": "withdrawn"}
CLOSED = ("rejected", "withdrawn")  # a case in these states is no longer live


# ---------------------------------------------------------------------------
# The two entry points
# ---------------------------------------------------------------------------


def _flow(department: str) -> PortalFlow:
    try:
        return FLOWS[department]
    except KeyError:
        raise ValueError(f"no robot flow for department {department!r}; known: {', '.join(FLOWS)}") from None


class _Steps:
    """Tracks the current step (for error context) and reports it to ``on_step``."""

    def __init__(self, on_step: StepCallback) -> None:
        self.on_step = on_step
        self.current = "start"

    async def __call__(self, name: str, *, report: bool = True) -> None:
        self.current = name
        if report and self.on_step is not None:
            outcome = self.on_step(name)
            if inspect.isawaitable(outcome):
                await outcome


PROGRESS_PATH = "/progress"  # the progress page's address (a bookmark): logging in leads straight there


async def _log_in_and_open_progress(page: Page, access: PortalAccess) -> tuple[ProgressPage, bool]:
    """The progress page, logged in; and whether the session was already logged in (a reused one)."""
    evidence.register_secret(page, access.password)  # kept out of any trace of this session
    login = await LoginPage(page, access.base_url).open(landing=PROGRESS_PATH)
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
    order = [*(f"form:{fs.slug}" for fs in _flow(department).steps), "submit", "receipt"]
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
) -> Receipt:
    """File ``request`` at its department's portal (at most once per application id); return the receipt.

    ``resume_from``: the last step a previous attempt of this task reached (its heartbeat); from a
    form step on, a form the portal still holds for this application is continued (module docstring).
    """
    flow = _flow(request.department)
    if flow.needs_uscc:
        _require_uscc(request)
    # compute every value before touching the browser: a mapping error is not a portal error
    step_values = [(step, dict(step.values(request))) for step in flow.steps]
    blog = log.bind(department=flow.department, application_id=request.application_id)
    steps = _Steps(on_step)
    try:
        await steps("login")
        progress, reused = await _log_in_and_open_progress(page, access)
        # a form can only be left on the portal in a session that outlived the previous attempt
        resume = step_rank(flow.department, resume_from) >= 0
        if resume and not reused:
            blog.info("robot.dispatch.no_draft_to_resume", resume_from=resume_from, reason="new_session")
            resume = False

        reported: set[str] = set()  # each step is reported once, however often it is redone

        async def step(name: str) -> None:
            await steps(name, report=name not in reported)
            reported.add(name)

        relogins = 0
        while True:
            await step("search_existing")
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
                    await step("resume_draft")
                    menu, start = await _resume_point(progress, access, flow, request, resume_from, blog)
                return await _file(menu, flow, request, step_values, step, blog, start=start)
            except SessionExpired:
                # logged out mid-form (会话已过期): the draft went with the session. Log in again,
                # search again (the submission may have been stored), and fill the form anew.
                relogins += 1
                if relogins > MAX_RELOGINS:
                    raise
                blog.info("robot.dispatch.session_expired", step=steps.current, relogin=relogins)
                await steps("relogin")
                progress, _ = await _log_in_and_open_progress(page, access)
    except PortalError as exc:
        _located(exc, flow.department, steps.current, blog)
        raise
    except PlaywrightError as exc:
        raise _located(from_playwright(exc, what=steps.current), flow.department, steps.current, blog) from exc


MAX_RELOGINS = 5  # per dispatch: a portal that logs us out more often is treated as unavailable (retried)

_Start = tuple[int, "WizardStepPage | ConfirmPage"]  # (index of the first step to fill, the page showing it)


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
    where = await first.continue_draft(access.base_url)
    if isinstance(where, ConfirmPage):
        index = len(flow.steps)
    else:
        assert where.snap is not None
        titles = [fs.title for fs in flow.steps]
        index = next((i for i, t in enumerate(titles) if t in where.snap.main_heading), -1)
        if index < 0:
            raise PortalChanged(f"the draft goes on at an unknown page {where.snap.main_heading!r}")
    at = flow.steps[index].slug if index < len(flow.steps) else "confirm"
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
        await current.fill_in(values)
        if i + 1 < len(step_values):
            current = await current.proceed_to_next_step()
        else:
            confirm = await current.proceed_to_confirmation()
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
    steps = _Steps(on_step)
    try:
        await steps("login")
        progress, _ = await _log_in_and_open_progress(page, access)

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
        status = STATUSES.get(record["status"])
        if status is None:
            raise PortalChanged(f"unknown case status {record['status']!r}")
        if status == "completed":
            try:
                result = validate_result(department, flow.read_result(record))
            except ValidationError as exc:
                raise PortalChanged(
                    f"the completed case shows an unreadable result: {exc.error_count()} problems"
                ) from exc
            inquiry = Inquiry(status="completed", result=result)
        elif status == "rejected":
            inquiry = Inquiry(status="rejected", reason=record.get("reason") or "部门退回，未说明原因")
        elif status == "withdrawn":
            inquiry = Inquiry(status="withdrawn", reason=record.get("withdrawal_reason") or None)
        else:
            inquiry = Inquiry(status="in_review")
        blog.info("robot.inquire.read", receipt_no=record["receipt_no"], status=status)
        return inquiry
    except PortalError as exc:
        _located(exc, department, steps.current, blog)
        raise
    except PlaywrightError as exc:
        raise _located(from_playwright(exc, what=steps.current), department, steps.current, blog) from exc


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
    """
    _flow(department)
    if not reason or not reason.strip():
        raise ValueError("a withdrawal needs a reason (撤回原因)")
    if not application_id and not receipt_no:
        raise ValueError("a withdrawal needs the application id or the receipt number")
    blog = log.bind(department=department, application_id=application_id)
    steps = _Steps(on_step)

    def ours(record: dict[str, Any]) -> bool:
        if application_id:
            return record.get("application_id") == application_id
        return record["receipt_no"] == receipt_no

    try:
        await steps("login")
        progress, _ = await _log_in_and_open_progress(page, access)
        withdrawn: list[str] = []
        while True:
            await steps("search")
            search = {"application_id": application_id} if application_id else {"receipt_no": receipt_no}
            records = [r for r in await progress.search(**search) if ours(r)]
            unknown = [r["status"] for r in records if r["status"] not in STATUSES]
            if unknown:
                raise PortalChanged(f"unknown case status {unknown[0]!r}")
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
    except PortalError as exc:
        _located(exc, department, steps.current, blog)
        raise
    except PlaywrightError as exc:
        raise _located(from_playwright(exc, what=steps.current), department, steps.current, blog) from exc


def _located(exc: PortalError, department: str, step: str, blog: Any) -> PortalError:
    exc.department = exc.department or department
    exc.step = exc.step or step
    blog.warning("robot.failed", step=exc.step, error=type(exc).__name__, retryable=exc.retryable, detail=exc.message)
    return exc

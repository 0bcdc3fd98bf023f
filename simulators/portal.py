"""Legacy web portals of the departments that have no API (amr, psb_seal, hrss, hpf).

A simulator stands in for a foreign system: it imports nothing of ours (no
``domain``, no ``bots``), only the stdlib, FastAPI, Jinja2 and python-stdnum.

Every portal is one data-driven :class:`PortalSpec` (steps, fields, labels,
validation, what it issues) rendered by one generic FastAPI app:

- ``GET /login`` / ``POST /login``   user name + password (random-token cookie session)
- ``GET /``                          办事大厅 (home, with the menu)
- ``GET /apply``                     starts a new draft, redirects to step 1
- ``GET|POST /apply/step/{n}``       wizard steps; the draft lives in the server session
- ``GET /apply/confirm``, ``POST /apply/submit``   confirmation, then the submission
- ``GET /receipt/{receipt_no}``      受理回执 with the 受理号
- ``GET /progress``                  办理进度查询 by 外部业务编号 (our application_id) or 受理号;
                                     every live case (审核中, 已办结) has a 撤回 form (reason + button)
- ``POST /cases/{receipt_no}/withdrawal``  withdraw a case (form field ``reason``), then
  ``GET /cases/{receipt_no}/withdrawal`` the confirmation (办件撤回: 已撤回). Idempotent: a case
  already withdrawn is confirmed again; one already sent back (已退回) is left as it is.
- ``GET /_admin/submissions``        JSON, no login (tests and the demo)
- ``POST /_admin/submissions/{receipt_no}/reject``  the department sends a case back (需补正)
- ``POST /_admin/submissions/{receipt_no}/complete`` the department finishes now (fast-forward)
- ``GET|POST /_admin/rejections``, ``DELETE /_admin/rejections/{application_id}``  rejection rules
  (no login): ``POST {"application_id", "reason"}`` makes the department reject that application's
  submissions still in review and every one received until the rule is deleted, with that reason,
  when processing ends (``process_delay_s``). ``reject_application_ids`` sets rules at start.

A case is *live* until it is rejected (已退回) or withdrawn (已撤回); a new submission for
an application whose cases are all closed is a new live case. amr rejects every
company name containing ``测试驳回`` (名称重复：…) when processing ends: a trigger for trials.

Server-side validation errors are shown in red next to the field and in a
``role="alert"`` summary. Results appear on the progress page as structured
markup (``<dd data-field="uscc">``) once ``process_delay_s`` has passed.

How the portal misbehaves is a :class:`Behaviour`, given to :func:`create_portal_app`
(``behaviour=Behaviour(...)`` or the same names as keyword arguments) and changed at run time
with ``PUT /_admin/behaviour`` (JSON, the fields to change; no login; ``GET`` reads it):

- ``captcha``: ``None``, ``"arithmetic"`` ("3 + 4 = ?") or ``"characters"`` ("请输入验证码：K7QP"),
  asked on the login page (field 验证码); a wrong answer is an error in red and a new captcha;
- ``session_idle_timeout_s``: a session idle that long is gone; any page then redirects to the
  login page, which says 会话已过期，请重新登录 (the draft of the wizard is lost with the session);
- ``session_lifetime_s``: a session that old (since its login) is gone the same way, however
  busy it was (a portal that logs everyone out every few minutes);
- ``error_rate`` (0..1) with ``error_seed``: that fraction of requests is answered 503 with a plain
  error page (服务暂时不可用), drawn from ``random.Random(error_seed)`` so a test is repeatable.
  A GET fails before doing anything; a POST fails *after* the portal did its work (a gateway that
  timed out), so a submission can be stored while the robot sees a 503;
- ``slow_s``: every response waits that long first;
- ``maintenance`` (+ ``maintenance_retry_after_s``): every page is a 503 系统维护中 with ``Retry-After``;
- ``version``: 2 renames the wizard's labels (e.g. 企业名称 → 名称（字号全称）, 外部业务编号 → 关联业务编号)
  and its control names and ids (prefix ``v2_``), so landmarks of version 1 no longer match.

``/_admin/*`` is exempt from every behaviour.

``GET /_admin/counters`` (no login) tells what the portal did since it started (soak runs):
``requests`` (not counting ``/_admin``), ``responses_5xx`` (every 5xx answer), ``errors_injected``
(the 503s of ``error_rate``), ``logins`` (successful), ``sessions_expired_idle``,
``sessions_expired_lifetime``, ``relogins_after_expiry`` (a login from a browser whose session had
expired) and ``sessions_open``. The app's ``state.counters`` is the same dict (without
``sessions_open``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

from simulators import store

__all__ = [
    "PORTAL_CODES",
    "PORTAL_SPECS",
    "Behaviour",
    "FieldSpec",
    "PortalSpec",
    "RepeatSpec",
    "StepSpec",
    "count_live_submissions",
    "count_submissions",
    "create_portal_app",
    "issue_uscc",
    "list_submissions",
]

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates" / "portal"
SESSION_COOKIE = "PORTALSESSID"
STATUS_LABELS = {
    store.IN_REVIEW: "审核中",
    store.COMPLETED: "已办结",
    store.REJECTED: "已退回",
    store.WITHDRAWN: "已撤回",
}
DEFAULT_REJECTION_REASON = "材料不齐全，需补正"
AMR_REJECT_MARKER = "测试驳回"
AMR_NAME_TAKEN = "名称重复：与已登记企业名称近似，请更换字号"
# what GET /_admin/counters counts (see the module docstring)
COUNTERS = (
    "requests",
    "responses_5xx",
    "errors_injected",
    "logins",
    "sessions_expired_idle",
    "sessions_expired_lifetime",
    "relogins_after_expiry",
)


# ---------------------------------------------------------------------------
# Portal definitions (data)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One form control: ``name`` is the HTML name/id, ``label`` the visible <label>."""

    name: str
    label: str
    kind: str = "text"  # text | textarea | select | date | checkboxes | password
    required: bool = True
    check: str | None = None  # a key of CHECKS
    options: tuple[tuple[str, str], ...] = ()  # (value, visible label) for select / checkboxes
    hint: str = ""


@dataclass(frozen=True)
class RepeatSpec:
    """A variable number of rows (shareholders, employees).

    The row count is a field of an earlier step (``count_field``); this step then
    renders that many rows, each a fieldset with labels such as "股东2名称", so a
    robot can address every control by its label without any client-side script.
    """

    name: str
    count_field: str
    legend: str  # e.g. "股东{n}"
    fields: tuple[FieldSpec, ...]
    row_check: Callable[[dict[str, Any], str], dict[str, str]] | None = None  # (row, legend) -> errors


@dataclass(frozen=True)
class StepSpec:
    slug: str
    title: str
    fields: tuple[FieldSpec, ...] = ()
    repeat: RepeatSpec | None = None
    check: Callable[[dict[str, Any]], dict[str, str]] | None = None  # whole draft -> errors (cross-field)


@dataclass(frozen=True)
class PortalSpec:
    code: str
    system_name: str
    department: str
    apply_title: str  # menu link and title of the application wizard
    receipt_prefix: str
    name_label: str  # how this department calls the enterprise name
    steps: tuple[StepSpec, ...]
    issue_result: Callable[[int, dict[str, Any], datetime], dict[str, Any]]
    result_rows: Callable[[dict[str, Any]], list[tuple[str, str | None, str, str]]]  # (field, key, label, value)
    shows_uscc: bool = True  # show the USCC it was given (every department but amr)
    # the department's own review: a submission's data -> the reason it will be rejected, or None
    review: Callable[[dict[str, Any]], str | None] | None = None
    login_fields: tuple[FieldSpec, ...] = (
        FieldSpec("username", "用户名"),
        FieldSpec("password", "密码", kind="password"),
    )


@dataclass
class Behaviour:
    """How a portal instance misbehaves; see the module docstring. Mutable: ``PUT /_admin/behaviour``."""

    process_delay_s: float = 0.0
    step_delay_s: float = 0.0
    captcha: Literal[None, "arithmetic", "characters"] = None
    session_idle_timeout_s: float | None = None
    session_lifetime_s: float | None = None
    error_rate: float = 0.0
    error_seed: int | None = None
    slow_s: float = 0.0
    maintenance: bool = False
    maintenance_retry_after_s: int = 120
    version: Literal[1, 2] = 1

    def __post_init__(self) -> None:
        problems = behaviour_problems(dataclasses.asdict(self))
        if problems:
            raise ValueError("; ".join(problems))


def behaviour_problems(values: Mapping[str, Any]) -> list[str]:
    """What is wrong with these Behaviour field values (unknown names, types, ranges)."""
    known = {f.name for f in dataclasses.fields(Behaviour)}
    out = [f"unknown behaviour {k!r}" for k in values if k not in known]

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for k, v in values.items():
        if k in ("process_delay_s", "step_delay_s", "slow_s") and not (number(v) and v >= 0):
            out.append(f"{k} must be a number >= 0")
        elif k in ("session_idle_timeout_s", "session_lifetime_s") and not (v is None or (number(v) and v > 0)):
            out.append(f"{k} must be null or a number > 0")
        elif k == "error_rate" and not (number(v) and 0 <= v <= 1):
            out.append(f"{k} must be between 0 and 1")
        elif k == "error_seed" and not (v is None or (isinstance(v, int) and not isinstance(v, bool))):
            out.append(f"{k} must be null or an integer")
        elif k == "maintenance" and not isinstance(v, bool):
            out.append(f"{k} must be true or false")
        elif k == "maintenance_retry_after_s" and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            out.append(f"{k} must be an integer >= 0")
        elif k == "captcha" and v not in (None, "arithmetic", "characters"):
            out.append(f"{k} must be null, 'arithmetic' or 'characters'")
        elif k == "version" and (isinstance(v, bool) or v not in (1, 2)):
            out.append(f"{k} must be 1 or 2")
    return out


# version 2 of the portals: the same wizard, relabelled (every other label unchanged)
V2_LABELS: dict[str, str] = {
    "外部业务编号": "关联业务编号",
    "企业名称": "名称（字号全称）",
    "单位名称": "单位全称",
    "统一社会信用代码": "社会信用代码（18位）",
    "企业类型": "市场主体类型",
    "经办人姓名": "经办人",
    "职工人数": "在职职工人数",
}
V2_PREFIX = "v2_"


def _v2_step(step: StepSpec) -> StepSpec:
    def relabel(f: FieldSpec) -> FieldSpec:
        return replace(f, label=V2_LABELS.get(f.label, f.label))

    rep = step.repeat
    return replace(
        step,
        fields=tuple(relabel(f) for f in step.fields),
        repeat=replace(rep, fields=tuple(relabel(f) for f in rep.fields)) if rep else None,
    )


# --- field checks: (value, label) -> error message or None ------------------


def _decimal(value: str) -> Decimal | None:
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _check_external_ref(v: str, label: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9-]{6,64}", v):
        return f"{label}应为6至64位字母、数字或连字符"
    return None


def _check_uscc(v: str, label: str) -> str | None:
    if not re.fullmatch(r"[0-9A-Z]{18}", v) or not _uscc.is_valid(v):
        return f"{label}格式或校验位不正确"
    return None


def _check_ric(v: str, label: str) -> str | None:
    if not re.fullmatch(r"\d{17}[\dX]", v) or _ric.calc_check_digit(v) != v[-1]:
        return f"{label}格式或校验位不正确"
    return None


def _check_mobile(v: str, label: str) -> str | None:
    return None if re.fullmatch(r"1[3-9]\d{9}", v) else f"{label}应为11位手机号码"


def _check_money(v: str, label: str) -> str | None:
    d = _decimal(v)
    if d is None or d <= 0 or d.as_tuple().exponent < -4:
        return f"{label}应为大于0的金额（最多4位小数）"
    return None


def _check_division(v: str, label: str) -> str | None:
    return None if re.fullmatch(r"\d{6}", v) else f"{label}应为6位数字"


def _int_between(lo: int, hi: int) -> Callable[[str, str], str | None]:
    def check(v: str, label: str) -> str | None:
        n = _int(v) if re.fullmatch(r"\d+", v) else None
        return None if n is not None and lo <= n <= hi else f"{label}应为{lo}至{hi}之间的整数"

    return check


def _check_hpf_rate(v: str, label: str) -> str | None:
    d = _decimal(v)
    if d is None or not Decimal(5) <= d <= Decimal(12):
        return f"{label}应在5%至12%之间"
    return None


def _check_date(v: str, label: str) -> str | None:
    try:
        date.fromisoformat(v)
    except ValueError:
        return f"{label}应为有效日期（年-月-日）"
    return None


CHECKS: dict[str, Callable[[str, str], str | None]] = {
    "external_ref": _check_external_ref,
    "uscc": _check_uscc,
    "ric": _check_ric,
    "mobile": _check_mobile,
    "money": _check_money,
    "division": _check_division,
    "count_1_50": _int_between(1, 50),
    "count_0_500": _int_between(0, 500),
    "count_0_100000": _int_between(0, 100000),
    "years_1_100": _int_between(1, 100),
    "hpf_rate": _check_hpf_rate,
    "date": _check_date,
}


# --- what the departments issue -----------------------------------------------

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def issue_uscc(division_code: str, serial: int | None = None) -> str:
    """A USCC as amr issues it: '91' (industry & commerce, enterprise) + division code
    + 9-character organisation code (GB 11714 check) + GB 32100 check character."""
    body = f"{serial % 10**8:08d}" if serial is not None else f"{secrets.randbelow(10**8):08d}"
    partial = "91" + division_code + body + _org_code_check(body)
    return partial + _uscc.calc_check_digit(partial)


def _amr_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    division = data["division_code"]
    # random organisation-code body; the row id keeps the last digits distinct
    serial = secrets.randbelow(10**4) * 10**4 + row_id % 10**4
    return {
        "uscc": issue_uscc(division, serial),
        "licence_serial": f"{division}{ready_at:%Y%m%d}{row_id:06d}",
        "approved_at": ready_at.isoformat(timespec="seconds"),
    }


def _amr_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [
        ("uscc", None, "统一社会信用代码", result["uscc"]),
        ("licence_serial", None, "营业执照编号", result["licence_serial"]),
        ("approved_at", None, "核准日期", result["approved_at"]),
    ]


SEAL_TYPES: tuple[tuple[str, str], ...] = (
    ("GZ", "公章"),
    ("CWZ", "财务专用章"),
    ("FPZ", "发票专用章"),
    ("FRZ", "法定代表人名章"),
    ("HTZ", "合同专用章"),
)


def _psb_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    region = data["uscc"][2:8]
    return {"seal_codes": {code: f"{region}{row_id:05d}{i:02d}" for i, code in enumerate(data["seal_types"], 1)}}


def _psb_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    names = dict(SEAL_TYPES)
    return [("seal_code", names[c], f"{names[c]}编码", v) for c, v in result["seal_codes"].items()]


def _hrss_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    return {"si_unit_code": f"{data['uscc'][2:8]}{row_id:08d}"}


def _hrss_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [("si_unit_code", None, "单位社会保险登记编号", result["si_unit_code"])]


def _hpf_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    return {"hpf_unit_account": f"{data['uscc'][2:6]}0001{row_id:08d}"}


def _hpf_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [("hpf_unit_account", None, "单位公积金账号", result["hpf_unit_account"])]


# --- cross-field checks ---------------------------------------------------------


def _amr_people_check(draft: dict[str, Any]) -> dict[str, str]:
    sup = draft.get("supervisor_id_number")
    if sup and sup in (draft.get("legal_rep_id_number"), draft.get("financial_officer_id_number")):
        return {"supervisor_id_number": "监事不得由法定代表人（执行董事）或财务负责人兼任"}
    return {}


def _amr_shareholder_row(row: dict[str, Any], legend: str) -> dict[str, str]:
    number, kind = row.get("id_number", ""), row.get("kind")
    if not number or not kind:
        return {}
    if kind == "natural_person":
        msg = _check_ric(number, f"{legend}身份证号码")
    else:
        msg = _check_uscc(number, f"{legend}统一社会信用代码")
    return {"id_number": msg} if msg else {}


def _amr_capital_check(draft: dict[str, Any]) -> dict[str, str]:
    capital = _decimal(draft.get("registered_capital", ""))
    n = _int(draft.get("shareholder_count"), 0) or 0
    amounts = [_decimal(draft.get(f"shareholders-{i}-contribution", "")) for i in range(1, n + 1)]
    if capital is None or any(a is None for a in amounts):
        return {}
    if sum(amounts, Decimal(0)) != capital:
        return {"_form": f"股东认缴出资额合计（{sum(amounts, Decimal(0))}万元）与注册资本（{capital}万元）不一致"}
    return {}


def _amr_name_review(data: dict[str, Any]) -> str | None:
    """amr's name check (a trigger for trials): a name containing 测试驳回 is taken."""
    return AMR_NAME_TAKEN if AMR_REJECT_MARKER in str(data.get("company_name") or "") else None


def _external_ref() -> FieldSpec:
    return FieldSpec("external_ref", "外部业务编号", check="external_ref", hint="一窗通办系统的业务编号")


_AMR = PortalSpec(
    code="amr",
    system_name="山西省市场主体登记全程电子化平台",
    department="市场监督管理局",
    apply_title="企业设立登记",
    receipt_prefix="SCJG",
    name_label="企业名称",
    shows_uscc=False,
    steps=(
        StepSpec(
            "basic",
            "企业基本信息",
            fields=(
                _external_ref(),
                FieldSpec("company_name", "企业名称"),
                FieldSpec(
                    "entity_type",
                    "企业类型",
                    kind="select",
                    options=(("1100", "有限责任公司"), ("1200", "股份有限公司")),
                ),
                FieldSpec("registered_capital", "注册资本（万元）", check="money"),
                FieldSpec("division_code", "住所行政区划代码", check="division"),
                FieldSpec("address_detail", "住所详细地址"),
                FieldSpec("business_scope", "经营范围", kind="textarea", hint="多项经营范围以分号分隔"),
                FieldSpec(
                    "operating_term_years", "营业期限（年）", required=False, check="years_1_100", hint="留空为长期"
                ),
                FieldSpec("shareholder_count", "股东人数", check="count_1_50"),
            ),
        ),
        StepSpec(
            "people",
            "主要人员信息",
            fields=(
                FieldSpec("legal_rep_name", "法定代表人姓名"),
                FieldSpec("legal_rep_id_number", "法定代表人身份证号码", check="ric"),
                FieldSpec("legal_rep_mobile", "法定代表人手机号码", check="mobile"),
                FieldSpec(
                    "legal_rep_role",
                    "法定代表人职务",
                    kind="select",
                    options=(("01", "执行董事"), ("02", "董事长"), ("03", "经理")),
                ),
                FieldSpec("supervisor_name", "监事姓名"),
                FieldSpec("supervisor_id_number", "监事身份证号码", check="ric"),
                FieldSpec("supervisor_mobile", "监事手机号码", check="mobile"),
                FieldSpec("financial_officer_name", "财务负责人姓名"),
                FieldSpec("financial_officer_id_number", "财务负责人身份证号码", check="ric"),
                FieldSpec("financial_officer_mobile", "财务负责人手机号码", check="mobile"),
                FieldSpec("liaison_name", "联络员姓名"),
                FieldSpec("liaison_id_number", "联络员身份证号码", check="ric"),
                FieldSpec("liaison_mobile", "联络员手机号码", check="mobile"),
            ),
            check=_amr_people_check,
        ),
        StepSpec(
            "shareholders",
            "股东（发起人）出资信息",
            repeat=RepeatSpec(
                name="shareholders",
                count_field="shareholder_count",
                legend="股东{n}",
                fields=(
                    FieldSpec(
                        "kind",
                        "类型",
                        kind="select",
                        options=(("natural_person", "自然人"), ("legal_person", "企业法人")),
                    ),
                    FieldSpec("name", "名称"),
                    FieldSpec("id_number", "证件号码"),
                    FieldSpec("contribution", "认缴出资额（万元）", check="money"),
                    FieldSpec(
                        "method",
                        "出资方式",
                        kind="select",
                        options=(
                            ("1", "货币"),
                            ("2", "实物"),
                            ("3", "知识产权"),
                            ("4", "土地使用权"),
                            ("5", "股权"),
                            ("6", "债权"),
                        ),
                    ),
                    FieldSpec("deadline", "出资期限", kind="date", check="date"),
                ),
                row_check=_amr_shareholder_row,
            ),
            check=_amr_capital_check,
        ),
    ),
    issue_result=_amr_result,
    result_rows=_amr_rows,
    review=_amr_name_review,
)

_PSB_SEAL = PortalSpec(
    code="psb_seal",
    system_name="公安机关印章治安管理信息系统",
    department="公安局",
    apply_title="新刻印章备案",
    receipt_prefix="GAYZ",
    name_label="企业名称",
    steps=(
        StepSpec(
            "company",
            "用章单位信息",
            fields=(
                _external_ref(),
                FieldSpec("uscc", "统一社会信用代码", check="uscc"),
                FieldSpec("company_name", "企业名称"),
                FieldSpec("legal_rep_name", "法定代表人姓名"),
                FieldSpec("legal_rep_id_number", "法定代表人身份证号码", check="ric"),
            ),
        ),
        StepSpec(
            "seals",
            "刻制信息",
            fields=(
                FieldSpec("seal_types", "印章类型", kind="checkboxes", options=SEAL_TYPES),
                FieldSpec("liaison_name", "经办人姓名"),
                FieldSpec("liaison_mobile", "经办人手机号码", check="mobile"),
            ),
        ),
    ),
    issue_result=_psb_result,
    result_rows=_psb_rows,
)

_HRSS = PortalSpec(
    code="hrss",
    system_name="山西省人力资源和社会保障网上经办大厅",
    department="人力资源和社会保障局",
    apply_title="单位社会保险登记",
    receipt_prefix="RSSB",
    name_label="单位名称",
    steps=(
        StepSpec(
            "unit",
            "单位基本信息",
            fields=(
                _external_ref(),
                FieldSpec("uscc", "统一社会信用代码", check="uscc"),
                FieldSpec("company_name", "单位名称"),
                FieldSpec("legal_rep_name", "法定代表人姓名"),
                FieldSpec("legal_rep_id_number", "法定代表人身份证号码", check="ric"),
                FieldSpec("address", "单位地址"),
                FieldSpec("employee_count", "参保人数", check="count_0_500"),
            ),
        ),
        StepSpec(
            "employees",
            "参保人员信息",
            repeat=RepeatSpec(
                name="employees",
                count_field="employee_count",
                legend="参保人{n}",
                fields=(FieldSpec("name", "姓名"), FieldSpec("id_number", "身份证号码", check="ric")),
            ),
        ),
    ),
    issue_result=_hrss_result,
    result_rows=_hrss_rows,
)

_HPF = PortalSpec(
    code="hpf",
    system_name="住房公积金网上业务大厅",
    department="住房公积金管理中心",
    apply_title="单位缴存登记",
    receipt_prefix="GJJ",
    name_label="单位名称",
    steps=(
        StepSpec(
            "unit",
            "单位信息",
            fields=(
                _external_ref(),
                FieldSpec("uscc", "统一社会信用代码", check="uscc"),
                FieldSpec("company_name", "单位名称"),
                FieldSpec("employee_count", "职工人数", check="count_0_100000"),
            ),
        ),
        StepSpec(
            "contribution",
            "缴存信息",
            fields=(
                FieldSpec("contribution_rate", "单位缴存比例（%）", check="hpf_rate", hint="5至12"),
                FieldSpec("liaison_name", "经办人姓名"),
                FieldSpec("liaison_id_number", "经办人身份证号码", check="ric"),
                FieldSpec("liaison_mobile", "经办人手机号码", check="mobile"),
            ),
        ),
    ),
    issue_result=_hpf_result,
    result_rows=_hpf_rows,
)

PORTAL_SPECS: dict[str, PortalSpec] = {s.code: s for s in (_AMR, _PSB_SEAL, _HRSS, _HPF)}
PORTAL_CODES = tuple(PORTAL_SPECS)


# ---------------------------------------------------------------------------
# Form mechanics (generic over specs)
# ---------------------------------------------------------------------------


def _step_groups(step: StepSpec, draft: dict[str, Any]) -> list[tuple[str | None, list[FieldSpec]]]:
    """The controls of a step: its own fields, then one group per repeated row."""
    groups: list[tuple[str | None, list[FieldSpec]]] = []
    if step.fields:
        groups.append((None, list(step.fields)))
    if step.repeat:
        rep = step.repeat
        for i in range(1, (_int(draft.get(rep.count_field), 0) or 0) + 1):
            legend = rep.legend.format(n=i)
            groups.append(
                (legend, [replace(f, name=f"{rep.name}-{i}-{f.name}", label=f"{legend}{f.label}") for f in rep.fields])
            )
    return groups


def _read_form(form: Any, groups: list[tuple[str | None, list[FieldSpec]]], prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for _, fields in groups:
        for f in fields:
            if f.kind == "checkboxes":
                values[f.name] = [str(v) for v in form.getlist(prefix + f.name)]
            else:
                v = form.get(prefix + f.name)
                values[f.name] = v.strip() if isinstance(v, str) else ""
    return values


def _validate_field(f: FieldSpec, value: Any) -> str | None:
    if f.kind == "checkboxes":
        allowed = {v for v, _ in f.options}
        if f.required and not value:
            return f"请至少选择一项{f.label}"
        if any(v not in allowed for v in value):
            return f"{f.label}包含无效选项"
        return None
    if not value:
        if f.required:
            return f"请选择{f.label}" if f.kind == "select" else f"{f.label}不能为空"
        return None
    if f.kind == "select" and value not in {v for v, _ in f.options}:
        return f"请选择有效的{f.label}"
    if f.check:
        return CHECKS[f.check](value, f.label)
    return None


def _validate_step(step: StepSpec, values: dict[str, Any], draft: dict[str, Any]) -> dict[str, str]:
    groups = _step_groups(step, draft)
    errors: dict[str, str] = {}
    for _, fields in groups:
        for f in fields:
            msg = _validate_field(f, values.get(f.name))
            if msg:
                errors[f.name] = msg
    rep = step.repeat
    if rep and rep.row_check:
        for i in range(1, (_int(draft.get(rep.count_field), 0) or 0) + 1):
            prefix = f"{rep.name}-{i}-"
            row = {f.name: values.get(prefix + f.name, "") for f in rep.fields}
            for key, msg in rep.row_check(row, rep.legend.format(n=i)).items():
                errors.setdefault(prefix + key, msg)
    if step.check and not errors:
        errors.update(step.check({**draft, **values}))
    return errors


def _structured(spec: PortalSpec, draft: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a submission: flat fields plus one list per repeated group."""
    data: dict[str, Any] = {}
    for step in spec.steps:
        for f in step.fields:
            data[f.name] = draft.get(f.name, [] if f.kind == "checkboxes" else "")
        if step.repeat:
            rep = step.repeat
            n = _int(draft.get(rep.count_field), 0) or 0
            data[rep.name] = [
                {f.name: draft.get(f"{rep.name}-{i}-{f.name}", "") for f in rep.fields} for i in range(1, n + 1)
            ]
    return data


def _display(f: FieldSpec, value: Any) -> str:
    if f.kind == "select":
        return dict(f.options).get(value, value or "")
    if f.kind == "checkboxes":
        names = dict(f.options)
        return "、".join(names.get(v, v) for v in value or [])
    return value or ""


# ---------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(CST)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def create_portal_app(
    code: str,
    *,
    db_path: str | Path,
    username: str,
    password: str,
    process_delay_s: float | None = None,
    step_delay_s: float | None = None,
    reject_application_ids: Mapping[str, str] | None = None,
    behaviour: Behaviour | None = None,
    **knobs: Any,
) -> FastAPI:
    """The legacy portal of department ``code`` (amr, psb_seal, hrss or hpf).

    ``reject_application_ids`` (application id -> reason): rejection rules in force from the
    start, as if posted to ``/_admin/rejections``. ``behaviour`` and/or keyword arguments named
    like its fields (``captcha="arithmetic"``, ``error_rate=0.3``, ...) set how it misbehaves;
    keyword arguments win. The app's ``state.behaviour`` is that (mutable) object.
    """
    spec = PORTAL_SPECS.get(code)
    if spec is None:
        raise ValueError(f"no portal simulator for department {code!r}; known: {', '.join(PORTAL_CODES)}")
    if process_delay_s is not None:
        knobs["process_delay_s"] = process_delay_s
    if step_delay_s is not None:
        knobs["step_delay_s"] = step_delay_s
    problems = behaviour_problems(knobs)
    if problems:
        raise ValueError("; ".join(problems))
    behaviour = replace(behaviour or Behaviour(), **knobs)
    v2_steps = tuple(_v2_step(step) for step in spec.steps)
    rng = random.Random(behaviour.error_seed)
    captchas: dict[str, str] = {}  # captcha id -> expected answer (one use each)
    db_path = Path(db_path)
    store.init_db(db_path)

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(spec=spec, display=_display, status_labels=STATUS_LABELS)
    sessions: dict[str, dict[str, Any]] = {}
    n_steps = len(spec.steps)
    rejection_rules: dict[str, str] = {}
    counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
    expired_tokens: set[str] = set()  # sessions that expired: a login from one of them is a re-login

    def add_rejection_rule(application_id: str, reason: str) -> int:
        rejection_rules[application_id] = reason
        return store.decide_rejection(db_path, spec.code, application_id, reason)

    for application_id, reason in (reject_application_ids or {}).items():
        add_rejection_rule(str(application_id), str(reason) or DEFAULT_REJECTION_REASON)

    app = FastAPI(title=spec.system_name, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.spec = spec
    app.state.behaviour = behaviour
    app.state.db_path = db_path
    app.state.sessions = sessions
    app.state.rejection_rules = rejection_rules
    app.state.counters = counters

    def session_of(request: Request) -> dict[str, Any] | None:
        token = request.cookies.get(SESSION_COOKIE)
        session = sessions.get(token) if token else None
        if session is None:
            return None
        now = getattr(request.state, "arrived", None) or time.time()
        idle, lifetime = behaviour.session_idle_timeout_s, behaviour.session_lifetime_s
        idle_expired = idle is not None and now - session.get("seen", now) > idle
        if idle_expired or (lifetime is not None and now - session.get("created", now) > lifetime):
            sessions.pop(token, None)
            counters["sessions_expired_idle" if idle_expired else "sessions_expired_lifetime"] += 1
            if len(expired_tokens) > 10_000:
                expired_tokens.clear()
            expired_tokens.add(token)
            request.state.expired = True
            return None
        session["seen"] = now
        return session

    def steps_now() -> tuple[StepSpec, ...]:
        return v2_steps if behaviour.version == 2 else spec.steps

    def wire_prefix() -> str:
        return V2_PREFIX if behaviour.version == 2 else ""

    def new_captcha() -> dict[str, str] | None:
        if behaviour.captcha is None:
            return None
        if behaviour.captcha == "arithmetic":
            a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
            op = ("+", "-", "×")[secrets.randbelow(3)]
            if op == "-" and b > a:
                a, b = b, a
            answer = a + b if op == "+" else a - b if op == "-" else a * b
            question, expected = f"{a} {op} {b} = ?", str(answer)
        else:
            alphabet = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")
            expected = "".join(secrets.choice(alphabet) for _ in range(4))
            question = f"请输入验证码：{expected}"
        captcha_id = secrets.token_urlsafe(12)
        if len(captchas) > 10_000:  # never-answered captchas must not grow without end
            captchas.clear()
        captchas[captcha_id] = expected
        return {"id": captcha_id, "question": question}

    def plain_error(status: int, title: str, text: str, headers: dict[str, str] | None = None) -> HTMLResponse:
        html = (
            f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{status} {title}</title></head>'
            f"<body><h1>{title}</h1><p>{text}</p></body></html>"
        )
        return HTMLResponse(html, status_code=status, headers=headers)

    @app.middleware("http")
    async def misbehave(request: Request, call_next: Callable[[Request], Any]) -> Response:
        path = request.url.path
        if path.startswith("/_admin") or path == "/favicon.ico":
            return await call_next(request)
        request.state.arrived = time.time()
        counters["requests"] += 1
        if behaviour.slow_s > 0:
            await asyncio.sleep(behaviour.slow_s)
        if behaviour.maintenance:
            counters["responses_5xx"] += 1
            return plain_error(
                503,
                "系统维护中",
                f"系统维护中，请于{behaviour.maintenance_retry_after_s}秒后再试。",
                {"Retry-After": str(behaviour.maintenance_retry_after_s)},
            )
        fail = behaviour.error_rate > 0 and rng.random() < behaviour.error_rate
        if fail and request.method == "GET":
            counters["errors_injected"] += 1
            counters["responses_5xx"] += 1
            return plain_error(503, "服务暂时不可用", "服务器繁忙，请稍后再试。")
        response = await call_next(request)
        token = request.cookies.get(SESSION_COOKIE)
        if token and token in sessions:
            sessions[token]["seen"] = time.time()
        if fail:  # the work is done, the answer lost
            counters["errors_injected"] += 1
            counters["responses_5xx"] += 1
            return plain_error(503, "服务暂时不可用", "服务器繁忙，请稍后再试。")
        if response.status_code >= 500:
            counters["responses_5xx"] += 1
        return response

    def render(template: str, session: dict[str, Any] | None, *, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("errors", {})
        html = env.get_template(template).render(user=session["user"] if session else None, **ctx)
        return HTMLResponse(html, status_code=status)

    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expired = "&expired=1" if getattr(request.state, "expired", False) else ""
        return RedirectResponse(f"/login?next={quote(target)}{expired}", status_code=303)

    async def slow_step() -> None:
        if behaviour.step_delay_s > 0:
            await asyncio.sleep(behaviour.step_delay_s)

    def first_open_step(session: dict[str, Any]) -> int:
        done = session["done"]
        for i in range(1, n_steps + 1):
            if i not in done:
                return i
        return n_steps + 1

    # --- login ----------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/", expired: str = "") -> Response:
        notice = "会话已过期，请重新登录" if expired else ""
        return render(
            "login.html",
            None,
            page_title="用户登录",
            values={},
            next=_safe_next(next),
            captcha=new_captcha(),
            notice=notice,
        )

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        values = {f.name: str(form.get(f.name) or "") for f in spec.login_fields}
        target = _safe_next(str(form.get("next") or "/"))
        errors = {f.name: f"请输入{f.label}" for f in spec.login_fields if not values[f.name]}
        if not errors and not (
            secrets.compare_digest(values["username"].encode(), username.encode())
            and secrets.compare_digest(values["password"].encode(), password.encode())
        ):
            errors["_form"] = "用户名或密码错误"
        if behaviour.captcha is not None:
            expected = captchas.pop(str(form.get("captcha_id") or ""), None)
            answer = str(form.get("captcha") or "").strip()
            if not answer:
                errors["captcha"] = "请输入验证码"
            elif expected is None or answer.upper() != expected.upper():
                errors["captcha"] = "验证码错误，请重新输入"
        if errors:
            values["password"] = ""
            return render(
                "login.html",
                None,
                page_title="用户登录",
                values=values,
                next=target,
                errors=errors,
                captcha=new_captcha(),
                notice="",
            )
        counters["logins"] += 1
        old_token = request.cookies.get(SESSION_COOKIE)
        if old_token and old_token in expired_tokens:
            expired_tokens.discard(old_token)
            counters["relogins_after_expiry"] += 1
        token = secrets.token_urlsafe(32)
        now = time.time()
        sessions[token] = {"user": values["username"], "draft": {}, "done": set(), "created": now, "seen": now}
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/")
        return response

    @app.get("/logout")
    async def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            sessions.pop(token, None)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        return render("home.html", session, page_title="办事大厅")

    # --- the wizard -------------------------------------------------------------

    @app.get("/apply")
    async def start_application(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        session["draft"], session["done"] = {}, set()
        return RedirectResponse("/apply/step/1", status_code=303)

    def render_step(session: dict[str, Any], n: int, values: dict[str, Any], errors: dict[str, str]) -> Response:
        step = steps_now()[n - 1]
        return render(
            "step.html",
            session,
            page_title=step.title,
            step=step,
            n=n,
            total=n_steps,
            groups=_step_groups(step, session["draft"]),
            values=values,
            errors=errors,
            prefix=wire_prefix(),
        )

    @app.get("/apply/step/{n}", response_class=HTMLResponse)
    async def step_form(request: Request, n: int) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        if not 1 <= n <= n_steps:
            return render("message.html", session, status=404, page_title="页面不存在", message="您访问的页面不存在。")
        if n > first_open_step(session):
            return RedirectResponse(f"/apply/step/{first_open_step(session)}", status_code=303)
        return render_step(session, n, session["draft"], {})

    @app.post("/apply/step/{n}", response_class=HTMLResponse)
    async def step_submit(request: Request, n: int) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        await slow_step()
        if not 1 <= n <= n_steps or n > first_open_step(session):
            return RedirectResponse(f"/apply/step/{min(first_open_step(session), n_steps)}", status_code=303)
        step = steps_now()[n - 1]
        values = _read_form(await request.form(), _step_groups(step, session["draft"]), wire_prefix())
        errors = _validate_step(step, values, session["draft"])
        if errors:
            return render_step(session, n, {**session["draft"], **values}, errors)
        session["draft"].update(values)
        session["done"].add(n)
        # a changed earlier answer (e.g. the row count) invalidates the later steps
        session["done"] = {i for i in session["done"] if i <= n}
        nxt = f"/apply/step/{n + 1}" if n < n_steps else "/apply/confirm"
        return RedirectResponse(nxt, status_code=303)

    def summary(draft: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
        out = []
        for step in steps_now():
            rows = [(f.label, _display(f, draft.get(f.name))) for _, fs in _step_groups(step, draft) for f in fs]
            out.append((step.title, rows))
        return out

    @app.get("/apply/confirm", response_class=HTMLResponse)
    async def confirm(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        if first_open_step(session) <= n_steps:
            return RedirectResponse(f"/apply/step/{first_open_step(session)}", status_code=303)
        return render("confirm.html", session, page_title="确认提交", summary=summary(session["draft"]))

    @app.post("/apply/submit", response_class=HTMLResponse)
    async def submit(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        if first_open_step(session) <= n_steps:
            return RedirectResponse(f"/apply/step/{first_open_step(session)}", status_code=303)
        data = _structured(spec, session["draft"])
        decision = rejection_rules.get(data["external_ref"]) or (spec.review(data) if spec.review else None)
        now = _now()
        submitted_ts = now.timestamp()
        ready_at = now + timedelta(seconds=behaviour.process_delay_s)
        row = store.insert_submission(
            db_path,
            portal=spec.code,
            application_id=data["external_ref"],
            data=data,
            submitted_at=now.isoformat(timespec="seconds"),
            submitted_ts=submitted_ts,
            ready_ts=submitted_ts + behaviour.process_delay_s,
            make_receipt_no=lambda row_id: f"{spec.receipt_prefix}{now:%Y%m%d}{row_id:06d}",
            make_result=lambda row_id: spec.issue_result(row_id, data, ready_at),
            username=session["user"],
            decision_reason=decision,
        )
        session["draft"], session["done"] = {}, set()
        # stored first, answered late: a robot killed while waiting must find it on retry
        await slow_step()
        return RedirectResponse(f"/receipt/{row['receipt_no']}", status_code=303)

    @app.get("/receipt/{receipt_no}", response_class=HTMLResponse)
    async def receipt(request: Request, receipt_no: str) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        rows = store.find_submissions(db_path, receipt_no=receipt_no)
        if not rows:
            return render("message.html", session, status=404, page_title="页面不存在", message="未找到该受理回执。")
        return render("receipt.html", session, page_title="受理回执", record=rows[0])

    # --- progress inquiry ---------------------------------------------------------

    def render_progress(
        session: dict[str, Any], external_ref: str, receipt_no: str, searched: bool, errors: dict[str, str]
    ) -> HTMLResponse:
        records: list[dict[str, Any]] = []
        if searched:
            records = store.find_submissions(
                db_path, application_id=external_ref or None, receipt_no=receipt_no or None
            )
        return render(
            "progress.html",
            session,
            page_title="办理进度查询",
            values={"external_ref": external_ref, "receipt_no": receipt_no},
            searched=searched,
            records=[dict(r, result_rows=spec.result_rows(r["result"]) if r["result"] else []) for r in records],
            live_statuses=(store.IN_REVIEW, store.COMPLETED),
            errors=errors,
        )

    @app.get("/progress", response_class=HTMLResponse)
    async def progress(request: Request, external_ref: str = "", receipt_no: str = "") -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        external_ref, receipt_no = external_ref.strip(), receipt_no.strip()
        searched = "external_ref" in request.query_params or "receipt_no" in request.query_params
        errors: dict[str, str] = {}
        if searched and not external_ref and not receipt_no:
            errors["_form"] = "请输入外部业务编号或受理号"
            searched = False
        return render_progress(session, external_ref, receipt_no, searched, errors)

    # --- withdrawal (撤回) ------------------------------------------------------------

    @app.post("/cases/{receipt_no}/withdrawal", response_class=HTMLResponse)
    async def withdraw_case(request: Request, receipt_no: str) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        form = await request.form()
        reason = str(form.get("reason") or "").strip()
        if not store.find_submissions(db_path, receipt_no=receipt_no):
            return render("message.html", session, status=404, page_title="页面不存在", message="未找到该办件。")
        if not reason:
            return render_progress(session, "", receipt_no, True, {"withdraw_reason": "请填写撤回原因"})
        await slow_step()
        store.withdraw(db_path, receipt_no, reason[:200], _now().isoformat(timespec="seconds"))
        return RedirectResponse(f"/cases/{quote(receipt_no)}/withdrawal", status_code=303)

    @app.get("/cases/{receipt_no}/withdrawal", response_class=HTMLResponse)
    async def withdrawal_result(request: Request, receipt_no: str) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        rows = store.find_submissions(db_path, receipt_no=receipt_no)
        if not rows:
            return render("message.html", session, status=404, page_title="页面不存在", message="未找到该办件。")
        return render("withdrawal.html", session, page_title="办件撤回", record=rows[0])

    # --- admin (no login; tests and the demo) ----------------------------------------

    @app.get("/_admin/submissions")
    async def admin_submissions(application_id: str | None = None) -> JSONResponse:
        return JSONResponse(store.find_submissions(db_path, application_id=application_id))

    @app.post("/_admin/submissions/{receipt_no}/reject")
    async def admin_reject(receipt_no: str, request: Request) -> JSONResponse:
        body = await request.json() if await request.body() else {}
        reason = str(body.get("reason") or "材料不齐全，需补正")
        if not store.set_status(db_path, receipt_no, store.REJECTED, reason):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return JSONResponse({"receipt_no": receipt_no, "status": store.REJECTED, "reason": reason})

    @app.post("/_admin/submissions/{receipt_no}/complete")
    async def admin_complete(receipt_no: str) -> JSONResponse:
        """The department finishes processing now (demo and tests), whatever ``process_delay_s`` says."""
        row = store.get_row(db_path, receipt_no)
        if row is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        result = None
        if time.time() < row["ready_ts"]:  # not issued yet: issue it with today's date
            result = spec.issue_result(row["id"], row["data"], _now())
        store.complete_now(db_path, receipt_no, result)
        return JSONResponse(store.find_submissions(db_path, receipt_no=receipt_no)[0])

    @app.get("/_admin/rejections")
    async def admin_rejection_rules() -> JSONResponse:
        return JSONResponse(rejection_rules)

    @app.post("/_admin/rejections")
    async def admin_add_rejection_rule(request: Request) -> JSONResponse:
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict) or not str(body.get("application_id") or "").strip():
            return JSONResponse({"detail": "application_id is required"}, status_code=422)
        application_id = str(body["application_id"]).strip()
        reason = str(body.get("reason") or "").strip() or DEFAULT_REJECTION_REASON
        marked = add_rejection_rule(application_id, reason)
        return JSONResponse({"application_id": application_id, "reason": reason, "in_review_marked": marked})

    @app.delete("/_admin/rejections/{application_id}")
    async def admin_remove_rejection_rule(application_id: str) -> JSONResponse:
        removed = rejection_rules.pop(application_id, None) is not None
        return JSONResponse({"application_id": application_id, "removed": removed})

    def behaviour_json() -> JSONResponse:
        return JSONResponse(dataclasses.asdict(behaviour))

    @app.get("/_admin/behaviour")
    async def admin_behaviour() -> JSONResponse:
        return behaviour_json()

    @app.put("/_admin/behaviour")
    async def admin_set_behaviour(request: Request) -> JSONResponse:
        """Change some of the portal's behaviours now (JSON object of Behaviour fields); answers all of them."""
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"detail": "a JSON object of behaviour fields is expected"}, status_code=422)
        problems = behaviour_problems(body)
        if problems:
            return JSONResponse({"detail": "; ".join(problems)}, status_code=422)
        for key, value in body.items():
            setattr(behaviour, key, value)
        if "error_seed" in body:
            rng.seed(behaviour.error_seed)
        return behaviour_json()

    @app.get("/_admin/counters")
    async def admin_counters() -> JSONResponse:
        return JSONResponse({**counters, "sessions_open": len(sessions)})

    @app.get("/_admin/health")
    async def admin_health() -> JSONResponse:
        return JSONResponse({"portal": spec.code, "ok": True})

    return app


# ---------------------------------------------------------------------------
# Module functions for tests and the demo
# ---------------------------------------------------------------------------


def count_submissions(db_path: str | Path, application_id: str) -> int:
    """How many times ``application_id`` was filed at the portal whose store is ``db_path``."""
    return store.count_submissions(db_path, application_id)


def count_live_submissions(db_path: str | Path, application_id: str) -> int:
    """How many of ``application_id``'s submissions are live (neither rejected nor withdrawn) now."""
    return store.count_live_submissions(db_path, application_id)


def list_submissions(db_path: str | Path) -> list[dict[str, Any]]:
    """Every stored submission, oldest first, with ``data`` and (once processed) ``result`` decoded."""
    return store.find_submissions(db_path)

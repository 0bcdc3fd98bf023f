"""Which form value goes to which labelled field on which step of each department's portal.

One :class:`PortalFlow` per portal (``FLOWS``), as the portals are today; a relabelled portal
(the simulators' ``version: 2``) stops the robot with ``PortalChanged`` until its own mapping is
written here. Option labels shared with the form (entity types, roles, seals) come from
:mod:`domain.labels`. Also how each portal's progress page names a case's status (``STATUSES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bots.captcha import DEFAULT_RULES, CaptchaRules
from bots.errors import PortalChanged
from bots.fill import ONE_TRIP, FillMode
from bots.portal_page import FieldValue
from domain.labels import ENTITY_LABELS, INVOICE_LABELS, LEGAL_REP_ROLE_LABELS, SEAL_LABELS
from domain.requests import DepartmentRequest

__all__ = [
    "CLOSED",
    "CONTRIBUTION_METHODS",
    "FLOWS",
    "SHAREHOLDER_KINDS",
    "STATUSES",
    "FlowStep",
    "PortalFlow",
    "require_uscc",
]


FlowStepValues = Callable[[DepartmentRequest], Mapping[str, FieldValue]]


@dataclass(frozen=True)
class FlowStep:
    """One wizard step: the heading the portal shows, and the ``label: value`` pairs to enter."""

    slug: str
    title: str
    values: FlowStepValues


@dataclass(frozen=True)
class PortalFlow:
    department: str
    apply_link: str  # the portal's menu entry that opens a new application
    steps: tuple[FlowStep, ...]
    read_result: Callable[[dict[str, Any]], dict[str, Any]]
    needs_uscc: bool = True  # every department but amr files under the USCC amr issued
    reference_label: str = "外部业务编号"  # the first step's field holding our application id
    captcha: CaptchaRules = DEFAULT_RULES  # what its login captcha can be, when it shows a picture
    # how a step's fields are entered (bots/fill.py): ``one_trip``, all of them checked and set in one round
    # trip, where the portal's pages have no script-driven widget; ``per_field``, one Playwright call per field,
    # for a portal with a widget a native-setter fill would leave behind (formats on blur, wants trusted
    # events, a custom dropdown): say which widget where a flow sets it.
    # Every simulated portal's pages are plain HTML forms without any script (simulators/templates/portal,
    # checked server side by simulators/portal/checks.py): all seven file in one trip per step.
    fill: FillMode = ONE_TRIP


def _plain(amount: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 100 -> '100', 0.1200 -> '0.12'."""
    return format(amount.normalize(), "f")


def require_uscc(request: DepartmentRequest) -> str:
    uscc = request.uscc
    if not uscc:
        raise ValueError(
            f"department {request.department} files under the enterprise's USCC: "
            "request.upstream['amr']['uscc'] is missing"
        )
    return uscc


SHAREHOLDER_KINDS = {"natural_person": "自然人", "legal_person": "企业法人"}
CONTRIBUTION_METHODS = {
    "currency": "货币",
    "in_kind": "实物",
    "intellectual_property": "知识产权",
    "land_use_right": "土地使用权",
    "equity": "股权",
    "debt": "债权",
}


def _amr_basic(r: DepartmentRequest) -> dict[str, FieldValue]:
    a, c = r.application, r.application.company
    return {
        "外部业务编号": r.application_id,
        "企业名称": c.name,
        "企业类型": ENTITY_LABELS[c.entity_type],
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
    out["法定代表人职务"] = LEGAL_REP_ROLE_LABELS[a.legal_representative.role]
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
        "统一社会信用代码": require_uscc(r),
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
        "统一社会信用代码": require_uscc(r),
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
        "统一社会信用代码": require_uscc(r),
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


# --- the portals of the departments that also have an API (tax, nhsa, bank) ------------------------


def _registered_unit(name_label: str, division_label: str, address_label: str) -> FlowStepValues:
    """The first step of the tax, nhsa and bank portals: business number, USCC, name, address, legal representative."""

    def values(r: DepartmentRequest) -> dict[str, FieldValue]:
        a = r.application
        return {
            "外部业务编号": r.application_id,
            "统一社会信用代码": require_uscc(r),
            name_label: a.company.name,
            division_label: a.company.address.division_code,
            address_label: a.company.address.detail,
            "法定代表人姓名": a.legal_representative.name,
            "法定代表人身份证号码": a.legal_representative.id_number,
        }

    return values


def _officer(title: str, person: Any) -> dict[str, FieldValue]:
    return {f"{title}姓名": person.name, f"{title}身份证号码": person.id_number, f"{title}手机号码": person.mobile}


def _tax_officers(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    return {**_officer("财务负责人", a.financial_officer), **_officer("办税人", a.tax_officer)}


def _tax_invoices(r: DepartmentRequest) -> dict[str, FieldValue]:
    tax = r.application.tax
    wanted = set(tax.invoice_types)
    out: dict[str, FieldValue] = {label: code in wanted for code, label in INVOICE_LABELS.items()}
    out["预计月开票金额（万元）"] = _plain(tax.expected_monthly_invoice_amount_wan_yuan)
    return out


def _tax_result(record: dict[str, Any]) -> dict[str, Any]:
    by_label = {label: code for code, label in INVOICE_LABELS.items()}
    shown = record.get("invoice_type") or {}
    if not isinstance(shown, dict):
        return {}
    unknown = [label for label in shown if label not in by_label]
    if unknown:
        raise PortalChanged(f"unknown invoice types on the progress page: {', '.join(unknown)}")
    out: dict[str, Any] = {k: record[k] for k in ("taxpayer_id", "tax_authority") if k in record}
    return {**out, "invoice_types": [by_label[label] for label in shown]} if out else {}


def _nhsa_insured(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    return {**_officer("经办人", a.liaison), "职工人数": str(a.company.employees_expected)}


def _bank_account(r: DepartmentRequest) -> dict[str, FieldValue]:
    a = r.application
    if a.bank_account is None:
        raise ValueError(f"bank: application {r.application_id} asks for no bank account")
    return {
        "账户类型": "基本存款账户",
        "开户银行代码": a.bank_account.bank_code,
        "开户网点": a.bank_account.branch_name,
        **_officer("财务负责人", a.financial_officer),
    }


def _bank_seals(r: DepartmentRequest) -> dict[str, FieldValue]:
    codes = (r.upstream.get("psb_seal") or {}).get("seal_codes") or {}
    if not codes:
        raise ValueError(f"bank: upstream psb_seal result carries no seal codes for {r.application_id}")
    return {f"{label}备案编码": str(codes.get(code, "")) for code, label in SEAL_LABELS.items()}


def _fields(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def read(record: dict[str, Any]) -> dict[str, Any]:
        return {n: record[n] for n in names if n in record}

    return read


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
    "tax": PortalFlow(
        department="tax",
        apply_link="新办纳税人套餐",
        steps=(
            FlowStep(
                "taxpayer", "纳税人基本信息", _registered_unit("纳税人名称", "生产经营地行政区划代码", "生产经营地址")
            ),
            FlowStep("officers", "财务负责人及办税人员", _tax_officers),
            FlowStep("invoices", "发票票种核定", _tax_invoices),
        ),
        read_result=_tax_result,
    ),
    "nhsa": PortalFlow(
        department="nhsa",
        apply_link="单位医保登记",
        steps=(
            FlowStep("unit", "单位基本信息", _registered_unit("单位名称", "单位所在地行政区划代码", "单位地址")),
            FlowStep("insured", "联系人及参保信息", _nhsa_insured),
        ),
        read_result=_single("mi_unit_code"),
    ),
    "bank": PortalFlow(
        department="bank",
        apply_link="基本存款账户开户预约",
        steps=(
            FlowStep("depositor", "存款人信息", _registered_unit("存款人名称", "注册地行政区划代码", "注册地址")),
            FlowStep("account", "账户信息", _bank_account),
            FlowStep("seals", "预留印鉴", _bank_seals),
        ),
        read_result=_fields("account_no", "bank_code", "opened_at"),
    ),
}


STATUSES = {"审核中": "in_review", "已办结": "completed", "已退回": "rejected", "已撤回": "withdrawn"}
CLOSED = ("rejected", "withdrawn")  # a case in these states is no longer live

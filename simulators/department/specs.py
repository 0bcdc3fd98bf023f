"""The legacy portals of the departments whose store is their JSON API's (tax, nhsa, bank): each a
:class:`PortalSpec` like the others, rendered by the same generic portal app. What they issue is what
the API issues (``simulators.department_api.results``); these specs only say how a result is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulators.portal.specs import FieldSpec, PortalSpec, StepSpec

INVOICE_TYPES = (("digital_general", "数电普通发票"), ("digital_special", "数电增值税专用发票"))
#: the bank's reserved seals (预留印鉴): the API's seal type -> the label of its filing code's field
BANK_SEALS = (
    ("official", "公章"),
    ("financial", "财务专用章"),
    ("invoice", "发票专用章"),
    ("legal_representative", "法定代表人名章"),
    ("contract", "合同专用章"),
)


def _unit(name_label: str, division_label: str, address_label: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("external_ref", "外部业务编号", check="external_ref", hint="一窗通办系统的业务编号"),
        FieldSpec("uscc", "统一社会信用代码", check="uscc"),
        FieldSpec("company_name", name_label),
        FieldSpec("division_code", division_label, check="division"),
        FieldSpec("address", address_label),
        FieldSpec("legal_rep_name", "法定代表人姓名"),
        FieldSpec("legal_rep_id_number", "法定代表人身份证号码", check="ric"),
    )


def _person(prefix: str, title: str, *, id_required: bool = True) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(f"{prefix}_name", f"{title}姓名"),
        FieldSpec(f"{prefix}_id_number", f"{title}身份证号码", required=id_required, check="ric"),
        FieldSpec(f"{prefix}_mobile", f"{title}手机号码", required=False, check="mobile"),
    )


def _issued_by_the_api(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    raise NotImplementedError("this portal's results are issued by its department's API store")


def tax_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    names = dict(INVOICE_TYPES)
    rows: list[tuple[str, str | None, str, str]] = [
        ("taxpayer_id", None, "纳税人识别号", result["taxpayer_id"]),
        ("tax_authority", None, "主管税务机关", result["tax_authority"]),
    ]
    rows += [("invoice_type", names.get(t, t), f"{names.get(t, t)}票种核定", "已核定") for t in result["invoice_types"]]
    return rows


def nhsa_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [("mi_unit_code", None, "单位医保编码", result["mi_unit_code"])]


def bank_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [
        ("account_no", None, "账号", result["account_no"]),
        ("bank_code", None, "开户银行代码", result["bank_code"]),
        ("opened_at", None, "开户时间", result["opened_at"]),
    ]


def bank_seal_check(draft: dict[str, Any]) -> dict[str, str]:
    if not any(str(draft.get(f"seal_{code}") or "").strip() for code, _ in BANK_SEALS):
        return {"_form": "请至少填写一枚预留印鉴的印章备案编码"}
    return {}


TAX = PortalSpec(
    code="tax",
    system_name="国家税务总局山西省电子税务局",
    department="税务局",
    apply_title="新办纳税人套餐",
    receipt_prefix="SWXB",
    name_label="纳税人名称",
    steps=(
        StepSpec("taxpayer", "纳税人基本信息", fields=_unit("纳税人名称", "生产经营地行政区划代码", "生产经营地址")),
        StepSpec(
            "officers",
            "财务负责人及办税人员",
            fields=(*_person("financial_officer", "财务负责人"), *_person("tax_officer", "办税人")),
        ),
        StepSpec(
            "invoices",
            "发票票种核定",
            fields=(
                FieldSpec("invoice_types", "申领发票种类", kind="checkboxes", required=False, options=INVOICE_TYPES),
                FieldSpec("expected_amount", "预计月开票金额（万元）", check="amount"),
            ),
        ),
    ),
    issue_result=_issued_by_the_api,
    result_rows=tax_rows,
)

NHSA = PortalSpec(
    code="nhsa",
    system_name="山西省医疗保障信息平台单位网上服务大厅",
    department="医疗保障局",
    apply_title="单位医保登记",
    receipt_prefix="YBDJ",
    name_label="单位名称",
    steps=(
        StepSpec("unit", "单位基本信息", fields=_unit("单位名称", "单位所在地行政区划代码", "单位地址")),
        StepSpec(
            "insured",
            "联系人及参保信息",
            fields=(
                *_person("liaison", "经办人", id_required=False),
                FieldSpec("employees_expected", "职工人数", check="count_0_100000"),
            ),
        ),
    ),
    issue_result=_issued_by_the_api,
    result_rows=nhsa_rows,
)

BANK = PortalSpec(
    code="bank",
    system_name="对公账户开户预约系统",
    department="商业银行",
    apply_title="基本存款账户开户预约",
    receipt_prefix="KHYY",
    name_label="存款人名称",
    steps=(
        StepSpec("depositor", "存款人信息", fields=_unit("存款人名称", "注册地行政区划代码", "注册地址")),
        StepSpec(
            "account",
            "账户信息",
            fields=(
                FieldSpec("account_type", "账户类型", kind="select", options=(("basic", "基本存款账户"),)),
                FieldSpec("bank_code", "开户银行代码"),
                FieldSpec("branch_name", "开户网点"),
                *_person("financial_officer", "财务负责人"),
            ),
        ),
        StepSpec(
            "seals",
            "预留印鉴",
            fields=tuple(FieldSpec(f"seal_{code}", f"{label}备案编码", required=False) for code, label in BANK_SEALS),
            check=bank_seal_check,
        ),
    ),
    issue_result=_issued_by_the_api,
    result_rows=bank_rows,
)

API_PORTAL_SPECS: dict[str, PortalSpec] = {s.code: s for s in (TAX, NHSA, BANK)}

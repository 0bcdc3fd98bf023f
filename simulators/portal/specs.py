"""The portals as data: each department's wizard (steps, fields, labels, checks), what it issues,
and versions 2 and 3 of the portals (redesigned; with a new required field)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from simulators.portal import checks, issuers
from simulators.portal.issuers import SEAL_TYPES


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
    # after the last step the wizard asks for the application's materials (上传申请材料: files, any number)
    attachments: bool = False


# Version 2 of the portals: the same form redesigned as a real portal changes without notice. Labels
# become synonyms (V2_LABELS), the fields of each step after the first are reordered (reversed), one field
# of the first step moves to the start of the second (``moved_field``) and every control gets a new name
# and id (V2_PREFIX). Version 3 is version 2 plus a new required field on the first step (V3_FIELD), which
# no robot flow can fill. ``version_labels`` is the rename table (for tests: the truth a proposal is checked
# against).
V2_LABELS: dict[str, str] = {
    "外部业务编号": "关联业务编号",
    "企业名称": "名称（字号全称）",
    "单位名称": "单位全称",
    "统一社会信用代码": "社会信用代码（18位）",
    "企业类型": "市场主体类型",
    "经办人姓名": "经办人",
    "经办人手机号码": "经办人联系电话",
    "经办人身份证号码": "经办人证件号码",
    "职工人数": "在职职工人数",
    "法定代表人姓名": "法人代表",
    "法定代表人身份证号码": "法人代表身份证件号",
    "单位缴存比例（%）": "单位缴存率（%）",
    "单位地址": "单位注册地址",
    "住所详细地址": "住所（详细地址）",
}
V2_PREFIX = "v2_"
V3_PREFIX = "v3_"
V3_FIELD_NAME = "unit_email"
V3_FIELD_LABEL = "单位电子邮箱"


def _relabel(f: FieldSpec) -> FieldSpec:
    return replace(f, label=V2_LABELS.get(f.label, f.label))


def moved_field(steps: tuple[StepSpec, ...]) -> str | None:
    """The field version 2 moves from the first step to the second: the last one of the first step that
    is no row count of a repeated group (a count must come before its rows) and no group of checkboxes."""
    if len(steps) < 2:
        return None
    counts = {s.repeat.count_field for s in steps if s.repeat}
    candidates = [f for f in steps[0].fields[1:] if f.name not in counts and f.kind != "checkboxes"]
    return candidates[-1].name if candidates else None


def v2_steps(steps: tuple[StepSpec, ...]) -> tuple[StepSpec, ...]:
    """Version 2 of a wizard (see above): relabelled, reordered, one field moved to the next step."""
    moved = moved_field(steps)
    out: list[StepSpec] = []
    carried: tuple[FieldSpec, ...] = ()
    for i, step in enumerate(steps):
        fields = tuple(_relabel(f) for f in step.fields)
        if i == 0:
            carried = tuple(f for f in fields if f.name == moved)
            fields = tuple(f for f in fields if f.name != moved)
        else:
            fields = tuple(reversed(fields))
            if i == 1:
                fields = carried + fields
        rep = step.repeat
        out.append(
            replace(
                step,
                fields=fields,
                repeat=replace(rep, fields=tuple(_relabel(f) for f in rep.fields)) if rep else None,
            )
        )
    return tuple(out)


def v3_steps(steps: tuple[StepSpec, ...]) -> tuple[StepSpec, ...]:
    """Version 3: version 2 with a new required field at the end of the first step."""
    v2 = v2_steps(steps)
    first = replace(v2[0], fields=(*v2[0].fields, FieldSpec(V3_FIELD_NAME, V3_FIELD_LABEL, hint="必填")))
    return (first, *v2[1:])


def version_labels(steps: tuple[StepSpec, ...], version: int) -> dict[str, tuple[int, str]]:
    """The rename table of a version: each version-1 label (of a repeated row: without its legend) -> the
    step (0-based) and label it has in that version."""
    changed = {1: steps, 2: v2_steps(steps), 3: v3_steps(steps)}[version]
    where: dict[str, tuple[int, str]] = {}
    for i, step in enumerate(changed):
        for f in step.fields:
            where[f.name] = (i, f.label)
        if step.repeat:
            for f in step.repeat.fields:
                where[f"{step.repeat.name}.{f.name}"] = (i, f.label)
    out: dict[str, tuple[int, str]] = {}
    for step in steps:
        for f in step.fields:
            out[f.label] = where[f.name]
        if step.repeat:
            for f in step.repeat.fields:
                out[f.label] = where[f"{step.repeat.name}.{f.name}"]
    return out


def _external_ref() -> FieldSpec:
    return FieldSpec("external_ref", "外部业务编号", check="external_ref", hint="一窗通办系统的业务编号")


def _unit(name_label: str) -> tuple[FieldSpec, ...]:
    """What every portal but amr asks first: the business number, the USCC amr gave, the name."""
    return (_external_ref(), FieldSpec("uscc", "统一社会信用代码", check="uscc"), FieldSpec("company_name", name_label))


def _legal_rep() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("legal_rep_name", "法定代表人姓名"),
        FieldSpec("legal_rep_id_number", "法定代表人身份证号码", check="ric"),
    )


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
            check=checks.amr_people_check,
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
                row_check=checks.amr_shareholder_row,
            ),
            check=checks.amr_capital_check,
        ),
    ),
    issue_result=issuers.amr_result,
    result_rows=issuers.amr_rows,
    review=checks.amr_name_review,
    attachments=True,
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
                *_unit("企业名称"),
                *_legal_rep(),
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
    issue_result=issuers.psb_result,
    result_rows=issuers.psb_rows,
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
                *_unit("单位名称"),
                *_legal_rep(),
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
    issue_result=issuers.hrss_result,
    result_rows=issuers.hrss_rows,
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
                *_unit("单位名称"),
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
    issue_result=issuers.hpf_result,
    result_rows=issuers.hpf_rows,
)

PORTAL_SPECS: dict[str, PortalSpec] = {s.code: s for s in (_AMR, _PSB_SEAL, _HRSS, _HPF)}
PORTAL_CODES = tuple(PORTAL_SPECS)

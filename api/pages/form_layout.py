"""The one form (一表申请) as the paper form groups it: sections, their fields, the rows that repeat.

Each field's ``path`` is its dotted name in the intake contract (``shareholders.0.id_number``): the same
path the server's field-level messages name (``domain.form_errors``), so a message finds its field.
``kind`` tells the page's script how to read the value back into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from domain.labels import BANK_LABELS, ENTITY_LABELS, INVOICE_LABELS, LEGAL_REP_ROLE_LABELS, SEAL_LABELS
from domain.samples import shanxi_counties

CONTRIBUTION_METHODS = {
    "currency": "货币",
    "in_kind": "实物",
    "intellectual_property": "知识产权",
    "land_use_right": "土地使用权",
    "equity": "股权",
    "debt": "债权",
}
SHAREHOLDER_KINDS = {"natural_person": "自然人", "legal_person": "法人（企业）"}
MATERIAL_KINDS = {
    "id_card": "身份证",
    "business_licence": "营业执照（法人股东）",
    "premises_proof": "住所（经营场所）证明",
    "articles_of_association": "公司章程",
}

#: whom a material concerns (Material.concerns): a person of the form, a shareholder (first ten), the company
CONCERNS_CHOICES = (
    ("legal_representative", "法定代表人"),
    ("supervisor", "监事"),
    ("financial_officer", "财务负责人"),
    ("tax_officer", "办税人"),
    ("liaison", "联络员"),
    ("company", "企业"),
    *((f"shareholders.{i}", f"第 {i + 1} 位股东") for i in range(10)),
)


@dataclass(frozen=True)
class Field:
    path: str  # relative to its section or row: "name", "address.detail"
    label: str
    kind: str = "text"  # text | lines | decimal | int | date | select | set | bool | hidden | file
    choices: tuple[tuple[str, str], ...] = ()
    optional: bool = False  # empty means null
    hint: str = ""
    wide: bool = False
    only_for: str = ""  # a shareholder row's field for one kind only
    autocomplete: str = "off"


@dataclass(frozen=True)
class Rows:
    """A list of the form whose rows the clerk adds and removes (shareholders, employees, materials)."""

    path: str
    label: str  # of one row: "股东"
    fields: tuple[Field, ...]
    minimum: int = 0


@dataclass(frozen=True)
class Section:
    key: str  # the top-level name in the contract ("company"), or a made-up one for a group of two
    title: str
    fields: tuple[Field, ...] = ()
    rows: Rows | None = None
    note: str = ""
    parts: tuple[tuple[str, str, tuple[Field, ...]], ...] = field(default=())  # (prefix, subtitle, fields)


def _choices(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(labels.items())


def _person(mobile: bool = True) -> tuple[Field, ...]:
    fields = (
        Field("name", "姓名"),
        Field("id_number", "身份证号码", hint="18 位，末位可为 X"),
    )
    return (*fields, Field("mobile", "手机号码", hint="11 位")) if mobile else fields


@lru_cache(maxsize=1)
def sections() -> tuple[Section, ...]:
    divisions = tuple((code, f"{code} {name}") for code, name in shanxi_counties())
    return (
        Section(
            "company",
            "企业基本信息",
            (
                Field("name", "企业名称", hint="以组织形式结尾，如「……有限公司」", wide=True),
                Field("entity_type", "企业类型", "select", _choices(ENTITY_LABELS)),
                Field("registered_capital_wan_yuan", "注册资本（万元）", "decimal"),
                Field("employees_expected", "从业人数", "int"),
                Field("operating_term_years", "营业期限（年）", "int", optional=True, hint="不填为长期"),
                Field("address.division_code", "住所所在行政区划", "select", divisions),
                Field("address.detail", "住所（详细地址）", wide=True),
                Field("business_scope", "经营范围", "lines", hint="每行一项", wide=True),
            ),
        ),
        Section(
            "legal_representative",
            "法定代表人",
            (*_person(), Field("role", "职务", "select", _choices(LEGAL_REP_ROLE_LABELS))),
        ),
        Section(
            "shareholders",
            "股东（发起人）及出资",
            rows=Rows(
                "shareholders",
                "股东",
                (
                    Field("kind", "股东类型", "select", _choices(SHAREHOLDER_KINDS)),
                    Field("name", "股东名称或姓名"),
                    Field("id_number", "身份证号码", only_for="natural_person"),
                    Field("uscc", "统一社会信用代码", only_for="legal_person"),
                    Field("contribution_wan_yuan", "认缴出资额（万元）", "decimal"),
                    Field("contribution_method", "出资方式", "select", _choices(CONTRIBUTION_METHODS)),
                    Field("contribution_deadline", "认缴出资期限", "date", hint="成立之日起 5 年内"),
                ),
                minimum=1,
            ),
            note="各股东认缴出资额之和应等于注册资本。",
        ),
        Section("supervisor", "监事", _person(), note="监事不得由法定代表人（董事）或财务负责人兼任。"),
        Section("financial_officer", "财务负责人", _person()),
        Section(
            "officers",
            "办税人与联络员",
            parts=(("tax_officer", "办税人", _person()), ("liaison", "联络员", _person())),
        ),
        Section("seal", "印章刻制", (Field("types", "刻制印章", "set", _choices(SEAL_LABELS), wide=True),)),
        Section(
            "tax",
            "税务（新办纳税人套餐）",
            (
                Field("invoice_types", "申领发票种类", "set", _choices(INVOICE_LABELS), wide=True),
                Field("expected_monthly_invoice_amount_wan_yuan", "预计月开票金额（万元）", "decimal"),
            ),
        ),
        Section(
            "social_insurance",
            "社会保险登记",
            (Field("register", "办理单位社会保险登记", "bool"),),
            rows=Rows(
                "social_insurance.enroll_employees",
                "参保职工",
                (Field("name", "姓名"), Field("id_number", "身份证号码")),
            ),
        ),
        Section("medical_insurance", "医疗保险登记", (Field("register", "办理单位医保登记", "bool"),)),
        Section(
            "housing_fund",
            "住房公积金缴存登记",
            (
                Field("register", "办理住房公积金缴存登记", "bool"),
                Field("contribution_rate", "单位缴存比例", "decimal", optional=True, hint="0.05 至 0.12"),
            ),
        ),
        Section(
            "bank_account",
            "银行开户（基本存款账户）",
            (
                Field("bank_code", "开户银行", "select", _choices(BANK_LABELS)),
                Field("branch_name", "开户网点", wide=True),
                Field("account_type", "账户类型", "hidden"),
            ),
        ),
        Section(
            "materials",
            "申请材料",
            rows=Rows(
                "materials",
                "材料",
                (
                    Field("kind", "材料类型", "select", _choices(MATERIAL_KINDS)),
                    Field(
                        "concerns", "材料所属", "select", CONCERNS_CHOICES, optional=True, hint="身份证、营业执照须注明"
                    ),
                    Field("file", "上传文件（PDF、JPEG 或 PNG）", "file", wide=True),
                    Field("filename", "文件名"),
                    Field("sha256", "文件摘要（SHA-256）", hint="上传后自动生成", wide=True),
                ),
            ),
        ),
    )


def blank_application(window_id: str, clerk_id: str) -> dict:
    """What a new form starts with: the clerk's window, one shareholder row, every department asked for."""
    return {
        "window": {"window_id": window_id, "clerk_id": clerk_id},
        "company": {"entity_type": "limited_liability_company", "address": {}, "business_scope": []},
        "legal_representative": {"role": "executive_director"},
        "shareholders": [{"kind": "natural_person", "contribution_method": "currency"}],
        "seal": {"types": ["official", "financial", "invoice", "legal_representative"]},
        "tax": {"invoice_types": ["digital_general"]},
        "social_insurance": {"register": True, "enroll_employees": []},
        "medical_insurance": {"register": True},
        "housing_fund": {"register": True},
        "bank_account": {"account_type": "basic"},
        "materials": [],
    }

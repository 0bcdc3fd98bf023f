"""Chinese labels of the form's codes, one source for the form's messages, the robots and the pages."""

from __future__ import annotations

SEAL_LABELS = {
    "official": "公章",
    "financial": "财务专用章",
    "invoice": "发票专用章",
    "legal_representative": "法定代表人名章",
    "contract": "合同专用章",
}
INVOICE_LABELS = {"digital_general": "数电普通发票", "digital_special": "数电增值税专用发票"}
ENTITY_LABELS = {"limited_liability_company": "有限责任公司", "joint_stock_company": "股份有限公司"}
LEGAL_REP_ROLE_LABELS = {"executive_director": "执行董事", "chairman": "董事长", "manager": "经理"}
#: Role labels of the plain ``Person`` fields of an application (used in messages).
PERSON_ROLE_LABELS = {
    "legal_representative": "法定代表人",
    "supervisor": "监事",
    "financial_officer": "财务负责人",
    "tax_officer": "办税人",
    "liaison": "联络员",
}
#: The organisation forms a company name must end in, per entity type (first = preferred).
NAME_FORMS: dict[str, tuple[str, ...]] = {
    "limited_liability_company": ("有限责任公司", "有限公司"),
    "joint_stock_company": ("股份有限公司",),
}
#: The banks a basic deposit account may be opened with (the bank department's codes).
BANK_LABELS = {
    "ICBC": "中国工商银行",
    "ABC": "中国农业银行",
    "BOC": "中国银行",
    "CCB": "中国建设银行",
    "BOCOM": "交通银行",
    "SXBANK": "晋商银行",
}

"""Materials (一套材料) and their pre-review (智能预审): what is read from each kind, and how it meets the form.

Pure. A material is a file the window uploaded (stored by its SHA-256); the form lists it with whom it
concerns. OCR (``ai/``) reads fields from it, each with a confidence; :func:`checked` validates what was
read with the form's own rules (a number read with a wrong check digit is low confidence, not a fact);
:func:`prereview` compares the read fields with the form. A finding is advice: the clerk confirms or
corrects it (DOMAIN.md "Materials and pre-review").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from domain.form import Application, LegalPersonShareholder, NaturalPersonShareholder, Person
from domain.identifiers import check_resident_id, check_uscc

MaterialKind = Literal["id_card", "business_licence", "premises_proof", "articles_of_association"]
MATERIAL_KINDS: tuple[MaterialKind, ...] = ("id_card", "business_licence", "premises_proof", "articles_of_association")

KIND_LABELS: dict[str, str] = {
    "id_card": "居民身份证",
    "business_licence": "营业执照",
    "premises_proof": "住所（经营场所）证明",
    "articles_of_association": "公司章程",
}

#: the fields read from each kind; articles add ``shareholders.<i>.name`` / ``shareholders.<i>.contribution``
FIELDS: dict[str, tuple[str, ...]] = {
    "id_card": ("name", "id_number", "address"),
    "business_licence": ("name", "uscc", "legal_representative"),
    "premises_proof": ("address",),
    "articles_of_association": ("company_name", "registered_capital"),
}

#: whom a material may concern (``Material.concerns``): a person of the form, a shareholder, the company
PEOPLE = ("legal_representative", "supervisor", "financial_officer", "tax_officer", "liaison")

CONCERNS_LABELS: dict[str, str] = {
    "legal_representative": "法定代表人",
    "supervisor": "监事",
    "financial_officer": "财务负责人",
    "tax_officer": "办税人",
    "liaison": "联络员",
    "company": "企业",
}

#: a read value that fails the form's rules is worth at most this much
INVALID_CONFIDENCE = 0.2
#: below this a read value that agrees with the form is still shown to the clerk
LOW_CONFIDENCE = 0.6


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadField(_Model):
    """One field read from a material, with the reader's confidence (0–1) and why it is doubtful."""

    value: str = Field(max_length=500)
    confidence: float = Field(ge=0.0, le=1.0)
    problem: str | None = Field(default=None, max_length=200)  # Chinese: e.g. the form's rule it fails


class Finding(_Model):
    """Where a material and the form differ (or the material could not tell): advice for the clerk."""

    material_sha256: str
    kind: str
    concerns: str | None
    field: str  # the form's field, e.g. "legal_representative.id_number"
    read_field: str  # the material's field, e.g. "id_number"
    form_value: str
    read_value: str | None  # None: not found on the material
    confidence: float
    message: str  # Chinese


def concerns_label(concerns: str | None) -> str:
    if concerns is None:
        return ""
    if concerns.startswith("shareholders."):
        return f"第 {int(concerns.split('.')[1]) + 1} 位股东"
    return CONCERNS_LABELS.get(concerns, concerns)


def concerns_problem(application: Application, kind: str, concerns: str | None) -> str | None:
    """Why ``concerns`` does not fit ``kind`` in ``application`` (Chinese), or None when it does."""
    if kind == "id_card":
        if concerns is None:
            return "身份证须注明是谁的（如 legal_representative、shareholders.0）"
        if concerns.startswith("shareholders."):
            i = int(concerns.split(".")[1])
            if i >= len(application.shareholders):
                return f"申请表没有第 {i + 1} 位股东"
            if not isinstance(application.shareholders[i], NaturalPersonShareholder):
                return f"第 {i + 1} 位股东不是自然人，应附营业执照"
        elif concerns == "company":
            return "身份证应属于一位自然人，不是企业"
    elif kind == "business_licence":
        if concerns is None or not concerns.startswith("shareholders."):
            return "营业执照须注明是哪一位法人股东的（如 shareholders.1）"
        i = int(concerns.split(".")[1])
        if i >= len(application.shareholders):
            return f"申请表没有第 {i + 1} 位股东"
        if not isinstance(application.shareholders[i], LegalPersonShareholder):
            return f"第 {i + 1} 位股东是自然人，应附身份证"
    elif concerns is not None and concerns.startswith("shareholders."):
        if int(concerns.split(".")[1]) >= len(application.shareholders):
            return f"申请表没有第 {int(concerns.split('.')[1]) + 1} 位股东"
    return None


# --------------------------------------------------------------------------- what was read, checked


def _capped(field: ReadField, problem: str) -> ReadField:
    return field.model_copy(update={"confidence": min(field.confidence, INVALID_CONFIDENCE), "problem": problem})


def _rule_problem(check: object, value: str) -> str | None:
    try:
        check(value)  # type: ignore[operator]
    except PydanticCustomError as err:
        return err.message()
    return None


def checked(kind: str, fields: Mapping[str, ReadField]) -> dict[str, ReadField]:
    """``fields`` with the form's rules applied: an ID number or USCC that fails them keeps its value but
    is low confidence with the reason; a capital or contribution that is no amount likewise."""
    out = dict(fields)
    for name, field in fields.items():
        problem: str | None = None
        if name == "id_number":
            problem = _rule_problem(check_resident_id, field.value)
        elif name == "uscc":
            problem = _rule_problem(check_uscc, field.value)
        elif name == "registered_capital" or name.endswith(".contribution"):
            problem = None if amount(field.value) is not None else "不是可识别的金额"
        if problem:
            out[name] = _capped(field, problem)
    return out


def amount(text: str) -> Decimal | None:
    """An amount in 万元 from text such as "12.5", "12.5万元", "人民币壹拾贰万伍仟元" is not read (None)."""
    match = re.search(r"\d+(?:\.\d+)?", text.replace(",", "").replace("，", ""))
    if not match:
        return None
    try:
        value = Decimal(match.group(0))
    except InvalidOperation:
        return None
    if "万" not in text and "元" in text:  # in yuan
        value = value / 10000
    return value


def normalised(text: str) -> str:
    """For comparing names and addresses: no spaces or punctuation, full-width digits and letters as ASCII."""
    text = text.translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    return re.sub(r"[\s·•,，.。:：;；()（）\-－—]", "", text).upper()


def prefill(kind: str, fields: Mapping[str, ReadField]) -> dict[str, str]:
    """What a read ID card offers the form: its name and number (only when the number passes the rules)."""
    if kind != "id_card":
        return {}
    offer = {k: fields[k].value for k in ("name", "id_number") if k in fields}
    if "id_number" in fields and fields["id_number"].problem:
        offer.pop("id_number")
    return offer


# --------------------------------------------------------------------------- pre-review


class MaterialReading(_Model):
    """What the pre-review needs of one listed material: its kind, whom it concerns, what was read."""

    sha256: str
    kind: str
    concerns: str | None = None
    fields: dict[str, ReadField] = Field(default_factory=dict)


def _finding(
    m: MaterialReading, field: str, read_field: str, form_value: str, message: str, read: ReadField | None
) -> Finding:
    return Finding(
        material_sha256=m.sha256,
        kind=m.kind,
        concerns=m.concerns,
        field=field,
        read_field=read_field,
        form_value=form_value,
        read_value=read.value if read else None,
        confidence=read.confidence if read else 0.0,
        message=message,
    )


def _compare(
    m: MaterialReading, field: str, read_field: str, form_value: str, what: str, *, same: bool | None = None
) -> Finding | None:
    """A finding when the material's ``read_field`` differs from ``form_value`` (or is missing or doubtful)."""
    label = f"{concerns_label(m.concerns)}的{KIND_LABELS.get(m.kind, m.kind)}"
    read = m.fields.get(read_field)
    if read is None:
        return _finding(m, field, read_field, form_value, f"{label}上未识别出{what}，请人工核对", None)
    equal = normalised(read.value) == normalised(form_value) if same is None else same
    if not equal:
        return _finding(m, field, read_field, form_value, f"{label}上的{what}与申请表不一致", read)
    if read.confidence < LOW_CONFIDENCE:
        return _finding(m, field, read_field, form_value, f"{label}上的{what}识别把握不足，请人工核对", read)
    return None


def _person(application: Application, concerns: str) -> tuple[str, Person | NaturalPersonShareholder] | None:
    if concerns in PEOPLE:
        return concerns, getattr(application, concerns)
    if concerns.startswith("shareholders."):
        i = int(concerns.split(".")[1])
        if i < len(application.shareholders) and isinstance(application.shareholders[i], NaturalPersonShareholder):
            return concerns, application.shareholders[i]  # type: ignore[return-value]
    return None


def _review_one(application: Application, m: MaterialReading) -> list[Finding]:
    found: list[Finding | None] = []
    if m.kind == "id_card" and m.concerns:
        person = _person(application, m.concerns)
        if person is not None:
            path, p = person
            found.append(_compare(m, f"{path}.id_number", "id_number", p.id_number, "身份证号码"))
            found.append(_compare(m, f"{path}.name", "name", p.name, "姓名"))
    elif m.kind == "business_licence" and m.concerns and m.concerns.startswith("shareholders."):
        i = int(m.concerns.split(".")[1])
        if i < len(application.shareholders):
            holder = application.shareholders[i]
            if isinstance(holder, LegalPersonShareholder):
                found.append(_compare(m, f"{m.concerns}.uscc", "uscc", holder.uscc, "统一社会信用代码"))
                found.append(_compare(m, f"{m.concerns}.name", "name", holder.name, "名称"))
    elif m.kind == "premises_proof":
        form_address = application.company.address.detail
        read = m.fields.get("address")
        contains = read is not None and normalised(form_address) in normalised(read.value)
        found.append(_compare(m, "company.address.detail", "address", form_address, "地址", same=contains))
    elif m.kind == "articles_of_association":
        company = application.company
        found.append(_compare(m, "company.name", "company_name", company.name, "企业名称"))
        capital = m.fields.get("registered_capital")
        read_capital = amount(capital.value) if capital else None
        found.append(
            _compare(
                m,
                "company.registered_capital_wan_yuan",
                "registered_capital",
                format(company.registered_capital_wan_yuan.normalize(), "f"),
                "注册资本",
                same=read_capital == company.registered_capital_wan_yuan,
            )
        )
        found.extend(_contributions(application, m))
    return [f for f in found if f is not None]


def _contributions(application: Application, m: MaterialReading) -> list[Finding | None]:
    """Each shareholder's contribution on the articles, matched by name."""
    read: dict[str, tuple[str, ReadField | None]] = {}
    for key, field in m.fields.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "shareholders" and parts[2] == "contribution":
            name = m.fields.get(f"shareholders.{parts[1]}.name")
            if name is not None:
                read[normalised(name.value)] = (key, field)
    out: list[Finding | None] = []
    for i, holder in enumerate(application.shareholders):
        form_value = format(holder.contribution_wan_yuan.normalize(), "f")
        key, held = read.get(normalised(holder.name), (f"shareholders.{i}.contribution", None))
        view = m.model_copy(update={"fields": {key: held} if held else {}})
        what = f"股东「{holder.name}」的认缴出资额"
        out.append(
            _compare(
                view,
                f"shareholders.{i}.contribution_wan_yuan",
                key,
                form_value,
                what,
                same=held is not None and amount(held.value) == holder.contribution_wan_yuan,
            )
        )
    return out


def prereview(application: Application, readings: list[MaterialReading]) -> list[Finding]:
    """Every finding of the materials against the form, in the order the form lists the materials."""
    return [f for m in readings for f in _review_one(application, m)]

"""The JSON bodies of the APIs of the departments whose store is their portal's (amr, psb_seal, hrss, hpf),
and how a body becomes the portal's draft: the same controls the wizard fills, so the same checks
(``simulators.portal.forms.validate_step``) judge it and the same issuer issues its result.

Unknown fields are refused; codes are the API's (``limited_liability_company``, ``official``...),
the draft holds the portal's (``1100``, ``GZ``...).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simulators.department_api.models import MaterialIn

_APP_ID_RE = r"^[A-Za-z0-9-]{6,64}$"

ENTITY_CODES = {"limited_liability_company": "1100", "joint_stock_company": "1200"}
ROLE_CODES = {"executive_director": "01", "chairman": "02", "manager": "03"}
METHOD_CODES = {
    "currency": "1",
    "in_kind": "2",
    "intellectual_property": "3",
    "land_use_right": "4",
    "equity": "5",
    "debt": "6",
}
#: the API's seal types -> the portal's (公章 GZ, 财务专用章 CWZ, ...)
SEAL_CODES = {"official": "GZ", "financial": "CWZ", "invoice": "FPZ", "legal_representative": "FRZ", "contract": "HTZ"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    application_id: str = Field(pattern=_APP_ID_RE)
    callback_url: str | None = Field(default=None, pattern=r"^https?://")
    # the files the catalog names for the department (checked and kept by the API: department_api.materials)
    materials: list[MaterialIn] = Field(default_factory=list, max_length=50)


class Named(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=50)
    id_number: str = ""
    mobile: str = ""


class LegalRepresentative(Named):
    role: Literal["executive_director", "chairman", "manager"] = "executive_director"


class ShareholderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["natural_person", "legal_person"]
    name: str = Field(min_length=1, max_length=100)
    id_number: str | None = None
    uscc: str | None = None
    contribution_wan_yuan: str
    contribution_method: Literal["currency", "in_kind", "intellectual_property", "land_use_right", "equity", "debt"]
    contribution_deadline: date


class AmrSubmission(_Body):
    company_name: str = Field(min_length=1, max_length=100)
    entity_type: Literal["limited_liability_company", "joint_stock_company"]
    registered_capital_wan_yuan: str
    division_code: str
    address: str = Field(min_length=1, max_length=200)
    business_scope: list[str] = Field(min_length=1)
    operating_term_years: int | None = None
    legal_representative: LegalRepresentative
    supervisor: Named
    financial_officer: Named
    liaison: Named
    shareholders: list[ShareholderIn] = Field(min_length=1, max_length=50)


class _UnitBody(_Body):
    uscc: str
    company_name: str = Field(min_length=1, max_length=100)


class PsbSealSubmission(_UnitBody):
    legal_representative: Named
    seal_types: list[Literal["official", "financial", "invoice", "legal_representative", "contract"]] = Field(
        min_length=1
    )
    liaison: Named


class HrssSubmission(_UnitBody):
    address: str = Field(min_length=1, max_length=200)
    legal_representative: Named
    employees: list[Named] = Field(default_factory=list, max_length=500)


class HpfSubmission(_UnitBody):
    employees_expected: int = Field(ge=0)
    contribution_rate: str  # a fraction, "0.12"; the portal asks for a percentage
    liaison: Named


def _person(prefix: str, p: Named, *keys: str) -> dict[str, str]:
    return {f"{prefix}_{k}": getattr(p, k) for k in keys}


def _percent(fraction: str) -> str:
    try:
        return format((Decimal(fraction) * 100).normalize(), "f")
    except (InvalidOperation, ValueError):
        return fraction  # left for the portal's check to refuse


def amr_draft(b: AmrSubmission) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "external_ref": b.application_id,
        "company_name": b.company_name,
        "entity_type": ENTITY_CODES[b.entity_type],
        "registered_capital": b.registered_capital_wan_yuan,
        "division_code": b.division_code,
        "address_detail": b.address,
        "business_scope": "；".join(b.business_scope),
        "operating_term_years": str(b.operating_term_years) if b.operating_term_years else "",
        "shareholder_count": str(len(b.shareholders)),
        "legal_rep_role": ROLE_CODES[b.legal_representative.role],
        **_person("legal_rep", b.legal_representative, "name", "id_number", "mobile"),
    }
    for prefix, p in (("supervisor", b.supervisor), ("financial_officer", b.financial_officer), ("liaison", b.liaison)):
        draft.update(_person(prefix, p, "name", "id_number", "mobile"))
    for i, sh in enumerate(b.shareholders, 1):
        row = {
            "kind": sh.kind,
            "name": sh.name,
            "id_number": (sh.id_number if sh.kind == "natural_person" else sh.uscc) or "",
            "contribution": sh.contribution_wan_yuan,
            "method": METHOD_CODES[sh.contribution_method],
            "deadline": sh.contribution_deadline.isoformat(),
        }
        draft.update({f"shareholders-{i}-{k}": v for k, v in row.items()})
    return draft


def psb_seal_draft(b: PsbSealSubmission) -> dict[str, Any]:
    return {
        "external_ref": b.application_id,
        "uscc": b.uscc,
        "company_name": b.company_name,
        **_person("legal_rep", b.legal_representative, "name", "id_number"),
        "seal_types": [SEAL_CODES[t] for t in dict.fromkeys(b.seal_types)],
        **_person("liaison", b.liaison, "name", "mobile"),
    }


def hrss_draft(b: HrssSubmission) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "external_ref": b.application_id,
        "uscc": b.uscc,
        "company_name": b.company_name,
        **_person("legal_rep", b.legal_representative, "name", "id_number"),
        "address": b.address,
        "employee_count": str(len(b.employees)),
    }
    for i, e in enumerate(b.employees, 1):
        draft[f"employees-{i}-name"], draft[f"employees-{i}-id_number"] = e.name, e.id_number
    return draft


def hpf_draft(b: HpfSubmission) -> dict[str, Any]:
    return {
        "external_ref": b.application_id,
        "uscc": b.uscc,
        "company_name": b.company_name,
        "employee_count": str(b.employees_expected),
        "contribution_rate": _percent(b.contribution_rate),
        **_person("liaison", b.liaison, "name", "id_number", "mobile"),
    }


#: per department: its API body and how a body becomes the portal's draft
BODIES: dict[str, tuple[type[_Body], Any]] = {
    "amr": (AmrSubmission, amr_draft),
    "psb_seal": (PsbSealSubmission, psb_seal_draft),
    "hrss": (HrssSubmission, hrss_draft),
    "hpf": (HpfSubmission, hpf_draft),
}

"""The JSON body each department's API needs, from the one form and the upstream results.

Every department can be reached through its API (DOMAIN.md: a department moves between channels by
configuration): tax, nhsa and bank as they always were; amr (the company, its people and shareholders:
it issues the USCC), psb_seal (the USCC and the seal types), hrss and hpf (the USCC and the unit's
data). The wire bodies are described in ``simulators/README.md``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from domain.form import Application
from domain.requests import DepartmentRequest

Payload = dict[str, Any]


def _plain(amount: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 100 -> '100', 0.1200 -> '0.12'."""
    return format(amount.normalize(), "f")


def _person(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "id_number": p.id_number}
    if getattr(p, "mobile", None):
        out["mobile"] = p.mobile
    return out


def _unit(request: DepartmentRequest, uscc: str) -> Payload:
    """What every department but amr files under: the application id, the USCC amr issued, the name."""
    return {"application_id": request.application_id, "uscc": uscc, "company_name": request.application.company.name}


def _common(request: DepartmentRequest, uscc: str) -> Payload:
    app = request.application
    return {
        **_unit(request, uscc),
        "division_code": app.company.address.division_code,
        "address": app.company.address.detail,
        "legal_representative": _person(app.legal_representative),
    }


def _shareholder(sh: Any) -> Payload:
    out: Payload = {"kind": sh.kind, "name": sh.name}
    if sh.kind == "natural_person":
        out["id_number"] = sh.id_number
    else:
        out["uscc"] = sh.uscc
    out.update(
        contribution_wan_yuan=_plain(sh.contribution_wan_yuan),
        contribution_method=sh.contribution_method,
        contribution_deadline=sh.contribution_deadline.isoformat(),
    )
    return out


def amr_payload(request: DepartmentRequest, app: Application) -> Payload:
    c = app.company
    return {
        "application_id": request.application_id,
        "company_name": c.name,
        "entity_type": c.entity_type,
        "registered_capital_wan_yuan": _plain(c.registered_capital_wan_yuan),
        "division_code": c.address.division_code,
        "address": c.address.detail,
        "business_scope": list(c.business_scope),
        "operating_term_years": c.operating_term_years,
        "legal_representative": {**_person(app.legal_representative), "role": app.legal_representative.role},
        "supervisor": _person(app.supervisor),
        "financial_officer": _person(app.financial_officer),
        "liaison": _person(app.liaison),
        "shareholders": [_shareholder(sh) for sh in app.shareholders],
    }


def psb_seal_payload(request: DepartmentRequest, app: Application, uscc: str) -> Payload:
    return {
        **_unit(request, uscc),
        "legal_representative": {
            "name": app.legal_representative.name,
            "id_number": app.legal_representative.id_number,
        },
        "seal_types": list(app.seal.types),
        "liaison": {"name": app.liaison.name, "mobile": app.liaison.mobile},
    }


def hrss_payload(request: DepartmentRequest, app: Application, uscc: str) -> Payload:
    return {
        **_unit(request, uscc),
        "address": app.company.address.detail,
        "legal_representative": {
            "name": app.legal_representative.name,
            "id_number": app.legal_representative.id_number,
        },
        "employees": [{"name": e.name, "id_number": e.id_number} for e in app.social_insurance.enroll_employees],
    }


def hpf_payload(request: DepartmentRequest, app: Application, uscc: str) -> Payload:
    rate = app.housing_fund.contribution_rate
    if rate is None:
        raise ValueError(f"hpf: application {request.application_id} gives no housing-fund contribution rate")
    return {
        **_unit(request, uscc),
        "employees_expected": app.company.employees_expected,
        "contribution_rate": _plain(rate),
        "liaison": _person(app.liaison),
    }


def tax_payload(request: DepartmentRequest, app: Application, uscc: str) -> Payload:
    return {
        **_common(request, uscc),
        "financial_officer": _person(app.financial_officer),
        "tax_officer": _person(app.tax_officer),
        "invoice_types": list(app.tax.invoice_types),
        "expected_monthly_invoice_amount_wan_yuan": str(app.tax.expected_monthly_invoice_amount_wan_yuan),
    }


def nhsa_payload(request: DepartmentRequest, app: Application, uscc: str) -> Payload:
    return {
        **_common(request, uscc),
        "liaison": _person(app.liaison),
        "employees_expected": app.company.employees_expected,
    }


def bank_payload(request: DepartmentRequest, app: Application, uscc: str) -> Payload:
    if app.bank_account is None:
        raise ValueError(f"bank: application {request.application_id} asks for no bank account")
    seal_codes = (request.upstream.get("psb_seal") or {}).get("seal_codes") or {}
    return {
        **_common(request, uscc),
        "account_type": app.bank_account.account_type,
        "bank_code": app.bank_account.bank_code,
        "branch_name": app.bank_account.branch_name,
        "financial_officer": _person(app.financial_officer),
        "seal_codes": {str(k): str(v) for k, v in seal_codes.items()},
        "requested_seal_types": list(app.seal.types),
    }


#: the departments that file under the USCC amr issued: their body builders
UNDER_USCC: dict[str, Callable[[DepartmentRequest, Application, str], Payload]] = {
    "psb_seal": psb_seal_payload,
    "tax": tax_payload,
    "hrss": hrss_payload,
    "nhsa": nhsa_payload,
    "hpf": hpf_payload,
    "bank": bank_payload,
}
API_DEPARTMENTS = ("amr", *UNDER_USCC)


def build_payload(request: DepartmentRequest) -> Payload:
    """The department-specific JSON body for ``request`` (application + upstream results).

    Raises ``ValueError`` when the department has no API body or the upstream ``amr`` result
    carries no USCC (a prerequisite was not met: not the clerk's to fix).
    """
    dept, app = request.department, request.application
    if dept == "amr":
        return amr_payload(request, app)
    builder = UNDER_USCC.get(dept)
    if builder is None:
        raise ValueError(f"{dept}: no API payload for this department (known: {', '.join(API_DEPARTMENTS)})")
    uscc = request.uscc
    if not uscc:
        raise ValueError(f"{dept}: upstream amr result carries no uscc; cannot submit {request.application_id}")
    return builder(request, app, uscc)

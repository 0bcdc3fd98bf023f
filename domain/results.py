"""What each department answers once it has processed a task (DOMAIN.md "Departments").

Shared by both channels: a robot reads these from a portal's progress page, the API
channel from a department's JSON. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AmrResult(_Result):
    uscc: str = Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")
    licence_serial: str
    approved_at: datetime


class PsbSealResult(_Result):
    seal_codes: dict[str, str]


class TaxResult(_Result):
    taxpayer_id: str
    tax_authority: str
    invoice_types: list[str]


class HrssResult(_Result):
    si_unit_code: str


class NhsaResult(_Result):
    mi_unit_code: str


class HpfResult(_Result):
    hpf_unit_account: str


class BankResult(_Result):
    account_no: str
    bank_code: str
    opened_at: datetime


RESULT_MODELS: dict[str, type[_Result]] = {
    "amr": AmrResult,
    "psb_seal": PsbSealResult,
    "tax": TaxResult,
    "hrss": HrssResult,
    "nhsa": NhsaResult,
    "hpf": HpfResult,
    "bank": BankResult,
}


def validate_result(code: str, data: dict) -> dict:
    """Check a department's result against its schema; returns it in JSON form."""
    model = RESULT_MODELS.get(code)
    if model is None:
        return dict(data)
    return model.model_validate(data).model_dump(mode="json")


InquiryStatus = Literal["in_review", "completed", "rejected", "withdrawn"]

#: A department API's status words (in its answers and its callbacks) → the task's inquiry status.
DEPARTMENT_API_STATUSES: dict[str, InquiryStatus] = {
    "processing": "in_review",
    "in_review": "in_review",
    "completed": "completed",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
}


def inquiry_status(department_status: object) -> InquiryStatus | None:
    """What a department API's status means for the task; None for a word it does not use."""
    return DEPARTMENT_API_STATUSES.get(department_status) if isinstance(department_status, str) else None


class Inquiry(BaseModel):
    """What a department says about a task it has received (``withdrawn``: the application was
    withdrawn there; ``reason`` is then the withdrawal's)."""

    status: InquiryStatus
    result: dict | None = None
    reason: str | None = None


class Receipt(BaseModel):
    """A department's acknowledgement that it received the task (受理回执)."""

    receipt_no: str
    submitted_at: datetime | None = None
    # what a robot kept of it, by kind, each a path relative to the evidence folder (served at
    # /api/v1/evidence/<path>): {"receipt_screenshot": "2026-11-28/amr-KB20261128-0001-receipt-attempt1.png"}
    evidence: dict[str, str] | None = None
    # an API department is asked once right after filing: a department that decides at once (or
    # already had decided, on a repeated filing) needs no further inquiry; None: not asked or no answer
    answer: Inquiry | None = None

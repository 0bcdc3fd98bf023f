"""The request bodies each department API accepts (pydantic; unknown fields are refused)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from stdnum.cn import uscc as stdnum_uscc

_USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_APP_ID_RE = r"^[A-Za-z0-9-]{6,64}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(_Body):
    name: str = Field(min_length=1, max_length=50)
    id_number: str | None = None
    mobile: str | None = None


class MaterialIn(_Body):
    """One file the submission carries: inline (``data``, base64) or by link (``url``, fetched and checked)."""

    kind: str = Field(min_length=1, max_length=64)
    filename: str = Field(min_length=1, max_length=255)
    concerns: str | None = Field(default=None, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str = Field(min_length=1, max_length=100)
    size_bytes: int = Field(ge=0)
    data: str | None = Field(default=None, repr=False)
    url: str | None = Field(default=None, pattern=r"^https?://")
    expires_at: int | None = None

    @model_validator(mode="after")
    def _one_way(self) -> MaterialIn:
        if (self.data is None) == (self.url is None):
            raise ValueError("a material carries either data (base64) or url, not both and not neither")
        return self


class Submission(_Body):
    application_id: str = Field(pattern=_APP_ID_RE)
    uscc: str
    company_name: str = Field(min_length=1, max_length=100)
    division_code: str = Field(pattern=r"^\d{6}$")
    address: str = Field(min_length=1, max_length=200)
    legal_representative: PersonIn
    callback_url: str | None = Field(default=None, pattern=r"^https?://")
    materials: list[MaterialIn] = Field(default_factory=list, max_length=50)

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, v: str) -> str:
        if not _USCC_RE.match(v) or not stdnum_uscc.is_valid(v):
            raise ValueError(
                f"统一社会信用代码校验位错误 (invalid unified social credit code {v!r}: "
                "GB 32100 check character does not match)"
            )
        return v


class TaxSubmission(Submission):
    financial_officer: PersonIn
    tax_officer: PersonIn
    invoice_types: list[Literal["digital_general", "digital_special"]] = Field(default_factory=list)
    expected_monthly_invoice_amount_wan_yuan: str

    @field_validator("expected_monthly_invoice_amount_wan_yuan")
    @classmethod
    def _decimal(cls, v: str) -> str:
        try:
            d = Decimal(v)
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {v!r}") from None
        if not d.is_finite() or d < 0:
            raise ValueError(f"amount must be a non-negative decimal: {v!r}")
        return v


class NhsaSubmission(Submission):
    liaison: PersonIn
    employees_expected: int = Field(ge=0)


class BankSubmission(Submission):
    account_type: Literal["basic"] = "basic"
    bank_code: str = Field(min_length=2, max_length=16)
    branch_name: str = Field(min_length=1, max_length=100)
    financial_officer: PersonIn
    seal_codes: dict[str, str] = Field(default_factory=dict)
    requested_seal_types: list[str] = Field(default_factory=list)

    @field_validator("seal_codes")
    @classmethod
    def _seals(cls, v: dict[str, str]) -> dict[str, str]:
        codes = {k: c.strip() for k, c in v.items() if isinstance(c, str) and c.strip()}
        if not codes:
            raise ValueError("缺少印章备案编码 (at least one seal code from the seal engraving filing is required)")
        return codes

    def check_financial_seal(self) -> str | None:
        if "financial" in self.requested_seal_types and "financial" not in self.seal_codes:
            return (
                "seal_codes: 缺少财务专用章备案编码 (the financial seal was requested but its filing code is missing)"
            )
        return None


BODY_MODELS: dict[str, type[Submission]] = {
    "tax": TaxSubmission,
    "nhsa": NhsaSubmission,
    "bank": BankSubmission,
}

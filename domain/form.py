"""The one form (一表申请): the intake contract of the comprehensive window.

Field names mirror ``shared/contract/application.example.json`` exactly. Every
rule of DOMAIN.md "The one form" is enforced here and fails with a field-level
message in Chinese. Pure: no I/O, no temporalio.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import warnings

from pydantic import BaseModel, ConfigDict, Field

# The contract names a field "register", which shadows a deprecated BaseModel attribute.
warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


EntityType = Literal["limited_liability_company", "joint_stock_company"]
SealType = Literal["official", "financial", "invoice", "legal_representative", "contract"]


class Window(_Model):
    window_id: str = Field(min_length=1, max_length=32)
    clerk_id: str = Field(min_length=1, max_length=32)


class Address(_Model):
    division_code: str = Field(pattern=r"^\d{6}$")
    detail: str = Field(min_length=1, max_length=200)


class Company(_Model):
    name: str = Field(min_length=1, max_length=100)
    entity_type: EntityType
    registered_capital_wan_yuan: Decimal = Field(gt=0, max_digits=14, decimal_places=4)
    address: Address
    business_scope: list[str] = Field(min_length=1)
    operating_term_years: int | None = Field(default=None, ge=1, le=100)
    employees_expected: int = Field(ge=0)


class Person(_Model):
    name: str = Field(min_length=1, max_length=50)
    id_number: str
    mobile: str


class LegalRepresentative(Person):
    role: Literal["executive_director", "chairman", "manager"]


class _Shareholder(_Model):
    name: str = Field(min_length=1, max_length=100)
    contribution_wan_yuan: Decimal = Field(gt=0, max_digits=14, decimal_places=4)
    contribution_method: Literal["currency", "in_kind", "intellectual_property", "land_use_right", "equity", "debt"]
    contribution_deadline: date


class NaturalPersonShareholder(_Shareholder):
    kind: Literal["natural_person"]
    id_number: str


class LegalPersonShareholder(_Shareholder):
    kind: Literal["legal_person"]
    uscc: str


Shareholder = Annotated[NaturalPersonShareholder | LegalPersonShareholder, Field(discriminator="kind")]


class Seal(_Model):
    types: list[SealType] = Field(default_factory=list)


class Tax(_Model):
    invoice_types: list[Literal["digital_general", "digital_special"]] = Field(default_factory=list)
    expected_monthly_invoice_amount_wan_yuan: Decimal = Field(ge=0, max_digits=14, decimal_places=4)


class Employee(_Model):
    name: str = Field(min_length=1, max_length=50)
    id_number: str


class SocialInsurance(_Model):
    register: bool
    enroll_employees: list[Employee] = Field(default_factory=list)


class MedicalInsurance(_Model):
    register: bool


class HousingFund(_Model):
    register: bool
    contribution_rate: Decimal | None = None


class BankAccount(_Model):
    bank_code: str = Field(min_length=2, max_length=16)
    branch_name: str = Field(min_length=1, max_length=100)
    account_type: Literal["basic"] = "basic"


class Material(_Model):
    kind: str = Field(min_length=1)
    filename: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Application(_Model):
    window: Window
    company: Company
    legal_representative: LegalRepresentative
    shareholders: list[Shareholder] = Field(min_length=1)
    supervisor: Person
    financial_officer: Person
    tax_officer: Person
    liaison: Person
    seal: Seal
    tax: Tax
    social_insurance: SocialInsurance
    medical_insurance: MedicalInsurance
    housing_fund: HousingFund
    bank_account: BankAccount | None = None
    materials: list[Material] = Field(default_factory=list)

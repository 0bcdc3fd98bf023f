"""The one form (一表申请): the intake contract of the comprehensive window, every rule of DOMAIN.md.

Field names mirror ``shared/contract/application.example.json``; errors are field-level, in Chinese.
Pure. The story (error types, the reference date, when cross-field rules run): docs/form.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from domain.calendar import SHANGHAI
from domain.form_messages import ERROR_MESSAGES, form_error, who
from domain.identifiers import check_mobile, check_resident_id, check_uscc, today_in_shanghai, trade_name_part
from domain.labels import (
    ENTITY_LABELS,
    INVOICE_LABELS,
    LEGAL_REP_ROLE_LABELS,
    NAME_FORMS,
    PERSON_ROLE_LABELS,
    SEAL_LABELS,
)

# The contract names a field "register", which shadows a deprecated BaseModel attribute.
warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


#: One error placed at a field: (location, error, the input it is about).
FieldError = tuple[tuple[str | int, ...], PydanticCustomError, Any]

HOUSING_FUND_RATE_MIN = Decimal("0.05")
HOUSING_FUND_RATE_MAX = Decimal("0.12")
CONTRIBUTION_YEARS = 5


def _raise_at(title: str, errors: Sequence[FieldError]) -> None:
    """Raise one ValidationError carrying several errors, each at its own location."""
    if errors:
        raise ValidationError.from_exception_data(
            title, [InitErrorDetails(type=err, loc=loc, input=value) for loc, err, value in errors]
        )


def _details(exc: ValidationError, role: str | None = None) -> list[InitErrorDetails]:
    """The errors of ``exc`` as ``InitErrorDetails`` (to re-raise them with more), optionally putting
    a role (e.g. "监事") into the person-related custom errors of a nested ``Person``."""
    details: list[InitErrorDetails] = []
    for err in exc.errors():
        ctx = dict(err.get("ctx") or {})
        if err["type"] in ERROR_MESSAGES:
            if role and "who" in ctx and not ctx.get("role"):
                ctx["role"] = role
                ctx["who"] = who(role, ctx.get("name"))
            details.append(
                InitErrorDetails(
                    type=PydanticCustomError(err["type"], ERROR_MESSAGES[err["type"]], ctx),
                    loc=err["loc"],
                    input=err["input"],
                )
            )
        else:
            detail = InitErrorDetails(type=err["type"], loc=err["loc"], input=err["input"])
            if "ctx" in err:
                detail["ctx"] = err["ctx"]
            details.append(detail)
    return details


def _relabel(exc: ValidationError, role: str) -> ValidationError:
    return ValidationError.from_exception_data(exc.title, _details(exc, role))


def _reraise_with(exc: ValidationError, extra: Sequence[FieldError]) -> None:
    """Re-raise ``exc`` with more errors (cross-field errors found although other fields failed)."""
    if not extra:
        raise exc
    raise ValidationError.from_exception_data(
        exc.title, _details(exc) + [InitErrorDetails(type=e, loc=loc, input=v) for loc, e, v in extra]
    ) from None


def _failed_fields(exc: ValidationError) -> set[str | int]:
    return {err["loc"][0] for err in exc.errors() if err["loc"]}


# --------------------------------------------------------------------------- dates


def reference_today(context: Any) -> date:
    """The reference date of a validation: ``context["today"]`` if given, else today in Asia/Shanghai."""
    if isinstance(context, Mapping):
        today = context.get("today")
        if isinstance(today, datetime):
            return today.astimezone(SHANGHAI).date() if today.tzinfo else today.date()
        if isinstance(today, date):
            return today
        if isinstance(today, str):
            return date.fromisoformat(today)
    return today_in_shanghai()


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def latest_contribution_deadline(today: date) -> date:
    """Company Law 2023 art. 47: contributions paid within 5 years of establishment."""
    return add_years(today, CONTRIBUTION_YEARS)


def _name_of(info: ValidationInfo) -> str | None:
    name = info.data.get("name")
    return name if isinstance(name, str) and name else None


def _fmt(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


# --------------------------------------------------------------------------- models


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


#: one item of the business scope (经营范围), as the catalogue of business items words it
BusinessScopeItem = Annotated[str, Field(min_length=1, max_length=200)]


class Company(_Model):
    name: str = Field(min_length=1, max_length=100)
    entity_type: EntityType
    registered_capital_wan_yuan: Decimal = Field(gt=0, max_digits=14, decimal_places=4)
    address: Address
    business_scope: list[BusinessScopeItem] = Field(min_length=1, max_length=50)
    operating_term_years: int | None = Field(default=None, ge=1, le=100)
    employees_expected: int = Field(ge=0)

    @model_validator(mode="wrap")
    @classmethod
    def _name_matches_entity_type(cls, data: Any, handler: Any) -> Company:
        try:
            company = handler(data)
        except ValidationError as exc:
            # other fields failed: still judge the name if it and the entity type are fine
            extra: list[FieldError] = []
            if isinstance(data, Mapping) and not _failed_fields(exc) & {"name", "entity_type"}:
                name = data.get("name")
                err = _company_name_error(name.strip() if isinstance(name, str) else "", data.get("entity_type"))
                if err is not None:
                    extra.append((("name",), err, name))
            _reraise_with(exc, extra)
            raise
        err = _company_name_error(company.name, company.entity_type)
        if err is not None:
            _raise_at("Company", [(("name",), err, company.name)])
        return company


def _company_name_error(name: str, entity_type: Any) -> PydanticCustomError | None:
    """The name must end in the organisation form of its entity type and hold a trade name."""
    forms = NAME_FORMS.get(entity_type)
    if not forms or not name:
        return None
    # an LLC name must not end in the joint-stock form "股份有限公司" (it ends in "有限公司" too)
    others = [f for t, fs in NAME_FORMS.items() if t != entity_type for f in fs if f not in forms]
    form = next((f for f in forms if name.endswith(f)), None)
    if form is None or any(name.endswith(o) and len(o) > len(form) for o in others):
        return form_error(
            "company_name_form",
            name=name,
            forms="或".join(f"「{f}」" for f in forms),
            entity_label=ENTITY_LABELS[entity_type],
        )
    if not trade_name_part(name[: -len(form)]):
        return form_error("company_trade_name", name=name, form=form)
    return None


class Person(_Model):
    ROLE: ClassVar[str] = ""

    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(max_length=32)
    mobile: str = Field(max_length=20)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str, info: ValidationInfo) -> str:
        return check_resident_id(value, role=cls.ROLE, name=_name_of(info), today=reference_today(info.context))

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str, info: ValidationInfo) -> str:
        return check_mobile(value, role=cls.ROLE, name=_name_of(info))


class LegalRepresentative(Person):
    ROLE: ClassVar[str] = "法定代表人"

    role: Literal["executive_director", "chairman", "manager"]


class _Shareholder(_Model):
    ROLE: ClassVar[str] = "股东"

    name: str = Field(min_length=1, max_length=100)
    contribution_wan_yuan: Decimal = Field(gt=0, max_digits=14, decimal_places=4)
    contribution_method: Literal["currency", "in_kind", "intellectual_property", "land_use_right", "equity", "debt"]
    contribution_deadline: date

    @field_validator("contribution_deadline")
    @classmethod
    def _deadline_within_five_years(cls, value: date, info: ValidationInfo) -> date:
        today = reference_today(info.context)
        latest = latest_contribution_deadline(today)
        if value > latest:
            raise form_error(
                "contribution_deadline_too_late",
                role=cls.ROLE,
                name=_name_of(info),
                deadline=value.isoformat(),
                latest=latest.isoformat(),
            )
        if value < today:
            raise form_error(
                "contribution_deadline_past",
                role=cls.ROLE,
                name=_name_of(info),
                deadline=value.isoformat(),
                today=today.isoformat(),
            )
        return value


class NaturalPersonShareholder(_Shareholder):
    kind: Literal["natural_person"]
    id_number: str = Field(max_length=32)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str, info: ValidationInfo) -> str:
        return check_resident_id(value, role=cls.ROLE, name=_name_of(info), today=reference_today(info.context))


class LegalPersonShareholder(_Shareholder):
    kind: Literal["legal_person"]
    uscc: str = Field(max_length=32)

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str, info: ValidationInfo) -> str:
        return check_uscc(value, role=cls.ROLE, name=_name_of(info))


Shareholder = Annotated[NaturalPersonShareholder | LegalPersonShareholder, Field(discriminator="kind")]


def _duplicates(values: list[Any]) -> list[tuple[int, int]]:
    """(index of a repeated value, index of its first occurrence)."""
    first: dict[Any, int] = {}
    dups = []
    for i, v in enumerate(values):
        if v in first:
            dups.append((i, first[v]))
        else:
            first[v] = i
    return dups


class Seal(_Model):
    types: list[SealType] = Field(default_factory=list, max_length=10)

    @field_validator("types")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        _raise_at(
            "Seal",
            [
                ((i,), form_error("seal_type_duplicate", label=SEAL_LABELS.get(value[i], value[i])), value[i])
                for i, _ in _duplicates(value)
            ],
        )
        return value


class Tax(_Model):
    invoice_types: list[Literal["digital_general", "digital_special"]] = Field(default_factory=list, max_length=10)
    expected_monthly_invoice_amount_wan_yuan: Decimal = Field(ge=0, max_digits=14, decimal_places=4)

    @field_validator("invoice_types")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        _raise_at(
            "Tax",
            [
                ((i,), form_error("invoice_type_duplicate", label=INVOICE_LABELS.get(value[i], value[i])), value[i])
                for i, _ in _duplicates(value)
            ],
        )
        return value


class Employee(_Model):
    ROLE: ClassVar[str] = "参保职工"

    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(max_length=32)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str, info: ValidationInfo) -> str:
        return check_resident_id(value, role=cls.ROLE, name=_name_of(info), today=reference_today(info.context))


class SocialInsurance(_Model):
    register: bool = Field()  # explicit: else BaseModel's inherited `register` becomes its default
    enroll_employees: list[Employee] = Field(default_factory=list, max_length=500)


class MedicalInsurance(_Model):
    register: bool = Field()  # explicit: else BaseModel's inherited `register` becomes its default


class HousingFund(_Model):
    register: bool = Field()  # explicit: else BaseModel's inherited `register` becomes its default
    contribution_rate: Decimal | None = Field(default=None, max_digits=10, decimal_places=6)

    @field_validator("contribution_rate")
    @classmethod
    def _rate_in_range(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not (HOUSING_FUND_RATE_MIN <= value <= HOUSING_FUND_RATE_MAX):
            raise form_error("housing_fund_rate_range", rate=_fmt(value))
        return value

    @model_validator(mode="after")
    def _rate_required(self) -> HousingFund:
        if self.register and self.contribution_rate is None:
            _raise_at("HousingFund", [(("contribution_rate",), form_error("housing_fund_rate_required"), None)])
        return self


class BankAccount(_Model):
    bank_code: str = Field(min_length=2, max_length=16)
    branch_name: str = Field(min_length=1, max_length=100)
    account_type: Literal["basic"] = "basic"


#: whom a material concerns: a person of the form, a shareholder (by index), or the company
MATERIAL_CONCERNS_PATTERN = (
    r"^(legal_representative|supervisor|financial_officer|tax_officer|liaison|company|shareholders\.\d{1,2})$"
)


class Material(_Model):
    kind: str = Field(min_length=1, max_length=64)
    filename: str = Field(min_length=1, max_length=255)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # of a file uploaded to POST /api/v1/materials
    concerns: str | None = Field(default=None, pattern=MATERIAL_CONCERNS_PATTERN)


class Application(_Model):
    window: Window
    company: Company
    legal_representative: LegalRepresentative
    shareholders: list[Shareholder] = Field(min_length=1, max_length=50)
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
    materials: list[Material] = Field(default_factory=list, max_length=50)

    @field_validator("supervisor", "financial_officer", "tax_officer", "liaison", mode="wrap")
    @classmethod
    def _label_person_errors(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            raise _relabel(exc, PERSON_ROLE_LABELS[info.field_name or ""]) from None

    @field_validator("shareholders")
    @classmethod
    def _shareholders(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        errors: list[tuple[tuple[str | int, ...], PydanticCustomError, Any]] = []
        keys = [(s.kind, s.id_number if s.kind == "natural_person" else s.uscc) for s in value]
        for i, j in _duplicates(keys):
            field = "id_number" if value[i].kind == "natural_person" else "uscc"
            errors.append(
                (
                    (i, field),
                    form_error("shareholder_duplicate", role="股东", name=value[i].name, other=j + 1),
                    keys[i][1],
                )
            )
        company = info.data.get("company")
        if company is not None:
            total = sum((s.contribution_wan_yuan for s in value), Decimal(0))
            capital = company.registered_capital_wan_yuan
            if total != capital:
                errors.append(
                    (
                        (),
                        form_error(
                            "capital_sum_mismatch",
                            total=_fmt(total),
                            capital=_fmt(capital),
                            diff=_fmt(abs(total - capital)),
                        ),
                        [str(s.contribution_wan_yuan) for s in value],
                    )
                )
        _raise_at("Application", errors)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _supervisor_independent(cls, data: Any, handler: Any) -> Application:
        people = ("legal_representative", "supervisor", "financial_officer")
        try:
            app = handler(data)
        except ValidationError as exc:
            # other fields failed: still compare the three people if each of them is valid
            extra: list[FieldError] = []
            if isinstance(data, Mapping) and not _failed_fields(exc) & set(people):
                raw = [data.get(p) for p in people]
                valid = [p for p in raw if isinstance(p, Mapping) and isinstance(p.get("id_number"), str)]
                if len(valid) == len(raw):
                    lr, sup, fo = (
                        dict(p, id_number=p["id_number"].strip().upper(), name=str(p.get("name", "")).strip())
                        for p in valid
                    )
                    extra = _supervisor_conflicts(lr, sup, fo)
            _reraise_with(exc, extra)
            raise
        _raise_at(
            "Application",
            _supervisor_conflicts(
                app.legal_representative.model_dump(), app.supervisor.model_dump(), app.financial_officer.model_dump()
            ),
        )
        return app


def _supervisor_conflicts(
    legal_rep: Mapping[str, Any], supervisor: Mapping[str, Any], financial_officer: Mapping[str, Any]
) -> list[FieldError]:
    """Company Law: directors and senior managers (the legal representative, the financial officer)
    may not also be the supervisor. Same person = same ID number."""
    role = LEGAL_REP_ROLE_LABELS.get(str(legal_rep.get("role")), "")
    others = [
        (legal_rep, f"法定代表人（{role}）" if role else "法定代表人"),
        (financial_officer, "财务负责人"),
    ]
    return [
        (
            ("supervisor", "id_number"),
            form_error("supervisor_conflict", name=supervisor.get("name"), other=label, other_name=person.get("name")),
            supervisor["id_number"],
        )
        for person, label in others
        if person["id_number"] == supervisor["id_number"]
    ]


def application_as_of(data: Any, submitted_at: date | datetime | str | None) -> Any:
    """Validate stored application data with the rules as they stood when it was submitted.

    An application travels inside workflow inputs and is validated again whenever Temporal
    reads a payload back (replays, queries, activity inputs). Date rules (contribution
    deadlines) must be judged on the submission day, never on the day of the replay.
    Data that is already an ``Application`` (or no submission instant) passes through.
    """
    if not isinstance(data, Mapping) or submitted_at is None:
        return data
    if isinstance(submitted_at, str):
        submitted_at = datetime.fromisoformat(submitted_at)
    return Application.model_validate(data, context={"today": submitted_at})


def judged_as_of(instant_field: str) -> Any:
    """A before-validator for a model that carries an ``application`` and the instant it was made:
    the form's date rules are judged as of that instant (see :func:`application_as_of`).

    Use in a class body: ``_as_of = judged_as_of("submitted_at")``.
    """

    def _validator(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict) and "application" in data:
            data = {**data, "application": application_as_of(data["application"], data.get(instant_field))}
        return data

    return model_validator(mode="before")(classmethod(_validator))  # type: ignore[arg-type]

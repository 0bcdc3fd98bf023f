"""Pre-review rules: each kind of material against the form, and read values checked with the form's rules."""

from __future__ import annotations

from datetime import date

from domain.form import Application
from domain.materials import (
    INVALID_CONFIDENCE,
    MaterialReading,
    ReadField,
    checked,
    concerns_problem,
    prefill,
    prereview,
)
from domain.samples import generate_application

TODAY = date(2026, 12, 1)
SHA = "b" * 64


def application(seed: int = 31) -> Application:
    return Application.model_validate(generate_application(seed, today=TODAY), context={"today": TODAY})


def read(**fields: str) -> dict[str, ReadField]:
    return {k: ReadField(value=v, confidence=0.99) for k, v in fields.items()}


def test_an_id_card_that_agrees_has_no_finding_and_one_that_differs_names_the_fields():
    app = application()
    rep = app.legal_representative
    same = MaterialReading(sha256=SHA, kind="id_card", concerns="legal_representative",
                           fields=read(name=rep.name, id_number=rep.id_number))  # fmt: skip
    assert prereview(app, [same]) == []
    other = application(32).legal_representative
    differs = same.model_copy(update={"fields": read(name=other.name, id_number=other.id_number)})
    found = {f.field: f for f in prereview(app, [differs])}
    assert set(found) == {"legal_representative.id_number", "legal_representative.name"}
    assert found["legal_representative.id_number"].read_value == other.id_number
    assert found["legal_representative.id_number"].form_value == rep.id_number


def test_a_doubtful_reading_is_shown_even_when_it_agrees():
    app = application()
    rep = app.legal_representative
    fields = read(name=rep.name, id_number=rep.id_number)
    fields["name"] = ReadField(value=rep.name, confidence=0.3)
    m = MaterialReading(sha256=SHA, kind="id_card", concerns="legal_representative", fields=fields)
    (finding,) = prereview(app, [m])
    assert finding.field == "legal_representative.name" and "把握不足" in finding.message


def test_a_lease_must_contain_the_forms_address_and_articles_the_capital():
    app = application()
    address = app.company.address.detail
    lease = MaterialReading(sha256=SHA, kind="premises_proof", concerns="company",
                            fields=read(address=f"山西省太原市{address}"))  # fmt: skip
    assert prereview(app, [lease]) == []
    elsewhere = lease.model_copy(update={"fields": read(address="山西省大同市平城区某街 1 号")})
    assert [f.field for f in prereview(app, [elsewhere])] == ["company.address.detail"]
    capital = app.company.registered_capital_wan_yuan
    fields = read(company_name=app.company.name, registered_capital=str(capital + 1))
    for i, holder in enumerate(app.shareholders):
        fields[f"shareholders.{i}.name"] = ReadField(value=holder.name, confidence=0.99)
        fields[f"shareholders.{i}.contribution"] = ReadField(value=str(holder.contribution_wan_yuan), confidence=0.99)
    articles = MaterialReading(sha256=SHA, kind="articles_of_association", concerns="company", fields=fields)
    assert [f.field for f in prereview(app, [articles])] == ["company.registered_capital_wan_yuan"]


def test_a_licence_with_another_uscc():
    data = generate_application(33, today=TODAY)
    data["shareholders"].append(
        {"kind": "legal_person", "name": "山西晋泰商贸有限公司", "uscc": "91140105MA0K12345X",
         "contribution_wan_yuan": "1", "contribution_method": "currency", "contribution_deadline": "2028-01-01"}
    )  # fmt: skip
    from stdnum.cn import uscc

    data["shareholders"][-1]["uscc"] = "91140105MA0K12345" + uscc.calc_check_digit("91140105MA0K12345")
    data["company"]["registered_capital_wan_yuan"] = str(
        sum(float(s["contribution_wan_yuan"]) for s in data["shareholders"])
    )
    app = Application.model_validate(data, context={"today": TODAY})
    i = len(app.shareholders) - 1
    assert concerns_problem(app, "business_licence", f"shareholders.{i}") is None
    assert "自然人" in (concerns_problem(app, "business_licence", "shareholders.0") or "")
    licence = MaterialReading(sha256=SHA, kind="business_licence", concerns=f"shareholders.{i}",
                              fields=read(name="山西晋泰商贸有限公司", uscc="91140105MA0K99999X"))  # fmt: skip
    assert [f.field for f in prereview(app, [licence])] == [f"shareholders.{i}.uscc"]


def test_read_values_are_checked_with_the_forms_rules():
    rep = application().legal_representative
    wrong = rep.id_number[:17] + ("0" if rep.id_number[17] != "0" else "1")
    fields = checked("id_card", read(name=rep.name, id_number=wrong))
    assert fields["id_number"].confidence <= INVALID_CONFIDENCE and "校验位" in (fields["id_number"].problem or "")
    assert fields["name"].problem is None
    assert prefill("id_card", fields) == {"name": rep.name}  # a doubtful number is not offered
    assert prefill("id_card", checked("id_card", read(id_number=rep.id_number))) == {"id_number": rep.id_number}

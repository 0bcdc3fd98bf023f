"""Every rule of DOMAIN.md "The one form": the valid sample passes, one minimal mutation per rule fails
at the field the clerk must fix, with a Chinese message."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError
from stdnum.cn import ric, uscc

import domain.form as form
from domain.form import Application, HousingFund, Person
from domain.form_errors import field_errors
from domain.identifiers import check_uscc, region_in_use, region_known

TODAY = date(2026, 9, 1)  # the sample's deadlines (2030-12-31, 2031-06-30) lie within 5 years of it


def validate(data: dict, today: date = TODAY) -> Application:
    return Application.model_validate(data, context={"today": today})


def errors(data: dict, today: date = TODAY) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        validate(data, today)
    return field_errors(info.value)


def error_at(data: dict, field: str, type_: str, today: date = TODAY) -> dict:
    found = errors(data, today)
    matching = [e for e in found if e["field"] == field]
    assert matching, f"no error at {field}: {found}"
    assert matching[0]["type"] == type_, found
    return matching[0]


def make_id(first17: str) -> str:
    """A resident ID number with the correct check digit."""
    return first17 + ric.calc_check_digit(first17 + "0")


def wrong_check(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


# --------------------------------------------------------------------------- the sample


def test_sample_is_valid(sample_json):
    app = validate(sample_json)
    assert app.company.registered_capital_wan_yuan == Decimal("100")
    assert app.shareholders[1].uscc == "91140100MA0KQ7WX5W"


def test_default_reference_date_is_today_in_shanghai(sample_json, monkeypatch):
    now = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert form.reference_today(None) in (now, form.today_in_shanghai())
    monkeypatch.setattr(form, "today_in_shanghai", lambda: TODAY)
    Application.model_validate(sample_json)  # no context: uses (patched) Shanghai today
    monkeypatch.setattr(form, "today_in_shanghai", lambda: date(2031, 1, 1))
    with pytest.raises(ValidationError) as info:
        Application.model_validate(sample_json)
    assert [e["field"] for e in field_errors(info.value)] == ["shareholders.1.contribution_deadline"]


# --------------------------------------------------------------------------- resident ID numbers


def test_shareholder_id_check_digit(sample_json):
    sample_json["shareholders"][0]["id_number"] = wrong_check(sample_json["shareholders"][0]["id_number"])
    err = error_at(sample_json, "shareholders.0.id_number", "id_check_digit")
    assert "身份证" in err["message"] and "王晓明" in err["message"] and "校验位" in err["message"]
    assert err["message"].startswith("股东「王晓明」")


@pytest.mark.parametrize(
    "bad", ["14012119870415021", "1401211987041502133", "14012119870415021A", "1401211987O4150213"]
)
def test_id_length_or_characters(sample_json, bad):
    sample_json["legal_representative"]["id_number"] = bad
    err = error_at(sample_json, "legal_representative.id_number", "id_format")
    assert "18 位" in err["message"] and "法定代表人「王晓明」" in err["message"]
    assert bad not in err["message"]  # personal information is not echoed


def test_id_impossible_birth_date(sample_json):
    sample_json["supervisor"]["id_number"] = make_id("14012219870230044")
    err = error_at(sample_json, "supervisor.id_number", "id_birth_date")
    assert "监事「李娜」" in err["message"] and "出生日期" in err["message"] and "不是真实的日期" in err["message"]


def test_id_birth_date_in_the_future(sample_json):
    sample_json["financial_officer"]["id_number"] = make_id("14012320260902015")
    err = error_at(sample_json, "financial_officer.id_number", "id_birth_date")
    assert "财务负责人「张伟」" in err["message"] and "晚于今天" in err["message"]
    # the same number is fine once that day has come
    validate(sample_json, today=date(2026, 9, 2))


def test_id_unknown_region(sample_json):
    sample_json["tax_officer"]["id_number"] = make_id("14999919921201026")
    err = error_at(sample_json, "tax_officer.id_number", "id_region")
    assert "办税人「赵敏」" in err["message"] and "地区码 149999" in err["message"]


def test_id_region_created_after_birth_year_passes(sample_json):
    # 140105 小店区 exists since 1997; people born earlier were re-registered with it.
    reregistered = make_id("14010519800101001")
    assert not region_in_use("140105", 1980) and region_known("140105")
    assert not ric.is_valid(reregistered)  # stdnum's strict check rejects it ...
    sample_json["tax_officer"]["id_number"] = reregistered
    sample_json["liaison"]["id_number"] = reregistered
    app = validate(sample_json)  # ... the form does not
    assert app.tax_officer.id_number == reregistered


def test_id_of_employee_and_liaison_are_checked(sample_json):
    sample_json["social_insurance"]["enroll_employees"][1]["id_number"] = wrong_check("140122198802030828")
    sample_json["liaison"]["id_number"] = "1401001992120102"
    found = {e["field"]: e for e in errors(sample_json)}
    assert "参保职工「陈静」" in found["social_insurance.enroll_employees.1.id_number"]["message"]
    assert found["liaison.id_number"]["type"] == "id_format"
    assert "联络员「赵敏」" in found["liaison.id_number"]["message"]


def test_id_stripped_and_lowercase_x_normalised(sample_json):
    with_x = "14012119870415103X"
    assert ric.is_valid(with_x)
    sample_json["legal_representative"]["id_number"] = "  " + with_x.lower() + " "
    sample_json["shareholders"][0]["id_number"] = with_x.lower()
    app = validate(sample_json)
    assert app.legal_representative.id_number == with_x
    assert app.shareholders[0].id_number == with_x


def test_person_alone_names_the_person():
    with pytest.raises(ValidationError) as info:
        Person.model_validate(
            {"name": "李娜", "id_number": wrong_check("140122199007280443"), "mobile": "13903510288"},
            context={"today": TODAY},
        )
    [err] = field_errors(info.value)
    assert err["field"] == "id_number" and err["message"].startswith("「李娜」的身份证号码")


# --------------------------------------------------------------------------- USCC


def test_uscc_check_character(sample_json):
    sample_json["shareholders"][1]["uscc"] = "91140100MA0KQ7WX5X"
    err = error_at(sample_json, "shareholders.1.uscc", "uscc_check_char")
    assert "统一社会信用代码" in err["message"] and "山西汾水投资有限公司" in err["message"]


@pytest.mark.parametrize("bad", ["91140100MA0KQ7WX5", "91140100MA0KQ7IX5W", "91AB0100MA0KQ7WX5W"])
def test_uscc_format(sample_json, bad):
    sample_json["shareholders"][1]["uscc"] = bad
    err = error_at(sample_json, "shareholders.1.uscc", "uscc_format")
    assert "统一社会信用代码" in err["message"] and "18 位" in err["message"]


def test_uscc_with_letter_authority_code_and_correct_check_passes(sample_json):
    # Y = 工会 (a trade union as shareholder): stdnum insists on 8 leading digits and calls it invalid.
    body = "Y1140100MA0KQ7WX5"
    code = body + uscc.calc_check_digit(body)
    assert not uscc.is_valid(code)
    assert check_uscc(code) == code
    sample_json["shareholders"][1]["uscc"] = code
    assert validate(sample_json).shareholders[1].uscc == code
    sample_json["shareholders"][1]["uscc"] = body + ("0" if code[-1] != "0" else "1")
    error_at(sample_json, "shareholders.1.uscc", "uscc_check_char")


def test_uscc_lowercase_normalised(sample_json):
    sample_json["shareholders"][1]["uscc"] = " 91140100ma0kq7wx5w "
    assert validate(sample_json).shareholders[1].uscc == "91140100MA0KQ7WX5W"


# --------------------------------------------------------------------------- mobiles


@pytest.mark.parametrize("bad", ["1383510042", "12835100421", "138351004210", "1383510042a", "+8613835100421"])
def test_mobile_format(sample_json, bad):
    sample_json["legal_representative"]["mobile"] = bad
    err = error_at(sample_json, "legal_representative.mobile", "mobile_format")
    assert "手机号码" in err["message"] and "法定代表人「王晓明」" in err["message"]


def test_mobile_of_every_contact_is_checked_and_stripped(sample_json):
    sample_json["supervisor"]["mobile"] = " 13903510288 "
    assert validate(sample_json).supervisor.mobile == "13903510288"
    for role, _label in (
        ("supervisor", "监事"),
        ("financial_officer", "财务负责人"),
        ("tax_officer", "办税人"),
        ("liaison", "联络员"),
    ):
        sample_json[role]["mobile"] = "10000000000"
    found = {e["field"]: e["message"] for e in errors(sample_json)}
    assert "监事「李娜」" in found["supervisor.mobile"]
    assert "财务负责人「张伟」" in found["financial_officer.mobile"]
    assert "办税人「赵敏」" in found["tax_officer.mobile"]
    assert "联络员「赵敏」" in found["liaison.mobile"]


# --------------------------------------------------------------------------- capital


def test_contributions_must_add_up_to_capital(sample_json):
    sample_json["shareholders"][1]["contribution_wan_yuan"] = "40.0001"
    err = error_at(sample_json, "shareholders", "capital_sum_mismatch")
    assert "100.0001" in err["message"] and "注册资本 100 万元" in err["message"] and "不一致" in err["message"]


def test_contribution_sum_is_exact_decimal(sample_json):
    # 0.1 + 0.2 != 0.3 in floating point; in money it is equal.
    sample_json["company"]["registered_capital_wan_yuan"] = "0.3"
    sample_json["shareholders"][0]["contribution_wan_yuan"] = "0.1"
    sample_json["shareholders"][1]["contribution_wan_yuan"] = "0.2"
    app = validate(sample_json)
    assert isinstance(app.shareholders[0].contribution_wan_yuan, Decimal)
    # trailing zeros do not matter either
    sample_json["shareholders"][0]["contribution_wan_yuan"] = "0.1000"
    validate(sample_json)


def test_contribution_deadline_within_five_years(sample_json):
    latest = date(2031, 9, 1)
    sample_json["shareholders"][0]["contribution_deadline"] = latest.isoformat()
    validate(sample_json)
    sample_json["shareholders"][0]["contribution_deadline"] = (latest + timedelta(days=1)).isoformat()
    err = error_at(sample_json, "shareholders.0.contribution_deadline", "contribution_deadline_too_late")
    assert "5 年" in err["message"] and "股东「王晓明」" in err["message"] and "2031-09-01" in err["message"]


def test_contribution_deadline_in_the_past(sample_json):
    sample_json["shareholders"][1]["contribution_deadline"] = TODAY.isoformat()
    validate(sample_json)
    sample_json["shareholders"][1]["contribution_deadline"] = (TODAY - timedelta(days=1)).isoformat()
    err = error_at(sample_json, "shareholders.1.contribution_deadline", "contribution_deadline_past")
    assert "早于今天" in err["message"] and "山西汾水投资有限公司" in err["message"]


def test_five_years_from_29_february():
    assert form.latest_contribution_deadline(date(2028, 2, 29)) == date(2033, 2, 28)


def test_duplicate_shareholder(sample_json):
    sample_json["shareholders"].append(dict(sample_json["shareholders"][0], contribution_wan_yuan="1"))
    sample_json["company"]["registered_capital_wan_yuan"] = "101"
    err = error_at(sample_json, "shareholders.2.id_number", "shareholder_duplicate")
    assert "第 1 位股东" in err["message"]


# --------------------------------------------------------------------------- supervisor


def test_supervisor_is_not_the_legal_representative(sample_json):
    sample_json["supervisor"] = dict(sample_json["legal_representative"])
    del sample_json["supervisor"]["role"]
    err = error_at(sample_json, "supervisor.id_number", "supervisor_conflict")
    assert "监事「王晓明」" in err["message"] and "法定代表人（执行董事）" in err["message"]


def test_supervisor_is_not_the_financial_officer(sample_json):
    sample_json["supervisor"]["id_number"] = sample_json["financial_officer"]["id_number"]
    err = error_at(sample_json, "supervisor.id_number", "supervisor_conflict")
    assert "财务负责人「张伟」" in err["message"]


def test_supervisor_conflict_location_survives_nesting(sample_json):
    class Envelope(BaseModel):
        applications: list[Application]

    sample_json["supervisor"]["id_number"] = sample_json["financial_officer"]["id_number"]
    with pytest.raises(ValidationError) as info:
        Envelope.model_validate({"applications": [sample_json]}, context={"today": TODAY})
    assert [e["field"] for e in field_errors(info.value)] == ["applications.0.supervisor.id_number"]


# --------------------------------------------------------------------------- company name


@pytest.mark.parametrize("name", ["太原晋创云数据科技有限责任公司", "晋创有限公司", "山西省太原市晋创有限公司"])
def test_llc_name_forms_accepted(sample_json, name):
    sample_json["company"]["name"] = name
    validate(sample_json)


@pytest.mark.parametrize("name", ["太原晋创云数据科技股份有限公司", "太原晋创云数据科技集团", "太原晋创云数据科技公司"])
def test_llc_name_must_end_in_its_form(sample_json, name):
    sample_json["company"]["name"] = name
    err = error_at(sample_json, "company.name", "company_name_form")
    assert "「有限责任公司」或「有限公司」" in err["message"] and name in err["message"]


def test_joint_stock_name_form(sample_json):
    sample_json["company"]["entity_type"] = "joint_stock_company"
    err = error_at(sample_json, "company.name", "company_name_form")
    assert "「股份有限公司」" in err["message"]
    sample_json["company"]["name"] = "太原晋创云数据科技股份有限公司"
    validate(sample_json)


@pytest.mark.parametrize("name", ["有限公司", "有限责任公司", "山西省有限公司", "太原市有限公司", "山西太原有限公司"])
def test_company_name_needs_a_trade_name(sample_json, name):
    sample_json["company"]["name"] = name
    err = error_at(sample_json, "company.name", "company_trade_name")
    assert "字号" in err["message"]


# --------------------------------------------------------------------------- housing fund


@pytest.mark.parametrize("rate", ["0.05", "0.12", "0.080"])
def test_housing_fund_rate_bounds_inclusive(sample_json, rate):
    sample_json["housing_fund"]["contribution_rate"] = rate
    assert validate(sample_json).housing_fund.contribution_rate == Decimal(rate)


@pytest.mark.parametrize("rate", ["0.049", "0.1201", "12", "0"])
def test_housing_fund_rate_out_of_range(sample_json, rate):
    sample_json["housing_fund"]["contribution_rate"] = rate
    err = error_at(sample_json, "housing_fund.contribution_rate", "housing_fund_rate_range")
    assert "0.05 至 0.12" in err["message"]


def test_housing_fund_rate_required_when_registering(sample_json):
    sample_json["housing_fund"]["contribution_rate"] = None
    err = error_at(sample_json, "housing_fund.contribution_rate", "housing_fund_rate_required")
    assert "缴存比例" in err["message"]
    del sample_json["housing_fund"]["contribution_rate"]
    error_at(sample_json, "housing_fund.contribution_rate", "housing_fund_rate_required")
    sample_json["housing_fund"]["register"] = False
    validate(sample_json)
    assert HousingFund(register=False).contribution_rate is None


# --------------------------------------------------------------------------- duplicates


def test_duplicate_seal_types(sample_json):
    sample_json["seal"]["types"].append("financial")
    err = error_at(sample_json, "seal.types.4", "seal_type_duplicate")
    assert "财务专用章" in err["message"] and "重复" in err["message"]


def test_duplicate_invoice_types(sample_json):
    sample_json["tax"]["invoice_types"] = ["digital_general", "digital_general"]
    err = error_at(sample_json, "tax.invoice_types.1", "invoice_type_duplicate")
    assert "数电普通发票" in err["message"]


# --------------------------------------------------------------------------- rare characters


def test_names_outside_the_bmp_round_trip_unchanged(sample_json):
    names = {"lr": "王𬱖", "sup": "刘䶮", "company": "太原𬱖䶮科技有限公司", "emp": "𬱖䶮"}
    assert ord("𬱖") > 0xFFFF
    sample_json["legal_representative"]["name"] = names["lr"]
    sample_json["shareholders"][0]["name"] = names["lr"]
    sample_json["supervisor"]["name"] = names["sup"]
    sample_json["company"]["name"] = names["company"]
    sample_json["social_insurance"]["enroll_employees"][0]["name"] = names["emp"]
    dumped = validate(sample_json).model_dump(mode="json")
    assert dumped["legal_representative"]["name"] == names["lr"]
    assert dumped["shareholders"][0]["name"] == names["lr"]
    assert dumped["supervisor"]["name"] == names["sup"]
    assert dumped["company"]["name"] == names["company"]
    assert dumped["social_insurance"]["enroll_employees"][0]["name"] == names["emp"]
    again = json.loads(validate(sample_json).model_dump_json())
    assert again == dumped
    assert validate(again).model_dump(mode="json") == dumped


def test_error_message_keeps_rare_characters(sample_json):
    sample_json["shareholders"][0]["name"] = "王𬱖"
    sample_json["shareholders"][0]["id_number"] = wrong_check(sample_json["shareholders"][0]["id_number"])
    err = error_at(sample_json, "shareholders.0.id_number", "id_check_digit")
    assert "股东「王𬱖」" in err["message"]


# --------------------------------------------------------------------------- all at once


def test_independent_errors_are_reported_together(sample_json):
    sample_json["shareholders"][0]["id_number"] = wrong_check(sample_json["shareholders"][0]["id_number"])
    sample_json["supervisor"]["mobile"] = "123"
    sample_json["housing_fund"]["contribution_rate"] = "0.2"
    sample_json["seal"]["types"].append("official")
    sample_json["window"]["clerk_id"] = ""
    fields = {e["field"] for e in errors(sample_json)}
    assert fields == {
        "shareholders.0.id_number",
        "supervisor.mobile",
        "housing_fund.contribution_rate",
        "seal.types.4",
        "window.clerk_id",
    }


def test_cross_field_rules_run_although_other_fields_fail(sample_json):
    sample_json["supervisor"]["id_number"] = " " + sample_json["financial_officer"]["id_number"] + " "
    sample_json["company"]["name"] = "太原晋创云数据科技集团"
    sample_json["company"]["employees_expected"] = -1
    sample_json["social_insurance"]["enroll_employees"][0]["id_number"] = "123"
    found = {e["field"]: e["type"] for e in errors(sample_json)}
    assert found == {
        "supervisor.id_number": "supervisor_conflict",
        "company.name": "company_name_form",
        "company.employees_expected": "greater_than_equal",
        "social_insurance.enroll_employees.0.id_number": "id_format",
    }


def test_cross_field_rules_wait_for_the_fields_they_compare(sample_json):
    # an invalid supervisor ID is reported as such, not also as a conflict
    sample_json["supervisor"]["id_number"] = sample_json["legal_representative"]["id_number"][:-1]
    sample_json["company"]["entity_type"] = "partnership"
    found = {e["field"]: e["type"] for e in errors(sample_json)}
    assert found == {"supervisor.id_number": "id_format", "company.entity_type": "literal_error"}


@pytest.mark.parametrize("section", ["social_insurance", "medical_insurance", "housing_fund"])
def test_register_flag_is_required(sample_json, section):
    # pydantic would otherwise take BaseModel's inherited `register` method as the field's default
    del sample_json[section]["register"]
    error_at(sample_json, f"{section}.register", "missing")


def test_every_custom_error_type_has_a_chinese_message():
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in msg) for msg in form.ERROR_MESSAGES.values())

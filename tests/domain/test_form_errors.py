"""field_errors: dotted field paths and Chinese messages for pydantic's built-in errors and the form's own."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import ValidationError
from pydantic_core import InitErrorDetails

from domain.form import Application
from domain.form_errors import field_errors, field_path, request_errors

TODAY = date(2026, 9, 1)
CJK = re.compile("[\u4e00-\u9fff]")


def errors_of(data: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        Application.model_validate(data, context={"today": TODAY})
    return field_errors(info.value)


def only(data: dict) -> dict:
    found = errors_of(data)
    assert len(found) == 1, found
    return found[0]


def test_shape_of_an_entry(sample_json):
    sample_json["shareholders"][0]["id_number"] = "140121198704150214"
    assert errors_of(sample_json) == [
        {
            "field": "shareholders.0.id_number",
            "message": "股东「王晓明」的身份证号码校验位不正确，请逐位核对号码",
            "type": "id_check_digit",
        }
    ]


def test_missing(sample_json):
    del sample_json["company"]["name"]
    assert only(sample_json) == {"field": "company.name", "message": "必填项", "type": "missing"}


def test_missing_section(sample_json):
    del sample_json["supervisor"]
    assert only(sample_json) == {"field": "supervisor", "message": "必填项", "type": "missing"}


def test_string_too_short(sample_json):
    sample_json["window"]["window_id"] = "  "
    err = only(sample_json)
    assert (err["field"], err["type"], err["message"]) == ("window.window_id", "string_too_short", "不能为空")


def test_string_too_long(sample_json):
    sample_json["window"]["clerk_id"] = "x" * 33
    err = only(sample_json)
    assert err["type"] == "string_too_long" and "32" in err["message"]


def test_pattern_mismatch(sample_json):
    sample_json["company"]["address"]["division_code"] = "14012"
    err = only(sample_json)
    assert err["field"] == "company.address.division_code" and "6 位数字" in err["message"]


def test_literal_lists_allowed_values(sample_json):
    sample_json["company"]["entity_type"] = "sole_proprietorship"
    err = only(sample_json)
    assert err["field"] == "company.entity_type" and err["type"] == "literal_error"
    assert "可选值" in err["message"]
    assert "limited_liability_company" in err["message"] and "joint_stock_company" in err["message"]


def test_decimal_parsing(sample_json):
    sample_json["company"]["registered_capital_wan_yuan"] = "一百万"
    err = only(sample_json)
    assert err["field"] == "company.registered_capital_wan_yuan" and err["type"] == "decimal_parsing"
    assert "数字" in err["message"]


def test_decimal_places(sample_json):
    sample_json["tax"]["expected_monthly_invoice_amount_wan_yuan"] = "1.00001"
    err = only(sample_json)
    assert err["type"] == "decimal_max_places" and "小数" in err["message"] and "4" in err["message"]


def test_greater_than(sample_json):
    sample_json["shareholders"][0]["contribution_wan_yuan"] = "0"
    found = errors_of(sample_json)
    err = next(e for e in found if e["field"] == "shareholders.0.contribution_wan_yuan")
    assert err["type"] == "greater_than" and err["message"] == "应大于 0"


def test_greater_than_equal(sample_json):
    sample_json["company"]["employees_expected"] = -1
    err = only(sample_json)
    assert err["type"] == "greater_than_equal" and "0" in err["message"] and CJK.search(err["message"])


def test_date_parsing(sample_json):
    sample_json["shareholders"][1]["contribution_deadline"] = "2030年12月31日"
    err = only(sample_json)
    assert err["field"] == "shareholders.1.contribution_deadline" and "YYYY-MM-DD" in err["message"]
    assert err["type"].startswith("date_")


def test_bool_parsing(sample_json):
    sample_json["medical_insurance"]["register"] = "maybe"
    err = only(sample_json)
    assert (err["field"], err["type"]) == ("medical_insurance.register", "bool_parsing")
    assert "是或否" in err["message"]


def test_int_parsing(sample_json):
    sample_json["company"]["employees_expected"] = "twelve"
    err = only(sample_json)
    assert (err["type"], err["message"]) == ("int_parsing", "应为整数")


def test_extra_forbidden(sample_json):
    sample_json["company"]["nickname"] = "晋创"
    err = only(sample_json)
    assert (err["field"], err["type"]) == ("company.nickname", "extra_forbidden")
    assert "多余字段" in err["message"]


def test_union_tag_invalid(sample_json):
    sample_json["shareholders"][0]["kind"] = "robot"
    err = only(sample_json)
    assert (err["field"], err["type"]) == ("shareholders.0", "union_tag_invalid")
    assert "natural_person" in err["message"] and "legal_person" in err["message"] and "robot" in err["message"]


def test_union_tag_not_found(sample_json):
    del sample_json["shareholders"][1]["kind"]
    err = only(sample_json)
    assert (err["field"], err["type"]) == ("shareholders.1", "union_tag_not_found")
    assert "kind" in err["message"] and CJK.search(err["message"])


def test_list_too_short(sample_json):
    sample_json["shareholders"] = []
    err = only(sample_json)
    assert (err["field"], err["type"]) == ("shareholders", "too_short") and "至少" in err["message"]


def test_model_type(sample_json):
    sample_json["company"] = "太原晋创云数据科技有限公司"
    err = only(sample_json)
    assert err["field"] == "company" and err["type"] == "model_type" and CJK.search(err["message"])


def test_list_type(sample_json):
    sample_json["company"]["business_scope"] = "软件开发"
    err = only(sample_json)
    assert err["type"] == "list_type" and err["message"] == "应为列表"


def test_json_invalid():
    with pytest.raises(ValidationError) as info:
        Application.model_validate_json("{", context={"today": TODAY})
    [err] = field_errors(info.value)
    assert err["field"] == "" and err["type"] == "json_invalid" and "JSON" in err["message"]


def test_union_tag_segment_is_skipped_in_paths(sample_json):
    sample_json["shareholders"][1]["uscc"] = "91140100MA0KQ7WX5X"
    with pytest.raises(ValidationError) as info:
        Application.model_validate(sample_json, context={"today": TODAY})
    assert info.value.errors()[0]["loc"] == ("shareholders", 1, "legal_person", "uscc")
    assert field_errors(info.value)[0]["field"] == "shareholders.1.uscc"
    # only a tag right after a list index is a union segment
    assert field_path(("natural_person",)) == "natural_person"
    assert field_path(()) == ""


def test_unknown_type_falls_back_with_english_original():
    exc = ValidationError.from_exception_data(
        "X", [InitErrorDetails(type="uuid_parsing", loc=("a",), input="x", ctx={"error": "bad"})]
    )
    [err] = field_errors(exc)
    assert err["type"] == "uuid_parsing" and err["field"] == "a"
    assert err["message"].startswith("填写内容不符合要求") and "UUID" in err["message"]


def test_no_personal_data_echoed(sample_json):
    sample_json["legal_representative"]["id_number"] = "14012119870415021"
    sample_json["legal_representative"]["mobile"] = "1383510042"
    found = errors_of(sample_json)
    assert len(found) == 2
    text = repr(found)
    assert "14012119870415021" not in text and "1383510042" not in text


def test_every_message_of_a_badly_broken_form_is_chinese(sample_json):
    sample_json["window"] = {"window_id": "", "extra": 1}
    sample_json["company"]["entity_type"] = "x"
    sample_json["company"]["registered_capital_wan_yuan"] = "abc"
    sample_json["legal_representative"]["role"] = "boss"
    sample_json["shareholders"][0]["contribution_deadline"] = "soon"
    sample_json["shareholders"][1]["kind"] = None
    sample_json["tax"]["invoice_types"] = ["paper"]
    sample_json["social_insurance"]["register"] = "yes please"
    sample_json["materials"][0]["sha256"] = "XYZ"
    found = errors_of(sample_json)
    assert len(found) >= 10
    assert all(CJK.search(e["message"]) for e in found), found
    assert all("natural_person" not in e["field"] and "legal_person" not in e["field"] for e in found)
    assert "materials.0.sha256" in {e["field"] for e in found}


def test_request_errors_from_fastapi_drop_the_body_prefix(sample_json):
    sample_json["shareholders"][0]["id_number"] = "140121198704150214"
    del sample_json["company"]["name"]
    with pytest.raises(ValidationError) as info:
        Application.model_validate(sample_json, context={"today": TODAY})
    # what FastAPI's RequestValidationError.errors() holds: the same dicts, loc prefixed with "body"
    fastapi_errors = [dict(e, loc=("body", *e["loc"])) for e in info.value.errors()]
    assert request_errors(fastapi_errors) == field_errors(info.value)
    assert {e["field"] for e in request_errors(fastapi_errors)} == {"company.name", "shareholders.0.id_number"}


def test_request_errors_json_syntax_and_other_sources():
    found = request_errors(
        [
            {
                "type": "json_invalid",
                "loc": ("body", 17),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            },
            {
                "type": "string_too_long",
                "loc": ("header", "idempotency-key"),
                "msg": "String should have at most 128 characters",
                "input": "x" * 200,
                "ctx": {"max_length": 128},
            },
        ]
    )
    assert found == [
        {"field": "", "message": "不是有效的 JSON", "type": "json_invalid"},
        {"field": "header.idempotency-key", "message": "最多 128 个字符", "type": "string_too_long"},
    ]

"""generate_application: deterministic, always valid, and honest about what it promises."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from stdnum.cn import ric, uscc

import domain.form as form
from domain.catalog import applies, load_catalog
from domain.form import Application
from domain.samples import _FEMALE, _MALE, RARE_CHARS, generate_application

TODAY = date(2026, 9, 1)
CATALOG = load_catalog((Path(__file__).resolve().parents[2] / "config" / "departments.yaml").read_text("utf-8"))


def validate(data: dict, today: date = TODAY) -> Application:
    return Application.model_validate(data, context={"today": today})


def people(data: dict) -> list[dict]:
    out = [data[k] for k in ("legal_representative", "supervisor", "financial_officer", "tax_officer", "liaison")]
    out += [s for s in data["shareholders"] if s["kind"] == "natural_person"]
    return out + data["social_insurance"]["enroll_employees"]


@pytest.mark.parametrize("rare_chars", [False, True])
def test_200_generated_applications_validate(rare_chars):
    for seed in range(200):
        validate(generate_application(seed, rare_chars=rare_chars, today=TODAY))


def test_generated_applications_validate_with_optional_departments_and_other_dates():
    for seed in range(100):
        today = date(2024 + seed % 5, 1 + seed % 12, 1 + seed % 28)
        validate(generate_application(seed, today=today, all_departments=seed % 2 == 0), today=today)


def test_deterministic():
    a = generate_application(42, today=TODAY)
    assert a == generate_application(42, today=TODAY)
    assert a != generate_application(43, today=TODAY)
    assert generate_application(42, rare_chars=True, today=TODAY) == generate_application(
        42, rare_chars=True, today=TODAY
    )


def test_default_today_is_shanghai_today(monkeypatch):
    monkeypatch.setattr(form, "today_in_shanghai", lambda: date(2027, 3, 1))
    data = generate_application(5)
    Application.model_validate(data)  # no context: the same (patched) today
    assert all(date.fromisoformat(s["contribution_deadline"]) > date(2027, 3, 1) for s in data["shareholders"])


def test_identifiers_are_real_and_shanxi():
    for seed in range(100):
        data = generate_application(seed, today=TODAY)
        for person in people(data):
            number = person["id_number"]
            assert number.startswith("14") and ric.is_valid(number), number  # even stdnum's strict check
            birth = ric.get_birth_date(number)
            assert 20 <= (TODAY - birth).days / 365.25 <= 61
            given = set(person["name"][1:])
            if given <= set(_MALE):
                assert int(number[16]) % 2 == 1, person
            elif given <= set(_FEMALE):
                assert int(number[16]) % 2 == 0, person
        for holder in data["shareholders"]:
            if holder["kind"] == "legal_person":
                assert uscc.is_valid(holder["uscc"]) and holder["uscc"][2:4] == "14"


def test_corporate_shareholders_occur():
    kinds = {s["kind"] for seed in range(50) for s in generate_application(seed, today=TODAY)["shareholders"]}
    assert kinds == {"natural_person", "legal_person"}


def test_distinct_people_where_rules_need_it():
    for seed in range(100):
        data = generate_application(seed, today=TODAY)
        sup = data["supervisor"]["id_number"]
        assert sup not in (data["legal_representative"]["id_number"], data["financial_officer"]["id_number"])
        ids = {}
        for person in people(data):  # one ID number, one person
            assert ids.setdefault(person["id_number"], person["name"]) == person["name"]


def test_money_and_deadlines():
    for seed in range(100):
        data = generate_application(seed, today=TODAY)
        capital = Decimal(data["company"]["registered_capital_wan_yuan"])
        parts = [Decimal(s["contribution_wan_yuan"]) for s in data["shareholders"]]
        assert sum(parts) == capital and all(p > 0 for p in parts)
        for s in data["shareholders"]:
            assert TODAY < date.fromisoformat(s["contribution_deadline"]) <= date(2031, 9, 1)
        assert data["company"]["name"].endswith("有限公司")
        rate = data["housing_fund"]["contribution_rate"]
        assert Decimal("0.05") <= Decimal(rate) <= Decimal("0.12")


def test_rare_characters():
    for seed in range(20):
        data = generate_application(seed, rare_chars=True, today=TODAY)
        assert RARE_CHARS[0] in data["legal_representative"]["name"]
        assert RARE_CHARS[1] in data["supervisor"]["name"]
        assert any(c in data["company"]["name"] for c in RARE_CHARS)
        dumped = validate(data).model_dump(mode="json")
        assert dumped["legal_representative"]["name"] == data["legal_representative"]["name"]
        assert dumped["company"]["name"] == data["company"]["name"]
    plain = generate_application(1, today=TODAY)
    assert not any(c in repr(plain) for c in RARE_CHARS)


def test_all_departments_apply_by_default():
    for seed in range(50):
        data = generate_application(seed, today=TODAY)
        assert all(applies(d, data) for d in CATALOG.departments), seed


def test_optional_departments_sometimes_skipped():
    skipped: set[str] = set()
    for seed in range(60):
        data = generate_application(seed, today=TODAY, all_departments=False)
        for d in CATALOG.departments:
            if not applies(d, data):
                skipped.add(d.code)
        if not data["social_insurance"]["register"]:
            assert data["social_insurance"]["enroll_employees"] == []
        if not data["housing_fund"]["register"]:
            assert data["housing_fund"]["contribution_rate"] is None
    assert skipped == {"hrss", "nhsa", "hpf", "bank"}

"""The department catalog: configuration decides routing, channels and order."""

import pytest
from pydantic import ValidationError

from domain.catalog import Catalog, Department, applies, load_catalog
from domain.form import Application
from domain.status import Channel
from runtime.settings import Settings


def test_default_catalog_matches_the_domain():
    catalog = Settings().catalog()
    assert catalog.codes == ["amr", "psb_seal", "tax", "hrss", "nhsa", "hpf", "bank"]
    channels = {d.code: d.channel for d in catalog.departments}
    assert [c for c, ch in channels.items() if ch is Channel.ROBOT] == ["amr", "psb_seal", "hrss", "hpf"]
    assert catalog.get("bank").prerequisites == ("amr", "psb_seal")
    assert catalog.get("amr").prerequisites == ()
    order = catalog.topological_order()
    assert order[0] == "amr" and order.index("bank") > order.index("psb_seal")
    assert {d.code: d.budget_minutes for d in catalog.departments}["amr"] == 120


def test_a_department_moves_channel_by_setting():
    settings = Settings(channel_overrides={"hpf": "api"}, department_urls={"hpf": "http://hpf.example:9000"})
    hpf = settings.catalog().get("hpf")
    assert hpf.channel is Channel.API
    assert hpf.base_url == "http://hpf.example:9000"
    assert settings.catalog().get("hrss").channel is Channel.ROBOT


def test_unasked_departments_do_not_apply(sample_json):
    catalog = Settings().catalog()
    app = Application.model_validate(sample_json)
    assert all(applies(d, app) for d in catalog.departments)
    sample_json["housing_fund"]["register"] = False
    sample_json["medical_insurance"]["register"] = False
    sample_json["bank_account"] = None
    app = Application.model_validate(sample_json)
    skipped = [d.code for d in catalog.departments if not applies(d, app)]
    assert skipped == ["nhsa", "hpf", "bank"]


def _dept(code, prereqs=()):
    return Department(
        code=code, name=code, channel="api", prerequisites=prereqs, budget_minutes=60, base_url="http://x"
    )


def test_cycles_and_unknown_prerequisites_are_refused():
    with pytest.raises(ValidationError, match="cycle"):
        Catalog(departments=(_dept("a", ("b",)), _dept("b", ("a",))))
    with pytest.raises(ValidationError, match="unknown"):
        Catalog(departments=(_dept("a", ("zzz",)),))
    with pytest.raises(ValidationError, match="duplicate"):
        Catalog(departments=(_dept("a"), _dept("a")))


def test_load_catalog_from_yaml_text():
    catalog = load_catalog(
        "departments:\n  - {code: x, name: X, channel: robot, budget_minutes: 30, base_url: 'http://x'}\n"
    )
    assert catalog.get("x").channel is Channel.ROBOT

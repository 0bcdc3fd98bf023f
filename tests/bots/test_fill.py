"""Filling a wizard step in one round trip (bots/fill.py) or field by field, in real Chromium: on the
simulated portals (which validate server side) and on small pages of our own for what a portal rarely shows."""

from __future__ import annotations

import dataclasses

import pytest

from bots import mappings, pages
from bots.errors import PortalChanged
from bots.fill import ONE_TRIP, PER_FIELD, fill_and_aim
from bots.flows import PortalAccess, dispatch
from bots.pages import LoginPage, WizardStepPage
from simulators import portal as portal_sim
from tests.bots.conftest import CODES, PASSWORD, USERNAME
from tests.bots.round_trips import counting
from tests.support.servers import serve_app

# every control of the page's form: id -> value (checked for a checkbox or radio)
CONTROLS_JS = """() => Object.fromEntries(Array.from(document.querySelectorAll('input, select, textarea'))
  .map((c) => [c.id, c.type === 'checkbox' || c.type === 'radio' ? c.checked : c.value]))"""
PER_FIELD_CALLS = {"fill", "selectOption", "setChecked", "check", "uncheck", "type", "press"}

# A step with every kind of control and every way of labelling one; a script notes the events reaching the document.
STEP = """<!doctype html><html><body><main><h2>企业基本信息</h2><form method="post" action="/next">
<label for="name">企业名称</label><input id="name" name="name">
<label>注册资本（万元） <input id="capital" name="capital"></label>
<input id="address" name="address" aria-label="住所详细地址">
<label for="scope">经营范围</label><textarea id="scope" name="scope"></textarea>
<label for="type">企业类型</label><select id="type" name="type"><option value="">请选择</option>
<option value="1100">有限责任公司</option><option value="1200">股份有限公司</option></select>
<label for="method">出资方式</label><select id="method" name="method"><option value="">请选择</option>
<option value="1">货币</option><option value="2">实物</option></select>
<label for="deadline">出资期限</label><input type="date" id="deadline" name="deadline">
<label for="seal">公章</label><input type="checkbox" id="seal" name="seal" value="GZ">
<span><input type="radio" name="kind" id="person" value="np"><label for="person">自然人</label></span>
<button type="submit">下一步</button></form></main>
<script>
window.events = [];
for (const t of ['input', 'change']) document.addEventListener(t, (e) => events.push([e.target.id, e.type]));
</script></body></html>"""

VALUES = {
    "企业名称": "太原𬱖䶮数据科技有限公司",
    "注册资本（万元）": "100",
    "住所详细地址": "小店区长治路 1 号",
    "经营范围": "软件开发；信息技术咨询服务",
    "企业类型": "有限责任公司",  # by the option's text
    "出资方式": "",  # the empty placeholder (请选择)
    "出资期限": "2031-06-30",
    "公章": True,
    "自然人": True,
}
EMPTY = {
    "name": "",
    "capital": "",
    "address": "",
    "scope": "",
    "type": "",
    "method": "",
    "deadline": "",
    "seal": False,
    "person": False,
}


async def _step(page, html: str = STEP) -> WizardStepPage:
    await page.set_content(html)
    step = WizardStepPage(page)
    await step.snapshot()
    return step


# --- one trip on a page of our own -----------------------------------------------------------


async def test_one_trip_fills_every_kind_of_control_in_one_round_trip_and_fires_input_and_change(page):
    step = await _step(page)
    with counting(page) as seen:
        entered = await step.fill_in(VALUES, ONE_TRIP)
    assert seen.total == 1 and dict(seen.calls) == {("Frame", "evaluateExpression"): 1}
    assert entered == tuple(VALUES)
    assert await page.evaluate(CONTROLS_JS) == {
        "name": "太原𬱖䶮数据科技有限公司",
        "capital": "100",
        "address": "小店区长治路 1 号",
        "scope": "软件开发；信息技术咨询服务",
        "type": "1100",
        "method": "",
        "deadline": "2031-06-30",
        "seal": True,
        "person": True,
    }
    events = await page.evaluate("() => window.events")
    for control in EMPTY:  # both events, bubbled up to the document, for every control written
        assert [e for e in events if e[0] == control] == [[control, "input"], [control, "change"]]


async def test_the_one_trip_fill_aims_at_the_button_after_entering_and_a_miss_still_enters(page):
    step = await _step(page)
    with counting(page) as seen:
        entered, aimed = await fill_and_aim(page, step.snap, VALUES, ("button", "下一步", None))
    assert seen.total == 1 and entered == tuple(VALUES)
    box = await page.get_by_role("button", name="下一步").bounding_box()
    assert aimed is not None and aimed.href is None
    assert box["x"] < aimed.x < box["x"] + box["width"] and box["y"] < aimed.y < box["y"] + box["height"]
    # no such button: the values are in all the same, and there is nothing to aim at (the caller looks itself)
    step = await _step(page)
    entered, aimed = await fill_and_aim(page, step.snap, VALUES, ("button", "提交", None))
    assert aimed is None and entered == tuple(VALUES)
    assert (await page.evaluate(CONTROLS_JS))["name"] == VALUES["企业名称"]


async def test_one_trip_and_per_field_enter_the_same_values(page):
    await (await _step(page)).fill_in(VALUES, ONE_TRIP)
    one_trip = await page.evaluate(CONTROLS_JS)
    step = await _step(page)
    with counting(page) as seen:
        await step.fill_in(VALUES, PER_FIELD)
    assert await page.evaluate(CONTROLS_JS) == one_trip
    assert seen.total >= len(VALUES)


@pytest.mark.parametrize(
    ("label", "value", "problem"),
    [
        ("企业类型", "个人独资企业", "offers no option"),  # not among the options: refused as before
        ("企业类型", "1100", "offers no option"),  # an option's value is not its text (as per_field)
        ("出资期限", "2031/06/30", "does not take the value"),  # a malformed date
        ("企业名称", True, "a text control for a yes/no value"),
        ("公章", "是", "a yes/no control for a text value"),
    ],
)
async def test_a_value_a_control_does_not_take_enters_nothing_at_all(page, label, value, problem):
    step = await _step(page)
    with pytest.raises(PortalChanged, match=problem) as err:
        await step.fill_in({**VALUES, label: value}, ONE_TRIP)
    assert "nothing was entered" in str(err.value)
    assert await page.evaluate(CONTROLS_JS) == EMPTY  # the fields before and after it too
    assert await page.evaluate("() => window.events") == []


CHANGES_AFTER_THE_SNAPSHOT = {
    "renamed": ("document.querySelector('label[for=scope]').textContent = '经营范围（主营）'", "经营范围: missing"),
    "removed": ("document.getElementById('deadline').remove()", "出资期限: missing"),
    "doubled": (
        "document.querySelector('form').insertAdjacentHTML('afterbegin', '<input id=\"name2\" aria-label=\"企业名称\">')",
        "企业名称: ambiguous: 2 controls",
    ),
    "retyped": (
        "document.getElementById('capital').replaceWith(Object.assign(document.createElement('select'), {id: 'capital'}))",
        "注册资本（万元）: is a select control, the page showed a text",
    ),
    "disabled": ("document.getElementById('address').disabled = true", "住所详细地址: not editable"),
    "hidden": ("document.getElementById('name').style.display = 'none'", "企业名称: not visible"),
}


@pytest.mark.parametrize("change", CHANGES_AFTER_THE_SNAPSHOT)
async def test_a_page_changed_since_its_snapshot_is_portal_changed_before_anything_is_entered(page, change):
    """The page checks every label again itself (the snapshot's rule) before writing the first value."""
    script, problem = CHANGES_AFTER_THE_SNAPSHOT[change]
    step = await _step(page)
    await page.evaluate(f"() => {{ {script}; }}")
    with pytest.raises(PortalChanged) as err:
        await step.fill_in(VALUES, ONE_TRIP)
    assert problem in str(err.value)
    controls = await page.evaluate(CONTROLS_JS)
    assert {k: v for k, v in controls.items() if k in EMPTY} == {k: v for k, v in EMPTY.items() if k in controls}
    assert await page.evaluate("() => window.events") == []


@pytest.mark.parametrize("fill", [ONE_TRIP, PER_FIELD])
async def test_a_label_shown_twice_is_portal_changed_without_a_round_trip(page, fill):
    doubled = STEP.replace('<label for="scope">经营范围</label>', '<label for="scope">企业名称</label>')
    step = await _step(page, doubled)
    with counting(page) as seen, pytest.raises(PortalChanged, match="lacks fields 企业名称"):
        await step.fill_in({"企业名称": "x", "企业类型": "有限责任公司"}, fill)
    assert seen.total == 0
    assert await page.evaluate(CONTROLS_JS) == EMPTY


# --- on the simulated portals ----------------------------------------------------------------


async def _amr_first_step(page, url: str) -> WizardStepPage:
    login = LoginPage(page, url)
    await login.open()
    home = await login.log_in(USERNAME, PASSWORD)
    return await home.start_application(mappings.FLOWS["amr"].apply_link)


async def test_one_trip_costs_one_round_trip_where_per_field_costs_one_or_more_per_field(portals, page, make_request):
    """The same step of the amr portal, entered both ways: the same values, the portal takes them."""
    values = dict(mappings.FLOWS["amr"].steps[0].values(make_request("amr")))
    step = await _amr_first_step(page, portals["amr"].url)
    with counting(page) as per_field:
        await step.fill_in(values, PER_FIELD)
    entered_per_field = await page.evaluate(CONTROLS_JS)

    step = await step.start_application(mappings.FLOWS["amr"].apply_link)  # a new, empty form
    assert set((await page.evaluate(CONTROLS_JS)).values()) == {""}
    with counting(page) as one_trip:
        await step.fill_in(values, ONE_TRIP)
    assert await page.evaluate(CONTROLS_JS) == entered_per_field
    assert one_trip.total == 1 < len(values) <= per_field.total
    nxt = await step.proceed_to_next_step()
    nxt.expect_step(mappings.FLOWS["amr"].steps[1].title)  # the portal accepted the step


def _form_step_calls(seen, on_step_marks: list[tuple[str, dict]]) -> dict[str, dict]:
    """The calls made in each form step, from the counter's state at each step's start."""
    marks = [*on_step_marks, ("end", dict(seen.calls))]
    out = {}
    for (name, before), (_, after) in zip(marks, marks[1:], strict=False):
        if name.startswith("form:"):
            out[name] = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    return out


async def _dispatch_counted(page, portal, request):
    with counting(page) as seen:
        marks: list[tuple[str, dict]] = []
        receipt = await dispatch(page, portal.access, request, on_step=lambda s: marks.append((s, dict(seen.calls))))
    return receipt, _form_step_calls(seen, marks)


async def test_every_simulated_portal_files_in_one_trip_per_step_with_every_kind_of_field(
    portals, page, make_request, monkeypatch
):
    kinds: set[str] = set()
    real = pages.fill_and_aim

    async def fill_and_aim(page_, snap, values, press):
        kinds.update(snap.labels[label].kind for label in values)
        return await real(page_, snap, values, press)

    monkeypatch.setattr(pages, "fill_and_aim", fill_and_aim)
    for code in CODES:
        assert mappings.FLOWS[code].fill == ONE_TRIP
        request = make_request(code)
        _, steps = await _dispatch_counted(page, portals[code], request)
        assert len(portals[code].stored(request.application_id)) == 1
        flow = mappings.FLOWS[code]
        assert list(steps) == [f"form:{s.slug}" for s in flow.steps]
        for name, calls in steps.items():
            per_field = {k: n for k, n in calls.items() if k[1] in PER_FIELD_CALLS}
            assert per_field == {}, f"{code} {name} entered fields one by one: {per_field}"
            # the fill with the look for 下一步 in the same trip (bots/press.py), and reading the next page
            assert calls[("Frame", "evaluateExpression")] == 2, calls
            assert calls.get(("Page", "mouseClick")) == 1 and ("Frame", "click") not in calls, calls
    assert {"text", "textarea", "select", "date", "checkbox"} <= kinds


@pytest.mark.parametrize("code", ["amr", "psb_seal"])
async def test_a_portal_configured_per_field_is_filled_field_by_field_and_files_the_same(
    code, portals, page, make_request, monkeypatch
):
    one_trip = make_request(code)
    await dispatch(page, portals[code].access, one_trip)
    monkeypatch.setitem(mappings.FLOWS, code, dataclasses.replace(mappings.FLOWS[code], fill=PER_FIELD))
    per_field = make_request(code)
    _, steps = await _dispatch_counted(page, portals[code], per_field)
    for name, calls in steps.items():
        assert sum(n for k, n in calls.items() if k[1] in PER_FIELD_CALLS) > 0, name

    def data(request) -> dict:
        (stored,) = portals[code].stored(request.application_id)
        return {k: v for k, v in stored["data"].items() if k != "external_ref"}

    assert data(per_field) == data(one_trip)


async def test_a_renamed_label_in_one_trip_stops_the_robot_with_the_step_untouched(
    tmp_path, page, make_request, monkeypatch
):
    spec = portal_sim.PORTAL_SPECS["hpf"]
    first = spec.steps[0]
    renamed = dataclasses.replace(
        first,
        fields=tuple(
            dataclasses.replace(f, label="在职职工人数") if f.label == "职工人数" else f for f in first.fields
        ),
    )
    monkeypatch.setitem(portal_sim.PORTAL_SPECS, "hpf", dataclasses.replace(spec, steps=(renamed, *spec.steps[1:])))
    db = tmp_path / "hpf-renamed.sqlite3"
    app = portal_sim.create_portal_app("hpf", db_path=db, username=USERNAME, password=PASSWORD)
    request = make_request("hpf")
    async with serve_app(app) as url:
        with pytest.raises(PortalChanged) as err:
            await dispatch(page, PortalAccess(url, USERNAME, PASSWORD), request)
        assert "职工人数" in str(err.value) and err.value.step == "form:unit"
        step = WizardStepPage(page)
        await step.snapshot()
        step.expect_step(first.title)  # still on the step, and nothing was entered in it
        assert set((await page.evaluate(CONTROLS_JS)).values()) == {""}
    assert portal_sim.count_submissions(db, request.application_id) == 0

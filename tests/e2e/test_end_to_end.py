"""One application through the API to all seven departments, on real Temporal and real Chromium."""

import asyncio

import httpx

from runtime.access import DEV_CLERKS
from tests.e2e.conftest import APIS, PORTALS, running_stack

CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}  # the clerk of the sample's window


async def wait_finished(http: httpx.AsyncClient, application_id: str, timeout: float = 180.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    view: dict = {}
    while loop.time() < deadline:
        r = await http.get(f"/api/v1/applications/{application_id}")
        if r.status_code == 503 and r.json()["code"] == "status_recovering":  # a worker restarts: read again
            await asyncio.sleep(0.5)
            continue
        assert r.status_code == 200, r.text
        view = r.json()
        if view["status"] != "processing":
            return view
        await asyncio.sleep(0.5)
    raise AssertionError(f"{application_id} still processing after {timeout}s: {view}")


async def test_sample_application_completes_in_every_department(dev_env, tmp_path, sample_json):
    async with running_stack(dev_env, tmp_path) as (api, departments, _settings):
        async with httpx.AsyncClient(base_url=api, timeout=30, headers=CLERK) as http:
            r = await http.post("/api/v1/applications", json=sample_json)
            assert r.status_code == 202, r.text
            app_id = r.json()["application_id"]

            view = await wait_finished(http, app_id)

    assert view["status"] == "completed", view
    states = {d["code"]: d for d in view["departments"]}
    assert set(states) == set(PORTALS) | set(APIS)
    for code, d in states.items():
        assert d["status"] == "completed", (code, d)
        assert d["receipt_no"], code
        assert d["dispatched_at"] and d["completed_at"], code
    assert states["amr"]["channel"] == "robot" and states["tax"]["channel"] == "api"
    uscc = states["amr"]["result"]["uscc"]
    assert states["tax"]["result"]["taxpayer_id"] == uscc
    assert set(states["psb_seal"]["result"]["seal_codes"]) == set(sample_json["seal"]["types"])
    # every department's store holds exactly one submission for the application
    for code in (*PORTALS, *APIS):
        assert departments.count(code, app_id) == 1, code


async def test_unknown_application_is_404_in_chinese(dev_env, tmp_path):
    async with running_stack(dev_env, tmp_path) as (api, _departments, _settings):
        async with httpx.AsyncClient(base_url=api, timeout=30, headers=CLERK) as http:
            r = await http.get("/api/v1/applications/KB20260101-NOSUCHAPP0")
    assert r.status_code == 404
    assert "未找到" in r.json()["detail"]

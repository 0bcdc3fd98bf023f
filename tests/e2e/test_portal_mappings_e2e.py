"""Portals that change, end to end (real Temporal, real Chromium, the API over HTTP): hpf's portal is redesigned
(version 2); its tasks wait for a person with the reason naming one proposed mapping, which maps every field
as the simulator renamed it; one approval sends every waiting task back and each is filed once. Version 3 (a
new required field) is never mapped: the task waits for a developer, with the reason."""

from __future__ import annotations

import asyncio

import httpx

from simulators.portal.specs import PORTAL_SPECS, V3_FIELD_LABEL, version_labels
from tests.e2e.conftest import running_stack
from tests.e2e.test_corrections_e2e import dept, wait_status
from tests.e2e.test_end_to_end import CLERK, wait_finished

ADMIN = {"Authorization": "Bearer admin-dev-token"}
SUPERVISOR = {"Authorization": "Bearer supervisor-dev-token"}


async def set_version(url: str, version: int) -> None:
    async with httpx.AsyncClient(timeout=10) as sim:
        r = await sim.put(f"{url}/_admin/behaviour", json={"version": version})
        assert r.status_code == 200 and r.json()["version"] == version


def hpf_manual(view: dict) -> bool:
    return dept(view, "hpf")["status"] == "manual"


async def test_one_approval_lets_every_waiting_task_file_once(dev_env, tmp_path, sample_json):
    async with running_stack(dev_env, tmp_path) as (api, departments, _settings):
        await set_version(departments.urls["hpf"], 2)
        async with httpx.AsyncClient(base_url=api, timeout=60, headers=CLERK) as http:
            ids = [(await http.post("/api/v1/applications", json=sample_json)).json()["application_id"] for _ in (1, 2)]
            views = [await wait_status(http, i, hpf_manual, "hpf waits for a person", timeout=180) for i in ids]
            reasons = [dept(v, "hpf")["reason"] for v in views]
            for i in ids:
                assert departments.count("hpf", i) == 0  # nothing filed on the changed portal

            async with httpx.AsyncClient(base_url=api, timeout=60) as admin:
                listed = (await admin.get("/api/v1/portals/hpf/mappings", headers=SUPERVISOR)).json()
                assert listed["count"] == 1, listed  # one proposal for the version, however many tasks met it
                m = listed["items"][0]
                assert m["status"] == "proposed" and all(f"字段映射 {m['id']}" in r for r in reasons), reasons
                truth = version_labels(PORTAL_SPECS["hpf"].steps, 2)
                assert {f["flow_label"]: (f["step"], f["label"]) for f in m["fields"]} == {
                    f["flow_label"]: truth[f["flow_label"]] for f in m["fields"]
                }
                assert len(m["fields"]) == 8 and m["unfilled_required"] == []
                assert m["low_confidence"] == ["统一社会信用代码"] and len(m["screenshots"]) == 2
                shot = await admin.get(f"/api/v1/evidence/{m['screenshots'][0]}", headers=ADMIN)
                assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")

                url = f"/api/v1/portals/hpf/mappings/{m['id']}/approval"
                r = await admin.post(url, json={"approve": True}, headers=SUPERVISOR)
                assert r.status_code == 403
                r = await admin.post(url, json={"approve": True}, headers=ADMIN)  # a low score not confirmed
                assert r.status_code == 409 and r.json()["code"] == "low_confidence", r.text
                assert "统一社会信用代码" in r.json()["detail"]
                assert {"step": 0, "label": "社会信用代码（18位）"}.items() <= next(
                    c for c in m["form"] if c["label"] == "社会信用代码（18位）"
                ).items()
                nowhere = {"统一社会信用代码": {"step": 0, "label": "信用代码"}}  # no such label on that step
                r = await admin.post(url, json={"approve": True, "fields": nowhere}, headers=ADMIN)
                assert r.status_code == 422 and r.json()["code"] == "label_not_on_form", r.text
                r = await admin.post(url, json={"approve": True, "confirm_low_confidence": True}, headers=ADMIN)
                assert r.status_code == 200, r.text
                assert r.json()["status"] == "approved" and sorted(r.json()["resumed"]) == sorted(ids)
                again = await admin.post(url, json={"approve": True, "confirm_low_confidence": True}, headers=ADMIN)
                assert again.status_code == 409

            finished = [await wait_finished(http, i) for i in ids]
    for i, view in zip(ids, finished, strict=True):
        assert view["status"] == "completed", view
        assert dept(view, "hpf")["status"] == "completed" and dept(view, "hpf")["result"]["hpf_unit_account"]
        assert departments.count("hpf", i) == 1  # filed once


async def test_a_new_required_field_waits_for_a_developer(dev_env, tmp_path, sample_json):
    async with running_stack(dev_env, tmp_path) as (api, departments, _settings):
        await set_version(departments.urls["hpf"], 3)
        async with httpx.AsyncClient(base_url=api, timeout=60, headers=CLERK) as http:
            app_id = (await http.post("/api/v1/applications", json=sample_json)).json()["application_id"]
            view = await wait_status(http, app_id, hpf_manual, "hpf waits for a person", timeout=180)
            reason = dept(view, "hpf")["reason"]
            assert "开发人员" in reason and V3_FIELD_LABEL in reason, reason
            async with httpx.AsyncClient(base_url=api, timeout=60, headers=ADMIN) as admin:
                items = (await admin.get("/api/v1/portals/hpf/mappings")).json()["items"]
                assert [m["status"] for m in items] == ["needs_developer"]
                assert items[0]["unfilled_required"] == [V3_FIELD_LABEL] and items[0]["mapping"] is None
                r = await admin.post(
                    f"/api/v1/portals/hpf/mappings/{items[0]['id']}/approval",
                    json={"approve": True, "confirm_low_confidence": True},
                )
                assert r.status_code == 409 and r.json()["code"] == "needs_developer", r.text
            await asyncio.sleep(3)
            view = (await http.get(f"/api/v1/applications/{app_id}")).json()
            assert dept(view, "hpf")["status"] == "manual" and view["status"] == "processing"
            assert departments.count("hpf", app_id) == 0  # no mapping applied, nothing filed

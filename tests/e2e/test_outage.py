"""Outages are not a clerk's job, end to end: the tax department's API is in maintenance (503 with
Retry-After) for longer than every bounded retry schedule would have lasted; the application is delayed,
then completes without going to a person, and tax holds one filing."""

import asyncio

import httpx

from tests.e2e.conftest import running_stack
from tests.e2e.test_corrections_e2e import dept, wait_status
from tests.e2e.test_end_to_end import CLERK, wait_finished

MAINTENANCE_S = 60.0  # after tax's filing began: past the 10 attempts that once made the task manual (~30 s)


async def test_a_department_in_maintenance_delays_the_application_and_no_person_is_needed(
    dev_env, tmp_path, sample_json
):
    async with running_stack(dev_env, tmp_path, retry_max_interval_s=5.0) as (api, departments, settings):
        tax_url = departments.urls["tax"]
        async with httpx.AsyncClient(timeout=10) as sim:
            r = await sim.put(
                f"{tax_url}/_admin/behaviour", json={"maintenance": True, "maintenance_retry_after_s": 30}
            )
            assert r.status_code == 200 and r.json()["maintenance"] is True
        async with httpx.AsyncClient(base_url=api, timeout=60, headers=CLERK) as http:
            r = await http.post("/api/v1/applications", json=sample_json)
            assert r.status_code == 202, r.text
            app_id = r.json()["application_id"]
            # tax's turn comes (after amr): its filing begins, and fails, again and again
            view = await wait_status(http, app_id, lambda v: dept(v, "tax")["dispatched_at"], "tax filing begins")
            await asyncio.sleep(MAINTENANCE_S)
            view = (await http.get(f"/api/v1/applications/{app_id}")).json()
            assert view["status"] == "processing"
            assert dept(view, "tax")["status"] == "waiting" and dept(view, "tax")["receipt_no"] is None
            pending = (await dev_env.client.get_workflow_handle(app_id).describe()).raw_description
            tax_dispatch = next(a for a in pending.pending_activities if a.activity_id == "tax.dispatch.r1")
            assert tax_dispatch.attempt > settings.api_max_attempts  # no attempt limit for an outage …
            assert "系统维护中" in tax_dispatch.last_failure.message
            async with httpx.AsyncClient(timeout=10) as sim:  # … and the maintenance is over
                await sim.put(f"{tax_url}/_admin/behaviour", json={"maintenance": False})
            view = await wait_finished(http, app_id)

    assert view["status"] == "completed", view
    tax = dept(view, "tax")
    assert tax["status"] == "completed" and tax["round"] == 1 and tax.get("completed_by") is None
    assert not [h for h in view["history"] if h["event"] == "manual"]
    assert departments.count("tax", app_id) == 1  # filed once

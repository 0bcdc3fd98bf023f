"""Supervision end to end: the board from Temporal's visibility, deadline extensions through the API."""

import asyncio
from datetime import datetime, timedelta

import httpx

from cli.worker import running_workers
from runtime.access import DEV_SUPERVISOR, DEV_TOKENS
from tests.e2e.conftest import e2e_settings, running_api, running_departments
from tests.e2e.test_end_to_end import CLERK

SUPERVISOR_ID = DEV_TOKENS["supervisor-dev-token"].identity.subject  # the actor of an extension


async def board(http: httpx.AsyncClient, **params) -> dict:
    return (await http.get("/api/v1/supervision/board", params=params, headers=DEV_SUPERVISOR)).json()


async def wait_board(http: httpx.AsyncClient, predicate, timeout: float = 60.0, **params) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        b = await board(http, **params)
        if predicate(b):
            return b
        await asyncio.sleep(0.3)
    raise AssertionError(f"board never matched: {b}")


async def test_board_and_deadline_extension(dev_env, tmp_path, sample_json):
    # the departments take an hour to process: tasks stay open on the board
    async with running_departments(tmp_path, process_delay_s=3600) as departments:
        settings = e2e_settings(departments, tmp_path)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            async with httpx.AsyncClient(base_url=api, timeout=30) as http:
                r = await http.post("/api/v1/applications", json=sample_json, headers=CLERK)
                assert r.status_code == 202
                accepted = r.json()
                app_id = accepted["application_id"]
                promised = datetime.fromisoformat(accepted["due_at"])
                assert "承诺于" in accepted["message"]

                mine = lambda b: [i for i in b["items"] if i["application_id"] == app_id]  # noqa: E731
                b = await wait_board(http, lambda b: mine(b), department="amr")
                [item] = mine(b)
                assert item["department"] == "amr" and item["window_id"] == sample_json["window"]["window_id"]
                due = datetime.fromisoformat(item["due_at"])
                assert item["sla_state"] in ("on_track", "at_risk")
                assert 0 < item["remaining_working_minutes"] <= 120
                # filters: no tax task is open yet (it waits for amr), and nothing of ours is breached
                assert not mine(await board(http, department="tax"))
                assert not mine(await board(http, sla_state="breached"))

                detail = (await http.get(f"/api/v1/applications/{app_id}", headers=DEV_SUPERVISOR)).json()
                assert detail.get("due_at"), detail
                assert datetime.fromisoformat(detail["due_at"]) == promised
                amr = next(d for d in detail["departments"] if d["code"] == "amr")
                assert datetime.fromisoformat(amr["due_at"]) == due and amr["sla_state"] == item["sla_state"]

                # refused: no reason, an earlier deadline, an unknown application
                url = f"/api/v1/applications/{app_id}/deadline-extensions"
                later = (due + timedelta(days=1)).isoformat()
                r = await http.post(
                    url,
                    json={"department": "amr", "new_due_at": later, "reason": "  ", "requested_by": "sup-01"},
                    headers=DEV_SUPERVISOR,
                )
                assert r.status_code == 409 and "理由" in r.json()["detail"]
                earlier = (due - timedelta(minutes=5)).isoformat()
                r = await http.post(
                    url,
                    json={"department": "amr", "new_due_at": earlier, "reason": "补材料", "requested_by": "sup-01"},
                    headers=DEV_SUPERVISOR,
                )
                assert r.status_code == 409 and "晚于原时限" in r.json()["detail"]
                r = await http.post(
                    "/api/v1/applications/KB20260101-NOSUCH0000/deadline-extensions",
                    json={"new_due_at": later, "reason": "x", "requested_by": "sup-01"},
                    headers=DEV_SUPERVISOR,
                )
                assert r.status_code == 404

                # accepted: the timers move, the board and the detail show it, the audit says who and why
                r = await http.post(
                    url,
                    json={
                        "department": "amr",
                        "new_due_at": later,
                        "reason": "名称核准需会商",
                        "requested_by": "sup-01",
                    },
                    headers=DEV_SUPERVISOR,
                )
                assert r.status_code == 200, r.text
                assert r.json()["requested_by"] == SUPERVISOR_ID  # the identity's, not the body's "sup-01"
                b = await wait_board(
                    http,
                    lambda b: any(datetime.fromisoformat(i["due_at"]) == due + timedelta(days=1) for i in mine(b)),
                    department="amr",
                )
                detail = (await http.get(f"/api/v1/applications/{app_id}", headers=DEV_SUPERVISOR)).json()
                [change] = detail["deadline_changes"]
                assert change["reason"] == "名称核准需会商" and change["department"] == "amr"
                assert datetime.fromisoformat(change["old_due_at"]) == due
                await dev_env.client.get_workflow_handle(app_id).terminate("test over")

"""Every department on its other channel: amr, psb_seal, hrss and hpf through their JSON APIs, tax, nhsa
and bank through robots on their portals; one application end to end on a real Temporal dev server,
the real worker with real Chromium, the API over real HTTP. Only ``channel_overrides`` changes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from cli.worker import running_workers
from runtime.access import DEV_CLERKS
from runtime.settings import Settings
from simulators import department_api, portal
from simulators.department import create_department_app
from tests.e2e.conftest import APIS, PORTALS, Departments, e2e_settings, running_api
from tests.e2e.test_end_to_end import wait_finished
from tests.support.servers import serve_app

CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}
OTHER_CHANNELS = {
    "amr": "api",
    "psb_seal": "api",
    "hrss": "api",
    "hpf": "api",
    "tax": "robot",
    "nhsa": "robot",
    "bank": "robot",
}


@contextlib.asynccontextmanager
async def both_channel_departments(tmp: Path):
    """The seven departments, each serving its portal and its API on one loopback port over one store."""
    settings = Settings()
    dbs = {code: tmp / f"{code}.sqlite3" for code in (*PORTALS, *APIS)}
    urls: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for code, db in dbs.items():
            creds = settings.credentials(code)
            app = create_department_app(
                code,
                db_path=db,
                username=creds.username,
                password=creds.password,
                token=settings.api_token(code),
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        yield Departments(urls=urls, dbs=dbs)


async def test_every_department_on_its_other_channel_completes(dev_env, tmp_path, sample_json):
    async with both_channel_departments(tmp_path) as departments:
        settings = e2e_settings(departments, tmp_path, channel_overrides=OTHER_CHANNELS)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            async with httpx.AsyncClient(base_url=api, timeout=30, headers=CLERK) as http:
                r = await http.post("/api/v1/applications", json=sample_json)
                assert r.status_code == 202, r.text
                app_id = r.json()["application_id"]
                view = await wait_finished(http, app_id)

    assert view["status"] == "completed", view
    states = {d["code"]: d for d in view["departments"]}
    assert {code: d["channel"] for code, d in states.items()} == OTHER_CHANNELS
    for code, d in states.items():
        assert d["status"] == "completed", (code, d)
        assert d["receipt_no"] and d["result"], code
    uscc = states["amr"]["result"]["uscc"]
    assert states["tax"]["result"]["taxpayer_id"] == uscc
    assert set(states["psb_seal"]["result"]["seal_codes"]) == set(sample_json["seal"]["types"])
    assert states["bank"]["result"]["bank_code"] == sample_json["bank_account"]["bank_code"]
    # one filing per application in every department's one store, whichever channel filed it
    for code in PORTALS:
        assert portal.count_submissions(departments.dbs[code], app_id) == 1, code
        [stored] = portal.list_submissions(departments.dbs[code])
        assert stored["channel"] == "api", code
    for code in APIS:
        assert department_api.count_submissions(departments.dbs[code], app_id) == 1, code
    [bank] = department_api.list_submissions(departments.dbs["bank"])
    assert bank["payload"]["seal_codes"] == states["psb_seal"]["result"]["seal_codes"]

"""Materials end to end: an upload is read on the kaiban-ai task queue by the real OCR worker (a real
Temporal dev server, the API over HTTP), and the answer carries the fields."""

from __future__ import annotations

import contextlib
import uuid
from datetime import date

import httpx

from ai.synthetic import draw_id_card
from cli.worker import running_workers
from domain.samples import generate_application
from runtime.access import DEV_SUPERVISOR
from runtime.settings import Settings
from simulators import portal
from tests.e2e.conftest import e2e_settings, running_api, running_departments
from tests.e2e.test_calendar import eventually
from tests.e2e.test_end_to_end import CLERK
from tests.support.servers import free_port

TODAY = date(2026, 12, 1)


def materials_settings(tmp_path, **overrides) -> Settings:
    queue = f"e2e-mat-{uuid.uuid4().hex[:8]}"
    values = dict(
        api_port=free_port(),
        task_queue=queue,
        robot_task_queue=f"{queue}-robots",
        ai_task_queue=f"{queue}-ai",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'kaiban.sqlite3'}",
        materials_must_be_stored=True,
        material_read_wait_s=30.0,  # the first reading of a worker loads the model (a few seconds on 2 cores)
    )
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def reading_stack(env, settings: Settings):
    """The orchestration worker (the reading workflow), an OCR worker on its own queue, and the API."""
    async with (
        running_workers(env.client, settings, "orchestration"),
        running_workers(env.client, settings, "ai"),
        running_api(settings, env.client) as api,
    ):
        yield api


async def test_an_uploaded_id_card_answers_its_number_and_name(dev_env, tmp_path):
    settings = materials_settings(tmp_path)
    person = generate_application(21, today=TODAY)["legal_representative"]
    card = draw_id_card(person, 21, degraded=True)
    async with reading_stack(dev_env, settings) as api, httpx.AsyncClient(base_url=api, timeout=60) as http:
        r = await http.post(
            "/api/v1/materials",
            headers=CLERK,
            files={"file": ("身份证正面.jpg", card.data)},
            data={"kind": "id_card"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "read", body
        assert body["fields"]["id_number"]["value"] == person["id_number"]
        assert body["fields"]["name"]["value"] == person["name"]
        assert body["fields"]["id_number"]["confidence"] > 0.8
        assert body["prefill"] == {"name": person["name"], "id_number": person["id_number"]}
        # read once: the same file again answers the recorded reading, no second workflow
        again = await http.post(
            "/api/v1/materials", headers=CLERK, files={"file": ("again.jpg", card.data)}, data={"kind": "id_card"}
        )
        assert again.json()["material_id"] == body["material_id"] and again.json()["fields"] == body["fields"]
        got = (await http.get(f"/api/v1/materials/{body['material_id']}", headers=CLERK)).json()
        assert got["fields"] == body["fields"]


async def test_an_id_card_of_another_person_is_a_finding_the_clerk_confirms(dev_env, tmp_path, sample_json):
    """Another person's card attached to the legal representative: findings naming the fields, recorded with
    the submission; the clerk confirms them (audited) and the application goes on to the departments."""
    other = generate_application(22, today=TODAY)["legal_representative"]
    card = draw_id_card(other, 22)
    rep = sample_json["legal_representative"]
    assert other["id_number"] != rep["id_number"]
    async with running_departments(tmp_path) as departments:
        settings = e2e_settings(
            departments,
            tmp_path,
            ai_task_queue=f"e2e-ai-{uuid.uuid4().hex[:8]}",
            materials_must_be_stored=True,
            material_read_wait_s=30.0,
        )
        async with (
            running_workers(dev_env.client, settings),
            running_api(settings, dev_env.client) as api,
            httpx.AsyncClient(base_url=api, timeout=60, headers=CLERK) as http,
        ):
            up = await http.post(
                "/api/v1/materials", files={"file": ("身份证.png", card.data)}, data={"kind": "id_card"}
            )
            assert up.status_code == 201 and up.json()["status"] == "read", up.text
            material_id, sha256 = up.json()["material_id"], up.json()["sha256"]
            sample_json["materials"] = [
                {"kind": "id_card", "filename": "身份证.png", "sha256": sha256, "concerns": "legal_representative"}
            ]
            r = await http.post("/api/v1/applications", json=sample_json)
            assert r.status_code == 202, r.text  # findings never refuse
            app_id = r.json()["application_id"]
            found = (await http.get(r.json()["links"]["prereview"])).json()
            by_field = {f["field"]: f for f in found["findings"]}
            assert set(by_field) == {"legal_representative.id_number", "legal_representative.name"}
            number = by_field["legal_representative.id_number"]
            assert (number["form_value"], number["read_value"]) == (rep["id_number"], other["id_number"])
            assert number["confidence"] > 0.8 and number["decision"] is None and "不一致" in number["message"]
            assert by_field["legal_representative.name"]["read_value"] == other["name"]
            assert found["open"] == 2

            decisions = [
                {"field": f, "decision": "form_correct", "note": "已核对申请人身份证原件"} for f in sorted(by_field)
            ]
            reviewed = await http.post(
                f"/api/v1/materials/{material_id}/review", json={"application_id": app_id, "decisions": decisions}
            )
            assert reviewed.status_code == 200, reviewed.text
            assert reviewed.json()["open"] == 0
            assert {f["decided_by"] for f in reviewed.json()["findings"]} == {"clerk-0007"}
            assert (await http.get(f"/api/v1/applications/{app_id}/prereview")).json()["open"] == 0
            wrong = await http.post(
                f"/api/v1/materials/{material_id}/review",
                json={"application_id": app_id, "decisions": [{"field": "company.name", "decision": "form_correct"}]},
            )
            assert wrong.status_code == 409

            audit = (await http.get("/api/v1/audit", params={"application_id": app_id}, headers=DEV_SUPERVISOR)).json()
            actions = {e["action"]: e for e in audit["items"] if e["outcome"] == "allowed"}
            assert actions["submit_application"]["detail"]["prereview_findings"] == 2
            assert actions["review_material"]["detail"] == {
                "decisions": {f: "form_correct" for f in by_field}
            }  # the decisions, without the values (personal data)

            # the application goes on: the licence department receives it
            async def amr_dispatched() -> bool:
                view = (await http.get(f"/api/v1/applications/{app_id}")).json()
                amr = next(d for d in view["departments"] if d["code"] == "amr")
                return view["status"] == "processing" and bool(amr.get("receipt_no"))

            await eventually(amr_dispatched, timeout=90)
    # the catalog gives amr the ID cards: its portal's attachment step received this one, byte for byte
    (filed,) = [f for f in portal.list_submissions(departments.dbs["amr"]) if f["application_id"] == app_id]
    assert [(a["name"], a["sha256"]) for a in filed["data"]["attachments"]] == [("身份证.png", sha256)]

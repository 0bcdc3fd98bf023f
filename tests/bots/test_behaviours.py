"""Robots against portals that misbehave as real ones do (simulators.portal.Behaviour), one test each."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from bots.errors import PortalChanged, PortalUnavailable
from bots.flows import dispatch
from simulators.portal import Behaviour, create_portal_app
from tests.bots.conftest import PASSWORD, USERNAME, Portal, portal_app
from tests.support.servers import serve_app


@contextlib.asynccontextmanager
async def portal_with(tmp_path, code: str, **knobs):
    async with portal_app(tmp_path, code, **knobs) as (portal, _):
        yield portal


async def set_behaviour(portal: Portal, **changes) -> dict:
    async with httpx.AsyncClient(base_url=portal.url) as c:
        r = await c.put("/_admin/behaviour", json=changes)
        r.raise_for_status()
        return r.json()


@pytest.mark.parametrize("kind", ["arithmetic", "characters"])
async def test_the_robot_answers_the_captcha(kind, tmp_path, page, make_request):
    async with portal_with(tmp_path, "amr", behaviour=Behaviour(captcha=kind)) as portal:
        request = make_request("amr")
        receipt = await dispatch(page, portal.access, request)
        stored = portal.stored(request.application_id)
        assert [s["receipt_no"] for s in stored] == [receipt.receipt_no]


async def test_session_expiry_mid_wizard_relogins_and_files_once(tmp_path, page, make_request):
    """The portal forgets a session idle 1.5 s; the robot pauses 2 s at each new step (a slow
    heartbeat), so it is logged out at every step and must log in again and go on. (The idle time
    leaves a loaded machine ample room between the robot's own requests.)"""
    async with portal_with(tmp_path, "hpf", session_idle_timeout_s=1.5, captcha="arithmetic") as portal:
        request = make_request("hpf")
        seen: list[str] = []

        async def slow(name: str) -> None:
            seen.append(name)
            if name.startswith("form:") or name == "submit":
                await asyncio.sleep(2.0)

        receipt = await dispatch(page, portal.access, request, on_step=slow)
        assert seen.count("relogin") >= 2  # it really was logged out, more than once
        stored = portal.stored(request.application_id)
        assert [s["receipt_no"] for s in stored] == [receipt.receipt_no]
        assert stored[0]["data"]["liaison_mobile"] == request.application.liaison.mobile


async def test_flaky_portal_each_attempt_succeeds_or_is_unavailable_and_retries_file_once(tmp_path, page, make_request):
    async with portal_with(tmp_path, "hpf", error_rate=0.3, error_seed=20261128) as portal:
        request = make_request("hpf")
        failures: list[PortalUnavailable] = []
        receipt = None
        for _ in range(200):  # what Temporal's retry policy does, without the back-off
            try:
                receipt = await dispatch(page, portal.access, request)
                break
            except PortalUnavailable as exc:  # anything else fails the test
                failures.append(exc)
        assert receipt is not None, "no attempt got through"
        assert failures, "error_rate 0.3 made no request fail"
        assert all("503" in str(f) or "timed out" in str(f) for f in failures)
        stored = portal.stored(request.application_id)
        assert [s["receipt_no"] for s in stored] == [receipt.receipt_no]


async def test_maintenance_is_unavailable_with_retry_after(tmp_path, page, make_request):
    async with portal_with(tmp_path, "psb_seal") as portal:
        shown = await set_behaviour(portal, maintenance=True, maintenance_retry_after_s=600)
        assert shown["maintenance"] is True
        request = make_request("psb_seal")
        with pytest.raises(PortalUnavailable) as caught:
            await dispatch(page, portal.access, request)
        assert caught.value.retry_after_s == 600
        assert caught.value.retryable
        assert portal.count(request.application_id) == 0

        await set_behaviour(portal, maintenance=False)  # over: the same task now goes through
        receipt = await dispatch(page, portal.access, request)
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]


@pytest.mark.parametrize("code", ["amr", "hrss"])
async def test_version_2_is_portal_changed_and_nothing_is_filed(code, tmp_path, page, make_request):
    async with portal_with(tmp_path, code) as portal:
        await set_behaviour(portal, version=2)
        request = make_request(code)
        with pytest.raises(PortalChanged) as caught:
            await dispatch(page, portal.access, request)
        assert not caught.value.retryable
        assert "关联业务编号" not in str(caught.value) and "外部业务编号" in str(caught.value)
        assert portal.count(request.application_id) == 0


def fail_gets(app, times: int, path_prefix: str = "/login") -> list[str]:
    """Make the portal answer 503 to the first ``times`` GETs of pages under ``path_prefix``."""
    from starlette.responses import HTMLResponse

    failed: list[str] = []

    @app.middleware("http")
    async def flaky(request, call_next):
        if request.method == "GET" and request.url.path.startswith(path_prefix) and len(failed) < times:
            failed.append(request.url.path)
            return HTMLResponse("<h1>系统繁忙</h1>", status_code=503)
        return await call_next(request)

    return failed


@pytest.mark.parametrize(("times", "files"), [(2, True), (3, False)])
async def test_a_page_answered_5xx_is_loaded_again_a_bounded_number_of_times(
    times, files, tmp_path, page, make_request
):
    """A GET (loading it again changes nothing) answered 503 is loaded again after a pause, at most twice;
    a portal that keeps failing is left to Temporal's retry policy (PortalUnavailable)."""
    from structlog.testing import capture_logs

    db = tmp_path / "amr.sqlite3"
    app = create_portal_app("amr", db_path=db, username=USERNAME, password=PASSWORD, process_delay_s=3600)
    failed = fail_gets(app, times)
    async with serve_app(app) as url:
        portal = Portal("amr", url, db)
        request = make_request("amr")
        with capture_logs() as logs:
            if files:
                receipt = await dispatch(page, portal.access, request)
            else:
                with pytest.raises(PortalUnavailable, match="503"):
                    await dispatch(page, portal.access, request)
        reloads = [e for e in logs if e["event"] == "robot.page_reloaded"]
        assert len(failed) == times and len(reloads) == min(times, 2)
        stored = portal.stored(request.application_id)
        assert [s["receipt_no"] for s in stored] == ([receipt.receipt_no] if files else [])

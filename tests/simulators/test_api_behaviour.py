"""The department APIs misbehave when told to, as the portals do: ``PUT /_admin/behaviour`` with
``maintenance`` (503 with Retry-After), ``error_rate`` (random 503s, repeatable by seed), ``slow_s``."""

from __future__ import annotations

import time

import pytest

from activities.api_client import DepartmentApiClient, DepartmentUnavailable
from simulators.department_api import count_submissions, create_department_api_app
from tests.simulators.test_both_channels import client_for as both_client
from tests.simulators.test_both_channels import make
from tests.simulators.test_department_api import AUTH, TOKEN, app_id, body, client_for, post


def tax(tmp_path):
    db = tmp_path / "tax.sqlite3"
    return create_department_api_app("tax", db_path=db, token=TOKEN), db


async def test_maintenance_is_503_with_retry_after_until_it_is_over(tmp_path):
    app, db = tax(tmp_path)
    aid = app_id()
    async with client_for(app) as c:
        shown = (await c.get("/_admin/behaviour")).json()
        assert shown == {
            "error_rate": 0.0,
            "error_seed": None,
            "slow_s": 0.0,
            "maintenance": False,
            "maintenance_retry_after_s": 120,
        }
        r = await c.put("/_admin/behaviour", json={"maintenance": True, "maintenance_retry_after_s": 30})
        assert r.status_code == 200 and r.json()["maintenance"] is True
        for answer in (await post(c, body("tax", aid)), await c.get("/api/v1/submissions/T-1", headers=AUTH)):
            assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
            assert answer.json()["error"] == "maintenance" and "系统维护中" in answer.json()["reason"]
        assert (await c.get("/api/v1/submissions")).status_code == 503  # before the token is even looked at
        assert count_submissions(db, aid) == 0  # nothing was filed
        assert (await c.get("/_admin/submissions")).status_code == 200  # /_admin never misbehaves
        # kaiban's client reads it as the retryable outage it is, with the pause the department asked for
        client = DepartmentApiClient("http://sim", TOKEN, client=c, department="tax")
        with pytest.raises(DepartmentUnavailable) as down:
            await client.inquire("T-1")
        assert down.value.retry_after_s == 30 and down.value.status_code == 503
        await c.put("/_admin/behaviour", json={"maintenance": False})
        assert (await post(c, body("tax", aid))).status_code == 202
    assert count_submissions(db, aid) == 1


async def test_error_rate_fails_a_get_before_and_a_post_after_the_work(tmp_path):
    app, db = tax(tmp_path)
    aid = app_id()
    async with client_for(app) as c:
        await c.put("/_admin/behaviour", json={"error_rate": 1.0})
        lost = await post(c, body("tax", aid))
        assert lost.status_code == 503 and "retry-after" not in lost.headers
        assert count_submissions(db, aid) == 1  # stored, the answer lost: a gateway that timed out
        assert (await c.get("/api/v1/submissions", headers=AUTH)).status_code == 503
        await c.put("/_admin/behaviour", json={"error_rate": 0})
        again = await post(c, body("tax", aid))  # the retry finds the same filing
        assert again.status_code == 200
    assert count_submissions(db, aid) == 1


async def test_the_same_seed_fails_the_same_requests(tmp_path):
    app, _ = tax(tmp_path)
    async with client_for(app) as c:

        async def pattern() -> list[int]:
            await c.put("/_admin/behaviour", json={"error_rate": 0.5, "error_seed": 20261201})
            return [(await c.get("/api/v1/submissions", headers=AUTH)).status_code for _ in range(20)]

        first, second = await pattern(), await pattern()
    assert first == second and {200, 503} == set(first)


async def test_slow_s_delays_every_api_answer_but_not_admin(tmp_path):
    app, _ = tax(tmp_path)
    async with client_for(app) as c:
        await c.put("/_admin/behaviour", json={"slow_s": 0.3})
        started = time.monotonic()
        assert (await c.get("/api/v1/submissions", headers=AUTH)).status_code == 200
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        await c.get("/_admin/behaviour")
        assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(
    "bad",
    [
        {"maintenance": "yes"},
        {"error_rate": 1.5},
        {"error_rate": True},
        {"slow_s": -1},
        {"maintenance_retry_after_s": 1.5},
        {"error_seed": "x"},
        {"captcha": "arithmetic"},  # a portal's switch: not the API's
        [1, 2],
    ],
)
async def test_wrong_switches_are_422_and_change_nothing(tmp_path, bad):
    app, _ = tax(tmp_path)
    async with client_for(app) as c:
        r = await c.put("/_admin/behaviour", json={"slow_s": 0.1, **bad} if isinstance(bad, dict) else bad)
        assert r.status_code == 422 and r.json()["error"] == "validation_failed"
        assert (await c.get("/_admin/behaviour")).json()["slow_s"] == 0.0


@pytest.mark.parametrize("code", ["tax", "amr"])
async def test_a_department_serving_both_channels_is_down_on_both(code, tmp_path):
    """One switch for the department (make run's apps): maintenance takes its portal and its API down;
    the portal's own switches (captcha) stay the portal's."""
    app, _ = make(code, tmp_path)
    async with both_client(app) as c:
        r = await c.put("/_admin/behaviour", json={"maintenance": True, "maintenance_retry_after_s": 5})
        assert r.status_code == 200 and r.json()["captcha"] is None
        api = await c.get("/api/v1/submissions", headers={"Authorization": "Bearer sim-both-token"})
        page = await c.get("/login")
        assert api.status_code == page.status_code == 503
        assert api.headers["retry-after"] == page.headers["retry-after"] == "5"
        await c.put("/_admin/behaviour", json={"maintenance": False, "captcha": "arithmetic"})
        api = await c.get("/api/v1/submissions", headers={"Authorization": "Bearer sim-both-token"})
        assert api.status_code == 200 and (await c.get("/login")).status_code == 200

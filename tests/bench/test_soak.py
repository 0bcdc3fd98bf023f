"""The soak run's pieces (``python -m bench.soak``), without the hour it takes.

An end-to-end soak of 3 applications takes ≈ 100 s on the 2-core machine (too slow for the
suite), so this tests what decides the verdict: the criteria, the store counts read from real
simulator stores, following a workflow that waits for a person, the portals started with the
soak's behaviour, the report and the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from types import SimpleNamespace

import httpx
import pytest

from bench import soak
from bench.common import MemorySampler
from bench.mix import PORTALS, departments, memory_figures, store_path
from runtime.settings import Settings
from simulators import department_api
from simulators.portal import store
from tests.simulators.test_department_api import body
from tests.support.described import described

# --- the criteria --------------------------------------------------------------------------------


def test_evaluate_passes_only_when_every_criterion_holds():
    ok = dict(applications=3, outcomes={"completed": 3}, duplicates={"amr": [], "tax": []}, memory_growth=0.05)
    assert soak.evaluate(**ok) == []
    assert soak.evaluate(**{**ok, "memory_growth": 0.20}) == []  # the limit itself passes
    assert soak.evaluate(**{**ok, "memory_growth": -0.3}) == []  # shrinking is no leak

    [line] = soak.evaluate(**{**ok, "outcomes": {"completed": 2, "processing": 1}})
    assert line == "not every application completed: 2 of 3 completed (processing: 1)"
    [line] = soak.evaluate(**{**ok, "outcomes": {"completed": 2}})  # one never finished at all
    assert line.startswith("not every application completed: 2 of 3")

    [line] = soak.evaluate(**{**ok, "duplicates": {"amr": [], "hpf": ["KB-1", "KB-2"]}})
    assert "duplicate submissions" in line and "hpf: 2 (KB-1, KB-2)" in line and "amr" not in line

    [line] = soak.evaluate(**{**ok, "memory_growth": 0.2501})
    assert "memory grew +25.0%" in line and "limit +20%" in line
    [line] = soak.evaluate(**{**ok, "memory_growth": None})
    assert "no reading of the worker's memory" in line
    assert soak.evaluate(**{**ok, "memory_growth": 0.3}, max_growth=0.5) == []

    three = soak.evaluate(
        applications=3, outcomes={"needs_correction": 3}, duplicates={"amr": ["KB-1"]}, memory_growth=0.9
    )
    assert len(three) == 3


def test_store_counts_tell_live_duplicates_from_refiling(tmp_path):
    ids = ["KB-DUP", "KB-ONCE", "KB-REFILED", "KB-NONE"]
    db = store_path(tmp_path, "amr", soak.PREFIX)
    store.init_db(db)

    def file(app_id: str) -> str:
        row = store.insert_submission(
            db,
            portal="amr",
            application_id=app_id,
            data={},
            submitted_at="2026-11-29T10:00:00+08:00",
            submitted_ts=time.time(),
            ready_ts=time.time(),
            make_receipt_no=lambda i: f"R{i:06d}",
            make_result=lambda i: {},
        )
        return row["receipt_no"]

    file("KB-DUP"), file("KB-DUP"), file("KB-ONCE")
    store.set_status(db, file("KB-REFILED"), store.REJECTED, "需补正")  # sent back, then filed anew: not a duplicate
    file("KB-REFILED")
    for code in PORTALS[1:]:
        store.init_db(store_path(tmp_path, code, soak.PREFIX))
    for code in soak.APIS:
        department_api.init_db(store_path(tmp_path, code, soak.PREFIX))

    stores = soak.count_stores(tmp_path, ids)

    amr = stores["amr"]
    assert amr["channel"] == "robot"
    assert amr["duplicates"] == ["KB-DUP"] and amr["filed_more_than_once"] == ["KB-DUP", "KB-REFILED"]
    assert amr["live_submissions_per_application"] == {"0": 1, "1": 2, "2": 1}
    assert (amr["applications_filed"], amr["submissions"], amr["live_submissions"]) == (3, 5, 4)
    assert stores["tax"]["channel"] == "api" and stores["tax"]["live_submissions_per_application"] == {"0": 4}
    assert set(stores) == {*PORTALS, *soak.APIS}
    failures = soak.evaluate(
        applications=4,
        outcomes={"completed": 4},
        duplicates={c: s["duplicates"] for c, s in stores.items()},
        memory_growth=0.0,
    )
    assert failures and "amr: 1 (KB-DUP)" in failures[0]


async def test_an_api_store_counts_one_submission_for_a_repeated_post(tmp_path):
    db = store_path(tmp_path, "tax", soak.PREFIX)
    app = department_api.create_department_api_app("tax", db_path=db, token="t")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as c:
        for expected in (202, 200):
            r = await c.post("/api/v1/submissions", json=body("tax", "KB-TAX-1"), headers={"Authorization": "Bearer t"})
            assert r.status_code == expected
    figures = soak.store_figures(
        [
            (
                "KB-TAX-1",
                department_api.count_submissions(db, "KB-TAX-1"),
                department_api.count_live_submissions(db, "KB-TAX-1"),
            )
        ]
    )
    assert figures["live_submissions_per_application"] == {"1": 1} and figures["duplicates"] == []


# --- following an application ---------------------------------------------------------------------


class FakeHandle:
    """A workflow handle whose result comes after ``result_after_s`` (never if None)."""

    def __init__(self, views: list[dict], result_after_s: float | None, task_waits: int = 0) -> None:
        self.views, self.result_after_s, self.queries = views, result_after_s, 0
        self.task_waits = task_waits  # the first descriptions show a workflow task waiting to be taken

    async def describe(self):
        self.task_waits -= 1
        return described(task_waits=self.task_waits >= 0)

    async def result(self) -> dict:
        if self.result_after_s is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.result_after_s)
        return {"status": "completed", "departments": [{"code": "amr", "status": "completed"}]}

    async def query(self, name: str) -> dict:
        assert name == "status"
        self.queries += 1
        return self.views[min(self.queries, len(self.views)) - 1]


def fake_client(handle: FakeHandle) -> SimpleNamespace:
    return SimpleNamespace(get_workflow_handle=lambda application_id: handle)


def view(status: str, **departments: str) -> dict:
    return {"status": status, "departments": [{"code": c, "status": s} for c, s in departments.items()]}


async def test_follow_returns_the_result_or_stops_at_a_task_that_waits_for_a_person():
    done = FakeHandle([view("processing", amr="in_review")], result_after_s=0.05)
    assert await soak.follow(fake_client(done), "KB-1", timeout_s=5, poll_s=0.02) == {
        "status": "completed",
        "stuck": {},
        "timed_out": False,
    }

    manual = FakeHandle(
        [view("processing", amr="in_review"), view("processing", amr="manual", tax="completed")], result_after_s=None
    )
    t0 = time.monotonic()
    out = await soak.follow(fake_client(manual), "KB-2", timeout_s=5, poll_s=0.02)
    assert out == {"status": "processing", "stuck": {"amr": "manual"}, "timed_out": False}
    assert manual.queries == 2 and time.monotonic() - t0 < 2

    rejected = FakeHandle([view("needs_correction", hpf="rejected")], result_after_s=None)
    out = await soak.follow(fake_client(rejected), "KB-3", timeout_s=5, poll_s=0.02)
    assert out["status"] == "needs_correction" and out["stuck"] == {"hpf": "rejected"}

    slow = FakeHandle([view("processing", amr="dispatched")], result_after_s=None)
    out = await soak.follow(fake_client(slow), "KB-4", timeout_s=0.1, poll_s=0.02)
    assert out == {"status": "processing", "stuck": {}, "timed_out": True}


async def test_follow_asks_no_query_while_a_workflow_task_waits_to_be_taken():
    manual = FakeHandle([view("processing", amr="manual")], result_after_s=None, task_waits=3)
    out = await soak.follow(fake_client(manual), "KB-5", timeout_s=5, poll_s=0.02)
    assert out == {"status": "processing", "stuck": {"amr": "manual"}, "timed_out": False}
    assert manual.queries == 1 and manual.task_waits == -1  # three descriptions waited, the fourth was asked


# --- the portals misbehave as told ------------------------------------------------------------------


async def test_the_soak_portals_get_the_error_rate_distinct_seeds_and_the_session_lifetime(tmp_path):
    behaviour = {"error_rate": 0.1, "error_seed": lambda code: 40 + PORTALS.index(code), "session_lifetime_s": 120.0}
    async with (
        departments(tmp_path, 0.0, portal_behaviour=behaviour, prefix=soak.PREFIX) as urls,
        httpx.AsyncClient(timeout=10) as http,
    ):
        seen = {code: (await http.get(f"{urls[code]}/_admin/behaviour")).json() for code in PORTALS}
        counters = await soak._portal_counters(urls)
        tax = await http.get(
            f"{urls['tax']}/api/v1/submissions", headers={"Authorization": f"Bearer {Settings().api_token('tax')}"}
        )
    assert [seen[c]["error_seed"] for c in PORTALS] == [40, 41, 42, 43]
    assert all(b["error_rate"] == 0.1 and b["session_lifetime_s"] == 120.0 for b in seen.values())
    assert set(counters) == set(PORTALS) and all(c["requests"] == 0 for c in counters.values())
    assert tax.status_code == 200  # the API simulators run undisturbed
    assert store_path(tmp_path, "hpf", soak.PREFIX).exists()


# --- the report and the exit code --------------------------------------------------------------------


def args_for(tmp_path, *extra: str) -> argparse.Namespace:
    return soak.parse_args(["--report", str(tmp_path / "soak.json"), *extra])


def test_the_cli_defaults_are_the_issues_soak(tmp_path):
    args = soak.parse_args([])
    assert (args.applications, args.error_rate, args.session_lifetime, args.max_growth) == (100, 0.10, 120.0, 0.20)
    assert args.report.name == "soak.json" and args.report.parent.name == "bench"
    for bad in (["--applications", "0"], ["--error-rate", "1.5"], ["--session-lifetime", "0"]):
        with pytest.raises(SystemExit):
            soak.parse_args(bad)


def synthetic_report(args: argparse.Namespace, *, statuses: list[str], duplicate: bool, end_kb: int) -> dict:
    records = [
        {
            "application_id": f"KB-{i}",
            "seconds": 1.0,
            "status": s,
            "stuck": {} if s == "completed" else {"amr": "manual"},
            "timed_out": False,
        }
        for i, s in enumerate(statuses)
    ]
    ids = [r["application_id"] for r in records]
    stores = {code: {"channel": "robot", **soak.store_figures((i, 1, 1) for i in ids)} for code in PORTALS}
    if duplicate:
        stores["hrss"] = {"channel": "robot", **soak.store_figures([(ids[0], 2, 2), *((i, 1, 1) for i in ids[1:])])}
    counters = {
        code: {k: 0 for k in soak.portal.COUNTERS} | {"requests": 100, "responses_5xx": 10, "errors_injected": 10}
        for code in PORTALS
    }
    sampler = MemorySampler(pid=0)
    sampler.peak_process_kb = end_kb
    memory = memory_figures(sampler, {"worker_kb": 100 * 1024, "chromium_kb": 0}, end_kb, 0)
    return soak.build_report(
        args, records, [1.0] * statuses.count("completed"), 10.0, stores, counters, memory, min(10, len(records)), True
    )


def test_the_report_says_what_failed(tmp_path):
    args = args_for(tmp_path, "--applications", "3")
    good = synthetic_report(args, statuses=["completed"] * 3, duplicate=False, end_kb=110 * 1024)
    assert good["passed"] and good["failures"] == [] and good["duplicates"] == 0
    assert good["criteria"] == {"all_completed": True, "zero_duplicates": True, "memory_growth_within_limit": True}
    assert good["portal_counters_total"]["share_5xx"] == 0.1 and good["portal_counters_total"]["requests"] == 400
    assert good["memory"]["memory_growth"] == 0.1 and not good["issue_scale"]
    assert soak.summary_lines(good)[-1].startswith("SOAK PASSED")

    bad = synthetic_report(args, statuses=["completed", "completed", "processing"], duplicate=True, end_kb=130 * 1024)
    assert not bad["passed"] and bad["criteria"] == {
        "all_completed": False,
        "zero_duplicates": False,
        "memory_growth_within_limit": False,
    }
    assert bad["applications"]["not_completed"][0]["stuck"] == {"amr": "manual"}
    assert bad["duplicates"] == 1 and bad["stores"]["hrss"]["duplicates"] == ["KB-0"]
    failed = [line for line in soak.summary_lines(bad) if line.startswith("SOAK FAILED")]
    assert len(failed) == 3 and "hrss: 1 (KB-0)" in failed[1] and "+30.0%" in failed[2]
    json.dumps(bad)  # the report is JSON as it stands


def test_main_writes_the_report_and_exits_1_when_the_soak_failed(tmp_path, monkeypatch, capsys):
    outcome: dict = {}

    async def fake_run(args, work_dir, say):
        say("soak: 3/3 finished")
        return synthetic_report(args, **outcome)

    monkeypatch.setattr(soak, "run", fake_run)
    monkeypatch.setattr(soak.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    report = tmp_path / "soak.json"

    outcome.update(statuses=["completed"] * 3, duplicate=False, end_kb=101 * 1024)
    assert soak.main(["--applications", "3", "--report", str(report)]) == 0
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["passed"] and written["work_dir"] is None and written["total_s"] >= 0
    assert not (tmp_path / "work").exists()  # removed after a soak that passed
    (tmp_path / "work").mkdir()
    assert "SOAK PASSED" in capsys.readouterr().out

    outcome.update(duplicate=True)
    assert soak.main(["--applications", "3", "--report", str(report)]) == 1
    written = json.loads(report.read_text(encoding="utf-8"))
    assert not written["passed"] and written["work_dir"] == str(tmp_path / "work")  # kept for a look at the logs
    out = capsys.readouterr().out
    assert "SOAK FAILED: duplicate submissions" in out and "stores and logs kept in" in out


def test_main_exits_1_with_a_clear_line_when_the_run_breaks(tmp_path, monkeypatch, capsys):
    async def broken_run(args, work_dir, say):
        raise RuntimeError("worker exited with 1: see soak-worker.log")

    monkeypatch.setattr(soak, "run", broken_run)
    monkeypatch.setattr(soak.tempfile, "mkdtemp", lambda prefix: str(tmp_path))
    report = tmp_path / "soak.json"
    assert soak.main(["--applications", "3", "--report", str(report)]) == 1
    assert (
        "SOAK FAILED: the soak could not run to its end: RuntimeError: worker exited with 1" in capsys.readouterr().out
    )
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["passed"] is False and written["settings"]["applications"] == 3

"""Shape of the robot and mix sections of ``python -m bench`` and of their pieces (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.__main__ import main, parse_args, table
from bench.common import CpuMeter, ProcessLedger, machine_busy, tree_cpu_s
from bench.histories import summarize
from bench.mix import national_sentence
from bench.robot import round_sizes, worker_concurrency


def test_rounds_run_full_at_the_level_they_are_timed_at():
    assert round_sizes(20, 3) == [5, 5, 5, 5]
    assert round_sizes(6, 3) == [3, 3]
    assert round_sizes(7, 1) == [2, 2, 2, 1]
    assert round_sizes(2, 3) == [2]  # fewer tasks than the level: one round


def test_quick_mode_keeps_applications_in_flight_and_departments_deciding_later():
    args = parse_args(["--quick"])
    assert args.mix_in_flight >= 12 and args.mix_process_delay > 0
    assert args.robot_n >= 2 * worker_concurrency()  # at least two rounds at the worker's concurrency
    full = parse_args([])
    assert full.mix_in_flight > args.mix_in_flight


def test_cpu_meter_counts_a_child_that_ended_before_it_stopped(tmp_path):
    me = os.getpid()
    meter = CpuMeter({"me": [(me, False)]})
    meter.start()
    # a child that burns CPU and exits: counted through this process's cutime once reaped
    subprocess.run([sys.executable, "-c", "x = 0\nfor i in range(3_000_000): x += i"], check=True)
    seconds = meter.stop()
    assert seconds["me"] > 0
    assert 0 <= meter.machine_busy_share <= 1
    busy, total = machine_busy()
    assert 0 < busy <= total
    assert tree_cpu_s(me, own_only=True) > 0


# the grandchild burns 0.5 CPU s, says so, and lives on after its parent (as Chromium's zygotes do)
_GRANDCHILD = """
import pathlib, sys, time
t = time.process_time()
while time.process_time() - t < 0.5:
    pass
pathlib.Path(sys.argv[1]).write_text("burnt")
time.sleep(3)
"""
_CHILD = """
import pathlib, subprocess, sys, time
done = pathlib.Path(sys.argv[1])
subprocess.Popen([sys.executable, "-c", sys.argv[2], str(done)])
while not done.exists():
    time.sleep(0.02)
time.sleep(0.3)  # the ledger samples the grandchild after it burnt, while it is still below this process
"""


def test_the_ledger_counts_a_process_whose_parent_died_first(tmp_path):
    """The sum over the live tree loses a process left to init (its CPU goes with it); the ledger keeps it."""
    me = os.getpid()
    ledger = ProcessLedger(me)
    ledger.start()
    live0 = tree_cpu_s(me)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "done"), _GRANDCHILD])
    while child.poll() is None:
        ledger.sample()
        time.sleep(0.05)
    live = tree_cpu_s(me) - live0
    counted = ledger.seconds()
    assert ledger.processes_seen >= 3  # this process, the child, the grandchild
    assert counted - live >= 0.4, (counted, live)  # the grandchild's 0.5 s: in the ledger, not in the live sum
    assert ledger.by_kind()["python"] == counted  # all three are python processes


def test_the_national_sentence_is_computed_from_the_cpu_seconds_per_application():
    text = national_sentence(1.8, 0.6)
    assert "83/60 × 1.80 CPU s = 2.5 busy cores" in text
    assert "39,840" in text and "0.8 for the simulated departments" in text


class _Event:
    def __init__(self, event_type, seconds):
        from google.protobuf.timestamp_pb2 import Timestamp

        self.event_type = event_type
        self.event_time = Timestamp(seconds=seconds)

    def ByteSize(self):  # noqa: N802 - the protobuf method's name
        return 10


class _History:
    def __init__(self, events):
        self.events = events


def test_history_summary_counts_workflow_tasks_and_their_times():
    from temporalio.api.enums.v1 import EventType as T

    events = [
        _Event(T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 0),
        _Event(T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 0),
        _Event(T.EVENT_TYPE_WORKFLOW_TASK_STARTED, 1),
        _Event(T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 3),
        _Event(T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 3),
    ]
    s = summarize([_History(events)])
    assert s["events"] == 5 and s["workflow_tasks"] == 1
    assert s["wft_queue_ms"] == 1000 and s["wft_run_ms"] == 2000
    assert s["by_type"]["workflow_task_started"] == 1
    assert summarize([]) == {"histories": 0}


def _mix_figures() -> dict:
    return {
        "applications": 4,
        "in_flight": 4,
        "outcomes": {"completed": 4},
        "p50_ms": 1.0,
        "p99_ms": 2.0,
        "applications_per_minute": 3.0,
        "peak_worker_rss_mb": 1,
        "peak_chromium_rss_mb": 2,
        "peak_chromium_processes": 3,
        "worker_rss_after_10_mb": 1,
        "worker_rss_end_mb": 1,
        "memory_growth": 0.0,
        "cpu_s": {"api": 1, "worker": 2, "temporal": 3, "simulators": 4, "load_generator": 5},
        "kaiban_cpu_s_per_application": 1.5,
        "simulators_cpu_s_per_application": 1.0,
        "machine_busy_share": 0.9,
        "national": national_sentence(1.5, 1.0),
        "worker_cpu_s_by_process": {"python": 1.0, "playwright_driver": 0.5, "chromium": 6.0},
        "portal_per_application": {"requests": 40.0, "logins": 0.5},
        "events_per_application": {"total": 90.5, "Application": 80.0, "PortalSweeper": 10.5},
        "application_history": {
            "histories": 2,
            "events": 79.5,
            "workflow_tasks": 9.5,
            "history_kb": 20.25,
            "by_type": {"activity_task_scheduled": 7.0, "timer_started": 3.0},
        },
    }


def test_the_table_prints_the_mix_cpu_and_what_the_national_volume_would_take():
    results = {"mode": "quick", "total_s": 1, "machine": {"cpu_count": 2, "cpu_model": "x", "python": "3"}}
    results["mix"] = _mix_figures()
    text = table(results)
    assert "mix CPU s per application: kaiban / simulators" in text and "1.50 / 1.00" in text
    assert "mix machine busy" in text and "the national ≈ 83 applications/min" in text
    assert "python / playwright driver / chromium" in text and "1 / 0 / 6" in text
    assert "mix portal requests / logins per application" in text and "40.0 / 0.5" in text
    assert (
        "mix workflow events per application (server)" in text and "90.5 (Application 80.0, PortalSweeper 10.5)" in text
    )
    assert (
        "mix application history (n=2)" in text and "80 events, 9.5 WFTs, 20.2 kB; activity_task_scheduled 7.0" in text
    )


def test_bench_robot_section_alternates_robot_and_bare(tmp_path):
    out = tmp_path / "results.json"
    assert main(["--quick", "--sections", "robot", "--out", str(out), "--robot-n", "2"]) == 0
    r = json.loads(out.read_text(encoding="utf-8"))["robot"]
    c = r["pool_concurrency"]
    assert c == worker_concurrency()
    for key in ("robot_c1", "bare_c1", f"robot_c{c}", f"bare_c{c}"):
        assert r[key]["n"] == 2 and r[key]["per_minute"] > 0
    assert r["ratio"] > 0 and r["ratio_c1"] > 0
    assert r["rounds_c1"] == 2

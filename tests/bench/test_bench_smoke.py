"""Smoke test of ``python -m bench``: the orchestration and intake sections with tiny counts.

Asserts only the shape of results.json and that the figures are positive (no timing assertions).
"""

import json

from bench.__main__ import main


def test_bench_orchestration_and_intake_write_results(tmp_path):
    out = tmp_path / "results.json"
    rc = main(
        [
            "--quick",
            "--sections",
            "orchestration,intake",
            "--out",
            str(out),
            "--orchestration-n",
            "3",
            "--orchestration-concurrency",
            "2",
            "--intake-requests",
            "20",
            "--intake-clients",
            "5",
        ]
    )
    assert rc == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["machine"]["cpu_count"] > 0 and results["machine"]["python"]
    o = results["orchestration"]
    for who in ("kaiban", "bare"):
        assert o[who]["n"] == 3
        assert o[who]["p50_ms"] > 0 and o[who]["p99_ms"] > 0 and o[who]["per_minute"] > 0
    assert o["ratio"] > 0
    # kaiban through its API, timed in the same rounds; the ratio itself is of the two started alike
    assert o["kaiban_api"]["n"] == 3 and o["ratio_api"] > 0
    assert "start_workflow" in o["started"]
    for who in ("kaiban", "bare"):
        h = o["histories"][who]
        assert h["histories"] == 3 and h["events"] > 0 and h["workflow_tasks"] > 0
    assert o["histories"]["kaiban"]["by_type"]["activity_task_scheduled"] >= 7
    i = results["intake"]
    assert i["status_codes"] == {"202": 20}
    assert i["p50_ms"] > 0 and i["p99_ms"] >= i["p50_ms"] and i["requests_per_second"] > 0

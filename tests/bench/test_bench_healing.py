"""Smoke test of ``python -m bench.healing``: one application per portal in real Chromium; its figures are
what the robot did (every field right, filed through the mapping, version 3 left to a developer)."""

import json

from bench import healing


def test_the_healing_bench_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "healing.json"
    assert healing.main(["--n", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))["healing"]
    for code in healing.PORTALS:
        r = result[code]
        assert r["fields"] > 0 and r["fields_right"] == r["fields"] and r["accuracy"] == 1.0
        assert r["filed_through_mapping"] == 1 and r["version_3_needs_developer"] == 1
        assert r["version_2_needs_developer"] == 0
        assert 0 < r["to_proposal_ms_p50"] <= r["to_proposal_ms_max"]
    assert result["counters"]["proposals"] >= 8 and result["counters"]["applied"] >= 4
    assert "healing hpf" in capsys.readouterr().out

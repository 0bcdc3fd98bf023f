"""Smoke test of ``python -m bench.captcha`` (and its rows in ``make bench``'s table): tiny counts, the shape
of the output and figures that are fractions and times; no accuracy or timing targets (those are the bench's)."""

import json

from bench import captcha
from bench.__main__ import table


def test_the_captcha_bench_writes_its_figures_and_its_rows(tmp_path, capsys):
    out = tmp_path / "captcha.json"
    assert captcha.main(["--n", "4", "--browser-logins", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))["captcha"]
    assert result["model_load_s"] >= 0 and result["max_tries"] == 5
    for kind in ("image", "image_hard"):
        f = result[kind]
        assert f["logins"] == 4 and f["pictures_read"] >= 4
        assert 0 <= f["first_try"] <= f["within_3"] <= f["within_5"] <= 1
        assert 0 < f["read_ms_p50"] <= f["read_ms_p95"]
        assert isinstance(f["target_met"], bool)
        b = f["browser"]
        assert b["logins"] == 1 and b["solved"] + b["unsolved"] == 1 and b["portal_logins"] == b["solved"]
        assert b["answers_per_login"] >= 1 and b["ocr_ms_per_read"] > 0
    printed = capsys.readouterr().out
    assert "captcha image (n=4 logins" in printed and "captcha image_hard in Chromium (n=1)" in printed
    whole = table(
        {
            "mode": "quick",
            "total_s": 1.0,
            "machine": {"cpu_count": 2, "cpu_model": "x", "python": "3.11"},
            "captcha": result,
        }
    )
    assert "first " in whole and "≤5" in whole

"""Smoke test of ``python -m bench.materials``: one page per kind and condition; the shape of the report and
that every figure is there (no timing or accuracy assertions: those are the bench's targets)."""

import json

from bench.materials import KINDS, main


def test_the_materials_section_writes_its_figures(tmp_path):
    out = tmp_path / "materials.json"
    rc = main(["--n", "1", "--out", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))["materials"]
    assert rc in (0, 1)  # 1: a target not met (one page per kind says little)
    assert report["pages"] == 2 * len(KINDS)
    for kind in KINDS:
        for condition in ("clean", "degraded"):
            figures = report[kind][condition]
            assert figures["s_per_page_mean"] > 0 and figures["exact"]
    assert "id_card.degraded.id_number >= 98%" in report["targets"]
    assert report["rss_mib_after_last_page"] > 0

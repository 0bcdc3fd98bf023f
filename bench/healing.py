"""Portals that change (issue 14, self-healing): how well and how fast the robot maps a redesigned portal.
Alone: ``python -m bench.healing`` (writes ``bench/healing.json``).

For each portal of the simulator (amr, psb_seal, hrss, hpf) and ``n`` generated applications, the robot meets
version 2 (synonyms, reordered fields, a field moved to the next step, new ids) in real Chromium: its proposal
is checked field by field against the simulator's own rename table (``specs.version_labels``), then filed
through as if approved (once per application); version 3 (a new required field) must come out as needing a
developer, with nothing filed. Reported per portal: fields right / fields, fields below the threshold,
milliseconds of a dispatch from its login to the proposal (login, search, the failed first step, reading
the whole form with a screenshot per step, matching; p50, max), filings through the mapping, and the robot's
``bots.healing.COUNTERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stdnum.cn import uscc as uscc_std

from bench.common import ROOT, machine_info, percentile, quiet_logging
from bots import healing
from bots.browser import BrowserPool
from bots.flows import Healing, PortalAccess, dispatch
from bots.healing import MappingNeeded
from domain.requests import DepartmentRequest
from domain.samples import generate_application
from simulators.portal import create_portal_app
from simulators.portal.specs import PORTAL_SPECS, StepSpec, version_labels
from tests.support.servers import serve_app

PORTALS = ("amr", "psb_seal", "hrss", "hpf")
USER, PASSWORD = "bench", "bench-pass"
_PARTIAL = "91140121MA0KQ7WX3"  # what amr issued, as the other departments file under it
UPSTREAM_USCC = _PARTIAL + uscc_std.calc_check_digit(_PARTIAL)


def truth(steps: tuple[StepSpec, ...]) -> dict[str, tuple[int, str]]:
    """Version-1 label (rows as ``股东{n}名称``, checkbox options by their label) -> (step, version-2 label)."""
    table = version_labels(steps, 2)
    out: dict[str, tuple[int, str]] = {}
    for step in steps:
        for f in step.fields:
            out[f.label] = table[f.label]
            for _, option in f.options if f.kind == "checkboxes" else ():
                out[option] = (table[f.label][0], option)
        if step.repeat:
            for f in step.repeat.fields:
                i, label = table[f.label]
                out[step.repeat.legend + f.label] = (i, step.repeat.legend + label)
    return out


def _request(code: str, seed: int) -> DepartmentRequest:
    upstream = {} if code == "amr" else {"amr": {"uscc": UPSTREAM_USCC}}
    return DepartmentRequest(
        application_id=f"BENCH-HEAL-{code.replace('_', '')}-{seed}",
        department=code,
        application=generate_application(seed),
        upstream=upstream,
    )


def _set_version(app: Any, version: int) -> None:
    app.state.portal.behaviour.version = version  # what PUT /_admin/behaviour {"version": ...} changes


async def bench_portal(pool: BrowserPool, tmp: Path, code: str, n: int) -> dict:
    app = create_portal_app(code, db_path=tmp / f"{code}.sqlite3", username=USER, password=PASSWORD)
    right = fields = low = filed = developer = v2_developer = 0
    ms: list[float] = []
    expected = truth(PORTAL_SPECS[code].steps)
    async with serve_app(app) as url:
        access = PortalAccess(url, USER, PASSWORD)
        for i in range(n):
            request = _request(code, 20261202 + i)
            _set_version(app, 2)
            async with pool.page() as page:
                t0 = time.perf_counter()
                try:
                    await dispatch(page, access, request, healing=Healing())
                    raise AssertionError(f"{code}: version 2 filed without a mapping")
                except MappingNeeded as exc:
                    proposal = exc.proposal
                ms.append((time.perf_counter() - t0) * 1000)
                fields += len(proposal.fields)
                right += sum((m.step, m.label) == expected.get(m.flow_label) for m in proposal.fields)
                low += len(proposal.low_confidence)
                v2_developer += proposal.needs_developer  # must stay 0: version 2 asks nothing new
                approved = Healing(approved={proposal.fingerprint: {"id": "bench", **proposal.mapping()}})
                receipt = await dispatch(page, access, request, healing=approved)
                filed += bool(receipt.receipt_no)
            _set_version(app, 3)
            async with pool.page() as page:
                try:
                    await dispatch(page, access, _request(code, 30261202 + i), healing=approved)
                except MappingNeeded as exc:
                    developer += exc.proposal.needs_developer
    return {
        "applications": n,
        "fields": fields,
        "fields_right": right,
        "accuracy": round(right / fields, 4) if fields else 0.0,
        "below_threshold": low,
        "to_proposal_ms_p50": round(percentile(ms, 50), 1),
        "to_proposal_ms_max": round(max(ms), 1) if ms else 0.0,
        "filed_through_mapping": filed,
        "version_2_needs_developer": v2_developer,
        "version_3_needs_developer": developer,
    }


async def run(n: int) -> dict:
    out: dict = {"threshold": healing.DEFAULT_THRESHOLD}
    with tempfile.TemporaryDirectory(prefix="kaiban-bench-healing-") as tmp:
        pool = BrowserPool(max_sessions=1)
        await pool.start()
        try:
            for code in PORTALS:
                out[code] = await bench_portal(pool, Path(tmp), code, n)
        finally:
            await pool.stop()
    out["counters"] = dict(healing.COUNTERS)
    return out


def rows(result: dict) -> list[str]:
    lines = []
    for code in PORTALS:
        r = result[code]
        lines.append(
            f"healing {code:8s} (n={r['applications']}): fields right {r['fields_right']}/{r['fields']}"
            f" ({r['accuracy']:.1%}), below {result['threshold']:g}: {r['below_threshold']},"
            f" dispatch to proposal p50 {r['to_proposal_ms_p50']:.0f} ms (max {r['to_proposal_ms_max']:.0f}),"
            f" filed through mapping {r['filed_through_mapping']}, needs developer v2 {r['version_2_needs_developer']}"
            f" v3 {r['version_3_needs_developer']}"
        )
    lines.append(f"healing counters: {result['counters']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.healing", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5, help="applications per portal")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "healing.json")
    args = p.parse_args(argv)
    quiet_logging()
    result = asyncio.run(run(args.n))
    payload = {"healing": result, "machine": machine_info()}
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for line in rows(result):
        print(line)
    ok = all(
        result[c]["accuracy"] == 1.0
        and result[c]["filed_through_mapping"] == result[c]["applications"]
        and result[c]["version_3_needs_developer"] == result[c]["applications"]
        and result[c]["version_2_needs_developer"] == 0
        for c in PORTALS
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

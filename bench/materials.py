"""Materials read by OCR (issue 15): exact-field accuracy per kind, clean and degraded, seconds per page, and
the OCR worker's memory over every page. A section of ``make bench``; alone: ``python -m bench.materials``
(writes ``bench/materials.json``).

Pages are drawn by ``ai.synthetic`` (ID card fronts, business licences, leases, articles; half degraded like a
phone photo: rotation, uneven light, blur, noise, JPEG) from generated applications, and read by the worker's
own ``ai.ocr.Reader`` (one onnxruntime thread: one core) and ``ai.fields``. A field counts as read exactly when
its value equals the drawn one (spaces and punctuation aside) and passes the form's rules. Seconds per page are
CPU seconds of the reading after a warm-up (a page of each kind and condition). Memory: the process's RSS
after the warm-up and after the last page. Targets: ID numbers ≥ 98 % clean and degraded each, USCCs ≥ 98 %, names ≥ 95 %, a page ≤ 2 s,
memory flat (growth ≤ 10 %).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date
from pathlib import Path

from bench.common import ROOT, machine_info, percentile, quiet_logging

KINDS = ("id_card", "business_licence", "premises_proof", "articles_of_association")
TODAY = date(2026, 12, 1)
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
TARGETS = {"id_number": 0.98, "uscc": 0.98, "name": 0.95}
PAGE_S_TARGET = 2.0
RSS_GROWTH_TARGET = 0.10


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def random_uscc(rng: random.Random) -> str:
    from stdnum.cn import uscc

    body = "91" + rng.choice(["140105", "140106", "140107", "140109", "140110"])
    body += "".join(rng.choice(USCC_CHARS) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def drawn(kind: str, seed: int, degraded: bool):  # type: ignore[no-untyped-def]
    from ai import synthetic
    from domain.samples import generate_application

    application = generate_application(seed, today=TODAY)
    if kind == "id_card":
        return synthetic.draw_id_card(application["legal_representative"], seed, degraded=degraded)
    if kind == "business_licence":
        rng = random.Random(f"uscc:{seed}")
        holder = {"name": application["company"]["name"], "uscc": random_uscc(rng)}
        return synthetic.draw_business_licence(holder, application["supervisor"]["name"], seed, degraded=degraded)
    if kind == "premises_proof":
        return synthetic.draw_premises_proof(application, seed, degraded=degraded)
    return synthetic.draw_articles(application, seed, degraded=degraded)


def measure(n: int, seed0: int = 150_000) -> dict:
    """``n`` pages per kind and condition (clean, degraded), read one after the other in this process."""
    from ai.fields import fields_of
    from ai.ocr import Reader
    from domain.materials import normalised

    t0 = time.perf_counter()
    reader = Reader(threads=1)
    for kind in KINDS:  # a page of each kind and condition: the buffers of each size are there before RSS is read
        for degraded in (False, True):
            fields_of(kind, reader.lines(drawn(kind, seed0 - 1, degraded).data))
    load_s = time.perf_counter() - t0
    rss_start = rss_mib()
    out: dict = {"model_load_and_warm_up_s": round(load_s, 2), "pages_per_kind_and_condition": n}
    pages = 0
    all_cpu: list[float] = []
    for kind in KINDS:
        per_kind: dict = {}
        for condition in ("clean", "degraded"):
            right: dict[str, int] = {}
            seen: dict[str, int] = {}
            cpu: list[float] = []
            for i in range(n):
                d = drawn(kind, seed0 + i, condition == "degraded")
                started = time.process_time()
                fields = fields_of(kind, reader.lines(d.data))
                cpu.append(time.process_time() - started)
                pages += 1
                for name, truth in d.truth.items():
                    key = "contribution" if name.endswith(".contribution") else name
                    key = "shareholder_name" if name.endswith(".name") and name.startswith("shareholders.") else key
                    seen[key] = seen.get(key, 0) + 1
                    got = fields.get(name)
                    if got is not None and got.problem is None and normalised(got.value) == normalised(truth):
                        right[key] = right.get(key, 0) + 1
            all_cpu.extend(cpu)
            per_kind[condition] = {
                "exact": {k: round(right.get(k, 0) / seen[k], 4) for k in sorted(seen)},
                "s_per_page_mean": round(sum(cpu) / len(cpu), 3),
                "s_per_page_p95": round(percentile(cpu, 95), 3),
            }
        out[kind] = per_kind
    rss_end = rss_mib()
    out["pages"] = pages
    out["s_per_page_p50"] = round(percentile(all_cpu, 50), 3)
    out["s_per_page_max"] = round(max(all_cpu), 3)
    out["rss_mib_after_warm_up"] = round(rss_start, 1)
    out["rss_mib_after_last_page"] = round(rss_end, 1)
    out["rss_growth"] = round((rss_end - rss_start) / rss_start, 4) if rss_start else 0.0
    out["targets"] = targets(out)
    return out


def targets(out: dict) -> dict:
    """Each target of the issue, and whether it is met."""
    met: dict = {}
    for kind in KINDS:
        for condition in ("clean", "degraded"):
            exact = out[kind][condition]["exact"]
            for field, target in TARGETS.items():
                if field in exact:
                    met[f"{kind}.{condition}.{field} >= {target:.0%}"] = exact[field] >= target
            met[f"{kind}.{condition} page <= {PAGE_S_TARGET} s"] = (
                out[kind][condition]["s_per_page_mean"] <= PAGE_S_TARGET
            )
    met[f"rss growth <= {RSS_GROWTH_TARGET:.0%} over {out['pages']} pages"] = out["rss_growth"] <= RSS_GROWTH_TARGET
    return met


def run(n: int) -> dict:
    return measure(n)


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """The bench table's rows: (measure, mean ms per page, p95 ms per page, value)."""
    out = []
    for kind in KINDS:
        for condition in ("clean", "degraded"):
            r = result[kind][condition]
            exact = ", ".join(f"{k} {v:.1%}" for k, v in r["exact"].items())
            out.append(
                (
                    f"materials {kind} {condition} (n={result['pages_per_kind_and_condition']})",
                    f"{r['s_per_page_mean'] * 1000:.0f}",
                    f"{r['s_per_page_p95'] * 1000:.0f}",
                    exact,
                )
            )
    missed = [k for k, ok in result["targets"].items() if not ok]
    out.append(
        (
            f"materials memory over {result['pages']} pages",
            "",
            "",
            f"RSS {result['rss_mib_after_warm_up']} → {result['rss_mib_after_last_page']} MiB "
            f"({result['rss_growth']:+.1%}); targets {'all met' if not missed else 'NOT met: ' + '; '.join(missed)}",
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.materials", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=63, help="pages per kind and condition (63: 504 pages in all)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "materials.json")
    args = p.parse_args(argv)
    quiet_logging()
    print("… materials", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    result = run(args.n)
    result["section_s"] = round(time.perf_counter() - t0, 1)
    report = {"machine": machine_info(), "materials": result}
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for r in rows(result):
        print("  ".join(c for c in r if c))
    print(f"written: {args.out}")
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Image captchas: how well and how fast the robot reads them (issue 14). A section of ``make bench``;
alone: ``python -m bench.captcha`` (writes ``bench/captcha.json``).

For each kind the portal simulator draws (``image``, ``image_hard``; ``simulators.portal.captchas``, the
very pictures its login page shows), ``n`` logins are played as the robot's login page plays them
(``bots.pages.LoginPage``): a new picture per try, read by ``bots.captcha`` within the portal's rules, the
best answer not refused before is sent; the first try of each login is a fresh picture, so first-try
accuracy is over ``n`` pictures. Reported: first-try accuracy, logins solved within 3 and 5 tries, ms per
read (p50, p95, mean). Targets: ``image`` ≥ 95 % first try; ``image_hard`` ≥ 95 % of logins within 5 tries.

``--browser-logins`` more logins per kind go through real Chromium and the served portal with the robot's
own ``LoginPage``, counted by ``bots.captcha.COUNTERS`` (what a worker counts).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

from bench.common import ROOT, machine_info, percentile, quiet_logging
from bots import captcha as bot_captcha
from bots.captcha import DEFAULT_RULES, CaptchaRules, captcha_reader
from simulators.portal.captchas import new_captcha

KINDS = ("image", "image_hard")
TARGETS = {"image": ("first_try", 0.95), "image_hard": ("within_5", 0.95)}
MAX_TRIES = 5


def play_logins(kind: str, n: int, rules: CaptchaRules = DEFAULT_RULES, seed: int = 20261201) -> dict:
    """``n`` logins of up to MAX_TRIES tries each on pictures of ``kind``; figures as the module says."""
    reader = captcha_reader()
    rng = random.Random(seed)
    tries_needed: list[int | None] = []
    read_ms: list[float] = []
    first_right = 0
    for _ in range(n):
        refused: set[str] = set()
        solved_at = None
        for attempt in range(1, MAX_TRIES + 1):
            captcha = new_captcha(kind, random.Random(rng.getrandbits(64)))
            assert captcha.png is not None
            reading = reader.read(captcha.png, rules)
            read_ms.append(reading.ms)
            answer = reading.best_untried(refused)
            if attempt == 1:
                first_right += reading.best == captcha.answer
            if answer == captcha.answer:
                solved_at = attempt
                break
            if answer is not None:
                refused.add(answer)
        tries_needed.append(solved_at)

    def within(k: int) -> float:
        return round(sum(1 for t in tries_needed if t is not None and t <= k) / n, 4)

    return {
        "logins": n,
        "pictures_read": len(read_ms),
        "first_try": round(first_right / n, 4),
        "within_3": within(3),
        "within_5": within(5),
        "read_ms_p50": round(percentile(read_ms, 50), 1),
        "read_ms_p95": round(percentile(read_ms, 95), 1),
        "read_ms_mean": round(sum(read_ms) / len(read_ms), 1),
    }


async def browser_logins(kind: str, n: int, tmp: Path) -> dict:
    """``n`` logins by the robot's own LoginPage in Chromium at the served amr portal showing ``kind``."""
    from bots.browser import BrowserPool
    from bots.pages import LoginPage
    from simulators.portal import create_portal_app
    from tests.support.servers import serve_app

    app = create_portal_app("amr", db_path=tmp / f"amr-{kind}.sqlite3", username="bench", password="pw", captcha=kind)
    before = dict(bot_captcha.COUNTERS)
    pool = BrowserPool(max_sessions=1, reuse_sessions=False, trace=False)
    started = time.perf_counter()
    failed = 0
    await pool.start()
    try:
        async with serve_app(app) as url:
            for _ in range(n):
                async with pool.page() as page:
                    login = await LoginPage(page, url).open()
                    try:
                        await login.log_in("bench", "pw")
                    except Exception:  # CaptchaUnsolved: counted below
                        failed += 1
    finally:
        await pool.stop()
    c = {k: bot_captcha.COUNTERS[k] - before[k] for k in bot_captcha.COUNTERS}
    return {
        "logins": int(c["logins"]),
        "solved": int(c["solved"]),
        "unsolved": int(c["unsolved"]),
        "answers_per_login": round(c["answers"] / max(1, c["logins"]), 3),
        "ocr_ms_per_read": round(c["ocr_ms"] / max(1, c["reads"]), 1),
        "portal_logins": app.state.portal.counters["logins"],
        "s_per_login": round((time.perf_counter() - started) / max(1, n), 3),
    }


async def run(tmp: Path, n: int, browser_n: int, stretches: tuple[float, ...] | None = None) -> dict:
    """``stretches``: other preprocessing than the robot's (``CaptchaRules.stretches``), to compare."""
    t0 = time.perf_counter()
    captcha_reader()
    rules = DEFAULT_RULES if stretches is None else dataclasses.replace(DEFAULT_RULES, stretches=stretches)
    out: dict = {
        "model_load_s": round(time.perf_counter() - t0, 2),
        "max_tries": MAX_TRIES,
        "stretches": rules.stretches,
    }
    for kind in KINDS:
        figures = await asyncio.to_thread(play_logins, kind, n, rules)
        key, target = TARGETS[kind]
        figures["target"] = f"{key} >= {target:.0%}"
        figures["target_met"] = figures[key] >= target
        if browser_n:
            figures["browser"] = await browser_logins(kind, browser_n, tmp)
        out[kind] = figures
    return out


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """The bench table's rows: (measure, p50 ms, p95/p99 ms, value)."""
    out = []
    for kind in KINDS:
        f = result[kind]
        out.append(
            (
                f"captcha {kind} (n={f['logins']} logins, {f['pictures_read']} pictures, stretched"
                f" {'/'.join(f'{x:g}' for x in result['stretches'])})",
                f"{f['read_ms_p50']:.0f}",
                f"{f['read_ms_p95']:.0f}",
                f"first {f['first_try']:.1%}, ≤3 {f['within_3']:.1%}, ≤5 {f['within_5']:.1%}"
                f" ({f['target']}: {'met' if f['target_met'] else 'NOT met'})",
            )
        )
        b = f.get("browser")
        if b:
            out.append(
                (
                    f"captcha {kind} in Chromium (n={b['logins']})",
                    "",
                    "",
                    f"solved {b['solved']}/{b['logins']}, {b['answers_per_login']} answers/login, "
                    f"{b['ocr_ms_per_read']} ms/read, {b['s_per_login']} s/login",
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.captcha", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="logins per kind (first tries: one picture each)")
    p.add_argument("--browser-logins", type=int, default=20, help="logins per kind in Chromium (0: none)")
    p.add_argument(
        "--stretches", default=None, help="compare other preprocessing: comma-separated stretch factors, e.g. 1"
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "captcha.json")
    args = p.parse_args(argv)
    stretches = tuple(float(x) for x in args.stretches.split(",")) if args.stretches else None
    quiet_logging()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kaiban-bench-captcha-") as tmp:
        print("… captcha", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        result = asyncio.run(run(Path(tmp), args.n, args.browser_logins, stretches))
        result["section_s"] = round(time.perf_counter() - t0, 1)
    report = {"machine": machine_info(), "captcha": result}
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for r in rows(result):
        print("  ".join(c for c in r if c))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

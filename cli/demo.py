"""``make demo`` (with ``make run`` up): submit the sample and a few generated applications, show them finish.

Each application's materials are real files: drawn by ``ai.synthetic`` from the application (ID cards,
licences, the premises proof, the articles), uploaded through ``POST /api/v1/materials`` as the window would,
their SHA-256s put in ``materials`` (so the intake's check that they are stored stays on). Prints, per
application, a table of department, channel, status, result and elapsed time, then checks what the clerk would
check: every department completed, the tax taxpayer id equal to the USCC the market regulator issued, exactly
one submission per application in every department's store, and the files each API department received.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

import httpx

from ai.synthetic import material_set
from domain.samples import generate_application
from runtime.access import dev_clerk_headers
from runtime.settings import ROOT, get_settings

SAMPLE = ROOT / "contract" / "application.example.json"
STORE_URLS = {
    "amr": "http://127.0.0.1:8101",
    "psb_seal": "http://127.0.0.1:8102",
    "hrss": "http://127.0.0.1:8103",
    "hpf": "http://127.0.0.1:8104",
    "tax": "http://127.0.0.1:8201",
    "nhsa": "http://127.0.0.1:8202",
    "bank": "http://127.0.0.1:8203",
}
FINAL = {"completed", "needs_correction", "withdrawn"}
FILENAMES = {
    "id_card": "身份证正面",
    "business_licence": "营业执照",
    "premises_proof": "租赁合同",
    "articles_of_association": "公司章程",
}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}


def upload_materials(http: httpx.Client, api: str, body: dict, headers: dict[str, str], seed: int) -> list[dict]:
    """Draw the application's materials, upload each (``POST /api/v1/materials``), answer its ``materials``."""
    out = []
    for concerns, drawn in material_set(body, seed):
        name = f"{FILENAMES.get(drawn.kind, '材料')}.{EXTENSIONS.get(drawn.content_type, 'bin')}"
        r = http.post(
            f"{api}/api/v1/materials", files={"file": (name, drawn.data)}, data={"kind": drawn.kind}, headers=headers
        )
        if r.status_code != 201:
            raise RuntimeError(f"upload of {name} refused ({r.status_code}): {r.text}")
        read = r.json()
        out.append({"kind": drawn.kind, "filename": name, "sha256": read["sha256"], "concerns": concerns})
        print(f"  uploaded {name:<12} {read['sha256'][:12]}…  {read['status']}", flush=True)
    return out


def short_result(result: dict | None) -> str:
    if not result:
        return ""
    parts = []
    for key, value in result.items():
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= 70 else text[:67] + "..."


def elapsed(start: str | None, end: str | None) -> str:
    if not start or not end:
        return ""
    return f"{(datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds():.1f}s"


def print_table(view: dict) -> None:
    print(f"\n{view['application_id']}  {view['company_name']}  status={view['status']}")
    print(f"  {'department':<10} {'channel':<7} {'status':<11} {'elapsed':>8}  result")
    for d in view["departments"]:
        print(
            f"  {d['code']:<10} {d['channel']:<7} {d['status']:<11} "
            f"{elapsed(view['submitted_at'], d.get('completed_at')):>8}  {short_result(d.get('result')) or d.get('reason') or ''}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="Submit the sample and generated applications, print the outcome")
    parser.add_argument("--generated", type=int, default=3, help="generated applications besides the sample")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    settings = get_settings()
    api = f"http://{settings.api_host}:{settings.api_port}"
    bodies = [json.loads(SAMPLE.read_text(encoding="utf-8"))]
    bodies += [generate_application(seed, rare_chars=seed % 2 == 1) for seed in range(1, args.generated + 1)]

    with httpx.Client(timeout=30) as http:
        try:
            http.get(f"{api}/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            print(f"cannot reach the API at {api} ({exc}): start the stack with `make run` first", file=sys.stderr)
            return 2
        ids = []
        clerks: dict[str, dict[str, str]] = {}  # application id -> headers of the clerk who submitted it
        for seed, body in enumerate(bodies, start=1):
            headers = dev_clerk_headers(body)  # the window's development clerk (`make run` prints the tokens)
            print(f"materials of {body['company']['name']}:", flush=True)
            try:
                body["materials"] = upload_materials(http, api, body, headers, seed)
            except RuntimeError as exc:
                print(str(exc), file=sys.stderr)
                return 1
            r = http.post(f"{api}/api/v1/applications", json=body, headers=headers)
            if r.status_code != 202:
                print(f"submission refused ({r.status_code}): {r.text}", file=sys.stderr)
                return 1
            ids.append(r.json()["application_id"])
            clerks[ids[-1]] = headers
            print(f"submitted {ids[-1]}  {body['company']['name']}")

        views: dict[str, dict] = {}
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < args.timeout:
            for app_id in ids:
                views[app_id] = http.get(f"{api}/api/v1/applications/{app_id}", headers=clerks[app_id]).json()
            done = sum(
                1
                for d in (d for v in views.values() for d in v["departments"])
                if d["status"] in ("completed", "skipped")
            )
            total = sum(len(v["departments"]) for v in views.values())
            line = f"progress: {done}/{total} department tasks finished, {time.monotonic() - started:.0f}s"
            if line != last:
                print(line, flush=True)
                last = line
            if all(v["status"] in FINAL for v in views.values()):
                break
            time.sleep(1.0)

        for app_id in ids:
            print_table(views[app_id])

        problems = []
        for app_id, view in views.items():
            if view["status"] != "completed":
                problems.append(f"{app_id}: status {view['status']}")
                continue
            results = {d["code"]: d.get("result") or {} for d in view["departments"]}
            if results.get("tax", {}).get("taxpayer_id") != results["amr"]["uscc"]:
                problems.append(f"{app_id}: tax taxpayer_id differs from the USCC amr issued")
        print("\nsubmissions per application in each department's store:")
        for code, base in STORE_URLS.items():
            counts = []
            for app_id in ids:
                rows = http.get(f"{base}/_admin/submissions", params={"application_id": app_id}).json()
                rows = rows if isinstance(rows, list) else rows.get("submissions", [])
                counts.append(len(rows))
                if len(rows) > 1:
                    problems.append(f"{app_id}: {len(rows)} submissions in the {code} store")
            print(f"  {code:<10} {counts}")
        print("\nfiles each API department received (kinds per application, checked by SHA-256):")
        for code in ("tax", "nhsa", "bank"):
            kinds = []
            for app_id in ids:
                got = http.get(f"{STORE_URLS[code]}/_admin/materials", params={"application_id": app_id}).json()
                if any(m["sha256"] != m["sha256_of_data"] for m in got):
                    problems.append(f"{app_id}: a file {code} received differs from its SHA-256")
                kinds.append(len(got))
            print(f"  {code:<10} {kinds}")
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    print(
        f"\nall {len(ids)} applications completed by every department they concern; tax id = USCC; one submission each"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

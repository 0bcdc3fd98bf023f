"""Evidence of robot attempts: of a failure a screenshot, the page's HTML, the step log (and from the second
attempt on a trace) on disk, attached to the exception; of a filing a JPEG of the receipt and its HTML."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import pytest_asyncio
from PIL import Image

from bots import evidence
from bots.browser import BrowserPool
from bots.errors import LoginRejected, PortalChanged, SubmissionNotFound
from bots.evidence import make_label, safe_label
from bots.flows import PortalAccess, dispatch, inquire
from tests.bots.conftest import PASSWORD, USERNAME
from tests.bots.round_trips import counting
from tests.bots.test_flows import stub_app
from tests.support.servers import serve_app

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@pytest_asyncio.fixture(scope="module")
async def evidence_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evidence")


@pytest_asyncio.fixture(scope="module")
async def evidence_pool(evidence_dir):
    pool = BrowserPool(max_sessions=1, evidence_dir=evidence_dir)
    await pool.start()
    yield pool
    await pool.stop()


def today() -> str:
    return datetime.now(evidence.CST).strftime("%Y-%m-%d")


def encodings(secret: str) -> list[bytes]:
    return [v.encode() for v in (secret, quote(secret), quote_plus(secret), json.dumps(secret)[1:-1])]


def assert_kept(evidence_dir: Path, kept: dict, label: str, *, trace: bool) -> zipfile.ZipFile | None:
    """The evidence of a failed attempt: screenshot, HTML, step log, and the trace when ``trace``."""
    expected = {
        "screenshot": f"{today()}/{label}.png",
        "html": f"{today()}/{label}.html",
        "steps": f"{today()}/{label}.json",
    }
    if trace:
        expected["trace"] = f"{today()}/{label}.zip"
    assert kept == expected
    if not trace:
        assert not (evidence_dir / today() / f"{label}.zip").exists()
    shot = evidence_dir / kept["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000
    assert "<html" in (evidence_dir / kept["html"]).read_text(encoding="utf-8")
    steps = json.loads((evidence_dir / kept["steps"]).read_text(encoding="utf-8"))
    assert steps["label"] == label and steps["steps"][0]["step"] == "login"
    offsets = [s["at_ms"] for s in steps["steps"]]
    assert offsets == sorted(offsets) and offsets[0] >= 0  # monotonic offsets from the task's start
    assert all(set(s) == {"step", "at_ms"} for s in steps["steps"])  # names and times, nothing else
    if not trace:
        return None
    trace_zip = zipfile.ZipFile(evidence_dir / kept["trace"])
    names = trace_zip.namelist()
    assert {"trace.trace", "trace.network"} <= set(names)
    assert b'"frame-snapshot"' in trace_zip.read("trace.trace")  # DOM snapshots
    assert any(n.endswith(".jpeg") for n in names)  # screenshots
    assert not any("src@" in n for n in names)  # no sources
    for line in trace_zip.read("trace.trace").splitlines():  # still a readable trace after scrubbing
        json.loads(line)
    return trace_zip


def assert_files_lack(evidence_dir: Path, kept: dict, *secrets: str) -> None:
    """No kept file (HTML, step log, receipt) holds any of ``secrets`` in any encoding."""
    for relative in kept.values():
        data = (evidence_dir / relative).read_bytes()
        for secret in secrets:
            for form in encodings(secret):
                assert form not in data, (relative, form)


def assert_absent(trace: zipfile.ZipFile, secret: str) -> None:
    for name in trace.namelist():
        data = trace.read(name)
        for form in encodings(secret):
            assert form not in data, (name, form)


async def test_a_failed_attempt_leaves_a_screenshot_and_a_trace_without_the_password(
    portals, evidence_pool, evidence_dir, new_id
):
    application_id = new_id()
    label = make_label("hpf", application_id, 3)
    assert label == f"hpf-{application_id}-attempt3"
    with pytest.raises(SubmissionNotFound) as err:
        async with evidence_pool.page(label=label, attempt=3) as page:
            await inquire(page, portals["hpf"].access, "hpf", application_id, None)  # logs in, then finds nothing

    trace = assert_kept(evidence_dir, err.value.evidence, label, trace=True)
    assert trace is not None
    steps = json.loads((evidence_dir / err.value.evidence["steps"]).read_text(encoding="utf-8"))["steps"]
    assert [s["step"] for s in steps] == ["login", "search"]  # where it got to
    assert_files_lack(evidence_dir, err.value.evidence, PASSWORD)
    network = trace.read("trace.network").decode()
    assert "/login" in network and "/progress" in network  # the attempt is in the trace...
    assert_absent(trace, PASSWORD)  # ...but not the password it typed
    assert b"***" in trace.read("trace.trace")
    cookies = [
        h["value"]
        for line in network.splitlines()
        for h in _headers(json.loads(line))
        if h["name"].lower() in ("cookie", "set-cookie")
    ]
    assert cookies and set(cookies) == {"***"}  # nor the session


def _headers(event: dict) -> list[dict]:
    snap = event.get("snapshot") or {}
    return [*snap.get("request", {}).get("headers", []), *snap.get("response", {}).get("headers", [])]


async def test_a_failed_first_attempt_keeps_screenshot_html_and_steps_but_no_trace(
    portals, evidence_pool, evidence_dir, make_request
):
    request = make_request("amr")
    access = dataclasses.replace(portals["amr"].access, password="wrong-口令-2026")
    label = make_label("amr", request.application_id, 1)
    with pytest.raises(LoginRejected) as err:
        async with evidence_pool.page(label=label, attempt=1) as page:
            await dispatch(page, access, request)
    kept = err.value.evidence
    assert assert_kept(evidence_dir, kept, label, trace=False) is None
    html_kept = (evidence_dir / kept["html"]).read_text(encoding="utf-8")
    assert "用户名或密码错误" in html_kept  # the page as the portal answered the refused login
    assert_files_lack(evidence_dir, kept, "wrong-口令-2026")


async def test_a_secret_the_page_shows_is_scrubbed_from_its_html(evidence_pool, evidence_dir, make_request):
    """Whatever a portal echoes back (a password in a value attribute, a session id in a link) is masked."""
    request = make_request("amr")
    label = make_label("amr", request.application_id, 1)
    echoed = "<html><body><main><h2>系统升级公告</h2><input name=p value='s3cret-口令-2026'></main></body></html>"
    async with serve_app(stub_app(200, echoed)) as url:
        with pytest.raises(PortalChanged) as err:
            async with evidence_pool.page(label=label) as page:
                await dispatch(page, PortalAccess(url, USERNAME, "s3cret-口令-2026"), request)
    kept = err.value.evidence
    assert set(kept) == {"screenshot", "html", "steps"}
    html_kept = (evidence_dir / kept["html"]).read_text(encoding="utf-8")
    assert "系统升级公告" in html_kept and "***" in html_kept
    assert_files_lack(evidence_dir, kept, "s3cret-口令-2026")


async def test_without_tracing_a_retry_keeps_no_trace(evidence_pool, evidence_dir, make_request, monkeypatch):
    monkeypatch.setattr(evidence_pool, "trace", False)
    request = make_request("amr")
    label = make_label("amr", request.application_id, 2)
    async with serve_app(stub_app(200, "<html><body><h2>系统升级公告</h2></body></html>")) as url:
        with pytest.raises(PortalChanged) as err:
            async with evidence_pool.page(label=label, attempt=2) as page:
                await dispatch(page, PortalAccess(url, USERNAME, PASSWORD), request)
    assert set(err.value.evidence) == {"screenshot", "html", "steps"}
    assert not (evidence_dir / today() / f"{label}.zip").exists()


async def test_a_filing_keeps_a_jpeg_of_the_receipt_and_its_html_and_no_trace(
    portals, evidence_pool, evidence_dir, browser_pool, make_request
):
    request = make_request("hpf")
    label = make_label("hpf", request.application_id, 2)
    async with evidence_pool.page(label=label, attempt=2) as page:  # traced, but the trace of a success goes
        receipt = await dispatch(page, portals["hpf"].access, request)
        with counting(page) as seen:
            kept = await evidence_pool.save_receipt(
                page, make_label("hpf", request.application_id, 2, action="receipt")
            )
        # one look in the page's own world (no locator, no content(): neither installs Playwright's scripts)
        assert {call: n for call, n in seen.calls.items() if call[0] != "LocalUtils"} == {  # (the trace's stacks)
            ("Frame", "evaluateExpression"): 1,
            ("Page", "screenshot"): 1,
            ("BrowserContext", "cookies"): 1,
        }, seen.calls
        viewport = await page.screenshot(type="jpeg", quality=70)
        box = await page.locator("[data-receipt]").bounding_box()
    assert receipt.receipt_no and box
    stem = f"{today()}/hpf-{request.application_id}-receipt-attempt2"
    assert kept == {"receipt_screenshot": f"{stem}.jpg", "receipt_html": f"{stem}.html"}
    jpeg = (evidence_dir / kept["receipt_screenshot"]).read_bytes()
    assert jpeg[:3] == b"\xff\xd8\xff"  # a JPEG...
    assert len(jpeg) < len(viewport)  # ...of the receipt element, smaller than the viewport's
    with Image.open(io.BytesIO(jpeg)) as picture:
        assert abs(picture.width - box["width"]) <= 1 and abs(picture.height - box["height"]) <= 1, picture.size
    receipt_html = (evidence_dir / kept["receipt_html"]).read_text(encoding="utf-8")
    assert receipt.receipt_no in receipt_html and request.application_id in receipt_html
    assert_files_lack(evidence_dir, kept, PASSWORD)
    names = sorted(p.name for p in evidence_dir.rglob(f"*{request.application_id}*"))
    assert names == sorted(Path(p).name for p in kept.values())  # no trace, no failure evidence
    # a pool without an evidence folder keeps nothing
    async with browser_pool.page(label=label) as page:
        assert await browser_pool.save_receipt(page, label) == {}
        assert await browser_pool.save_screenshot(page, label) is None


def test_labels_are_file_names_of_ids_only(tmp_path):
    assert safe_label("../../etc/passwd") == "etc-passwd"
    assert SAFE_NAME.fullmatch(safe_label("amr 王𬱖 KB20261128-0001 第3次"))
    assert re.fullmatch(r"session-\d{6}-[0-9a-f]{6}", safe_label(None))
    assert len(safe_label("x" * 500)) == 96
    first = evidence.reserve(tmp_path, "amr-KB1-attempt1", ".png")
    second = evidence.reserve(tmp_path, "amr-KB1-attempt1", ".png")
    assert first[1].endswith("/amr-KB1-attempt1.png") and second[1].endswith("/amr-KB1-attempt1-2.png")
    assert first[0].exists() and second[0].exists()


def test_evidence_is_found_through_the_exceptions_it_caused():
    inner = RuntimeError("robot failed")
    evidence.attach(inner, {"screenshot": "2026-11-28/a.png"})
    try:
        try:
            raise inner
        except RuntimeError as exc:
            raise ValueError("activity failed") from exc
    except ValueError as outer:
        assert evidence.evidence_of(outer) == {"screenshot": "2026-11-28/a.png"}
    assert evidence.evidence_of(ValueError("none")) is None


def test_secrets_too_short_to_scrub_are_refused(tmp_path):
    src = tmp_path / "t.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("trace.trace", '{"type":"before","params":{"value":"pw"}}\n')
    with pytest.raises(ValueError, match="shorter"):
        evidence.scrub_trace(src, tmp_path / "out.zip", ["pw"])
    evidence.scrub_trace(src, tmp_path / "out.zip", ["s3cret-口令"])
    assert zipfile.ZipFile(tmp_path / "out.zip").read("trace.trace") == b'{"type":"before","params":{"value":"pw"}}\n'


async def test_a_reused_session_leaves_no_cookie_in_the_evidence(portals, evidence_pool, evidence_dir, make_request):
    """The account's warm page, logged in by an earlier task, is traced on a retry too: the kept trace,
    HTML and step log hold neither that session's cookie nor the password."""
    portal = portals["psb_seal"]
    account = (portal.url, USERNAME)
    request = make_request("psb_seal")
    async with evidence_pool.page(label=make_label("psb_seal", request.application_id, 1), account=account) as page:
        await dispatch(page, portal.access, request)
    assert evidence_pool.cached_sessions(account) == 1

    label = make_label("psb_seal", request.application_id, 2)
    with pytest.raises(SubmissionNotFound) as err:
        async with evidence_pool.page(label=label, account=account, attempt=2) as page:
            cookie = next(c["value"] for c in await page.context.cookies() if c["name"] == "PORTALSESSID")
            await inquire(page, portal.access, "psb_seal", request.application_id, "GAYZ-NO-SUCH-CASE")
    trace = assert_kept(evidence_dir, err.value.evidence, label, trace=True)
    assert trace is not None
    assert_files_lack(evidence_dir, err.value.evidence, cookie, PASSWORD)
    network = trace.read("trace.network").decode()
    assert "/progress" in network and "/login" not in network  # it really was logged in already
    assert_absent(trace, cookie)
    assert_absent(trace, PASSWORD)

"""Evidence of robot attempts on disk: of a failure a full-page screenshot, the page's HTML, the step log
and (from the attempt the pool traces) a Playwright trace; of a filing a JPEG of the receipt and its HTML.

``<evidence_dir>/<yyyy-mm-dd>/<label>.png`` / ``.html`` / ``.json`` / ``.zip`` / ``.jpg`` (the date in
Asia/Shanghai, a taken name gets ``-2``…); paths handed back are relative to ``evidence_dir``. Labels
hold only department, application id and attempt (:func:`make_label`). Traces, HTML and step logs are
scrubbed of registered secrets and the session's cookies (:func:`scrub_trace`, :func:`scrub_text`)
before they are kept: bots/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import secrets as _secrets
import shutil
import tempfile
import time
import weakref
import zipfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from playwright.async_api import BrowserContext, Page

from domain.calendar import SHANGHAI as CST  # the one Asia/Shanghai; the day folders are its dates

__all__ = [
    "MIN_SECRET_LENGTH",
    "attach",
    "evidence_of",
    "keep_failure",
    "keep_receipt",
    "record_step",
    "make_label",
    "register_secret",
    "reserve",
    "safe_label",
    "save_screenshot",
    "scrub_text",
    "scrub_trace",
    "secrets_of",
    "start_steps",
    "steps_of",
]

MAX_LABEL_LENGTH = 96
#: shorter secrets cannot be scrubbed without mangling the trace: such a trace is not kept
MIN_SECRET_LENGTH = 4
MASK = "***"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SENSITIVE_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
_BINARY_SUFFIXES = (".jpeg", ".jpg", ".png", ".webp", ".gif", ".woff", ".woff2")

_SECRETS: weakref.WeakKeyDictionary[BrowserContext, set[str]] = weakref.WeakKeyDictionary()


# --- labels and paths -------------------------------------------------------------------------


def make_label(department: str, application_id: str, attempt: int | None = None, *, action: str | None = None) -> str:
    """``amr-KB20261128-0001-attempt3`` (``action`` e.g. ``receipt`` goes before the attempt)."""
    parts = [department, application_id]
    if action:
        parts.append(action)
    if attempt is not None:
        parts.append(f"attempt{int(attempt)}")
    return safe_label("-".join(parts))


def safe_label(label: str | None) -> str:
    """A file-name-safe label: ASCII letters, digits, ``_``, ``.`` and ``-`` only, at most 96 characters.
    Without a label: ``session-<hhmmss>-<random>``."""
    cleaned = _UNSAFE.sub("-", label or "").strip("-.")[:MAX_LABEL_LENGTH].strip("-.")
    if not cleaned:
        cleaned = f"session-{datetime.now(CST):%H%M%S}-{_secrets.token_hex(3)}"
    return cleaned


def reserve(root: Path, label: str, suffix: str, now: datetime | None = None) -> tuple[Path, str]:
    """Create ``<root>/<yyyy-mm-dd>/<label><suffix>`` empty (never overwriting one that exists);
    returns its absolute path and its path relative to ``root``."""
    day = (now or datetime.now(CST)).astimezone(CST).strftime("%Y-%m-%d")
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_label(label)
    for n in range(1, 1000):
        name = f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}"
        path = folder / name
        try:
            with open(path, "x"):
                pass
        except FileExistsError:
            continue
        return path, f"{day}/{name}"
    raise FileExistsError(f"no free evidence file name for {stem}{suffix} in {folder}")


# --- attaching to exceptions ----------------------------------------------------------------


def attach(exc: BaseException, evidence: dict[str, str]) -> None:
    """Set ``exc.evidence`` (merged with what is already there)."""
    if not evidence:
        return
    try:
        exc.evidence = {**(getattr(exc, "evidence", None) or {}), **evidence}  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # an exception type without attributes: nothing to attach to
        pass


def evidence_of(exc: BaseException | None) -> dict[str, str] | None:
    """The evidence attached to ``exc`` or to an exception it was raised from (``__cause__``/``__context__``)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        found = getattr(exc, "evidence", None)
        if isinstance(found, dict) and found:
            return dict(found)
        exc = exc.__cause__ or exc.__context__
    return None


# --- secrets ------------------------------------------------------------------------------------


def register_secret(page: Page | BrowserContext, *secrets: str) -> None:
    """Secrets (passwords) this session types: scrubbed from its trace before the trace is kept."""
    context = page.context if isinstance(page, Page) else page
    bucket = _SECRETS.setdefault(context, set())
    bucket.update(s for s in secrets if s)


def secrets_of(page: Page | BrowserContext) -> frozenset[str]:
    context = page.context if isinstance(page, Page) else page
    return frozenset(_SECRETS.get(context, ()))


def _form_encoded(secret: str) -> str:
    """application/x-www-form-urlencoded as browsers write it (WHATWG: ``*-._`` kept, space as ``+``)."""
    out = []
    for byte in secret.encode("utf-8"):
        ch = chr(byte)
        if ch.isascii() and (ch.isalnum() or ch in "*-._"):
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _variants(secret: str) -> list[bytes]:
    forms = {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        _form_encoded(secret),
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    forms |= {f.replace("%", "%25") for f in list(forms) if "%" in f}  # encoded twice (a URL in a URL)
    # longest first, so a form that contains another is replaced whole
    return sorted({f.encode("utf-8") for f in forms if f}, key=len, reverse=True)


def _mask_headers(node: Any) -> Any:
    """Mask cookie and authorization header values and every cookie value in a trace event."""
    if isinstance(node, dict):
        name = node.get("name")
        if isinstance(name, str) and name.lower() in _SENSITIVE_HEADERS and "value" in node:
            return {**node, "value": MASK}
        out = {}
        for key, value in node.items():
            if key == "cookies" and isinstance(value, list):
                out[key] = [{**c, "value": MASK} if isinstance(c, dict) and "value" in c else c for c in value]
            else:
                out[key] = _mask_headers(value)
        return out
    if isinstance(node, list):
        return [_mask_headers(v) for v in node]
    return node


def _scrub_events(data: bytes) -> bytes:
    lines = []
    for line in data.split(b"\n"):
        if line.strip():
            try:
                event = json.loads(line)
            except ValueError:
                lines.append(line)
                continue
            line = json.dumps(_mask_headers(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        lines.append(line)
    return b"\n".join(lines)


def scrub_trace(source: Path, target: Path, secrets: Iterable[str]) -> None:
    """Copy a Playwright trace zip from ``source`` to ``target`` without the given secrets nor any
    cookie / authorization header value. Raises ``ValueError`` for a secret too short to scrub."""
    secrets = [s for s in secrets if s]
    short = [s for s in secrets if len(s) < MIN_SECRET_LENGTH]
    if short:
        raise ValueError(f"{len(short)} secret(s) shorter than {MIN_SECRET_LENGTH} characters cannot be scrubbed")
    variants = [v for s in secrets for v in _variants(s)]
    variants.sort(key=len, reverse=True)
    mask = MASK.encode()
    tmp = target.with_name(target.name + ".part")
    try:
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = src.read(info)
                if not info.filename.lower().endswith(_BINARY_SUFFIXES):
                    if info.filename.endswith((".trace", ".network")):
                        data = _scrub_events(data)
                    for v in variants:
                        data = data.replace(v, mask)
                dst.writestr(info, data)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` (a page's HTML, a step log) without the given secrets, in any of their encodings."""
    variants = sorted({v.decode("utf-8") for s in secrets if s for v in _variants(s)}, key=len, reverse=True)
    for v in variants:
        text = text.replace(v, MASK)
    return text


# --- step logs ----------------------------------------------------------------------------------


@dataclass
class StepLog:
    """The steps a task reported (names only, never values), each at its offset from the task's start."""

    started: float = field(default_factory=time.monotonic)
    steps: list[tuple[str, float]] = field(default_factory=list)

    def as_json(self) -> list[dict[str, Any]]:
        return [{"step": name, "at_ms": round(at * 1000, 1)} for name, at in self.steps]


_STEPS: weakref.WeakKeyDictionary[Page, StepLog] = weakref.WeakKeyDictionary()


def start_steps(page: Page) -> StepLog:
    """A new step log for the task that starts on ``page`` now (a warm page serves many tasks)."""
    log = _STEPS[page] = StepLog()
    return log


def record_step(page: Page, name: str) -> None:
    """Step ``name`` entered now (flows call it with every step they report to ``on_step``)."""
    log = _STEPS.get(page)
    if log is not None:
        log.steps.append((name, time.monotonic() - log.started))


def steps_of(page: Page) -> list[dict[str, Any]]:
    log = _STEPS.get(page)
    return log.as_json() if log is not None else []


# --- keeping evidence -----------------------------------------------------------------------------

EVIDENCE_TIMEOUT_MS = 5000  # a screenshot of a failed page must not hold the task long
MIN_COOKIE_SECRET = 8  # cookie values at least that long are scrubbed as secrets
RECEIPT_SELECTORS = ("[data-receipt]", "main")  # the receipt element, else the page's main part
RECEIPT_JPEG_QUALITY = 70


def _log() -> Any:
    import structlog

    return structlog.get_logger(__name__)


async def page_secrets(page: Page) -> frozenset[str]:
    """The secrets registered for the page's context and its cookie values (long enough to scrub)."""
    found = set(secrets_of(page))
    try:
        cookies = await asyncio.wait_for(page.context.cookies(), EVIDENCE_TIMEOUT_MS / 1000)
    except Exception:  # a dead browser: nothing more to know
        cookies = []
    found.update(c.get("value", "") for c in cookies if len(c.get("value", "")) >= MIN_COOKIE_SECRET)
    return frozenset(found)


async def _write(root: Path, label: str, suffix: str, make: Callable[[Path], Awaitable[None]]) -> str | None:
    """Reserve ``<label><suffix>`` and write it with ``make``; its relative path, or None (best effort)."""
    path: Path | None = None
    try:
        path, relative = reserve(root, label, suffix)
        await make(path)
    except Exception as exc:  # evidence is best effort: never the reason a task fails
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()
        _log().warning("browser.evidence_not_kept", label=label, suffix=suffix, error=type(exc).__name__)
        return None
    return relative


async def save_screenshot(root: Path, page: Page, label: str) -> str | None:
    """A full-page PNG ``<label>.png`` under ``root/<yyyy-mm-dd>/``; its relative path, or None."""

    async def shoot(path: Path) -> None:
        await page.screenshot(path=str(path), full_page=True, timeout=EVIDENCE_TIMEOUT_MS)

    return await _write(root, safe_label(label), ".png", shoot)


async def save_html(root: Path, page: Page, label: str, secrets: Iterable[str]) -> str | None:
    """The page's HTML as the browser holds it now, scrubbed of ``secrets``: ``<label>.html``."""

    async def write(path: Path) -> None:
        content = await asyncio.wait_for(page.content(), EVIDENCE_TIMEOUT_MS / 1000)
        path.write_text(scrub_text(content, secrets), encoding="utf-8")

    return await _write(root, safe_label(label), ".html", write)


async def keep_failure(root: Path, page: Page, label: str | None, *, trace: bool) -> dict[str, str]:
    """Evidence of a failed attempt: a full-page screenshot, the page's HTML, the step log and, when the
    context records one (``trace``), the Playwright trace; all scrubbed of secrets. What was kept, by kind."""
    name = safe_label(label)
    secrets = await page_secrets(page)
    kept: dict[str, str] = {}
    shot = await save_screenshot(root, page, name)
    if shot:
        kept["screenshot"] = shot
    html_path = await save_html(root, page, name, secrets)
    if html_path:
        kept["html"] = html_path

    async def write_steps(path: Path) -> None:
        text = json.dumps({"label": name, "steps": steps_of(page)}, ensure_ascii=False, indent=1)
        path.write_text(scrub_text(text, secrets), encoding="utf-8")

    steps = await _write(root, name, ".json", write_steps)
    if steps:
        kept["steps"] = steps
    if trace:
        raw_dir = tempfile.mkdtemp(prefix="kaiban-trace-")
        try:

            async def write_trace(path: Path) -> None:
                raw = Path(raw_dir) / "trace.zip"
                await page.context.tracing.stop(path=str(raw))
                scrub_trace(raw, path, secrets)

            traced = await _write(root, name, ".zip", write_trace)
        finally:
            shutil.rmtree(raw_dir, ignore_errors=True)
        if traced:
            kept["trace"] = traced
        else:  # never leave a context tracing (a warm page's next task starts its own)
            with contextlib.suppress(Exception):
                await page.context.tracing.stop()
    if kept:
        _log().info("browser.evidence_kept", label=name, **kept)
    return kept


# One trip in the page's own world: the receipt element's box in the viewport (scrolled into view first) and the
# document's HTML, serialised as Playwright's ``page.content()`` does it. A locator and ``content()`` would each
# install Playwright's injected script or utility world in the receipt's document (≈ 40 ms of Chromium CPU each).
RECEIPT_JS = """(selectors) => {
  let element = null;
  for (const selector of selectors) {
    element = document.querySelector(selector);
    if (element) break;
  }
  let box = null;
  if (element) {
    element.scrollIntoView({block: "nearest", inline: "nearest"});
    const r = element.getBoundingClientRect();
    const x = Math.max(0, r.left), y = Math.max(0, r.top);
    const width = Math.min(r.right, window.innerWidth) - x, height = Math.min(r.bottom, window.innerHeight) - y;
    if (width >= 1 && height >= 1) box = {x, y, width, height};
  }
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : "";
  return {box, html: doctype + (document.documentElement ? document.documentElement.outerHTML : "")};
}"""


async def keep_receipt(root: Path, page: Page, label: str) -> dict[str, str]:
    """Evidence of a filing: a JPEG of the receipt element (the part of it in the viewport; the viewport when
    there is none) and the receipt page's HTML, scrubbed of secrets:
    ``{"receipt_screenshot": ….jpg, "receipt_html": ….html}``."""
    name = safe_label(label)
    try:
        found = await asyncio.wait_for(page.evaluate(RECEIPT_JS, list(RECEIPT_SELECTORS)), EVIDENCE_TIMEOUT_MS / 1000)
    except Exception as exc:  # best effort, as every evidence
        _log().warning("browser.evidence_not_kept", label=name, suffix=".jpg", error=type(exc).__name__)
        return {}

    async def shoot(path: Path) -> None:
        await page.screenshot(
            path=str(path),
            type="jpeg",
            quality=RECEIPT_JPEG_QUALITY,
            clip=found["box"],  # None: the viewport
            timeout=EVIDENCE_TIMEOUT_MS,
        )

    async def write(path: Path) -> None:
        path.write_text(scrub_text(found["html"], await page_secrets(page)), encoding="utf-8")

    kept: dict[str, str] = {}
    shot = await _write(root, name, ".jpg", shoot)
    if shot:
        kept["receipt_screenshot"] = shot
    html_path = await _write(root, name, ".html", write)
    if html_path:
        kept["receipt_html"] = html_path
    return kept

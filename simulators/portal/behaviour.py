"""How a portal misbehaves (a :class:`Behaviour`, changed at run time by ``PUT /_admin/behaviour``)
and the middleware that does it: slowness, maintenance, injected 503s. ``/_admin`` is exempt."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, Response


@dataclass
class Behaviour:
    """How a portal instance misbehaves; see simulators/README.md. Mutable: ``PUT /_admin/behaviour``."""

    process_delay_s: float = 0.0
    step_delay_s: float = 0.0
    captcha: Literal[None, "arithmetic", "characters", "image", "image_hard"] = None
    session_idle_timeout_s: float | None = None
    session_lifetime_s: float | None = None
    error_rate: float = 0.0
    error_seed: int | None = None
    slow_s: float = 0.0
    maintenance: bool = False
    maintenance_retry_after_s: int = 120
    version: Literal[1, 2, 3] = 1

    def __post_init__(self) -> None:
        problems = behaviour_problems(dataclasses.asdict(self))
        if problems:
            raise ValueError("; ".join(problems))


def behaviour_problems(values: Mapping[str, Any]) -> list[str]:
    """What is wrong with these Behaviour field values (unknown names, types, ranges)."""
    known = {f.name for f in dataclasses.fields(Behaviour)}
    out = [f"unknown behaviour {k!r}" for k in values if k not in known]

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for k, v in values.items():
        if k in ("process_delay_s", "step_delay_s", "slow_s") and not (number(v) and v >= 0):
            out.append(f"{k} must be a number >= 0")
        elif k in ("session_idle_timeout_s", "session_lifetime_s") and not (v is None or (number(v) and v > 0)):
            out.append(f"{k} must be null or a number > 0")
        elif k == "error_rate" and not (number(v) and 0 <= v <= 1):
            out.append(f"{k} must be between 0 and 1")
        elif k == "error_seed" and not (v is None or (isinstance(v, int) and not isinstance(v, bool))):
            out.append(f"{k} must be null or an integer")
        elif k == "maintenance" and not isinstance(v, bool):
            out.append(f"{k} must be true or false")
        elif k == "maintenance_retry_after_s" and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            out.append(f"{k} must be an integer >= 0")
        elif k == "captcha" and v not in (None, "arithmetic", "characters", "image", "image_hard"):
            out.append(f"{k} must be null, 'arithmetic', 'characters', 'image' or 'image_hard'")
        elif k == "version" and (isinstance(v, bool) or v not in (1, 2, 3)):
            out.append(f"{k} must be 1, 2 or 3")
    return out


def plain_error(status: int, title: str, text: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The bare error page a gateway answers with (no portal chrome)."""
    html = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{status} {title}</title></head>'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=headers)


RECEIPT_IN_PATH = re.compile(r"/(?=[A-Za-z-]*\d)[A-Za-z0-9-]{8,}(?=/|$)")  # /receipt/SCJG2026120400001 → /receipt/{no}


async def misbehave(request: Request, call_next: Callable[[Request], Any]) -> Response:
    """The middleware: count the request, then be slow, in maintenance or failing as the behaviour says.

    A GET fails before doing anything; a POST fails after the portal did its work (a gateway that timed out).
    """
    path = request.url.path
    if path.startswith(("/_admin", "/api/")) or path == "/favicon.ico":  # /api/: the department's JSON API
        return await call_next(request)
    portal = request.app.state.portal
    behaviour, counters = portal.behaviour, portal.counters
    request.state.arrived = time.time()
    counters["requests"] += 1
    page = f"{request.method} {RECEIPT_IN_PATH.sub('/{no}', path)}"
    portal.pages[page] = portal.pages.get(page, 0) + 1
    if behaviour.slow_s > 0:
        await asyncio.sleep(behaviour.slow_s)
    if behaviour.maintenance:
        counters["responses_5xx"] += 1
        return plain_error(
            503,
            "系统维护中",
            f"系统维护中，请于{behaviour.maintenance_retry_after_s}秒后再试。",
            {"Retry-After": str(behaviour.maintenance_retry_after_s)},
        )
    fail = behaviour.error_rate > 0 and portal.rng.random() < behaviour.error_rate
    if fail and request.method == "GET":
        return _injected_error(counters)
    response = await call_next(request)
    portal.touch_session(request)
    if fail:  # the work is done, the answer lost
        return _injected_error(counters)
    if response.status_code >= 500:
        counters["responses_5xx"] += 1
    return response


def _injected_error(counters: dict[str, int]) -> HTMLResponse:
    counters["errors_injected"] += 1
    counters["responses_5xx"] += 1
    return plain_error(503, "服务暂时不可用", "服务器繁忙，请稍后再试。")

"""How a department API misbehaves, like the portals do: maintenance (503 with ``Retry-After``), injected
503s (``error_rate``, repeatable with ``error_seed``), slowness (``slow_s``). Changed at run time by
``PUT /_admin/behaviour``; only ``/api/`` misbehaves (``/_admin`` never does).

A department serving both channels (``simulators.department``) gives its API the portal's behaviour
object instead: one switch then takes the whole department down, whichever channel is used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import JSONResponse, Response


class Switches(Protocol):
    """What the middleware reads: an :class:`ApiBehaviour`, or a portal's behaviour with the same names."""

    error_rate: float
    slow_s: float
    maintenance: bool
    maintenance_retry_after_s: int


@dataclass
class ApiBehaviour:
    """A department API's switches (the names and meanings of the portal's); mutable."""

    error_rate: float = 0.0
    error_seed: int | None = None
    slow_s: float = 0.0
    maintenance: bool = False
    maintenance_retry_after_s: int = 120

    def __post_init__(self) -> None:
        problems = behaviour_problems(dataclasses.asdict(self))
        if problems:
            raise ValueError("; ".join(problems))


def behaviour_problems(values: Mapping[str, Any]) -> list[str]:
    """What is wrong with these ApiBehaviour field values (unknown names, types, ranges)."""
    known = {f.name for f in dataclasses.fields(ApiBehaviour)}
    out = [f"unknown behaviour {k!r}" for k in values if k not in known]

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def integer(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    for k, v in values.items():
        if k == "slow_s" and not (number(v) and 0 <= v <= 3600):
            out.append(f"{k} must be a number between 0 and 3600")
        elif k == "error_rate" and not (number(v) and 0 <= v <= 1):
            out.append(f"{k} must be between 0 and 1")
        elif k == "error_seed" and not (v is None or integer(v)):
            out.append(f"{k} must be null or an integer")
        elif k == "maintenance" and not isinstance(v, bool):
            out.append(f"{k} must be true or false")
        elif k == "maintenance_retry_after_s" and not (integer(v) and v >= 0):
            out.append(f"{k} must be an integer >= 0")
    return out


def change(behaviour: ApiBehaviour, rng: random.Random, values: Mapping[str, Any]) -> list[str]:
    """Apply ``values`` (checked first: nothing changes when one is wrong); the problems, if any."""
    problems = behaviour_problems(values)
    if problems:
        return problems
    for key, value in values.items():
        setattr(behaviour, key, value)
    if "error_seed" in values:
        rng.seed(behaviour.error_seed)
    return []


def unavailable(reason: str, headers: dict[str, str] | None = None, error: str = "unavailable") -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=503, headers=headers)


async def misbehave(request: Request, call_next: Callable[[Request], Any]) -> Response:
    """The middleware of ``/api/``: be slow, in maintenance or failing as the behaviour says.

    A GET fails before doing anything; a POST fails after the department did its work (a gateway that
    timed out: the filing is stored, the answer lost), as the portals do."""
    if not request.url.path.startswith("/api/"):
        return await call_next(request)
    department = request.app.state.department_api
    behaviour: Switches = department.behaviour
    if behaviour.slow_s > 0:
        await asyncio.sleep(behaviour.slow_s)
    if behaviour.maintenance:
        after = behaviour.maintenance_retry_after_s
        return unavailable(f"系统维护中，请于{after}秒后再试", {"Retry-After": str(after)}, "maintenance")
    fail = behaviour.error_rate > 0 and department.rng.random() < behaviour.error_rate
    if fail and request.method == "GET":
        return unavailable("服务器繁忙，请稍后再试")
    response = await call_next(request)
    if fail:
        return unavailable("服务器繁忙，请稍后再试")
    return response

"""One department API instance's state (code, token, store, rejection rules, pending callbacks) and
what its routes share: the error body, the bearer-token check."""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from simulators.department_api.behaviour import ApiBehaviour, Switches
from simulators.department_api.filings import ApiStore, Filings
from simulators.department_api.models import Submission

DEFAULT_REJECTION_REASON = "材料不全，请补正 (materials incomplete, please correct)"


@dataclass
class Department:
    code: str
    token: str
    db_path: Path
    body_model: type[Submission] | type[BaseModel]
    callback_secret: str = ""  # signs callbacks (X-Kaiban-Signature); not the account secret
    process_delay_s: float = 0.0
    rejection_rules: dict[str, str] = field(default_factory=dict)
    pending: set[asyncio.Task] = field(default_factory=set)  # callbacks not yet sent
    filings: Filings = None  # type: ignore[assignment]  # default: the API's own store
    # how /api/ misbehaves: its own switches, or (a department serving both channels) its portal's
    behaviour: Switches = field(default_factory=ApiBehaviour)
    rng: random.Random = field(default_factory=random.Random)  # draws the injected 503s

    def __post_init__(self) -> None:
        if self.filings is None:
            self.filings = ApiStore(self.db_path, self.code)
        if isinstance(self.behaviour, ApiBehaviour):
            self.rng.seed(self.behaviour.error_seed)


def get_department(request: Request) -> Department:
    return request.app.state.department_api


DepartmentDep = Annotated[Department, Depends(get_department)]


class Unauthorized(Exception):
    """No valid bearer token: answered 401 (see :func:`unauthorized`)."""


def require_token(request: Request, department: DepartmentDep) -> None:
    """Every ``/api/v1`` call needs ``Authorization: Bearer <token>``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if not (scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode(), department.token.encode())):
        raise Unauthorized


def error(status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status, headers=headers)


def unauthorized(_request: Request, _exc: Exception) -> JSONResponse:
    return error(401, "unauthorized", "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})


def validation_reason(exc: ValidationError) -> str:
    """A body's validation errors as one line: ``<field>: <why>; ...``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        msg = err.get("msg", "invalid")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)

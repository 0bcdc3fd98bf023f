"""``create_portal_app``: one department's legacy portal, a spec rendered by the generic routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from simulators.portal import admin, cases, login, mine, store, wizard
from simulators.portal.behaviour import Behaviour, behaviour_problems, misbehave
from simulators.portal.specs import PORTAL_CODES, PORTAL_SPECS
from simulators.portal.state import DEFAULT_REJECTION_REASON, LoginRequired, Portal, to_login


def build_behaviour(
    behaviour: Behaviour | None, process_delay_s: float | None, step_delay_s: float | None, knobs: dict[str, Any]
) -> Behaviour:
    if process_delay_s is not None:
        knobs["process_delay_s"] = process_delay_s
    if step_delay_s is not None:
        knobs["step_delay_s"] = step_delay_s
    problems = behaviour_problems(knobs)
    if problems:
        raise ValueError("; ".join(problems))
    return replace(behaviour or Behaviour(), **knobs)


def create_portal_app(
    code: str,
    *,
    db_path: str | Path,
    username: str,
    password: str,
    process_delay_s: float | None = None,
    step_delay_s: float | None = None,
    reject_application_ids: Mapping[str, str] | None = None,
    behaviour: Behaviour | None = None,
    **knobs: Any,
) -> FastAPI:
    """The legacy portal of department ``code`` (amr, psb_seal, hrss or hpf).

    ``reject_application_ids`` (application id -> reason): rejection rules in force from the
    start, as if posted to ``/_admin/rejections``. ``behaviour`` and/or keyword arguments named
    like its fields (``captcha="arithmetic"``, ``error_rate=0.3``, ...) set how it misbehaves;
    keyword arguments win. The app's ``state.behaviour`` is that (mutable) object.
    """
    spec = PORTAL_SPECS.get(code)
    if spec is None:
        raise ValueError(f"no portal simulator for department {code!r}; known: {', '.join(PORTAL_CODES)}")
    portal = Portal(
        spec=spec,
        behaviour=build_behaviour(behaviour, process_delay_s, step_delay_s, knobs),
        db_path=Path(db_path),
        username=username,
        password=password,
    )
    store.init_db(portal.db_path)
    for application_id, reason in (reject_application_ids or {}).items():
        portal.add_rejection_rule(str(application_id), str(reason) or DEFAULT_REJECTION_REASON)

    app = FastAPI(title=spec.system_name, docs_url=None, redoc_url=None, openapi_url=None)
    mount_portal(app, portal)
    return app


def mount_portal(app: FastAPI, portal: Portal, *, store_admin: bool = True) -> None:
    """Serve ``portal`` from ``app``: its pages, its misbehaviour, its ``/_admin`` (the store's
    submissions and rejection rules only with ``store_admin``: a portal over another store has not)."""
    app.state.portal = portal
    # what tests and benches read: the same objects the routes use
    app.state.spec = portal.spec
    app.state.behaviour = portal.behaviour
    app.state.db_path = portal.db_path
    app.state.sessions = portal.sessions
    app.state.rejection_rules = portal.rejection_rules
    app.state.counters = portal.counters
    app.middleware("http")(misbehave)
    app.add_exception_handler(LoginRequired, to_login)
    for router in (login.router, wizard.router, cases.router, mine.router, admin.ops_router):
        app.include_router(router)
    if store_admin:
        app.include_router(admin.router)

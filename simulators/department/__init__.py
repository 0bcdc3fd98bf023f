"""One simulated department system serving both channels over one store: its legacy portal (the pages
under ``/``, driven by robots) and its JSON API (``/api/v1/submissions``), on one port.

A department keeps the store of the channel it always had (amr, psb_seal, hrss, hpf: the portal's;
tax, nhsa, bank: the API's); the other channel files into that same store, judged by the same rules,
with the result the same issuer gives. One filing per application whichever channel files it: a live
filing of the application, filed either way, is the same filing (by application id / 外部业务编号).
``/_admin`` is the department's: the native channel's admin, plus the portal's behaviour switches;
``maintenance``, ``error_rate`` (``error_seed``) and ``slow_s`` are the whole department's (a department
down is down on both channels), the portal's other switches (captcha, sessions, version) its portal's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from simulators.department.api_backed import ApiBackedPortal
from simulators.department.bodies import BODIES
from simulators.department.portal_backed import PortalBackedApi
from simulators.department.specs import API_PORTAL_SPECS
from simulators.department_api import DEPARTMENTS as API_DEPARTMENTS
from simulators.department_api import create_department_api_app
from simulators.department_api.app import mount_api
from simulators.department_api.state import Department
from simulators.portal import PORTAL_CODES, Behaviour, create_portal_app
from simulators.portal.app import build_behaviour, mount_portal
from simulators.portal.state import Portal

DEPARTMENT_CODES = (*PORTAL_CODES, *API_DEPARTMENTS)

__all__ = ["API_PORTAL_SPECS", "DEPARTMENT_CODES", "create_department_app"]


def create_department_app(
    code: str,
    *,
    db_path: str | Path,
    username: str,
    password: str,
    token: str | None = None,
    callback_secret: str | None = None,
    process_delay_s: float = 0.0,
    step_delay_s: float | None = None,
    reject_application_ids: Mapping[str, str] | None = None,
    behaviour: Behaviour | None = None,
    **knobs: Any,
) -> FastAPI:
    """Department ``code``'s portal and API on one app. ``token`` (default: ``password``, the account's
    secret) is the API's bearer token; the portal's behaviour (``captcha=...``) is set as for
    :func:`simulators.portal.create_portal_app` and never touches ``/api/``."""
    token = token or password
    if code in PORTAL_CODES:
        app = create_portal_app(
            code,
            db_path=db_path,
            username=username,
            password=password,
            process_delay_s=process_delay_s,
            step_delay_s=step_delay_s,
            reject_application_ids=reject_application_ids,
            behaviour=behaviour,
            **knobs,
        )
        portal: Portal = app.state.portal
        department = Department(
            code=code,
            token=token,
            callback_secret=callback_secret or f"{code}-callback-dev-secret",
            db_path=portal.db_path,
            body_model=BODIES[code][0],
            process_delay_s=process_delay_s,
            rejection_rules=portal.rejection_rules,
            behaviour=portal.behaviour,  # one department: its API is down when its portal is
            rng=portal.rng,
        )
        department.filings = PortalBackedApi(portal)
        mount_api(app, department)
        return app
    if code not in API_DEPARTMENTS:
        raise ValueError(f"no simulated department {code!r}; known: {', '.join(DEPARTMENT_CODES)}")
    switches = build_behaviour(behaviour, process_delay_s, step_delay_s, knobs)
    app = create_department_api_app(
        code,
        db_path=db_path,
        token=token,
        callback_secret=callback_secret,
        process_delay_s=process_delay_s,
        reject_application_ids=reject_application_ids,
        behaviour=switches,  # the portal's: its /_admin/behaviour switches the whole department
    )
    department = app.state.department_api
    portal = Portal(
        spec=API_PORTAL_SPECS[code],
        behaviour=switches,
        db_path=department.db_path,
        username=username,
        password=password,
        rejection_rules=department.rejection_rules,
        filings=ApiBackedPortal(department),
    )
    department.rng = portal.rng
    mount_portal(app, portal, store_admin=False)
    return app

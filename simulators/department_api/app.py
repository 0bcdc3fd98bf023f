"""``create_department_api_app``: one department's REST API (tax, nhsa or bank)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from fastapi import FastAPI

from simulators.department_api import admin, materials, routes, store
from simulators.department_api.behaviour import ApiBehaviour, Switches, misbehave
from simulators.department_api.callbacks import cancel_pending
from simulators.department_api.models import BODY_MODELS
from simulators.department_api.state import DEFAULT_REJECTION_REASON, Department, Unauthorized, unauthorized

DEPARTMENTS = ("tax", "nhsa", "bank")


def create_department_api_app(
    code: str,
    *,
    db_path: str | Path,
    token: str,
    callback_secret: str | None = None,
    process_delay_s: float = 0.0,
    reject_application_ids: Mapping[str, str] | None = None,
    behaviour: ApiBehaviour | Switches | None = None,
) -> FastAPI:
    """A FastAPI app simulating the REST API of department ``code`` (tax, nhsa or bank).

    ``reject_application_ids`` (application id -> reason): rejection rules in force from the
    start, as if posted to ``/_admin/rejections``. ``callback_secret`` signs the callbacks
    (default ``<code>-callback-dev-secret``, kaiban's development default). ``behaviour``: how
    ``/api/`` misbehaves (default: none), switched by ``PUT /_admin/behaviour``; switches of another
    kind (a portal's, with the same names) are the caller's to switch, and the app then serves no
    ``/_admin/behaviour`` of its own.
    """
    if code not in BODY_MODELS:
        raise ValueError(f"no API simulator for department {code!r}; known: {', '.join(DEPARTMENTS)}")
    if not token:
        raise ValueError("token must not be empty")
    department = Department(
        code=code,
        token=token,
        callback_secret=callback_secret or f"{code}-callback-dev-secret",
        db_path=Path(db_path),
        body_model=BODY_MODELS[code],
        process_delay_s=process_delay_s,
        behaviour=behaviour or ApiBehaviour(),
    )
    store.init_db(department.db_path)
    for application_id, reason in (reject_application_ids or {}).items():
        department.rejection_rules[str(application_id)] = str(reason) or DEFAULT_REJECTION_REASON
        store.decide_rejection(department.db_path, code, str(application_id), str(reason) or DEFAULT_REJECTION_REASON)

    app = FastAPI(title=f"{code} department API (simulator)")
    mount_api(app, department)
    # what tests and benches read: the same objects the routes use
    app.state.db_path = department.db_path
    app.state.rejection_rules = department.rejection_rules
    app.include_router(admin.router)
    if isinstance(department.behaviour, ApiBehaviour):
        app.include_router(admin.behaviour_router)
    return app


def mount_api(app: FastAPI, department: Department) -> None:
    """Serve ``department``'s ``/api/v1`` from ``app`` (bearer token, signed callbacks dropped on shutdown)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await cancel_pending(department)

    materials.init_db(department.db_path)  # the files submissions carry, beside whichever store files them
    app.router.lifespan_context = lifespan
    app.state.department_api = department
    app.state.department = department.code
    app.add_exception_handler(Unauthorized, unauthorized)
    app.middleware("http")(misbehave)
    app.include_router(routes.router)

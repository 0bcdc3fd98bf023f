"""Pages for people: server-rendered (Jinja2, ``api/templates/``), a little JavaScript and CSS from
``api/static/`` (no build, no CDN), behind a session cookie (``api.pages.session``).

The pages call the same functions as the API's routes, with the same identities and rules: a page is
another way to read and act, never a second implementation.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages import actions, application, board, form, login, materials, notice, sso
from api.pages.render import STATIC_DIR
from api.pages.session import Sessions
from runtime.settings import Settings


def install_pages(app: FastAPI, settings: Settings) -> None:
    """The page routers, the static assets and the session signer; production refuses development defaults."""
    if settings.environment == "production":
        problems = settings.people_problems()
        if problems:
            raise RuntimeError("refusing to start in production: " + "; ".join(problems))
    app.state.page_sessions = Sessions(settings)
    app.state.page_sso = sso.SingleSignOn(settings) if sso.sso_configured(settings) else None
    for module in (login, sso, materials, form, notice, actions, application, board):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

"""Robots reading the portals' image captchas (issue 14) in real Chromium, with ddddocr's real model."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from structlog.testing import capture_logs

from activities.departments import _to_application_error
from bots import captcha as bot_captcha
from bots.errors import CaptchaUnsolved
from bots.flows import PortalAccess, dispatch
from simulators.portal import captchas as sim_captchas
from simulators.portal import create_portal_app
from tests.bots.conftest import PASSWORD, USERNAME, Portal
from tests.support.servers import serve_app


@contextlib.asynccontextmanager
async def captcha_portal(tmp_path: Path, kind: str, *, refuse_first: int = 0):
    """amr's portal showing ``kind`` captchas; the first ``refuse_first`` login posts are refused whatever
    they answer (the department's captcha check made to fail, as a misread would). Yields (portal, app)."""
    db = tmp_path / "amr.sqlite3"
    app = create_portal_app("amr", db_path=db, username=USERNAME, password=PASSWORD, process_delay_s=3600, captcha=kind)
    state = app.state.portal
    refused = 0

    async def refusing(scope, receive, send):
        nonlocal refused
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/login"
            and refused < refuse_first
        ):
            refused += 1
            for captcha_id in state.captchas:
                state.captchas[captcha_id] = "!"  # no answer matches
        await app(scope, receive, send)

    async with serve_app(refusing) as url:
        yield Portal("amr", url, db), app


def login_posts(page) -> list[dict[str, str]]:
    """Every login form the page posts from now on (``captcha_id``, ``captcha``, ...), in order."""
    posts: list[dict[str, str]] = []

    def seen(request) -> None:
        if request.method == "POST" and request.url.endswith("/login"):
            posts.append({k: v[0] for k, v in parse_qs(request.post_data or "").items()})

    page.on("request", seen)
    return posts


@pytest.mark.parametrize("kind", ["image", "image_hard"])
async def test_the_robot_reads_the_picture_and_files_once(kind, tmp_path, page, make_request):
    async with captcha_portal(tmp_path, kind) as (portal, app):
        request = make_request("amr")
        posts = login_posts(page)
        before = dict(bot_captcha.COUNTERS)
        with capture_logs() as logs:
            receipt = await dispatch(page, portal.access, request)
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]
        assert app.state.portal.counters["logins"] == 1
        solved = [e for e in logs if e["event"] == "robot.captcha_solved"]
        assert len(solved) == 1 and solved[0]["captcha_attempts"] == len(posts) >= 1
        assert solved[0]["ocr_ms"] > 0
        reads = [e for e in logs if e["event"] == "robot.captcha_read"]
        assert len(reads) == len(posts) and all(e["ocr_ms"] > 0 for e in reads)
        assert bot_captcha.COUNTERS["solved"] == before["solved"] + 1
        assert bot_captcha.COUNTERS["answers"] == before["answers"] + len(posts)


async def test_a_refused_answer_is_followed_by_a_new_picture_and_the_login_goes_on(tmp_path, page, make_request):
    async with captcha_portal(tmp_path, "image", refuse_first=2) as (portal, _):
        request = make_request("amr")
        posts = login_posts(page)
        receipt = await dispatch(page, portal.access, request)
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]
        assert len(posts) == 3  # two refused, the third right
        assert len({p["captcha_id"] for p in posts}) == 3  # a new picture each time
        assert len({p["captcha"] for p in posts}) == 3


async def test_the_same_refused_answer_is_never_sent_again(tmp_path, page, make_request, monkeypatch):
    """Every picture shows the same text and every answer is refused: the robot sends its next-best
    reading each time, never one refused before, then gives up with an error Temporal retries."""
    monkeypatch.setattr(sim_captchas, "_text", lambda rng: "K7QPA")
    async with captcha_portal(tmp_path, "image", refuse_first=100) as (portal, _):
        request = make_request("amr")
        posts = login_posts(page)
        access = PortalAccess(portal.url, USERNAME, PASSWORD, captcha_attempts=4)
        with capture_logs() as logs, pytest.raises(CaptchaUnsolved) as caught:
            await dispatch(page, access, request)
        answers = [p["captcha"] for p in posts]
        assert answers[0] == "K7QPA"  # it reads the picture right; the portal refuses it anyway
        assert len(answers) <= 4 and len(set(answers)) == len(answers)
        assert len({p["captcha_id"] for p in posts}) == len(posts)
        assert caught.value.attempts == 4 and caught.value.retryable
        assert portal.stored(request.application_id) == []
        assert any(e["event"] == "robot.failed" and e["error"] == "CaptchaUnsolved" for e in logs)
        # at the activity boundary: retried later (an outage-like failure), never handed to a person
        failure = _to_application_error(caught.value, attempt=50, max_attempts=8)
        assert failure.type == "CaptchaUnsolved" and not failure.non_retryable

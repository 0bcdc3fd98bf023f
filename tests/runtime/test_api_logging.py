"""The API logs into the one stream: its own structlog lines, stdlib loggers and uvicorn's access and error logs,
with ID numbers and mobiles masked (real stdout, captured by capsys, not structlog's capture_logs)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator

import httpx
import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from runtime.access import DEV_CLERKS
from runtime.settings import Settings
from tests.support.servers import free_port

ID_NUMBER = "140121198704150213"
MOBILE = "13835100421"
CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}  # the clerk of the sample's window
_PERSONAL = re.compile(r"^(\d{17}[\dX]|1[3-9]\d{9})$")


def personal_values(data: object) -> Iterator[str]:
    """Every ID number and mobile in a JSON document."""
    if isinstance(data, dict):
        for value in data.values():
            yield from personal_values(value)
    elif isinstance(data, list):
        for value in data:
            yield from personal_values(value)
    elif isinstance(data, str) and _PERSONAL.match(data):
        yield data


def masked(value: str) -> str:
    return f"{value[:6]}********{value[-4:]}" if len(value) == 18 else f"{value[:3]}****{value[-4:]}"


def bad_intake(sample_json: dict) -> dict:
    """The sample with one bad field (a founder's ID number with a wrong check digit): a 422."""
    number = sample_json["shareholders"][0]["id_number"]
    sample_json["shareholders"][0]["id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    return sample_json


def with_echo(app: FastAPI) -> FastAPI:
    """A route that logs personal data on purpose, through structlog and stdlib, then fails with it."""

    @app.get("/_test/echo")
    async def echo(id_number: str, mobile: str) -> dict:
        structlog.get_logger("api.test").info("echo", id_number=id_number, founder={"mobiles": [mobile]})
        logging.getLogger("api.test.stdlib").warning("echo %s %s", id_number, mobile)
        raise RuntimeError(f"boom for {id_number} / {mobile}")

    return app


def assert_clean(output: str, secrets: set[str]) -> None:
    leaked = sorted(s for s in secrets if s in output)
    assert not leaked, f"unmasked in the log: {leaked}\n{output}"


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_api_logs_through_the_masking_stream(tmp_path, capsys, sample_json):
    body = bad_intake(sample_json)
    secrets = {ID_NUMBER, MOBILE, *personal_values(body)}
    app = with_echo(create_app(Settings(data_dir=tmp_path, log_format="json"), client=object()))
    with TestClient(app, raise_server_exceptions=False) as http:
        r = http.post(f"/api/v1/applications?id_number={ID_NUMBER}&mobile={MOBILE}", json=body, headers=CLERK)
        assert r.status_code == 422, r.text
        assert http.get("/_test/echo", params={"id_number": ID_NUMBER, "mobile": MOBILE}).status_code == 500
    captured = capsys.readouterr()
    assert_clean(captured.out + captured.err, secrets)
    lines = json_lines(captured.out)
    assert any(e["logger"] == "api.errors" and e.get("path") == "/api/v1/applications" for e in lines), lines  # the 422
    events = {e["event"]: e for e in lines}
    assert events["echo"]["id_number"] == "140121********0213"
    assert events["echo"]["founder"] == {"mobiles": ["138****0421"]}
    assert events["echo 140121********0213 138****0421"]["logger"] == "api.test.stdlib"


async def test_uvicorn_factory_access_and_error_logs_are_masked(tmp_path, capsys, sample_json):
    """As ``uvicorn --factory api.app:create_app`` runs it: uvicorn configures its logging, then builds the app."""
    body = bad_intake(sample_json)
    secrets = {ID_NUMBER, MOBILE, *personal_values(body)}
    settings = Settings(data_dir=tmp_path, log_format="json")
    port = free_port()
    config = uvicorn.Config(
        lambda: with_echo(create_app(settings, client=object())), factory=True, port=port, log_level="info"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=CLERK) as http:
            url = f"/api/v1/applications?id_number={ID_NUMBER}&mobile=%2B86{MOBILE}&q=%31%34%30{ID_NUMBER[3:]}"
            assert (await http.post(url, json=body)).status_code == 422
            r = await http.get("/_test/echo", params={"id_number": ID_NUMBER, "mobile": MOBILE})
            assert r.status_code == 500
    finally:
        server.should_exit = True
        await task
    captured = capsys.readouterr()
    assert_clean(captured.out + captured.err, secrets)
    events = json_lines(captured.out)
    by_logger = {e["logger"] for e in events}
    assert {"uvicorn.error", "uvicorn.access", "api.errors", "api.test"} <= by_logger, by_logger
    access = [e["event"] for e in events if e["logger"] == "uvicorn.access"]
    # percent-encoded digits are decoded to be masked: the whole line is then shown decoded
    assert any(
        f"?id_number={masked(ID_NUMBER)}&mobile=+86{masked(MOBILE)}&q={masked(ID_NUMBER)}" in line for line in access
    ), access
    assert any(f"id_number={masked(ID_NUMBER)}&mobile={masked(MOBILE)}" in line for line in access), access
    failure = next(e for e in events if "exception" in e and e["logger"] == "uvicorn.error")
    assert f"boom for {masked(ID_NUMBER)} / {masked(MOBILE)}" in failure["exception"]

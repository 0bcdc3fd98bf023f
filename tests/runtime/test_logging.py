"""The one log stream: what configure_logging renders (real output, not capture_logs) masks ID numbers and
mobiles everywhere they can hide: nested values, stdlib arguments, tracebacks, uvicorn's access lines."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
import structlog
import uvicorn.config
from pydantic import BaseModel

from runtime.logging import configure_logging, mask_text

ID_NUMBER = "140121198704150213"
ID_MASKED = "140121********0213"
MOBILE = "13835100421"
MOBILE_MASKED = "138****0421"


def assert_masked(output: str, *, expect_masked: bool = True) -> None:
    assert ID_NUMBER not in output and MOBILE not in output, output
    if expect_masked:
        assert ID_MASKED in output and MOBILE_MASKED in output, output


@pytest.fixture
def stream():
    """configure_logging to a StringIO, JSON; the root logger's handlers put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:]
    buf = io.StringIO()
    configure_logging("json", "INFO", stream=buf)
    yield buf
    root.handlers[:] = saved


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (ID_NUMBER, ID_MASKED),
        ("14012119870415021X", "140121********021X"),
        (MOBILE, MOBILE_MASKED),
        (f"身份证{ID_NUMBER}，手机{MOBILE}。", f"身份证{ID_MASKED}，手机{MOBILE_MASKED}。"),
        (f"+86{MOBILE}", f"+86{MOBILE_MASKED}"),
        (f"/api?id_number={ID_NUMBER}&mobile={MOBILE}", f"/api?id_number={ID_MASKED}&mobile={MOBILE_MASKED}"),
        ("/api?q=%31%34%30%31%32%31198704150213", f"/api?q={ID_MASKED}"),  # percent-encoded
        ("1234567890123", "1234567890123"),  # 13 digits: neither
        ("12345678901", "12345678901"),  # 11 digits, not 1[3-9]
        ("1401211987041502130", "1401211987041502130"),  # 19 digits: not an ID number
    ],
)
def test_mask_text_keeps_six_and_four_of_an_id_and_three_and_four_of_a_mobile(text, masked):
    assert mask_text(text) == masked


class Founder(BaseModel):
    name: str
    id_number: str
    mobile: str


def test_structlog_events_are_masked_in_nested_values_arguments_and_tracebacks(stream):
    log = structlog.get_logger("activities.departments")
    with structlog.contextvars.bound_contextvars(application_id="KB20261201-ABC", mobile=MOBILE):
        log.info("founder", founder={"id_number": ID_NUMBER, "phones": [MOBILE, (int(MOBILE),)]})
    log.info("model", founder=Founder(name="王晓明", id_number=ID_NUMBER, mobile=MOBILE))
    log.info("formatted %s and %s", ID_NUMBER, MOBILE)
    try:
        raise ValueError(f"bad id {ID_NUMBER} for {MOBILE}")
    except ValueError:
        log.exception("failed")
    out = stream.getvalue()
    assert_masked(out)
    events = lines(stream)
    assert events[0]["founder"] == {"id_number": ID_MASKED, "phones": [MOBILE_MASKED, [MOBILE_MASKED]]}
    assert events[0]["mobile"] == MOBILE_MASKED and events[0]["application_id"] == "KB20261201-ABC"
    assert ID_MASKED in events[1]["founder"]
    assert events[2]["event"] == f"formatted {ID_MASKED} and {MOBILE_MASKED}"
    assert "Traceback" in events[3]["exception"] and f"bad id {ID_MASKED}" in events[3]["exception"]


def test_stdlib_records_are_masked_in_their_arguments_and_tracebacks(stream):
    log = logging.getLogger("temporalio.activity")
    log.warning("activity for %s (%r)", ID_NUMBER, {"mobile": MOBILE})
    try:
        raise RuntimeError(f"portal said {ID_NUMBER}")
    except RuntimeError:
        log.exception("Completing activity as failed")
    log.info("stack", stack_info=True, extra={"id_number": ID_NUMBER})
    out = stream.getvalue()
    assert_masked(out)
    events = lines(stream)
    assert events[0]["event"] == f"activity for {ID_MASKED} ({{'mobile': '{MOBILE_MASKED}'}})"
    assert events[0]["logger"] == "temporalio.activity" and events[0]["level"] == "warning"
    assert f"portal said {ID_MASKED}" in events[1]["exception"]


def test_console_rendering_is_masked_too():
    root = logging.getLogger()
    saved = root.handlers[:]
    buf = io.StringIO()
    try:
        configure_logging("console", "INFO", stream=buf)
        structlog.get_logger("x").info("console", id_number=ID_NUMBER, mobile=MOBILE)
        logging.getLogger("y").info("stdlib %s", MOBILE)
    finally:
        root.handlers[:] = saved
    assert_masked(buf.getvalue())
    assert "{" not in buf.getvalue().splitlines()[0]  # console, not JSON


def test_uvicorn_loggers_join_the_stream_with_their_query_strings_masked():
    root = logging.getLogger()
    saved = root.handlers[:]
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # what uvicorn does at start
    buf = io.StringIO()
    try:
        configure_logging("json", "INFO", stream=buf)
        access = logging.getLogger("uvicorn.access")
        path = f"/api/v1/deadlines?id_number={ID_NUMBER}&mobile=%2B86{MOBILE}&q=%31%34%30121198704150213"
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", path, "1.1", 422)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    finally:
        root.handlers[:] = saved
        for name in ("uvicorn", "uvicorn.access"):
            logging.getLogger(name).propagate = True
    events = lines(buf)
    assert_masked(buf.getvalue())
    assert events[0]["logger"] == "uvicorn.access"
    assert f"id_number={ID_MASKED}&mobile=+86{MOBILE_MASKED}&q={ID_MASKED}" in events[0]["event"]
    assert events[1] == {**events[1], "logger": "uvicorn.error", "event": "Started server process [42]"}


def test_an_access_log_silenced_by_uvicorn_stays_silent():
    access = logging.getLogger("uvicorn.access")
    root = logging.getLogger()
    saved = root.handlers[:]
    access.handlers, access.propagate = [], False  # uvicorn --no-access-log
    buf = io.StringIO()
    try:
        configure_logging("json", "INFO", stream=buf)
        access.info("GET /x?m=%s", MOBILE)
    finally:
        root.handlers[:] = saved
        access.propagate = True
    assert buf.getvalue() == ""

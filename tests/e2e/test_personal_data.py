"""Personal data end to end: one application through the whole stack, then neither log holds a founder's full
ID number or mobile, and the raw workflow history (read with the ``temporal`` CLI, which has no codec) holds no
ID number, mobile or name of a founder, in its payloads or its search attributes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Iterator

import httpx
import structlog

from runtime.access import dev_clerk_headers
from runtime.logging import configure_logging
from runtime.temporal import temporal_cli_path
from tests.e2e.conftest import running_stack
from tests.e2e.test_end_to_end import wait_finished

_ID_OR_MOBILE = re.compile(r"^(\d{17}[\dXx]|1[3-9]\d{9})$")
_PEOPLE = ("legal_representative", "supervisor", "financial_officer", "tax_officer", "liaison")


def ids_and_mobiles(data: object) -> Iterator[str]:
    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, list):
        for value in data:
            yield from ids_and_mobiles(value)
    elif isinstance(data, str) and _ID_OR_MOBILE.match(data):
        yield data


def founder_names(application: dict) -> set[str]:
    people = [application[k] for k in _PEOPLE if application.get(k)]
    people += [s for s in application["shareholders"] if s["kind"] == "natural_person"]
    return {p["name"] for p in people}


def strings_in(data: object) -> Iterator[str]:
    """Every string of a JSON document, and what each base64 ``data`` field (a payload) decodes to."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield key
            if key == "data" and isinstance(value, str):
                try:
                    yield base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
                except (binascii.Error, ValueError):
                    pass
            yield from strings_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings_in(value)
    elif isinstance(data, str):
        yield data


async def temporal_cli(*args: str) -> object:
    proc = await asyncio.create_subprocess_exec(
        temporal_cli_path(), *args, "--output", "json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # one JSON document per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def leaked(document: object, secrets: set[str]) -> list[str]:
    seen = "\n".join(strings_in(document))
    return sorted(s for s in secrets if s in seen)


async def test_no_personal_data_in_the_logs_nor_in_the_raw_history(dev_env, tmp_path, sample_json, capsys):
    configure_logging("json", "INFO")  # the worker's configuration (cli.worker.main); the API's is create_app's
    secrets = set(ids_and_mobiles(sample_json))
    names = founder_names(sample_json)
    assert len(secrets) >= 8 and len(names) >= 4, (secrets, names)
    rep = sample_json["legal_representative"]
    # a control: a line that carries personal data on purpose shows the stream captured here masks
    structlog.get_logger("tests.e2e").info("submitting", legal_representative=rep)
    async with running_stack(dev_env, tmp_path) as (api, _departments, _settings):
        headers = dev_clerk_headers(sample_json)  # the clerk of the sample's window
        async with httpx.AsyncClient(base_url=api, timeout=30, headers=headers) as http:
            r = await http.post("/api/v1/applications", json=sample_json)
            assert r.status_code == 202, r.text
            app_id = r.json()["application_id"]
            view = await wait_finished(http, app_id)
    assert view["status"] == "completed", view

    captured = capsys.readouterr()
    logs = captured.out + captured.err
    loggers = {json.loads(line).get("logger") for line in captured.out.splitlines() if line.startswith("{")}
    assert any(n.startswith("api.") for n in loggers) and any(n.startswith("activities.") for n in loggers), loggers
    assert not sorted(s for s in secrets if s in logs), "a full ID number or mobile in the logs"
    assert f"{rep['id_number'][:6]}********{rep['id_number'][-4:]}" in logs

    address = dev_env.client.service_client.config.target_host
    history = await temporal_cli("workflow", "show", "--workflow-id", app_id, "--address", address)
    assert app_id in json.dumps(history)  # the CLI did show this workflow's history
    assert not leaked(history, secrets | names), "personal data in the raw history"
    payloads = list(_payloads(history))
    unencrypted = [p for p in payloads if p["metadata"].get("encoding") != _b64("binary/encrypted-aes256gcm")]
    assert payloads and not unencrypted, unencrypted

    described = await temporal_cli("workflow", "describe", "--workflow-id", app_id, "--address", address)
    attributes = _search_attributes(described)
    assert "KaibanApplicationId" in attributes and "KaibanStatus" in attributes, attributes
    assert not leaked(attributes, secrets | names), "personal data in the search attributes"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _payloads(data: object) -> Iterator[dict]:
    """The payloads of a history kaiban wrote: every object with metadata and data, outside search attributes
    and the markers Temporal's core writes itself for ``workflow.patched`` (the patch id in plain JSON)."""
    if isinstance(data, dict):
        if "metadata" in data and "data" in data:
            yield data
            return
        if data.get("markerName") == "core_patch":
            return
        for key, value in data.items():
            if key != "searchAttributes":
                yield from _payloads(value)
    elif isinstance(data, list):
        for value in data:
            yield from _payloads(value)


def _search_attributes(described: object) -> dict:
    """The indexed search attributes of ``temporal workflow describe`` (wherever the CLI's layout puts them)."""
    stack: list = [described]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = node.get("searchAttributes")
            if isinstance(found, dict):
                return found.get("indexedFields", found)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no search attributes in {described}")

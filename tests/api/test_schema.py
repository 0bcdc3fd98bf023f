"""The OpenAPI schema tells the truth: schemathesis against the live app (in-process, hermetic).

Every operation gets positive and negative cases (schema examples, coverage, fuzzing), bounded and
deterministic; each answer must be no 5xx, a documented status with a documented content type and body,
and a refusal of data the schema calls invalid. The app runs on a fake Temporal client (one known
application of window TY-XD-01, everything else "not found") and a SQLite store in a temporary folder.
Most operations are asked as the clerk of TY-XD-01; those of supervisors as the development supervisor.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from runtime.settings import Settings
from tests.api.test_access import APP_ID
from tests.api.test_bad_input import KnowingTemporal
from tests.support.applications import store_with_application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CLERK = {"Authorization": "Bearer clerk-dev-token"}
SUPERVISOR = {"Authorization": "Bearer supervisor-dev-token"}
#: what supervisors do (every other operation is the window clerk's)
SUPERVISOR_PATHS = ("/api/v1/supervision/", "/api/v1/notifications", "/api/v1/audit", "/deadline-extensions", "/tasks")
MAX_EXAMPLES = 100


def identity_for(path: str) -> dict[str, str]:
    return SUPERVISOR if any(part in path for part in SUPERVISOR_PATHS) else CLERK


#: where the app keeps its store and evidence; created (and seeded) by the ``seeded`` fixture, not at import
DATA = Path(tempfile.gettempdir()) / f"kaiban-schema-test-{os.getpid()}"


def _app():
    settings = Settings(database_url=f"sqlite:///{DATA / 'kaiban.sqlite3'}", evidence_dir=DATA / "evidence")
    with mock.patch("api.app.configure_logging"):  # collection must not configure logging for every test
        return create_app(settings, client=KnowingTemporal())


APP = _app()
# the app's own /openapi.json (FastAPI builds it without running the lifespan); schemathesis starts the
# lifespan on the first call and keeps it for the rest of the process
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP
schema.location = "/openapi.json"
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    with_security_parameters=False,  # the token is sent below, per operation
)


@pytest.fixture(scope="module", autouse=True)
def seeded():
    """The one application the fake Temporal knows, in the store, with a receipt screenshot."""
    DATA.mkdir(exist_ok=True)
    store_with_application(DATA)
    evidence = DATA / "evidence" / "2026-11-30"
    evidence.mkdir(parents=True, exist_ok=True)
    (evidence / f"amr-{APP_ID}-receipt-attempt1.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    yield
    shutil.rmtree(DATA, ignore_errors=True)


def test_the_schema_is_the_one_the_app_serves():
    from fastapi.testclient import TestClient

    served = TestClient(APP).get("/openapi.json").json()  # no lifespan needed (nor started) for the schema
    assert served == json.loads(json.dumps(schema.raw_schema))


def bounded(schema: dict) -> bool:
    """A parameter's schema bounds what it takes: a length, a pattern, a choice, a maximum or a format."""
    if "anyOf" in schema:
        return all(bounded(branch) for branch in schema["anyOf"] if branch.get("type") != "null")
    if schema.get("type") in ("integer", "number"):
        return "maximum" in schema
    return bool({"maxLength", "pattern", "enum", "const", "format"} & set(schema)) or schema.get("type") == "boolean"


def test_every_refusal_is_documented_with_its_model():
    spec = schema.raw_schema
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert "HTTPValidationError" not in json.dumps(spec)  # FastAPI's 422 body is never what the API answers
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            name = f"{method.upper()} {path}"
            documented = {
                int(status): answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                for status, answer in op["responses"].items()
                if int(status) >= 400
            }
            assert set(documented.values()) <= {"Problem", "ValidationProblem"}, name
            assert all(model == ("ValidationProblem" if s == 422 else "Problem") for s, model in documented.items())
            if not path.startswith("/api/v1/"):
                continue
            assert {401, 413, 422} <= set(documented), name
            if method == "post":
                assert {400, 415} <= set(documented), name
            if path.endswith("/callbacks"):  # signed, not bearer: 401 for a bad signature, no identity to refuse
                assert "security" not in op, name
            else:
                assert op["security"] == [{"bearer": []}] and 403 in documented, name
            for parameter in op.get("parameters", []):
                assert bounded(parameter["schema"]), (name, parameter["name"], parameter["schema"])


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case):
    case.call_and_validate(headers=identity_for(case.operation.path), checks=CHECKS)

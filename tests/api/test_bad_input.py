"""Bad input never hurts: every malformed request is a 4xx with a clear body, never a 500.

Each answer is either a refusal (``{"detail", "code"}``) or a validation failure (``{"detail", "errors"}``).
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from runtime.settings import Settings
from tests.api.test_access import APP_ID, FakeHandle, FakeTemporal
from tests.support.applications import store_with_application

CLERK = {"Authorization": "Bearer clerk-dev-token"}
SUPERVISOR = {"Authorization": "Bearer supervisor-dev-token"}
JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


class DescribedHandle(FakeHandle):
    async def describe(self):
        """Temporal knows no workflow but the ones kaiban's store has (those never get here)."""
        raise RPCError(f"workflow {self.id} not found", RPCStatusCode.NOT_FOUND, b"")


class KnowingTemporal(FakeTemporal):
    """``FakeTemporal`` that also answers ``describe``: an application the store does not know is not found."""

    def get_workflow_handle(self, workflow_id: str) -> DescribedHandle:
        return DescribedHandle(self, workflow_id)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_input")
    url = store_with_application(tmp)
    (tmp / "evidence").mkdir()
    (tmp / "secret.png").write_bytes(b"outside")
    fake = KnowingTemporal()
    settings = Settings(database_url=url, evidence_dir=tmp / "evidence")
    with TestClient(create_app(settings, client=fake), raise_server_exceptions=False) as http:
        yield http, fake


def refused(r, status: int, code: str | None = None) -> dict:
    """``r`` is ``status`` with a Problem body (and ``code``, if given)."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body.get("code"), str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def invalid(r, field: str | None = None) -> dict[str, dict]:
    """``r`` is 422 with a ValidationProblem body; the errors by field (``field`` among them, if given)."""
    assert r.status_code == 422, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body["detail"], str) and "需要修改" in body["detail"]
    assert body["errors"] and all(set(e) == {"field", "message", "type"} for e in body["errors"]), body
    by_field = {e["field"]: e for e in body["errors"]}
    if field is not None:
        assert field in by_field, body
    return by_field


# -- the body limit -------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_by_its_content_length(api):
    http, fake = api
    started = len(fake.started)
    r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=b" " * (MIB + 1))
    body = refused(r, 413, "body_too_large")
    assert "请求内容过大" in body["detail"]
    assert len(fake.started) == started


def test_a_chunked_body_over_the_limit_is_413_while_it_streams(api):
    http, _ = api

    def chunks():
        for _ in range(64):  # 4 MiB offered in 64 KiB chunks
            yield b" " * 65536

    r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=chunks())
    refused(r, 413, "body_too_large")
    assert "content-length" not in {k.lower() for k in r.request.headers}


async def test_the_middleware_stops_reading_a_stream_once_it_passes_the_limit():
    """At the ASGI level (the test client would read the whole body first): chunks are read only until
    the count passes the limit; the application never runs; the answer is 413."""
    from api.limits import BodyLimitMiddleware

    read, sent = [], []

    async def receive():
        read.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}  # an endless stream

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # pragma: no cover - must not run
        raise AssertionError("the application saw a body over the limit")

    scope = {"type": "http", "method": "POST", "path": "/api/v1/applications", "headers": []}
    await BodyLimitMiddleware(app, max_body_bytes=4500)(scope, receive, send)
    assert len(read) == 5  # 5000 bytes > 4500: stopped there
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "body_too_large"
    assert scope["state"]["refusal"].startswith("body_too_large")


async def test_the_middleware_hands_a_stream_within_the_limit_on_whole():
    from api.limits import BodyLimitMiddleware

    chunks = [b"ab", b"cd", b""]
    seen = []

    async def receive():
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def app(scope, receive, send):
        seen.append(await receive())

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"transfer-encoding", b"chunked")]}
    await BodyLimitMiddleware(app, max_body_bytes=1024)(scope, receive, lambda m: None)
    assert seen == [{"type": "http.request", "body": b"abcd", "more_body": False}]


def test_a_chunked_body_within_the_limit_reaches_the_route(api, sample_json):
    http, _ = api
    data = json.dumps(sample_json).encode()
    r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=iter([data[:100], data[100:]]))
    assert r.status_code == 202, r.text


def test_the_limit_is_a_setting(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'k.sqlite3'}", max_body_bytes=2048)
    with TestClient(create_app(settings, client=FakeTemporal())) as http:
        r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=b"{" + b" " * 2048 + b"}")
        refused(r, 413, "body_too_large")


def test_a_refused_body_is_in_the_audit_trail(api):
    http, _ = api
    http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=b" " * (MIB + 10))
    items = http.get("/api/v1/audit", headers=SUPERVISOR, params={"outcome": "denied"}).json()["items"]
    assert any(i["status_code"] == 413 and "body_too_large" in (i["reason"] or "") for i in items), items


# -- bodies that are not what the route takes ------------------------------------------------------------


def test_a_body_that_is_not_json_is_422(api):
    http, _ = api
    invalid(http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=b"{not json"), "")


def test_a_body_of_the_wrong_content_type_is_415(api, sample_json):
    http, _ = api
    r = http.post(
        "/api/v1/applications", headers={**CLERK, "Content-Type": "text/plain"}, content=json.dumps(sample_json)
    )
    refused(r, 415, "unsupported_media_type")
    r = http.post("/api/v1/applications", headers=CLERK, content=json.dumps(sample_json))  # no content type
    refused(r, 415, "unsupported_media_type")


def test_a_body_of_invalid_utf8_is_400(api):
    http, _ = api
    r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=b'{"company": "\xff\xfe"}')
    refused(r, 400, "malformed_body")


def test_json_nested_beyond_reason_is_400(api):
    http, _ = api
    r = http.post(
        f"/api/v1/applications/{APP_ID}/departments/hpf/manual-completion",
        headers={**CLERK, **JSON},
        content=b'{"result": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    )
    assert r.status_code in (400, 422), r.text
    assert "detail" in r.json()


def test_a_nul_character_is_refused_where_it_is(api, sample_json):
    http, fake = api
    started = len(fake.started)
    sample_json["company"]["address"]["detail"] = "太原市小店区\u0000长治路"
    errors = invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json), "company.address.detail")
    assert "空字符" in errors["company.address.detail"]["message"]
    assert len(fake.started) == started
    invalid(http.get("/api/v1/audit", headers=SUPERVISOR, params={"actor": "a\x00b"}), "query.actor")


def test_a_lone_surrogate_is_refused(api, sample_json):
    http, _ = api
    text = json.dumps(sample_json, ensure_ascii=False).replace('"detail": "', '"detail": "\\udc80', 1)
    r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=text.encode())
    errors = invalid(r, "company.address.detail")
    assert "编码" in errors["company.address.detail"]["message"]


def test_nan_and_infinity_are_not_json(api):
    http, _ = api
    r = http.post(
        f"/api/v1/applications/{APP_ID}/departments/hpf/manual-completion",
        headers={**CLERK, **JSON},
        content=b'{"result": {"a": NaN, "b": -Infinity}}',
    )
    errors = invalid(r, "")
    assert "NaN" in errors[""]["message"]
    r = http.post(  # in text, the words are just words
        f"/api/v1/applications/{APP_ID}/withdrawal", headers=CLERK, json={"reason": "NaN Infinity 申请人撤回"}
    )
    assert r.status_code == 200, r.text


def test_a_huge_decimal_is_refused_without_spelling_it_out(api, sample_json):
    http, _ = api
    sample_json["housing_fund"] = {"register": True, "contribution_rate": "1e999999999"}
    errors = invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json))
    assert errors["housing_fund.contribution_rate"]["type"] == "decimal_max_digits"


def test_a_huge_integer_is_refused(api, sample_json):
    http, _ = api
    invalid(http.get("/api/v1/audit", headers=SUPERVISOR, params={"before_seq": str(10**30)}), "query.before_seq")
    invalid(http.get("/api/v1/audit", headers=SUPERVISOR, params={"limit": "9" * 50}), "query.limit")
    sample_json["company"]["operating_term_years"] = 10**40
    invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json), "company.operating_term_years")
    # more digits than Python reads from JSON
    raw = json.dumps(sample_json).replace(str(10**40), "9" * 5000)
    r = http.post("/api/v1/applications", headers={**CLERK, **JSON}, content=raw)
    refused(r, 400, "malformed_body")


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("housing_fund", "register"), 0, "housing_fund.register", "应为是或否（true / false）"),
        (("medical_insurance", "register"), "true", "medical_insurance.register", "应为是或否（true / false）"),
        (("company", "employees_expected"), "11", "company.employees_expected", "应为整数"),
        (("company", "name"), None, "company.name", None),
    ],
)
def test_json_of_the_wrong_type_is_not_coerced(api, sample_json, path, value, field, message):
    """pydantic alone would read 0 as false and "11" as 11: the API takes the JSON types its schema says."""
    http, fake = api
    started = len(fake.started)
    sample_json[path[0]][path[1]] = value
    errors = invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json), field)
    if message:
        assert errors[field]["message"] == message
    assert len(fake.started) == started


def test_an_instant_as_a_number_is_refused(api):
    http, _ = api
    body = {"new_due_at": 1893456000, "reason": "材料需补充核验"}
    r = http.post(f"/api/v1/applications/{APP_ID}/deadline-extensions", headers=SUPERVISOR, json=body)
    invalid(r, "new_due_at")
    invalid(http.get("/api/v1/deadlines", headers=CLERK, params={"submitted_at": "1893456000"}), "query.submitted_at")


# -- length limits, with Chinese field-level messages ----------------------------------------------------


def test_a_name_too_long_is_explained_in_chinese(api, sample_json):
    http, _ = api
    sample_json["legal_representative"]["name"] = "张" * 51
    errors = invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json), "legal_representative.name")
    assert errors["legal_representative.name"] == {
        "field": "legal_representative.name",
        "message": "最多 50 个字符",
        "type": "string_too_long",
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("company", "address", "detail"), "路" * 201, "company.address.detail"),
        (("company", "business_scope"), ["软件开发"] * 51, "company.business_scope"),
        (("company", "business_scope"), ["软" * 201], "company.business_scope.0"),
        (("bank_account", "branch_name"), "支" * 101, "bank_account.branch_name"),
        (("supervisor", "id_number"), "1" * 33, "supervisor.id_number"),
        (("social_insurance", "enroll_employees"), [{"name": "甲", "id_number": "x"}] * 501, None),
    ],
)
def test_every_free_text_and_list_is_bounded(api, sample_json, path, value, field):
    http, _ = api
    target = sample_json
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    errors = invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json), field)
    if field is None:
        field = ".".join(path)
        assert errors[field]["type"] == "too_long" and "最多可填写 500 项" in errors[field]["message"]
    else:
        assert errors[field]["message"].startswith("最多"), errors[field]


def test_too_many_shareholders_is_refused(api, sample_json):
    http, _ = api
    sample_json["shareholders"] = sample_json["shareholders"] * 51
    errors = invalid(http.post("/api/v1/applications", headers=CLERK, json=sample_json), "shareholders")
    assert errors["shareholders"]["type"] == "too_long"


def test_a_too_long_header_and_request_field_are_422(api):
    http, _ = api
    invalid(
        http.post("/api/v1/applications", headers={**CLERK, "Idempotency-Key": "k" * 129}, json={}),
        "header.idempotency-key",
    )
    r = http.post(f"/api/v1/applications/{APP_ID}/withdrawal", headers=CLERK, json={"reason": "理" * 501})
    invalid(r, "reason")


# -- parameters -------------------------------------------------------------------------------------------


def test_a_naive_datetime_is_422_in_query_and_body(api):
    http, _ = api
    r = http.get("/api/v1/deadlines", headers=CLERK, params={"submitted_at": "2026-09-30T14:00:00"})
    errors = invalid(r, "query.submitted_at")
    assert "时区" in errors["query.submitted_at"]["message"] and "时区" in r.json()["detail"]
    r = http.post(
        f"/api/v1/applications/{APP_ID}/deadline-extensions",
        headers=SUPERVISOR,
        json={"new_due_at": "2026-12-31T17:00:00", "reason": "材料需补充核验"},
    )
    assert "时区" in invalid(r, "new_due_at")["new_due_at"]["message"]


@pytest.mark.parametrize(
    "instant", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "1900-01-01T00:00:00+08:00"]
)
def test_an_instant_out_of_range_is_422(api, instant):
    http, _ = api
    for params in (
        {"submitted_at": instant},
        {"submitted_at": "2026-09-30T14:00:00+08:00", "department": "tax", "dispatched_at": instant},
    ):
        errors = invalid(http.get("/api/v1/deadlines", headers=CLERK, params=params))
        assert any("2000 年至 2099 年" in e["message"] for e in errors.values()), errors
    body = {"new_due_at": instant, "reason": "材料需补充核验"}
    r = http.post(f"/api/v1/applications/{APP_ID}/deadline-extensions", headers=SUPERVISOR, json=body)
    invalid(r, "new_due_at")


def test_a_date_that_is_not_one_is_422(api):
    http, _ = api
    invalid(http.get("/api/v1/deadlines", headers=CLERK, params={"submitted_at": "yesterday"}), "query.submitted_at")


def test_an_unknown_department_code_is_404_and_a_malformed_one_422(api):
    http, _ = api
    params = {"submitted_at": "2026-09-30T14:00:00+08:00", "department": "nosuch"}
    refused(http.get("/api/v1/deadlines", headers=CLERK, params=params), 404, "unknown_department")
    refused(http.get("/api/v1/departments/nosuch/tasks", headers=SUPERVISOR), 404, "unknown_department")
    invalid(http.get("/api/v1/departments/TAX%20x/tasks", headers=SUPERVISOR), "path.code")
    r = http.post(
        f"/api/v1/applications/{APP_ID}/departments/{'x' * 40}/manual-completion", headers=CLERK, json={"result": {}}
    )
    invalid(r, "path.code")


def test_a_malformed_application_id_is_422_and_an_unknown_one_404(api):
    http, _ = api
    invalid(http.get(f"/api/v1/applications/{'A' * 65}", headers=CLERK), "path.application_id")
    invalid(http.get("/api/v1/applications/KB%2A1", headers=CLERK), "path.application_id")
    refused(http.get("/api/v1/applications/KB20260101-NOSUCH0000", headers=CLERK), 404)


@pytest.mark.parametrize(
    "path",
    [
        "..%2Fsecret.png",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "a%2F..%2F..%2Fsecret.png",
        "x" * 290 + ".png",
        "%2Fetc%2Fhosts",
    ],
)
def test_evidence_outside_its_folder_is_404(api, path):
    http, _ = api
    refused(http.get(f"/api/v1/evidence/{path}", headers=SUPERVISOR), 404, "evidence_not_found")


def test_evidence_with_a_nul_or_an_endless_name_is_422(api):
    http, _ = api
    invalid(http.get("/api/v1/evidence/a%00b.png", headers=SUPERVISOR), "path.path")
    invalid(http.get(f"/api/v1/evidence/{'x' * 400}.png", headers=SUPERVISOR), "path.path")


# -- the framework's own refusals ---------------------------------------------------------------------------


def test_unknown_paths_and_methods_are_problems_too(api):
    http, _ = api
    refused(http.get("/api/v1/nothing-here", headers=CLERK), 404, "not_found")
    r = http.delete("/api/v1/deadlines", headers=CLERK)
    refused(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


def test_identity_comes_before_validating_the_body(api):
    http, _ = api
    r = http.post("/api/v1/applications", json={})
    refused(r, 401, "unauthenticated")
    r = http.post("/api/v1/applications", headers={"Authorization": "Bearer supervisor-dev-token"}, json={})
    refused(r, 403, "forbidden")

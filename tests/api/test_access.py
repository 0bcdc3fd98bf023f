"""Who may do what: every endpoint × every identity, as the README's role table says (read from it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.status import ApplicationStatus
from runtime.settings import Settings
from store.db import Database
from store.mappings import MappingStore, mapping_id_of
from store.materials import MaterialStore, material_id_of
from tests.support.applications import APP_ID, store_with_application
from tests.support.described import described
from workflows.models import ApplicationView, DeadlineChange

ROOT = Path(__file__).resolve().parents[2]
MATERIAL_ID = material_id_of("TY-XD-01", "a" * 64, "id_card")
MAPPING_ID = mapping_id_of("hpf", "f" * 16)

TOKENS = {
    "no identity": None,
    "clerk TY-XD-01": "clerk-dev-token",
    "clerk TY-XD-02": "clerk-b-dev-token",
    "supervisor": "supervisor-dev-token",
    "department tax": "dept-tax-dev-token",
    "department amr": "dept-amr-dev-token",
    "admin": "admin-dev-token",
}
# what kaiban itself answers past access control: a route that ran says so with one of these
REFUSAL_CODES = {
    "unauthenticated",
    "invalid_token",
    "forbidden",
    "application_not_found",
    "evidence_not_found",
    "material_not_found",
}


def role_table() -> tuple[list[str], list[tuple[str, list[str]]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- role-matrix -->")[1].split("<!-- /role-matrix -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.strip().splitlines()]
    header, body = rows[0], [r for r in rows[2:]]
    return header[1:], [(r[0].strip("`").split(" (")[0].strip("`"), r[1:]) for r in body]


COLUMNS, ROWS = role_table()


class FakeHandle:
    def __init__(self, client: FakeTemporal, workflow_id: str) -> None:
        self.client, self.id = client, workflow_id

    async def describe(self):
        return described()

    async def query(self, _query):
        return self.client.view(self.id)

    async def execute_update(self, update, arg):
        self.client.updates.append((update.__name__, arg))
        if update.__name__ == "extend_deadline":
            now = datetime.now(UTC)
            return DeadlineChange(
                old_due_at=now,
                new_due_at=now + timedelta(hours=1),
                reason=arg.reason,
                requested_by=arg.requested_by,
                changed_at=now,
            )
        return self.client.view(self.id)


class FakeTemporal:
    """Answers like a Temporal client with one running application (what the routes need, nothing more)."""

    def __init__(self) -> None:
        self.started: list = []
        self.updates: list = []

    def view(self, workflow_id: str) -> ApplicationView:
        return ApplicationView(
            application_id=workflow_id,
            status=ApplicationStatus.PROCESSING,
            company_name="太原示例科技有限公司",
            window_id="TY-XD-01",
            submitted_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
            departments=[],
        )

    async def start_workflow(self, _run, inp, **kwargs):
        self.started.append(inp)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    def list_workflows(self, *_args, **_kwargs):
        async def nothing():
            for _ in ():
                yield None

        return nothing()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    url = store_with_application(tmp)
    evidence = tmp / "evidence" / "2026-11-30"
    evidence.mkdir(parents=True)
    (evidence / f"amr-{APP_ID}-receipt-attempt1.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    material_of_the_window(url)
    proposal_for_hpf(url)
    settings = Settings(database_url=url, evidence_dir=tmp / "evidence", objects_url=str(tmp / "objects"))
    fake = FakeTemporal()
    with TestClient(create_app(settings, client=fake)) as http:
        yield http, fake


def material_of_the_window(url: str) -> None:
    """A material of window TY-XD-01 (``MATERIAL_ID``) with one pre-review finding in application APP_ID."""
    db = Database(url)
    try:
        materials = MaterialStore(db)
        record, _ = materials.record(sha256="a" * 64, kind="id_card", content_type="image/png", size_bytes=8,
                                     filename="身份证.png", window_id="TY-XD-01", uploaded_by="clerk-0007",
                                     uploaded_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC))  # fmt: skip
        assert record.material_id == MATERIAL_ID
        finding = {"material_id": MATERIAL_ID, "material_sha256": "a" * 64, "kind": "id_card",
                   "concerns": "legal_representative", "field": "legal_representative.name", "read_field": "name",
                   "form_value": "王晓明", "read_value": "王晓朋", "confidence": 0.9, "message": "姓名与申请表不一致"}  # fmt: skip
        materials.record_findings(APP_ID, [finding], datetime(2026, 11, 30, 2, 1, tzinfo=UTC))
    finally:
        db.close()


def proposal_for_hpf(url: str) -> None:
    """A robot's proposal for a changed hpf portal (``MAPPING_ID``), undecided."""
    db = Database(url)
    try:
        proposal = {"threshold": 85.0, "titles": ["单位信息"], "low_confidence": [], "unfilled_required": [],
                    "fields": [{"flow_step": "unit", "flow_label": "单位名称", "step": 0, "label": "单位全称",
                                "score": 90.0}]}  # fmt: skip
        record, _ = MappingStore(db).propose(department="hpf", fingerprint="f" * 16, proposal=proposal)
        assert record.mapping_id == MAPPING_ID
    finally:
        db.close()


def request_for(endpoint: str, sample: dict) -> tuple[str, str, dict]:
    method, path = endpoint.split(" ", 1)
    path = path.replace("{id}", APP_ID).replace("{code}", "hpf").replace("{material_id}", MATERIAL_ID)
    path = path.replace("{mapping_id}", MAPPING_ID)
    path = path.replace("{path}", f"2026-11-30/amr-{APP_ID}-receipt-attempt1.png")
    # a year chinese-calendar carries to read, a year it does not to load
    path = path.replace("{year}", "2027" if method == "PUT" else "2026")
    kwargs: dict = {}
    if path.endswith("/materials"):
        kwargs["files"] = {"file": ("说明.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32)}
        kwargs["data"] = {"kind": "other"}
    elif path.endswith("/review"):
        kwargs["json"] = {
            "application_id": APP_ID,
            "decisions": [{"field": "legal_representative.name", "decision": "form_correct"}],
        }
    elif "/admin/calendar/" in path and method == "PUT":
        kwargs["json"] = {"holidays": ["2027-01-01"], "workdays": [], "source": "test arrangement"}
    elif path.endswith("/applications") or path.endswith("/corrections"):
        kwargs["json"] = sample
    elif path.endswith("/manual-completion"):
        kwargs["json"] = {"result": {"hpf_unit_account": "HPF-2026-0001"}}
    elif path.endswith("/approval"):
        kwargs["json"] = {"approve": False, "note": "字段不符"}  # rejected: nothing to resume
    elif path.endswith("/retry"):
        kwargs["json"] = {"note": "部门系统已恢复"}
    elif path.endswith("/withdrawal"):
        kwargs["json"] = {"reason": "申请人撤回"}
    elif path.endswith("/deadline-extensions"):
        kwargs["json"] = {"new_due_at": "2026-12-31T17:00:00+08:00", "reason": "材料需补充核验"}
    elif path.endswith("/callbacks"):
        kwargs["json"] = {"ticket": "T1", "application_id": APP_ID, "status": "completed", "result": {}}
    elif path.endswith("/deadlines"):
        kwargs["params"] = {"submitted_at": "2026-11-30T10:00:00+08:00"}
    elif path.endswith("/notifications"):
        kwargs["params"] = {"audience": "window_supervisor"}
    return method, path, kwargs


CASES = [
    (endpoint, column, expected) for endpoint, cells in ROWS for column, expected in zip(COLUMNS, cells, strict=True)
]


def test_the_table_covers_every_endpoint_and_identity(api):
    http, _ = api
    documented = {e for e, _ in ROWS}
    spec_paths = http.get("/openapi.json").json()["paths"]
    served = {
        f"{method.upper()} {re.sub(r'{application_id}', '{id}', path)}"
        for path, ops in spec_paths.items()
        for method in ops
    }
    served = {s.replace("{code}/tasks", "tax/tasks").replace("{code}/callbacks", "tax/callbacks") for s in served}
    assert served <= documented | {"GET /healthz"}, served - documented
    assert COLUMNS == list(TOKENS)


@pytest.mark.parametrize(("endpoint", "column", "expected"), CASES, ids=[f"{e} | {c}" for e, c, _ in CASES])
def test_role_matrix(api, sample_json, endpoint, column, expected):
    http, _ = api
    method, path, kwargs = request_for(endpoint, sample_json)
    token = TOKENS[column]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = http.request(method, path, headers=headers, **kwargs)
    code = r.json().get("code") if r.headers.get("content-type", "").startswith("application/json") else None
    if expected == "✓":
        assert r.status_code < 400, (r.status_code, r.text)
    else:
        assert r.status_code == int(expected), (r.status_code, r.text)
        assert "detail" in r.json() and r.json().get("code"), r.text
        if expected == "401":
            assert r.headers["www-authenticate"].startswith("Bearer")
        if expected == "404":
            assert code in REFUSAL_CODES, r.text


def test_the_actor_is_the_identity_not_the_body(api):
    http, fake = api
    r = http.post(
        f"/api/v1/applications/{APP_ID}/deadline-extensions",
        headers={"Authorization": "Bearer supervisor-dev-token"},
        json={"new_due_at": "2026-12-31T17:00:00+08:00", "reason": "核验", "requested_by": "somebody-else"},
    )
    assert r.status_code == 200, r.text
    name, arg = fake.updates[-1]
    assert (name, arg.requested_by) == ("extend_deadline", "supervisor-0001")
    assert r.json()["requested_by"] == "supervisor-0001"


def test_a_clerk_submits_for_their_window_as_themselves(api, sample_json):
    http, fake = api
    sample_json["window"]["clerk_id"] = "clerk-9999"
    r = http.post("/api/v1/applications", headers={"Authorization": "Bearer clerk-dev-token"}, json=sample_json)
    assert r.status_code == 202, r.text
    assert fake.started[-1].application.window.clerk_id == "clerk-0007"


def test_an_unknown_token_is_401_and_a_bad_scheme_too(api):
    http, _ = api
    assert http.get("/api/v1/deadlines", headers={"Authorization": "Bearer nope"}).json()["code"] == "invalid_token"
    r = http.get("/api/v1/deadlines", headers={"Authorization": "Basic abc"})
    assert (r.status_code, r.json()["code"]) == (401, "bad_authorization")


def test_refusals_and_changes_are_in_the_audit_trail(api):
    http, _ = api
    http.get(f"/api/v1/applications/{APP_ID}", headers={"Authorization": "Bearer clerk-b-dev-token"})
    http.post(
        f"/api/v1/applications/{APP_ID}/withdrawal",
        headers={"Authorization": "Bearer clerk-dev-token"},
        json={"reason": "申请人撤回", "requested_by": "x"},
    )
    sup = {"Authorization": "Bearer supervisor-dev-token"}
    denied = http.get("/api/v1/audit", headers=sup, params={"actor": "clerk-0012", "outcome": "denied"}).json()
    assert any(i["action"] == "get_application" and i["status_code"] == 404 for i in denied["items"]), denied
    assert all(i["role"] == "clerk" and i["window_id"] == "TY-XD-02" for i in denied["items"])
    allowed = http.get("/api/v1/audit", headers=sup, params={"application_id": APP_ID, "outcome": "allowed"}).json()
    withdrawal = next(i for i in allowed["items"] if i["action"] == "withdraw_application")
    assert withdrawal["actor"] == "clerk-0007" and withdrawal["target"] == f"applications/{APP_ID}/withdrawal"

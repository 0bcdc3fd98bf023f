"""GET /api/v1/deadlines: the promised completion time by the policy, on the statutory calendar."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from runtime.access import DEV_CLERKS, DEV_SUPERVISOR
from runtime.settings import Settings

CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}  # any identity but a department's may ask


@pytest.fixture(scope="module")
def http():
    with TestClient(create_app(Settings(), client=object()), headers=CLERK) as client:
        yield client


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        ("2026-09-30T14:00:00+08:00", "2026-09-30T17:30:00+08:00"),  # same working day
        ("2026-10-09T16:00:00+08:00", "2026-10-10T17:30:00+08:00"),  # after the cut-off: a make-up Saturday
        ("2026-10-01T10:00:00+08:00", "2026-10-08T17:30:00+08:00"),  # National Day holiday
    ],
)
def test_application_due(http, submitted, due):
    r = http.get("/api/v1/deadlines", params={"submitted_at": submitted})
    assert r.status_code == 200, r.text
    assert r.json()["application_due_at"] == due


def test_department_task_due_after_the_holiday(http):
    r = http.get(
        "/api/v1/deadlines",
        params={
            "submitted_at": "2026-09-30T09:00:00+08:00",
            "department": "amr",
            "dispatched_at": "2026-09-30T17:20:00+08:00",
        },
    )
    body = r.json()
    assert body["budget_minutes"] == 120
    assert body["task_due_at"] == "2026-10-08T10:50:00+08:00"


def test_unknown_department_and_naive_times_are_refused_in_chinese(http):
    r = http.get("/api/v1/deadlines", params={"submitted_at": "2026-09-30T14:00:00+08:00", "department": "xyz"})
    assert r.status_code == 404 and "未知的部门" in r.json()["detail"]
    r = http.get("/api/v1/deadlines", params={"submitted_at": "2026-09-30T14:00:00"})
    assert r.status_code == 422 and "时区" in r.json()["detail"]


def test_evidence_is_served_only_from_its_folder(tmp_path):
    day = tmp_path / "evidence" / "2026-11-28"
    day.mkdir(parents=True)
    (day / "amr-KB1-attempt2.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "secret.png").write_bytes(b"outside")
    with TestClient(create_app(Settings(data_dir=tmp_path), client=object()), headers=DEV_SUPERVISOR) as client:
        r = client.get("/api/v1/evidence/2026-11-28/amr-KB1-attempt2.png")
        assert r.status_code == 200 and r.content == b"\x89PNG fake" and r.headers["content-type"] == "image/png"
        for bad in ("../secret.png", "2026-11-28/missing.png", "..%2Fsecret.png"):
            r = client.get(f"/api/v1/evidence/{bad}")
            assert r.status_code == 404, bad

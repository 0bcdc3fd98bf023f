"""GET /api/v1/evidence/<path>: each kind of robot evidence served as what it is; a portal's HTML as text
that never renders (nor runs its script) on kaiban's origin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from runtime.access import DEV_SUPERVISOR
from runtime.settings import Settings

PORTAL_PAGE = (
    b"<html><body><h1>\xe5\x8f\x97\xe7\x90\x86\xe5\x9b\x9e\xe6\x89\xa7</h1><script>alert(1)</script></body></html>"
)


def test_each_kind_of_evidence_is_served_as_what_it_is(tmp_path):
    day = tmp_path / "evidence" / "2026-11-28"
    day.mkdir(parents=True)
    files = {
        "amr-KB1-receipt-attempt1.jpg": (b"\xff\xd8\xff fake", "image/jpeg"),
        "amr-KB1-receipt-attempt1.html": (PORTAL_PAGE, "text/plain; charset=utf-8"),
        "amr-KB1-attempt1.json": (b'{"label": "amr-KB1-attempt1", "steps": []}', "application/json"),
        "amr-KB1-attempt1.png": (b"\x89PNG fake", "image/png"),
        "amr-KB1-attempt2.zip": (b"PK fake", "application/zip"),
    }
    for name, (content, _) in files.items():
        (day / name).write_bytes(content)
    (day / "amr-KB1-attempt1.svg").write_bytes(b"<svg onload='alert(1)'/>")
    with TestClient(create_app(Settings(data_dir=tmp_path), client=object()), headers=DEV_SUPERVISOR) as client:
        for name, (content, media) in files.items():
            r = client.get(f"/api/v1/evidence/2026-11-28/{name}")
            assert r.status_code == 200 and r.content == content, name
            assert r.headers["content-type"] == media, name
            assert r.headers["content-security-policy"] == "sandbox"  # nothing in it runs, whatever it is
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["content-disposition"].startswith("attachment;"), name
        # a kind robots never keep is not served at all
        assert client.get("/api/v1/evidence/2026-11-28/amr-KB1-attempt1.svg").status_code == 404

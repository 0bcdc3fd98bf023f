"""The files a submission carries (``materials``): inline (base64) or by a link to the sender's API, fetched with
this department's signature of it (``X-Kaiban-Timestamp`` / ``X-Kaiban-Signature`` over ``"GET <path>?<query>"``,
its callback secret). Each file's SHA-256 is checked against what the submission says; the files are kept with
the ticket (table ``materials``), so a test or the demo can see what the department received."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from simulators.common import connect, init_schema
from simulators.department_api.callbacks import sign_bytes
from simulators.department_api.models import MaterialIn

FETCH_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS materials (
    ticket          TEXT NOT NULL,
    department      TEXT NOT NULL,
    application_id  TEXT NOT NULL,
    position        INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    filename        TEXT NOT NULL,
    concerns        TEXT,
    sha256          TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    received_by     TEXT NOT NULL,
    data            BLOB NOT NULL,
    received_ts     REAL NOT NULL,
    PRIMARY KEY (ticket, position)
);
CREATE INDEX IF NOT EXISTS ix_materials_application ON materials(application_id);
"""


class MaterialProblem(Exception):
    """A file that is not what the submission says (422), or ``unavailable``: a link that could not be fetched
    now (503: the sender tries again)."""

    def __init__(self, reason: str, *, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.unavailable = reason, unavailable


def init_db(db_path: str | Path) -> None:
    init_schema(db_path, _SCHEMA, ())


async def receive(materials: list[MaterialIn], secret: str) -> list[bytes]:
    """The bytes of each material, checked against its sha256 and size; links fetched signed with ``secret``."""
    out: list[bytes] = []
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client:
        for i, m in enumerate(materials):
            where = f"materials.{i}"
            if m.data is not None:
                try:
                    data = base64.b64decode(m.data, validate=True)
                except (binascii.Error, ValueError):
                    raise MaterialProblem(f"{where}.data: 不是有效的 base64 (not valid base64)") from None
            else:
                assert m.url is not None
                data = await _fetch(client, m.url, secret, where)
            if hashlib.sha256(data).hexdigest() != m.sha256:
                raise MaterialProblem(f"{where}.sha256: 文件摘要不符 (the file's SHA-256 differs from the one given)")
            if len(data) != m.size_bytes:
                raise MaterialProblem(f"{where}.size_bytes: 文件大小不符 ({len(data)} bytes received)")
            out.append(data)
    return out


async def _fetch(client: httpx.AsyncClient, url: str, secret: str, where: str) -> bytes:
    parts = urlsplit(url)
    target = f"GET {parts.path}?{parts.query}".encode()
    try:
        r = await client.get(url, headers=sign_bytes(secret, target))
    except httpx.HTTPError as exc:
        raise MaterialProblem(f"{where}.url: cannot fetch ({type(exc).__name__})", unavailable=True) from exc
    if r.status_code >= 500:
        raise MaterialProblem(f"{where}.url: the sender answered HTTP {r.status_code}", unavailable=True)
    if r.status_code != 200:
        raise MaterialProblem(f"{where}.url: 材料链接无法获取 (HTTP {r.status_code})")
    return r.content


def keep(
    db_path: str | Path,
    department: str,
    ticket: str,
    application_id: str,
    materials: list[MaterialIn],
    files: list[bytes],
) -> None:
    """Keep a new submission's files with its ticket."""
    now = time.time()
    with connect(db_path) as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO materials (ticket, department, application_id, position, kind, filename, concerns,"
            " sha256, content_type, size_bytes, received_by, data, received_ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    ticket,
                    department,
                    application_id,
                    i,
                    m.kind,
                    m.filename,
                    m.concerns,
                    m.sha256,
                    m.content_type,
                    len(data),
                    "link" if m.url else "inline",
                    data,
                    now,
                )  # fmt: skip
                for i, (m, data) in enumerate(zip(materials, files, strict=True))
            ],
        )


def received(
    db_path: str | Path, application_id: str | None = None, *, with_data: bool = False
) -> list[dict[str, Any]]:
    """The files the department received (per submission, in the order sent); ``data`` only when asked."""
    where, params = ("WHERE application_id = ?", (application_id,)) if application_id else ("", ())
    with connect(db_path) as conn:
        rows = conn.execute(
            f"SELECT * FROM materials {where} ORDER BY received_ts, ticket, position", params
        ).fetchall()
    out = []
    for r in rows:
        item = {k: r[k] for k in r.keys() if k != "data"}
        item["sha256_of_data"] = hashlib.sha256(r["data"]).hexdigest()
        if with_data:
            item["data"] = bytes(r["data"])
        out.append(item)
    return out

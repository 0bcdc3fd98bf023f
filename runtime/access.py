"""Settings of identities: opaque API tokens (stored hashed), the province's OIDC provider, callback secrets.

``Settings`` inherits ``AccessSettings``. Development tokens (``clerk-dev-token`` …) work with ``make run``
and are refused in production, as is a token file that still holds one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from domain.access import Identity, Role
from domain.results import RESULT_MODELS

#: the seven cooperating departments (each has a result schema; the catalog names the same seven)
DEPARTMENT_CODES = tuple(RESULT_MODELS)


def token_hash(token: str) -> str:
    """How a token is kept: its SHA-256, hex (tokens are long random strings, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenEntry(BaseModel):
    """One opaque API token: its hash and the identity it stands for."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    identity: Identity


def _dev(token: str, **identity: object) -> tuple[str, TokenEntry]:
    return token, TokenEntry(sha256=token_hash(token), identity=Identity.model_validate(identity))


#: The development identities and their tokens (printed by ``make run``; refused in production).
DEV_TOKENS: dict[str, TokenEntry] = dict(
    [
        _dev("clerk-dev-token", subject="clerk-0007", role=Role.CLERK, window_id="TY-XD-01", name="窗口 0007"),
        _dev("clerk-b-dev-token", subject="clerk-0012", role=Role.CLERK, window_id="TY-XD-02", name="窗口 0012"),
        _dev("supervisor-dev-token", subject="supervisor-0001", role=Role.SUPERVISOR, name="督办 0001"),
        _dev("admin-dev-token", subject="admin-0001", role=Role.ADMIN, name="管理员 0001"),
        *(
            _dev(f"dept-{code}-dev-token", subject=f"dept-{code}", role=Role.DEPARTMENT, department=code)
            for code in DEPARTMENT_CODES
        ),
    ]
)
DEV_TOKEN_HASHES = frozenset(e.sha256 for e in DEV_TOKENS.values())


def dev_callback_secret(code: str) -> str:
    return f"{code}-callback-dev-secret"


def read_token_file(path: Path) -> list[TokenEntry]:
    """A secrets file (JSON for ``.json``, YAML otherwise): ``[{"sha256": …, "identity": {…}}, …]``."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of token entries")
    return [TokenEntry.model_validate(item) for item in data]


class AccessSettings(BaseModel):
    # Opaque tokens for API clients: KAIBAN_API_TOKENS='[{"sha256": "<hex>", "identity": {...}}]' and/or a file.
    # Empty in development: the development tokens above. Never the tokens themselves, only their hashes.
    api_tokens: list[TokenEntry] = Field(default_factory=list, repr=False)
    api_tokens_file: Path | None = None

    # The province's identity provider (OIDC): JWTs verified against its JWKS; claims named here.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    oidc_subject_claim: str = "sub"
    oidc_role_claim: str = "kaiban_role"
    oidc_window_claim: str = "kaiban_window_id"
    oidc_windows_claim: str = "kaiban_windows"
    oidc_department_claim: str = "kaiban_department"
    oidc_name_claim: str = "name"
    oidc_leeway_s: int = 30

    # Department callbacks: X-Kaiban-Signature under a per-department secret (not the account password).
    # KAIBAN_CALLBACK_SECRETS='{"tax": "..."}' or secret files callback_<code>; development: <code>-callback-dev-secret
    callback_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    callback_tolerance_s: int = 300

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url)


#: The development clerks by window (``make demo``, the benchmarks and tests submit as them)
DEV_CLERKS = {"TY-XD-01": "clerk-dev-token", "TY-XD-02": "clerk-b-dev-token"}
DEV_SUPERVISOR = {"Authorization": "Bearer supervisor-dev-token"}


def dev_clerk_headers(application: dict) -> dict[str, str]:
    """The headers of the development clerk who submits ``application`` (JSON form); an application of a
    window without a development clerk is moved to TY-XD-01 first (generated ones pick any window)."""
    window = application.setdefault("window", {})
    if window.get("window_id") not in DEV_CLERKS:
        window["window_id"] = "TY-XD-01"
    return {"Authorization": f"Bearer {DEV_CLERKS[window['window_id']]}"}

"""Settings of the pages for people: the session cookie's secret and the users who sign in with a password.

``Settings`` inherits ``PeopleSettings``. A user is a name, an Argon2 hash of the password (never the
password) and the same :class:`Identity` an API token stands for. In development the users of ``DEV_USERS``
sign in with ``kaiban-dev``; production refuses them, the development session secret and any user whose
hash still verifies the development password.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import yaml
from pwdlib import PasswordHash
from pydantic import BaseModel, Field

from domain.access import Identity
from runtime.access import DEPARTMENT_CODES, DEV_TOKENS

DEV_PASSWORD = "kaiban-dev"
DEV_SESSION_SECRET = "kaiban-development-session-secret"


class PageUser(BaseModel):
    """One person who signs in at /login: the hash of their password and who they are."""

    username: str = Field(min_length=1, max_length=64)
    password_hash: str = Field(min_length=20, repr=False)  # pwdlib's Argon2 hash, "$argon2id$..."
    identity: Identity


def _dev_identity(token: str) -> Identity:
    return DEV_TOKENS[token].identity


#: The development users (printed by ``make run``), the identities of the development tokens.
DEV_USERS: dict[str, Identity] = {
    "clerk": _dev_identity("clerk-dev-token"),
    "clerk-b": _dev_identity("clerk-b-dev-token"),
    "supervisor": _dev_identity("supervisor-dev-token"),
    "admin": _dev_identity("admin-dev-token"),
    **{f"dept-{code}": _dev_identity(f"dept-{code}-dev-token") for code in DEPARTMENT_CODES},
}


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHash:
    """Argon2id with pwdlib's recommended parameters."""
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def dev_password_hash() -> str:
    """The hash the development users are checked against (made once per process)."""
    return password_hasher().hash(DEV_PASSWORD)


def read_users_file(path: Path) -> list[PageUser]:
    """A secrets file (JSON for ``.json``, YAML otherwise): ``[{"username", "password_hash", "identity"}]``."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of users")
    return [PageUser.model_validate(item) for item in data]


class PeopleSettings(BaseModel):
    # Signs the session cookie of the pages (itsdangerous, HMAC): KAIBAN_SESSION_SECRET, 32 characters or more
    session_secret: str = Field(DEV_SESSION_SECRET, min_length=16, repr=False)
    # A session lasts a working day; signing in again after that
    session_max_age_s: int = Field(default=10 * 3600, ge=60)
    # People who sign in with a password: KAIBAN_USERS_FILE (hashes only). Empty in development: DEV_USERS
    users_file: Path | None = None
    # Single sign-on of the pages through the province's OIDC provider (authorization code, PKCE S256, state
    # and nonce): on when KAIBAN_OIDC_ISSUER, _AUDIENCE, _JWKS_URL (the API's, runtime.access) and
    # KAIBAN_OIDC_CLIENT_ID are set. The ID token's audience is the client id; roles come from its claims.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(None, repr=False)  # a confidential client (client_secret_basic)
    # Default: <issuer>/.well-known/openid-configuration
    oidc_discovery_url: str | None = None
    # Default: <the request's base URL>/login/sso/callback; set it behind a proxy that rewrites the host
    oidc_redirect_url: str | None = None
    oidc_scopes: str = "openid profile"

    def page_users(self) -> list[PageUser]:
        return read_users_file(self.users_file) if self.users_file is not None else []

    def people_problems(self) -> list[str]:
        """What production must not start with (empty: nothing)."""
        problems = []
        if self.session_secret == DEV_SESSION_SECRET or len(self.session_secret) < 32:
            problems.append("the development or a short session secret is configured (set KAIBAN_SESSION_SECRET)")
        try:
            users = self.page_users()
        except (OSError, ValueError) as exc:
            return [*problems, f"the users file cannot be read: {exc}"]
        if any(password_hasher().verify(DEV_PASSWORD, u.password_hash) for u in users):
            problems.append("a user of the users file has the development password")
        return problems

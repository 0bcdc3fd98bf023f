"""Signed, expiring links to one stored material for one department (materials by link, ``materials_by: link``).

A link is ``<public_base_url>/api/v1/materials/files/<department>/<sha256>?application_id=…&expires=<unix s>
&signature=<hex HMAC-SHA256>`` under a key only kaiban holds (derived from ``KAIBAN_PAYLOAD_KEY``: nothing new
to configure, never the department's). Fetching it also needs the department's own signature of the link
(``X-Kaiban-Timestamp`` / ``X-Kaiban-Signature`` over ``"GET <path>?<query>"`` under its callback secret, as its
callbacks are signed): a link that leaks, or one another department holds, serves nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlencode

LINK_PATH = "/api/v1/materials/files"
_DOMAIN = b"kaiban material links v1"


def link_key(payload_key: str) -> bytes:
    """The links' key: HMAC of a fixed label under kaiban's payload key (domain-separated from its other use)."""
    return hmac.new(base64.b64decode(payload_key), _DOMAIN, hashlib.sha256).digest()


def link_signature(key: bytes, department: str, application_id: str, sha256: str, expires: int) -> str:
    message = f"{department}\n{application_id}\n{sha256}\n{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def material_link(key: bytes, base_url: str, department: str, application_id: str, sha256: str, expires: int) -> str:
    """The link that serves the object ``sha256`` to ``department`` for ``application_id`` until ``expires``."""
    query = urlencode(
        {
            "application_id": application_id,
            "expires": str(expires),
            "signature": link_signature(key, department, application_id, sha256, expires),
        }
    )
    return f"{base_url.rstrip('/')}{LINK_PATH}/{quote(department)}/{sha256}?{query}"


def link_is_valid(
    key: bytes, department: str, application_id: str, sha256: str, expires: int, signature: str, now: float
) -> bool:
    """Is ``signature`` kaiban's for these values, and ``expires`` not yet past?"""
    if now > expires:
        return False
    expected = link_signature(key, department, application_id, sha256, expires)
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))

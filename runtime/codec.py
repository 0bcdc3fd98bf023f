"""The payload codec: every Temporal payload encrypted with AES-256-GCM under a named key.

An encrypted payload's metadata says ``encoding: binary/encrypted-aes256gcm`` and which key
wrote it (``encryption-key-id``). New payloads use the current key; a payload is decoded with
the key its id names, so keys can rotate: the old ones stay configured, decode-only, until
no history needs them. A payload without a key id (none was written so far, kept for safety)
is tried with the current key, then each old key.

Payloads without the encryption marker were written unencrypted (old development data): in
development they pass through, in production they are refused (``refuse_unencrypted``).

A payload of more than ``COMPRESS_ABOVE`` bytes is compressed (zlib) before it is encrypted, and says so in
its metadata (``compression: zlib``): the contract's sample application shrinks to about half, and every history with
it (each department's activity input carries the application). The length of an encrypted payload thus
depends on how well its content compresses; whoever reads the histories (Temporal's operators) sees lengths,
never content, and a payload holds one application's data, not text chosen by one party beside another's secrets.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted-aes256gcm"
KEY_ID_METADATA = "encryption-key-id"
#: The id every payload written before keys could rotate carries (and the default current id).
LEGACY_KEY_ID = "kaiban-v1"
_NONCE_BYTES = 12
COMPRESSION_METADATA = "compression"
_ZLIB = b"zlib"
#: payloads up to this many bytes (serialized) are encrypted as they are: compressing them gains nothing
COMPRESS_ABOVE = 512


class PayloadKeyError(ValueError):
    """A payload this service cannot (or must not) decode: the message says why and what to configure."""


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class EncryptionCodec(PayloadCodec):
    """Encrypts whole payloads (metadata included) so history holds no personal data in clear."""

    def __init__(
        self,
        key: bytes,
        key_id: str | bytes = LEGACY_KEY_ID,
        old_keys: Mapping[str, bytes] | None = None,
        *,
        refuse_unencrypted: bool = False,
    ) -> None:
        self._key_id = _text(key_id)
        old = dict(old_keys or {})
        if self._key_id in old and old[self._key_id] != key:
            raise PayloadKeyError(f"key id {self._key_id!r} names both the current key and a different old key")
        old.pop(self._key_id, None)
        self._keys = {self._key_id: AESGCM(key), **{kid: AESGCM(k) for kid, k in old.items()}}
        self._refuse_unencrypted = refuse_unencrypted

    @property
    def key_id(self) -> str:
        return self._key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        aes = self._keys[self._key_id]
        out = []
        for p in payloads:
            plain = p.SerializeToString()
            metadata = {"encoding": ENCODING, KEY_ID_METADATA: self._key_id.encode()}
            if len(plain) > COMPRESS_ABOVE:
                plain = zlib.compress(plain, 6)
                metadata[COMPRESSION_METADATA] = _ZLIB
            nonce = os.urandom(_NONCE_BYTES)
            out.append(Payload(metadata=metadata, data=nonce + aes.encrypt(nonce, plain, None)))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(p) for p in payloads]

    def _decode_one(self, p: Payload) -> Payload:
        if p.metadata.get("encoding") != ENCODING:
            if self._refuse_unencrypted:
                encoding = p.metadata.get("encoding", b"").decode(errors="replace") or "none"
                raise PayloadKeyError(
                    f"refusing an unencrypted payload (encoding {encoding!r}): in production every payload "
                    f"must be encrypted by kaiban's codec ({ENCODING.decode()})"
                )
            return p  # development: written before payloads were encrypted
        raw_id = p.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            return self._decode_without_id(p)
        key_id = raw_id.decode(errors="replace")
        aes = self._keys.get(key_id)
        if aes is None:
            raise PayloadKeyError(
                f"payload encrypted with key id {key_id!r}, which is not configured (current "
                f"{self._key_id!r}, old {sorted(k for k in self._keys if k != self._key_id)}): "
                f"add it to KAIBAN_PAYLOAD_OLD_KEYS"
            )
        plain = _decrypt(aes, p.data)
        if plain is None:
            raise PayloadKeyError(f"payload with key id {key_id!r} does not decrypt with the key configured under it")
        return _payload(p, plain)

    def _decode_without_id(self, p: Payload) -> Payload:
        for aes in self._keys.values():  # the current key first, then the old ones
            plain = _decrypt(aes, p.data)
            if plain is not None:
                return _payload(p, plain)
        raise PayloadKeyError(
            f"encrypted payload without a key id decrypts with none of the {len(self._keys)} configured keys"
        )


def _payload(encrypted: Payload, plain: bytes) -> Payload:
    compression = encrypted.metadata.get(COMPRESSION_METADATA)
    if compression is None:
        return Payload.FromString(plain)
    if compression != _ZLIB:
        raise PayloadKeyError(f"payload compressed with {compression!r}, which this service cannot decompress")
    return Payload.FromString(zlib.decompress(plain))


def _decrypt(aes: AESGCM, data: bytes) -> bytes | None:
    """The plaintext, or None when this key did not write ``data`` (or it was tampered with)."""
    if len(data) <= _NONCE_BYTES:
        return None
    try:
        return aes.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], None)
    except InvalidTag:
        return None

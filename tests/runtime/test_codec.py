"""The payload codec: key ids in every payload, rotation with old keys kept to decode, production refusing
payloads that were never encrypted, and large payloads compressed before they are encrypted."""

from __future__ import annotations

import base64
import json
import os

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from runtime.codec import (
    COMPRESS_ABOVE,
    COMPRESSION_METADATA,
    ENCODING,
    KEY_ID_METADATA,
    LEGACY_KEY_ID,
    EncryptionCodec,
    PayloadKeyError,
)
from runtime.settings import DEV_PAYLOAD_KEY, Settings
from runtime.temporal import data_converter, payload_codec

ID_NUMBER = "140121198704150213"
MOBILE = "13835100421"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


KEY_A, KEY_B = os.urandom(32), os.urandom(32)


async def test_every_payload_carries_the_encoding_marker_and_the_key_id():
    [p] = await EncryptionCodec(KEY_A, "k1").encode([plain(ID_NUMBER)])
    assert p.metadata["encoding"] == ENCODING
    assert p.metadata[KEY_ID_METADATA] == b"k1"
    assert ID_NUMBER.encode() not in p.SerializeToString()


async def test_after_a_rotation_old_payloads_decode_and_new_ones_need_the_new_key():
    before = await EncryptionCodec(KEY_A, "k1").encode([plain(ID_NUMBER), plain(MOBILE)])
    rotated = EncryptionCodec(KEY_B, "k2", {"k1": KEY_A})

    assert [p.data for p in await rotated.decode(before)] == [f'"{ID_NUMBER}"'.encode(), f'"{MOBILE}"'.encode()]
    after = await rotated.encode([plain(MOBILE)])
    assert after[0].metadata[KEY_ID_METADATA] == b"k2"
    assert (await rotated.decode(after))[0].data == f'"{MOBILE}"'.encode()
    with pytest.raises(PayloadKeyError, match="'k2'.*not configured.*KAIBAN_PAYLOAD_OLD_KEYS"):
        await EncryptionCodec(KEY_A, "k1").decode(after)


async def test_an_unknown_key_id_fails_with_a_clear_error():
    [p] = await EncryptionCodec(KEY_A, "k9").encode([plain(ID_NUMBER)])
    with pytest.raises(PayloadKeyError) as caught:
        await EncryptionCodec(KEY_B, "k2", {"k1": KEY_A}).decode([p])
    message = str(caught.value)
    assert "'k9'" in message and "current 'k2'" in message and "['k1']" in message


async def test_a_key_id_naming_the_wrong_key_fails_clearly():
    [p] = await EncryptionCodec(KEY_A, "k1").encode([plain(ID_NUMBER)])
    with pytest.raises(PayloadKeyError, match="does not decrypt with the key configured under it"):
        await EncryptionCodec(KEY_B, "k1").decode([p])


async def test_a_payload_without_a_key_id_is_tried_with_the_current_key_then_each_old_one():
    old, current = os.urandom(32), os.urandom(32)
    legacy = []
    for key in (old, current):
        [p] = await EncryptionCodec(key, "x").encode([plain(ID_NUMBER)])
        del p.metadata[KEY_ID_METADATA]
        legacy.append(p)
    codec = EncryptionCodec(current, "k3", {"k1": KEY_A, "k2": old})
    assert [p.data for p in await codec.decode(legacy)] == [f'"{ID_NUMBER}"'.encode()] * 2
    with pytest.raises(PayloadKeyError, match="without a key id decrypts with none of the 1 configured keys"):
        await EncryptionCodec(KEY_B, "k2").decode(legacy[:1])


async def test_the_default_key_id_is_the_one_payloads_written_so_far_carry():
    settings = Settings()
    assert settings.payload_key_id == LEGACY_KEY_ID == "kaiban-v1"
    [p] = await payload_codec(settings).encode([plain(ID_NUMBER)])
    assert p.metadata[KEY_ID_METADATA] == b"kaiban-v1"


async def test_settings_rotation_round_trip_through_the_data_converter():
    before = Settings(payload_key=b64(KEY_A), payload_key_id="k1")
    after = Settings(payload_key=b64(KEY_B), payload_key_id="k2", payload_old_keys={"k1": b64(KEY_A)})
    written = await data_converter(before).encode([{"id_number": ID_NUMBER}])
    assert await data_converter(after).decode(written) == [{"id_number": ID_NUMBER}]
    rewritten = await data_converter(after).encode([{"mobile": MOBILE}])
    assert rewritten[0].metadata[KEY_ID_METADATA] == b"k2"
    with pytest.raises(PayloadKeyError):
        await data_converter(before).decode(rewritten)


async def test_production_refuses_a_payload_without_the_encryption_marker():
    settings = Settings(environment="production", payload_key=b64(KEY_A))
    codec = payload_codec(settings)
    with pytest.raises(PayloadKeyError, match="refusing an unencrypted payload .*'json/plain'.*production"):
        await codec.decode([plain(ID_NUMBER)])
    with pytest.raises(PayloadKeyError, match="encoding 'none'"):
        await codec.decode([Payload(data=b"x")])
    encrypted = await codec.encode([plain(ID_NUMBER)])  # its own payloads still decode
    assert (await codec.decode(encrypted))[0].data == f'"{ID_NUMBER}"'.encode()


async def test_development_passes_an_unencrypted_payload_through():
    codec = payload_codec(Settings())
    p = plain("old development data")
    assert await codec.decode([p]) == [p]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"payload_old_keys": {"k0": "not base64!"}}, "KAIBAN_PAYLOAD_OLD_KEYS\\['k0'\\] must be base64 of exactly 32"),
        ({"payload_old_keys": {"k0": b64(b"short")}}, "exactly 32 bytes"),
        ({"payload_key_id": "k2", "payload_old_keys": {"k2": b64(KEY_A)}}, "must not name the current"),
        (
            {"environment": "production", "payload_key": b64(KEY_B), "payload_old_keys": {"k0": DEV_PAYLOAD_KEY}},
            "must not hold the development key in production",
        ),
    ],
)
def test_settings_refuse_unusable_old_keys(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_old_keys_are_not_shown_by_repr():
    settings = Settings(payload_old_keys={"k0": b64(KEY_A)})
    assert b64(KEY_A) not in repr(settings)


async def test_a_large_payload_is_compressed_before_it_is_encrypted_and_a_small_one_is_not(sample_json):
    codec = EncryptionCodec(KEY_A, "k1")
    data = json.dumps(sample_json, ensure_ascii=False).encode()
    application = Payload(metadata={"encoding": b"json/plain"}, data=data)
    assert len(application.SerializeToString()) > COMPRESS_ABOVE
    big, small = await codec.encode([application, plain(ID_NUMBER)])
    assert big.metadata[COMPRESSION_METADATA] == b"zlib"
    assert len(big.data) < 0.7 * len(application.SerializeToString())  # the sample: 2292 -> 1181 bytes
    assert COMPRESSION_METADATA not in small.metadata
    assert await codec.decode([big, small]) == [application, plain(ID_NUMBER)]
    # a payload written before compression (no marker) still decodes; an unknown compression is refused
    [old] = await codec.encode([plain(ID_NUMBER)])
    assert await codec.decode([old]) == [plain(ID_NUMBER)]
    big.metadata[COMPRESSION_METADATA] = b"brotli"
    with pytest.raises(PayloadKeyError, match="brotli"):
        await codec.decode([big])

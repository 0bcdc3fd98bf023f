"""A real S3 API for tests, without Docker: moto's server mode (``ThreadedMotoServer``) on a free loopback
port, one per test session. ``s3_objects_url`` gives a fresh bucket's ``s3://`` URL on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.support.servers import free_port

#: moto accepts any credentials; these only keep boto3 from looking further (an instance role, ~/.aws)
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "kaiban-test-key",
    "AWS_SECRET_ACCESS_KEY": "kaiban-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The endpoint of a moto S3 server running for the session (credentials in the environment)."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in TEST_CREDENTIALS}
    os.environ.update(TEST_CREDENTIALS)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_bucket(endpoint: str) -> str:
    """A new empty bucket on the server at ``endpoint``; its name."""
    import boto3

    name = f"kaiban-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_objects_url(s3_endpoint: str) -> str:
    """``s3://<new bucket>/materials?endpoint=…&region=us-east-1`` on the session's moto server."""
    return f"s3://{make_bucket(s3_endpoint)}/materials?endpoint={s3_endpoint}&region=us-east-1"


def list_keys(endpoint: str, bucket: str) -> list[str]:
    import boto3

    answer = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in answer.get("Contents", []))

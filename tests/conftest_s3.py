"""A real S3 API server for the object-store tests: `moto_server` on a free localhost port.

Started once per test session (a subprocess, not mocked calls); each test gets its
own bucket. The environment it sets (endpoint, dummy credentials) is inherited by the
CLI subprocesses the tests run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.servers import free_port

S3_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def _moto_command() -> list[str]:
    exe = Path(sys.executable).with_name("moto_server")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("moto_server")
    if found:
        return [found]
    return [sys.executable, "-m", "moto.server"]


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a moto S3 server on localhost, with its environment set."""
    port = free_port()
    proc = subprocess.Popen([*_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in S3_ENV_KEYS}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    try:
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def new_bucket() -> str:
    """A fresh bucket on the running test server (`s3_server`); the store URI inside it."""
    import boto3

    bucket = f"sa-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1").create_bucket(
        Bucket=bucket)
    return f"s3://{bucket}/trust"


def new_bucket_store(site: str = ""):
    """A `DeltaStore` in a fresh bucket (for tests that drive the library, not the CLI)."""
    from surfaudit.store.delta import DeltaStore

    return DeltaStore(new_bucket(), site=site)


@pytest.fixture
def s3_store(s3_server) -> str:
    """A fresh bucket on the test server; the store URI inside it."""
    return new_bucket()

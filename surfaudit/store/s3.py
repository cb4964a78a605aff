"""Where an object-store store lives, and its small objects (key, quarantine).

Part of the store package (only the store knows the layout). A location is
`s3://bucket/prefix` on any S3-compatible service: credentials come from the
standard AWS chain (environment, ~/.aws/config, instance roles), the endpoint
from `[store] endpoint`, else `$AWS_ENDPOINT_URL`, else AWS itself. Plain http is
accepted only for an endpoint on this machine (a test server, a local MinIO):
anything else must be https, so credentials never cross a network in clear.
Object stores have no rename and no append: every object here is written whole,
once, and the one object two runs may race to create (the pseudonym key) is
created with a conditional put (`If-None-Match: *`), so exactly one wins.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from surfaudit.config_names import endpoint_problem
from surfaudit.errors import ConfigError, StoreError

DEFAULT_REGION = "us-east-1"  # S3-compatible services accept any region; AWS needs one to sign


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str  # no leading or trailing slash; may be ""
    endpoint: str | None  # None: the service the AWS chain names (AWS itself by default)

    @classmethod
    def parse(cls, uri: str, endpoint: str = "") -> "Location":
        rest = uri[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        endpoint = (endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "").strip()
        problem = endpoint_problem(endpoint) if endpoint else None  # [store].endpoint's rule, also for $AWS_*
        if problem:
            raise ConfigError(f"store endpoint {endpoint!r}: {problem}")
        return cls(bucket, prefix.strip("/"), endpoint or None)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def storage_options(self) -> dict[str, str]:
        """Options for delta-rs: atomic commits through conditional puts (etag)."""
        opts = {"conditional_put": "etag"}
        if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            opts["AWS_REGION"] = DEFAULT_REGION
        if self.endpoint:
            opts["AWS_ENDPOINT_URL"] = self.endpoint
            if self.endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        return opts

    def client(self):
        import boto3

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=region)


def deltalake():
    """The deltalake module (the [s3] extra), imported on first use."""
    try:
        import deltalake as dl
    except ImportError:  # pragma: no cover - the [s3] extra is missing
        raise StoreError("an s3:// store needs the deltalake package (pip install 'surfaudit[s3]')") from None
    return dl


class Objects:
    """Small whole objects of a store location (boto3)."""

    def __init__(self, location: Location):
        self.loc = location
        self._client = None

    @property
    def s3(self):
        if self._client is None:
            self._client = self.loc.client()
        return self._client

    def _fail(self, name: str, exc: Exception) -> StoreError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        return StoreError(f"{self.loc.uri}/{name}: object store request failed ({code or type(exc).__name__})")

    def get(self, name: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.s3.get_object(Bucket=self.loc.bucket, Key=self.loc.key(name))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail(name, exc) from None
        except BotoCoreError as exc:
            raise self._fail(name, exc) from None

    def put(self, name: str, body: bytes, *, if_absent: bool = False) -> bool:
        """Write an object whole; with `if_absent`, False when it existed already."""
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self.s3.put_object(Bucket=self.loc.bucket, Key=self.loc.key(name), Body=body, **extra)
            return True
        except ClientError as exc:
            if if_absent and exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412",
                                                                           "ConditionalRequestConflict"):
                return False
            raise self._fail(name, exc) from None
        except BotoCoreError as exc:
            raise self._fail(name, exc) from None

    def take_over(self, name: str, stale: bytes) -> bool:
        """Remove `name`, judged stale from its body `stale`, if this run is the one to
        take it over. Of several runs that judged the same body stale, only the one that
        creates the marker of that body (a conditional put) deletes it; the others keep
        waiting and read the new holder's object. Without it, a late run could delete
        the fresh object of the run that took over first, and both would hold it.
        Markers stay (a few bytes each): a body is judged stale only once."""
        import hashlib

        marker = f"{name}.takeover/{hashlib.sha256(stale).hexdigest()[:32]}"
        if not self.put(marker, b"", if_absent=True):
            return False
        self.delete([name])
        return True

    def upload(self, name: str, path: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.upload_file(path, self.loc.bucket, self.loc.key(name))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(name, exc) from None

    def list(self, under: str) -> list[tuple[str, int, object]]:
        """(name relative to the location, size, last-modified) of every object under `under`."""
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        cut = len(self.loc.key(""))
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.loc.bucket,
                                                                         Prefix=self.loc.key(under)):
                out += [(o["Key"][cut:], o["Size"], o["LastModified"]) for o in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(under, exc) from None
        return out

    def delete(self, names: list[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(names), 1000):
            chunk = [{"Key": self.loc.key(n)} for n in names[start:start + 1000]]
            try:
                self.s3.delete_objects(Bucket=self.loc.bucket, Delete={"Objects": chunk, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(names[start], exc) from None

    def head_size(self, name: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.s3.head_object(Bucket=self.loc.bucket, Key=self.loc.key(name))["ContentLength"]
        except ClientError:
            return None

    def bucket_exists(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.head_bucket(Bucket=self.loc.bucket)
            return True
        except ClientError:
            return False
        except BotoCoreError as exc:
            raise self._fail("", exc) from None

    def read_parquet(self, name: str):
        import pyarrow.parquet as pq

        body = self.get(name)
        return None if body is None else pq.read_table(io.BytesIO(body))

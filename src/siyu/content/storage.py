"""Where material files live: local disk under the data dir, or an S3-compatible store.

Objects are named by their content (SHA-256), per workspace, so an identical upload is
stored once. `file_store()` is the process's store: configured from the app's settings by
`create_app`, otherwise built from `get_settings()` (the worker, the CLI).
"""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from siyu.config import Settings, get_settings
from siyu.exceptions import Gone

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from types_boto3_s3.client import S3Client

BLOCK = 1 << 20
MATERIALS_DIR = "materials"


def content_key(workspace_id: int, data: bytes) -> str:
    """The key an object with this content is stored under in this workspace."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{MATERIALS_DIR}/{workspace_id}/{digest[:2]}/{digest}"


class FileStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`; a key already stored is left as it is."""

    def exists(self, key: str) -> bool: ...

    def read(self, key: str) -> bytes:
        """The object's bytes; `Gone` when it is missing."""

    def stream(self, key: str) -> Iterator[bytes]:
        """The object in blocks, for downloads; `Gone` when it is missing."""

    def delete(self, key: str) -> None: ...


def _missing(key: str) -> Gone:
    return Gone("the stored file is missing", {"key": key})


class LocalStore:
    """Files under a directory; written to a temporary name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            msg = f"key {key!r} leaves the store"
            raise ValueError(msg)
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:  # noqa: ARG002
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise _missing(key) from exc

    def stream(self, key: str) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise _missing(key) from exc
        return _blocks(handle)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while block := handle.read(BLOCK):
            yield block


class S3Store:
    """An S3-compatible bucket (AWS S3, MinIO, Tencent COS, Aliyun OSS) through boto3."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.exists(key):
            return
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def _get(self, key: str) -> "StreamingBody":
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise _missing(key) from exc
            raise

    def read(self, key: str) -> bytes:
        return self._get(key).read()

    def stream(self, key: str) -> Iterator[bytes]:
        return self._get(key).iter_chunks(BLOCK)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)


def store_from_settings(settings: Settings) -> FileStore:
    if settings.file_store == "s3":
        assert settings.s3_bucket is not None  # the settings refuse s3 without a bucket
        secret = settings.s3_secret_access_key
        return S3Store(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.s3_region,
        )
    return LocalStore(settings.data_dir)


_store: FileStore | None = None


def configure_store(store: FileStore | None) -> None:
    """Use this store in this process (None: build it from `get_settings()` when needed)."""
    global _store  # noqa: PLW0603 - the one process-wide store, like the settings
    _store = store


def file_store() -> FileStore:
    global _store  # noqa: PLW0603
    if _store is None:
        _store = store_from_settings(get_settings())
    return _store

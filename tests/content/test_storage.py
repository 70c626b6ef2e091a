"""The file stores: local disk, and an S3-compatible server over real HTTP (moto's server)."""

import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine

from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.content.storage import FileStore, LocalStore, S3Store, content_key, store_from_settings
from siyu.exceptions import Gone
from tests.conftest import WorkspaceFixture
from tests.content.materials_helpers import PDF, create

BUCKET = "siyu-materials"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """An S3-protocol server on a loopback port (moto in server mode, not in-process mocks)."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_url: str, tmp_path: Path) -> Settings:
    client = boto3.client(
        "s3",
        endpoint_url=s3_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    if BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=BUCKET)
    return Settings(
        mode=Mode.DEV,
        data_dir=tmp_path / "data",
        worker_in_process=False,
        file_store="s3",
        s3_endpoint_url=s3_url,
        s3_bucket=BUCKET,
        s3_access_key_id="test",
        s3_secret_access_key=SecretStr("test"),
        s3_region="us-east-1",
    )


def _exercise(store: FileStore) -> None:
    data = b"%PDF-1.4 hello"
    key = content_key(7, data)
    assert not store.exists(key)
    store.put(key, data, "application/pdf")
    store.put(key, data, "application/pdf")  # a second put of the same content is a no-op
    assert store.exists(key)
    assert store.read(key) == data
    assert b"".join(store.stream(key)) == data
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(Gone):
        store.read(key)
    with pytest.raises(Gone):
        b"".join(store.stream(key))


def test_local_store_keeps_reads_streams_and_deletes(tmp_path: Path) -> None:
    _exercise(LocalStore(tmp_path))


def test_local_store_refuses_a_key_that_leaves_its_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leaves the store"):
        LocalStore(tmp_path / "store").put("../escape", b"x", "text/plain")


def test_content_keys_are_per_workspace_and_by_content() -> None:
    assert content_key(1, b"same") == content_key(1, b"same")
    assert content_key(1, b"same") != content_key(2, b"same")
    assert content_key(1, b"same") != content_key(1, b"other")


def test_s3_store_keeps_reads_streams_and_deletes(s3_settings: Settings) -> None:
    store = store_from_settings(s3_settings)
    assert isinstance(store, S3Store)
    _exercise(store)


def test_settings_refuse_s3_without_a_bucket() -> None:
    with pytest.raises(ValidationError, match="SIYU_S3_BUCKET"):
        Settings(file_store="s3")


def test_uploads_and_downloads_go_through_s3_when_configured(
    engine: Engine, s3_settings: Settings, workspace: WorkspaceFixture
) -> None:
    app: FastAPI = create_app(s3_settings, engine=engine, run_worker=False)
    with TestClient(app) as client:
        client.headers.update(workspace.headers)
        first = create(client, "file", "价目表", file=("a.pdf", PDF, "application/pdf"))
        create(client, "file", "价目表副本", file=("b.pdf", PDF, "application/pdf"))

        download = client.get(f"/api/v1/materials/{first['id']}/download")

    assert download.content == PDF
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_settings.s3_endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"materials/{workspace.id}/")
    assert [o["Key"] for o in listed.get("Contents", [])] == [content_key(workspace.id, PDF)]
    assert not (s3_settings.data_dir / "materials").exists()

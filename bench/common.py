"""What the benchmark scripts share: database URLs, the generated data's metadata, statistics."""

import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'bench.db'}"


def database_label(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite ({parsed.database})"
    return f"PostgreSQL ({parsed.host}:{parsed.port or 5432}/{parsed.database})"


def url_tag(url: str) -> str:
    """A short stable name for a database, used in file names under bench/data/."""
    return hashlib.sha256(make_url(url).render_as_string(hide_password=True).encode()).hexdigest()[
        :8
    ]


def recreate_database(url: str) -> None:
    """Start from an empty database: delete the SQLite file, or drop and create on PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    name = parsed.database
    if name in {"postgres", "test", "template0", "template1"}:
        msg = f"refusing to recreate the {name!r} database; use a dedicated bench database"
        raise SystemExit(msg)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database if it does not exist yet (SQLite files create themselves)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@dataclass
class Dataset:
    """What bench/generate.py wrote, so later scripts find it again."""

    database_url: str
    size: str
    seed: int
    workspace_id: int
    workspace_slug: str
    api_key: str
    customers: int
    identities: int
    duplicate_pairs: int
    truth_path: str
    counts: dict[str, int]

    @staticmethod
    def path_for(url: str, size: str) -> Path:
        return DATA_DIR / f"dataset-{size}-{url_tag(url)}.json"

    def save(self) -> Path:
        path = self.path_for(self.database_url, self.size)
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2))
        return path

    @classmethod
    def load(cls, url: str, size: str) -> "Dataset":
        path = cls.path_for(url, size)
        if not path.exists():
            msg = (
                f"no {size} dataset for {database_label(url)}; run "
                f"`.venv/bin/python -m bench.generate --size {size} --database-url {url}` first"
            )
            raise SystemExit(msg)
        return cls(**json.loads(path.read_text()))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_file(name: str) -> IO[bytes]:
    """A fresh log file for a subprocess the bench starts, bench/data/logs/<name>.log."""
    folder = DATA_DIR / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / f"{name}.log").open("wb")


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """`siyu serve` (no worker) on a localhost port, once it answers /readyz; its output
    goes to bench/data/logs/serve-<port>.log."""
    siyu = Path(sys.executable).with_name("siyu")
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_WORKER_IN_PROCESS": "false"}
    with log_file(f"serve-{port}") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [str(siyu), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    msg = "siyu serve did not become ready within 60 s"
    raise SystemExit(msg)

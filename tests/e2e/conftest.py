"""Starts the real stack (API, action server, Rasa) once for the end-to-end tests.

The API runs on PostgreSQL (a fresh `coa_e2e` database), migrated with Alembic and
seeded exactly as `make run` does. Ports are the contract ports, so the shared
contract check runs against the same stack.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from stack import API_VENV, Stack  # noqa: E402

from api.security.deidentify import SOCKET_ENV  # noqa: E402
from tests.browser_support import shared_deidentification  # noqa: E402

E2E_DB = "coa_e2e"

#: Channel credentials that test modules add at collection (the web chat test adds
#: tests/e2e/credentials.webchat.yml): merged over COA_RASA_CREDENTIALS (or the default
#: assistant/credentials.yml) when the stack starts, so that several channel tests
#: share one stack whatever order they are collected in. Entry: (file, channel names
#: of the base file that it replaces, e.g. ("socketio",)).
EXTRA_CREDENTIALS: list[tuple[Path, tuple[str, ...]]] = []
ADMIN_URL = os.environ.get("E2E_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _recreate_database() -> str:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {E2E_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {E2E_DB}")
    return ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{E2E_DB}"


def _merged_credentials(env: dict[str, str]) -> str | None:
    if not EXTRA_CREDENTIALS:
        return None
    import yaml

    base = ROOT / (env.get("COA_RASA_CREDENTIALS") or "assistant/credentials.yml")
    merged = yaml.safe_load(base.read_text()) or {}
    for path, replaces in EXTRA_CREDENTIALS:
        for name in replaces:
            merged.pop(name, None)
        merged.update(yaml.safe_load(path.read_text()) or {})
    out = ROOT / "test-artifacts" / "e2e-credentials.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(merged, sort_keys=False))
    return str(out)


LOCK_PATH = "/tmp/coa-e2e.lock"


def _ancestors() -> set[int]:
    pids, pid = set(), os.getppid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return pids


def lock_held_by_ancestor(path: str = LOCK_PATH) -> bool:
    """`flock /tmp/coa-e2e.lock pytest tests/e2e` holds the lock for us already: taking
    it again on another file handle would wait for ourselves forever."""
    try:
        inode = os.stat(path).st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    holders = {int(fields[4]) for fields in (line.split() for line in table.splitlines())
               if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode)}
    return bool(holders & _ancestors())


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # The stack uses the contract ports: runs on one machine take turns.
    lock = open(LOCK_PATH, "w")  # noqa: SIM115 - held for the whole session
    if not lock_held_by_ancestor():
        fcntl.flock(lock, fcntl.LOCK_EX)
    busy = [p for p in (5005, 5055, 8000) if _port_in_use(p)]
    if busy:
        pytest.fail(f"ports {busy} are in use: stop `make run` before `make test`")
    env = dict(os.environ)
    env["DATABASE_URL"] = _recreate_database()
    # The API de-identifies in the test session's one shared process (as `python -m
    # api.serve` does in production) instead of loading deduce itself: every start and
    # restart of the API (test_resilience) would otherwise wait ~30 s for it (issue 16).
    env[SOCKET_ENV] = shared_deidentification()
    credentials = _merged_credentials(env)
    if credentials:
        env["COA_RASA_CREDENTIALS"] = credentials
    for argv in ([str(API_VENV / "bin" / "alembic"), "upgrade", "head"],
                 [str(API_VENV / "bin" / "python"), "-m", "api.seed"]):
        subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=120)
    running = Stack(env=env, log_dir=ROOT / "test-artifacts" / "e2e-logs")
    try:
        running.start()
        yield running
    finally:
        running.stop()
        lock.close()


def make_token(role: str, location: str | None = None) -> str:
    argv = ["make", "-s", "token", f"ROLE={role}"] + ([f"LOCATION={location}"] if location else [])
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip().splitlines()[-1]

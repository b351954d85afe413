"""Benchmark: memory of each API worker with de-identification on (issue 16, target 2).

    .venv-api/bin/python bench/api_memory.py [--notes 40] [--compare] [--smoke]

Migrates and seeds a fresh SQLite database in a temporary folder, records one
incident, starts ``python -m api.serve --workers 2`` (two uvicorn workers and ONE
shared de-identification process) and stores review notes full of invented
personal data over HTTP, so both workers de-identify. It checks that what was
stored is de-identified (the invented name and phone number are gone), then prints
RSS (current and peak) and PSS per worker and of the de-identification process,
and exits 1 when a worker is above 400 MB.

``--compare`` also measures the two alternatives: ``uvicorn --workers 2`` with
deduce in every worker (today's default without ``api.serve``), and deduce loaded
once before ``fork()`` with ``gc.freeze()`` (what a preloading server would do), to
show whether copy-on-write keeps RSS/PSS down. ``--smoke`` (a few notes) runs in
``make test``.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy.orm import Session

import api.all_models
import api.indicators.rollup  # noqa: F401  (the incident below keeps the indicator rollup exact)
from api.auth.service import create_token
from api.config import get_settings
from api.db import make_engine
from api.incidents.models import Incident
from bench.run_info import header, load

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 400
# Invented people and numbers only.
NOTE = "Gesprek met Annelies Verbrugge-Koster uit Appelscha, bereikbaar op 06-48213975, over haar broer Jorrit."
SECRETS = ("Verbrugge", "48213975")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mb(pid: int, field: str) -> float:
    """VmRSS/VmHWM from /proc/<pid>/status, or Pss from smaps_rollup, in MB."""
    source = "smaps_rollup" if field == "Pss" else "status"
    for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _report(label: str, pid: int) -> dict[str, float]:
    figures = {"rss": _mb(pid, "VmRSS"), "peak": _mb(pid, "VmHWM"), "pss": _mb(pid, "Pss")}
    print(f"  {label:<34} RSS {figures['rss']:7.0f} MB   peak {figures['peak']:7.0f} MB   "
          f"PSS {figures['pss']:7.0f} MB", flush=True)  # fmt: skip
    return figures


def prepare(folder: Path) -> tuple[dict[str, str], str]:
    url = f"sqlite:///{folder / 'coa.db'}"
    env = {**os.environ, "DATABASE_URL": url, "COA_ENV": "development"}
    env.pop("COA_DEIDENTIFY_SOCKET", None)
    for command in (["-m", "alembic", "upgrade", "head"], ["-m", "api.seed"]):
        subprocess.run([sys.executable, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    engine = make_engine(url)
    incident_id = uuid.uuid4()
    with Session(engine) as session:
        session.add(Incident(
            id=incident_id, reference="BENCH-MEM-1", idempotency_key=f"bench-mem-{incident_id}",
            conversation_id="bench-mem", location="TERAPEL", protocol="eergerelateerd_geweld",
            protocol_version="1.0.0", acute=False, referrals=["veilig_thuis"], steps=[], outcome=None,
            staff_id="stf-bench", channel="rest", created_at=datetime.now(UTC),
        ))  # fmt: skip
        session.commit()
    engine.dispose()
    return env, str(incident_id)


def _wait_health(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 600
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.5)


def _store_notes(base: str, incident_id: str, notes: int) -> None:
    token = create_token(get_settings(), sub="bench-supervisor", role="supervisor", locations=("TERAPEL",))
    headers = {"Authorization": f"Bearer {token}"}
    route = f"{base}/api/v1/incidents/{incident_id}/review-events"
    # A new connection per request: uvicorn's workers share the listening socket,
    # so the requests are spread over both.
    first = httpx.post(route, json={"status": "in_behandeling", "note": NOTE}, headers=headers, timeout=60)
    if first.status_code != 201:
        raise RuntimeError(f"POST review event: {first.status_code} {first.text}")
    for number in range(notes - 1):
        response = httpx.post(route, json={"note": f"{NOTE} ({number})"}, headers=headers, timeout=60)
        if response.status_code != 201:
            raise RuntimeError(f"POST note: {response.status_code} {response.text}")
    history = httpx.get(route, headers=headers, timeout=60).json()
    stored = [item["note"] for item in history["items"]]
    if len(stored) != notes or any(secret in note for note in stored for secret in SECRETS):
        raise RuntimeError(f"stored notes are not de-identified: {stored[:2]}")
    print(f"  {notes} notes stored over HTTP, all de-identified, e.g. {stored[0]!r}", flush=True)


def _workers(master: int) -> list[int]:
    return sorted(pid for pid in _children(master) if "spawn_main" in _cmdline(pid))


def measure_shared(env: dict[str, str], incident_id: str, notes: int) -> list[dict[str, float]]:
    port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_health(base, serve)
        _store_notes(base, incident_id, notes)
        children = _children(serve.pid)
        helper = next(pid for pid in children if "deidentify_server" in _cmdline(pid))
        master = next(pid for pid in children if "uvicorn" in _cmdline(pid))
        workers = _workers(master)
        _settle(workers)
        print("python -m api.serve --workers 2 (one shared de-identification process):")
        figures = [_report(f"API worker {index} (pid {pid})", pid) for index, pid in enumerate(workers, 1)]
        _report("uvicorn master", master)
        _report("de-identification process", helper)
        return figures
    finally:
        serve.terminate()
        serve.wait(timeout=60)


def _settle(pids: list[int], timeout: float = 300.0) -> None:
    """Wait until no worker's RSS changed for 5 s: /health answers as soon as ONE
    worker is up, while the other may still be loading deduce."""
    deadline = time.monotonic() + timeout
    last = [_mb(pid, "VmRSS") for pid in pids]
    while time.monotonic() < deadline:
        time.sleep(5)
        now = [_mb(pid, "VmRSS") for pid in pids]
        if all(abs(a - b) < 5 for a, b in zip(now, last, strict=True)):
            return
        last = now


def measure_per_worker(env: dict[str, str], incident_id: str, notes: int) -> None:
    port = _free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_health(base, api)
        _store_notes(base, incident_id, notes)
        workers = _workers(api.pid)
        _settle(workers)
        print("uvicorn --workers 2, deduce in every worker (for comparison):")
        for index, pid in enumerate(workers, 1):
            _report(f"API worker {index} (pid {pid})", pid)
    finally:
        api.terminate()
        api.wait(timeout=60)


def measure_fork_after_load() -> None:
    """deduce loaded once, gc.freeze(), then fork: do the children keep sharing?"""
    from api.security.deidentify import _instance

    _instance().deidentify(NOTE)
    gc.freeze()  # keep the collector from touching (and so copying) the loaded objects
    print("deduce loaded before fork() + gc.freeze() (what a preloading server does):")
    _report("parent after loading", os.getpid())
    pids = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            for number in range(20):
                _instance().deidentify(f"{NOTE} {number}")
            os.write(write, b"x")
            time.sleep(30)
            os._exit(0)
        os.read(read, 1)
        pids.append(pid)
    for index, pid in enumerate(pids, 1):
        _report(f"forked worker {index} after 20 notes", pid)
    for pid in pids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=40)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="4 notes, no comparison (make test)")
    args = parser.parse_args()
    if args.smoke:
        args.notes, args.compare = 4, False
    print(header(f"bench/api_memory.py --notes {args.notes}{' --compare' if args.compare else ''}"), flush=True)
    with tempfile.TemporaryDirectory(prefix="coa-bench-memory-") as tmp:
        env, incident_id = prepare(Path(tmp))
        figures = measure_shared(env, incident_id, args.notes)
        if args.compare:
            (Path(tmp) / "compare").mkdir()
            measure_per_worker(*prepare(Path(tmp) / "compare"), args.notes)
            measure_fork_after_load()
    worst = max(figure["peak"] for figure in figures)
    print(f"largest API worker peak RSS: {worst:.0f} MB (limit {LIMIT_MB} MB)")
    print(f"finished: {load()}")
    if len(figures) != 2 or worst > LIMIT_MB:
        print("FAIL: expected 2 workers each within the limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The scale-out topology on this machine, shared by the two-replica end-to-end test
(tests/e2e/test_scale_out.py) and the scale-out benchmark (bench/scale_out.py):

- two Rasa replicas sharing a PostgreSQL tracker store and a Redis lock store, as the
  production profile deploy/endpoints.production.yml configures them (its ${VARIABLES}
  filled in for this machine);
- the API as production runs it, ``python -m api.serve --workers 2``: two uvicorn
  workers and one shared de-identification process (or the one ``COA_DEIDENTIFY_SOCKET``
  names, e.g. the test session's);
- one action server;
- one or more pinning proxies (scripts/pinning_proxy.py), each in front of the replicas
  it is given (the benchmark puts one proxy in front of one replica and another in front
  of both).

Everything is named by a ``Topology`` (ports, databases, Redis db and key prefix), so a
test and a benchmark can run side by side without touching each other's state or the
contract ports. Both databases are dropped and created afresh on every start.

Runs in the API environment (psycopg, PyYAML, httpx for the proxy).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml
from stack import API_VENV, RASA_VENV, ROOT, Ports, Process, Stack

ADMIN_URL = os.environ.get("E2E_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Topology:
    """Where one scale-out stack lives: its ports, databases and Redis lock db."""

    rasa_ports: tuple[int, int]
    actions_port: int
    api_port: int
    #: (proxy port, the Rasa ports behind it) per pinning proxy.
    proxies: tuple[tuple[int, tuple[int, ...]], ...]
    api_db: str
    tracker_db: str
    redis_db: int
    #: Letters and digits only (Rasa ignores any other lock-store prefix).
    redis_prefix: str
    log_dir: Path

    @property
    def ports(self) -> list[int]:
        return [*self.rasa_ports, self.actions_port, self.api_port, *(port for port, _ in self.proxies)]

    @property
    def state_dir(self) -> Path:
        return self.log_dir.with_name(self.log_dir.name + "-state")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"


@dataclass
class ScaleStack(Stack):
    """The stack with the API under ``api.serve`` on two workers and a second Rasa replica."""

    second_rasa_port: int = 0

    def build(self) -> None:
        super().build()
        api = self.process("api")
        # `uvicorn api.main:app <options>` -> `python -m api.serve <options> --workers 2`.
        api.argv = [str(API_VENV / "bin" / "python"), "-m", "api.serve", *api.argv[2:], "--workers", "2"]
        rasa = self.process("rasa")
        rasa.name = "rasa-1"
        second = list(rasa.argv)
        second[second.index("--port") + 1] = str(self.second_rasa_port)
        self.processes.append(Process("rasa-2", second, f"http://127.0.0.1:{self.second_rasa_port}/"))


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def database_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", f"{driver}://") + f"/{name}"


def recreate_databases(*names: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")


def production_endpoints(topology: Topology, action_token: str) -> Path:
    """The production profile (deploy/endpoints.production.yml) with its ${VARIABLES}
    filled in for this machine: the action server, tracker database and Redis lock db of
    ``topology``."""
    values = {
        "ACTION_SERVER_URL": f"http://127.0.0.1:{topology.actions_port}/webhook",
        "DB_HOST": "127.0.0.1", "DB_PORT": "5432", "RASA_TRACKER_DB": topology.tracker_db,
        "DB_USER": "postgres", "DB_PASSWORD": "", "DB_LOGIN_DB": "postgres",
        "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_LOCK_DB": str(topology.redis_db),
        "REDIS_PASSWORD": "", "REDIS_LOCK_PREFIX": topology.redis_prefix,
        "COA_ACTION_SERVER_TOKEN": action_token,
    }
    template = (ROOT / "deploy" / "endpoints.production.yml").read_text()
    text = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
    endpoints = yaml.safe_load(text)
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "redis"
    if not endpoints["lock_store"]["password"]:
        del endpoints["lock_store"]["password"]  # Redis here has no password
    topology.state_dir.mkdir(parents=True, exist_ok=True)
    path = topology.state_dir / "endpoints.scale.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    path.chmod(0o600)  # holds the action server's secret
    return path


def create_tracker_tables(tracker_db: str) -> None:
    """Creates Rasa's tracker tables once before the replicas start: two replicas
    creating them at the same moment on an empty database can collide, and Rasa then
    falls back to an in-memory tracker store (deploy/README.md: start one first)."""
    code = ("from rasa.core.tracker_store import SQLTrackerStore; "
            f"SQLTrackerStore(dialect='postgresql', host='127.0.0.1', port=5432, db={tracker_db!r}, "
            "username='postgres', password='')")
    subprocess.run([str(RASA_VENV / "bin" / "python"), "-c", code], cwd=ROOT, check=True, timeout=180,
                   capture_output=True)


def user_token(env: dict[str, str], role: str, location: str) -> str:
    """A bearer token signed with the stack's key (``env`` after ``Stack.load_dev_env``)."""
    out = subprocess.run([str(API_VENV / "bin" / "python"), "-m", "api.auth.token_cli", "--role", role,
                          "--location", location], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=60, env=env)
    return out.stdout.strip().splitlines()[-1]


@dataclass
class Proxies:
    """The pinning proxies of a running topology, by port."""

    popens: dict[int, subprocess.Popen] = field(default_factory=dict)

    def start(self, topology: Topology, timeout: float = 30.0) -> None:
        for port, upstreams in topology.proxies:
            self.popens[port] = subprocess.Popen(
                [str(API_VENV / "bin" / "python"), "scripts/pinning_proxy.py", "--port", str(port),
                 *[arg for up in upstreams for arg in ("--upstream", f"http://127.0.0.1:{up}")]],
                cwd=ROOT, stdout=(topology.log_dir / f"proxy-{port}.log").open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        for port, popen in self.popens.items():
            while not port_in_use(port):
                if popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pinning proxy on port {port} did not start")
                time.sleep(0.2)

    def stop(self) -> None:
        for popen in self.popens.values():
            if popen.poll() is None:
                popen.terminate()
                popen.wait(timeout=10)


@contextmanager
def running(topology: Topology, env: dict[str, str]) -> Iterator[ScaleStack]:
    """Fresh databases (migrated and seeded), the production endpoints, the stack and its
    proxies; yields the running stack (``stack.env`` holds its tokens) and stops it all.
    Refuses to start when a port of ``topology`` is in use."""
    busy = [port for port in topology.ports if port_in_use(port)]
    if busy:
        raise RuntimeError(f"ports {busy} are in use")
    env = dict(env)
    env.pop("COA_API_URL", None)
    Stack(env=env).load_dev_env()  # the development signing key, for tokens and the API
    recreate_databases(topology.api_db, topology.tracker_db)
    env["DATABASE_URL"] = database_url(topology.api_db)
    for argv in ([str(API_VENV / "bin" / "alembic"), "upgrade", "head"],
                 [str(API_VENV / "bin" / "python"), "-m", "api.seed"]):
        subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
    # The shared secret Rasa sends the action server (issue 6); the stack keeps a set one.
    env["COA_ACTION_SERVER_TOKEN"] = secrets.token_urlsafe(32)
    env["COA_RASA_ENDPOINTS"] = str(production_endpoints(topology, env["COA_ACTION_SERVER_TOKEN"]))
    create_tracker_tables(topology.tracker_db)
    stack = ScaleStack(env=env, ports=Ports(api=topology.api_port, actions=topology.actions_port,
                                            rasa=topology.rasa_ports[0]),
                       log_dir=topology.log_dir, state_dir=topology.state_dir,
                       second_rasa_port=topology.rasa_ports[1])
    proxies = Proxies()
    try:
        stack.start()
        proxies.start(topology)
        yield stack
    finally:
        proxies.stop()
        stack.stop()

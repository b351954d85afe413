"""Starts and stops the three processes (API, action server, Rasa server) together.

Used by `make run` (scripts/run.py) and by the end-to-end tests, so that both
exercise the same start-up. Standard library only: it runs in either venv.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_VENV = ROOT / ".venv-rasa"
API_VENV = ROOT / ".venv-api"
#: Every file the three processes create (var/coa.db, var/rasa_tracker.db, the outbox,
#: logs) is owner-only, whatever the shell's umask (issue 14).
PRIVATE_UMASK = 0o077


def make_private(directory: Path) -> None:
    """``directory`` 0700 and the files directly in it 0600 (state made before this rule)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for path in directory.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


@dataclass
class Ports:
    api: int = int(os.environ.get("COA_API_PORT", "8000"))
    actions: int = int(os.environ.get("COA_ACTIONS_PORT", "5055"))
    rasa: int = int(os.environ.get("COA_RASA_PORT", "5005"))


@dataclass
class Process:
    name: str
    argv: list[str]
    health_url: str
    popen: subprocess.Popen | None = None
    log_path: Path | None = None


@dataclass
class Stack:
    """The running stack; `start()` returns once every process answers its health URL."""

    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    ports: Ports = field(default_factory=Ports)
    log_dir: Path = ROOT / "var" / "log"
    processes: list[Process] = field(default_factory=list)
    rasa_extra_args: list[str] = field(default_factory=list)
    #: Where the action server's outbox and Rasa's tracker store live. None: `var/` for
    #: the default stack (`make run`), else `<log_dir>-state` (a test stack gets its own,
    #: emptied at start, so it never delivers or continues what `make run` left).
    state_dir: Path | None = None

    @property
    def state(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        if self.log_dir == ROOT / "var" / "log":
            return ROOT / "var"
        return self.log_dir.with_name(self.log_dir.name + "-state")

    def endpoints_file(self) -> str:
        """assistant/endpoints.yml as is for `var/` (its tracker store is the SQLite file
        var/rasa_tracker.db, relative to the repository root where Rasa runs); for another
        state dir a copy whose SQLite tracker store points there (COA_RASA_ENDPOINTS: use
        that file unchanged, e.g. the production profile with PostgreSQL and Redis)."""
        if self.env.get("COA_RASA_ENDPOINTS"):
            return self.env["COA_RASA_ENDPOINTS"]
        token = self.env.get("COA_ACTION_SERVER_TOKEN")
        if self.state == ROOT / "var" and not token:
            return "assistant/endpoints.yml"
        import yaml  # PyYAML is in both venvs (Rasa and the knowledge loader need it)

        endpoints = yaml.safe_load((ROOT / "assistant" / "endpoints.yml").read_text())
        store = endpoints.get("tracker_store") or {}
        if str(store.get("dialect", "")).lower() == "sqlite" and self.state != ROOT / "var":
            store["db"] = str(self.state / "rasa_tracker.db")
        endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{self.ports.actions}/webhook"}
        if token:
            # Issue 6: the action server (actions/server.py) only answers Rasa, which
            # sends the shared secret with every call (EndpointConfig headers).
            endpoints["action_endpoint"]["headers"] = {"X-Action-Token": token}
        path = self.state / "endpoints.yml"
        path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
        path.chmod(0o600)  # holds the action server's secret
        return str(path)

    def current_model(self) -> Path:
        if self.env.get("COA_RASA_MODEL"):
            # Another trained model, e.g. a configuration being compared in a benchmark.
            return Path(self.env["COA_RASA_MODEL"])
        marker = ROOT / "models" / "current"
        if not marker.exists():
            raise RuntimeError("no trained model: run `make model` first")
        return ROOT / "models" / marker.read_text().strip()

    def service_token(self) -> str:
        # The action server writes with its own credential, never a user's token.
        out = subprocess.run(
            [str(API_VENV / "bin" / "python"), "-m", "api.auth.token_cli",
             "--role", "service", "--sub", "action-server", "--ttl-hours", "720"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=True, timeout=60,
        )
        return out.stdout.strip().splitlines()[-1]

    def load_dev_env(self) -> None:
        """Takes the per-machine development secret (var/dev.env, made by `make`) unless the
        environment sets one, so the API and `make token` sign with the same key."""
        dev_env = ROOT / "var" / "dev.env"
        if dev_env.exists():
            for line in dev_env.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() and key.strip() not in self.env:
                    self.env[key.strip()] = value.strip()

    def build(self) -> None:
        self.load_dev_env()
        api_url = f"http://127.0.0.1:{self.ports.api}"
        self.env.setdefault("COA_API_URL", api_url)
        self.env["COA_SERVICE_TOKEN"] = self.service_token()
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        # rasa_sdk binds to 0.0.0.0 unless told otherwise: keep it on loopback.
        self.env["SANIC_HOST"] = "127.0.0.1"
        # Issue 6: a per-start shared secret between Rasa and the action server.
        self.env.setdefault("COA_ACTION_SERVER_TOKEN", secrets.token_urlsafe(32))
        if "--enable-api" in self.rasa_extra_args and not {"--auth-token", "--jwt-secret"} & set(self.rasa_extra_args):
            raise RuntimeError("Rasa's HTTP API (--enable-api) only with --auth-token or --jwt-secret")
        self.state.mkdir(parents=True, exist_ok=True)
        self.env.setdefault("COA_OUTBOX_PATH", str(self.state / "outbox.db"))
        self.processes = [
            Process(
                "api",
                [str(API_VENV / "bin" / "uvicorn"), "api.main:app", "--host", "127.0.0.1",
                 "--port", str(self.ports.api)],
                f"{api_url}/health",
            ),
            Process(
                "actions",
                # actions.server = rasa_sdk plus the X-Action-Token check (issue 6).
                [str(RASA_VENV / "bin" / "python"), "-m", "actions.server", "--actions", "actions",
                 "--port", str(self.ports.actions)],
                f"http://127.0.0.1:{self.ports.actions}/health",
            ),
            Process(
                "rasa",
                [str(RASA_VENV / "bin" / "python"), "-m", "assistant.server", "run",
                 "--model", str(self.current_model()),
                 "--endpoints", self.endpoints_file(),
                 # COA_RASA_CREDENTIALS: another credentials file (the Teams e2e test
                 # adds its channel, pointed at a local fake Bot Connector).
                 "--credentials", self.env.get("COA_RASA_CREDENTIALS") or "assistant/credentials.yml",
                 "--interface", "127.0.0.1", "--port", str(self.ports.rasa), *self.rasa_extra_args],
                f"http://127.0.0.1:{self.ports.rasa}/",
            ),
        ]

    def start(self, timeout: float = 300.0) -> None:
        if self.state != ROOT / "var":
            # A test stack starts from nothing (never from a previous run's outbox or trackers).
            for name in ("outbox.db", "rasa_tracker.db"):
                for suffix in ("", "-wal", "-shm", "-journal"):
                    (self.state / (name + suffix)).unlink(missing_ok=True)
        self.build()
        for directory in {self.state, self.log_dir}:
            make_private(directory)
        for proc in self.processes:
            self._spawn(proc, mode="w")
        deadline = time.monotonic() + timeout
        for proc in self.processes:
            self._wait_healthy(proc, deadline)

    def _spawn(self, proc: Process, mode: str) -> None:
        proc.log_path = self.log_dir / f"{proc.name}.log"
        proc.log_path.touch(mode=0o600)
        with proc.log_path.open(mode) as log:
            # Own process group, so Ctrl-C and stop() reach the children Rasa forks.
            proc.popen = subprocess.Popen(
                proc.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, umask=PRIVATE_UMASK,
            )

    def process(self, name: str) -> Process:
        for proc in self.processes:
            if proc.name == name:
                return proc
        raise KeyError(f"no process {name!r}; known: {', '.join(p.name for p in self.processes)}")

    def signal(self, name: str, signum: int) -> None:
        """Sends ``signum`` to the process group of ``name`` (e.g. SIGSTOP / SIGCONT to
        freeze and resume the API in the resilience tests)."""
        proc = self.process(name)
        if proc.popen and proc.popen.poll() is None:
            os.killpg(proc.popen.pid, signum)

    def _terminate(self, proc: Process) -> None:
        if not proc.popen:
            return
        if proc.popen.poll() is None:
            os.killpg(proc.popen.pid, signal.SIGTERM)
            # A frozen (SIGSTOPped) process only acts on SIGTERM once it runs again.
            os.killpg(proc.popen.pid, signal.SIGCONT)
        try:
            proc.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=5)

    def restart(self, name: str, timeout: float = 300.0) -> None:
        """Stops one process and starts it again with the same command and environment
        (its log is appended to); returns once it answers its health URL."""
        proc = self.process(name)
        self._terminate(proc)
        self._spawn(proc, mode="a")
        self._wait_healthy(proc, time.monotonic() + timeout)

    def stop_one(self, name: str) -> None:
        """Stops one process (e.g. the API, to test the outbox); `restart` brings it back."""
        self._terminate(self.process(name))

    def _wait_healthy(self, proc: Process, deadline: float) -> None:
        while time.monotonic() < deadline:
            if proc.popen and proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{self.tail(proc)}")
            try:
                with urllib.request.urlopen(proc.health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{proc.name} not healthy at {proc.health_url}:\n{self.tail(proc)}")

    def tail(self, proc: Process, lines: int = 40) -> str:
        if proc.log_path and proc.log_path.exists():
            return "\n".join(proc.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def dead(self) -> list[str]:
        return [p.name for p in self.processes if p.popen and p.popen.poll() is not None]

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.popen and proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGTERM)
                os.killpg(proc.popen.pid, signal.SIGCONT)
        for proc in reversed(self.processes):
            if not proc.popen:
                continue
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=5)

    def urls(self) -> dict[str, str]:
        return {
            "API (OpenAPI docs)": f"http://127.0.0.1:{self.ports.api}/docs",
            "Rasa REST channel": f"http://127.0.0.1:{self.ports.rasa}/webhooks/rest/webhook",
            "Action server": f"http://127.0.0.1:{self.ports.actions}/health",
        }


def main() -> int:
    stack = Stack()
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("starting API, action server and Rasa server (model load takes ~30 s) ...", flush=True)
        stack.start()
        for name, url in stack.urls().items():
            print(f"  {name:22} {url}")
        print(f"  logs                   {stack.log_dir}")
        print("Try: make token ROLE=supervisor LOCATION=TERAPEL; Ctrl-C stops all three.", flush=True)
        while not stopping:
            dead = stack.dead()
            if dead:
                print(f"process(es) stopped unexpectedly: {', '.join(dead)}; stopping all", file=sys.stderr)
                for proc in stack.processes:
                    if proc.name in dead:
                        print(stack.tail(proc), file=sys.stderr)
                return 1
            time.sleep(1)
        return 0
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

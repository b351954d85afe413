"""`make load`: 50 simulated counsellors running whole protocols for 5 minutes (locust,
bench/locustfile.py) against the REST channel, then the checks of issue 7 part 4:

- 0 errors: every turn answered 200 with replies, every protocol reached a decision;
- 0 lost incidents: each conversation the users created has exactly one incident in
  the API (decisions queued in the outbox are waited for);
- prints p95 (and p50/p99) turn latency, turn and protocol throughput, and the
  machine's load average during the run (the machine may be shared).

Uses the running stack when the contract ports answer (`make run`); otherwise takes
/tmp/coa-e2e.lock and starts its own stack on the contract ports against a fresh
PostgreSQL database `coa_load` (SQLite when PostgreSQL is not reachable).
Exit status 1 when a check fails.

``--smoke`` (in ``make test``, scripts/test.sh): 2 users for 20 s with short think
times, the same checks; so a change that breaks the load test fails CI. It always
starts a stack of its own, on ports of its own against `coa_load_smoke`: in `make
test` it runs beside the end-to-end suite, which holds the contract ports.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import API_VENV, Ports, Stack  # noqa: E402

OUT_DIR = ROOT / "test-artifacts" / "load"
ADMIN_URL = os.environ.get("E2E_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LOAD_DB = "coa_load"
SMOKE_PORTS = Ports(api=18300, actions=15355, rasa=15305)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fresh_database(env: dict[str, str], name: str) -> str:
    """A fresh, migrated and seeded PostgreSQL database for a stack of our own."""
    try:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") \
            + f"/{name}"
    except Exception as error:  # no PostgreSQL: the API's embedded SQLite default
        print(f"PostgreSQL not reachable ({error}); the API uses its default database", flush=True)
    for argv in ([str(API_VENV / "bin" / "alembic"), "upgrade", "head"],
                 [str(API_VENV / "bin" / "python"), "-m", "api.seed"]):
        subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=120)
    return env.get("DATABASE_URL", "default")


def token(role: str, location: str, env: dict[str, str]) -> str:
    out = subprocess.run([str(API_VENV / "bin" / "python"), "-m", "api.auth.token_cli", "--role", role,
                          "--location", location], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    return out.stdout.strip().splitlines()[-1]


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average every 5 s while the users run."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(5):
            self.samples.append(os.getloadavg()[0])


def run_locust(args: argparse.Namespace, host: str, out: Path) -> tuple[int, float]:
    env = {**os.environ, "COA_LOAD_OUT": str(out)}
    if args.smoke:
        env.setdefault("COA_LOAD_WAIT", "0.1,0.3")
    argv = [str(API_VENV / "bin" / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
            "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.run_time,
            "--stop-timeout", str(args.stop_timeout), "--host", host,
            "--csv", str(OUT_DIR / "locust"), "--only-summary", "--loglevel", "WARNING"]
    print("$ " + " ".join(argv), flush=True)
    started = time.monotonic()
    code = subprocess.run(argv, cwd=ROOT, env=env).returncode
    return code, time.monotonic() - started


def count_incidents(conversations: dict[str, dict], api: str, env: dict[str, str],
                    wait_queued: float) -> dict[str, int]:
    tokens = {loc: token("supervisor", loc, env) for loc in {c["location"] for c in conversations.values()}}
    client = httpx.Client(timeout=30)

    def _count(sender: str) -> int:
        location = conversations[sender]["location"]
        response = client.get(f"{api}/api/v1/incidents", params={"conversation_id": sender},
                              headers={"Authorization": f"Bearer {tokens[location]}"})
        response.raise_for_status()
        return response.json()["total"]

    def count(sender: str) -> int:
        """Incidents of one conversation; -1 when the API does not answer."""
        try:
            return _count(sender)
        except httpx.HTTPError as error:
            print(f"  incidents of {sender}: {error!r}", flush=True)
            return -1

    counts = {sender: count(sender) for sender in conversations}
    deadline = time.monotonic() + wait_queued
    while time.monotonic() < deadline and any(
            counts[s] <= 0 and c["status"] in ("completed", "queued") for s, c in conversations.items()):
        time.sleep(5)  # decisions queued in the outbox arrive when the API catches up
        counts = {s: count(s) if counts[s] <= 0 else counts[s] for s in conversations}
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--run-time", default="5m")
    parser.add_argument("--stop-timeout", type=int, default=180,
                        help="seconds users get to finish the protocol they are in when the time is up")
    parser.add_argument("--wait-queued", type=float, default=120)
    parser.add_argument("--smoke", action="store_true", help="2 users for 20 s, short think times (make test)")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.spawn_rate, args.run_time, args.stop_timeout, args.wait_queued = 2, 2, "20s", 120, 60
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "conversations.json"
    out.unlink(missing_ok=True)

    ports = SMOKE_PORTS if args.smoke else Ports()
    rasa, api = f"http://127.0.0.1:{ports.rasa}", f"http://127.0.0.1:{ports.api}"
    env = dict(os.environ)
    Stack(env=env).load_dev_env()  # the development signing key, for the tokens below
    stack = None
    lock = None
    if not args.smoke:
        # The lock first: a stack on the contract ports while someone holds it is an
        # end-to-end test's, never to be loaded; with the lock, one answering is `make run`.
        lock = open("/tmp/coa-e2e.lock", "a")  # noqa: SIM115 - held for the whole run
        print("waiting for /tmp/coa-e2e.lock ...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    if not args.smoke and answers(f"{rasa}/") and answers(f"{api}/health"):
        print("using the running stack (make run)", flush=True)
        database = "the running stack's"
    else:
        log_dir = ROOT / "var" / "log" / ("load-smoke" if args.smoke else "load")
        stack = Stack(env=env, ports=ports, log_dir=log_dir)
        database = fresh_database(env, f"{LOAD_DB}_smoke" if args.smoke else LOAD_DB)
        print("starting API, action server and Rasa ...", flush=True)
        stack.start()
    sampler = LoadSampler()
    try:
        load_before = os.getloadavg()
        sampler.start()
        code, wall = run_locust(args, rasa, out)
        sampler.stopping.set()
        data = json.loads(out.read_text()) if out.exists() else {"conversations": {}, "turns": []}
        conversations, turns = data["conversations"], data["turns"]
        counts = count_incidents(conversations, api, env, args.wait_queued)
        dead = stack.dead() if stack else []
    finally:
        if stack:
            stack.stop()
        if lock:
            lock.close()

    statuses = Counter(c["status"] for c in conversations.values())
    latencies = [took * 1000 for _, took in turns]
    failed_turns = _locust_failures()  # -1: no statistics written, counted as an error
    failed_turns = 1 if failed_turns < 0 else failed_turns
    finished = [s for s, c in conversations.items() if c["status"] in ("completed", "queued")]
    lost = [s for s in finished if counts[s] <= 0]  # none, or the API did not answer
    duplicated = [s for s, n in counts.items() if n > 1]
    unfinished = [s for s, c in conversations.items() if c["status"] not in ("completed", "queued")]
    span = (max(w + t for w, t in turns) - min(w for w, _ in turns)) if turns else 0.0
    summary = {
        "users": args.users, "run_time": args.run_time, "cores": os.cpu_count(),
        "database": database, "locust_exit": code, "wall_s": round(wall, 1),
        "conversations": len(conversations), "statuses": dict(statuses),
        "turns": len(latencies), "failed_requests": failed_turns,
        "turn_p50_ms": round(percentile(latencies, 0.50)) if latencies else None,
        "turn_p95_ms": round(percentile(latencies, 0.95)) if latencies else None,
        "turn_p99_ms": round(percentile(latencies, 0.99)) if latencies else None,
        "turn_mean_ms": round(statistics.fmean(latencies)) if latencies else None,
        "turns_per_s": round(len(latencies) / span, 2) if span else None,
        "protocols_per_min": round(len(finished) / span * 60, 1) if span else None,
        "incidents": sum(n for n in counts.values() if n > 0),
        "lost_incidents": len(lost), "duplicate_incidents": len(duplicated),
        "load_avg_1m_before": round(load_before[0], 2),
        "load_avg_1m_during_mean": round(statistics.fmean(sampler.samples), 2) if sampler.samples else None,
        "load_avg_1m_during_max": round(max(sampler.samples), 2) if sampler.samples else None,
        "dead_processes": dead,
    }
    (OUT_DIR / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    errors = failed_turns + len(unfinished) + len(duplicated)
    print(f"\n{args.users} counsellors, {args.run_time} on {os.cpu_count()} cores: "
          f"{len(latencies)} turns, {len(finished)} whole protocols, errors {errors}, lost incidents {len(lost)}")
    print(f"turn latency p50 {summary['turn_p50_ms']} ms, p95 {summary['turn_p95_ms']} ms, "
          f"p99 {summary['turn_p99_ms']} ms; throughput {summary['turns_per_s']} turns/s, "
          f"{summary['protocols_per_min']} protocols/min; load average during the run "
          f"{summary['load_avg_1m_during_mean']} (max {summary['load_avg_1m_during_max']})")
    for sender in [*lost, *duplicated, *unfinished][:10]:
        print(f"  problem: {sender} {conversations[sender]} incidents={counts.get(sender)}")
    ok = code == 0 and errors == 0 and not lost and not dead and len(finished) > 0
    print("load check: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def _locust_failures() -> int:
    stats = OUT_DIR / "locust_stats.csv"
    if not stats.exists():
        return -1
    import csv

    with stats.open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return int(row["Failure Count"])
    return -1


if __name__ == "__main__":
    sys.exit(main())

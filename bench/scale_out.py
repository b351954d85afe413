"""Issue 16, target 5: throughput of two Rasa replicas behind the pinning proxy against
one, on PostgreSQL + Redis, and the incident write p95 under that load.

The topology is the two-replica end-to-end test's (scripts/scale_stack.py): two Rasa
replicas on a PostgreSQL tracker store and a Redis lock store from
deploy/endpoints.production.yml, the API under ``python -m api.serve --workers 2`` (two
workers, one shared de-identification process), one action server. Two pinning proxies
(scripts/pinning_proxy.py) stand in front: one with ONE replica behind it, one with BOTH.
Both replicas run the whole time, so the two phases differ only in the proxy used.

Each phase: ``--concurrent`` threads each walk whole protocol conversations (report,
first button to the recorded decision: bench/history.py's walker over bench/turns.py's
client) through that phase's proxy, starting new ones until ``--seconds`` have passed
(a walk under way is finished). The phases alternate in one invocation, one/two then
two/one in the next round (``--rounds``), so the ratio two/one is from the same run and
the same hour, and drift of the shared machine falls on both sides.

What is measured:

- turns/s and protocols/min: turns and completed walks over the phases' wall time;
  turn p50/p95: the latency of every turn as the client sees it through the proxy;
- incident write p50/p95: during each phase a separate client thread POSTs one incident
  every ``--write-interval`` seconds to the API's own route (``POST /api/v1/incidents``,
  with the action server's service credential, the body of a real decision recorded in
  the warm-up), and times the request until the API answered 201: that is the API's
  incident write (validation against the protocol, free-text answers de-identified:
  none on this path, every answer is a button; one transaction with the indicator
  rollup on PostgreSQL) under the phase's load, seen from the same machine
  (a thread of the benchmark's process, beside the walking threads).
  It is not the decision turn's latency (which also holds Rasa and the action server),
  and it does not time the action server's own POSTs (which log no durations);
- incidents recorded against conversations completed, from the API's database after
  the run (decisions queued in the action server's outbox are waited for): each walked
  conversation and each timed write must have exactly one incident (lost 0,
  duplicates 0), else the exit status is 1;
- the 1-minute load average before each phase and sampled every 5 s during it (a
  lagging average: with phases under a minute it blends neighbouring phases; the
  machine is shared, so it says how noisy the run was).

The clients run on the same two cores as everything else: on this machine two replicas
compete with the action server, the API, the proxy and the clients for the same CPUs.
No target is set for the ratio; the figures are what this machine gives.

Its own ports (Rasa 17105/17106, actions 17155, API 17200, proxies 17101 with one
replica and 17100 with both), databases ``coa_bench_scale`` and
``coa_bench_scale_tracker`` (dropped and created afresh) and Redis db 4 with the key
prefix ``coabenchscale``: it may run beside ``make run`` and the end-to-end tests.

    .venv-api/bin/python bench/scale_out.py            # 10 at once, 40 s per phase, 2 rounds
    .venv-api/bin/python bench/scale_out.py --smoke    # 2 at once, 5 s per phase (make test)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from history import OPENING, walk  # noqa: E402
from load import LoadSampler  # noqa: E402
from pinning_proxy import pick  # noqa: E402
from run_info import header  # noqa: E402
from run_info import load as load_line  # noqa: E402
from scale_stack import ScaleStack, Topology, database_url, running  # noqa: E402
from turns import ENV, Conversations, ours_answer, percentile  # noqa: E402

RASA_PORTS = (17105, 17106)
#: The proxy in front of one replica and the one in front of both, by replicas behind it.
PROXY_PORTS = {1: 17101, 2: 17100}
TOPOLOGY = Topology(
    rasa_ports=RASA_PORTS, actions_port=17155, api_port=17200,
    proxies=((PROXY_PORTS[1], RASA_PORTS[:1]), (PROXY_PORTS[2], RASA_PORTS)),
    api_db="coa_bench_scale", tracker_db="coa_bench_scale_tracker", redis_db=4, redis_prefix="coabenchscale",
    log_dir=ROOT / "var" / "log" / "bench-scale",
)
#: The fields of a recorded incident a timed write repeats (a real decision's body).
DECISION_FIELDS = ("location", "protocol", "protocol_version", "acute", "referrals", "steps", "outcome", "channel")


@dataclass(frozen=True)
class Sizes:
    concurrent: int = 10  # conversations at once
    seconds: float = 40.0  # per phase and round
    rounds: int = 2  # one/two, then two/one, ...
    write_interval: float = 1.0  # seconds between the timed incident writes


SMOKE = Sizes(concurrent=2, seconds=5.0, rounds=1, write_interval=0.5)
#: How long decisions queued in the action server's outbox are waited for at the end.
WAIT_RECORDED_SECONDS = 120.0


@dataclass
class Phase:
    """Everything measured behind one proxy, summed over the rounds."""

    replicas: int
    turns: list[float] = field(default_factory=list)  # seconds per turn
    conversations: list[str] = field(default_factory=list)  # completed walks
    failures: list[str] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)  # seconds per timed incident write
    written: list[str] = field(default_factory=list)  # conversation ids of the timed writes
    wall: float = 0.0
    load_before: list[float] = field(default_factory=list)
    load_during: list[float] = field(default_factory=list)


class IncidentWriter(threading.Thread):
    """POSTs one incident every ``interval`` seconds through the API's REST route with
    the service credential and times each until the API answered."""

    def __init__(self, phase: Phase, token: str, template: dict[str, Any], interval: float) -> None:
        super().__init__(daemon=True)
        self.phase, self.template, self.interval = phase, template, interval
        self.client = httpx.Client(base_url=TOPOLOGY.api_url, timeout=60,
                                   headers={"Authorization": f"Bearer {token}"})
        self.stopping = threading.Event()

    def run(self) -> None:
        due = time.monotonic()
        while not self.stopping.is_set():
            key = uuid.uuid4().hex
            sender = f"scale-write-{key[:12]}"
            body = {**self.template, "idempotency_key": f"{self.template['protocol']}:bench-{key}",
                    "conversation_id": sender, "staff_id": "bench-scale-writer"}
            started = time.perf_counter()
            try:
                response = self.client.post("/incidents", json=body)
                took = time.perf_counter() - started
                if response.status_code == 201 and response.json().get("reference"):
                    self.phase.writes.append(took)
                    self.phase.written.append(sender)
                else:
                    self.phase.failures.append(f"write {sender}: HTTP {response.status_code} {response.text[:200]}")
            except httpx.HTTPError as error:
                self.phase.failures.append(f"write {sender}: {error!r}")
            due += self.interval
            self.stopping.wait(max(0.0, due - time.monotonic()))
        self.client.close()


def run_phase(phase: Phase, sizes: Sizes, token: str, template: dict[str, Any], label: str) -> None:
    """Walks whole protocols through the proxy of ``phase.replicas`` for ``sizes.seconds``."""
    url = f"http://127.0.0.1:{PROXY_PORTS[phase.replicas]}/webhooks/rest/webhook"
    deadline = time.monotonic() + sizes.seconds
    guard = threading.Lock()

    def walker(_index: int) -> None:
        conversations = Conversations(url, OPENING, ours_answer)
        while time.monotonic() < deadline:
            sender = f"scale{phase.replicas}-{label}-{uuid.uuid4().hex[:12]}"
            try:
                latencies = walk(conversations, sender)
            except httpx.HTTPError as error:
                with guard:
                    phase.failures.append(f"conversation {sender}: {error!r}")
                time.sleep(1)
                continue
            with guard:
                phase.turns.extend(latencies)
                phase.conversations.append(sender)

    phase.load_before.append(os.getloadavg()[0])
    sampler, writer = LoadSampler(), IncidentWriter(phase, token, template, sizes.write_interval)
    sampler.start()
    writer.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sizes.concurrent) as pool:
        list(pool.map(walker, range(sizes.concurrent)))
    phase.wall += time.perf_counter() - started
    sampler.stopping.set()
    writer.stopping.set()
    writer.join(timeout=90)
    phase.load_during.extend(sampler.samples or [os.getloadavg()[0]])
    print(f"  {label}: {phase.replicas} replica(s), {len(phase.conversations)} conversations so far", flush=True)


def incident_counts(conversation_ids: list[str]) -> dict[str, int]:
    """Incidents per conversation id, read from the API's database."""
    with psycopg.connect(database_url(TOPOLOGY.api_db, driver="postgresql")) as conn:
        rows = conn.execute("SELECT conversation_id, count(*) FROM incidents WHERE conversation_id = ANY(%s) "
                            "GROUP BY conversation_id", (conversation_ids,)).fetchall()
    counts = dict.fromkeys(conversation_ids, 0)
    counts.update(dict(rows))
    return counts


def wait_recorded(conversation_ids: list[str], seconds: float) -> dict[str, int]:
    """The counts once every conversation has an incident, or after ``seconds`` (decisions
    queued in the action server's outbox arrive when the API catches up)."""
    deadline = time.monotonic() + seconds
    counts = incident_counts(conversation_ids)
    while any(n == 0 for n in counts.values()) and time.monotonic() < deadline:
        time.sleep(2)
        counts = incident_counts(conversation_ids)
    return counts


def warm_up(stack: ScaleStack) -> dict[str, Any]:
    """One walk on each replica directly (first turns load lazily); returns the recorded
    decision of the first as the body the timed writes repeat."""
    senders = []
    for port in RASA_PORTS:
        sender = f"scale-warm-{port}-{uuid.uuid4().hex[:8]}"
        walk(Conversations(f"http://127.0.0.1:{port}/webhooks/rest/webhook", OPENING, ours_answer), sender)
        senders.append(sender)
    if any(n != 1 for n in wait_recorded(senders, 60).values()):
        raise RuntimeError(f"the warm-up walks did not record one incident each ({senders}); logs in {stack.log_dir}")
    with psycopg.connect(database_url(TOPOLOGY.api_db, driver="postgresql")) as conn:
        row = conn.execute(f"SELECT {', '.join(DECISION_FIELDS)} FROM incidents WHERE conversation_id = %s",
                           (senders[0],)).fetchone()
    return {name: value for name, value in zip(DECISION_FIELDS, row, strict=True) if value is not None}


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}" if values else "-"


def report(phases: dict[int, Phase], counts: dict[str, int]) -> bool:
    """Prints the table, the ratio and the recording check; True when nothing was lost."""
    print(f"\n{'replicas':>8} {'convs':>6} {'turns':>6} {'wall s':>7} {'turns/s':>8} {'prot/min':>9} "
          f"{'turn p50':>9} {'turn p95':>9} {'write p50':>10} {'write p95':>10} {'writes':>7} "
          f"{'load before':>12} {'load during':>12}")
    rates = {}
    for replicas, phase in sorted(phases.items()):
        turns_s = len(phase.turns) / phase.wall if phase.wall else 0.0
        per_min = len(phase.conversations) / phase.wall * 60 if phase.wall else 0.0
        rates[replicas] = (turns_s, per_min)
        print(f"{replicas:>8} {len(phase.conversations):>6} {len(phase.turns):>6} {phase.wall:>7.1f} "
              f"{turns_s:>8.2f} {per_min:>9.1f} {ms(phase.turns, 0.5):>9} {ms(phase.turns, 0.95):>9} "
              f"{ms(phase.writes, 0.5):>10} {ms(phase.writes, 0.95):>10} {len(phase.writes):>7} "
              f"{statistics.fmean(phase.load_before):>12.1f} {statistics.fmean(phase.load_during):>12.1f}")
    print("(latencies in ms; write = POST /api/v1/incidents timed by a separate client during the phase)")
    if rates[1][0] and rates[1][1]:
        print(f"ratio two/one: turns/s {rates[2][0] / rates[1][0]:.2f}, protocols/min {rates[2][1] / rates[1][1]:.2f}")
    upstreams = [f"http://127.0.0.1:{port}" for port in RASA_PORTS]
    spread = Counter(pick(sender, upstreams) for sender in phases[2].conversations)
    print("two replicas, conversations per replica (the proxy's rendezvous hash): "
          + ", ".join(f"{up.rsplit(':', 1)[1]} {spread[up]}" for up in upstreams))
    walked = [s for phase in phases.values() for s in phase.conversations]
    written = [s for phase in phases.values() for s in phase.written]
    lost = [s for s in walked + written if counts[s] == 0]
    duplicated = [s for s in walked + written if counts[s] > 1]
    recorded = sum(1 for s in walked if counts[s] >= 1)
    print(f"conversations completed {len(walked)}, incidents recorded for them {recorded}; timed writes "
          f"{len(written)}, recorded {sum(1 for s in written if counts[s] >= 1)}; "
          f"lost {len(lost)}, duplicates {len(duplicated)}")
    failures = [f for phase in phases.values() for f in phase.failures]
    for problem in [*failures, *(f"lost: {s}" for s in lost), *(f"duplicate: {s}" for s in duplicated)][:10]:
        print(f"  problem: {problem}", file=sys.stderr)
    empty = [replicas for replicas, phase in phases.items() if not phase.conversations]
    if empty:
        print(f"  problem: no conversation completed with {empty} replica(s)", file=sys.stderr)
    return not (lost or duplicated or failures or empty)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Sizes()
    parser.add_argument("--concurrent", type=int, default=defaults.concurrent, help="conversations at once")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=defaults.rounds, help="one/two, then two/one, ...")
    parser.add_argument("--write-interval", type=float, default=defaults.write_interval,
                        help="seconds between the timed incident writes")
    parser.add_argument("--smoke", action="store_true", help="2 at once, 5 s per phase, one round (make test)")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else Sizes(args.concurrent, args.seconds, args.rounds, args.write_interval)
    print(header(f"bench/scale_out.py --concurrent {sizes.concurrent} --seconds {sizes.seconds:g} "
                 f"--rounds {sizes.rounds}{' (smoke)' if args.smoke else ''}"), flush=True)
    started = time.monotonic()
    phases = {1: Phase(1), 2: Phase(2)}
    with running(TOPOLOGY, dict(ENV)) as stack:
        print(f"stack up in {time.monotonic() - started:.0f} s (two Rasa replicas, API with 2 workers, "
              f"PostgreSQL + Redis db {TOPOLOGY.redis_db}); warming up ...", flush=True)
        template = warm_up(stack)
        token = stack.env["COA_SERVICE_TOKEN"]
        for round_index in range(sizes.rounds):
            order = (1, 2) if round_index % 2 == 0 else (2, 1)
            for replicas in order:
                run_phase(phases[replicas], sizes, token, template, f"r{round_index + 1}")
                time.sleep(2)  # the last session events leave the outbox before the next phase
        walked = [s for phase in phases.values() for s in (*phase.conversations, *phase.written)]
        counts = wait_recorded(walked, WAIT_RECORDED_SECONDS)
        dead = stack.dead()
    ok = report(phases, counts) and not dead
    if dead:
        print(f"  problem: processes stopped during the run: {dead}", file=sys.stderr)
    print(f"finished in {time.monotonic() - started:.0f} s: {load_line()}")
    print("scale-out check: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

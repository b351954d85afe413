"""`make bench`: turn latency of our assistant against Rasa's own starter bot.

One run on this machine: (a) the starter assistant of `rasa init --no-prompt` and
(b) our assistant (Rasa + action server + API, real protocol turns that record
incidents), each served by `rasa run` and driven by the same client: 200 sequential
turns and 10 concurrent conversations for 24 s. Prints p50/p95 and throughput
per row, the p50 ratio ours/starter, the NLU floor (/model/parse), training time
from scratch, model load time and the peak RSS of each process.

Compare ratios, not absolute figures: the machine is shared and noisy. Its speed
changes by half within minutes (bench/results.md: the same code measured 0.46 and
1.58 as p50 ratio ten minutes apart), so the two bots are served at the same time
and measured in alternating blocks (A B B A ...): each bot's turns are spread over
the same minutes, and a slow spell weighs on both.

``--smoke`` (in ``make test``, scripts/test.sh): our stack only, a few turns, on a
fresh SQLite database and ports of its own, no training; so a change that breaks the
benchmark fails CI (the starter bot is Rasa's own and needs minutes of training).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import API_VENV, RASA_VENV, Ports, Stack  # noqa: E402

RASA = str(RASA_VENV / "bin" / "rasa")
#: How scripts/train.py trains: Rasa's command line with tf.data autotuning off (assistant/rasa_cli.py).
TRAIN = [str(RASA_VENV / "bin" / "python"), "-m", "assistant.rasa_cli", "train", "--force"]
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
STARTER_PORT = 15006
#: The smoke run's own ports and state: in `make test` it runs beside the end-to-end
#: suite, which holds the contract ports.
SMOKE_PORTS = Ports(api=18200, actions=15255, rasa=15205)


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a process and its children, in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Conversations:
    """Scripted conversations; each call of `next_message` gives a sender and a text."""

    def __init__(self, url: str, opening: list[str], answer: Callable[[list[dict]], str | None]) -> None:
        self.url = url
        self.opening = opening
        self.answer = answer
        self.client = httpx.Client(timeout=60)
        self.decisions = 0  # replies with an incident reference: whole protocols recorded
        #: Latencies by kind of turn: the conversation's first message, the turn whose reply
        #: holds the recorded decision, and every other turn. Where the tail comes from.
        self.kinds: dict[str, list[float]] = {"first": [], "decision": [], "other": []}

        #: The conversation in progress: a next call of `run_turns` continues it.
        self.sender: str | None = None
        self.queue: list[str] = []

    def run_turns(self, turns: int, sender_prefix: str, until: float | None = None) -> list[float]:
        """``turns`` turns, or as many as start before ``until`` (``time.perf_counter()``)."""
        latencies: list[float] = []
        queue = self.queue
        while len(latencies) < turns and (until is None or time.perf_counter() < until):
            first = not queue
            if first:
                self.sender = f"{sender_prefix}-{uuid.uuid4().hex[:8]}"
                queue.extend(self.opening)
            text = queue.pop(0)
            started = time.perf_counter()
            response = self.client.post(self.url, json={"sender": self.sender, "message": text,
                                                         "metadata": {"location": "TERAPEL"}})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            replies = response.json()
            decided = any("Referentie" in (r.get("text") or "") for r in replies)
            self.decisions += decided
            self.kinds["decision" if decided else "first" if first else "other"].append(latencies[-1])
            follow_up = self.answer(replies)
            if follow_up:
                queue.insert(0, follow_up)
        return latencies


def ours_answer(replies: list[dict]) -> str | None:
    if any("Referentie" in (r.get("text") or "") for r in replies):
        return None
    buttons = [b for r in replies for b in r.get("buttons", [])]
    return buttons[0]["payload"] if buttons else None


@dataclass(frozen=True)
class Sizes:
    sequential: int = 200
    concurrent: int = 10  # conversations at once
    #: Per bot, over all its blocks. By time, not by a count of turns per conversation: a
    #: block of counted turns ends with the slowest conversation while the others are
    #: done already, which weighs on the bot whose turns vary most.
    concurrent_seconds: float = 24.0
    nlu: int = 100
    #: Blocks per bot, alternating between the bots (A B B A ...).
    blocks: int = 4


SMOKE = Sizes(sequential=10, concurrent=2, concurrent_seconds=2.0, nlu=5, blocks=1)


@dataclass
class Bot:
    """A served bot: its REST webhook, Rasa's base URL, its script and its processes."""

    label: str
    base: str
    opening: list[str]
    answer: Callable[[list[dict]], str | None]
    nlu_texts: list[str]
    #: Process name -> pid, for the peak RSS ("rasa" is the one in the table).
    pids: dict[str, int]
    load_s: float
    train_s: float = float("nan")
    #: Where the stack's processes log (ours only): shown when the smoke fails.
    log_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"{self.base}/webhooks/rest/webhook"

    def conversations(self) -> Conversations:
        return Conversations(self.url, self.opening, self.answer)


def _block_sizes(total: int, blocks: int) -> list[int]:
    return [total // blocks + (1 if index < total % blocks else 0) for index in range(blocks)]


def side_by_side(bots: list[Bot], token: str, sizes: Sizes) -> dict[str, dict[str, float]]:
    """Every bot's sequential turns, concurrent turns and NLU floor, measured in alternating
    blocks (the order reversed every block) so that each bot sees the same machine."""
    sequential = {bot.label: bot.conversations() for bot in bots}
    workers = {bot.label: [bot.conversations() for _ in range(sizes.concurrent)] for bot in bots}
    seq: dict[str, list[float]] = {bot.label: [] for bot in bots}
    con: dict[str, list[float]] = {bot.label: [] for bot in bots}
    wall = dict.fromkeys(seq, 0.0)
    nlu: dict[str, list[float]] = {bot.label: [] for bot in bots}
    blocks = zip(_block_sizes(sizes.sequential, sizes.blocks), _block_sizes(sizes.nlu, sizes.blocks), strict=True)
    for index, (seq_turns, nlu_requests) in enumerate(blocks):
        for bot in bots if index % 2 == 0 else bots[::-1]:
            seq[bot.label] += sequential[bot.label].run_turns(seq_turns, f"{bot.label}-seq")
            prefixes = [f"{bot.label}-c{number}" for number in range(sizes.concurrent)]
            started = time.perf_counter()
            until = [started + sizes.concurrent_seconds / sizes.blocks] * sizes.concurrent
            with ThreadPoolExecutor(max_workers=sizes.concurrent) as pool:
                parts = list(pool.map(Conversations.run_turns, workers[bot.label], [sys.maxsize] * sizes.concurrent,
                                      prefixes, until))
            wall[bot.label] += time.perf_counter() - started
            con[bot.label] += [x for part in parts for x in part]
            nlu[bot.label] += nlu_latencies(bot.base, token, bot.nlu_texts, nlu_requests)
    rows = {}
    for bot in bots:
        first = sequential[bot.label]
        rows[bot.label] = {
            "seq_p50": percentile(seq[bot.label], 0.5) * 1000, "seq_p95": percentile(seq[bot.label], 0.95) * 1000,
            "seq_tput": len(seq[bot.label]) / sum(seq[bot.label]),
            "con_p50": percentile(con[bot.label], 0.5) * 1000, "con_p95": percentile(con[bot.label], 0.95) * 1000,
            "con_tput": len(con[bot.label]) / wall[bot.label], "seq_decisions": first.decisions,
            "nlu_ms": statistics.median(nlu[bot.label]) * 1000, "load_s": bot.load_s, "train_s": bot.train_s,
            **{f"kind_{kind}_{q}": percentile(values, quantile) * 1000 if values else float("nan")
               for kind, values in first.kinds.items() for q, quantile in (("p50", 0.5), ("p95", 0.95))},
            **{f"kind_{kind}_n": float(len(values)) for kind, values in first.kinds.items()},
            **{f"rss_{name}_mb": peak_rss_mb(pid) for name, pid in bot.pids.items()},
        }
        rows[bot.label]["rss_mb"] = rows[bot.label]["rss_rasa_mb"]
    return rows


def print_kinds(row: dict[str, float]) -> None:
    """Sequential turns of our stack by kind: which turns make the 95th percentile."""
    total = sum(row[f"kind_{kind}_n"] for kind in ("first", "decision", "other"))
    for kind in ("first", "decision", "other"):
        share = row[f"kind_{kind}_n"] / total if total else 0
        print(f"  {kind:9} {row[f'kind_{kind}_n']:4.0f} turns ({share:4.0%})  p50 {row[f'kind_{kind}_p50']:6.1f} ms"
              f"  p95 {row[f'kind_{kind}_p95']:6.1f} ms")


def nlu_latencies(base: str, token: str, texts: list[str], requests: int) -> list[float]:
    client = httpx.Client(timeout=60)
    latencies = []
    for i in range(requests):
        started = time.perf_counter()
        client.post(f"{base}/model/parse", params={"token": token},
                    json={"text": texts[i % len(texts)]}).raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} process exited")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not up")


@contextmanager
def starter_bot(workdir: Path, token: str) -> Iterator[Bot]:
    """`rasa init` (its training timed), then its model served by `rasa run`."""
    started = time.perf_counter()
    subprocess.run([RASA, "init", "--no-prompt", "--init-dir", str(workdir)], cwd=workdir, env=ENV,
                   check=True, capture_output=True, timeout=900)
    train_s = time.perf_counter() - started
    model = next((workdir / "models").glob("*.tar.gz"))
    log = workdir / "rasa-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([RASA, "run", "--enable-api", "--auth-token", token, "-i", "127.0.0.1",
                                 "-p", str(STARTER_PORT), "--model", str(model)],
                                cwd=workdir, env=ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            load_s = wait_up(f"http://127.0.0.1:{STARTER_PORT}/", proc)
        except RuntimeError:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        yield Bot("starter", f"http://127.0.0.1:{STARTER_PORT}", ["hello", "I am sad", "yes", "bye"],
                  lambda replies: None, ["hello", "I am sad", "great"], {"rasa": proc.pid}, load_s, train_s)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def our_training_time(workdir: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*TRAIN, "--config", "assistant/config.yml", "--domain", "assistant/domain",
                    "--data", "data/nlu", "data/rules", "data/stories", "--out", str(workdir)],
                   cwd=ROOT, env=ENV, check=True, capture_output=True, timeout=1200)
    return time.perf_counter() - started


def starter_with_our_command(starter_dir: Path) -> float:
    """The starter's project trained again with our training command: how much of the
    training ratio is the command (the autotune fix) rather than our model's size."""
    started = time.perf_counter()
    subprocess.run([*TRAIN, "--out", str(starter_dir / "models-ours")], cwd=starter_dir,
                   env={**ENV, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True, timeout=1200)
    return time.perf_counter() - started


def fresh_sqlite(env: dict[str, str], folder: Path) -> None:
    """A migrated and seeded SQLite database of its own (as `make db` makes var/coa.db)."""
    env["DATABASE_URL"] = f"sqlite:///{folder / 'coa.db'}"
    for argv in (["alembic", "upgrade", "head"], ["api.seed"]):
        subprocess.run([str(API_VENV / "bin" / "python"), "-m", *argv], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)


@contextmanager
def ours(token: str, database: Path | None = None, ports: Ports | None = None) -> Iterator[Bot]:
    """Our whole stack (Rasa, action server, API), on a fresh SQLite database when given,
    on the contract ports unless others are given."""
    env = dict(ENV)
    if database is not None:
        fresh_sqlite(env, database)
    log_dir = ROOT / "var" / "log" / ("bench" if ports is None else f"bench-{ports.rasa}")
    stack = Stack(env=env, ports=ports or Ports(), log_dir=log_dir,
                  rasa_extra_args=["--enable-api", "--auth-token", token])
    started = time.perf_counter()
    stack.start()
    load_s = time.perf_counter() - started
    try:
        yield Bot("ours", f"http://127.0.0.1:{stack.ports.rasa}",
                  ["een bewoonster wordt door haar broer bedreigd omdat ze niet wil trouwen", "nee"], ours_answer,
                  ["haar broer bedreigt haar", "ja", "nee hoor"],
                  {proc.name: proc.popen.pid for proc in stack.processes}, load_s, log_dir=log_dir)
    finally:
        stack.stop()


def smoke(token: str, workdir: Path) -> int:
    with ours(token, database=workdir, ports=SMOKE_PORTS) as bot:
        replies_seen: list[list[dict]] = []
        answer = bot.answer

        def recording(replies: list[dict]) -> str | None:
            replies_seen.append(replies)
            return answer(replies)

        bot.answer = recording
        mine = side_by_side([bot], token, SMOKE)["ours"]
        if not mine["seq_decisions"]:
            explain_failure(replies_seen[:SMOKE.sequential], bot.log_dir)
    print(f"smoke (ours only, {SMOKE.sequential} sequential turns, {SMOKE.concurrent} conversations at once for "
          f"{SMOKE.concurrent_seconds:.0f} s): seq p50 {mine['seq_p50']:.1f} ms, "
          f"concurrent p50 {mine['con_p50']:.1f} ms, "
          f"nlu p50 {mine['nlu_ms']:.1f} ms, load {mine['load_s']:.1f} s, Rasa RSS {mine['rss_mb']:.0f} MB, "
          f"protocols recorded {mine['seq_decisions']:.0f}")
    print_kinds(mine)
    if not mine["seq_decisions"]:
        print("FAIL: no sequential conversation reached a recorded decision", file=sys.stderr)
        return 1
    return 0


def explain_failure(replies_seen: list[list[dict]], log_dir: Path | None) -> None:
    """What the sequential turns got back, and the end of each process's log: a smoke that
    fails once in many CI runs must say why in that run's output."""
    print("replies to the sequential turns (text, buttons):", file=sys.stderr)
    for turn, replies in enumerate(replies_seen, start=1):
        shown = [f"{(r.get('text') or '')[:70]!r} {[b.get('payload') for b in r.get('buttons', [])]}" for r in replies]
        print(f"  turn {turn}: {shown or 'no reply'}", file=sys.stderr)
    for log in sorted(log_dir.glob("*.log")) if log_dir is not None else ():
        print(f"--- last lines of {log}:", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-training", action="store_true", help="do not time training from scratch")
    parser.add_argument("--smoke", action="store_true", help="our stack only, a few turns (make test)")
    args = parser.parse_args()
    # Hex, not token_urlsafe: it goes on Rasa's command line, and a token that starts with
    # "-" (1 run in 64) made `--auth-token` look like it had no value (rasa exited early).
    token = secrets.token_hex(24)
    workdir = Path(tempfile.mkdtemp(prefix="coa-bench-"))
    try:
        if args.smoke:
            return smoke(token, workdir)
        (workdir / "starter").mkdir()
        with starter_bot(workdir / "starter", token) as starter_bot_served, ours(token) as our_bot:
            rows = side_by_side([starter_bot_served, our_bot], token, Sizes())
        starter, mine = rows["starter"], rows["ours"]
        mine["train_s"] = float("nan") if args.skip_training else our_training_time(workdir / "models")
        starter_same = float("nan") if args.skip_training else starter_with_our_command(workdir / "starter")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    header = (f"{'bot':8} {'seq p50':>8} {'seq p95':>8} {'seq t/s':>8} {'10c p50':>8} {'10c p95':>8} "
              f"{'10c t/s':>8} {'nlu p50':>8} {'train s':>8} {'load s':>7} {'rss MB':>7}")
    print(header)
    for name, row in (("starter", starter), ("ours", mine)):
        print(f"{name:8} {row['seq_p50']:8.1f} {row['seq_p95']:8.1f} {row['seq_tput']:8.1f} "
              f"{row['con_p50']:8.1f} {row['con_p95']:8.1f} {row['con_tput']:8.1f} {row['nlu_ms']:8.1f} "
              f"{row['train_s']:8.0f} {row['load_s']:7.1f} {row['rss_mb']:7.0f}")
    print(f"ours: action server peak RSS {mine['rss_actions_mb']:.0f} MB, API {mine['rss_api_mb']:.0f} MB")
    print("ours, sequential turns by kind (a protocol's decision turn writes the incident before the reply):")
    print_kinds(mine)
    # Issue 16 target 3, ratios ours/starter from this one run.
    checks = [
        ("p50 ratio (sequential)", mine["seq_p50"] / starter["seq_p50"], "<=", 0.9),
        ("p95 ratio (sequential)", mine["seq_p95"] / starter["seq_p95"], "<=", 1.0),
        ("throughput ratio (10 concurrent)", mine["con_tput"] / starter["con_tput"], ">=", 1.2),
        ("training ratio (from scratch)", mine["train_s"] / starter["train_s"], "<=", 1.0),
    ]
    for label, value, op, target in checks:
        holds = value <= target if op == "<=" else value >= target
        print(f"{label} ours/starter: {value:.2f} (target {op} {target}): {'holds' if holds else 'NOT MET'}")
    print(f"starter trained with our command (assistant.rasa_cli): {starter_same:.0f} s; "
          f"ours/that: {mine['train_s'] / starter_same:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

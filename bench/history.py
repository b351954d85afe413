"""Issue 16, target 4: a turn in a conversation that already holds 10,000 events costs
no more than 1.2x a turn in a fresh one.

A counsellor's Teams conversation lives for months: every protocol she ever walked is
in the tracker store under one sender id. Rasa keeps a turn's cost bounded by sessions
(`session_expiration_time`: the tracker it loads, and sends to the action server, holds
only the latest session) and our tracker store by serving the tracker from memory after
one indexed query (assistant/tracker_store.py). This measures it end to end.

How: our stack (Rasa + action server + API on a fresh SQLite database) records one real
protocol conversation; its rows in Rasa's tracker store are then copied, as earlier
sessions a day apart, under a sender until it holds ``--events`` rows (one such long
conversation per walk). Then whole protocol walks are run alternately in a long
conversation and in a fresh one, turn by turn over the REST channel, and the medians and
95th percentiles are compared in this one run (the machine is shared and noisy: ratios, not absolute figures).

    .venv-api/bin/python bench/history.py             # 10,000 events, 6 walks each
    .venv-api/bin/python bench/history.py --smoke     # 1,000 events, 1 walk each (make test)
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import Ports, Stack  # noqa: E402
from turns import ENV, Conversations, fresh_sqlite, ours_answer, percentile  # noqa: E402

OPENING = ["een bewoonster wordt door haar broer bedreigd omdat ze niet wil trouwen", "nee"]
TARGET = 1.2
DAY = 86_400.0


def tracker_rows(db: Path, sender: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT type_name, timestamp, intent_name, action_name, data FROM events WHERE sender_id = ? ORDER BY id",
            (sender,),
        ).fetchall()


def grow_history(db: Path, template: list[tuple], sender: str, events: int) -> int:
    """Copies ``template`` (one recorded conversation, starting with its session start)
    under ``sender`` as earlier sessions one day apart, oldest first, until ``events``
    rows; the newest copy ended a day ago, so the next message starts a new session."""
    copies = -(-events // len(template))
    first = template[0][1]
    rows = []
    for index in range(copies):
        shift = time.time() - (copies - index) * DAY - first
        for type_name, timestamp, intent, action, data in template:
            # The JSON keeps the original timestamp: Rasa orders and filters by the column.
            rows.append((sender, type_name, timestamp + shift, intent, action, data))
    rows = rows[:events]
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def walk(conversations: Conversations, sender: str) -> list[float]:
    """One whole protocol walk as ``sender``: the turns' latencies in seconds."""
    latencies: list[float] = []
    queue = list(OPENING)
    while queue:
        text = queue.pop(0)
        started = time.perf_counter()
        response = conversations.client.post(conversations.url, json={
            "sender": sender, "message": text, "metadata": {"location": "TERAPEL"}})
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        follow_up = ours_answer(response.json())
        if follow_up:
            queue.insert(0, follow_up)
    return latencies


def run(events: int, walks: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="coa-bench-history-"))
    env = dict(ENV)
    fresh_sqlite(env, workdir)
    # Ports of its own: it may run next to `make run` or an e2e stack.
    stack = Stack(env=env, ports=Ports(api=18100, actions=15155, rasa=15105),
                  log_dir=ROOT / "var" / "log" / "bench-history")
    stack.start()
    try:
        url = f"http://127.0.0.1:{stack.ports.rasa}/webhooks/rest/webhook"
        conversations = Conversations(url, OPENING, ours_answer)
        template_sender = f"template-{uuid.uuid4().hex[:8]}"
        walk(conversations, template_sender)
        db = stack.state / "rasa_tracker.db"
        template = tracker_rows(db, template_sender)
        # One long conversation per walk: each walk is the first of a new day, as a
        # counsellor's next case is (a walk in the same session would measure a session
        # that grows during the run, which a fresh conversation does not have).
        long_senders = [f"long-{uuid.uuid4().hex[:8]}" for _ in range(walks)]
        stored_counts = [grow_history(db, template, sender, events) for sender in long_senders]
        stored = stored_counts[0]
        walk(conversations, f"warm-{uuid.uuid4().hex[:8]}")  # warm-up, not measured
        long_turns: list[float] = []
        fresh_turns: list[float] = []
        for sender in long_senders:
            long_turns += walk(conversations, sender)
            fresh_turns += walk(conversations, f"fresh-{uuid.uuid4().hex[:8]}")
        decisions = sum("Referentie" in (row[4] or "") for sender in long_senders
                        for row in tracker_rows(db, sender)[stored:])
    finally:
        stack.stop()
    return {
        "events": stored, "template": len(template), "turns": len(long_turns), "decisions": decisions,
        "long_p50": percentile(long_turns, 0.5) * 1000, "long_p95": percentile(long_turns, 0.95) * 1000,
        "fresh_p50": percentile(fresh_turns, 0.5) * 1000, "fresh_p95": percentile(fresh_turns, 0.95) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="rows in the long conversation")
    parser.add_argument("--walks", type=int, default=6, help="protocol walks in each kind of conversation")
    parser.add_argument("--smoke", action="store_true", help="1,000 events, one walk each (make test)")
    args = parser.parse_args()
    events, walks = (1_000, 1) if args.smoke else (args.events, args.walks)
    row = run(events, walks)
    ratio_p50 = row["long_p50"] / row["fresh_p50"]
    ratio_p95 = row["long_p95"] / row["fresh_p95"]
    print(f"history: {row['events']:.0f} events stored before ({row['template']:.0f} per copied conversation); "
          f"{row['turns']:.0f} turns in each kind of conversation")
    print(f"{'conversation':14} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'fresh':14} {row['fresh_p50']:8.1f} {row['fresh_p95']:8.1f}")
    print(f"{'long history':14} {row['long_p50']:8.1f} {row['long_p95']:8.1f}")
    print(f"ratio long/fresh: p50 {ratio_p50:.2f}, p95 {ratio_p95:.2f} (target <= {TARGET})")
    if not row["decisions"]:
        print("FAIL: the walks in the long conversation recorded no decision", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

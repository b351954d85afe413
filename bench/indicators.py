"""Benchmark: the indicator query over 1,000,000 incidents on PostgreSQL.

    .venv-api/bin/python bench/indicators.py [--incidents N] [--runs 5] [--reuse] [--smoke]

Creates (drops first) the database ``coa_bench`` on ``BENCH_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/coa_bench``), builds the schema from
the models (same tables and indexes as the migrations), seeds 5 locations, N
incidents over the last 2 years with one guidance session each, their review events
(about 2.3 per incident) and the follow-ups the API writes with each decision
(api/follow_ups/service.py `planned`, about 2 per incident, most confirmed) with COPY,
builds the indicator rollup (``api.indicators.rollup.rebuild``: COPY bypasses the ORM
that keeps it), runs ANALYZE, and then times ``api.indicators.service.indicators`` —
the same call as ``GET /api/v1/indicators`` — for an admin over a year by month, and
for a supervisor of one location over 12 weeks by week, checks that the figures equal
the direct query's (rollup switched off), times the dashboard's follow-up figures
(``api.follow_ups.indicators``, through its rollup) for the same two, and times
``GET /dashboard?periode=365`` for an admin over HTTP against uvicorn. Prints medians
and the EXPLAIN ANALYZE summary of the rollup's largest aggregate; exits 1 when the
figures differ or the period holds no follow-ups.

``--smoke`` (2,000 incidents, seconds) runs in ``make test`` (scripts/test.sh), so a
schema change that breaks the benchmark fails CI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.all_models import Base
from api.auth.cookies import SESSION_COOKIE
from api.auth.schemas import User
from api.auth.service import create_token
from api.config import get_settings
from api.db import make_engine
from api.follow_ups import rollup as follow_up_rollup
from api.follow_ups import service as follow_up_service
from api.follow_ups.indicators import FollowUpIndicators, follow_up_indicators
from api.indicators import rollup, rollup_read, service
from api.indicators.models import IndicatorRollupState
from api.indicators.norms_ref import get_norms
from api.indicators.schemas import Indicators
from api.knowledge_ref import get_knowledge
from bench.run_info import header, load

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/coa_bench"
LOCATIONS = ["TERAPEL", "BUDEL", "ZWOLLE", "GILZE", "MUSSELKANAAL"]
PROTOCOLS = ["eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap", "lhbti_ondersteuning"]
REFERRALS = ['["politie", "veilig_thuis"]', '["veilig_thuis"]', '["politie"]', '["fiom"]', '["coc", "politie"]']
CHUNK = 100_000


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    return (
        f"host={parsed.host or '127.0.0.1'} port={parsed.port or 5432} user={parsed.username or 'postgres'} "
        f"dbname={database or parsed.database}" + (f" password={parsed.password}" if parsed.password else "")
    )


def recreate_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_dsn(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def seed(url: str, count: int, now: datetime) -> None:
    rng = random.Random(5)
    knowledge = get_knowledge()
    span = timedelta(days=730).total_seconds()
    with psycopg.connect(_dsn(url)) as conn:
        conn.execute(
            "INSERT INTO locations (code, name, aliases) VALUES "
            + ", ".join(f"('{code}', '{code.title()}', '[]')" for code in LOCATIONS)
        )
        done = 0
        while done < count:
            size = min(CHUNK, count - done)
            incidents, sessions, events = io.StringIO(), io.StringIO(), io.StringIO()
            follow_ups, follow_up_events = io.StringIO(), io.StringIO()
            for number in range(done, done + size):
                incident_id = uuid.uuid4()
                location = LOCATIONS[number % len(LOCATIONS)]
                protocol = PROTOCOLS[rng.randrange(4)]
                created = now - timedelta(seconds=rng.random() * span)
                started = created - timedelta(minutes=rng.randrange(5, 60 * 30))
                conversation = f"bench-{number}"
                acute = "t" if rng.random() < 0.3 else "f"
                referrals = REFERRALS[rng.randrange(len(REFERRALS))]
                incidents.write(
                    f"{incident_id}\tB-{number}\tbench-key-{number}\t{conversation}\t{location}\t{protocol}\t1.0.0\t"
                    f"{acute}\t{referrals}\t[]\tuitkomst\tstf-{number % 500}\trest\t"
                    f"{_ts(created)}\n"
                )
                sessions.write(
                    f"{uuid.uuid4()}\t{conversation}\t0\tstf-{number % 500}\t{location}\trest\t{protocol}\t"
                    f"1.0.0\t{_ts(started)}\n"
                )
                # What the API writes with such a decision (api/follow_ups/service.py).
                for item in follow_up_service.planned(knowledge, protocol, json.loads(referrals), created):
                    follow_up_id, due = uuid.uuid4(), item["due_at"]
                    organisation = item["organisation"] or "\\N"
                    follow_ups.write(f"{follow_up_id}\t{incident_id}\t{item['key']}\t{item['action']}\t"
                                     f"{organisation}\t{item['norm']}\t{_ts(due)}\t{_ts(created)}\n")
                    outcome = rng.random()
                    if outcome < 0.2 and (due > now or outcome < 0.03):
                        continue  # still open; a few long past the deadline
                    status = "gedaan" if outcome < 0.75 else "niet_gedaan" if outcome < 0.9 else "vervallen"
                    # Most are confirmed in time; some late.
                    confirmed = created + (due - created) * rng.random() * (1.5 if outcome < 0.5 else 0.9)
                    follow_up_events.write(f"{follow_up_id}\t1\t{status}\t\\N\tstf-{number % 500}\t"
                                           f"{_ts(confirmed)}\n")
                roll = rng.random()
                if roll < 0.1:
                    continue  # nieuw
                at = created + timedelta(hours=rng.randrange(1, 72))
                trail = ["in_behandeling"]
                if roll < 0.2:
                    trail.append("correctie_gevraagd")  # open correction
                elif roll < 0.3:
                    trail += ["correctie_gevraagd", "gecorrigeerd", "afgehandeld"]
                else:
                    trail.append("afgehandeld")
                for status in trail:
                    events.write(f"{incident_id}\t{status}\tsup-{number % 50}\t\\N\t{_ts(at)}\n")
                    at += timedelta(hours=rng.randrange(1, 24 * 9))
            with conn.cursor() as cur:
                for table, columns, buffer in (
                    ("incidents", "id, reference, idempotency_key, conversation_id, location, protocol, "
                     "protocol_version, acute, referrals, steps, outcome, staff_id, channel, created_at", incidents),
                    ("guidance_sessions", "id, conversation_id, run_id, staff_id, location, channel, protocol, "
                     "protocol_version, started_at", sessions),
                    ("incident_review_events", "incident_id, status, actor, note, created_at", events),
                    ("follow_ups", "id, incident_id, key, action, organisation, norm, due_at, created_at", follow_ups),
                    ("follow_up_events", "follow_up_id, seq, status, reason, actor, created_at", follow_up_events),
                ):  # fmt: skip
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(buffer.getvalue())
            conn.commit()
            done += size
            print(f"  seeded {done:,} incidents", flush=True)
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def database_reference(engine) -> float:
    """The same virtual machine's database ran this 2x slower on one day than on another."""
    timings = []
    with engine.connect() as conn:
        for _ in range(3):
            started = time.perf_counter()
            conn.execute(text("SELECT sum(x) FROM generate_series(1, 1000000) AS x")).scalar()
            timings.append(time.perf_counter() - started)
    return min(timings)


def time_runs(engine, user: User, query: service.Query, runs: int) -> tuple[float, Indicators]:
    norms = get_norms()
    timings = []
    result = None
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            result = service.indicators(session, user, query, norms)
            timings.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(timings), result


def time_follow_ups(engine, user: User, query: service.Query, runs: int,
                    from_rollup: bool = True) -> tuple[float, FollowUpIndicators]:
    """The dashboard's follow-up figures: whole days from the follow-up rollup, the open
    follow-ups not yet due from ``open_follow_ups``, the partial first and last day from
    the base tables."""
    timings = []
    result = None
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            result = follow_up_indicators(session, user, query.now, location=query.location,
                                          date_from=query.date_from, date_to=query.date_to, from_rollup=from_rollup)
            timings.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(timings), result


def direct(engine, user: User, query: service.Query) -> tuple[float, Indicators]:
    """The same call with the rollup switched off (its state row removed in a
    transaction that is rolled back): the figures the rollup must equal."""
    with Session(engine) as session:
        session.execute(delete(IndicatorRollupState))
        started = time.perf_counter()
        result = service.indicators(session, user, query, get_norms())
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, result


def explain(engine, user: User, query: service.Query) -> list[str]:
    """EXPLAIN ANALYZE of the rollup's per-norm aggregate (the largest of the reads)."""
    with Session(engine) as session:
        for name, value in service.PG_SETTINGS.items():
            session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
        first, end = service._whole_days(query)
        stmt = rollup_read.norm_statement(
            session, lambda column: service._scope(user, column, query.location), first, end,
            rollup_read.Periods(first, end, query.granularity), get_norms(), 0.0,
        )  # fmt: skip
        compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        # Straight to psycopg without parameters: no placeholder parsing, so the
        # dialect's escaped %% must be undone.
        sql = str(compiled).replace("%%", "%")
        raw = session.connection().connection.driver_connection
        plan = raw.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}").fetchall()
        return [row[0] for row in plan]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_dashboard(url: str, runs: int) -> tuple[float, int]:
    """GET /dashboard?periode=365 as an admin over real HTTP against uvicorn."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "COA_ENV": "development"}
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=root, env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the API did not start")
            time.sleep(0.3)
        token = create_token(get_settings(), sub="bench-admin", role="admin", locations=())
        timings, size = [], 0
        with httpx.Client(base_url=base, cookies={SESSION_COOKIE: token}, timeout=120) as client:
            client.get("/dashboard", params={"periode": "365"})  # first request: templates, connections
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get("/dashboard", params={"periode": "365"})
                timings.append(time.perf_counter() - started)
                if response.status_code != 200 or "Dashboard" not in response.text:
                    raise RuntimeError(f"GET /dashboard: {response.status_code}")
                size = len(response.content)
        return statistics.median(timings), size
    finally:
        server.terminate()
        server.wait(timeout=30)


def prepare(url: str, incidents: int, now: datetime) -> None:
    print(f"creating {make_url(url).database} and seeding {incidents:,} incidents …", flush=True)
    started = time.perf_counter()
    recreate_database(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    # Secondary indexes are built once after the COPY (much faster than
    # maintaining them row by row); primary keys and unique constraints stay.
    indexes = [index for table in Base.metadata.sorted_tables for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    seed(url, incidents, now)
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
        conn.exec_driver_sql("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    # COPY bypasses the ORM, so the rollup is built set-wise, as after a norms change.
    started = time.perf_counter()
    with Session(engine) as session:
        rollup.rebuild(session, get_norms())
        follow_up_rollup.rebuild(session)
        session.commit()
    rollup.vacuum(engine)
    rollup.vacuum(engine, follow_up_rollup.TABLES)  # rebuilt after the VACUUM ANALYZE of the seed
    print(f"rollup built in {time.perf_counter() - started:.1f} s", flush=True)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="skip seeding when the database is already seeded")
    parser.add_argument("--smoke", action="store_true", help="2,000 incidents, 2 runs (make test)")
    args = parser.parse_args()
    if args.smoke:
        args.incidents, args.runs = 2_000, 2
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    now = datetime.now(UTC)
    print(header(f"bench/indicators.py --incidents {args.incidents} --runs {args.runs}"), flush=True)

    engine = make_engine(url)
    seeded = False
    if args.reuse:
        try:
            with engine.connect() as conn:
                seeded = (conn.execute(text("SELECT count(*) FROM incidents")).scalar() or 0) >= args.incidents
        except Exception:
            seeded = False
    engine.dispose()
    if not seeded:
        prepare(url, args.incidents, now)
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                  ("incidents", "incident_review_events", "guidance_sessions", "follow_ups", "follow_up_events",
                   "follow_up_days", "open_follow_ups", "indicator_days",
                   "indicator_norm_days", "indicator_review_times")}  # fmt: skip
    print("rows:", ", ".join(f"{table} {number:,}" for table, number in counts.items()))
    print(f"PostgreSQL reference: {database_reference(engine) * 1000:.0f} ms (sum over generate_series of 1M, "
          "best of 3; compares absolute figures across days)")  # fmt: skip

    scenarios = [
        ("admin, all locations, last 12 months by month", User(sub="bench-admin", role="admin"),
         service.Query(now - timedelta(days=365), now, "month", None, now)),
        ("supervisor TERAPEL, last 12 weeks by week", User(sub="bench-sup", role="supervisor", locations=("TERAPEL",)),
         service.Query(now - timedelta(weeks=12), now, "week", None, now)),
    ]  # fmt: skip
    equal = True
    for label, user, query in scenarios:
        median, result = time_runs(engine, user, query, args.runs)
        slow, expected = direct(engine, user, query)
        same = result.model_dump() == expected.model_dump()
        equal &= same
        print(f"indicators [{label}]: median {median * 1000:.0f} ms over {args.runs} runs ({len(result.rows)} rows); "
              f"direct query {slow * 1000:.0f} ms; figures equal: {'yes' if same else 'NO'}", flush=True)  # fmt: skip
        median, figures = time_follow_ups(engine, user, query, args.runs)
        slow, expected = time_follow_ups(engine, user, query, 1, from_rollup=False)
        same = figures.model_dump() == expected.model_dump()
        equal &= same
        print(f"follow-ups [{label}]: median {median * 1000:.0f} ms over {args.runs} runs "
              f"({figures.totals.total:,} follow-ups, {len(figures.per_norm)} norms); "
              f"direct query {slow * 1000:.0f} ms; figures equal: {'yes' if same else 'NO'}", flush=True)  # fmt: skip
        if not figures.totals.total:
            print("FAIL: the period holds no follow-ups", file=sys.stderr)
            equal = False
    median, size = time_dashboard(url, args.runs)
    print(f"GET /dashboard?periode=365 [admin, end to end over HTTP]: median {median * 1000:.0f} ms "
          f"over {args.runs} runs ({size:,} bytes)")  # fmt: skip
    print("\nEXPLAIN ANALYZE (rollup per-norm aggregate, admin scenario):")
    for line in explain(engine, scenarios[0][1], scenarios[0][2]):
        if any(key in line for key in ("Aggregate", "Scan", "Sort ", "Execution Time", "Planning Time")):
            print("  " + line.strip())
    engine.dispose()
    print(f"finished: {load()}")
    if not equal:
        print("FAIL: a rollup's figures differ from the direct query's, or no follow-ups", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

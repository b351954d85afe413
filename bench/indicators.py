"""Benchmark: the indicator query over 1,000,000 incidents on PostgreSQL.

    .venv-api/bin/python bench/indicators.py [--incidents N] [--runs 5] [--keep]

Creates (drops first) the database ``coa_bench`` on ``BENCH_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/coa_bench``), builds the schema from
the models (same tables and indexes as the migrations), seeds 5 locations, N
incidents over the last 2 years with one guidance session each and their review
events (about 2.3 per incident) with COPY, runs ANALYZE, and then times
``api.indicators.service.indicators`` — the same call as ``GET /api/v1/indicators``
— for an admin over a year by month, and for a supervisor of one location over 12
weeks by week. Prints the median of the runs and the EXPLAIN ANALYZE summary of
the main aggregate. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.all_models import Base
from api.auth.schemas import User
from api.db import make_engine
from api.indicators import service
from api.indicators.norms_ref import get_norms

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
            for number in range(done, done + size):
                incident_id = uuid.uuid4()
                location = LOCATIONS[number % len(LOCATIONS)]
                protocol = PROTOCOLS[rng.randrange(4)]
                created = now - timedelta(seconds=rng.random() * span)
                started = created - timedelta(minutes=rng.randrange(5, 60 * 30))
                conversation = f"bench-{number}"
                acute = "t" if rng.random() < 0.3 else "f"
                incidents.write(
                    f"{incident_id}\tB-{number}\tbench-key-{number}\t{conversation}\t{location}\t{protocol}\t1.0.0\t"
                    f"{acute}\t{REFERRALS[rng.randrange(len(REFERRALS))]}\t[]\tuitkomst\tstf-{number % 500}\trest\t"
                    f"{_ts(created)}\n"
                )
                sessions.write(
                    f"{uuid.uuid4()}\t{conversation}\tstf-{number % 500}\t{location}\trest\t{protocol}\t1.0.0\t"
                    f"{_ts(started)}\n"
                )
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
                    ("guidance_sessions", "id, conversation_id, staff_id, location, channel, protocol, "
                     "protocol_version, started_at", sessions),
                    ("incident_review_events", "incident_id, status, actor, note, created_at", events),
                ):  # fmt: skip
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(buffer.getvalue())
            conn.commit()
            done += size
            print(f"  seeded {done:,} incidents", flush=True)
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def time_runs(engine, user: User, query: service.Query, runs: int) -> tuple[float, int]:
    norms = get_norms()
    timings = []
    rows = 0
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            result = service.indicators(session, user, query, norms)
            timings.append(time.perf_counter() - started)
            rows = len(result.rows)
    return statistics.median(timings), rows


def explain(engine, user: User, query: service.Query) -> list[str]:
    with Session(engine) as session:
        for name, value in service.PG_SETTINGS.items():
            session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
        stmt = service.incident_statement(session, user, query, get_norms())
        compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        # Straight to psycopg without parameters: no placeholder parsing, so the
        # dialect's escaped %% must be undone.
        sql = str(compiled).replace("%%", "%")
        raw = session.connection().connection.driver_connection
        plan = raw.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}").fetchall()
        return [row[0] for row in plan]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="skip seeding when the database is already seeded")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    now = datetime.now(UTC)

    engine = make_engine(url)
    seeded = False
    if args.reuse:
        try:
            with engine.connect() as conn:
                seeded = (conn.execute(text("SELECT count(*) FROM incidents")).scalar() or 0) >= args.incidents
        except Exception:
            seeded = False
    if not seeded:
        engine.dispose()
        print(f"creating {make_url(url).database} and seeding {args.incidents:,} incidents …", flush=True)
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
        seed(url, args.incidents, now)
        with engine.begin() as conn:
            for index in indexes:
                index.create(conn)
            conn.exec_driver_sql("ANALYZE")
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                  ("incidents", "incident_review_events", "guidance_sessions")}  # fmt: skip
    print("rows:", ", ".join(f"{table} {number:,}" for table, number in counts.items()))

    scenarios = [
        ("admin, all locations, last 12 months by month", User(sub="bench-admin", role="admin"),
         service.Query(now - timedelta(days=365), now, "month", None, now)),
        ("supervisor TERAPEL, last 12 weeks by week", User(sub="bench-sup", role="supervisor", locations=("TERAPEL",)),
         service.Query(now - timedelta(weeks=12), now, "week", None, now)),
    ]  # fmt: skip
    for label, user, query in scenarios:
        median, rows = time_runs(engine, user, query, args.runs)
        print(f"indicators [{label}]: median {median * 1000:.0f} ms over {args.runs} runs ({rows} rows)")
    print("\nEXPLAIN ANALYZE (main aggregate, admin scenario):")
    for line in explain(engine, scenarios[0][1], scenarios[0][2]):
        if any(
            key in line
            for key in (
                "Aggregate",
                "Join",
                "Scan",
                "Sort ",
                "Execution Time",
                "Planning Time",
                "JIT",
                "Timing",
                "Functions",
            )
        ):
            print("  " + line.strip())
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

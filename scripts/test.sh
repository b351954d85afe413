#!/usr/bin/env bash
# `make test`: set-up, lint, pytest in each environment (assistant: Python 3.10 / Rasa;
# API: Python 3.11) and the benchmarks' smoke runs, in two lanes that run at the same
# time (issue 16: the whole of make test under 25 minutes on a fresh clone of this
# 2-core machine). Run one after the other, most stages keep one core busy and leave the
# other idle: pip, the API suite, deduce's tables; only the model's training and the NLU
# cross-validation want both.
#
#   assistant lane: Rasa environment + model -> assistant suite -> page suite -> smokes
#   API lane:       API environment + database -> ruff -> API suite -> end-to-end suite
#                   (once the model is there) -> the other smokes
#
# Nothing is shared between the lanes but the machine: each suite and smoke has its own
# ports and databases. Only the end-to-end suite uses the contract ports (it takes
# /tmp/coa-e2e.lock); the smokes that start the whole stack run on ports of their own,
# so they need not wait for it (issue 16: in CI's run of stop 25 the load smoke waited
# six minutes for that lock, and the API lane's smokes waited for the end-to-end suite).
# Every stage runs even when an earlier one failed, so one run shows every failure.
# The API lane's output streams; the assistant lane's is printed when both have ended.
set -uo pipefail
cd "$(dirname "$0")/.."
lanes=test-artifacts/lanes
rm -rf "$lanes"
mkdir -p "$lanes"
started_all=$SECONDS

stage() {
  local name=$1; shift
  local started=$SECONDS
  echo
  echo "==== $name"
  if "$@"; then echo "==== $name: ok"; else echo "==== $name: FAILED"; echo "$name" >> "$lanes/failed"; fi
  echo "$((SECONDS - started)) s  [$lane] $name" >> "$lanes/timings"
}

# A lane's set-up step is done (or failed: its stage says so); the other lane may go on.
done_with() { touch "$lanes/$1.done"; }
after() { while [ ! -e "$lanes/$1.done" ]; do sleep 2; done; }

pytest_in() {
  local venv=$1; shift
  "$venv/bin/python" -m pytest -p no:cacheprovider --durations=15 "$@"
}

assistant_lane() {
  local lane=assistant
  stage "set-up: Rasa environment and model" make --no-print-directory model
  done_with model
  after api-env  # tests/actions/test_directory_live.py starts the API
  stage "pytest (assistant env, Python 3.10)" pytest_in .venv-rasa \
    tests/knowledge tests/actions tests/channels tests/assistant
  # The pages (most in chromium): an API-side suite, run in this lane because it ends its
  # own suite minutes before the API lane ends its two. Its PostgreSQL databases are not
  # the API suite's, which runs at the same time (tests/api/conftest.py: postgres_url).
  stage "pytest (API env, pages)" env \
    TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/coa_test}_web" \
    .venv-api/bin/python -m pytest -p no:cacheprovider --durations=15 tests/web
  # Benchmarks at tiny sizes (seconds each), so a schema change that breaks one fails
  # here and not on the next `make bench` (issue 16); each on ports of its own.
  stage "bench smoke: turns (our stack, a few turns, its own ports)" \
    .venv-api/bin/python bench/turns.py --smoke
  stage "bench smoke: load (2 simulated counsellors, 20 s, its own ports)" \
    .venv-api/bin/python bench/load.py --smoke
  stage "bench smoke: history (1,000 events before, its own ports)" \
    .venv-api/bin/python bench/history.py --smoke
}

api_lane() {
  local lane=API
  stage "set-up: API environment, de-identification tables, database" \
    make --no-print-directory api-env db
  done_with api-env
  stage "ruff" .venv-api/bin/ruff check .
  stage "pytest (API env, Python 3.11)" pytest_in .venv-api \
    tests/knowledge tests/api tests/security tests/deploy
  after model
  stage "pytest (API env, end to end)" pytest_in .venv-api tests/e2e
  stage "bench smoke: indicators (2,000 incidents, PostgreSQL)" env \
    BENCH_DATABASE_URL="${BENCH_SMOKE_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/coa_bench_smoke}" \
    .venv-api/bin/python bench/indicators.py --smoke
  stage "bench smoke: API memory (2 workers, one de-identification process)" \
    .venv-api/bin/python bench/api_memory.py --smoke
  stage "bench smoke: scale-out (two Rasa replicas vs one, 2 at once, 5 s each, its own ports)" \
    .venv-api/bin/python bench/scale_out.py --smoke
}

assistant_lane > "$lanes/assistant.log" 2>&1 &
assistant_pid=$!
echo "==== assistant lane: started beside the API lane; its output follows it ($lanes/assistant.log)"
api_lane
wait "$assistant_pid"
echo
echo "==== assistant lane (output)"
cat "$lanes/assistant.log"

echo
echo "stage times, in the order they ended; the two lanes ran side by side"
echo "(issue 16: the whole of make test under 25 minutes on a fresh clone):"
sed 's/^/  /' "$lanes/timings"
echo "  $((SECONDS - started_all)) s  all stages"
if [ -s "$lanes/failed" ]; then
  echo "FAILED stages: $(paste -sd ';' "$lanes/failed")"
  exit 1
fi
echo "all test stages passed"

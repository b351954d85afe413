#!/usr/bin/env bash
# `make test` after set-up: lint, then pytest in each
# environment (assistant: Python 3.10 / Rasa; API: Python 3.11). Every stage runs
# even when an earlier one failed, so one run shows every failure.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
failed=()
timings=()

stage() {
  local name=$1; shift
  local started=$SECONDS
  echo
  echo "==== $name"
  if "$@"; then echo "==== $name: ok"; else echo "==== $name: FAILED"; failed+=("$name"); fi
  timings+=("$((SECONDS - started)) s  $name")
}

stage "ruff" .venv-api/bin/ruff check .
stage "pytest (assistant env, Python 3.10)" .venv-rasa/bin/python -m pytest -p no:cacheprovider --durations=15 \
  tests/knowledge tests/actions tests/channels tests/assistant
stage "pytest (API env, Python 3.11)" .venv-api/bin/python -m pytest -p no:cacheprovider --durations=15 \
  tests/knowledge tests/api tests/web tests/security tests/deploy tests/e2e

# Benchmarks at tiny sizes (seconds each), so a schema change that breaks one fails
# here and not on the next `make bench` (issue 16). bench/turns.py and bench/load.py
# start the whole Rasa stack on the contract ports: they take /tmp/coa-e2e.lock like
# the end-to-end tests (load.py takes it itself).
stage "bench smoke: indicators (2,000 incidents, PostgreSQL)" env \
  BENCH_DATABASE_URL="${BENCH_SMOKE_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/coa_bench_smoke}" \
  .venv-api/bin/python bench/indicators.py --smoke
stage "bench smoke: API memory (2 workers, one de-identification process)" \
  .venv-api/bin/python bench/api_memory.py --smoke
stage "bench smoke: turns (our stack, a few turns)" \
  flock /tmp/coa-e2e.lock .venv-api/bin/python bench/turns.py --smoke
stage "bench smoke: history (1,000 events before, its own ports)" \
  .venv-api/bin/python bench/history.py --smoke
stage "bench smoke: load (2 simulated counsellors, 20 s)" \
  .venv-api/bin/python bench/load.py --smoke
stage "bench smoke: scale-out (two Rasa replicas vs one, 2 at once, 5 s each, its own ports)" \
  .venv-api/bin/python bench/scale_out.py --smoke

echo
echo "stage times (issue 16: the whole of make test under 25 minutes on a fresh clone):"
printf '  %s\n' "${timings[@]}"
echo "  $SECONDS s  all stages"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
echo "all test stages passed"

# The two commands of the contract: `make run` and `make test`. Both do all set-up
# on a fresh machine: environments, spaCy pipeline, model (when inputs changed),
# database schema and demo data.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RASA_VENV := .venv-rasa
API_VENV  := .venv-api
PY311     ?= python3
ROLE      ?= counsellor
LOCATION  ?=

# A per-machine development secret for signing local tokens (never committed).
-include var/dev.env
export COA_JWT_SECRET

.PHONY: help envs api-env model db setup run test token lint bench clean browser proxy

help:
	@echo "make run    start API, action server and Rasa (does all set-up first)"
	@echo "make test   set up, then run the whole test suite"
	@echo "make token ROLE=<counsellor|contact_person|supervisor|admin> [LOCATION=<code>]"

# Owner-only (issue 14): the secret, and the databases `db` creates in var/.
var/dev.env:
	@mkdir -p -m 700 var
	@umask 077 && echo "COA_JWT_SECRET=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" > $@

$(RASA_VENV)/.stamp: requirements/assistant.in requirements/assistant.lock scripts/make_venv.sh
	scripts/make_venv.sh $(RASA_VENV) "$$(scripts/find_python310.sh)" requirements/assistant.in requirements/assistant.lock
	@touch $@

$(API_VENV)/.stamp: requirements/api.in requirements/api.lock scripts/make_venv.sh
	@$(PY311) -c 'import sys; assert sys.version_info >= (3, 11), "the API needs Python 3.11+ (set PY311=...)"'
	scripts/make_venv.sh $(API_VENV) "$(PY311)" requirements/api.in requirements/api.lock
	@touch $@

# Front-end libraries (charts, flowcharts, chat client) come from the npm registry
# and are served by the API itself: nothing is fetched from a CDN at run time.
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Browser tests drive Debian's chromium (a browser download is not possible here).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# The production proxy's rules are tested with the real haproxy (tests/deploy/test_proxy_rules.py).
proxy:
	@command -v haproxy >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null; }

envs: $(RASA_VENV)/.stamp $(API_VENV)/.stamp var/dev.env $(if $(wildcard package.json),node_modules/.stamp)

model: $(RASA_VENV)/.stamp
	$(RASA_VENV)/bin/python scripts/train.py

db: $(API_VENV)/.stamp var/dev.env
	umask 077 && $(API_VENV)/bin/alembic upgrade head
	umask 077 && $(API_VENV)/bin/python -m api.seed

# deduce (the API's de-identification) builds its lookup tables on its first load in a
# new environment: minutes on this 2-core machine, then seconds from its cache. Built
# here, next to the model's training, instead of in the first API start (a test's
# health-check deadline, or a counsellor's first request).
$(API_VENV)/.deduce-stamp: $(API_VENV)/.stamp
	$(API_VENV)/bin/python -c 'from deduce import Deduce; Deduce()'
	@touch $@

# What the API side needs before its first start; the model is the Rasa side's.
api-env: $(API_VENV)/.deduce-stamp var/dev.env $(if $(wildcard package.json),node_modules/.stamp)

# The two sides build at the same time: pip keeps one core busy, so the Rasa environment
# and the model's training overlap the API environment and deduce's tables.
setup:
	@$(MAKE) --no-print-directory -j2 model api-env
	@$(MAKE) --no-print-directory db

run: setup
	@$(API_VENV)/bin/python scripts/run.py

# Set-up is part of scripts/test.sh: its two lanes build the two sides (as `setup` does)
# and start each side's tests as soon as that side is ready.
test: browser proxy
	@scripts/test.sh

token: $(API_VENV)/.stamp var/dev.env
	@$(API_VENV)/bin/python -m api.auth.token_cli --role "$(ROLE)" $(if $(LOCATION),--location "$(LOCATION)")

lint: $(API_VENV)/.stamp
	$(API_VENV)/bin/ruff check .

clean:
	rm -rf $(RASA_VENV) $(API_VENV) models build var

# Turn latency against Rasa's starter bot, NLU floor, training and load time, RSS;
# a turn in a long conversation against a fresh one; two Rasa replicas behind the
# pinning proxy on PostgreSQL + Redis against one, with the incident write p95 under
# that load (bench/scale_out.py, its own ports and databases).
# Not part of `make test` (their smoke runs are): it takes several minutes and wants a quiet machine.
bench: setup
	flock /tmp/coa-e2e.lock $(API_VENV)/bin/python bench/turns.py
	$(API_VENV)/bin/python bench/history.py
	$(API_VENV)/bin/python bench/scale_out.py

# Load and soak (issue 7 part 4): 50 simulated counsellors (locust) running whole
# protocols for 5 minutes, then 0 errors / 0 lost incidents checked via the API;
# prints p95 turn latency and throughput. Uses a running `make run` stack, else
# starts its own under /tmp/coa-e2e.lock. USERS=, RUN_TIME= override the defaults.
USERS    ?= 50
RUN_TIME ?= 5m
.PHONY: load
load: envs model
	$(API_VENV)/bin/python bench/load.py --users $(USERS) --run-time $(RUN_TIME)

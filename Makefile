# LeadFlow. `make run` sets up and starts everything; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export LEADFLOW_PORT ?= 8000
# `make bench`: the benchmark database (created if missing, seeded once) and its size. The
# database: BENCH_DATABASE_URL, else `<name>_bench` next to a PostgreSQL DATABASE_URL, else
# postgres://postgres@127.0.0.1:5432/leadflow_bench (see bench/run.py).
export BENCH_LEADS ?= 100000

.PHONY: setup run test loadtest bench lint format migrations-check check clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed
	mkdir -p var

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "LeadFlow is starting at http://127.0.0.1:$(LEADFLOW_PORT)/  (web + Celery worker + beat; Ctrl-C stops all)"
	@echo
	DEBUG=$${DEBUG:-1} $(VENV)/bin/honcho start -f Procfile.dev

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Not part of `make test`: a private PostgreSQL + Redis + gunicorn + Celery on 127.0.0.1, 60 s of
# load, then PostgreSQL and Redis faults (loadtest/run.py). About 3 minutes; figures in loadtest/results/.
loadtest: setup
	$(PY) loadtest/run.py $(LOADTEST_ARGS)
# Seeds BENCH_LEADS leads into the benchmark database once (reused afterwards), times every page
# and job (pages incl. dashboard and call page, the dispatcher with BENCH_DISPATCH due follow-ups),
# writes bench/results/ and prints the table. BENCH_PARTS=pages,dispatcher runs a subset. `make bench BENCH_LEADS=1000000` for the big run.
bench: setup
	$(PY) -m bench.run

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: setup
	$(PY) manage.py makemigrations --check --dry-run

check: setup
	$(PY) manage.py check --fail-level WARNING

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache

# The few commands people type. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

HOST ?= 127.0.0.1
PORT ?= 8000
# The interpreter comes from this machine (pyenv, or python3.12 on PATH); never downloaded.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

# Use uv when it works; otherwise bootstrap it into .tools with pip.
UV := $(shell if uv --version >/dev/null 2>&1; then echo uv; else echo .tools/bin/uv; fi)
PY := .venv/bin/python
SQLITE_TESTS := tests/coupons/api/test_discounts.py tests/coupons/api/test_reservations.py \
	tests/coupons/api/test_campaign_redemptions.py tests/coupons/api/test_reservation_reclaim.py

.PHONY: help setup run serve test test-pgbouncer test-ha lint migrate bench clean

help:
	@echo "make run    set up .venv, migrate, serve on $$HOST:$$PORT (SQLite unless DATABASE_URL)"
	@echo "make test   set up .venv, then ruff, mypy, the import contracts, makemigrations --check and pytest"
	@echo "make test-pgbouncer  the burst and idempotency tests through PgBouncer (transaction mode)"
	@echo "make test-ha  a switchover and a killed primary under load, on Patroni (bin/with-ha)"
	@echo "make bench  load-test the production server against PostgreSQL"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(if $(filter uv,$(UV)),,.tools/bin/uv)
	$(UV) sync --frozen --all-groups
	@touch $@

setup: .venv/.synced

migrate: setup
	$(PY) manage.py migrate --noinput

# Development server (bin/serve, the production command: its header cap, proxy-header setting
# and error answers) with one worker process, and beside it the background worker that returns
# expired holds (bin/run-all starts and stops both); debug on unless told otherwise; a local secret
# is generated once (production refuses to start without DJANGO_SECRET_KEY, config/asgi.py).
run: migrate
	@test -s .secret-key || $(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > .secret-key
	@# With DJANGO_DEBUG=0 the admin's and Swagger UI's files come from STATIC_ROOT (hashed
	@# names, WhiteNoise): collect them, as the Docker build does.
	$(PY) manage.py collectstatic --noinput --verbosity 0
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} \
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$(cat .secret-key)} \
	DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],$(HOST)} \
	PYTHON=$(PY) HOST=$(HOST) PORT=$(PORT) WEB_CONCURRENCY=$${WEB_CONCURRENCY:-1} \
	exec bin/run-all

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .
	.venv/bin/lint-imports --no-cache

test: lint
	@# Models against migration files only: no database needed (an in-memory SQLite spares
	@# a 10 s wait when DATABASE_URL names a database that does not exist yet).
	DATABASE_URL= SQLITE_PATH=:memory: $(PY) manage.py makemigrations --check --dry-run
	.venv/bin/pytest --create-db $(PYTEST_ARGS)
	@# Discounts, holds and campaigns again on SQLite, the embedded default of `make run`
	@# (its raw rows hand back floats and text where PostgreSQL hands back Decimals and uuids).
	DATABASE_URL= SQLITE_PATH=$(CURDIR)/.test-db.sqlite3 COUPONS_REQUIRE_POSTGRES=0 \
	  .venv/bin/pytest --create-db $(SQLITE_TESTS) $(PYTEST_ARGS)

# The burst, hold and idempotency tests again, through Debian's PgBouncer in transaction mode
# on loopback (bin/with-pgbouncer starts it, and fails when it cannot), with the settings
# README gives for that mode (DB_TRANSACTION_POOLING=1).
PGBOUNCER_TESTS := tests/reliability/test_pgbouncer.py tests/coupons/concurrency tests/access/test_idempotency.py \
	tests/events/test_event_log.py tests/webhooks/test_worker_delivery.py
test-pgbouncer: setup
	bin/with-pgbouncer .venv/bin/pytest --create-db $(PGBOUNCER_TESTS) $(PYTEST_ARGS)

# A planned switchover and a kill -9 of the primary under keyed load, on two PostgreSQL nodes
# under Patroni with etcd on loopback (bin/with-ha starts them, installing Debian's patroni
# and etcd-server when missing, and fails when they cannot start); prints the recovery times.
test-ha: setup
	bin/with-ha .venv/bin/pytest tests/ha -s -q -p no:cacheprovider $(PYTEST_ARGS)

# Load test: the production server (bin/serve) and the bare ASGI yardstick under wrk against
# PostgreSQL (BENCH_DATABASE_URL, default a coupons_bench database on 127.0.0.1:5432).
bench: setup
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  { echo "bench: installing wrk (Debian package)"; apt-get install -y wrk >/dev/null 2>&1 || \
	    { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }; }
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk"; exit 1; }
	$(PY) -m bench.run

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache

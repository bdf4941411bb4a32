# One entry point for everything: see README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ROWS ?= 1000000

.PHONY: venv up seed services demo test test-tools unit lint down status env bench bench-deps rebuild-read-model lock

# Every package pinned and checked by hash (requirements/dev.lock: the runtime lock's pins
# plus the development tools); the client and the service are installed editable on top.
$(VENV)/.installed: requirements/dev.lock pyproject.toml client/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e ./client -e .
	touch $@

venv: $(VENV)/.installed

up: venv
	scripts/stack.sh up

seed: up
	scripts/stack.sh seed $(ROWS)

# Restarted rather than started, so the worker and API always run the code in this tree.
services: seed
	scripts/stack.sh restart-services

# Every script run here sees the stack's settings, as the services do (among them
# EXPORT_ENVIRONMENT=development, without which the development secrets are refused).
demo: services
	eval "$$(scripts/stack.sh env)" && $(PY) scripts/demo.py

# Chromium, tmux and docker-compose, for the web page's, exportctl's and packaging tests.
test-tools:
	scripts/test-tools.sh

# The tests see the stack's settings (S3 endpoint, SFTP and SMTP servers) as the services do.
test: lint test-tools services
	eval "$$(scripts/stack.sh env)" && $(PY) -m pytest -q -p no:cacheprovider --durations=12

unit: venv
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

# stack/supervise.py and stack/probe.py are scripts of the stack, outside the packages mypy
# checks by default.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy stack/supervise.py stack/probe.py

# The peers' libraries (pandas, polars) live in a venv of their own: ADBC's DB-API imports
# them when present, which would swell the service's own workers.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: requirements/dev.lock bench/requirements.lock pyproject.toml client/pyproject.toml
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock -r bench/requirements.lock
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e ./client -e .
	touch $@

bench-deps: $(BENCH_VENV)/.installed

bench: venv bench-deps
	scripts/stack.sh up
	eval "$$(scripts/stack.sh env)" && $(BENCH_VENV)/bin/python bench/csv_end_to_end.py
	eval "$$(scripts/stack.sh env)" && $(BENCH_VENV)/bin/python bench/formats_end_to_end.py
	eval "$$(scripts/stack.sh env)" && $(BENCH_VENV)/bin/python bench/delivery_end_to_end.py

rebuild-read-model: venv
	eval "$$(scripts/stack.sh env)" && $(PY) -m projections.rebuild

# Regenerates the locks with uv, keeping every pin they hold unless UPGRADE=--upgrade:
# runtime (what the image installs), dev (the same pins plus the tools), the Dockerfile's
# build stage, the client's own (its tests run with nothing else), and the benchmarks' peers.
# The client is this checkout's own, installed from its folder or wheel: no pin, no hash.
LOCK := $(VENV)/bin/uv pip compile --quiet --no-header --generate-hashes --python-version 3.11 $(UPGRADE)
lock: venv
	$(LOCK) pyproject.toml --no-emit-package export-client -o requirements/runtime.lock
	$(LOCK) pyproject.toml --extra dev --no-emit-package export-client -c requirements/runtime.lock \
	  -o requirements/dev.lock
	$(LOCK) client/pyproject.toml --extra test -c requirements/dev.lock -o client/requirements.lock
	$(LOCK) requirements/build.in -c requirements/runtime.lock -o requirements/build.lock
	$(LOCK) bench/requirements.in -c requirements/dev.lock --no-emit-package python-dateutil \
	  --no-emit-package six -o bench/requirements.lock

down:
	scripts/stack.sh down

status:
	@scripts/stack.sh status

env:
	@scripts/stack.sh env

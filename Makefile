# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format install system-deps bench-import bench-scan bench-frequency bench-supervision bench-pages bench-stats bench-export bench-api bench-caps bench-field clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

run: install system-deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py rotate_signing_key --if-missing
	$(PY) manage.py audit_checkpoint_key --if-missing
	$(PY) manage.py load_demo
	$(PY) manage.py audit_checkpoint
	@echo "检查码平台：http://127.0.0.1:8000/  （后台任务队列随之启动，用于发送通知）"
	$(PY) manage.py qcluster & QPID=$$!; trap "kill $$QPID 2>/dev/null" EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

test: install system-deps
	$(PY) -m pytest -p no:cacheprovider -n $${PYTEST_WORKERS:-2}

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache pyproject.toml

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench-import: install
	$(PY) bench/bench_import.py

# Needs PostgreSQL (DATABASE_URL's server, else postgres@127.0.0.1:5432) and Redis (REDIS_URL, else local);
# installs Debian's wrk if it is missing.
bench-scan: install
	$(PY) bench/bench_scan.py

# Needs PostgreSQL (DATABASE_URL's server, else postgres@127.0.0.1:5432); about 20 GB of disk for a while.
bench-frequency: install
	$(PY) bench/bench_frequency.py

# Needs PostgreSQL (DATABASE_URL's server, else postgres@127.0.0.1:5432); about 20 GB of disk for a while.
bench-supervision: install
	$(PY) bench/bench_supervision.py

bench-api: install
	$(PY) bench/bench_api.py

# The field app's figures (issue 15): shell size, first screen offline, a visit with five photos synced; a
# browser test that prints them (Chromium, localhost).
bench-field: install
	$(PY) -m pytest tests/browser/test_field_sync_figures.py -p no:cacheprovider -n 0 -q -s

# Needs a PostgreSQL database filled by generate_synthetic in DATABASE_URL (see bench/bench_pages.py).
bench-pages: install
	$(PY) bench/bench_pages.py

bench-stats: install
	$(PY) bench/bench_stats.py

# Needs a PostgreSQL database filled by generate_synthetic in DATABASE_URL (see bench/bench_export.py).
bench-export: install
	$(PY) bench/bench_export.py

# Needs a PostgreSQL database filled by generate_synthetic in DATABASE_URL (see bench/bench_caps.py).
bench-caps: install
	$(PY) bench/bench_caps.py

clean:
	rm -rf $(VENV) db.sqlite3 var

# OpsDesk: `make run` starts the desk with demo data, `make test` runs the test suite.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PORT   ?= 8000
export PORT

.PHONY: install run test lint bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OpsDesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty --no-logins  # the banner below prints the logins once
	@$(PY) manage.py demo_banner --port $(PORT)
	exec $(VENV)/bin/honcho --no-colour -f Procfile start

test: install
	DJANGO_SETTINGS_MODULE=opsdesk.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/metrics_bench.py
	$(PY) bench/pages_bench.py
	$(PY) bench/sla_bench.py

clean:
	rm -rf $(VENV) var db.sqlite3*

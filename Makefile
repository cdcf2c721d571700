PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run dev flower smoke-prod backup restore test bench lint format clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) scripts/run.py

dev: install
	$(PY) scripts/run.py --dev

flower: install
	$(PY) -m pip install --quiet -e '.[dev,monitoring]'
	$(VENV)/bin/celery -A config flower --address=127.0.0.1 --port=$${FLOWER_PORT:-5555}

smoke-prod: install
	$(PY) scripts/smoke_prod.py

backup: install
	$(PY) scripts/backup.py backup

restore: install
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/proactive-….tar.gz"; exit 2; }
	$(PY) scripts/backup.py restore "$(FILE)"

test: install
	scripts/test.sh

bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .coverage .pytest_cache

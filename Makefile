# AuditoryX Analytics — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install dagster docs clean chromium postgres api

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv when it can be had (about 12x faster than pip on a cold cache), else pip:
# AUDITORYX_INSTALLER=pip forces pip (scripts/install.py; benchmarks/installer.py measures both)
$(STAMP): $(PY) pyproject.toml constraints.txt
	@echo "installing the project into $(VENV) (first time: under a minute with uv)"
	$(PY) scripts/install.py $(VENV)
	@touch $(STAMP)

install: $(STAMP)

PORT ?= 8501

demo: install
	$(VENV)/bin/auditoryx demo --port $(PORT)

API_PORT ?= 8000

api: install
	$(VENV)/bin/auditoryx api --port $(API_PORT)

DAGSTER_HOME ?= $(CURDIR)/var/dagster_home

dagster: install
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || cp pipelines/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(VENV)/bin/dagster dev -w workspace.yaml

chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ echo "installing Chromium for browser tests"; \
		  (apt-get install -y chromium >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y chromium >/dev/null)); }

postgres:
	@pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 || \
		{ command -v pg_ctlcluster >/dev/null 2>&1 && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start || true; }

# pytest-xdist: TEST_WORKERS processes (auto: one per CPU), a test file stays on one worker so its
# module fixtures (dbt builds, Streamlit servers) are set up once; `make test TEST_WORKERS=0` is serial
TEST_WORKERS ?= auto

test: install chromium postgres
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# dbt docs (front page: dbt_project/models/overview.md) and the mart descriptions `auditoryx tables`
# prints (warehouse/mart_docs.json, compiled from the marts' .yml)
docs: install
	$(PY) -m warehouse.mart_catalog
	$(PY) -m warehouse.dbt_runner docs

clean:
	rm -rf var

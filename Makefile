# Siyu: two commands do everything on a fresh clone — `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
PG_TEST_URL ?= $(SIYU_TEST_DATABASE_URL)

.PHONY: demo test install install-dev lint typecheck pytest migration bench-clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14"

install: $(UV)
	$(UV) sync --frozen --inexact --no-dev

install-dev: $(UV)
	$(UV) sync --frozen --inexact

demo: install
	$(BIN)/siyu demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	env -u SIYU_TEST_DATABASE_URL $(BIN)/pytest -n 2
	@if [ -n "$(PG_TEST_URL)" ]; then \
		echo "== PostgreSQL pass: $(PG_TEST_URL)"; \
		SIYU_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n 2; \
	else \
		echo "== PostgreSQL pass skipped: SIYU_TEST_DATABASE_URL is not set"; \
	fi

test: lint typecheck pytest

# Autogenerate a migration from the models: make migration m="add foo"
migration: install-dev
	rm -f /tmp/siyu-migration.db
	$(BIN)/siyu db upgrade --database-url sqlite:////tmp/siyu-migration.db
	$(BIN)/python -c "from siyu.db.migrate import make_revision; make_revision('sqlite:////tmp/siyu-migration.db', '$(m)')"

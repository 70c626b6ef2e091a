# Siyu: two commands do everything on a fresh clone — `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
PG_TEST_URL ?= $(SIYU_TEST_DATABASE_URL)

.PHONY: demo test install install-dev lint typecheck pytest migration bench-clean console console-check chromium api-client

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14"

install: $(UV)
	$(UV) sync --frozen --inexact --no-dev

install-dev: $(UV)
	$(UV) sync --frozen --inexact

demo: install console
	$(BIN)/siyu demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev console chromium
	env -u SIYU_TEST_DATABASE_URL $(BIN)/pytest -n 2
	@if [ -n "$(PG_TEST_URL)" ]; then \
		echo "== PostgreSQL pass: $(PG_TEST_URL)"; \
		SIYU_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n 2; \
	else \
		echo "== PostgreSQL pass skipped: SIYU_TEST_DATABASE_URL is not set"; \
	fi

test: lint typecheck console-check pytest

# Autogenerate a migration from the models: make migration m="add foo"
migration: install-dev
	rm -f /tmp/siyu-migration.db
	$(BIN)/siyu db upgrade --database-url sqlite:////tmp/siyu-migration.db
	$(BIN)/python -c "from siyu.db.migrate import make_revision; make_revision('sqlite:////tmp/siyu-migration.db', '$(m)')"

# --- console (ui/): built into src/siyu/static/console, shipped in the wheel -------------
CONSOLE_INDEX := src/siyu/static/console/index.html
UI_DEPS := ui/node_modules/.package-lock.json
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/package.json ui/vite.config.ts ui/tsconfig.json

# npm 11.19 writes locks without other platforms' optional packages (rollup's), which its
# own `npm ci` then refuses; fall back to a lock-respecting install that saves nothing.
$(UI_DEPS): ui/package.json ui/package-lock.json
	cd ui && (npm ci --no-audit --no-fund --loglevel=silent || \
		(echo "npm ci refused the lock file; installing from it with npm install" && \
		 npm install --no-audit --no-fund --no-save))
	@touch $@

$(CONSOLE_INDEX): $(UI_DEPS) $(UI_SOURCES)
	cd ui && npm run build

console: $(CONSOLE_INDEX)

console-check: $(UI_DEPS)
	cd ui && npm run typecheck
	cd ui && npm test

# Browser tests drive Debian's Chromium (never a downloaded browser); posters and the
# browser need a CJK font.
chromium:
	@(command -v chromium >/dev/null && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc) || \
		(apt-get update && apt-get install -y chromium fonts-wqy-microhei)

# Regenerate the TypeScript API client after an API change (a test fails while it is stale).
api-client: install-dev $(UI_DEPS)
	@mkdir -p test-output
	$(BIN)/python -c "import json; from siyu.app import create_app; print(json.dumps(create_app(run_worker=False).openapi(), ensure_ascii=False))" > test-output/openapi.json
	cd ui && npm run api-client

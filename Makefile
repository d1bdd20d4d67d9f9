# Care Portal: `make run` starts everything with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install browser redis-server oidc-provider translations compile-translations clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (never `playwright install`: it cannot download here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed; browser tests will be skipped"; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; \
	fi

# panva's oidc-provider (OpenID Certified) for the partner sign-in tests, pinned by its package-lock.json.
OIDC_PROVIDER := tests/oidc_provider
$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package-lock.json $(OIDC_PROVIDER)/package.json
	@if ! command -v npm >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null) \
	    || echo "Node.js could not be installed"; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	else echo "npm missing: the standard-provider sign-in tests will be skipped (and fail under CI)"; fi

oidc-provider: $(OIDC_PROVIDER)/node_modules/.package-lock.json

# Debian's Redis server for the multi-instance test (tests/e2e/test_many_hosts.py); the embedded one stays
# the default everywhere else.
redis-server:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
	      || echo "redis-server could not be installed: the multi-instance test will not run (it fails under CI)"; \
	  else echo "redis-server missing and not root: the multi-instance test will not run"; fi; \
	fi

# Message catalogs (translations/): extract every marked string, update nb and en, compile, and list the
# messages that still need a bokmål translation. Run it after marking new strings, then fill in the nb msgstr.
translations: $(STAMP)
	$(BIN)/python -m portal.i18n.catalogs update

# The compiled catalogs (.mo) are built here, never committed.
compile-translations: $(STAMP)
	$(BIN)/python -m portal.i18n.catalogs compile

run: $(STAMP) compile-translations
	bash scripts/run-local.sh

# Lint first (seconds), then the suite: ruff (mistakes, import order) and import-linter's
# contracts in pyproject.toml (which package may import which; docs/architecture.md says why).
test: $(STAMP) browser redis-server oidc-provider compile-translations
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache

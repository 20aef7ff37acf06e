# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
EMBEDDED := $(UV) run --frozen python -m customerinfo.embedded --

.PHONY: run test install browser lint typecheck migrations-check pytest bench clean

## Install uv when missing, then the locked dependencies.
install:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || \
		python3 -m pip install --user --quiet uv || \
		python3 -m pip install --user --quiet --break-system-packages uv
	@$(UV) sync --frozen

## Start the whole product on embedded defaults (PostgreSQL and Redis of its own unless
## DATABASE_URL / REDIS_URL are set) and print where to click.
run: install
	@$(EMBEDDED) python -m customerinfo.devserver

## Lint (ruff, import layers), type-check, check migrations, then the whole suite with coverage.
test: install browser lint typecheck migrations-check pytest

## The kiosk's tests drive Debian's Chromium (a browser cannot be downloaded by Playwright here)
## and check the tablet's rules with Node.js.
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "The kiosk tests need the Debian packages:$$missing"; exit 1; \
		fi; \
	fi

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

typecheck:
	$(UV) run --frozen mypy .

migrations-check:
	@$(EMBEDDED) python manage.py makemigrations --check --dry-run

pytest:
	@$(EMBEDDED) python -m pytest -n $${PYTEST_WORKERS:-auto} --cov --cov-report=term \
		--cov-report=lcov:coverage.lcov --cov-report=xml:coverage.xml --junitxml=junit.xml

bench: install
	@$(EMBEDDED) python bench/tenants.py

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache coverage.lcov coverage.xml junit.xml .coverage .coverage.* staticfiles

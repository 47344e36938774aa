# `make run`: the portal on the embedded default (SQLite + filesystem broker) at http://127.0.0.1:$(PORT)
# `make test`: the whole test suite on PostgreSQL and Redis (127.0.0.1)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test venv lint check bench-api bench-cmdb bench-incidents bench-changes bench-poller clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

var/secret_key:
	mkdir -p var
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

run: venv var/secret_key
	SECRET_KEY_FILE=var/secret_key $(BIN)/python manage.py migrate --noinput
	SECRET_KEY_FILE=var/secret_key $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	SECRET_KEY_FILE=var/secret_key $(BIN)/python manage.py ensure_admin
	SECRET_KEY_FILE=var/secret_key $(BIN)/python manage.py seed_demo
	@echo "The portal is starting on http://127.0.0.1:$(PORT)/ (Ctrl-C stops web, worker and beat)"
	SECRET_KEY_FILE=var/secret_key PATH=$(CURDIR)/$(BIN):$$PATH exec $(BIN)/honcho start --procfile Procfile

# Tests run against the PostgreSQL and Redis on 127.0.0.1 (override with TEST_DATABASE_URL / TEST_BROKER_URL).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/itom
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
test: venv
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	SECRET_KEY=test-secret-key-not-for-production-0123456789abcdefghijklmnop \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-api: venv
	$(BIN)/python -m bench.api_ceiling

bench-cmdb: venv
	$(BIN)/python -m bench.cmdb_impact

bench-incidents: venv
	$(BIN)/python -m bench.incidents

bench-changes: venv
	$(BIN)/python -m bench.changes

bench-poller: venv
	$(BIN)/python -m bench.poller

clean:
	rm -rf $(VENV) var .pytest_cache

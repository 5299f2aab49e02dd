# Tongpin 同频 — the commands the README gives.
.PHONY: up down status test unit lint bench chaos demo install asyncapi

install:            ## install system packages, uv, the workspace and the FerretDB build
	deploy/local/install-deps.sh

up: install         ## run the whole system locally (servers, the four services, the console)
	deploy/local/servers.sh start
	deploy/local/services.sh start
	deploy/local/web.sh start
	deploy/local/demo.sh --if-empty
	@deploy/local/up-summary.sh

down:               ## stop exactly what `make up` started
	-deploy/local/web.sh stop
	-deploy/local/services.sh stop
	deploy/local/servers.sh stop

status:
	@deploy/local/servers.sh status
	@deploy/local/services.sh status
	@deploy/local/web.sh status

test:               ## lint, then every test tier: unit, corpus, those against real servers, browser
	deploy/local/test.sh $(PYTEST_ARGS)

unit:               ## the unit tier alone: no servers, seconds
	deploy/local/test.sh --unit $(PYTEST_ARGS)

lint:               ## ruff, mypy and the import contracts in pyproject.toml
	uv run --no-sync ruff check .
	uv run --no-sync mypy shared/src services/*/src
	uv run --no-sync lint-imports --no-logo --no-cache

bench: install      ## measure the floors, the backbone and the whole pipeline; results in bench/results/
	deploy/local/bench.sh $(BENCH_ARGS)

chaos: install      ## concerns through killed services, a restarted broker and a killed database; exact counts
	deploy/local/chaos.sh $(CHAOS_ARGS)

demo:               ## play the source's year against the running system and print its oversight report
	deploy/local/demo.sh

asyncapi:           ## regenerate the AsyncAPI document of the event catalogue
	uv run --no-sync python -m tongpin.shared.asyncapi > docs/asyncapi.json

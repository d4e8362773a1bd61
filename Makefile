# The two commands of the README, and what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run demo cluster test services deploy-check fmt
.DEFAULT_GOAL := run

## make sure MariaDB and Redis answer on loopback (start or install them)
services:
	@bash scripts/ensure-services.sh

## run the whole marketplace in one process (REST on :8000)
run: services
	$(CARGO) run -p fleet

## run it seeded with a small demo marketplace (prints the logins)
demo: services
	$(CARGO) run -p fleet -- --demo

## every service as its own OS process (2 replicas of catalog, cart, order) behind the gateway on :8000
cluster: services
	$(CARGO) build --workspace --bins
	$(CARGO) run -p fleet -- cluster

## validate the deployment files that cannot run here (no Docker engine)
deploy-check:
	@bash scripts/check-deploy.sh

## formatting, lints, deployment files, every test (unit, gRPC, end-to-end over HTTP), then schemathesis on the OpenAPI document
test: services deploy-check
	@ENSURE_BROWSER=1 bash scripts/ensure-services.sh
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace --bins
	@set -o pipefail; $(CARGO) test --workspace 2>&1 | tee .test-output.log
	@# the contract suites again, against the separate-process cluster with replicas
	@set -o pipefail; E2E_SHAPE=cluster $(CARGO) test -p fleet --test accounts --test catalog --test checkout \
		--test limits --test payments --test reservations --test redis_outage 2>&1 | tee -a .test-output.log
	@# the OpenAPI document against what the server does, as each role (fails on any finding)
	@set -o pipefail; bash scripts/schemathesis.sh 2>&1 | tee -a .test-output.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } /^schemathesis result:/ { passed += $$3; failed += $$5 } \
		END { printf "total: %d passed, %d failed\n", passed, failed }' .test-output.log

fmt:
	$(CARGO) fmt --all

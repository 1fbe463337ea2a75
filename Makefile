# authfn: an authentication service as AWS Lambda functions, and one local server.
# `make help` lists the targets.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X authfn/pkg/app.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## run every endpoint group on :8080 with embedded stores (no setup)
	$(GO) run -ldflags '-X authfn/pkg/app.version=$(VERSION)' ./local

.PHONY: test
test: services ## run all tests (race detector on) against real PostgreSQL and Redis
	$(GO) test -race -count=1 $(TESTFLAGS) ./...
	@# Timing under the race detector means nothing; SECURITY.md 7 is measured without it.
	$(GO) test -count=1 $(TESTFLAGS) -run 'Timing' ./functions/login

.PHONY: services
services: ## check that PostgreSQL and Redis answer; start them with docker compose if Docker is there
	@scripts/services

.PHONY: bench
bench: services ## Go benchmarks, reported as ratios to a baseline measured in the same run
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./... | tee .bench.txt
	@scripts/bench-ratios .bench.txt

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: lint-openapi
lint-openapi: ## lint pkg/apidoc/openapi.json with Redocly (needs npx and the npm registry)
	npx --yes @redocly/cli@2.77.0 lint pkg/apidoc/openapi.json

.PHONY: migrate
migrate: ## apply migrations to DATABASE_URL and create the first admin
	@test -n "$$DATABASE_URL" || (echo "DATABASE_URL is required"; exit 1)
	$(GO) run ./local migrate

.PHONY: clean
clean: ## remove build output and local runner state
	rm -rf build .aws-sam .bench.txt .local

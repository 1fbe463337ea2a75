# authfn: an authentication service as AWS Lambda functions, and one local server.
# `make help` lists the targets.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X authfn/pkg/app.version=$(VERSION)

# The Lambda functions: one per endpoint group, the migration step, and the
# authorizer other APIs use.
FUNCTIONS := login users sessions preferences health cleanup migrate authorizer console
GOARCH    ?= arm64
BUILD     := build/$(GOARCH)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
# The runner is built static (CGO_ENABLED=0) wherever it runs as the service:
# it needs no C, and without libc its RSS is about 2 MB smaller.
run: ## run every endpoint group on :8080 with embedded stores (no setup)
	CGO_ENABLED=0 $(GO) run -ldflags '-X authfn/pkg/app.version=$(VERSION)' ./local

.PHONY: test
test: services ## run all tests (race detector on) against real PostgreSQL and Redis
	$(GO) test -race -count=1 $(TESTFLAGS) ./...
	@# Timing under the race detector means nothing; docs/security.md 7 is measured without it.
	$(GO) test -count=1 $(TESTFLAGS) -run 'Timing' ./functions/login

.PHONY: test-cluster
test-cluster: ## the Redis store and the runner on a local Redis Cluster of three masters with a replica each (scripts/redis-cluster), through a failover
	@scripts/redis-cluster start
	$(GO) test -race -count=1 -tags rediscluster $(TESTFLAGS) ./pkg/redisstore/
	$(GO) test -race -count=1 -tags rediscluster $(TESTFLAGS) -run '^Test(Failover)?OnRedisCluster$$' ./local/

.PHONY: test-jose
test-jose: services ## verify access tokens with the npm jose library (installs it in clients/jose; needs node and npm)
	cd clients/jose && npm install --no-package-lock --no-audit --no-fund --silent
	$(GO) test -count=1 -tags jose $(TESTFLAGS) -run JOSE ./functions/login/

.PHONY: test-browser
test-browser: services ## the web console and the API reference in headless Chromium (needs chromium: apt-get install chromium); screenshots in build/screenshots
	$(GO) test -count=1 -tags browser $(TESTFLAGS) -run Browser ./functions/console/

.PHONY: services
services: ## check that PostgreSQL and Redis answer; start them with docker compose if Docker is there
	@scripts/services

.PHONY: bench
bench: services ## Go benchmarks and a load run (wrk), reported as ratios to baselines measured in the same run
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./... | tee .bench.txt
	@scripts/bench-ratios .bench.txt
	@scripts/load 10

# How long `make soak` holds the load: 10m by default, 60s in CI.
SOAK ?= 10m

.PHONY: soak
soak: services ## mixed open-loop load at 80 % of a measured peak for SOAK (10m; SOAK=60s in CI): a row per minute; fails on 5xx, RSS growth, Redis not back to baseline
	@scripts/soak $(SOAK) $(SOAKFLAGS)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet -tags lambdatest,browser ./...
	$(GO) tool staticcheck -tags lambdatest,browser ./...

.PHONY: lint-openapi
lint-openapi: ## lint pkg/apidoc/openapi.json with Redocly (needs npx and the npm registry)
	npx --yes @redocly/cli@2.77.0 lint pkg/apidoc/openapi.json

.PHONY: migrate
migrate: ## apply migrations to DATABASE_URL and create the first admin
	@test -n "$$DATABASE_URL" || (echo "DATABASE_URL is required"; exit 1)
	$(GO) run ./local migrate

.PHONY: local
local: ## start PostgreSQL and Redis with docker compose, then the runner on them
	docker compose -f infra/docker-compose.yml up -d --wait
	DATABASE_URL='postgres://postgres@127.0.0.1:5432/authfn?sslmode=disable' REDIS_URL='redis://127.0.0.1:6379/0' \
	  CGO_ENABLED=0 $(GO) run -ldflags '-X authfn/pkg/app.version=$(VERSION)' ./local

# lambda_build_pkg builds a Lambda bootstrap from a main package: static,
# stripped, without the RPC mode provided runtimes never use (-tags
# lambda.norpc). $(1): package, $(2): output directory, $(3): GOARCH.
define lambda_build_pkg
	GOOS=linux GOARCH=$(3) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath \
	  -ldflags '$(LDFLAGS)' -o $(2)/bootstrap $(1)
endef

# lambda_build builds one function's bootstrap.
# $(1): group, $(2): output directory, $(3): GOARCH.
lambda_build = $(call lambda_build_pkg,./functions/$(1)/bootstrap,$(2),$(3))

.PHONY: build
build: $(FUNCTIONS:%=$(BUILD)/%.zip) ## build and zip every function (GOARCH=arm64; GOARCH=amd64 possible)

$(BUILD)/%.zip: FORCE
	$(call lambda_build,$*,$(BUILD)/$*,$(GOARCH))
	cd $(BUILD)/$* && rm -f ../$*.zip && zip -q -X ../$*.zip bootstrap

.PHONY: FORCE
FORCE:

# sam build --build-in-source runs one of these per function (BuildMethod: makefile).
build-LoginFunction:       ; $(call lambda_build,login,$(ARTIFACTS_DIR),arm64)
build-UsersFunction:       ; $(call lambda_build,users,$(ARTIFACTS_DIR),arm64)
build-SessionsFunction:    ; $(call lambda_build,sessions,$(ARTIFACTS_DIR),arm64)
build-PreferencesFunction: ; $(call lambda_build,preferences,$(ARTIFACTS_DIR),arm64)
build-HealthFunction:      ; $(call lambda_build,health,$(ARTIFACTS_DIR),arm64)
build-CleanupFunction:     ; $(call lambda_build,cleanup,$(ARTIFACTS_DIR),arm64)
build-MigrateFunction:     ; $(call lambda_build,migrate,$(ARTIFACTS_DIR),arm64)
build-AuthorizerFunction:  ; $(call lambda_build,authorizer,$(ARTIFACTS_DIR),arm64)
build-ConsoleFunction:     ; $(call lambda_build,console,$(ARTIFACTS_DIR),arm64)

# The AWS Lambda Runtime Interface Emulator, at a pinned version from the
# Go module proxy: the Lambda tests run each bootstrap under it, as Lambda
# runs it. Binaries for amd64, this machine's architecture: the emulator
# runs them natively.
RIE_MODULE  := github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d

.PHONY: rie
rie:
	GOBIN=$(abspath build/tools) $(GO) install $(RIE_MODULE)/cmd/aws-lambda-rie@$(RIE_VERSION)

.PHONY: lambda-test
lambda-test: services rie ## build every function (amd64) and drive it under the Lambda emulator with real events
	$(MAKE) --no-print-directory build GOARCH=amd64
	$(GO) test -tags lambdatest -count=1 $(TESTFLAGS) ./lambdatest/

.PHONY: lambda-bench
lambda-bench: services rie ## cold start and size of every function (amd64) against an empty Go Lambda: a table
	$(MAKE) --no-print-directory build GOARCH=amd64
	$(call lambda_build_pkg,./lambdatest/empty,build/amd64/empty,amd64)
	$(GO) test -tags lambdatest -count=1 -run '^$$' -bench ColdStart -benchtime 10x ./lambdatest/

.PHONY: deploy
deploy: ## sam build and sam deploy --guided (needs the AWS SAM CLI and credentials)
	sam build --build-in-source
	sam deploy --guided

.PHONY: clean
clean: ## remove build output and local runner state
	rm -rf build .aws-sam .bench.txt .local

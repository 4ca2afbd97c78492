# Gatehouse. `make help` lists the targets.
SHELL := /bin/bash
BIN := bin/gatehouse
DEV_BIN := bin/gatehouse-dev
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
AXE_VERSION := 4.14.1
AXE := .cache/axe/node_modules/axe-core/axe.min.js

# gotest runs go test with the flags $(1) on every package, then prints one
# line per test skipped for a missing tool: go test hides skip messages
# without -v, so testenv.SkipOrFail also writes them to $GATEHOUSE_TEST_SKIPS.
gotest = skips=$$(mktemp) && trap 'rm -f "$$skips"' EXIT && \
	echo "go test $(1) ./..." && \
	{ GATEHOUSE_TEST_SKIPS=$$skips go test $(1) ./...; status=$$?; sort -u "$$skips"; exit $$status; }

.DEFAULT_GOAL := help

## help: list the targets
.PHONY: help
help:
	@awk -F': ' '/^## /{sub(/^## /,""); printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## run: start the app on its embedded defaults (Redis and FerretDB under ./data); Ctrl-C stops it
# Built, then run: `go run` exits 1 whenever it gets SIGINT, even when the
# program stops cleanly, and make would then report an error.
.PHONY: run
run:
	go build -tags dev -o $(DEV_BIN) ./cmd/gatehouse
	$(DEV_BIN) serve

## tools: install axe-core into .cache/axe for the accessibility test (needs npm)
.PHONY: tools
tools:
	@if [ -f $(AXE) ]; then :; \
	elif command -v npm >/dev/null; then \
		echo "npm install axe-core@$(AXE_VERSION) into .cache/axe"; \
		npm install --prefix .cache/axe --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION) || \
			echo "tools: npm could not install axe-core: the accessibility test will be skipped"; \
	else echo "tools: npm not found (apt-get install -y npm): the accessibility test will be skipped"; fi

## test: run every test with the race detector against real servers; lists tests skipped for a missing tool
.PHONY: test
test: tools
	@$(call gotest,-race -tags dev -count=1 -timeout 20m)

## test/short: run the tests without the race detector
.PHONY: test/short
test/short: tools
	@$(call gotest,-tags dev -count=1)

## screenshots: retake the README's screenshots (static/screenshots) in Chromium
.PHONY: screenshots
screenshots:
	UPDATE_SCREENSHOTS=1 go test -tags dev -count=1 -run '^(TestBrowserScreenshots|TestBrowserPasskey)$$' ./cmd/gatehouse

## bench: load-test the production binary (table on stdout, JSON in bin/bench.json), then the Go benchmarks
.PHONY: bench
bench:
	go build -o bin/gatehouse-bench ./cmd/gatehouse-bench
	bin/gatehouse-bench -out bin/bench.json $(BENCH_FLAGS)
	go test -tags dev -run '^$$' -bench . -benchmem -benchtime 1s -count 1 ./...

## audit: tidy check, module verification, vet, staticcheck, race tests
.PHONY: audit
audit: lint tools
	@$(call gotest,-race -tags dev -count=1)

## lint: gofmt, go mod tidy -diff, go mod verify, go vet, staticcheck
.PHONY: lint
lint:
	@test -z "$$(gofmt -l cmd internal web templates static)" || { gofmt -l cmd internal web templates static; echo 'run gofmt -w'; exit 1; }
	go mod tidy -diff
	go mod verify
	go vet -tags dev ./...
	go run $(STATICCHECK) -tags dev ./...

## build: build the production binary into ./bin (no embedded servers)
.PHONY: build
build:
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o $(BIN) ./cmd/gatehouse

## up: start app, Redis and MongoDB with docker compose
.PHONY: up
up:
	docker compose -p gatehouse up --build

## down: stop the docker compose stack (volumes are kept)
.PHONY: down
down:
	docker compose -p gatehouse down

## clean: remove build output and the embedded services' data (refused while make run uses it)
.PHONY: clean
clean:
	@test ! -e data/gatehouse.lock || \
		{ go build -tags dev -o $(DEV_BIN) ./cmd/gatehouse && $(DEV_BIN) dev-lock-check data; }
	rm -rf bin data

# storybot: `make run` to serve on http://localhost:8080, `make test` for every test.

GO      ?= go
BIN     := bin/storybot
WEB_SRC := $(shell find web -path web/node_modules -prune -o -path web/dist -prune -o -path web/e2e -prune -o -type f -print 2>/dev/null)

.PHONY: run build web test test-go test-fuzz test-web bench check-generated generate generate-web migration lint bench clean

## run: build the web bundle (when stale) and the binary, then serve on :8080
run: build
	./$(BIN)

## build: build the binary into bin/storybot (embedding the web bundle)
build: web
	$(GO) build -o $(BIN) .

## web: build the web bundle into web/dist when its sources changed
web: web/dist/index.html

web/dist/index.html: $(WEB_SRC)
	@if [ -f web/package.json ]; then \
		cd web && npm ci --no-audit --no-fund && npm run build; \
	fi

## test: every test — Go (race detector, Postgres and SQLite), generated code, a short fuzz run, web
test: check-generated test-go test-fuzz test-web

test-go: web graph/testdata/audit/node_modules
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

## test-fuzz: fuzz /graphql for a short fixed time (FUZZTIME=15s)
FUZZTIME ?= 15s
test-fuzz:
	$(GO) test -run '^$$' -fuzz FuzzGraphQLEndpoint -fuzztime $(FUZZTIME) .

graph/testdata/audit/node_modules: graph/testdata/audit/package-lock.json
	cd graph/testdata/audit && npm ci --no-audit --no-fund
	@touch $@

test-web: web
	@if [ -f web/package.json ]; then cd web && npm test && npm run e2e; fi

## check-generated: fail when ent/, graph/ or the web app's operation types differ from what `make generate generate-web` writes
check-generated: generate
	@$(MAKE) --no-print-directory generate-web
	@git diff --exit-code --stat -- ent graph internal/database/migrations web/src/graphql/generated || \
		(echo "generated code is stale: run 'make generate generate-web' and commit the result" >&2; exit 1)
	@test -z "$$(git status --porcelain -- ent graph web/src/graphql/generated)" || \
		(git status --porcelain -- ent graph web/src/graphql/generated; echo "make generate created untracked files: commit them" >&2; exit 1)

## generate-web: the web app's operation types (web/src/graphql/generated) from graph/*.graphqls, offline
generate-web: web/node_modules/.package-lock.json
	cd web && npm run codegen

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

## generate: regenerate Ent (ent/, graph/ent.graphqls) and then gqlgen (graph/)
generate:
	$(GO) generate ./...

## migration: write the next Postgres migration from the Ent schema (name=what_changed)
migration:
	@test -n "$(name)" || (echo "usage: make migration name=what_changed" >&2; exit 2)
	$(GO) run ./internal/database/newmigration.go $(name)

## lint: gofmt and go vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

## bench: Go micro-benchmarks, then the load harness against a real storybot on Postgres (docs/PERFORMANCE.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/bench/ ./internal/llm/ ./internal/telemetry/ ./internal/subscription/ ./internal/limits/
	$(GO) run ./internal/bench $(BENCHFLAGS)

clean:
	rm -rf bin web/dist/assets web/dist/*.html

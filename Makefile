# Authgraph — every command a developer or CI needs.
GO      ?= go
BIN     := bin/authgraph
PKGS    := ./...
# Tests get a generous timeout: integration tests start real services.
# The race detector is left out of modernc.org/sqlite/lib only: it is SQLite's
# C source translated to Go, instrumenting it found nothing of ours and made
# every SQLite statement (each test server's migration included) several
# times slower. The same holds for the compiler of wazero, the WebAssembly
# runtime (its SSA, front end and back end turn every rule, script and the
# QuickJS module into machine code): instrumented, compiling one Go-built
# module took minutes on the 2-core CI machine instead of seconds. Only those
# pure compilation packages: with the whole of wazero uninstrumented (its call
# engine included) the race detector reported races in encoding/json's caches
# that do not exist, in 3 runs of 6. Our host functions and everything that
# runs guest code stay instrumented.
WAZEVO  := github.com/tetratelabs/wazero/internal/engine/wazevo
TESTFLAGS ?= -race -gcflags=modernc.org/sqlite/lib=-race=false -gcflags=$(WAZEVO)/ssa/...=-race=false -gcflags=$(WAZEVO)/frontend/...=-race=false -gcflags=$(WAZEVO)/backend/...=-race=false -count=1 -timeout 20m

.PHONY: run build test test-setup generate generate-check lint bench bench-search fuzz chaos

# Rules engine fixtures (Go wasip1 and AssemblyScript via npm), its SDK checks.
include mk/rules.mk
# Dashboard assets (GraphiQL vendored from locked npm packages, committed).
include mk/dashboard.mk

## run: start the server on an embedded SQLite database (sqlite:authgraph.db).
run:
	$(GO) run ./cmd/authgraph serve --log-format text

## build: compile bin/authgraph.
build:
	$(GO) build -o $(BIN) ./cmd/authgraph

## test: set up what the tests need, then run them all.
test: test-setup
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)
	cd rules-sdk/go && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test ./...

## test-setup: fixtures the tests use. Services are found or started by the
## tests themselves (internal/testenv: Postgres on 127.0.0.1:5432, else a
## throwaway initdb cluster).
test-setup: rules-fixtures
	./scripts/test-deps.sh

## generate: regenerate ent and gqlgen code and the rules SDK archive the
## binary embeds (committed; CI checks they are up to date).
generate: dashboard-assets
	$(GO) generate ./ent
	$(GO) generate ./graph
	$(GO) generate ./rules-sdk

## generate-check: fail if `make generate` changes any tracked file.
generate-check: generate
	@git diff --exit-code --stat -- . || (echo "generated code is stale: run 'make generate' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- ent graph server/dashboard/assets)" || (git status --porcelain -- ent graph server/dashboard/assets; echo "make generate created untracked files" >&2; exit 1)

## lint: gofmt check and go vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^rules-sdk/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## bench: Go benchmarks plus the end-to-end load figures (docs/BENCHMARKS.md).
bench: rules-fixtures
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./bench -duration 10s

## bench-search: user search and deep keyset pages at one million users
## (docs/BENCHMARKS.md). The first run creates and seeds the database
## authgraph_bench_1m on the local Postgres (minutes); later runs reuse it.
## BENCH_SEARCH_FLAGS adds flags: -reseed, -migrate (after an upgrade,
## timed), -shapes, -requests, -label, -search-db (see go run ./bench -h).
bench-search:
	$(GO) run ./bench -scenario search $(BENCH_SEARCH_FLAGS)

## fuzz: run every Go fuzz target for $(FUZZTIME) each, one after the other
## (docs/FUZZING.md). Not part of `make test`, which replays only the seed
## corpora (testdata/fuzz). New failing inputs land in testdata/fuzz: commit
## them with the fix. FUZZMINIMIZETIME bounds the minimization of each new
## input, which otherwise stalls the slower targets for a minute at a time.
FUZZTIME         ?= 60s
FUZZMINIMIZETIME ?= 2s
FUZZPARALLEL     ?= 1
FUZZFLAGS         = -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -parallel $(FUZZPARALLEL)
FUZZ_TARGETS     := ./emailaddr:FuzzNormalize ./server/apiv2:FuzzLogSearch ./identity:FuzzSearch ./identity:FuzzMetadataMerge ./rules:FuzzInstrument ./connectors/saml:FuzzSAMLResponse ./passwords:FuzzFromAuth0Custom
FUZZ_SDK_TARGETS := ./rules:FuzzDecodeEvent ./rules:FuzzAppendResult

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "== $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test $(FUZZFLAGS) -fuzz "^$$name\$$" $$pkg; done
	@set -e; cd rules-sdk/go && for t in $(FUZZ_SDK_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "== $$name (rules-sdk/go $$pkg) for $(FUZZTIME)"; \
		$(GO) test $(FUZZFLAGS) -fuzz "^$$name\$$" $$pkg; done

## chaos: the failure tests' long variant (docs/ARCHITECTURE.md, "Failure
## tests"): three nodes on a throwaway Postgres cluster under load for
## $(CHAOS_DURATION), killing a node (SIGKILL, then starting it again) and
## stopping and starting the database, fast and immediate, in turn. The
## short variant runs in `make test`.
CHAOS_DURATION ?= 2m
chaos:
	$(GO) test -count=1 -timeout 30m -v -run . ./chaos -args -chaos.duration=$(CHAOS_DURATION)

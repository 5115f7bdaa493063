# Rules engine fixtures, tests and benchmarks. Included by the main Makefile.
#
#   make rules-fixtures   build the wasm test fixtures (Go wasip1 + AssemblyScript)
#   make rules-test       fixtures, then the rules tests under -race
#   make rules-bench      fixtures, then the rules benchmarks
#
# Fixtures land in rules/testdata/build/ (git-ignored). The rules tests skip
# without them, except with CI=true where they fail.

GO            ?= go
NPM           ?= npm
RULES_BUILD   := rules/testdata/build
RULES_GO_FIX  := roles counter panic wasiopen loop oom linkto addrole requiremfa
RULES_AS_FIX  := roles addrole counter loop recurse memgrow badimport dbimport bigoutput abort logspam noexport badjson requiremfa
RULES_TPLS    := roles-claim deny-unverified first-login domain-allowlist strategy-claim require-mfa
RULES_WASM    := GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared

.PHONY: rules-fixtures rules-fixtures-go rules-fixtures-as rules-test rules-bench rules-sdk-test rules-clean

rules-fixtures: rules-fixtures-go rules-fixtures-as

rules-fixtures-go:
	@mkdir -p $(RULES_BUILD)
	cd rules/testdata/go && for f in $(RULES_GO_FIX); do \
		$(RULES_WASM) -o ../build/go-$$f.wasm ./$$f || exit 1; done
	cd rules-sdk/templates/go && for t in $(RULES_TPLS); do \
		$(RULES_WASM) -o ../../../$(RULES_BUILD)/tpl-go-$$t.wasm ./$$t || exit 1; done

# npm ci installs the exact assemblyscript of each package-lock.json. The
# custom-database AssemblyScript templates are built by their tests
# (customdbtest.ASTemplates), which need only the compiler installed here.
rules-fixtures-as:
	@mkdir -p $(RULES_BUILD)
	cd rules/testdata/as && $(NPM) ci --no-audit --no-fund && for f in $(RULES_AS_FIX); do \
		npx --no-install asc $$f.ts --config asconfig.json --target release -o ../build/as-$$f.wasm || exit 1; done
	cd rules-sdk/templates/assemblyscript && $(NPM) ci --no-audit --no-fund && for t in $(RULES_TPLS); do \
		npx --no-install asc $$t/index.ts --config asconfig.json --target release \
			-o ../../../$(RULES_BUILD)/tpl-as-$$t.wasm || exit 1; done
	cd rules-sdk/templates/customdb/assemblyscript && $(NPM) ci --no-audit --no-fund

rules-test: rules-fixtures
	$(GO) test $(TESTFLAGS) ./rules/...
	cd rules-sdk/go && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test ./...

rules-bench: rules-fixtures
	$(GO) test -run '^$$' -bench . -benchmem ./rules/

# The SDK type-checks on its own too.
rules-sdk-test:
	cd rules-sdk/go && $(GO) vet ./... && $(GO) test ./...
	cd rules-sdk/assemblyscript && $(NPM) ci --no-audit --no-fund && $(NPM) run build

rules-clean:
	rm -rf $(RULES_BUILD) rules/testdata/as/node_modules rules-sdk/templates/assemblyscript/node_modules \
		rules-sdk/templates/customdb/assemblyscript/node_modules

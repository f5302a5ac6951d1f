# tokend — run `make help` for the targets.
GO      ?= go
ADDR    ?= 127.0.0.1:8080
DATA    ?= data
HTMX_VERSION ?= 2.0.11

.PHONY: help run test pg-start pg-stop generate check-generated lint bench build vendor-htmx clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

build: ## Build bin/tokend
	$(GO) build -o bin/tokend ./cmd/tokend

run: build ## Start tokend on http://localhost:8080 with demo data in ./data
	./bin/tokend serve --db $(DATA)/tokend.db --addr $(ADDR) --demo

test: check-generated lint ## Run every check and test, as CI does (PostgreSQL suites too: see .ci/test)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$TOKEND_CHROMIUM" ] || \
		echo "Chromium not found: the browser tests in web/e2e are skipped (apt-get install chromium)"
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || [ -x /usr/local/sbin/nginx ] || \
		echo "nginx not found: the test of README's nginx block (cmd/tokend TestNginxAuthRequest) is skipped (apt-get install nginx)"
	@GO="$(GO)" .ci/test

pg-start: ## Start the tests' private PostgreSQL (or find it running) and print its URL
	@.ci/pg-start

pg-stop: ## Stop the tests' private PostgreSQL
	@.ci/pg-stop

generate: ## Regenerate the templ views
	$(GO) tool templ generate -path views

check-generated: ## Fail if a *_templ.go file is not what its .templ makes
	@templ=$$($(GO) tool -n templ) && tmp=$$(mktemp -d) && mkdir $$tmp/views && cp views/*.templ $$tmp/views/ && \
	(cd $$tmp && $$templ generate -path views >/dev/null 2>&1) && \
	for f in $$tmp/views/*_templ.go; do \
		cmp -s $$f views/$$(basename $$f) || { echo "views/$$(basename $$f) is stale: run make generate"; rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp; echo "templ output is fresh"

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# BASELINE: the echo-baseline program's source (default: cmd/loadtest finds
# ../shared/bench/echo-baseline from the repository's root). LOADTEST_FLAGS
# go to both load runs, e.g. LOADTEST_FLAGS="-duration 2s -rounds 1" for a
# short one. tokend runs as shipped, access log on, and with its metrics
# listener on (-metrics=false without): each run prints every route's ratio.
BASELINE ?=
LOADTEST_FLAGS ?=
bench: build ## Go benchmarks, then wrk runs against live servers (SQLite, then PostgreSQL) as ratios of the bare Echo route
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@set -e; \
	if [ -n "$${TOKEND_TEST_POSTGRES:-}" ]; then pg=$$TOKEND_TEST_POSTGRES; \
		echo "PostgreSQL for the benchmarks: the one TOKEND_TEST_POSTGRES names"; \
	elif pg=$$(.ci/pg-start); then \
		echo "PostgreSQL for the benchmarks: $$pg (make pg-stop stops it)"; \
	else pg=; \
		echo "SKIPPED: PostgreSQL not found, so no store benchmarks, load run, propagation or copy on PostgreSQL (apt-get install postgresql-15 and make bench starts its own, or set TOKEND_TEST_POSTGRES to a postgres:// URL)"; \
	fi; \
	if [ -n "$$pg" ]; then \
		echo "The store benchmarks again, on PostgreSQL: TOKEND_TEST_STORE=postgres $(GO) test -run '^$$' -bench . -benchmem ./store/"; \
		TOKEND_TEST_POSTGRES=$$pg TOKEND_TEST_STORE=postgres $(GO) test -run '^$$' -bench . -benchmem ./store/; \
	fi; \
	if ! command -v wrk >/dev/null; then \
		echo "SKIPPED: wrk is not installed (apt-get install wrk), so no load runs against a live server"; exit 0; \
	fi; \
	echo "Load run on SQLite:"; \
	$(GO) run ./cmd/loadtest -bin bin/tokend $(if $(BASELINE),-baseline $(BASELINE)) $(LOADTEST_FLAGS); \
	if [ -n "$$pg" ]; then \
		echo "Load run on PostgreSQL, with the propagation delay and the copy:"; \
		$(GO) run ./cmd/loadtest -bin bin/tokend $(if $(BASELINE),-baseline $(BASELINE)) -db "$$pg" -propagation 1000 -copy $(LOADTEST_FLAGS); \
	fi

vendor-htmx: ## Refresh static/htmx.min.js from the npm package htmx.org
	tmp=$$(mktemp -d) && cd $$tmp && npm pack htmx.org@$(HTMX_VERSION) >/dev/null && tar xzf htmx.org-*.tgz && \
	cp package/dist/htmx.min.js $(CURDIR)/static/htmx.min.js && rm -rf $$tmp

clean: ## Remove the build and the demo database
	rm -rf bin $(DATA)

# opm — build, test and benchmark entry points. `make help` lists them.

GO      ?= go
BIN     := bin/opm
PREFIX  ?= $(HOME)/.local
# The demo runs under its own home, never the user's ~/.opm; its runtime
# dir (under /dev/shm) is derived from that home, so it is its own too.
DEMO    := $(CURDIR)/.demo
DEMOENV := OPM_HOME=$(DEMO)/home
# A count, not a duration: go1.26's fuzz coordinator can report a bare
# "context deadline exceeded" at the end of a timed run on a loaded machine
# (golang/go#75804); a count has no deadline to race.
FUZZTIME ?= 100000x
# A static binary (no cgo, no dynamic loader at every command's start, and
# one file to copy onto a small box); urfave_cli_no_docs leaves out
# urfave/cli's man-page generator, whose init every short command paid.
BUILDFLAGS ?= -trimpath -tags urfave_cli_no_docs,netgo,osusergo -ldflags '-s -w'

export PATH := $(PATH):/usr/local/go/bin

.DEFAULT_GOAL := help
.PHONY: help build test lint testdeps unit fuzz stress bench bench-quick bench-pm2 install demo demo-stop clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the opm binary into bin/opm
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/opm

test: lint unit fuzz ## gofmt check, go vet, staticcheck, race tests, brief fuzzing
	@echo "make test: all checks passed"

lint: ## gofmt check, go vet and staticcheck (pinned as a go tool)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The PM2 import tests run the real PM2, installed where the bench puts it
# (never globally); without npm they skip, and say so.
PM2BIN := bench/.pm2/node_modules/.bin/pm2

# systemd-analyze checks the units of opm startup and opm export. It is
# installed (Debian's systemd package, with apt-get, as root) only where
# asked: under CI (CI set, as .ci/run is run) or with OPM_INSTALL_TESTDEPS=1;
# elsewhere the tests that need it skip those checks, and this says what
# to run. The package lists are fetched only when the install fails
# without them, each fetch tried twice at most and given 30 s.
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=1 -o Acquire::http::Timeout=30

testdeps: ## install PM2 under bench/.pm2 for the PM2 import tests (with npm), and systemd-analyze for the unit tests (under CI or with OPM_INSTALL_TESTDEPS=1, as root)
	@if [ -x $(PM2BIN) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo "installing PM2 into bench/.pm2 for the PM2 tests"; \
	  npm install --prefix bench/.pm2 --no-audit --no-fund pm2 || echo "npm install pm2 failed: the PM2 tests will skip"; \
	else echo "npm is not installed: the PM2 tests will skip"; fi
	@if command -v systemd-analyze >/dev/null 2>&1; then :; \
	elif [ -z "$$CI" ] && [ "$$OPM_INSTALL_TESTDEPS" != 1 ]; then \
	  echo "systemd-analyze is not installed: the tests skip their systemd-analyze checks. To install it: sudo apt-get install systemd (or make testdeps OPM_INSTALL_TESTDEPS=1, as root)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's systemd package for systemd-analyze (the tests of opm startup and opm export check units with it)"; \
	  { $(APT_GET) install -y --no-install-recommends systemd || \
	    { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends systemd; }; } \
	    || echo "apt-get install systemd failed: the tests skip their systemd-analyze checks"; \
	else echo "systemd-analyze is not installed and cannot be here (apt-get, as root): the tests skip their systemd-analyze checks"; fi

unit: testdeps ## go test -race over every package, and the fault tests the race detector cannot run
	$(GO) test -race -timeout 10m ./...
	$(GO) test -count=1 -run 'Shrunk|Truncate' ./shm

fuzz: ## run each fuzz target briefly (FUZZTIME executions, default 100000x)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeHeader$$' -fuzztime $(FUZZTIME) ./shm
	$(GO) test -run '^$$' -fuzz '^FuzzParseStat$$' -fuzztime $(FUZZTIME) ./daemon/proc
	$(GO) test -run '^$$' -fuzz '^FuzzByteString$$' -fuzztime $(FUZZTIME) ./daemon/api
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./cli/ecosystem
	$(GO) test -run '^$$' -fuzz '^FuzzPM2Dump$$' -fuzztime $(FUZZTIME) ./cli/ecosystem

stress: ## the exactly-once race tests with many more rounds (OPM_STRESS_ROUNDS)
	OPM_STRESS_ROUNDS=$${OPM_STRESS_ROUNDS:-500} $(GO) test -race -count=1 -timeout 60m -run 'Race|Restore' ./...

bench: build ## run the benchmark harness (bench/README.md)
	$(GO) run ./bench --opm $(BIN)

bench-quick: build ## the benchmark harness in its quick mode (< 1 minute)
	$(GO) run ./bench --opm $(BIN) --quick

bench-pm2: build ## the benchmark harness side by side with PM2 (installed locally under bench/)
	$(GO) run ./bench --opm $(BIN) --pm2

install: build ## install opm into $(PREFIX)/bin
	install -D -m 0755 $(BIN) $(PREFIX)/bin/opm

demo: build ## build, start the daemon and two example apps, show opm list
	$(DEMOENV) $(BIN) start "sleep 3600" --name sleeper
	$(DEMOENV) $(BIN) start "sh -c 'while true; do date; sleep 5; done'" --name clock
	$(DEMOENV) $(BIN) list
	$(DEMOENV) $(BIN) daemon status
	@echo
	@echo "Try: $(DEMOENV) $(BIN) logs clock --follow"
	@echo "Stop it all with: make demo-stop"

demo-stop: ## stop the demo daemon and its apps
	-$(DEMOENV) $(BIN) daemon stop
	rm -rf $(DEMO)

clean: ## remove build output
	rm -rf bin $(DEMO)

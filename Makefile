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
.PHONY: help build release test lint testdeps unit test-cross fuzz stress bench bench-quick bench-pm2 bench-readme install demo demo-stop clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the opm binary into bin/opm
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/opm

# The release binaries: the same flags as build, one static binary per
# architecture a small box may have (armv7: GOARCH=arm GOARM=7), and
# SHA256SUMS. Each must stay within RELEASEMAX bytes (10 MiB): the target
# prints every size and fails on one that is over.
DIST       := dist
RELEASES   := amd64 arm64 armv7 riscv64
RELEASEMAX ?= 10485760

release: ## static, stripped binaries for linux amd64, arm64, armv7 and riscv64 into dist/, with SHA256SUMS
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@for a in $(RELEASES); do \
	  case $$a in armv7) arch=arm arm=7;; *) arch=$$a arm=;; esac; \
	  echo "building $(DIST)/opm-linux-$$a"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build $(BUILDFLAGS) -o $(DIST)/opm-linux-$$a ./cmd/opm || exit 1; \
	done
	@cd $(DIST) && sha256sum opm-linux-* > SHA256SUMS
	@over=0; for a in $(RELEASES); do \
	  f=$(DIST)/opm-linux-$$a; size=$$(stat -c %s $$f); \
	  if [ $$size -gt $(RELEASEMAX) ]; then echo "$$f: $$size bytes, over the limit of $(RELEASEMAX)"; over=1; \
	  else echo "$$f: $$size bytes"; fi; \
	done; exit $$over

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
# qemu-user runs the smoke tests of the arm64 and armv7 binaries
# (cmd/opm/cross_test.go), installed as systemd is, where asked. It must
# be 8.0 or newer (7.2 rejects clone with CLONE_PIDFD, with which the
# daemon starts apps): on Debian 12 that one is in bookworm-backports,
# whose source this adds (as BPO_SOURCES) when none is configured.
BPO_SOURCES := /etc/apt/sources.list.d/opm-bookworm-backports.sources
# chromium (Debian's package) is the headless browser the web dashboard's
# test (cmd/opm/dashboard_test.go) drives, installed as systemd is, where
# asked.

# $(call apt_testdep,check,name,what skips,install args,package,why) is
# the shell command (one line: make joins the lines below) that provides
# one of the Debian packages above but qemu-user, whose version and
# source need more: nothing when check succeeds; else, under CI or with
# OPM_INSTALL_TESTDEPS=1 and as root, apt-get installs package, saying
# why; else it says that name is missing, that what skips, and (when not
# asked) which "sudo apt-get install <install args>" to run.
define apt_testdep
if $(1); then :; \
elif [ -z "$$CI" ] && [ "$$OPM_INSTALL_TESTDEPS" != 1 ]; then \
  echo "$(2) is not installed: $(3). To install it: sudo apt-get install $(4) (or make testdeps OPM_INSTALL_TESTDEPS=1, as root)"; \
elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
  echo "$(6)"; \
  { $(APT_GET) install -y --no-install-recommends $(5) || \
    { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends $(5); }; } \
    || echo "apt-get install $(5) failed: $(3)"; \
else echo "$(2) is not installed and cannot be here (apt-get, as root): $(3)"; fi
endef

testdeps: ## install PM2 under bench/.pm2 for the PM2 import tests (with npm), and systemd-analyze, qemu-user, tmux and chromium for the unit tests (under CI or with OPM_INSTALL_TESTDEPS=1, as root)
	@if [ -x $(PM2BIN) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo "installing PM2 into bench/.pm2 for the PM2 tests"; \
	  npm install --prefix bench/.pm2 --no-audit --no-fund pm2 || echo "npm install pm2 failed: the PM2 tests will skip"; \
	else echo "npm is not installed: the PM2 tests will skip"; fi
	@$(call apt_testdep,command -v systemd-analyze >/dev/null 2>&1,systemd-analyze,the tests skip their systemd-analyze checks,systemd,systemd,installing Debian's systemd package for systemd-analyze (the tests of opm startup and opm export check units with it))
	@$(call apt_testdep,command -v tmux >/dev/null 2>&1,tmux,the opm monit tests skip,tmux,tmux,installing Debian's tmux package (the opm monit tests drive the dashboard in it))
	@if command -v qemu-aarch64 >/dev/null 2>&1 && command -v qemu-arm >/dev/null 2>&1 && \
	  [ "$$(qemu-aarch64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n 1)" -ge 8 ] 2>/dev/null; then :; \
	elif [ -z "$$CI" ] && [ "$$OPM_INSTALL_TESTDEPS" != 1 ]; then \
	  echo "qemu-user 8.0 or newer is not installed: the arm64 and armv7 smoke tests skip. To install it: sudo apt-get install qemu-user (on Debian 12, -t bookworm-backports; or make testdeps OPM_INSTALL_TESTDEPS=1, as root)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's qemu-user package for qemu-aarch64 and qemu-arm (the smoke tests of the arm64 and armv7 binaries run opm under them)"; \
	  target=; if grep -qx 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then \
	    target="-t bookworm-backports"; \
	    [ -e $(BPO_SOURCES) ] || grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ || \
	      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > $(BPO_SOURCES); \
	  fi; \
	  { $(APT_GET) install -y --no-install-recommends $$target qemu-user || \
	    { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends $$target qemu-user; }; } \
	    || echo "apt-get install qemu-user failed: the arm64 and armv7 smoke tests skip"; \
	else echo "qemu-user is not installed and cannot be here (apt-get, as root): the arm64 and armv7 smoke tests skip"; fi
	@$(call apt_testdep,command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1,chromium,the web dashboard's browser test skips,--no-install-recommends chromium,chromium,installing Debian's chromium package (the web dashboard's test drives it headless))

unit: testdeps ## go test -race over every package, and the fault tests the race detector cannot run
	$(GO) test -race -timeout 10m ./...
	$(GO) test -count=1 -run 'Shrunk|Truncate' ./shm

test-cross: testdeps ## the arm64 and armv7 binaries under qemu user emulation (skips without qemu-aarch64 and qemu-arm)
	$(GO) test -count=1 -v -timeout 5m -run '^TestCross' ./cmd/opm

fuzz: ## run each fuzz target briefly (FUZZTIME executions, default 100000x)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeHeader$$' -fuzztime $(FUZZTIME) ./shm
	$(GO) test -run '^$$' -fuzz '^FuzzParseStat$$' -fuzztime $(FUZZTIME) ./daemon/proc
	$(GO) test -run '^$$' -fuzz '^FuzzByteString$$' -fuzztime $(FUZZTIME) ./daemon/api
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./cli/ecosystem
	$(GO) test -run '^$$' -fuzz '^FuzzPM2Dump$$' -fuzztime $(FUZZTIME) ./cli/ecosystem

stress: ## the exactly-once race tests with many more rounds (OPM_STRESS_ROUNDS)
	OPM_STRESS_ROUNDS=$${OPM_STRESS_ROUNDS:-500} $(GO) test -race -count=1 -timeout 60m -run 'Race|Restore' ./...

# Each bench run then regenerates the "Latest results" section of
# bench/README.md and its charts from bench/results.json, also when the run
# reported errors (they show there), and exits with the run's status. The
# readme step leaves the README alone, and says why, after a --quick or
# --only run: the committed section comes from a full run.
BENCHREADME = $(GO) run ./bench readme
# $(call then_readme,command) runs the bench command, then BENCHREADME,
# and exits with the command's status (BENCHREADME's when that fails).
define then_readme
rc=0; $(1) || rc=$$?; $(BENCHREADME) || exit $$?; exit $$rc
endef

bench: build ## run the benchmark harness, then regenerate bench/README.md's results (bench/README.md)
	@$(call then_readme,$(GO) run ./bench --opm $(BIN))

bench-quick: build ## the benchmark harness in its quick mode (< 1 minute); leaves the README's results alone
	@$(call then_readme,$(GO) run ./bench --opm $(BIN) --quick)

bench-pm2: build ## the benchmark harness side by side with PM2 (installed locally under bench/), then the README's results
	@$(call then_readme,$(GO) run ./bench --opm $(BIN) --pm2)

bench-readme: ## regenerate bench/README.md's results section and charts from bench/results.json
	$(BENCHREADME)

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
	rm -rf bin $(DIST) $(DEMO)

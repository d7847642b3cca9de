# Vigil: `make demo` runs the daemon on the demo configuration with the sample records;
# `make test` runs every test (unit and integration, against a real journald and SQLite).
SWIFT ?= swift
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
DEMO_CONFIG := config/demo.yaml
VIGILD := .build/debug/vigild
VIGILCTL := .build/debug/vigilctl

.PHONY: all build deps test-deps test demo demo-stop clean

all: build

# Debian packages the build and tests need; installed only when missing.
deps:
	@pkg-config --exists libsystemd && command -v sqlite3 >/dev/null && test -x /usr/bin/systemd-analyze && test -x /usr/bin/msmtp || { \
		echo "installing libsystemd-dev, systemd, sqlite3, msmtp (apt-get)"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libsystemd-dev libsqlite3-dev systemd sqlite3 pkg-config msmtp; }

# Test-only: the SMTP server of the relay test.
test-deps: deps
	@python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd

build: deps
	$(SWIFT) build

test: build test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Starts vigild on ./var with the demo configuration, drops samples/ into the inbox and shows
# what came out. The daemon keeps running; `make demo-stop` stops it.
demo: build demo-stop
	@rm -rf var && mkdir -p var/inbox
	@$(VIGILD) --config $(DEMO_CONFIG) >var/vigild.log 2>&1 & echo $$! > var/vigild.pid
	@for i in $$(seq 1 100); do $(VIGILCTL) ping --config $(DEMO_CONFIG) >/dev/null 2>&1 && break; sleep 0.1; done
	@$(VIGILCTL) ping --config $(DEMO_CONFIG)
	@for f in samples/sdtm-ex.csv samples/*.json samples/*.ndjson samples/*.hl7 samples/sdtm-lb.csv samples/sdtm-ae.csv samples/sdtm-ds.csv; do \
		n=$$(basename $$f); cp $$f var/inbox/.$$n.tmp && mv var/inbox/.$$n.tmp var/inbox/$$n; echo "dropped $$n"; done
	@for i in $$(seq 1 100); do [ -z "$$(ls -A var/inbox)" ] && break; sleep 0.1; done
	@echo; $(VIGILCTL) status --config $(DEMO_CONFIG)
	@echo; $(VIGILCTL) alerts --all --config $(DEMO_CONFIG)
	@echo; echo "Mail waiting for the relay in var/outbox/new:"; ls var/outbox/new
	@echo; echo "Rejected records: var/rejected/*.errors.json; daemon log: var/vigild.log"
	@echo "Journal entries: journalctl -o verbose SYSLOG_IDENTIFIER=vigild VIGIL_TRIAL=LYSYME"
	@echo "vigild is still running (pid $$(cat var/vigild.pid)); drop more files into var/inbox, then: make demo-stop"

demo-stop:
	@if [ -f var/vigild.pid ] && kill -0 $$(cat var/vigild.pid) 2>/dev/null; then \
		kill -TERM $$(cat var/vigild.pid); echo "stopped vigild (pid $$(cat var/vigild.pid))"; fi; rm -f var/vigild.pid

clean:
	rm -rf .build var

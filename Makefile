# Vigil: `make demo` runs the daemon on the demo configuration with the sample records;
# `make test` runs every test (unit and integration, against a real journald and SQLite);
# `make install` installs the binaries, units, man pages and completions (PREFIX, DESTDIR, BUILD);
# `make deb` builds vigil_VERSION_ARCH.deb with dpkg-deb (see "Packaging" below).
SWIFT ?= swift
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
DEMO_CONFIG := config/demo.yaml
VIGILD := .build/debug/vigild
VIGILCTL := .build/debug/vigilctl

.PHONY: all build deps test-deps test demo demo-stop clean man install uninstall deb

all: build

# Debian packages the build and tests need; installed only when missing.
deps:
	@pkg-config --exists libsystemd && command -v sqlite3 >/dev/null && test -x /usr/bin/systemd-analyze && test -x /usr/bin/msmtp || { \
		echo "installing libsystemd-dev, systemd, sqlite3, msmtp (apt-get)"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libsystemd-dev libsqlite3-dev systemd sqlite3 pkg-config msmtp; }

# Test-only: the SMTP server of the relay test; postgresql for the central tier's tests (their own
# server from its binaries); scdoc, man-db, dpkg-dev and patchelf for the
# packaging test (man pages, make install, make deb).
test-deps: deps
	@python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd
	@command -v scdoc >/dev/null && command -v man >/dev/null && command -v dpkg-shlibdeps >/dev/null && command -v patchelf >/dev/null && command -v nm >/dev/null && test -d /usr/lib/postgresql || { \
		echo "installing scdoc, man-db, dpkg-dev, patchelf, postgresql, binutils (apt-get)"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y scdoc man-db dpkg-dev patchelf postgresql binutils; }

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

# ---------------------------------------------------------------------------------------------
# Packaging. BUILD selects the binaries: .build/$(BUILD)/vigild and vigilctl. A missing release
# build is made with the Swift runtime linked in (--static-swift-stdlib): the Swift runtime is not
# packaged by Debian, so a release vigild needs only libc, libstdc++, libsystemd0 and libsqlite3-0.
# BUILD=debug uses the existing debug build as it is (make install BUILD=debug needs no release
# build); `make deb` then ships the Swift runtime libraries it links under /usr/lib/vigil.
# Build tools: scdoc (man pages), dpkg-dev (dpkg-deb, dpkg-shlibdeps), patchelf (debug .deb only).
BUILD ?= release
PREFIX ?= /usr
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/vigil
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
SYSCONFDIR ?= /etc
# systemd reads these under /usr/lib whatever PREFIX is.
UNITDIR ?= /usr/lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
CATALOGDIR ?= /usr/lib/systemd/catalog
# Generated files (man pages); `make deb` writes the package to DEBDIR.
PKGDIR ?= .build/pkg
DEBDIR ?= $(PKGDIR)
BUILD_DIR := .build/$(BUILD)
VERSION := $(shell sed -n '/enum VigilVersion/,/^}/s/.*static let string = "\([^"]*\)".*/\1/p' Sources/VigilControl/VigilVersion.swift)
SWIFT_BUILD_FLAGS_release := -c release --static-swift-stdlib
SWIFT_BUILD_FLAGS_debug :=
UNITS := vigil.service vigil.socket vigil-relay.service vigil-relay.path
MAN_PAGES := $(PKGDIR)/man/vigilctl.1 $(PKGDIR)/man/vigil.yaml.5 $(PKGDIR)/man/vigild.8

# Built only when missing: `make install` installs what was built, it does not rebuild.
$(BUILD_DIR)/vigild $(BUILD_DIR)/vigilctl:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS_$(BUILD)) --product $(notdir $@)

# Man pages: scdoc sources in docs/man; dated by the last commit (reproducible), not hyphenated
# (commands and key paths must read as typed).
MAN_DATE := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
man: $(MAN_PAGES)

$(PKGDIR)/man/%: docs/man/%.scd
	@command -v scdoc >/dev/null || { echo "scdoc builds the man pages: apt-get install scdoc (make test-deps installs it)" >&2; exit 1; }
	@mkdir -p $(@D)
	SOURCE_DATE_EPOCH=$(MAN_DATE) scdoc < $< > $@.tmp && sed -i '/^\.TH /i .nr HY 0' $@.tmp && mv $@.tmp $@

# The configuration is never overwritten: an existing /etc/vigil/vigil.yaml stays, and the shipped
# default goes beside it as vigil.yaml.dist. Units name the installed paths (BINDIR, SYSCONFDIR, DOCDIR).
install: man $(BUILD_DIR)/vigild $(BUILD_DIR)/vigilctl
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(CATALOGDIR) $(DESTDIR)$(SYSCONFDIR)/vigil $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BUILD_DIR)/vigild $(BUILD_DIR)/vigilctl $(DESTDIR)$(BINDIR)/
	@for unit in $(UNITS); do \
		sed -e 's|/usr/bin/|$(BINDIR)/|g' -e 's|/etc/vigil/|$(SYSCONFDIR)/vigil/|g' -e 's|file:/usr/share/doc/vigil/|file:$(DOCDIR)/|g' \
			systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit && chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit || exit 1; done
	install -m 0644 systemd/sysusers.d/vigil.conf $(DESTDIR)$(SYSUSERSDIR)/vigil.conf
	install -m 0644 systemd/tmpfiles.d/vigil.conf $(DESTDIR)$(TMPFILESDIR)/vigil.conf
	install -m 0644 systemd/vigil.catalog $(DESTDIR)$(CATALOGDIR)/vigil.catalog
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml ]; then \
		install -m 0644 config/vigil.yaml $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml.dist; \
		echo "kept the existing $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml; the shipped default is vigil.yaml.dist beside it"; \
	else install -m 0644 config/vigil.yaml $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml; fi
	@for page in $(MAN_PAGES); do section=$${page##*.}; \
		gzip -9n -c $$page > $(DESTDIR)$(MANDIR)/man$$section/$$(basename $$page).gz && chmod 0644 $(DESTDIR)$(MANDIR)/man$$section/$$(basename $$page).gz || exit 1; done
	$(BUILD_DIR)/vigilctl --generate-completion-script bash > $(DESTDIR)$(BASHCOMPDIR)/vigilctl
	$(BUILD_DIR)/vigilctl --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_vigilctl
	$(BUILD_DIR)/vigilctl --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/vigilctl.fish
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/vigilctl $(DESTDIR)$(ZSHCOMPDIR)/_vigilctl $(DESTDIR)$(FISHCOMPDIR)/vigilctl.fish
	install -m 0644 README.md docs/OPERATIONS.md $(DESTDIR)$(DOCDIR)/

# Removes what `make install` put in place except the configuration (and never /var/lib/vigil).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vigild $(DESTDIR)$(BINDIR)/vigilctl
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) $(DESTDIR)$(SYSUSERSDIR)/vigil.conf $(DESTDIR)$(TMPFILESDIR)/vigil.conf
	rm -f $(DESTDIR)$(CATALOGDIR)/vigil.catalog $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml.dist
	rm -f $(DESTDIR)$(MANDIR)/man1/vigilctl.1.gz $(DESTDIR)$(MANDIR)/man5/vigil.yaml.5.gz $(DESTDIR)$(MANDIR)/man8/vigild.8.gz
	rm -f $(DESTDIR)$(BASHCOMPDIR)/vigilctl $(DESTDIR)$(ZSHCOMPDIR)/_vigilctl $(DESTDIR)$(FISHCOMPDIR)/vigilctl.fish
	rm -rf $(DESTDIR)$(DOCDIR)

# vigil_$(VERSION)_ARCH.deb in DEBDIR: `make install` into a staging root, then packaging/make-deb
# (Swift runtime check with ldd, Depends from dpkg-shlibdeps, maintainer scripts, dpkg-deb).
# A release package is xz-compressed; a debug one gzip -1 (it is large and only for tests).
DEB_STAGE = $(DEBDIR)/.vigil-deb-root
DEB_COMPRESS ?= $(if $(filter release,$(BUILD)),-Zxz,-Zgzip -z1)
deb: $(BUILD_DIR)/vigild $(BUILD_DIR)/vigilctl
	@test -n "$(VERSION)" || { echo "cannot read VigilVersion.string from Sources/VigilControl/VigilVersion.swift" >&2; exit 1; }
	rm -rf $(DEB_STAGE) && mkdir -p $(DEB_STAGE)
	$(MAKE) --no-print-directory install BUILD=$(BUILD) DESTDIR=$(abspath $(DEB_STAGE)) PREFIX=/usr SYSCONFDIR=/etc >/dev/null
	packaging/make-deb $(DEB_STAGE) $(VERSION) $(DEBDIR) $(DEB_COMPRESS)
	rm -rf $(DEB_STAGE)

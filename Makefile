# Popup service: plain Makefile in the Redis/hiredis manner.
#   make            build everything into build/ (build-<sanitizer>/ with SANITIZER);
#                   only compiles: `make deps` installs what the build needs
#   make deps       install missing packages and unpack the Connector/C++ headers
#   make run|stop   start/stop the private local stack under run/
#   make test       unit + integration tests, ends with "N passed, N failed"
#   make bench      service vs. nginx static, the FastCGI floor and the Lua
#                   alternative (bench/README.md)
#   make bench-writer, make bench-pool, make locust   the other benchmarks
#   make bench-lua-check   the Lua alternative answers like the service
#   make install|uninstall PREFIX=/usr/local DESTDIR=   programs, systemd
#                   units, /etc/popup example (docs/deployment.md)
#   make verify-units PREFIX=/usr/local DESTDIR=   systemd-analyze verify of
#                   the units staged under DESTDIR
#   make fuzz FUZZ_SECONDS=60   libFuzzer on core/'s parsers (tests/fuzz/README.md)
#   make config-docs   rewrite README.md's settings table and
#                   deploy/popup.conf.example from popupd --print-config
OPTIMIZATION ?= -O2
SANITIZER ?=
CXX ?= g++
WERROR ?= -Werror

# Compile on every core unless the caller chose -j.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
  MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

BUILD := build$(if $(SANITIZER),-$(SANITIZER))
DEPS := .deps
# popup_build_info{version=...}: VERSION plus the commit when built from git.
POPUP_VERSION ?= $(shell cat VERSION)$(shell git rev-parse --short HEAD 2>/dev/null | sed 's/^/+g/')
CPPFLAGS += -I. -I$(BUILD)/gen -isystem $(DEPS)/mysqlcppconn/usr/include -MMD -MP
CXXFLAGS += -std=c++20 $(OPTIMIZATION) -g -Wall -Wextra -Wformat-nonliteral $(WERROR) -pthread
# $(DEPS)/lib holds only a link-time name for the runtime's libmysqlcppconn.so.7
# (scripts/deps.sh); the loader finds that in its default path.
LDFLAGS += -pthread -L$(DEPS)/lib
ifeq ($(SANITIZER),address)
  CXXFLAGS += -fsanitize=address -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address
else ifeq ($(SANITIZER),undefined)
  CXXFLAGS += -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=undefined
else ifneq ($(SANITIZER),)
  $(error SANITIZER must be address or undefined)
endif

# One folder per program (README "Architecture"): each links core/, the
# shared adapters in lib/ and its own folder, nothing else.
CORE_SRC := $(wildcard core/*.cc)
LIB_SRC := $(wildcard lib/*.cc)
FCGI_SRC := $(wildcard fcgi/*.cc)
WRITER_SRC := $(wildcard writer/*.cc)
CTL_SRC := $(wildcard ctl/*.cc)
UNIT_SRC := $(wildcard tests/unit/*.cc)

CORE_OBJ := $(CORE_SRC:%.cc=$(BUILD)/%.o)
LIB_OBJ := $(LIB_SRC:%.cc=$(BUILD)/%.o)
FCGI_OBJ := $(FCGI_SRC:%.cc=$(BUILD)/%.o)
WRITER_OBJ := $(WRITER_SRC:%.cc=$(BUILD)/%.o)
CTL_OBJ := $(CTL_SRC:%.cc=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.cc=$(BUILD)/%.o)

# jemalloc: libfcgi allocates and frees its streams and parameters on every
# request; under glibc malloc that churn showed up as malloc_consolidate and
# arena locks in perf, about a fifth of the workers' CPU (bench/README.md).
# The sanitizers bring their own allocator.
MALLOC := $(if $(SANITIZER),,-ljemalloc)
LIBS_STORE := -lhiredis -lmysqlcppconn -lboost_json
PROGRAMS := $(BUILD)/popupd $(BUILD)/popup-writer $(BUILD)/popupctl $(BUILD)/fcgi-floor

.PHONY: all deps run stop cluster cluster-stop test-cluster test unit integration fuzz fuzz-build config-docs bench bench-writer bench-pool bench-lua-check locust clean install uninstall
.PHONY: verify-units
all: $(PROGRAMS) $(BUILD)/unit_tests

deps:
	@./scripts/deps.sh

# `make` only compiles; say what is missing instead of a compiler error.
$(DEPS)/mysqlcppconn/usr/include/cppconn/driver.h:
	@test -f $@ || { echo "the Connector/C++ headers are missing: run make deps (or make run / make test)" >&2; exit 1; }

$(BUILD)/%.o: %.cc | $(DEPS)/mysqlcppconn/usr/include/cppconn/driver.h
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

# Rewritten only when the version changes, so a build recompiles nothing else.
$(BUILD)/gen/build_version.h: FORCE
	@mkdir -p $(dir $@)
	@line='#define POPUP_VERSION "$(POPUP_VERSION)"'; \
	  echo "$$line" | cmp -s - $@ || echo "$$line" > $@
$(BUILD)/fcgi/metrics.o $(BUILD)/fcgi/popupd_main.o $(BUILD)/writer/writer_main.o \
  $(BUILD)/ctl/popupctl_main.o: $(BUILD)/gen/build_version.h
FORCE:

$(BUILD)/popupd: $(FCGI_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) -lfcgi $(LIBS_STORE) $(MALLOC)
$(BUILD)/popup-writer: $(WRITER_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LIBS_STORE) $(MALLOC)
$(BUILD)/popupctl: $(CTL_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LIBS_STORE)
# The benchmarks' FastCGI floor (bench/README.md): libfcgi and hiredis, and
# the worker's connection loop with the record check in front of libfcgi,
# and the self-pipe for its stop signals.
FLOOR_OBJ := $(BUILD)/bench/floor/floor_main.o $(addprefix $(BUILD)/,fcgi/conn_loop.o \
  fcgi/record_guard.o core/fcgi_records.o lib/log.o lib/self_pipe.o)
$(BUILD)/fcgi-floor: $(FLOOR_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) -lfcgi -lhiredis $(MALLOC)
# The edge pieces that do no IO (no libfcgi, Redis or MySQL): the command
# line and file parser, the write-behind, the request handlers over their
# ports (fcgi/ports.h), the configuration loader over its source
# (fcgi/config_source.h), the router over the endpoints (fcgi/endpoints.h),
# the queue writer's drain over its ports (writer/ports.h), popupctl's
# command line (ctl/args.h, pure); the unit tests
# link them with fakes.
UNIT_EDGE_OBJ := $(BUILD)/lib/config_file.o $(BUILD)/lib/log.o \
  $(addprefix $(BUILD)/fcgi/,flusher.o handlers.o stamper.o response.o user_generations.o \
  config_loader.o router.o) $(BUILD)/writer/drain.o $(BUILD)/ctl/args.o
$(BUILD)/unit_tests: $(UNIT_OBJ) $(CORE_OBJ) $(UNIT_EDGE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) -lboost_json -lboost_unit_test_framework

# The fuzz target: clang's libFuzzer with AddressSanitizer and UBSan over
# core/ alone (pure, so it needs no server), in its own build folder.
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_BIN := build-fuzz/core_fuzz
$(FUZZ_BIN): tests/fuzz/core_fuzz.cc $(CORE_SRC) $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) -std=c++20 -O1 -g -I. -Wall -Wextra $(WERROR) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    tests/fuzz/core_fuzz.cc $(CORE_SRC) -o $@ -lboost_json

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@./tests/fuzz/run.sh $(FUZZ_BIN) $(FUZZ_SECONDS)

# The settings table (core/settings.cc) is the one source of every key's
# default and description; this writes the two documents that repeat them
# (tests/integration/test_config_docs.py fails when they drift).
config-docs: $(BUILD)/popupd
	@/usr/bin/python3 scripts/gen_config_docs.py --popupd $(BUILD)/popupd

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./scripts/stack.sh start run

stop:
	@./scripts/stack.sh stop run

# Several hosts on this one box, in network namespaces (README.md, "Running
# on several hosts"); needs root.
cluster: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./scripts/cluster.sh up
	@echo "edge: $$(./scripts/cluster.sh url)"

cluster-stop:
	@./scripts/cluster.sh down

test-cluster: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) /usr/bin/python3 tests/cluster/run.py

test: deps
	@$(MAKE) --no-print-directory all $(FUZZ_BIN)
	@BUILD=$(BUILD) ./tests/run_all.sh

unit: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./tests/run_all.sh unit

integration: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./tests/run_all.sh integration

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./bench/run.sh

bench-writer: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) /usr/bin/python3 bench/writer_bench.py

bench-pool: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) /usr/bin/python3 bench/timewait.py

bench-lua-check: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) /usr/bin/python3 bench/lua_check.py

locust: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./bench/locust.sh

# `make install PREFIX=/usr/local DESTDIR=` (deploy/README.md): the
# programs, the systemd units and sysusers.d entry, the configuration
# example under SYSCONFDIR/popup, and under PREFIX/share/popup what a host
# needs besides: the nginx snippets, the migrations and their script, the
# dashboard, the alert rules, the logrotate example, and the browser client
# web/popup.js under PREFIX/share/popup/web (nginx/popup-web.conf is
# installed pointing there; README "Shipping popup.js"). popup.conf is
# installed only where none exists, and `make uninstall` leaves it.
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
BINDIR := $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DATADIR := $(PREFIX)/share/popup
# Installed programs lose their debug sections (--strip-debug keeps the
# symbols, so a backtrace still names functions); the build tree keeps them.
STRIP ?= strip
INSTALL_PROGRAMS := popupd popup-writer popupctl
INSTALL_UNITS := popupd.service popup-writer.service
INSTALL_DATA := README.md nginx/popup.conf nginx/fastcgi_params.conf deploy/grafana/popup-dashboard.json \
  deploy/prometheus/popup-rules.yml deploy/logrotate/popup sql/grants.sql $(wildcard sql/migrations/*.sql)
# What deploy/popup.conf.example and the README point to: the pool's sizing
# notes and the access log's formats (log_format popup, popup_private).
INSTALL_DATA += nginx/README.md nginx/nginx.conf.in
# The runbook and the deployment procedure the README links.
INSTALL_DATA += docs/runbook.md docs/deployment.md
INSTALLED := $(INSTALL_PROGRAMS:%=$(BINDIR)/%) $(INSTALL_UNITS:%=$(UNITDIR)/%) \
  $(SYSUSERSDIR)/popup.conf $(SYSCONFDIR)/popup/popup.conf.example \
  $(INSTALL_DATA:%=$(DATADIR)/%) $(DATADIR)/scripts/migrate.sh \
  $(DATADIR)/web/popup.js $(DATADIR)/nginx/popup-web.conf

install: $(INSTALL_PROGRAMS:%=$(BUILD)/%)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/popup $(DESTDIR)$(DATADIR)/scripts
	install -m 0755 $^ $(DESTDIR)$(BINDIR)/
	cd $(DESTDIR)$(BINDIR) && $(STRIP) --strip-debug $(INSTALL_PROGRAMS)
	for u in $(INSTALL_UNITS); do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@DATADIR@|$(DATADIR)|g' deploy/systemd/$$u.in \
	    > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 deploy/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/popup.conf
	install -m 0644 deploy/popup.conf.example $(DESTDIR)$(SYSCONFDIR)/popup/popup.conf.example
	test -e $(DESTDIR)$(SYSCONFDIR)/popup/popup.conf || \
	  install -m 0640 deploy/popup.conf.example $(DESTDIR)$(SYSCONFDIR)/popup/popup.conf
	for f in $(INSTALL_DATA); do install -D -m 0644 $$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done
	install -m 0755 scripts/migrate.sh $(DESTDIR)$(DATADIR)/scripts/migrate.sh
	install -D -m 0644 web/popup.js $(DESTDIR)$(DATADIR)/web/popup.js
	sed -e 's|@WEB_ROOT@|$(DATADIR)/web|g' nginx/popup-web.conf > $(DESTDIR)$(DATADIR)/nginx/popup-web.conf
	chmod 0644 $(DESTDIR)$(DATADIR)/nginx/popup-web.conf

# `make verify-units PREFIX=… DESTDIR=…`: systemd-analyze verify on the
# units `make install` put under DESTDIR, with no install into the real
# PREFIX. verify checks that each Exec program exists on this machine, so it
# reads copies whose PREFIX programs point into DESTDIR; its --root= is no
# help for a staging tree, since it then also looks for sysinit.target and
# /bin/kill under that root.
verify-units:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for u in $(INSTALL_UNITS); do \
	  sed -e '/^Exec/s|$(BINDIR)/|$(DESTDIR)$(BINDIR)/|g' $(DESTDIR)$(UNITDIR)/$$u > "$$tmp/$$u" || exit 1; \
	done && \
	systemd-analyze verify --man=no $(INSTALL_UNITS:%="$$tmp/%") && \
	echo "verify-units: $(INSTALL_UNITS) under $(DESTDIR)$(UNITDIR) ok"

uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)%)
	rmdir $(DESTDIR)$(DATADIR)/sql/migrations $(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(DATADIR)/scripts \
	  $(DESTDIR)$(DATADIR)/web $(DESTDIR)$(DATADIR)/nginx $(DESTDIR)$(DATADIR)/deploy/grafana \
	  $(DESTDIR)$(DATADIR)/deploy/prometheus $(DESTDIR)$(DATADIR)/deploy/logrotate \
	  $(DESTDIR)$(DATADIR)/deploy $(DESTDIR)$(DATADIR)/docs $(DESTDIR)$(DATADIR) 2>/dev/null || true

clean:
	rm -rf build build-address build-undefined build-fuzz

-include $(shell find build* -name '*.d' 2>/dev/null)

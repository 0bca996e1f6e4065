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
CPPFLAGS += -I. -isystem $(DEPS)/mysqlcppconn/usr/include -MMD -MP
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

.PHONY: all deps run stop test unit integration bench bench-writer bench-pool bench-lua-check locust clean
all: $(PROGRAMS) $(BUILD)/unit_tests

deps:
	@./scripts/deps.sh

# `make` only compiles; say what is missing instead of a compiler error.
$(DEPS)/mysqlcppconn/usr/include/cppconn/driver.h:
	@test -f $@ || { echo "the Connector/C++ headers are missing: run make deps (or make run / make test)" >&2; exit 1; }

$(BUILD)/%.o: %.cc | $(DEPS)/mysqlcppconn/usr/include/cppconn/driver.h
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/popupd: $(FCGI_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) -lfcgi $(LIBS_STORE) $(MALLOC)
$(BUILD)/popup-writer: $(WRITER_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LIBS_STORE) $(MALLOC)
$(BUILD)/popupctl: $(CTL_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LIBS_STORE)
# The benchmarks' FastCGI floor (bench/README.md): libfcgi and hiredis only.
$(BUILD)/fcgi-floor: $(BUILD)/bench/floor/floor_main.o
	$(CXX) $^ -o $@ $(LDFLAGS) -lfcgi -lhiredis $(MALLOC)
# The edge pieces that do no IO (no libfcgi, Redis or MySQL): the command
# line and file parser, the write-behind, the request handlers over their
# ports (fcgi/ports.h); the unit tests link them with fakes.
UNIT_EDGE_OBJ := $(BUILD)/lib/config_file.o $(addprefix $(BUILD)/fcgi/,flusher.o handlers.o stamper.o response.o)
$(BUILD)/unit_tests: $(UNIT_OBJ) $(CORE_OBJ) $(UNIT_EDGE_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) -lboost_json -lboost_unit_test_framework

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ./scripts/stack.sh start run

stop:
	@./scripts/stack.sh stop run

test: deps
	@$(MAKE) --no-print-directory all
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

clean:
	rm -rf build build-address build-undefined

-include $(shell find build* -name '*.d' 2>/dev/null)

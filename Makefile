# Common commands; CMake does the real work. `make test` is what CI runs.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all build test test-aarch64 deps bench-core bench-http demo clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DAW_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps
	@bash scripts/test-all.sh

# The coroutine tests cross-built for aarch64 and run under qemu-user.
test-aarch64:
	@bash scripts/test-aarch64.sh

# The core benchmark, pinned to CPU 0 (its pool threads too: the figures are for one core).
bench-core: build
	@taskset -c 0 $(BUILD)/bin/bench-core

# The HTTP benchmark (not a test; ~10 minutes): the echo example against a ceiling, nginx,
# h2o and FastAPI, servers on CPU 0 and wrk on CPU 1. BENCH_HTTP_ARGS="--rounds 5" etc.
bench-http: build
	@bash bench/http/install.sh
	@/usr/bin/python3 bench/http/run.py --build $(BUILD) $(BENCH_HTTP_ARGS)

# The web layer's benchmark (not a test; ~5 minutes): GET /search with two validated query
# params among 100 routes, the web layer against the HTTP layer answering the same bytes and
# against FastAPI, servers on CPU 0 and wrk on CPU 1. BENCH_WEB_ARGS="--only timed" etc.
.PHONY: bench-web
bench-web: build
	@bash bench/http/install.sh
	@/usr/bin/python3 bench/web/run.py --build $(BUILD) $(BENCH_WEB_ARGS)

# The burger shop on http://127.0.0.1:8000 (SQLite file burgers.db here); DEMO_ARGS="--workers 2".
# The burger shop's figures (not a test; ~1.5 minutes): 1,000 customers in concurrent and
# parallel mode (burger-rush), the mansion on the loop against the pool, and the ticket
# look-up latency meanwhile. BENCH_BURGERS_ARGS="--only mansion" etc.
.PHONY: bench-burgers
bench-burgers: build
	@/usr/bin/python3 bench/burgers/run.py --build $(BUILD) $(BENCH_BURGERS_ARGS)

demo:
	@bash scripts/install-deps.sh --build
	@cmake -S . -B $(BUILD) -DAW_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target burgers
	@$(BUILD)/bin/burgers --db burgers.db $(DEMO_ARGS)

clean:
	rm -rf build build-clang build-asan build-tsan build-aarch64

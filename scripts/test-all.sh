#!/usr/bin/env bash
# Everything CI runs: gcc and clang builds with -Werror, the unit tests, the
# unit tests again under ASan+UBSan, and the pool tests under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

step() { printf '\n==== %s\n' "$*"; }

build() { # dir, extra cmake args...
    local dir=$1; shift
    cmake -S . -B "$dir" -DAW_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
}

step "gcc build and unit tests"
build build -DCMAKE_C_COMPILER=gcc
(cd build && ctest --output-on-failure -j "$jobs")

step "integration tests (pytest + httpx against build/bin/echo)"
# Debian's python3, which has python3-pytest and python3-httpx, not a pyenv shim.
PY=/usr/bin/python3
"$PY" -m pytest -q -p no:cacheprovider tests/integration

step "OpenAPI validator self-test (tests/tools, Node from web/node_modules)"
"$PY" -m pytest -q -p no:cacheprovider tests/tools

step "clang build and unit tests"
build build-clang -DCMAKE_C_COMPILER=clang -DAW_BUILD_BENCH=OFF
(cd build-clang && ctest --output-on-failure -j "$jobs")

step "ASan+UBSan build and unit tests"
build build-asan -DCMAKE_C_COMPILER=gcc -DAW_SANITIZE=address -DAW_BUILD_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")

step "integration tests under ASan+UBSan"
AW_BUILD_DIR="$PWD/build-asan" ASAN_OPTIONS=detect_leaks=1 \
    "$PY" -m pytest -q -p no:cacheprovider tests/integration

step "TSan build and pool tests"
build build-tsan -DCMAKE_C_COMPILER=gcc -DAW_SANITIZE=thread -DAW_BUILD_BENCH=OFF
# TSan's shadow layout cannot cope with the kernel's full mmap randomization:
# run without ASLR.
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    setarch "$(uname -m)" -R ctest --output-on-failure -L pool)

step "fuzz the HTTP parser for 20 s (clang, libFuzzer, ASan+UBSan)"
build build-fuzz -DCMAKE_C_COMPILER=clang -DAW_BUILD_FUZZ=ON -DAW_SANITIZE=address \
    -DAW_BUILD_BENCH=OFF -DAW_BUILD_TESTS=OFF
fuzz_work=$(mktemp -d)
./build-fuzz/bin/http_parser_fuzz -max_total_time=20 -print_final_stats=0 "$fuzz_work" \
    fuzz/corpus/http_parser 2>&1 | tail -n 2
rm -rf "$fuzz_work"

step "fuzz the client's response parser for 10 s"
fuzz_work=$(mktemp -d)
./build-fuzz/bin/http_response_fuzz -max_total_time=10 -print_final_stats=0 "$fuzz_work" \
    fuzz/corpus/http_response 2>&1 | tail -n 2
rm -rf "$fuzz_work"

step "fuzz the web layer's JSON body validation for 10 s"
fuzz_work=$(mktemp -d)
./build-fuzz/bin/web_body_fuzz -max_total_time=10 -print_final_stats=0 "$fuzz_work" \
    fuzz/corpus/web_body 2>&1 | tail -n 2
rm -rf "$fuzz_work"

step "aarch64 context switch under qemu-user"
bash scripts/test-aarch64.sh

step "all tests passed"

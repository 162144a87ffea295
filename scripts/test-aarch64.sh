#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-builds the coroutine unit tests for AArch64 and runs them under
# qemu-user, so the aarch64 switch backend is exercised on an x86-64 host.
# Installs the Debian cross toolchain and qemu only when they are missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=build-aarch64
CC=${AW_AARCH64_CC:-aarch64-linux-gnu-gcc}
OPT=${AW_AARCH64_OPT:--O2}

# qemu-user-static works as well as qemu-user; take whichever is there.
need=()
for pkg in gcc-aarch64-linux-gnu libc6-dev-arm64-cross; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ! dpkg -s qemu-user >/dev/null 2>&1 && ! dpkg -s qemu-user-static >/dev/null 2>&1; then
    need+=(qemu-user)
fi
if ((${#need[@]})); then
    sudo=()
    if ((EUID != 0)); then
        sudo=(sudo)
    fi
    echo "# installing: ${need[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}"
fi

QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
if [[ -z $QEMU ]]; then
    echo "test-aarch64: no qemu-aarch64 after installing qemu-user" >&2
    exit 1
fi

# The project's flags; -static so qemu needs no aarch64 sysroot at run time.
CFLAGS=(-std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -fvisibility=hidden "$OPT" -g -Iinclude)
mkdir -p "$OUT/obj"
objs=()
for src in src/common/error.c src/coro/coro.c src/coro/stack.c src/coro/switch_aarch64.S tests/unit/runner.c; do
    obj="$OUT/obj/$(basename "${src%.*}").o"
    "$CC" "${CFLAGS[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
done

failed=0
for t in test_coro test_stack; do
    "$CC" "${CFLAGS[@]}" -static -o "$OUT/$t" "tests/unit/coro/$t.c" "${objs[@]}" -lpthread -lm
    echo "# $t (aarch64, $OPT, $(basename "$QEMU"))"
    if ! "$QEMU" "$OUT/$t"; then
        failed=1
    fi
done

if ((failed)); then
    echo "test-aarch64: FAILED" >&2
    exit 1
fi
echo "# test-aarch64: all passed"

#!/usr/bin/env bash
# Installs the Debian packages that building and testing awaitress need, and
# only those that are missing (dpkg -s first), so a second run costs nothing.
set -euo pipefail

# What building (and `make demo`) needs...
packages=(
    cmake make gcc            # build
    libc6-dev
    node-llhttp               # llhttp's C sources, compiled into the library
    zlib1g-dev                # zlib, for the gzip middleware
    libjansson-dev            # JSON for the web layer
    libsqlite3-dev            # the burger shop's store
)
# ...and what the tests add (skipped with --build).
if [ "${1:-}" != "--build" ]; then
    packages+=(
        clang                     # the second compiler
        libclang-rt-14-dev        # clang's sanitizer and libFuzzer runtimes
        libgcc-12-dev             # gcc's ASan, UBSan and TSan runtimes
        util-linux                # setarch and taskset
        python3 python3-pytest python3-httpx  # integration tests (Debian's python3, not a pyenv one)
        curl
        chromium                  # headless browser for tests/tools/docs-browser.mjs (/docs)
    )
fi

missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages: Swagger UI's assets for /docs, the OpenAPI validator, playwright-core
# (and Node.js itself if the machine has none).
bash "$(dirname "${BASH_SOURCE[0]}")/install-web-deps.sh"

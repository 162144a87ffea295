#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs web/'s npm packages (package-lock.json): swagger-ui-dist, whose
# assets the library embeds for /docs, and the Node tools of tests/tools (the
# OpenAPI validator, playwright-core). Runs `npm ci` only when node_modules is
# missing or older than the lock file (a stamp holds the lock's hash), so a
# second run costs nothing. Installs Debian's nodejs and npm first if there is
# no node or npm at all (a Node.js from elsewhere, such as NodeSource's, is
# used as it is: Debian's npm package would conflict with it).
#
# After the first install, rebuild: CMake notices web/node_modules and embeds
# the assets (cmake/docs_assets.cmake).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../web"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    need=()
    command -v node >/dev/null 2>&1 || need+=(nodejs)
    command -v npm >/dev/null 2>&1 || need+=(npm)
    echo "install-web-deps: installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    # Debian 12's nodejs is 18: enough to unpack the assets, not for the tools.
    echo "install-web-deps: warning: Node.js $(node --version) is older than 20;" \
         "tests/tools (validator, browser check) need 20 or newer" >&2
fi

# One installer at a time (two builds may start together); the lock is on a
# file npm never replaces.
exec 9<package-lock.json
flock 9

stamp=node_modules/.awaitress-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "install-web-deps: npm ci in web/ (package-lock.json changed or node_modules missing)"
start=$(date +%s)
# web/.npmrc turns install scripts, audit and funding messages off.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
echo "$want" >"$stamp"
echo "install-web-deps: done in $(($(date +%s) - start)) s ($(du -sh node_modules | cut -f1))"

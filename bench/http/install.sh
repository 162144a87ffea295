#!/usr/bin/env bash
# Installs what `make bench-http` needs, only the Debian packages that are
# missing (dpkg -s first), so a second run costs nothing. The servers'
# packages would start their system services on install: a temporary
# policy-rc.d stops that (the benchmark starts its own copies on loopback).
set -euo pipefail

packages=(
    wrk                         # the load generator
    nginx-light libnginx-mod-http-echo  # nginx, and echo_sleep for the 10k waiting case
    h2o
    python3-uvicorn python3-fastapi python3-uvloop python3-httptools
    valgrind strace             # instructions and system calls per request
    linux-perf util-linux procps  # perf for profiles, taskset/prlimit, ps
    cmake gcc make
)

missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

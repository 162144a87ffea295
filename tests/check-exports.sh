#!/bin/sh
# The shared library must export the public aw_ API and nothing else.
set -eu
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^aw_[a-z0-9]' | grep -v '^_' || true)
internal=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep '^aw__' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -c '^aw_[a-z0-9]' || true)
if [ -n "$bad$internal" ]; then
    echo "not ok: exported symbols outside the aw_ API:"; echo "$bad$internal"; exit 1
fi
[ "$count" -gt 20 ] || { echo "not ok: only $count aw_ symbols exported"; exit 1; }
echo "ok: $count aw_ symbols exported, nothing else"

#!/usr/bin/env bash
# Regenerates the fuzz seed corpus (tests/fuzz/corpus/{fe,be,startup,roundtrip}) from the golden
# conversations in tests/unit/protocol/convo.c, using the build in ${1:-build-codec}.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-codec}
[ -f "$dir/build.ninja" ] || meson setup "$dir" >/dev/null
ninja -C "$dir" tests/unit/protocol/gen_corpus >/dev/null
rm -rf tests/fuzz/corpus
"$dir/tests/unit/protocol/gen_corpus" tests/fuzz/corpus
for d in tests/fuzz/corpus/*; do echo "$d: $(ls "$d" | wc -l) seeds"; done

#!/usr/bin/env bash
# Runs one libFuzzer driver for a bounded time on a scratch copy of its seed corpus.
#
#   scripts/fuzz.sh DRIVER SECONDS      DRIVER: fe | be | startup | roundtrip | merge | merge_numeric |
#                                       hba | hint | sqlscan | config | admin | http
#
# Builds build-fuzz (CC=clang, -Dfuzz=true) if needed, but only the fuzz targets. New inputs go
# to tests/fuzz/corpus-work/DRIVER (ignored by git), never into the committed corpus; crashes
# land in build-fuzz/crashes/DRIVER/. Ends with libFuzzer's final stats and status line.
set -euo pipefail
cd "$(dirname "$0")/.."
drv=${1:?usage: scripts/fuzz.sh DRIVER SECONDS}
secs=${2:?usage: scripts/fuzz.sh DRIVER SECONDS}
case $drv in fe|be|startup|roundtrip|merge|merge_numeric|hba) ;; *) echo "unknown driver: $drv" >&2; exit 2 ;; esac
bdir=build-fuzz
if [ ! -f $bdir/build.ninja ]; then
    CC=clang meson setup $bdir -Dfuzz=true >/dev/null
fi
ninja -C $bdir tests/fuzz/fuzz_$drv >/dev/null
work=tests/fuzz/corpus-work/$drv
mkdir -p "$work" "$bdir/crashes/$drv"
cp -n tests/fuzz/corpus/$drv/* "$work"/ 2>/dev/null || true
log=$bdir/fuzz-$drv.log
set +e
"$bdir/tests/fuzz/fuzz_$drv" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$bdir/crashes/$drv/" "$work" >"$log" 2>&1
rc=$?
set -e
grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1
grep -E '^stat::' "$log" || true
if [ $rc -ne 0 ]; then
    echo "fuzz_$drv: FAILED (exit $rc); see $log and $bdir/crashes/$drv/"
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5
    exit $rc
fi
echo "fuzz_$drv: ok after $secs s"

#!/usr/bin/env bash
# Runs one libFuzzer driver for a bounded time on a scratch copy of its seed corpus, or measures
# what the committed seed corpora cover.
#
#   scripts/fuzz.sh DRIVER SECONDS      DRIVER: fe | be | startup | roundtrip | merge | merge_numeric |
#                                       hba | hint | sqlscan | config | admin | http | session
#   scripts/fuzz.sh --coverage [--min PCT]
#
# Builds build-fuzz (CC=clang, -Dfuzz=true) if needed, but only the fuzz targets. New inputs go
# to tests/fuzz/corpus-work/DRIVER (ignored by git), never into the committed corpus; crashes
# land in build-fuzz/crashes/DRIVER/. Ends with libFuzzer's final stats and status line.
#
# --coverage builds the drivers again in build-fuzz-cov with source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping), runs each once over its committed corpus
# (-runs=0: no mutation, so the result is deterministic), merges the profiles (llvm-profdata) and
# prints llvm-cov's line coverage of protocol/ per file, ending with
# `protocol/ line coverage: NN.N%`. With --min PCT it exits 1 when the total is below PCT.
# The whole report (every instrumented file) is left in build-fuzz-cov/coverage.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
DRIVERS="fe be startup roundtrip merge merge_numeric hba hint sqlscan config admin http session"

# llvm-profdata / llvm-cov, unsuffixed or as Debian names them (llvm-14 ...).
llvm_tool() {
    local t
    for t in "$1" "$1-14" "$1-15" "$1-16"; do
        command -v "$t" >/dev/null && { echo "$t"; return 0; }
    done
    echo "$1 not found (apt-get install llvm)" >&2
    return 1
}

coverage() { # min-percent (empty: no floor)
    local min=$1 bdir=build-fuzz-cov cov_flags='-fprofile-instr-generate -fcoverage-mapping'
    local profdata llvmcov d objs=() f
    profdata=$(llvm_tool llvm-profdata) && llvmcov=$(llvm_tool llvm-cov) || return 2
    # meson's compiler checks run instrumented programs: keep their profiles out of the tree.
    mkdir -p $bdir
    export LLVM_PROFILE_FILE=$PWD/$bdir/setup.profraw
    if [ ! -f $bdir/build.ninja ]; then
        CC=clang meson setup $bdir -Dfuzz=true -Dc_args="$cov_flags" \
            -Dc_link_args="$cov_flags" >/dev/null
    fi
    local targets=()
    for d in $DRIVERS; do targets+=("tests/fuzz/fuzz_$d"); done
    ninja -C $bdir "${targets[@]}" >/dev/null
    rm -rf $bdir/profiles
    mkdir -p $bdir/profiles
    for d in $DRIVERS; do
        f=$bdir/tests/fuzz/fuzz_$d
        # llvm-cov takes the first binary bare and the others after -object.
        [ ${#objs[@]} = 0 ] && objs+=("$f") || objs+=(-object "$f")
        [ -d tests/fuzz/corpus/$d ] || { echo "no corpus for $d" >&2; return 2; }
        # A scratch copy: libFuzzer never writes into the committed corpus.
        local work
        work=$(mktemp -d)
        cp tests/fuzz/corpus/$d/* "$work"/
        if ! LLVM_PROFILE_FILE="$bdir/profiles/$d.profraw" "$f" -runs=0 "$work" \
            >"$bdir/cov-$d.log" 2>&1; then
            rm -rf "$work"
            echo "fuzz_$d failed on its corpus; see $bdir/cov-$d.log" >&2
            return 1
        fi
        rm -rf "$work"
    done
    "$profdata" merge -sparse -o $bdir/fuzz.profdata $bdir/profiles/*.profraw
    "$llvmcov" report -instr-profile=$bdir/fuzz.profdata "${objs[@]}" >$bdir/coverage.txt
    # protocol/'s files from the whole report (llvm-cov prints paths less their common prefix):
    # name, then the Lines columns (llvm-cov's 8th to 10th).
    awk -v min="$min" '
        $1 ~ /(^|\/)protocol\/[^\/]+\.[ch]$/ && $1 !~ /tests\/unit\// && $8 > 0 {
            name = $1
            sub(/^.*\/protocol\//, "protocol/", name)
            lines += $8; missed += $9
            printf "%-22s %5d lines %5d missed %8s\n", name, $8, $9, $10
        }
        END {
            if (lines == 0) { print "protocol/: no coverage data"; exit 2 }
            pct = 100 * (lines - missed) / lines
            printf "protocol/ line coverage: %.1f%%\n", pct
            if (min != "" && sprintf("%.1f", pct) + 0 < min + 0) exit 1
        }' $bdir/coverage.txt
}

if [ "${1:-}" = --coverage ]; then
    min=
    if [ "${2:-}" = --min ]; then
        min=${3:?usage: scripts/fuzz.sh --coverage [--min PCT]}
    elif [ -n "${2:-}" ]; then
        echo "usage: scripts/fuzz.sh --coverage [--min PCT]" >&2
        exit 2
    fi
    coverage "$min"
    exit $?
fi

drv=${1:?usage: scripts/fuzz.sh DRIVER SECONDS | --coverage [--min PCT]}
secs=${2:?usage: scripts/fuzz.sh DRIVER SECONDS}
case " $DRIVERS " in *" $drv "*) ;; *) echo "unknown driver: $drv" >&2; exit 2 ;; esac
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

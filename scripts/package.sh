#!/usr/bin/env bash
# Builds pgrouter's Debian package (debian/) with dpkg-buildpackage from this tree: the tracked
# and new files of the working tree (not build/), copied into a temp dir, built there.
#
#   scripts/package.sh [OUTDIR]     the .deb (and .buildinfo, .changes) land in OUTDIR
#                                   (default build/package); the build log in OUTDIR/build.log
#
# Needs dpkg-dev and debhelper, and the build packages of scripts/bootstrap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(realpath -m "${1:-build/package}")
mkdir -p "$OUT"

version=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d /tmp/pgr-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/pgrouter-$version
mkdir "$src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files still present, and untracked ones not ignored.
    git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$src"
fi

jobs=$(nproc 2>/dev/null || echo 1)
[ "$jobs" -gt 2 ] && jobs=2
echo "package: building pgrouter $version in $src (log: $OUT/build.log)"
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$jobs" \
        dpkg-buildpackage -b -us -uc) >"$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    echo "package: dpkg-buildpackage failed"
    exit 1
fi
rm -f "$OUT"/pgrouter_*.deb "$OUT"/pgrouter-dbgsym_*.deb
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$OUT"/
ls "$OUT"/*.deb

#!/usr/bin/env bash
# Installs what pgrouter's build, tests, demo and benchmarks need and is missing — nothing else.
# Debian 12 packages only, non-interactive, idempotent: with everything present it only asks dpkg.
set -euo pipefail

PKGS=(
    # build
    meson ninja-build gcc pkg-config
    libuv1-dev libpq-dev libyaml-dev libssl-dev libpg-query-dev libprotobuf-c-dev
    libidn-dev libunistring-dev   # SASLprep: RFC 3454 tables, NFKC
    # fuzzing (libFuzzer + sanitizer runtimes)
    clang libclang-rt-14-dev llvm-14   # llvm-14: llvm-profdata, llvm-cov (scripts/fuzz.sh --coverage)
    # real PostgreSQL nodes and clients
    postgresql-15 postgresql-client-15 procps util-linux
    # integration tests and benchmarks (locales: en_US.UTF-8 for the collation tests)
    python3 python3-pytest python3-psycopg python3-psycopg2 pgbouncer tmux locales curl
    haproxy   # several pgrouter instances behind a TCP balancer (test_instances.py)
    # driver tests: pgjdbc (tests/integration/java/)
    libpostgresql-jdbc-java
    # PostgreSQL's regression suite (scripts/regress.sh): dpkg-source unpacks the server's
    # source package; the server's headers are installed below, at the server's own version
    dpkg-dev
    # the Debian package (scripts/package.sh, tests/integration/test_package.py; debian/ says
    # Rules-Requires-Root: no, so no fakeroot); systemd-analyze verifies the unit where present
    debhelper
)
# A JDK and node/npm may already be on the machine from elsewhere than these packages (the
# image's own node ships npm); install Debian's only when the command is missing.
command -v javac >/dev/null || PKGS+=(default-jdk-headless)
command -v npm >/dev/null || PKGS+=(npm)

missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null | awk '$2 == "installed" { print $1 }')
for p in "${PKGS[@]}"; do
    grep -qx "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The Debian packages start a default cluster and pgbouncer; pgrouter's scripts start their
    # own servers, so stop the packaged ones if installing them just started them.
    if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster 15 main stop 2>/dev/null || true
    fi
    if [[ " ${missing[*]} " == *" pgbouncer "* ]]; then
        systemctl stop pgbouncer 2>/dev/null || service pgbouncer stop 2>/dev/null || true
    fi
    if [[ " ${missing[*]} " == *" haproxy "* ]]; then
        systemctl stop haproxy 2>/dev/null || service haproxy stop 2>/dev/null || true
    fi
fi

# The broadcast collation tests create databases with LC_COLLATE 'en_US.UTF-8', so the nodes
# (and pgrouter, which sorts in the same locale) need it generated; a fresh Debian has only C,
# C.UTF-8 and POSIX. Servers see a locale generated before they start.
if ! locale -a 2>/dev/null | grep -qix 'en_US.utf-\?8'; then
    echo "bootstrap: generating the en_US.UTF-8 locale"
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    if grep -q '^# *en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null; then
        $SUDO sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
    elif ! grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null; then
        echo 'en_US.UTF-8 UTF-8' | $SUDO tee -a /etc/locale.gen >/dev/null
    fi
    $SUDO locale-gen >/dev/null
fi

# PostgreSQL's regression suite (scripts/regress.sh) is taken from the Debian source package of
# the installed server, so apt needs deb-src entries: derived from the enabled Debian entries
# (Debian's own mirrors, the only package servers reachable), added only when there are none.
has_deb_src() {
    grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list ||
        grep -qsE '^Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources
}
if ! has_deb_src; then
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    tmp=$(mktemp -d)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas (blank-line separated) whose URIs are Debian's, as deb-src.
        awk 'BEGIN { RS = "" } /URIs:[^\n]*debian\.org/ && !/Enabled: *no/ {
                 sub(/Types:[^\n]*/, "Types: deb-src"); print; print "" }' "$f" >>"$tmp/src.sources"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" && /debian\.org/ { $1 = "deb-src"; print }' "$f" >>"$tmp/src.list"
    done
    [ -s "$tmp/src.sources" ] && $SUDO install -m 644 "$tmp/src.sources" /etc/apt/sources.list.d/pgrouter-deb-src.sources
    [ -s "$tmp/src.list" ] && $SUDO install -m 644 "$tmp/src.list" /etc/apt/sources.list.d/pgrouter-deb-src.list
    rm -rf "$tmp"
    has_deb_src && echo "bootstrap: added deb-src entries for Debian's mirrors (pgrouter-deb-src)"
fi
if has_deb_src && ! apt-cache showsrc postgresql-15 2>/dev/null | grep -q '^Package:'; then
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
fi

# The suite's C functions (regress.so) are built against the server's headers: those of the
# installed server's own version (a headers package never upgrades the server); when the mirror
# no longer serves that point release, its current one (the same major version, the same ABI).
pgver=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
if [ -n "$pgver" ] && ! dpkg-query -W -f='${db:Status-Status}\n' postgresql-server-dev-15 2>/dev/null | grep -qx installed; then
    echo "bootstrap: installing postgresql-server-dev-15 $pgver"
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq --no-install-recommends "postgresql-server-dev-15=$pgver" >/dev/null; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends "postgresql-server-dev-15=$pgver" >/dev/null ||
            $SUDO apt-get install -y -qq --no-install-recommends postgresql-server-dev-15 >/dev/null
    fi
fi

#!/usr/bin/env bash
# Installs what pgrouter's build, tests, demo and benchmarks need and is missing — nothing else.
# Debian 12 packages only, non-interactive, idempotent: with everything present it only asks dpkg.
set -euo pipefail

PKGS=(
    # build
    meson ninja-build gcc pkg-config
    libuv1-dev libpq-dev libyaml-dev libssl-dev libpg-query-dev libprotobuf-c-dev
    # fuzzing (libFuzzer + sanitizer runtimes)
    clang libclang-rt-14-dev
    # real PostgreSQL nodes and clients
    postgresql-15 postgresql-client-15 procps util-linux
    # integration tests and benchmarks
    python3 python3-pytest python3-psycopg python3-psycopg2 pgbouncer tmux
    # driver tests: pgjdbc (tests/integration/java/)
    libpostgresql-jdbc-java
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
fi

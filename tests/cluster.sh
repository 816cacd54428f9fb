#!/usr/bin/env bash
# Starts, stops and faults local PostgreSQL 15 nodes for pgrouter's tests and demo.
#
#   tests/cluster.sh start N [--replicas R] [--dir D]
#       N nodes pg1..pgN on free loopback ports; with --replicas R, pg2..pg(R+1) are streaming
#       replicas of pg1 (pg_basebackup -R), the others independent primaries. Prints one line per
#       node:  node pg1 port 54321 role primary pid 1234 dir D/pg1
#       and writes D/cluster.env (PGR_CLUSTER_DIR, PGR_NODES, PG1_PORT, ...).
#   tests/cluster.sh stop [--dir D]           stop exactly the servers this dir's start started
#   tests/cluster.sh kill NODE [--dir D]      pg_ctl stop -m immediate
#   tests/cluster.sh hang NODE [--dir D]      SIGSTOP the postmaster and all its processes
#   tests/cluster.sh resume NODE [--dir D]    SIGCONT them
#   tests/cluster.sh restart NODE [--dir D]   start a stopped/killed node again on its port
#   tests/cluster.sh promote NODE [--dir D]   pg_ctl promote a replica
#   tests/cluster.sh status [--dir D]         one line per node, as start prints, with "up"/"down"
#   tests/cluster.sh psql NODE [--dir D] [psql args...]
#
# D defaults to $PGR_CLUSTER_DIR, else (for start) a new mktemp dir. Every node has database
# `app`; roles: postgres (superuser, trust), app (password app, trust), scram_user (password
# scram_pass, scram-sha-256 required), md5_user (password md5_pass, md5 required). Servers listen
# on 127.0.0.1 only, with their Unix socket inside their own data dir. As root, every server
# command runs as the postgres user (the server refuses root).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
TEMPLATE_ROOT=${PGR_TEMPLATE_DIR:-/tmp/pgrouter-template-15}

die() { echo "cluster.sh: $*" >&2; exit 1; }

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A free port below the kernel's ephemeral range (so no outgoing connection takes it between
# this check and the server's bind).
free_port() {
    /usr/bin/python3 - <<'EOF'
import socket, random
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randint(10000, max(lo - 1, 10001))
    ok = True
    for fam, addr in ((socket.AF_INET, "127.0.0.1"),):
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.bind((addr, p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(p)
        break
EOF
}

node_conf() { # dir port
    cat >>"$1/postgresql.conf" <<EOF

# --- pgrouter test node ---
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$(dirname "$1")'
max_connections = 300
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 10
hot_standby = on
hot_standby_feedback = on
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %u@%d '
EOF
}

# A template data dir (initdb + roles + database), made once and copied for every node.
ensure_template() {
    local t=$TEMPLATE_ROOT/data
    [ -f "$TEMPLATE_ROOT/ready" ] && return 0
    mkdir -p "$TEMPLATE_ROOT"
    exec 9>"$TEMPLATE_ROOT.lock"
    flock 9
    if [ ! -f "$TEMPLATE_ROOT/ready" ]; then
        rm -rf "$t"
        [ "$(id -u)" = 0 ] && chown postgres: "$TEMPLATE_ROOT"
        as_pg "$PGBIN/initdb" -D "$t" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
            as_pg "$PGBIN/initdb" -D "$t" -U postgres -A trust -E UTF8 --locale=C >/dev/null
        cat >"$t/pg_hba.conf" <<'EOF'
local all all trust
host all scram_user 127.0.0.1/32 scram-sha-256
host all md5_user 127.0.0.1/32 md5
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
        [ "$(id -u)" = 0 ] && chown postgres: "$t/pg_hba.conf"
        local port
        port=$(free_port)
        as_pg "$PGBIN/pg_ctl" -D "$t" -w -t 30 -l "$TEMPLATE_ROOT/init.log" \
            -o "-c listen_addresses='' -c port=$port -c unix_socket_directories='$t'" start >/dev/null
        as_pg "$PGBIN/psql" -X -q -h "$t" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'EOF'
CREATE ROLE app LOGIN PASSWORD 'app';
SET password_encryption = 'scram-sha-256';
CREATE ROLE scram_user LOGIN PASSWORD 'scram_pass';
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN PASSWORD 'md5_pass';
CREATE DATABASE app OWNER app;
GRANT ALL ON DATABASE app TO scram_user, md5_user;
\c app
GRANT ALL ON SCHEMA public TO PUBLIC;
EOF
        as_pg "$PGBIN/pg_ctl" -D "$t" -w -t 30 stop -m fast >/dev/null
        touch "$TEMPLATE_ROOT/ready"
    fi
    flock -u 9
}

resolve_dir() {
    DIR=${DIR:-${PGR_CLUSTER_DIR:-}}
    [ -n "$DIR" ] || die "no cluster dir: pass --dir D or set PGR_CLUSTER_DIR"
    [ -f "$DIR/nodes" ] || die "$DIR is not a cluster dir made by cluster.sh start"
}

# nodes file: one line per node: id port role
node_field() { # id field#
    awk -v id="$1" -v f="$2" '$1 == id { print $f }' "$DIR/nodes"
}

node_pid() { # id -> postmaster pid if its pid file exists
    local d=$DIR/$1
    [ -f "$d/postmaster.pid" ] && head -n1 "$d/postmaster.pid" || true
}

is_up() { # id
    local pid
    pid=$(node_pid "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

print_node() { # id [state]
    local id=$1 port role pid
    port=$(node_field "$id" 2)
    role=$(node_field "$id" 3)
    pid=$(node_pid "$id")
    echo "node $id port $port role $role pid ${pid:-0} dir $DIR/$id${2:+ $2}"
}

wait_ready() { # id
    local port
    port=$(node_field "$1" 2)
    for _ in $(seq 1 100); do
        if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
            return 0
        fi
        sleep 0.1
    done
    die "node $1 did not become ready on port $port (see $DIR/$1.log)"
}

start_node() { # id
    local d=$DIR/$1
    as_pg "$PGBIN/pg_ctl" -D "$d" -w -t 60 -l "$DIR/$1.log" start >/dev/null
}

cmd_start() {
    local n=$1 replicas=0
    shift
    while [ $# -gt 0 ]; do
        case $1 in
            --replicas) replicas=$2; shift 2 ;;
            --dir) DIR=$2; shift 2 ;;
            *) die "start: unknown argument $1" ;;
        esac
    done
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "start: N must be a positive integer"
    [ "$replicas" -lt "$n" ] || die "start: --replicas must be less than N"
    ensure_template
    if [ -z "${DIR:-}" ]; then
        DIR=$(mktemp -d /tmp/pgrouter-cluster.XXXXXX)
    fi
    mkdir -p "$DIR"
    [ -f "$DIR/nodes" ] && die "$DIR already holds a cluster"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    chmod 755 "$DIR"
    : >"$DIR/nodes"
    local i id port role
    for i in $(seq 1 "$n"); do
        id=pg$i
        port=$(free_port)
        if [ "$i" -ge 2 ] && [ "$i" -le $((replicas + 1)) ]; then
            role=replica
            as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$(node_field pg1 2)" -U postgres \
                -D "$DIR/$id" -R -X stream -c fast >/dev/null
            sed -i '/# --- pgrouter test node ---/,$d' "$DIR/$id/postgresql.conf"
        else
            role=primary
            as_pg cp -a "$TEMPLATE_ROOT/data" "$DIR/$id"
        fi
        as_pg rm -f "$DIR/$id/postmaster.pid"
        node_conf "$DIR/$id" "$port"
        echo "$id $port $role" >>"$DIR/nodes"
        local try
        for try in 1 2 3; do
            start_node "$id" && break
            # Most likely the port was taken meanwhile: take another one.
            [ "$try" = 3 ] && die "node $id did not start (see $DIR/$id.log)"
            port=$(free_port)
            sed -i "s/^port = .*/port = $port/" "$DIR/$id/postgresql.conf"
            awk -v id="$id" -v p="$port" '$1 == id { $2 = p } { print }' "$DIR/nodes" >"$DIR/nodes.new"
            mv "$DIR/nodes.new" "$DIR/nodes"
        done
        wait_ready "$id"
    done
    {
        echo "PGR_CLUSTER_DIR=$DIR"
        echo "PGR_NODES=\"$(awk '{printf "%s%s:%s", (NR>1?" ":""), $1, $2}' "$DIR/nodes")\""
        awk '{ printf "%s_PORT=%s\n", toupper($1), $2 }' "$DIR/nodes"
    } >"$DIR/cluster.env"
    while read -r id _ _; do print_node "$id"; done <"$DIR/nodes"
}

# All pids of a node: the postmaster and its children.
node_pids() {
    local pid
    pid=$(node_pid "$1")
    [ -n "$pid" ] || return 0
    echo "$pid"
    pgrep -P "$pid" || true
}

cmd_stop() {
    resolve_dir
    local id pid
    # Last first: replicas before their primary, whose fast shutdown would otherwise wait for
    # its walsenders to hand the last WAL to standbys that are about to go too.
    while read -r id _ _; do
        pid=$(node_pid "$id")
        [ -n "$pid" ] || continue
        # A hung node must be resumed before it can shut down.
        for p in $(node_pids "$id"); do kill -CONT "$p" 2>/dev/null || true; done
        if kill -0 "$pid" 2>/dev/null; then
            as_pg "$PGBIN/pg_ctl" -D "$DIR/$id" -w -t 20 stop -m fast >/dev/null 2>&1 ||
                as_pg "$PGBIN/pg_ctl" -D "$DIR/$id" -w -t 10 stop -m immediate >/dev/null 2>&1 ||
                kill -9 "$pid" 2>/dev/null || true
        fi
    done < <(tac "$DIR/nodes")
    if [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$DIR"
    fi
}

cmd_node() { # verb id
    local verb=$1 id=$2
    resolve_dir
    [ -n "$(node_field "$id" 1)" ] || die "no node $id in $DIR"
    case $verb in
        kill)
            as_pg "$PGBIN/pg_ctl" -D "$DIR/$id" stop -m immediate -w -t 20 >/dev/null ;;
        hang)
            for p in $(node_pids "$id"); do kill -STOP "$p"; done ;;
        resume)
            for p in $(node_pids "$id"); do kill -CONT "$p" 2>/dev/null || true; done ;;
        restart)
            if is_up "$id"; then
                as_pg "$PGBIN/pg_ctl" -D "$DIR/$id" stop -m fast -w -t 20 >/dev/null
            fi
            as_pg rm -f "$DIR/$id/postmaster.pid"
            start_node "$id"
            wait_ready "$id" ;;
        promote)
            as_pg "$PGBIN/pg_ctl" -D "$DIR/$id" promote -w -t 30 >/dev/null
            awk -v id="$id" '$1 == id { $3 = "primary" } { print }' "$DIR/nodes" >"$DIR/nodes.new"
            mv "$DIR/nodes.new" "$DIR/nodes" ;;
    esac
    print_node "$id"
}

cmd_status() {
    resolve_dir
    local id
    while read -r id _ _; do
        if is_up "$id"; then print_node "$id" up; else print_node "$id" down; fi
    done <"$DIR/nodes"
}

verb=${1:-}
[ -n "$verb" ] || die "usage: cluster.sh start N [--replicas R] [--dir D] | stop | kill|hang|resume|restart|promote NODE | status | psql NODE"
shift
case $verb in
    start)
        [ $# -ge 1 ] || die "usage: cluster.sh start N [--replicas R] [--dir D]"
        cmd_start "$@" ;;
    stop|status)
        while [ $# -gt 0 ]; do
            case $1 in --dir) DIR=$2; shift 2 ;; *) die "$verb: unknown argument $1" ;; esac
        done
        "cmd_$verb" ;;
    kill|hang|resume|restart|promote)
        [ $# -ge 1 ] || die "usage: cluster.sh $verb NODE [--dir D]"
        node=$1; shift
        while [ $# -gt 0 ]; do
            case $1 in --dir) DIR=$2; shift 2 ;; *) die "$verb: unknown argument $1" ;; esac
        done
        cmd_node "$verb" "$node" ;;
    psql)
        [ $# -ge 1 ] || die "usage: cluster.sh psql NODE [--dir D] [args]"
        node=$1; shift
        if [ "${1:-}" = --dir ]; then DIR=$2; shift 2; fi
        resolve_dir
        exec "$PGBIN/psql" -X -h 127.0.0.1 -p "$(node_field "$node" 2)" -U postgres -d app "$@" ;;
    *) die "unknown command $verb" ;;
esac

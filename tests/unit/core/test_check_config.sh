#!/bin/sh
# `pgrouter --check-config`: ok and exit 0 on a good file; every message on stderr, one per
# line, and exit 1 on a bad one; nothing on stdout then. TAP output.
# usage: test_check_config.sh PGROUTER_BINARY   (PGR_SRCDIR names the source tree)
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }

echo 1..5
"$bin" --check-config "$PGR_SRCDIR/config/demo.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ "$(cat "$tmp/out")" = ok ] && [ ! -s "$tmp/err" ]; ok $? "good file: ok, exit 0"

cat >"$tmp/bad.yaml" <<'YAML'
listen: {host: 127.0.0.1, port: 6432}
auth: {users: [{name: app, password: Canary-check-config}]}
nodes:
  - {id: pg1, host: h, port: 54x2}
  - {id: pg1, host: h, port: 5433, role: leader}
YAML
cat >"$tmp/want" <<WANT
$tmp/bad.yaml:4:30: nodes[0].port: expected an integer 1-65535, got "54x2"
$tmp/bad.yaml:5:42: nodes[1].role: expected one of auto, primary, replica, got "leader"
$tmp/bad.yaml:5:10: nodes[1].id: expected a unique node id (nodes[0] has it), got "pg1"
WANT
"$bin" --check-config "$tmp/bad.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && [ ! -s "$tmp/out" ]; ok $? "bad file: exit 1, nothing on stdout"
diff -u "$tmp/want" "$tmp/err" >"$tmp/diff"; rc=$?
sed 's/^/# /' "$tmp/diff"
ok $rc "bad file: every message, exactly"
grep -q Canary "$tmp/err"; [ $? = 1 ]; ok $? "bad file: the password is in no message"

# -c runs until SIGTERM; on a free port, with nodes that are not there (they stay unhealthy).
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/port: 6432/port: $port/" "$PGR_SRCDIR/config/demo.yaml" >"$tmp/run.yaml"
"$bin" -c "$tmp/run.yaml" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 50); do grep -q "listening on port $port" "$tmp/err" && break; sleep 0.1; done
kill -TERM $pid; wait $pid; rc=$?
[ $rc = 0 ] && grep -q 'info \[main\] config loaded: 3 nodes$' "$tmp/err" &&
    grep -q "listening on port $port" "$tmp/err" && grep -q 'info \[main\] stopped$' "$tmp/err"
ok $? "-c FILE: runs, listens, stops on SIGTERM with exit 0"
exit $fail

#!/bin/sh
# `pgrouter --check-config`: ok and exit 0 on a good file; every message on stderr, one per
# line, and exit 1 on a bad one; nothing on stdout then. TAP output.
# usage: test_check_config.sh PGROUTER_BINARY   (PGR_SRCDIR names the source tree)
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }

echo 1..9
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

# 100,000 nodes are refused in seconds, with one line naming the limit at the first node past
# it (a 40,000-node file once took 3.5 s to check, 250,000 never ended).
awk 'BEGIN { print "listen: {host: 127.0.0.1, port: 6432}\nauth: {method: trust}\nnodes:";
             for (i = 0; i < 100000; i++)
                 printf "  - {id: n%d, host: 10.0.%d.%d, port: %d}\n", i, int(i / 256) % 256, i % 256, 5432 + i % 1000 }' \
    >"$tmp/big.yaml"
start=$(date +%s%N)
"$bin" --check-config "$tmp/big.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# 100000 nodes checked in $ms ms"
[ $rc = 1 ] && [ ! -s "$tmp/out" ] && [ "$ms" -lt 20000 ] &&
    [ "$(cat "$tmp/err")" = "$tmp/big.yaml:68:5: nodes[64]: expected at most 64 nodes, got 100000" ]
ok $? "100,000 nodes: refused at nodes[64], one line, within 20 s (generous)"
sed 's/^/# /' "$tmp/err"

# 64 nodes, the most there may be, are taken.
head -n 67 "$tmp/big.yaml" >"$tmp/64.yaml"
"$bin" --check-config "$tmp/64.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ "$(cat "$tmp/out")" = ok ]
ok $? "64 nodes: ok"

# Strings are bounded: a 10 MB listen.host is refused, with file:line:col, its length and only
# the start of it.
awk 'BEGIN { printf "listen: {host: "; for (i = 0; i < 10485760 / 64; i++)
             printf "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
             print ", port: 6432}\nnodes: [{id: a, host: h, port: 1}]" }' >"$tmp/host.yaml"
"$bin" --check-config "$tmp/host.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && [ "$(cat "$tmp/err")" = "$tmp/host.yaml:1:16: listen.host: expected a host name or address of at most 255 bytes, got 10485760 bytes: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" ]
ok $? "a 10 MB listen.host: refused, one line naming the bound"
sed 's/^/# /' "$tmp/err" | cut -c1-300

# A node id over 63 bytes, a host over 255.
printf 'listen: {host: h, port: 6432}\nnodes: [{id: %s, host: %s, port: 1}]\n' \
    "$(printf 'i%.0s' $(seq 64))" "$(printf 'h%.0s' $(seq 256))" >"$tmp/ids.yaml"
"$bin" --check-config "$tmp/ids.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 2 ] &&
    grep -q ':2:14: nodes\[0\].id: expected a string of at most 63 bytes, got 64 bytes' "$tmp/err" &&
    grep -q ':2:86: nodes\[0\].host: expected a string of at most 255 bytes, got 256 bytes' "$tmp/err"
ok $? "node id over 63 bytes, host over 255: both reported"
sed 's/^/# /' "$tmp/err" | cut -c1-200

# -c runs until SIGTERM; on a free port, with nodes that are not there (they stay unhealthy).
# The admin HTTP port moves too: the demo's own may be in use by a demo or another test.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) hport=$(free_port)
sed "s/port: 6432/port: $port/; s/http: 127.0.0.1:9930/http: 127.0.0.1:$hport/" \
    "$PGR_SRCDIR/config/demo.yaml" >"$tmp/run.yaml"
grep -q "http: 127.0.0.1:$hport" "$tmp/run.yaml" || echo "# the demo config's admin.http moved: update this test"
"$bin" -c "$tmp/run.yaml" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 50); do grep -q "listening on port $port" "$tmp/err" && break; sleep 0.1; done
kill -TERM $pid; wait $pid; rc=$?
[ $rc = 0 ] && grep -q 'info \[main\] config loaded: 3 nodes$' "$tmp/err" &&
    grep -q "listening on port $port" "$tmp/err" && grep -q 'info \[main\] stopped$' "$tmp/err"
ok $? "-c FILE: runs, listens, stops on SIGTERM with exit 0"
exit $fail

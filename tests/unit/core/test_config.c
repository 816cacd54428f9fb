/* The config loader: a table of bad inputs, each with the exact messages it must give; good
 * inputs with their parsed values and defaults; every shipped file in config/ loads. */
#include <dirent.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base.h"
#include "pgrouter/config.h"
#include "../harness.h"

#define MAX_MSGS 4

typedef struct {
    const char *name;
    const char *yaml;
    const char *msgs[MAX_MSGS]; /* every message, in order; unused slots NULL */
} bad_case;

static const bad_case bad_cases[] = {
    { "node_port_not_int",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: h, port: 54x2}\n",
      {
      "t.yaml:3:30: nodes[0].port: expected an integer 1-65535, got \"54x2\"" } },
    { "node_port_zero",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - id: pg1\n"
      "    host: h\n"
      "    port: 0\n",
      {
      "t.yaml:5:11: nodes[0].port: expected an integer 1-65535, got \"0\"" } },
    { "node_port_too_big",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: h, port: 65536}\n",
      {
      "t.yaml:3:30: nodes[0].port: expected an integer 1-65535, got \"65536\"" } },
    { "listen_port_missing",
      "listen: {host: 127.0.0.1}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:1:9: listen: expected key \"port\", got none (it is required)" } },
    { "listen_missing",
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:1:1: (top level): expected key \"listen\", got none (it is required)" } },
    { "nodes_missing",
      "listen: {host: 127.0.0.1, port: 6432}\n",
      {
      "t.yaml:1:1: (top level): expected key \"nodes\", got none (it is required)" } },
    { "nodes_empty",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes: []\n",
      {
      "t.yaml:2:8: nodes: expected a non-empty list of nodes, got an empty sequence" } },
    { "nodes_not_list",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes: pg1\n",
      {
      "t.yaml:2:8: nodes: expected a non-empty list of nodes, got \"pg1\"" } },
    { "node_id_missing",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {host: h, port: 5432}\n",
      {
      "t.yaml:3:5: nodes[0]: expected key \"id\", got none (it is required)" } },
    { "node_id_dup",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: a, port: 5432}\n"
      "  - {id: pg1, host: b, port: 5433}\n",
      {
      "t.yaml:4:10: nodes[1].id: expected a unique node id (nodes[0] has it), got \"pg1\"" } },
    { "node_id_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: \"pg 1\", host: a, port: 5432}\n",
      {
      "t.yaml:3:10: nodes[0].id: expected an id of 1-63 letters, digits, '_' or '-', got \"pg 1\"" } },
    { "node_host_empty",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: \"\", port: 5432}\n",
      {
      "t.yaml:3:21: nodes[0].host: expected a non-empty string, got \"\"" } },
    { "instance_id_range",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "instance: {id: 1024}\n",
      {
      "t.yaml:4:16: instance.id: expected an integer 0-1023, got \"1024\"" } },
    { "peers_bad",
      "listen: {host: 127.0.0.1, port: 6432, reuseport: true}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "peers:\n"
      "  - {id: 1, host: 127.0.0.1, port: 6433}\n"
      "  - {id: 1, host: /tmp/x, port: 6434}\n"
      "  - {id: 2, host: db.example, port: 6435}\n"
      "  - {id: 3, host: 127.0.0.1}\n"
      "  - {id: 4, host: \"::1\", port: 6432}\n",
      {
      "t.yaml:6:10: peers[1].id: expected a unique instance id (peers[0] has it), got \"1\"",
      "t.yaml:7:19: peers[2].host: expected a numeric IPv4 or IPv6 address, or a Unix socket directory starting with '/', got \"db.example\"",
      "t.yaml:8:5: peers[3]: expected key \"port\", got none (it is required)",
      "t.yaml:9:32: peers[4].port: expected a port other than listen.port (6432): a peer address belongs to one instance, got \"6432\"" } },
    { "unknown_top_key",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "lisen: {}\n",
      {
      "t.yaml:4:1: lisen: unknown key (expected one of listen, limits, tls, auth, admin, pool, health, routing, broadcast, shutdown, log, nodes, instance, peers)" } },
    { "unknown_nested_key",
      "listen: {host: h, port: 1, hots: x}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:1:28: listen.hots: unknown key (expected one of host, port, max_clients, unix_socket_dir, reuseport)" } },
    { "duplicate_key",
      "listen:\n"
      "  host: h\n"
      "  port: 1\n"
      "  port: 2\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:4:3: listen.port: expected each key once, got a duplicate (first at line 3)" } },
    { "duration_bare_int",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {interval: 5}\n",
      {
      "t.yaml:4:20: health.interval: expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s, got \"5\"" } },
    { "duration_zero",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {timeout: 0s}\n",
      {
      "t.yaml:4:19: health.timeout: expected a duration 1ms-1d, got \"0s\"" } },
    { "duration_bad_unit",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "pool: {connect_timeout: 5 sec}\n",
      {
      "t.yaml:4:25: pool.connect_timeout: expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s, got \"5 sec\"" } },
    { "duration_too_long",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "broadcast: {timeout: 2d}\n",
      {
      "t.yaml:4:22: broadcast.timeout: expected a duration 1ms-1d, got \"2d\"" } },
    { "size_too_big",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "limits: {max_message_size: 2GB}\n",
      {
      "t.yaml:4:28: limits.max_message_size: expected a size 1kB-1GB (bytes, or with a unit: B, kB, MB, GB, TB), got \"2GB\"" } },
    { "size_bad_unit",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "limits: {max_message_size: 64mb}\n",
      {
      "t.yaml:4:28: limits.max_message_size: expected a size 1kB-1GB (bytes, or with a unit: B, kB, MB, GB, TB), got \"64mb\"" } },
    { "bool_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "broadcast: {node_column: yes}\n",
      {
      "t.yaml:4:26: broadcast.node_column: expected a boolean (true, false, on, off), got \"yes\"" } },
    { "enum_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "tls: {mode: maybe}\n",
      {
      "t.yaml:4:13: tls.mode: expected one of disable, allow, prefer, require, got \"maybe\"" } },
    { "enum_auth",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth: {method: password}\n",
      {
      "t.yaml:4:16: auth.method: expected one of trust, md5, scram-sha-256, passthrough, got \"password\"" } },
    { "passthrough_plain_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth: {method: passthrough, passthrough_allow_plain: always}\n",
      {
      "t.yaml:4:54: auth.passthrough_allow_plain: expected one of off, loopback, got \"always\"" } },
    { "query_needs_user",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  query_password: s3cret-not-shown\n",
      {
      "t.yaml:5:19: auth.query_password: expected auth.query_user with a query password, got none" } },
    { "query_method",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  method: passthrough\n"
      "  query_user: pgr_auth\n"
      "  query: SELECT usename, passwd FROM pg_shadow WHERE usename = 'x'\n"
      "  query_cache_ttl: 5 minutes\n",
      {
      "t.yaml:8:20: auth.query_cache_ttl: expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s, got \"5 minutes\"",
      "t.yaml:6:15: auth.query_user: expected auth.method scram-sha-256 or md5 with an auth query, not passthrough, got \"pgr_auth\"",
      "t.yaml:7:10: auth.query: expected a query with the parameter $1 (the user name), got \"SELECT usename, passwd FROM pg_shadow WHERE usename = 'x'\"" } },
    { "jitter_range",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {backoff: {jitter: 1.5}}\n",
      {
      "t.yaml:4:28: health.backoff.jitter: expected a number from 0 to 1, got \"1.5\"" } },
    { "backoff_order",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {backoff: {initial: 1m, max: 30s}}\n",
      {
      "t.yaml:4:29: health.backoff.initial: expected at most health.backoff.max (30s), got \"1m\"" } },
    { "min_idle_gt_max",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "pool: {max_size: 5, min_idle: 6}\n",
      {
      "t.yaml:4:31: pool.min_idle: expected at most pool.max_size (5), got \"6\"" } },
    { "node_min_idle_gt_max",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: h, port: 1, pool: {max_size: 2, min_idle: 3}}\n",
      {
      "t.yaml:3:63: nodes[0].pool.min_idle: expected at most the node's pool max_size (2), got \"3\"" } },
    { "alias_refused",
      "listen: &l {host: h, port: 1}\n"
      "admin: *l\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:1:9: expected no YAML anchors or aliases, got anchor \"&l\"",
      "t.yaml:2:8: expected no YAML anchors or aliases, got alias \"*l\"" } },
    { "yaml_syntax",
      "listen: {host: h, port: 1\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:2:6: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping" } },
    { "yaml_tab",
      "listen:\n"
      "\thost: h\n",
      {
      "t.yaml:2:1: YAML syntax error: found character that cannot start any token while scanning for the next token" } },
    { "top_not_map",
      "- a\n"
      "- b\n",
      {
      "t.yaml:1:1: (top level): expected a mapping, got a sequence" } },
    { "empty_file",
      "",
      {
      "t.yaml:1:1: expected a mapping at the top level, got an empty file" } },
    { "user_no_secret",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users:\n"
      "    - {name: app}\n",
      {
      "t.yaml:6:7: auth.users[0]: expected exactly one of password, password_env, scram, got none" } },
    { "user_two_secrets",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users:\n"
      "    - {name: app, password: x, password_env: HOME}\n",
      {
      "t.yaml:6:7: auth.users[0]: expected exactly one of password, password_env, scram, got password and password_env" } },
    { "user_env_unset",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users:\n"
      "    - {name: app, password_env: PGR_TEST_UNSET_VAR}\n",
      {
      "t.yaml:6:33: auth.users[0].password_env: expected the name of a set, non-empty environment variable, got \"PGR_TEST_UNSET_VAR\"" } },
    { "user_scram_shape",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users:\n"
      "    - {name: app, scram: \"SCRAM-SHA-256$4096:c2FsdA==$abc:def\"}\n",
      {
      "t.yaml:6:26: auth.users[0].scram: expected \"SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>\" in base64, got a malformed value (not shown)" } },
    { "user_md5_shape",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users:\n"
      "    - {name: app, password: x, md5: md5XYZ}\n",
      {
      "t.yaml:6:37: auth.users[0].md5: expected \"md5\" and 32 lowercase hex digits, got a malformed value (not shown)" } },
    { "user_dup",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users:\n"
      "    - {name: a, password: x}\n"
      "    - {name: a, password: y}\n",
      {
      "t.yaml:7:14: auth.users[1].name: expected a user name not used before, got \"a\"" } },
    { "admin_unknown_user",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  users: [{name: app, password: x}]\n"
      "admin: {users: [root]}\n",
      {
      "t.yaml:6:17: admin.users[0]: expected a user listed in auth.users, got \"root\"" } },
    { "admin_http_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "admin: {http: localhost}\n",
      {
      "t.yaml:4:15: admin.http: expected host:port (port 1-65535) or null, got \"localhost\"" } },
    { "hosts_empty_list",
      "listen: {host: [], port: 1}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:1:16: listen.host: expected at least one host, got an empty sequence" } },
    { "hosts_bad_item",
      "listen: {host: [a, {b: 1}], port: 1}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n",
      {
      "t.yaml:1:20: listen.host[1]: expected a non-empty string, got a mapping" } },
    { "section_not_map",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "pool: 20\n",
      {
      "t.yaml:4:7: pool: expected a mapping, got \"20\"" } },
    { "string_not_scalar",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: [a], port: 1}\n",
      {
      "t.yaml:3:21: nodes[0].host: expected a string, got a sequence" } },
    { "tls_require_no_cert",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "tls: {mode: require}\n",
      {
      "t.yaml:4:6: tls: expected cert and key with mode require, got neither" } },
    { "cache_size_negative",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "routing: {classify_cache_size: -1}\n",
      {
      "t.yaml:4:32: routing.classify_cache_size: expected an integer 0-10000000, got \"-1\"" } },
    { "ssl_mode_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: h, port: 1, ssl: {mode: on}}\n",
      {
      "t.yaml:3:45: nodes[0].ssl.mode: expected one of disable, allow, prefer, require, verify-ca, verify-full, got \"on\"" } },
    { "log_level_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "log: {level: verbose}\n",
      {
      "t.yaml:4:14: log.level: expected one of debug, info, warning, error, got \"verbose\"" } },
    { "md5_method_scram_only",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "auth:\n"
      "  method: md5\n"
      "  users:\n"
      "    - {name: app, scram: \"SCRAM-SHA-256$4096:cGdyb3V0ZXItZXhhbXBsZQ==$TWe9mSV/h5OURCCMaEQtVczqHzmBpaCyicMQvgo6gz8=:UOZU1yZUbAc/VInDb7QNF0eTliteo5iKeDNM0kaUKRw=\"}\n",
      {
      "t.yaml:7:7: auth.users[0]: expected password, password_env or md5 with auth.method md5, got only a scram verifier" } },
    { "health_user_empty",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {user: \"\", dbname: [app]}\n",
      {
      "t.yaml:4:16: health.user: expected a non-empty string or null, got \"\"",
      "t.yaml:4:28: health.dbname: expected a string, got a sequence" } },
    { "health_password_twice",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health:\n"
      "  user: hc\n"
      "  password: secret-one\n"
      "  password_env: PGR_TEST_UNSET_VAR\n",
      {
      "t.yaml:7:17: health.password_env: expected the name of a set, non-empty environment "
      "variable, got \"PGR_TEST_UNSET_VAR\"",
      "t.yaml:5:3: health: expected at most one of password, password_env, got both" } },
    { "health_password_env_unset",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {user: hc, password_env: PGR_TEST_UNSET_VAR}\n",
      {
      "t.yaml:4:34: health.password_env: expected the name of a set, non-empty environment "
      "variable, got \"PGR_TEST_UNSET_VAR\"" } },
    { "health_unknown_key",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "health: {username: hc}\n",
      {
      "t.yaml:4:10: health.username: unknown key (expected one of interval, timeout, "
      "unhealthy_threshold, backoff, user, password, password_env, dbname)" } },
    { "node_health_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - id: pg1\n"
      "    host: 127.0.0.1\n"
      "    port: 5432\n"
      "    health: {user: hc, password: \"\", interval: 1s}\n",
      {
      "t.yaml:6:34: nodes[0].health.password: expected a non-empty string, got \"\"",
      "t.yaml:6:38: nodes[0].health.interval: unknown key (expected one of user, password, "
      "password_env, dbname)" } },
    { "node_health_password_twice_env_unset",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - id: pg1\n"
      "    host: 127.0.0.1\n"
      "    port: 5432\n"
      "    health: {password: x, password_env: PGR_TEST_UNSET_VAR}\n",
      {
      "t.yaml:6:13: nodes[0].health: expected at most one of password, password_env, got both",
      "t.yaml:6:41: nodes[0].health.password_env: expected the name of a set, non-empty "
      "environment variable, got \"PGR_TEST_UNSET_VAR\"" } },
    { "node_health_not_map",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432, health: hc}\n",
      {
      "t.yaml:3:52: nodes[0].health: expected a mapping, got \"hc\"" } },
    { "session_timeouts_bad",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "pool: {query_timeout: -1s, idle_transaction_timeout: 30}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432, pool: {query_timeout: 1s}}\n",
      {
      "t.yaml:2:23: pool.query_timeout: expected a duration with a unit (ms, s, m, h, d), "
      "e.g. 500ms or 2s, got \"-1s\"",
      "t.yaml:2:54: pool.idle_transaction_timeout: expected a duration with a unit (ms, s, m, "
      "h, d), e.g. 500ms or 2s, got \"30\"",
      "t.yaml:4:51: nodes[0].pool.query_timeout: unknown key (expected one of mode, max_size, "
      "min_idle, idle_timeout, connect_timeout, acquire_timeout)" } },
    { "second_document",
      "listen: {host: 127.0.0.1, port: 6432}\n"
      "nodes:\n"
      "  - {id: pg1, host: 127.0.0.1, port: 5432}\n"
      "---\n"
      "x: 1\n",
      {
      "t.yaml:4:1: expected one YAML document, got a second one" } },
};

static pgr_config_t *
load(const char *yaml, pgr_config_errors_t *errs, int *rc)
{
    pgr_config_t *cfg = NULL;
    *rc = pgr_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, errs);
    return cfg;
}

TEST(bad_inputs)
{
    CHECK(PGR_ARRAY_LEN(bad_cases) >= 30);
    for (size_t i = 0; i < PGR_ARRAY_LEN(bad_cases); i++) {
        const bad_case *c = &bad_cases[i];
        pgr_config_errors_t errs;
        size_t want = 0;
        int rc;
        pgr_config_t *cfg = load(c->yaml, &errs, &rc);

        while (want < MAX_MSGS && c->msgs[want])
            want++;
        if (rc != PGR_ECONFIG || cfg != NULL || errs.n != want)
            printf("# case %s: rc %d, %zu messages (want %zu)\n", c->name, rc, errs.n, want);
        CHECK_INT(rc, PGR_ECONFIG);
        CHECK(cfg == NULL);
        CHECK_INT(errs.n, want);
        for (size_t m = 0; m < want && m < errs.n; m++) {
            if (strcmp(errs.msgs[m], c->msgs[m]) != 0)
                printf("# case %s, message %zu:\n", c->name, m);
            CHECK_STR(errs.msgs[m], c->msgs[m]);
        }
        pgr_config_errors_free(&errs);
        CHECK(errs.msgs == NULL && errs.n == 0);
    }
}

/* One file with many mistakes gives every message, in document order, cross-field last. */
TEST(all_errors_collected)
{
    static const char yaml[] =
        "listen: {host: 127.0.0.1, port: 0}\n"
        "pool: {max_size: 5, min_idle: 9, idle_timeout: 5}\n"
        "bogus: 1\n"
        "nodes:\n"
        "  - {id: pg1, host: h, port: 54x2}\n"
        "  - {id: pg1, port: 5433}\n";
    static const char *const want[] = {
        "t.yaml:1:33: listen.port: expected an integer 1-65535, got \"0\"",
        "t.yaml:2:48: pool.idle_timeout: expected a duration with a unit (ms, s, m, h, d), "
        "e.g. 500ms or 2s, got \"5\"",
        "t.yaml:3:1: bogus: unknown key (expected one of listen, limits, tls, auth, admin, pool, "
        "health, routing, broadcast, shutdown, log, nodes, instance, peers)",
        "t.yaml:5:30: nodes[0].port: expected an integer 1-65535, got \"54x2\"",
        "t.yaml:6:5: nodes[1]: expected key \"host\", got none (it is required)",
        "t.yaml:6:10: nodes[1].id: expected a unique node id (nodes[0] has it), got \"pg1\"",
        "t.yaml:2:31: pool.min_idle: expected at most pool.max_size (5), got \"9\"",
    };
    pgr_config_errors_t errs;
    int rc;
    pgr_config_t *cfg = load(yaml, &errs, &rc);

    CHECK_INT(rc, PGR_ECONFIG);
    CHECK(cfg == NULL);
    CHECK_INT(errs.n, PGR_ARRAY_LEN(want));
    for (size_t i = 0; i < PGR_ARRAY_LEN(want) && i < errs.n; i++)
        CHECK_STR(errs.msgs[i], want[i]);
    pgr_config_errors_free(&errs);
}

/* Every string is bounded: at the bound it loads, one byte over it is an error that says the
 * bound and the length (and never shows a secret). */
static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void
check_one(const char *yaml, const char *want)
{
    pgr_config_errors_t errs;
    int rc;
    pgr_config_t *cfg = load(yaml, &errs, &rc);
    if (want == NULL) {
        CHECK_INT(rc, 0);
        for (size_t i = 0; i < errs.n; i++)
            printf("# unexpected: %.200s\n", errs.msgs[i]);
        pgr_config_free(cfg);
    } else {
        CHECK_INT(rc, PGR_ECONFIG);
        CHECK_INT(errs.n, 1);
        for (size_t i = 1; i < errs.n; i++)
            printf("# also: %.200s\n", errs.msgs[i]);
        if (errs.n >= 1)
            CHECK_STR(errs.msgs[0], want);
    }
    pgr_config_errors_free(&errs);
}

TEST(string_bounds)
{
    static const struct {
        const char *fmt;   /* YAML with one %s, at column col of line line */
        size_t bound;
        const char *path, *what;
        bool secret;
    } cases[] = {
        { "listen: {host: %s, port: 6432}\nnodes: [{id: a, host: h, port: 1}]\n", 255,
          "listen.host", "a host name or address", false },
        { "listen: {host: [x, %s], port: 6432}\nnodes: [{id: a, host: h, port: 1}]\n", 255,
          "listen.host[1]", "a host name or address", false },
        { "listen: {host: h, port: 6432}\nnodes: [{id: %s, host: h, port: 1}]\n", 63,
          "nodes[0].id", "a string", false },
        { "listen: {host: h, port: 6432}\nnodes: [{id: a, host: %s, port: 1}]\n", 255,
          "nodes[0].host", "a string", false },
        { "listen: {host: h, port: 6432}\nnodes: [{id: a, host: h, port: 1, dbname: %s}]\n", 63,
          "nodes[0].dbname", "a string", false },
        { "listen: {host: h, port: 6432}\nnodes: [{id: a, host: h, port: 1, password: %s}]\n",
          1024, "nodes[0].password", "a string", true },
        { "listen: {host: h, port: 6432}\nauth: {users: [{name: %s, password: p}]}\n"
          "nodes: [{id: a, host: h, port: 1}]\n", 63, "auth.users[0].name", "a string", false },
        { "listen: {host: h, port: 6432}\nauth: {users: [{name: u, password: %s}]}\n"
          "nodes: [{id: a, host: h, port: 1}]\n", 1024, "auth.users[0].password", "a string",
          true },
        { "listen: {host: h, port: 6432}\nadmin: {users: [%s]}\nauth: {method: trust}\n"
          "nodes: [{id: a, host: h, port: 1}]\n", 63, "admin.users[0]", "a string", false },
        { "listen: {host: h, port: 6432}\nlog: {file: %s}\n"
          "nodes: [{id: a, host: h, port: 1}]\n", 4095, "log.file", "a string", false },
        { "listen: {host: h, port: 6432}\nhealth: {user: %s}\n"
          "nodes: [{id: a, host: h, port: 1}]\n", 63, "health.user", "a string", false },
        { "listen: {host: h, port: 6432}\nrouting: {write_functions: [%s]}\n"
          "nodes: [{id: a, host: h, port: 1}]\n", 127, "routing.write_functions[0]", "a string",
          false },
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        char *ok = repeat('a', cases[i].bound), *over = repeat('b', cases[i].bound + 1);
        char yaml[8192], want[600], pos[32];
        snprintf(yaml, sizeof(yaml), cases[i].fmt, ok);
        check_one(yaml, NULL);
        snprintf(yaml, sizeof(yaml), cases[i].fmt, over);
        /* where the value starts */
        const char *at = strstr(yaml, over);
        int line = 1, col = 1;
        for (const char *p = yaml; p < at; p++, col++)
            if (*p == '\n')
                line++, col = 0;
        snprintf(pos, sizeof(pos), "t.yaml:%d:%d", line, col);
        if (cases[i].secret)
            snprintf(want, sizeof(want), "%s: %s: expected %s of at most %zu bytes, got %zu "
                     "bytes (not shown)", pos, cases[i].path, cases[i].what, cases[i].bound,
                     cases[i].bound + 1);
        else
            snprintf(want, sizeof(want), "%s: %s: expected %s of at most %zu bytes, got %zu "
                     "bytes: \"%.60s...\"", pos, cases[i].path, cases[i].what, cases[i].bound,
                     cases[i].bound + 1, over);
        check_one(yaml, want);
        free(ok);
        free(over);
    }
    /* admin.http: host:port, the host at most 255 bytes. */
    char *host = repeat('h', 255), yaml[1024];
    snprintf(yaml, sizeof(yaml), "listen: {host: h, port: 6432}\nadmin: {http: \"%s:9930\"}\n"
             "nodes: [{id: a, host: h, port: 1}]\n", host);
    check_one(yaml, NULL);
    free(host);
    host = repeat('h', 256);
    snprintf(yaml, sizeof(yaml), "listen: {host: h, port: 6432}\nadmin: {http: \"%s:9930\"}\n"
             "nodes: [{id: a, host: h, port: 1}]\n", host);
    pgr_config_errors_t errs;
    int rc;
    CHECK(load(yaml, &errs, &rc) == NULL);
    CHECK_INT(errs.n, 1);
    CHECK(errs.n == 1 && strstr(errs.msgs[0], "t.yaml:2:15: admin.http: expected host:port "
                                "with a host of at most 255 bytes, got 256 bytes: \"hhh") ==
                         errs.msgs[0]);
    pgr_config_errors_free(&errs);
    free(host);
    /* A password from the environment is bounded too, and not shown. */
    char *pw = repeat('s', 1025);
    setenv("PGR_TEST_LONG_PW", pw, 1);
    check_one("listen: {host: h, port: 6432}\n"
              "nodes: [{id: a, host: h, port: 1, password_env: PGR_TEST_LONG_PW}]\n",
              "t.yaml:2:49: nodes[0].password_env: expected a variable holding at most 1024 "
              "bytes, got 1025 bytes (not shown)");
    pw[1024] = '\0';
    setenv("PGR_TEST_LONG_PW", pw, 1);
    check_one("listen: {host: h, port: 6432}\n"
              "nodes: [{id: a, host: h, port: 1, password_env: PGR_TEST_LONG_PW}]\n", NULL);
    unsetenv("PGR_TEST_LONG_PW");
    free(pw);
}

/* Loading is linear: duplicate user names, duplicate keys in a huge mapping, a node list far
 * past the limit and a long error list are found without comparing every pair (a 40,000-node
 * file took 3.5 s). */
TEST(large_files_load_in_linear_time)
{
    size_t n = 50000, cap = n * 128 + 1024, o = 0;
    char *yaml = malloc(cap);
    o += (size_t)snprintf(yaml + o, cap - o, "listen: {host: h, port: 6432}\nauth:\n  users:\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(yaml + o, cap - o, "    - {name: u%zu, password: p}\n", i % (n - 1));
    o += (size_t)snprintf(yaml + o, cap - o, "nodes:\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(yaml + o, cap - o, "  - {id: n%zu, host: h, port: 1}\n",
                              i == n - 1 ? (size_t)7 : i);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pgr_config_errors_t errs;
    pgr_config_t *cfg = NULL;
    int rc = pgr_config_load_string("t.yaml", yaml, o, &cfg, &errs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("# %zu users and %zu nodes checked in %.3f s\n", n, n, dt);
    CHECK_INT(rc, PGR_ECONFIG);
    CHECK_INT(errs.n, 2);
    if (errs.n == 2) {
        char want[200];
        snprintf(want, sizeof(want), "t.yaml:%zu:14: auth.users[%zu].name: expected a user name "
                 "not used before, got \"u0\"", n + 3, n - 1);
        CHECK_STR(errs.msgs[0], want);
        /* Past PGR_CLUSTER_MAX_NODES the list is refused at its first extra node. */
        snprintf(want, sizeof(want), "t.yaml:%zu:5: nodes[%d]: expected at most %d nodes, "
                 "got %zu", n + 5 + PGR_CLUSTER_MAX_NODES, PGR_CLUSTER_MAX_NODES,
                 PGR_CLUSTER_MAX_NODES, n);
        CHECK_STR(errs.msgs[1], want);
    }
    pgr_config_errors_free(&errs);
    CHECK(dt < 20.0); /* generous: linear takes well under a second, quadratic minutes */

    /* One mapping with 100,000 keys, every one repeated: 100,000 messages, in order. */
    o = 0;
    o += (size_t)snprintf(yaml + o, cap - o, "listen: {host: h, port: 6432}\n"
                          "nodes: [{id: a, host: h, port: 1}]\nlog:\n");
    for (size_t i = 0; i < 2 * n; i++)
        o += (size_t)snprintf(yaml + o, cap - o, "  k%zu: 1\n", i % n);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = pgr_config_load_string("t.yaml", yaml, o, &cfg, &errs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("# a mapping of %zu keys checked in %.3f s\n", 2 * n, dt);
    CHECK_INT(rc, PGR_ECONFIG);
    CHECK_INT(errs.n, 2 * n);
    if (errs.n == 2 * n) {
        CHECK(strstr(errs.msgs[0], "t.yaml:4:3: log.k0: unknown key") == errs.msgs[0]);
        char want[120];
        snprintf(want, sizeof(want), "t.yaml:%zu:3: log.k0: expected each key once, got a "
                 "duplicate (first at line 4)", n + 4);
        CHECK_STR(errs.msgs[n], want);
    }
    pgr_config_errors_free(&errs);
    CHECK(dt < 20.0);
    free(yaml);
}

TEST(minimal_gets_defaults)
{
    static const char yaml[] =
        "listen: {host: 127.0.0.1, port: 6432}\n"
        "nodes:\n"
        "  - {id: pg1, host: db1, port: 5432}\n";
    pgr_config_errors_t errs;
    int rc;
    pgr_config_t *cfg = load(yaml, &errs, &rc);

    CHECK_INT(rc, 0);
    CHECK_INT(errs.n, 0);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_STR(cfg->path, "t.yaml");
    CHECK_INT(cfg->listen.n_hosts, 1);
    CHECK_STR(cfg->listen.hosts[0], "127.0.0.1");
    CHECK_INT(cfg->listen.port, 6432);
    CHECK_INT(cfg->listen.max_clients, 10000);
    CHECK(cfg->listen.unix_socket_dir == NULL);
    CHECK(!cfg->listen.reuseport);
    CHECK_INT(cfg->instance.id, 0);
    CHECK(!cfg->instance.cli);
    CHECK_INT(cfg->n_peers, 0);
    CHECK(pgr_config_find_peer(cfg, 0) == NULL);
    CHECK(cfg->limits.max_message_size == (1ull << 30));
    CHECK_INT(cfg->limits.login_timeout_ms, 60000);
    CHECK_INT(cfg->tls.mode, PGR_TLS_PREFER);
    CHECK(cfg->tls.cert == NULL && cfg->tls.key == NULL);
    CHECK_INT(cfg->auth.method, PGR_AUTH_SCRAM);
    CHECK_INT(cfg->auth.n_users, 0);
    CHECK_INT(cfg->admin.n_users, 0);
    CHECK(cfg->admin.http == NULL);
    CHECK_INT(cfg->pool.mode, PGR_POOL_TRANSACTION);
    CHECK_INT(cfg->pool.max_size, 20);
    CHECK_INT(cfg->pool.min_idle, 0);
    CHECK_INT(cfg->pool.idle_timeout_ms, 60000);
    CHECK_INT(cfg->pool.connect_timeout_ms, 5000);
    CHECK_INT(cfg->pool.acquire_timeout_ms, 10000);
    CHECK_INT(cfg->pool.query_timeout_ms, 0);
    CHECK_INT(cfg->pool.idle_transaction_timeout_ms, 0);
    CHECK_INT(cfg->health.interval_ms, 1000);
    CHECK_INT(cfg->health.timeout_ms, 1000);
    CHECK_INT(cfg->health.unhealthy_threshold, 2);
    CHECK_INT(cfg->health.backoff_initial_ms, 1000);
    CHECK_INT(cfg->health.backoff_max_ms, 30000);
    CHECK(cfg->health.backoff_jitter == 0.2);
    CHECK_INT(cfg->routing.reads, PGR_READS_REPLICAS);
    CHECK_INT(cfg->routing.balance, PGR_BALANCE_LEAST_BUSY);
    CHECK_INT(cfg->routing.max_replica_lag_ms, 10000);
    CHECK_INT(cfg->routing.read_your_writes, PGR_RYW_OFF);
    CHECK_INT(cfg->routing.n_write_functions, 0);
    CHECK_INT(cfg->routing.classify_cache_size, 10000);
    CHECK_INT(cfg->broadcast.on_node_error, PGR_ONERR_AUTO);
    CHECK(!cfg->broadcast.node_column);
    CHECK_INT(cfg->broadcast.timeout_ms, 30000);
    CHECK_INT(cfg->shutdown.drain_timeout_ms, 30000);
    CHECK_STR(cfg->log.level, "info");
    CHECK(!cfg->log.json);
    CHECK(cfg->log.file == NULL);
    CHECK_INT(cfg->n_nodes, 1);
    const pgr_node_config_t *n = &cfg->nodes[0];
    CHECK_STR(n->id, "pg1");
    CHECK_STR(n->host, "db1");
    CHECK_INT(n->port, 5432);
    CHECK(n->dbname == NULL && n->user == NULL && n->password == NULL);
    CHECK_INT(n->role, PGR_ROLE_AUTO);
    CHECK_INT(n->weight, 1);
    CHECK(n->ssl.mode == NULL && n->ssl.ca == NULL);
    /* no health login anywhere: the node's own user/dbname, else "postgres" (health.c) */
    CHECK(cfg->health.login.user == NULL && cfg->health.login.password == NULL &&
          cfg->health.login.dbname == NULL);
    CHECK(n->health.user == NULL && n->health.password == NULL && n->health.dbname == NULL);
    CHECK_INT(n->line, 3);
    CHECK_INT(n->col, 5);
    pgr_pool_config_t p = pgr_config_node_pool(cfg, n);
    CHECK_INT(p.max_size, 20);
    CHECK_INT(p.mode, PGR_POOL_TRANSACTION);
    pgr_config_free(cfg);
}

TEST(every_value_parsed)
{
    static const char yaml[] =
        "listen:\n"
        "  host: [127.0.0.1, \"::1\"]\n"
        "  port: 7000\n"
        "  max_clients: 50\n"
        "  unix_socket_dir: /tmp/pgr\n"
        "limits: {max_message_size: 64MB, login_timeout: 500ms}\n"
        "tls: {mode: require, cert: s.crt, key: s.key}\n"
        "auth:\n"
        "  method: md5\n"
        "  users:\n"
        "    - {name: app, password: pw1, md5: md50123456789abcdef0123456789abcdef}\n"
        "    - {name: ops, password: pw2}\n"
        "admin: {users: [ops], http: \"127.0.0.1:9930\"}\n"
        "pool: {mode: session, max_size: 7, min_idle: 2, idle_timeout: 0s, connect_timeout: 2s,\n"
        "       acquire_timeout: 1m, query_timeout: 90s, idle_transaction_timeout: 1500ms}\n"
        "health: {interval: 250ms, timeout: 2s, unhealthy_threshold: 4,\n"
        "         backoff: {initial: 2s, max: 1h, jitter: 0}}\n"
        "routing: {reads: any, balance: round-robin, max_replica_lag: 0s, read_your_writes: session,\n"
        "          write_functions: [my_writer, audit.log_it], classify_cache_size: 0}\n"
        "broadcast: {on_node_error: fail, node_column: on, timeout: 1h}\n"
        "shutdown: {drain_timeout: 5s}\n"
        "log: {level: debug, json: true, file: \"null\"}\n"
        "nodes:\n"
        "  - id: pg1\n"
        "    host: db1\n"
        "    port: 5432\n"
        "    dbname: app\n"
        "    user: router\n"
        "    password: server-pw\n"
        "    role: primary\n"
        "    weight: 0\n"
        "    ssl: {mode: verify-ca, ca: root.crt, cert: c.crt, key: c.key}\n"
        "    pool: {max_size: 3, mode: transaction}\n"
        "  - {id: pg-2_b, host: db2, port: 5433, role: replica, weight: 5, dbname: null}\n";
    pgr_config_errors_t errs;
    int rc;
    pgr_config_t *cfg = load(yaml, &errs, &rc);

    CHECK_INT(rc, 0);
    for (size_t i = 0; i < errs.n; i++)
        printf("# unexpected: %s\n", errs.msgs[i]);
    pgr_config_errors_free(&errs);
    if (!cfg)
        return;
    CHECK_INT(cfg->listen.n_hosts, 2);
    CHECK_STR(cfg->listen.hosts[1], "::1");
    CHECK_INT(cfg->listen.port, 7000);
    CHECK_INT(cfg->listen.max_clients, 50);
    CHECK_STR(cfg->listen.unix_socket_dir, "/tmp/pgr");
    CHECK(cfg->limits.max_message_size == 64ull << 20);
    CHECK_INT(cfg->limits.login_timeout_ms, 500);
    CHECK_INT(cfg->tls.mode, PGR_TLS_REQUIRE);
    CHECK_STR(cfg->tls.cert, "s.crt");
    CHECK_STR(cfg->tls.key, "s.key");
    CHECK_INT(cfg->auth.method, PGR_AUTH_MD5);
    CHECK_INT(cfg->auth.n_users, 2);
    const pgr_user_config_t *u = pgr_config_find_user(cfg, "app");
    CHECK(u != NULL);
    if (u) {
        CHECK_STR(u->password, "pw1");
        CHECK_STR(u->md5, "md50123456789abcdef0123456789abcdef");
        CHECK(u->scram_verifier == NULL);
    }
    CHECK(pgr_config_find_user(cfg, "nobody") == NULL);
    CHECK_INT(cfg->admin.n_users, 1);
    CHECK_STR(cfg->admin.users[0], "ops");
    CHECK_STR(cfg->admin.http, "127.0.0.1:9930");
    CHECK_INT(cfg->pool.mode, PGR_POOL_SESSION);
    CHECK_INT(cfg->pool.max_size, 7);
    CHECK_INT(cfg->pool.min_idle, 2);
    CHECK_INT(cfg->pool.idle_timeout_ms, 0);
    CHECK_INT(cfg->pool.connect_timeout_ms, 2000);
    CHECK_INT(cfg->pool.acquire_timeout_ms, 60000);
    CHECK_INT(cfg->pool.query_timeout_ms, 90000);
    CHECK_INT(cfg->pool.idle_transaction_timeout_ms, 1500);
    CHECK_INT(cfg->health.interval_ms, 250);
    CHECK_INT(cfg->health.timeout_ms, 2000);
    CHECK_INT(cfg->health.unhealthy_threshold, 4);
    CHECK_INT(cfg->health.backoff_initial_ms, 2000);
    CHECK_INT(cfg->health.backoff_max_ms, 3600000);
    CHECK(cfg->health.backoff_jitter == 0.0);
    CHECK_INT(cfg->routing.reads, PGR_READS_ANY);
    CHECK_INT(cfg->routing.balance, PGR_BALANCE_ROUND_ROBIN);
    CHECK_INT(cfg->routing.max_replica_lag_ms, 0);
    CHECK_INT(cfg->routing.read_your_writes, PGR_RYW_SESSION);
    CHECK_INT(cfg->routing.n_write_functions, 2);
    CHECK_STR(cfg->routing.write_functions[1], "audit.log_it");
    CHECK_INT(cfg->routing.classify_cache_size, 0);
    CHECK_INT(cfg->broadcast.on_node_error, PGR_ONERR_FAIL);
    CHECK(cfg->broadcast.node_column);
    CHECK_INT(cfg->broadcast.timeout_ms, 3600000);
    CHECK_INT(cfg->shutdown.drain_timeout_ms, 5000);
    CHECK_STR(cfg->log.level, "debug");
    CHECK(cfg->log.json);
    CHECK_STR(cfg->log.file, "null"); /* quoted: the string, not null */
    CHECK_INT(cfg->n_nodes, 2);
    const pgr_node_config_t *n = pgr_config_find_node(cfg, "pg1");
    CHECK(n == &cfg->nodes[0]);
    if (n) {
        CHECK_STR(n->dbname, "app");
        CHECK_STR(n->user, "router");
        CHECK_STR(n->password, "server-pw");
        CHECK_INT(n->role, PGR_ROLE_PRIMARY);
        CHECK_STR(pgr_role_name(n->role), "primary");
        CHECK_INT(n->weight, 0);
        CHECK_STR(n->ssl.mode, "verify-ca");
        CHECK_STR(n->ssl.ca, "root.crt");
        CHECK_STR(n->ssl.key, "c.key");
        pgr_pool_config_t p = pgr_config_node_pool(cfg, n);
        CHECK_INT(p.max_size, 3);
        CHECK_INT(p.min_idle, 2);
        CHECK_INT(p.mode, PGR_POOL_TRANSACTION);
        CHECK_INT(p.acquire_timeout_ms, 60000);
        CHECK_INT(n->pool.min_idle, -1); /* unset: inherits */
    }
    n = pgr_config_find_node(cfg, "pg-2_b");
    CHECK(n != NULL);
    if (n) {
        CHECK_INT(n->port, 5433);
        CHECK_INT(n->weight, 5);
        CHECK(n->dbname == NULL);
        CHECK_STR(pgr_role_name(n->role), "replica");
        CHECK_INT(pgr_config_node_pool(cfg, n).mode, PGR_POOL_SESSION);
    }
    CHECK(pgr_config_find_node(cfg, "pg3") == NULL);
    pgr_config_free(cfg);
}

TEST(instance_and_peers)
{
    static const char yaml[] =
        "listen: {host: 127.0.0.1, port: 6432, reuseport: true}\n"
        "instance: {id: 1023}\n"
        "peers:\n"
        "  - {id: 1023, host: /run/pgrouter-1023, port: 6432}\n"
        "  - {id: 0, host: \"::1\", port: 6500}\n"
        "nodes:\n"
        "  - {id: pg1, host: db1, port: 5432}\n";
    pgr_config_errors_t errs;
    int rc;
    pgr_config_t *cfg = load(yaml, &errs, &rc);

    CHECK_INT(rc, 0);
    CHECK_INT(errs.n, 0);
    if (!cfg)
        return;
    CHECK(cfg->listen.reuseport);
    CHECK_INT(cfg->instance.id, 1023);
    CHECK_INT(cfg->n_peers, 2);
    const pgr_peer_config_t *p = pgr_config_find_peer(cfg, 1023);
    CHECK(p != NULL && strcmp(p->host, "/run/pgrouter-1023") == 0 && p->port == 6432);
    p = pgr_config_find_peer(cfg, 0);
    CHECK(p != NULL && strcmp(p->host, "::1") == 0 && p->port == 6500);
    CHECK(pgr_config_find_peer(cfg, 1) == NULL);
    pgr_config_free(cfg);
}

TEST(units)
{
    static const struct { const char *text; int64_t ms; } durs[] = {
        { "1ms", 1 }, { "500ms", 500 }, { "2s", 2000 }, { "1m", 60000 }, { "1h", 3600000 },
        { "1d", 86400000 }, { "90s", 90000 },
    };
    static const struct { const char *text; uint64_t bytes; } sizes[] = {
        { "1024", 1024 }, { "2048B", 2048 }, { "512kB", 512 << 10 }, { "64MB", 64u << 20 },
        { "1GB", 1u << 30 },
    };
    char yaml[256];
    for (size_t i = 0; i < PGR_ARRAY_LEN(durs) + PGR_ARRAY_LEN(sizes); i++) {
        bool dur = i < PGR_ARRAY_LEN(durs);
        if (dur)
            snprintf(yaml, sizeof(yaml), "listen: {host: h, port: 1}\n"
                     "nodes: [{id: a, host: h, port: 1}]\nbroadcast: {timeout: %s}\n", durs[i].text);
        else
            snprintf(yaml, sizeof(yaml), "listen: {host: h, port: 1}\n"
                     "nodes: [{id: a, host: h, port: 1}]\nlimits: {max_message_size: %s}\n",
                     sizes[i - PGR_ARRAY_LEN(durs)].text);
        pgr_config_errors_t errs;
        int rc;
        pgr_config_t *cfg = load(yaml, &errs, &rc);
        CHECK_INT(rc, 0);
        pgr_config_errors_free(&errs);
        if (!cfg)
            continue;
        if (dur)
            CHECK_INT(cfg->broadcast.timeout_ms, durs[i].ms);
        else
            CHECK(cfg->limits.max_message_size == sizes[i - PGR_ARRAY_LEN(durs)].bytes);
        pgr_config_free(cfg);
    }
}

TEST(password_env_reads_environment)
{
    static const char yaml[] =
        "listen: {host: h, port: 1}\n"
        "auth: {users: [{name: app, password_env: PGR_TEST_APP_PW}]}\n"
        "nodes: [{id: a, host: h, port: 1, password_env: PGR_TEST_NODE_PW}]\n";
    pgr_config_errors_t errs;
    int rc;

    setenv("PGR_TEST_APP_PW", "from-env-1", 1);
    setenv("PGR_TEST_NODE_PW", "from-env-2", 1);
    pgr_config_t *cfg = load(yaml, &errs, &rc);
    CHECK_INT(rc, 0);
    if (cfg) {
        CHECK_STR(cfg->auth.users[0].password, "from-env-1");
        CHECK_STR(cfg->nodes[0].password, "from-env-2");
        pgr_config_free(cfg);
    }
    pgr_config_errors_free(&errs);

    unsetenv("PGR_TEST_NODE_PW");
    cfg = load(yaml, &errs, &rc);
    CHECK_INT(rc, PGR_ECONFIG);
    CHECK(cfg == NULL);
    CHECK_INT(errs.n, 1);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], "t.yaml:3:49: nodes[0].password_env: expected the name of a set, "
                                "non-empty environment variable, got \"PGR_TEST_NODE_PW\"");
    pgr_config_errors_free(&errs);
    unsetenv("PGR_TEST_APP_PW");
}

/* Global health login keys, a node's own health: block over them, password_env at both levels,
 * and a node without a block inheriting (NULL). */
TEST(health_login)
{
    static const char yaml[] =
        "listen: {host: h, port: 1}\n"
        "health: {interval: 2s, user: hc, password_env: PGR_TEST_HC_PW, dbname: postgres}\n"
        "nodes:\n"
        "  - {id: a, host: h, port: 1, user: app, dbname: app}\n"
        "  - id: b\n"
        "    host: h\n"
        "    port: 2\n"
        "    health: {user: bench, password_env: PGR_TEST_BENCH_PW, dbname: bench}\n"
        "  - {id: c, host: h, port: 3, health: {password: p3, dbname: null}}\n";
    pgr_config_errors_t errs;
    int rc;

    setenv("PGR_TEST_HC_PW", "hc-secret", 1);
    setenv("PGR_TEST_BENCH_PW", "bench-secret", 1);
    pgr_config_t *cfg = load(yaml, &errs, &rc);
    for (size_t i = 0; i < errs.n; i++)
        printf("# %s\n", errs.msgs[i]);
    CHECK_INT(rc, 0);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->health.interval_ms, 2000);
    CHECK_STR(cfg->health.login.user, "hc");
    CHECK_STR(cfg->health.login.password, "hc-secret");
    CHECK_STR(cfg->health.login.dbname, "postgres");
    CHECK_INT(cfg->n_nodes, 3);
    const pgr_node_config_t *a = &cfg->nodes[0], *b = &cfg->nodes[1], *c = &cfg->nodes[2];
    CHECK(a->health.user == NULL && a->health.password == NULL && a->health.dbname == NULL);
    CHECK_STR(a->user, "app"); /* the pool's user is not the health user */
    CHECK_STR(b->health.user, "bench");
    CHECK_STR(b->health.password, "bench-secret");
    CHECK_STR(b->health.dbname, "bench");
    CHECK(b->user == NULL && b->password == NULL);
    CHECK(c->health.user == NULL && c->health.dbname == NULL);
    CHECK_STR(c->health.password, "p3");
    pgr_config_free(cfg);

    /* a secret never goes into a message */
    static const char bad[] =
        "listen: {host: h, port: 1}\n"
        "health: {user: [hc], password: hc-secret-value, password_env: PGR_TEST_HC_PW}\n"
        "nodes: [{id: a, host: h, port: 1}]\n";
    cfg = load(bad, &errs, &rc);
    CHECK_INT(rc, PGR_ECONFIG);
    CHECK_INT(errs.n, 2);
    for (size_t i = 0; i < errs.n; i++) {
        CHECK(strstr(errs.msgs[i], "hc-secret") == NULL);
        CHECK(strncmp(errs.msgs[i], "t.yaml:2:", 9) == 0);
    }
    pgr_config_errors_free(&errs);
    unsetenv("PGR_TEST_HC_PW");
    unsetenv("PGR_TEST_BENCH_PW");
}

TEST(auth_passthrough_and_query)
{
    static const char yaml[] =
        "listen: {host: h, port: 1}\n"
        "auth:\n"
        "  method: scram-sha-256\n"
        "  query_user: pgr_auth\n"
        "  query_password_env: PGR_TEST_QUERY_PW\n"
        "  query_dbname: postgres\n"
        "  query_cache_ttl: 5s\n"
        "admin: {users: [dba]}\n"
        "nodes: [{id: a, host: h, port: 1}]\n";
    pgr_config_errors_t errs;
    int rc;

    setenv("PGR_TEST_QUERY_PW", "query-secret", 1);
    pgr_config_t *cfg = load(yaml, &errs, &rc);
    for (size_t i = 0; i < errs.n; i++)
        printf("# %s\n", errs.msgs[i]);
    CHECK_INT(rc, 0);
    if (cfg) {
        CHECK_STR(cfg->auth.query, PGR_AUTH_QUERY_DEFAULT);
        CHECK_STR(cfg->auth.query_user, "pgr_auth");
        CHECK_STR(cfg->auth.query_password, "query-secret");
        CHECK_STR(cfg->auth.query_dbname, "postgres");
        CHECK_INT(cfg->auth.query_cache_ttl_ms, 5000);
        CHECK_INT(cfg->auth.passthrough_allow_plain, PGR_PLAIN_OFF);
        pgr_config_free(cfg);
    }
    unsetenv("PGR_TEST_QUERY_PW");

    static const char pt[] =
        "listen: {host: h, port: 1}\n"
        "auth: {method: passthrough, passthrough_allow_plain: loopback}\n"
        "admin: {users: [dba]}\n"
        "nodes: [{id: a, host: h, port: 1}]\n";
    cfg = load(pt, &errs, &rc);
    CHECK_INT(rc, 0);
    if (cfg) {
        CHECK_INT(cfg->auth.method, PGR_AUTH_PASSTHROUGH);
        CHECK_INT(cfg->auth.passthrough_allow_plain, PGR_PLAIN_LOOPBACK);
        CHECK(cfg->auth.query_user == NULL);
        CHECK_INT(cfg->auth.query_cache_ttl_ms, 60000);
        pgr_config_free(cfg);
    }
}

TEST(trust_admin_needs_no_users)
{
    static const char yaml[] =
        "listen: {host: h, port: 1}\n"
        "auth: {method: trust}\n"
        "admin: {users: [postgres]}\n"
        "nodes: [{id: a, host: h, port: 1}]\n";
    int rc;
    pgr_config_t *cfg = load(yaml, NULL, &rc);
    CHECK_INT(rc, 0);
    CHECK(cfg != NULL);
    pgr_config_free(cfg);
}

TEST(load_from_file)
{
    char path[] = "/tmp/pgr_test_config_XXXXXX";
    int fd = mkstemp(path);
    static const char yaml[] = "listen: {host: h, port: 1}\nnodes: [{id: a, host: h, port: x}]\n";
    pgr_config_errors_t errs;
    pgr_config_t *cfg = NULL;
    char want[256];

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_INT(write(fd, yaml, sizeof(yaml) - 1), sizeof(yaml) - 1);
    close(fd);
    CHECK_INT(pgr_config_load(path, &cfg, &errs), PGR_ECONFIG);
    snprintf(want, sizeof(want), "%s:2:32: nodes[0].port: expected an integer 1-65535, got \"x\"",
             path);
    CHECK_INT(errs.n, 1);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], want);
    pgr_config_errors_free(&errs);
    unlink(path);

    CHECK_INT(pgr_config_load(path, &cfg, &errs), PGR_EIO);
    CHECK(cfg == NULL);
    snprintf(want, sizeof(want), "%s: cannot read the file: No such file or directory", path);
    CHECK_INT(errs.n, 1);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], want);
    pgr_config_errors_free(&errs);
}

static int
load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    CHECK(d != NULL);
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[1024];
        pgr_config_errors_t errs;
        pgr_config_t *cfg = NULL;
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int rc = pgr_config_load(path, &cfg, &errs);
        if (rc != 0)
            printf("# %s does not load\n", path);
        for (size_t i = 0; i < errs.n; i++)
            printf("#   %s\n", errs.msgs[i]);
        CHECK_INT(rc, 0);
        CHECK(cfg == NULL || cfg->n_nodes >= 1);
        pgr_config_free(cfg);
        pgr_config_errors_free(&errs);
        n++;
    }
    closedir(d);
    return n;
}

TEST(shipped_files_load)
{
    const char *src = getenv("PGR_SRCDIR");
    char dir[900];

    CHECK(src != NULL);
    if (!src)
        return;
    /* the variables the examples name */
    setenv("APP_PASSWORD", "x", 1);
    setenv("REPORTING_PASSWORD", "x", 1);
    setenv("PGROUTER_SERVER_PASSWORD", "x", 1);
    snprintf(dir, sizeof(dir), "%s/config", src);
    CHECK(load_dir(dir) >= 2); /* pgrouter.yaml, demo.yaml */
    snprintf(dir, sizeof(dir), "%s/config/examples", src);
    CHECK(load_dir(dir) >= 3);
}

TEST(demo_yaml_shape)
{
    const char *src = getenv("PGR_SRCDIR");
    char path[900];
    pgr_config_t *cfg = NULL;

    if (!src)
        return;
    snprintf(path, sizeof(path), "%s/config/demo.yaml", src);
    CHECK_INT(pgr_config_load(path, &cfg, NULL), 0);
    if (!cfg)
        return;
    CHECK_INT(cfg->n_nodes, 3);
    CHECK_INT(cfg->auth.method, PGR_AUTH_TRUST);
    CHECK_INT(cfg->listen.port, 6432);
    for (size_t i = 0; i < cfg->n_nodes && i < 3; i++) {
        CHECK_INT(cfg->nodes[i].port, 5501 + (int)i);
        CHECK_STR(cfg->nodes[i].dbname, "app");
        CHECK_INT(cfg->nodes[i].role, i == 0 ? PGR_ROLE_PRIMARY : PGR_ROLE_REPLICA);
    }
    CHECK_STR(cfg->nodes[2].id, "pg3");
    /* What the README's demo section relies on: the admin console for postgres, HTTP, RYW. */
    CHECK(cfg->admin.n_users == 1 && strcmp(cfg->admin.users[0], "postgres") == 0);
    CHECK_STR(cfg->admin.http, "127.0.0.1:9930");
    CHECK_INT(cfg->routing.read_your_writes, PGR_RYW_SESSION);
    pgr_config_free(cfg);
}

TEST(new_default)
{
    pgr_config_t *cfg = pgr_config_new_default();
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->n_nodes, 0);
    CHECK_INT(cfg->pool.max_size, 20);
    CHECK_INT(cfg->routing.classify_cache_size, 10000);
    CHECK_STR(cfg->log.level, "info");
    pgr_config_free(cfg);
    pgr_config_free(NULL);
}

int
main(void)
{
    unsetenv("PGR_TEST_UNSET_VAR");
    return RUN(bad_inputs, all_errors_collected, string_bounds, large_files_load_in_linear_time,
               minimal_gets_defaults, every_value_parsed, instance_and_peers, units, password_env_reads_environment,
               health_login, auth_passthrough_and_query, trust_admin_needs_no_users,
               load_from_file, shipped_files_load, demo_yaml_shape, new_default);
}

/* ops/admin: the command parser (good and malformed input, random input) and every command's
 * reply, against a runtime with a real cluster whose nodes are unreachable loopback ports. */
#include <signal.h>

#include "net/listener.h"
#include "ops/admin.h"
#include "ops/report.h"
#include "../harness.h"
#include "ops_support.h"

/* Run sql through the console; the reply decoded (see ops_support.h). Caller frees. */
static char *
run(pgr_runtime_t *rt, const char *sql)
{
    pgr_writer_t w;
    pgr_writer_init_grow(&w);
    pgr_admin_session_t sess = { 0 };
    int rc = pgr_admin_execute(rt, sql, strlen(sql), &w, &sess);
    char *s = rc == 0 ? ops_decode(w.buf, w.len) : strdup("! execute failed\n");
    pgr_writer_free(&w);
    return s;
}

/* Does the reply to sql contain want? Prints the reply when not. */
static int
reply_has(pgr_runtime_t *rt, const char *sql, const char *want)
{
    char *got = run(rt, sql);
    int ok = strstr(got, want) != NULL;
    if (!ok)
        printf("# %s\n#   reply: %s#   want:  %s\n", sql, got, want);
    free(got);
    return ok;
}

static int
reply_lacks(pgr_runtime_t *rt, const char *sql, const char *unwanted)
{
    char *got = run(rt, sql);
    int ok = strstr(got, unwanted) == NULL;
    if (!ok)
        printf("# %s\n#   reply: %s#   must not contain: %s\n", sql, got, unwanted);
    free(got);
    return ok;
}

/* ---- parser ------------------------------------------------------------------------------ */

static pgr_admin_verb_t
parse_verb(const char *sql, pgr_admin_cmd_t *cmd)
{
    pgr_admin_err_t err;
    int rc = pgr_admin_parse(sql, strlen(sql), cmd, &err);
    if (rc != 0) {
        printf("# parse \"%s\": %s %s\n", sql, err.sqlstate, err.msg);
        return (pgr_admin_verb_t)-1;
    }
    return cmd->verb;
}

TEST(parse_show)
{
    static const struct { const char *sql; pgr_admin_verb_t verb; } cases[] = {
        { "SHOW NODES", PGR_ADMIN_SHOW_NODES },
        { "show nodes;", PGR_ADMIN_SHOW_NODES },
        { "  Show\tPools ;  \n", PGR_ADMIN_SHOW_POOLS },
        { "-- a comment\nSHOW CLIENTS", PGR_ADMIN_SHOW_CLIENTS },
        { "/* a /* nested */ comment */ SHOW servers", PGR_ADMIN_SHOW_SERVERS },
        { "SHOW STATS -- trailing", PGR_ADMIN_SHOW_STATS },
        { "SHOW CONFIG", PGR_ADMIN_SHOW_CONFIG },
        { "SHOW VERSION", PGR_ADMIN_SHOW_VERSION },
        { "show help", PGR_ADMIN_SHOW_HELP },
        { "PAUSE", PGR_ADMIN_PAUSE },
        { "resume;", PGR_ADMIN_RESUME },
        { "RELOAD", PGR_ADMIN_RELOAD },
        { "", PGR_ADMIN_EMPTY },
        { "  ; ", PGR_ADMIN_EMPTY },
        { "-- only a comment", PGR_ADMIN_EMPTY },
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        pgr_admin_cmd_t cmd;
        CHECK_INT(parse_verb(cases[i].sql, &cmd), cases[i].verb);
        pgr_admin_cmd_free(&cmd);
    }
    CHECK_STR(pgr_admin_verb_name(PGR_ADMIN_SHOW_NODES), "SHOW NODES");
    CHECK_STR(pgr_admin_verb_name((pgr_admin_verb_t)999), "unknown");
}

TEST(parse_node_commands)
{
    pgr_admin_cmd_t cmd;

    CHECK_INT(parse_verb("ADD NODE pg9 'host=10.0.0.9 port=5433' ROLE replica WEIGHT 3;", &cmd),
              PGR_ADMIN_ADD_NODE);
    CHECK_STR(cmd.node, "pg9");
    CHECK_STR(cmd.conninfo, "host=10.0.0.9 port=5433");
    CHECK(cmd.has_role && cmd.role == PGR_ROLE_REPLICA);
    CHECK(cmd.has_weight && cmd.weight == 3);
    pgr_admin_cmd_free(&cmd);

    /* Options in the other order; a doubled quote inside the conninfo; a quoted id. */
    CHECK_INT(parse_verb("add node \"Node A\" 'host=h password=''x y''' weight 0 role auto",
                         &cmd), PGR_ADMIN_ADD_NODE);
    CHECK_STR(cmd.node, "Node A");
    CHECK_STR(cmd.conninfo, "host=h password='x y'");
    CHECK(cmd.has_role && cmd.role == PGR_ROLE_AUTO && cmd.has_weight && cmd.weight == 0);
    pgr_admin_cmd_free(&cmd);

    CHECK_INT(parse_verb("ADD NODE pg9 'host=h port=1'", &cmd), PGR_ADMIN_ADD_NODE);
    CHECK(!cmd.has_role && !cmd.has_weight);
    pgr_admin_cmd_free(&cmd);

    CHECK_INT(parse_verb("DRAIN NODE pg-2.east", &cmd), PGR_ADMIN_DRAIN_NODE);
    CHECK_STR(cmd.node, "pg-2.east");
    pgr_admin_cmd_free(&cmd);
    CHECK_INT(parse_verb("remove node PG2;", &cmd), PGR_ADMIN_REMOVE_NODE);
    CHECK_STR(cmd.node, "PG2"); /* ids keep their case */
    pgr_admin_cmd_free(&cmd);

    CHECK_INT(parse_verb("SET NODE pg1 WEIGHT 1000000", &cmd), PGR_ADMIN_SET_NODE);
    CHECK(cmd.has_weight && cmd.weight == 1000000 && !cmd.has_role);
    pgr_admin_cmd_free(&cmd);
    CHECK_INT(parse_verb("SET NODE pg1 ROLE primary WEIGHT 7", &cmd), PGR_ADMIN_SET_NODE);
    CHECK(cmd.has_role && cmd.role == PGR_ROLE_PRIMARY && cmd.weight == 7);
    pgr_admin_cmd_free(&cmd);

    CHECK_INT(parse_verb("SHUTDOWN", &cmd), PGR_ADMIN_SHUTDOWN);
    CHECK(!cmd.wait_for_clients);
    CHECK_INT(parse_verb("shutdown wait_for_clients;", &cmd), PGR_ADMIN_SHUTDOWN);
    CHECK(cmd.wait_for_clients);

    CHECK_INT(parse_verb("EXPLAIN ROUTE  SELECT * FROM t WHERE a = 'x;y';  \n", &cmd),
              PGR_ADMIN_EXPLAIN_ROUTE);
    CHECK(cmd.rest_len == strlen("SELECT * FROM t WHERE a = 'x;y';") &&
          memcmp(cmd.rest, "SELECT * FROM t WHERE a = 'x;y';", cmd.rest_len) == 0);
    CHECK_INT(parse_verb("LISTEN pgrouter_events", &cmd), PGR_ADMIN_LISTEN);
    CHECK_STR(cmd.channel, "pgrouter_events");
}

TEST(parse_errors)
{
    static const struct { const char *sql, *msg; } cases[] = {
        { "FOO", "unrecognized admin command \"FOO\"" },
        { "select 1", "unrecognized admin command \"select 1\"" },
        { "SHOW FOO BAR", "unrecognized admin command \"SHOW FOO\"" },
        { "SHOW", "unrecognized admin command \"SHOW\"" },
        { "EXPLAIN SELECT 1", "unrecognized admin command \"EXPLAIN SELECT\"" },
        { "SET search_path = x", "unrecognized admin command \"SET search_path\"" },
        { "ADD pg1", "unrecognized admin command \"ADD pg1\"" },
        { "SHOW NODES extra", "syntax error in SHOW NODES at \"extra\"" },
        { "SHOW NODES; SHOW POOLS", "syntax error in SHOW NODES at \"SHOW\"" },
        { "SHOW NODES;;", "syntax error in SHOW NODES at \";\"" },
        { "ADD NODE", "expected a node id, got end of input" },
        { "ADD NODE pg3", "expected a 'conninfo' string, got end of input" },
        { "ADD NODE pg3 host=x", "expected a 'conninfo' string, got \"host\"" },
        { "ADD NODE pg3 'host=x", "unterminated quoted string" },
        { "ADD NODE \"pg3 'h'", "unterminated quoted identifier" },
        { "ADD NODE pg3 'h' ROLE", "expected ROLE primary, replica or auto" },
        { "ADD NODE pg3 'h' ROLE primary ROLE replica", "syntax error in ADD NODE at \"ROLE\"" },
        { "ADD NODE pg3 'h' WEIGHT -1", "expected WEIGHT 0-1000000, got \"-1\"" },
        { "ADD NODE pg3 'h' WEIGHT 1000001", "expected WEIGHT 0-1000000" },
        { "ADD NODE pg3 'h' WEIGHT 99999999999999999999", "expected WEIGHT 0-1000000" },
        { "ADD NODE pg3 'h' (", "syntax error in ADD NODE at \"(\"" },
        { "ADD NODE \"\" 'h'", "invalid node id" },
        { "DRAIN NODE", "syntax error in DRAIN NODE: expected a node id" },
        { "REMOVE NODE a b", "syntax error in REMOVE NODE at \"b\"" },
        { "SET NODE pg1", "syntax error in SET NODE: expected WEIGHT or ROLE" },
        { "SET NODE pg1 ROLE boss", "got \"boss\"" },
        { "SET NODE pg1 WEIGHT", "expected WEIGHT 0-1000000, got end of input" },
        { "PAUSE now", "syntax error in PAUSE at \"now\"" },
        { "SHUTDOWN NOW", "syntax error in SHUTDOWN at \"NOW\"" },
        { "EXPLAIN ROUTE", "expected a statement" },
        { "EXPLAIN ROUTE   ", "expected a statement" },
        { "/* open", "unterminated /* comment" },
        { "SHOW NODES /* open", "unterminated /* comment" },
        { ";x", "unrecognized admin command \"\"" },
        { "LISTEN", "expected a channel" },
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        pgr_admin_cmd_t cmd;
        pgr_admin_err_t err;
        int rc = pgr_admin_parse(cases[i].sql, strlen(cases[i].sql), &cmd, &err);
        CHECK_INT(rc, PGR_EINVAL);
        if (rc != PGR_EINVAL) {
            pgr_admin_cmd_free(&cmd);
            continue;
        }
        CHECK_STR(err.sqlstate, "42601");
        if (!strstr(err.msg, cases[i].msg)) {
            t_failed_checks++;
            printf("# FAIL \"%s\"\n#   got:  %s\n#   want: ...%s...\n", cases[i].sql, err.msg,
                   cases[i].msg);
        }
    }
}

TEST(parse_node_id_limits)
{
    char sql[200];
    pgr_admin_cmd_t cmd;
    pgr_admin_err_t err;

    memset(sql, 0, sizeof(sql));
    snprintf(sql, sizeof(sql), "DRAIN NODE %.*s", 63, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    CHECK_INT(pgr_admin_parse(sql, strlen(sql), &cmd, &err), 0);
    CHECK_INT(strlen(cmd.node), 63);
    snprintf(sql, sizeof(sql), "DRAIN NODE %.*s", 64, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    CHECK_INT(pgr_admin_parse(sql, strlen(sql), &cmd, &err), PGR_EINVAL);
    CHECK(strstr(err.msg, "invalid node id") != NULL);
    /* Invalid UTF-8 and control characters in an id are refused. */
    CHECK_INT(pgr_admin_parse("DRAIN NODE a\xff", 13, &cmd, &err), PGR_EINVAL);
    CHECK_INT(pgr_admin_parse("DRAIN NODE \"a\x01\"", 15, &cmd, &err), PGR_EINVAL);
    CHECK_INT(pgr_admin_parse("DRAIN NODE n\xc3\xa9", 14, &cmd, &err), 0);
    CHECK_STR(cmd.node, "n\xc3\xa9");
    /* A NUL inside the query: never read as the end, never let into an id or conninfo. */
    CHECK_INT(pgr_admin_parse("SHOW NODES\0x", 12, &cmd, &err), PGR_EINVAL);
    CHECK_INT(pgr_admin_parse("DRAIN NODE \"a\0b\"", 16, &cmd, &err), PGR_EINVAL);
    CHECK_INT(pgr_admin_parse("ADD NODE x 'host=a\0 port=1'", 27, &cmd, &err), PGR_EINVAL);
    CHECK(strstr(err.msg, "NUL") != NULL);
    /* len is honoured: bytes past it are not part of the command. */
    CHECK_INT(pgr_admin_parse("SHOW NODES garbage", 10, &cmd, &err), 0);
    CHECK_INT(cmd.verb, PGR_ADMIN_SHOW_NODES);
}

/* ---- commands ---------------------------------------------------------------------------- */

TEST(show_nodes_pools)
{
    ops_env_t e;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    char *r = run(rt, "SHOW NODES");
    /* Header, one row per node in order, the tag; node state is "connecting" right after
     * creation (the loop has not run). */
    CHECK(strncmp(r, "T id,host,port,role_configured,role_reported,state,weight,latency_ms,"
                     "lag_s,lsn,consecutive_failures,last_error,last_error_at\n", 124) == 0);
    CHECK(strstr(r, "D pg1|127.0.0.1|1|primary|NULL|connecting|2|NULL|NULL|NULL|0|NULL|NULL\n"));
    CHECK(strstr(r, "D pg2|127.0.0.1|2|auto|NULL|connecting|1|"));
    CHECK(strstr(r, "D pg1") < strstr(r, "D pg2"));
    CHECK(strstr(r, "\nC SHOW\n") && r[strlen(r) - 1] == '\n');
    free(r);
    CHECK(reply_has(rt, "show pools;", "T node,total,idle,active,connecting,waiting,max,"
                    "acquired,timed_out,connect_failures\n"));
    CHECK(reply_has(rt, "SHOW POOLS", "D pg2|"));

    /* Run the loop until both nodes have failed a check: the error shows. */
    for (int i = 0; i < 200; i++) {
        pgr_health_t h;
        if (pgr_cluster_get_health(rt->cluster, "pg2", &h) == 0 && h.last_error[0])
            break;
        uv_run(&e.loop, UV_RUN_ONCE);
    }
    r = run(rt, "SHOW NODES");
    /* pg2's row now ends with the error text and when it happened, not NULL; the node is
     * not healthy, so its role, latency, lag and LSN are unknown. */
    char *row = strstr(r, "D pg2|127.0.0.1|2|auto|NULL|");
    CHECK(row != NULL);
    if (row) {
        char *eol = strchr(row, '\n');
        CHECK(eol != NULL && eol - row > 5 && strncmp(eol - 5, "|NULL", 5) != 0);
        /* ...|error|2026-12-07 20:03:45.969+00 (the error text may span lines) */
        char *end = strstr(row, "+00\n"), *bar = end ? end - 24 : NULL;
        CHECK(bar && bar > row && bar[0] == '|' && bar[5] == '-' && bar[11] == ' ' &&
              bar[20] == '.');
        CHECK(strstr(row, "|1|NULL|NULL|NULL|") != NULL); /* weight, then unknowns */
    }
    CHECK(strstr(r, "node-secret") == NULL);
    free(r);
    ops_env_free(&e);
}

TEST(show_stats_config_version_help)
{
    ops_env_t e;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    rt->stats.queries = 42;
    rt->stats.bytes_out = 1ull << 40;
    rt->n_clients = 3;
    CHECK(reply_has(rt, "SHOW STATS", "T clients,clients_accepted,clients_refused,"
                    "auth_failures,login_timeouts,protocol_errors,queries,transactions,bytes_in,"
                    "bytes_out,cancels_forwarded,cancels_ignored,cancels_to_peers,"
                    "cancels_peer_failed,cancels_unknown_instance,pinned,server_resets,"
                    "server_closes_dirty,server_closes_state,query_timeouts,"
                    "idle_transaction_timeouts\n"
                    "D 3|0|0|0|0|0|42|0|0|1099511627776|0|0|0|0|0|0|0|0|0|0|0\nC SHOW\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "T key,value\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D listen.hosts|127.0.0.1\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D auth.method|scram-sha-256\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D auth.users|app\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D admin.http|127.0.0.1:9930\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D admin.reserved_connections|3\n"));
    /* Each value in its own buffer: two keys once shared one and showed the same value. */
    CHECK(reply_has(rt, "SHOW CONFIG", "D instance.id|0\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D pool.query_timeout|0s\n") ||
          reply_has(rt, "SHOW CONFIG", "D pool.query_timeout|0ms\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D broadcast.merge_memory|"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D health.interval|100ms\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D shutdown.drain_timeout|250ms\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D routing.balance|least-busy\n"));
    CHECK(reply_has(rt, "SHOW CONFIG", "D log.file|NULL\n"));
    /* Never a password: neither a user's nor a node's. */
    CHECK(reply_lacks(rt, "SHOW CONFIG", "s3cret"));
    CHECK(reply_lacks(rt, "SHOW CONFIG", "node-secret"));
    CHECK(reply_has(rt, "SHOW VERSION", "T version\nD pgrouter " PGR_VERSION "\nC SHOW\n"));
    CHECK(reply_has(rt, "SHOW HELP", "D ADD NODE id 'conninfo' [ROLE r] [WEIGHT w]|"));
    CHECK(reply_has(rt, "SHOW HELP", "D EXPLAIN ROUTE <sql>|"));
    /* No sessions: headers only. */
    CHECK(reply_has(rt, "SHOW CLIENTS", "T id,user,database,peer,state,node,pinned,"
                    "application_name,tls\nC SHOW\n"));
    CHECK(reply_has(rt, "SHOW SERVERS", "T node,backend_pid,client_id,user,database,state,"
                    "pinned,server_version\nC SHOW\n"));
    rt->n_clients = 0;
    ops_env_free(&e);
}

TEST(set_add_remove_node)
{
    ops_env_t e;
    pgr_node_info_t info;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;

    CHECK(reply_has(rt, "SET NODE pg2 WEIGHT 5 ROLE replica", "C SET NODE\n"));
    CHECK_INT(pgr_cluster_get_node(rt->cluster, "pg2", &info), 0);
    CHECK_INT(info.weight, 5);
    CHECK_INT(info.role, PGR_ROLE_REPLICA);
    CHECK(reply_has(rt, "SHOW NODES", "D pg2|127.0.0.1|2|replica|NULL|connecting|5|"));
    CHECK(reply_has(rt, "SET NODE pg2 role auto", "C SET NODE\n"));
    CHECK_INT(pgr_cluster_get_node(rt->cluster, "pg2", &info), 0);
    CHECK_INT(info.role, PGR_ROLE_AUTO);
    CHECK_INT(info.weight, 5);
    CHECK(reply_has(rt, "SET NODE nosuch WEIGHT 1", "E 42704 node \"nosuch\" does not exist\n"));

    char *r = run(rt, "ADD NODE pg3 'host=127.0.0.1 port=3 dbname=app' ROLE replica WEIGHT 3");
    CHECK_STR(r, "N node pg3 added: it takes work once its first health check passes\n"
                 "C ADD NODE\n");
    free(r);
    CHECK_INT(pgr_cluster_get_node(rt->cluster, "pg3", &info), 0);
    CHECK_INT(info.port, 3);
    CHECK_INT(info.weight, 3);
    CHECK_INT(info.role, PGR_ROLE_REPLICA);
    CHECK(reply_has(rt, "SHOW NODES", "D pg3|127.0.0.1|3|replica|"));
    CHECK(reply_has(rt, "ADD NODE pg3 'host=127.0.0.1 port=4'",
                    "E 42710 node \"pg3\" already exists\n"));
    /* Only whitelisted conninfo keys; the message names the key, never the password. */
    CHECK(reply_has(rt, "ADD NODE pg4 'host=127.0.0.1 port=4 options=-cwork_mem=1MB'",
                    "E 22023 cannot add node \"pg4\": invalid conninfo: key \"options\" is not "
                    "allowed"));
    CHECK(reply_lacks(rt, "ADD NODE pg4 'host=127.0.0.1 port=4 password=hunter2 bogus=1'",
                      "hunter2"));
    CHECK(reply_has(rt, "ADD NODE pg4 'port=4'", "E 22023 cannot add node \"pg4\": "));
    CHECK(reply_has(rt, "ADD NODE pg4 'host=127.0.0.1 port=99999'", "E 22023 "));
    CHECK(!pgr_cluster_has_node(rt->cluster, "pg4"));

    r = run(rt, "REMOVE NODE pg3");
    CHECK(strstr(r, "N REMOVE NODE pg3 started: the node takes no new work now") != NULL);
    CHECK(strstr(r, "up to 250 ms") != NULL);
    CHECK(strstr(r, "C REMOVE NODE\n") != NULL);
    free(r);
    CHECK(!pgr_cluster_has_node(rt->cluster, "pg3"));
    CHECK(reply_lacks(rt, "SHOW NODES", "D pg3"));
    CHECK(reply_has(rt, "REMOVE NODE pg3", "E 42704 node \"pg3\" does not exist\n"));
    CHECK(reply_has(rt, "DRAIN NODE pg2", "C DRAIN NODE\n"));
    CHECK(!pgr_cluster_has_node(rt->cluster, "pg2"));
    CHECK(reply_has(rt, "DRAIN NODE pg2", "E 42704 "));
    /* Let the removals finish on the loop. */
    for (int i = 0; i < 100; i++)
        uv_run(&e.loop, UV_RUN_NOWAIT);
    ops_env_free(&e);
}

TEST(pause_resume)
{
    ops_env_t e;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    CHECK(reply_has(rt, "PAUSE", "E 55000 cannot pause"));
    CHECK_INT(pgr_listener_start(&e.loop, rt->cfg, NULL, NULL, &rt->listener), 0);
    CHECK(reply_has(rt, "PAUSE", "N paused: new connections wait"));
    CHECK(reply_has(rt, "pause", "C PAUSE\n"));
    CHECK(reply_has(rt, "RESUME", "C RESUME\n"));
    pgr_listener_close(rt->listener, NULL);
    rt->listener = NULL;
    ops_env_free(&e);
}

static volatile sig_atomic_t got_sigterm;

static void
on_sigterm(int sig)
{
    (void)sig;
    got_sigterm++;
}

TEST(shutdown_reload_listen_empty)
{
    ops_env_t e;
    struct sigaction sa, old;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, &old);
    got_sigterm = 0;
    char *r = run(rt, "SHUTDOWN");
    /* A signal a process sends itself is delivered before kill() returns. */
    CHECK_INT(got_sigterm, 1);
    CHECK(strstr(r, "N graceful shutdown started") && strstr(r, "up to 250 ms") &&
          strstr(r, "C SHUTDOWN\n"));
    free(r);
    CHECK(reply_has(rt, "SHUTDOWN WAIT_FOR_CLIENTS", "WAIT_FOR_CLIENTS does not wait longer"));
    CHECK_INT(got_sigterm, 2);
    rt->shutting_down = true;
    CHECK(reply_has(rt, "SHUTDOWN", "N pgrouter is already shutting down\nC SHUTDOWN\n"));
    CHECK_INT(got_sigterm, 2);
    rt->shutting_down = false;
    sigaction(SIGTERM, &old, NULL);

    /* The test runtime's config was not read from a file that exists: nothing changes. */
    CHECK(reply_has(rt, "RELOAD", "E ") && reply_lacks(rt, "RELOAD", "C RELOAD"));
    {
        pgr_admin_session_t sess = { 0 };
        pgr_writer_t w;
        pgr_writer_init_grow(&w);
        CHECK_INT(pgr_admin_execute(rt, "LISTEN pgrouter_events", 22, &w, &sess), 0);
        CHECK(sess.listening);
        CHECK_INT(pgr_admin_execute(rt, "UNLISTEN *", 10, &w, &sess), 0);
        CHECK(!sess.listening);
        CHECK_INT(pgr_admin_execute(rt, "listen PGROUTER_EVENTS;", 23, &w, &sess), 0);
        CHECK(sess.listening);
        CHECK_INT(pgr_admin_execute(rt, "UNLISTEN other", 14, &w, &sess), 0);
        CHECK(sess.listening);
        CHECK_INT(pgr_admin_execute(rt, "UNLISTEN pgrouter_events", 24, &w, &sess), 0);
        CHECK(!sess.listening);
        pgr_writer_free(&w);
    }
    CHECK(reply_has(rt, "LISTEN pgrouter_events", "C LISTEN\n"));
    CHECK(reply_has(rt, "LISTEN elsewhere", "N nothing is sent on channel \"elsewhere\""));
    CHECK(reply_has(rt, "UNLISTEN", "E 42601 syntax error in UNLISTEN"));
    r = run(rt, "");
    CHECK_STR(r, "I\n");
    free(r);
    r = run(rt, "bogus stuff here");
    CHECK_STR(r, "E 42601 unrecognized admin command \"bogus stuff\"\n");
    free(r);
    ops_env_free(&e);
}

static char explained[256];

static void
fake_explain(pgr_runtime_t *rt, const char *sql, size_t len, char *out, size_t cap)
{
    (void)rt;
    snprintf(explained, sizeof(explained), "%.*s", (int)len, sql);
    snprintf(out, cap, "node pg2: read -> replica pg2\n[class read]");
}

TEST(explain_route)
{
    ops_env_t e;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    rt->explain_route = NULL;
    CHECK(reply_has(rt, "EXPLAIN ROUTE SELECT 1", "E 0A000 EXPLAIN ROUTE needs the router\n"));
    rt->explain_route = fake_explain;
    char *r = run(rt, "explain route /* pgrouter: replica */ SELECT 1;");
    CHECK_STR(r, "T route\nD node pg2: read -> replica pg2\nD [class read]\nC EXPLAIN\n");
    CHECK_STR(explained, "/* pgrouter: replica */ SELECT 1;");
    free(r);
    ops_env_free(&e);
}

TEST(install)
{
    pgr_runtime_t rt;
    memset(&rt, 0, sizeof(rt));
    pgr_admin_install(&rt);
    CHECK(rt.admin_execute == pgr_admin_execute);
}

/* ---- random input ------------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Every reply is a well-formed sequence: messages that decode, ending in C, E or I. */
static int
reply_ok(const char *r)
{
    size_t n = strlen(r);
    if (strncmp(r, "! ", 2) == 0 || strstr(r, "\n! ") || n < 2)
        return 0;
    const char *last = r + n - 1;
    while (last > r && last[-1] != '\n')
        last--;
    /* Messages a client decodes as UTF-8: no invalid byte may reach them. */
    if (!pgr_report_utf8_valid(r, n))
        return 0;
    return last[0] == 'C' || last[0] == 'E' || last[0] == 'I';
}

TEST(fuzz_random_bytes_and_tokens)
{
    static const char *const toks[] = {
        "SHOW", "NODES", "POOLS", "CLIENTS", "SERVERS", "STATS", "CONFIG", "VERSION", "HELP",
        "ADD", "DRAIN", "REMOVE", "SET", "NODE", "WEIGHT", "ROLE", "primary", "replica", "auto",
        "pg1", "pg2", "pgX", "\"q\"\"d\"", "'host=127.0.0.1 port=5'", "'port=x'", "'", "\"",
        "5", "-1", "1000001", ";", ";;", "--", "/*", "*/", "PAUSE", "RESUME", "RELOAD",
        "SHUTDOWN", "WAIT_FOR_CLIENTS", "EXPLAIN", "ROUTE", "LISTEN", "(", "\xff", "\xc3",
        "\t", "\n", "e'x'",
    };
    struct sigaction sa, old;
    ops_env_t e;
    char buf[300];
    int bad = 0, completed = 0;

    OPS_ENV(e);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, &old);
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = 0;
        if (iter % 3 == 2) {
            /* A valid command, maybe with a byte changed, dropped or cut off. */
            static const char *const good[] = {
                "SHOW NODES", "show pools;", "SHOW CLIENTS", "SHOW SERVERS", "SHOW STATS",
                "SHOW CONFIG", "SHOW VERSION", "SHOW HELP", "SET NODE pg1 WEIGHT 3",
                "SET NODE pg2 ROLE replica", "ADD NODE pgF 'host=127.0.0.1 port=5' ROLE replica",
                "REMOVE NODE pgF", "DRAIN NODE pgF", "EXPLAIN ROUTE select 1", "PAUSE",
                "RESUME", "RELOAD", "SHUTDOWN", "LISTEN pgrouter_events", "",
            };
            const char *g = good[rnd() % PGR_ARRAY_LEN(good)];
            len = strlen(g);
            memcpy(buf, g, len);
            int muts = (int)(rnd() % 3);
            for (int m = 0; m < muts && len > 0; m++) {
                size_t at = rnd() % len;
                switch (rnd() % 3) {
                case 0: buf[at] = (char)(rnd() & 0xff); break;
                case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
                default: len = at; break;
                }
            }
        } else if (iter % 3 == 0) {
            /* Raw bytes, NULs included. */
            len = rnd() % sizeof(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)(rnd() & 0xff);
        } else {
            /* Keyword soup: mostly near-valid commands. */
            int n = 1 + (int)(rnd() % 7);
            for (int i = 0; i < n; i++) {
                const char *t = toks[rnd() % PGR_ARRAY_LEN(toks)];
                size_t tl = strlen(t);
                if (len + tl + 1 >= sizeof(buf))
                    break;
                memcpy(buf + len, t, tl);
                len += tl;
                if (rnd() % 4)
                    buf[len++] = ' ';
            }
        }
        pgr_admin_cmd_t cmd;
        pgr_admin_err_t err;
        int rc = pgr_admin_parse(buf, len, &cmd, &err);
        if (rc == 0)
            pgr_admin_cmd_free(&cmd);
        else if (rc != PGR_EINVAL || strlen(err.sqlstate) != 5 || err.msg[0] == '\0')
            bad++;
        pgr_writer_t w;
        pgr_writer_init_grow(&w);
        rc = pgr_admin_execute(&e.rt, buf, len, &w, NULL);
        char *r = rc == 0 ? ops_decode(w.buf, w.len) : NULL;
        if (r && (strncmp(r, "C ", 2) == 0 || strstr(r, "\nC ") != NULL))
            completed++;
        if (!r || !reply_ok(r)) {
            if (bad++ < 5)
                printf("# bad reply to %zu bytes: %s\n", len, r ? r : "(execute failed)");
        }
        free(r);
        pgr_writer_free(&w);
        if (iter % 1000 == 0)
            uv_run(&e.loop, UV_RUN_NOWAIT);
    }
    sigaction(SIGTERM, &old, NULL);
    CHECK_INT(bad, 0);
    /* The soup reaches real commands, not only errors. */
    printf("# %d of 30000 inputs ran a command to completion\n", completed);
    CHECK(completed > 1500);
    ops_env_free(&e);
}

/* LISTEN pgrouter_events: the JSON of each of the six events, as the README documents it. */
TEST(event_payloads)
{
    ops_env_t e;
    OPS_ENV(e);
    char *j;

    pgr_event_t added = { .type = PGR_EVENT_NODE_ADDED, .node_id = "pg1" };
    CHECK_STR(j = pgr_admin_event_json(e.rt.cluster, &added),
              "{\"event\": \"node_added\", \"node\": \"pg1\", \"host\": \"127.0.0.1\", "
              "\"port\": 1}");
    free(j);
    pgr_event_t removed = { .type = PGR_EVENT_NODE_REMOVED, .node_id = "pg4" };
    CHECK_STR(j = pgr_admin_event_json(e.rt.cluster, &removed),
              "{\"event\": \"node_removed\", \"node\": \"pg4\"}");
    free(j);
    pgr_event_t health = { .type = PGR_EVENT_NODE_HEALTH, .node_id = "pg2",
                           .old_state = PGR_NODE_HEALTHY, .new_state = PGR_NODE_UNHEALTHY,
                           .error = "timed out\n\"x\"" };
    CHECK_STR(j = pgr_admin_event_json(NULL, &health),
              "{\"event\": \"node_health\", \"node\": \"pg2\", \"from\": \"healthy\", "
              "\"to\": \"unhealthy\", \"error\": \"timed out\\n\\\"x\\\"\"}");
    free(j);
    health.old_state = PGR_NODE_UNHEALTHY;
    health.new_state = PGR_NODE_HEALTHY;
    health.error = NULL;
    CHECK_STR(j = pgr_admin_event_json(NULL, &health),
              "{\"event\": \"node_health\", \"node\": \"pg2\", \"from\": \"unhealthy\", "
              "\"to\": \"healthy\"}");
    free(j);
    pgr_event_t conn = { .type = PGR_EVENT_NODE_CONNECTED, .node_id = "pg2" };
    CHECK_STR(j = pgr_admin_event_json(NULL, &conn),
              "{\"event\": \"node_connected\", \"node\": \"pg2\"}");
    free(j);
    pgr_event_t disc = { .type = PGR_EVENT_NODE_DISCONNECTED, .node_id = "pg2",
                         .error = "health connection lost" };
    CHECK_STR(j = pgr_admin_event_json(NULL, &disc),
              "{\"event\": \"node_disconnected\", \"node\": \"pg2\", "
              "\"error\": \"health connection lost\"}");
    free(j);
    pgr_pool_stats_t st[2] = {
        { .node_id = "pg1", .total = 3, .idle = 2, .active = 1, .max = 20, .acquired = 17 },
        { .node_id = "pg2", .connecting = 1, .waiting = 4, .max = 5, .timed_out = 2,
          .connect_failures = 9 },
    };
    pgr_event_t stats = { .type = PGR_EVENT_POOL_STATS, .stats = st, .n_stats = 2 };
    CHECK_STR(j = pgr_admin_event_json(NULL, &stats),
              "{\"event\": \"pool_stats\", \"pools\": [{\"node\": \"pg1\", \"total\": 3, "
              "\"idle\": 2, \"active\": 1, \"connecting\": 0, \"waiting\": 0, \"max\": 20, "
              "\"acquired\": 17, \"timed_out\": 0, \"connect_failures\": 0}, {\"node\": \"pg2\", "
              "\"total\": 0, \"idle\": 0, \"active\": 0, \"connecting\": 1, \"waiting\": 4, "
              "\"max\": 5, \"acquired\": 0, \"timed_out\": 2, \"connect_failures\": 9}]}");
    free(j);
    pgr_event_t bad = { .type = (pgr_event_type_t)99 };
    CHECK(pgr_admin_event_json(NULL, &bad) == NULL);
    ops_env_free(&e);
}

int
main(void)
{
    return RUN(parse_show, parse_node_commands, parse_errors, parse_node_id_limits,
               show_nodes_pools, show_stats_config_version_help, set_add_remove_node,
               pause_resume, shutdown_reload_listen_empty, explain_route, install,
               event_payloads, fuzz_random_bytes_and_tokens);
}

/* The merge engine fed with synthetic node streams: lockstep, tags, the node column, shape
 * checks, failures in WARN and FAIL mode, multi-statement and extended-protocol batches,
 * backpressure, and the out-of-band messages. Ordered and aggregate merges: test_merge_order.c */
#include "../harness.h"
#include "merge_support.h"

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct {
    pgr_merge_t *m;
    pgr_writer_t out;
} fx_t;

static void
fx_init(fx_t *fx, int n, const pgr_merge_plan_t *plan, pgr_merge_policy_t policy, bool nodecol)
{
    pgr_writer_init_grow(&fx->out);
    fx->m = NULL;
    CHECK_INT(pgr_merge_new(plan, n, ms_nodes, policy, nodecol, &fx->m), 0);
}

static void
fx_free(fx_t *fx)
{
    pgr_merge_free(fx->m);
    pgr_writer_free(&fx->out);
}

/* Drives streams through a fresh engine and returns the rendered output (done checked). */
static const char *
run(int n, pgr_merge_policy_t policy, bool nodecol, const char *const *const *streams)
{
    fx_t fx;
    fx_init(&fx, n, NULL, policy, nodecol);
    CHECK_INT(ms_drive(fx.m, n, streams, &fx.out), 0);
    CHECK(pgr_merge_done(fx.m));
    const char *r = ms_render(&fx.out);
    fx_free(&fx);
    return r;
}

TEST(concat_interleaved)
{
    fx_t fx;
    fx_init(&fx, 3, NULL, PGR_MERGE_WARN, false);
    const char *const *seq = S("1:T id:23|name:25", "0:T id:23|name:25", "2:T id:23|name:25",
                               "2:D 4|d", "0:D 1|a", "1:D 2|b", "0:D 3|c", "1:C SELECT 1",
                               "0:C SELECT 2", "2:D 5|e", "2:C SELECT 2", "2:Z I", "0:Z I",
                               "1:Z I");
    CHECK_INT(ms_feed_all(fx.m, seq, &fx.out), -1);
    CHECK(pgr_merge_done(fx.m));
    CHECK_STR(ms_render(&fx.out), "T id:23|name:25\nD 4|d\nD 1|a\nD 2|b\nD 3|c\nD 5|e\n"
                                  "C SELECT 5\nZ I");
    bool ok;
    uint64_t rows;
    const char *st, *msg;
    pgr_merge_node_result(fx.m, 2, &ok, &rows, &st, &msg);
    CHECK(ok);
    CHECK_INT(rows, 2);
    CHECK(st == NULL && msg == NULL);
    uint8_t status;
    CHECK(pgr_merge_node_synced(fx.m, 0, &status));
    CHECK_INT(status, 'I');
    fx_free(&fx);
}

TEST(lockstep_busy)
{
    fx_t fx;
    fx_init(&fx, 2, NULL, PGR_MERGE_WARN, false);
    CHECK_INT(ms_feed(fx.m, 0, "T a:23", &fx.out), 0);
    CHECK(!pgr_merge_wants(fx.m, 0)); /* ahead: pg2 has not described yet */
    CHECK(pgr_merge_wants(fx.m, 1));
    CHECK_INT(ms_feed(fx.m, 0, "D 1", &fx.out), PGR_EBUSY);
    CHECK_INT(ms_feed(fx.m, 1, "T a:23", &fx.out), 0);
    CHECK(pgr_merge_wants(fx.m, 0));
    CHECK_INT(ms_feed(fx.m, 0, "D 1", &fx.out), 0);
    CHECK_INT(ms_feed(fx.m, 0, "C SELECT 1", &fx.out), 0);
    CHECK(!pgr_merge_wants(fx.m, 0));
    CHECK_INT(ms_feed(fx.m, 0, "Z I", &fx.out), PGR_EBUSY);
    CHECK_INT(ms_feed(fx.m, 1, "C SELECT 0", &fx.out), 0);
    CHECK_INT(ms_feed(fx.m, 0, "Z I", &fx.out), 0);
    CHECK(!pgr_merge_wants(fx.m, 0));
    CHECK_INT(ms_feed(fx.m, 0, "N late", &fx.out), PGR_EINVAL); /* finished */
    CHECK(!pgr_merge_done(fx.m));
    CHECK_INT(ms_feed(fx.m, 1, "Z I", &fx.out), 0);
    CHECK(pgr_merge_done(fx.m));
    CHECK_STR(ms_render(&fx.out), "T a:23\nD 1\nC SELECT 1\nZ I");
    fx_free(&fx);
}

TEST(tag_sums)
{
    static const char *const tags[][4] = {
        {"UPDATE 3", "UPDATE 4", "UPDATE 5", "C UPDATE 12"},
        {"INSERT 0 1", "INSERT 0 2", "INSERT 0 2", "C INSERT 0 5"},
        {"DELETE 0", "DELETE 7", "DELETE 1", "C DELETE 8"},
        {"MERGE 1", "MERGE 1", "MERGE 1", "C MERGE 3"},
        {"COPY 10", "COPY 20", "COPY 30", "C COPY 60"},
        {"FETCH 2", "FETCH 0", "FETCH 1", "C FETCH 3"},
        {"MOVE 5", "MOVE 5", "MOVE 5", "C MOVE 15"},
        {"SELECT 5", "SELECT 6", "SELECT 7", "C SELECT 18"}, /* CREATE TABLE AS: no rows */
        {"CREATE TABLE", "CREATE TABLE", "CREATE TABLE", "C CREATE TABLE"},
    };
    /* All of them as one multi-statement batch. */
    char specs[3][12][32];
    const char *streams[3][13];
    char want[1024] = "";
    size_t nt = sizeof(tags) / sizeof(tags[0]);
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < nt; k++) {
            snprintf(specs[i][k], sizeof(specs[i][k]), "C %s", tags[k][i]);
            streams[i][k] = specs[i][k];
        }
        streams[i][nt] = "Z I";
        streams[i][nt + 1] = NULL;
    }
    for (size_t k = 0; k < nt; k++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s\n", tags[k][3]);
    strcat(want, "Z I");
    const char *const *const ss[] = {streams[0], streams[1], streams[2]};
    CHECK_STR(run(3, PGR_MERGE_WARN, false, ss), want);
}

TEST(tag_kind_differs)
{
    const char *const *const ss[] = {S("C UPDATE 3", "Z I"), S("C DELETE 1", "Z I"),
                                     S("C UPDATE 5", "Z I")};
    CHECK_STR(run(3, PGR_MERGE_WARN, false, ss),
              "N WARNING 01000 node pg2 (127.0.0.1:5433) failed: 42804 completed with "
              "\"DELETE 1\" where others completed with \"UPDATE 3\"\nC UPDATE 8\nZ I");
}

TEST(node_column)
{
    const char *const *const ss[] = {S("T id:23|v:25", "D 1|a", "D 3|c", "C SELECT 2", "Z I"),
                                     S("T id:23|v:25", "D 2|\\N", "C SELECT 1", "Z I")};
    CHECK_STR(run(2, PGR_MERGE_WARN, true, ss),
              "T node:25|id:23|v:25\nD pg1|1|a\nD pg2|2|\\N\nD pg1|3|c\nC SELECT 3\nZ I");
    /* Binary columns: the node column takes the first column's format. */
    const char *const *const sb[] = {S("T id:23:1", "C SELECT 0", "Z I"),
                                     S("T id:23:1", "C SELECT 0", "Z I")};
    CHECK_STR(run(2, PGR_MERGE_WARN, true, sb), "T node:25:1|id:23:1\nC SELECT 0\nZ I");
}

static const char *
mismatch(const char *t2)
{
    const char *const *const ss[] = {
        S("T id:23|name:25", "D 1|a", "C SELECT 1", "Z I"),
        S(t2, "D 9", "C SELECT 1", "Z I"),
        S("T id:23|name:25", "D 2|b", "C SELECT 1", "Z I"),
    };
    return run(3, PGR_MERGE_WARN, false, ss);
}

TEST(rowdesc_mismatch)
{
    const char *pre = "T id:23|name:25\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: "
                      "42804 result differs from node pg1's: ";
    const char *post = "\nD 1|a\nD 2|b\nC SELECT 2\nZ I";
    char want[512];
    snprintf(want, sizeof(want), "%scolumn count 2 vs 1%s", pre, post);
    CHECK_STR(mismatch("T id:23"), want);
    snprintf(want, sizeof(want), "%scolumn 2: name \"name\" vs \"nm\"%s", pre, post);
    CHECK_STR(mismatch("T id:23|nm:25"), want);
    snprintf(want, sizeof(want), "%scolumn 1 (\"id\"): type OID 23 vs 20%s", pre, post);
    CHECK_STR(mismatch("T id:20|name:25"), want);
    snprintf(want, sizeof(want), "%scolumn 2 (\"name\"): format 0 vs 1%s", pre, post);
    CHECK_STR(mismatch("T id:23|name:25:1"), want);
}

TEST(unit_differs)
{
    /* pg2 answers with a result set where pg1 described one. */
    const char *const *const ss[] = {S("T a:23", "C SELECT 0", "Z I"), S("C SELECT 0", "Z I")};
    CHECK_STR(run(2, PGR_MERGE_WARN, false, ss),
              "T a:23\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: 42804 replied a result "
              "set where node pg1 replied RowDescription\nC SELECT 0\nZ I");
}

TEST(error_warn)
{
    const char *const *const ss[] = {
        S("T id:23", "D 1", "D 2", "C SELECT 2", "Z I"),
        S("T id:23", "D 5", "E 23505 duplicate key value violates unique constraint "
                            "\"t_pkey\"|Key (id)=(1) already exists.",
          "Z I"),
        S("T id:23", "D 3", "C SELECT 1", "Z I"),
    };
    fx_t fx;
    fx_init(&fx, 3, NULL, PGR_MERGE_WARN, false);
    CHECK_INT(ms_drive(fx.m, 3, ss, &fx.out), 0);
    CHECK(pgr_merge_done(fx.m));
    /* pg2's row came before its error: the client has it, and the SELECT tag counts what the
     * client received. */
    CHECK_STR(ms_render(&fx.out),
              "T id:23\nD 1\nD 5\nD 3\nD 2\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: "
              "23505 duplicate key value violates unique constraint \"t_pkey\"|Key (id)=(1) "
              "already exists.\nC SELECT 4\nZ I");
    bool ok;
    uint64_t rows;
    const char *st, *msg;
    pgr_merge_node_result(fx.m, 1, &ok, &rows, &st, &msg);
    CHECK(!ok);
    CHECK_INT(rows, 1);
    CHECK_STR(st, "23505");
    CHECK_STR(msg, "duplicate key value violates unique constraint \"t_pkey\"");
    CHECK(pgr_merge_node_synced(fx.m, 1, NULL)); /* it answered ReadyForQuery: reusable */
    fx_free(&fx);
}

TEST(error_fail)
{
    const char *const *const ss[] = {
        S("C UPDATE 1", "Z I"),
        S("E 23505 duplicate key value violates unique constraint \"t_pkey\"", "Z I"),
        S("C UPDATE 2", "Z I"),
    };
    CHECK_STR(run(3, PGR_MERGE_FAIL, false, ss),
              "E 23505 node pg2 (127.0.0.1:5433) failed: 23505 duplicate key value violates "
              "unique constraint \"t_pkey\"|applied on: pg1, pg3; failed on: pg2 (23505 "
              "duplicate key value violates unique constraint \"t_pkey\")\nZ I");
    /* Rows streamed before the failure stay; nothing after it reaches the client. */
    const char *const *const s2[] = {
        S("T id:23", "D 1", "D 2", "C SELECT 2", "Z T"),
        S("T id:23", "E 57014 canceling statement due to user request", "Z E"),
    };
    CHECK_STR(run(2, PGR_MERGE_FAIL, false, s2),
              "T id:23\nD 1\nE 57014 node pg2 (127.0.0.1:5433) failed: 57014 canceling "
              "statement due to user request|applied on: pg1; failed on: pg2 (57014 canceling "
              "statement due to user request)\nZ E");
}

TEST(all_same_error_once)
{
    const char *const *const ss[] = {
        S("E 42P01 relation \"nope\" does not exist|some detail", "Z I"),
        S("E 42P01 relation \"nope\" does not exist|some detail", "Z I"),
        S("E 42P01 relation \"nope\" does not exist|some detail", "Z I"),
    };
    CHECK_STR(run(3, PGR_MERGE_WARN, false, ss),
              "E 42P01 relation \"nope\" does not exist|some detail\nZ I");
    CHECK_STR(run(3, PGR_MERGE_FAIL, false, ss),
              "E 42P01 relation \"nope\" does not exist|some detail\nZ I");
}

TEST(all_failed_differently)
{
    const char *const *const ss[] = {
        S("E 42P01 relation \"a\" does not exist", "Z I"),
        S("E 42P01 relation \"b\" does not exist", "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, ss),
              "E 42P01 node pg1 (127.0.0.1:5432) failed: 42P01 relation \"a\" does not "
              "exist|applied on: none; failed on: pg1 (42P01 relation \"a\" does not exist), "
              "pg2 (42P01 relation \"b\" does not exist)\nZ I");
}

TEST(multi_statement)
{
    const char *const *const ss[] = {
        S("T a:23", "D 1", "C SELECT 1", "C UPDATE 2", "T x:25", "D p", "C SELECT 1", "Z I"),
        S("T a:23", "D 1", "C SELECT 1", "C UPDATE 3", "T x:25", "D q", "C SELECT 1", "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, ss),
              "T a:23\nD 1\nD 1\nC SELECT 2\nC UPDATE 5\nT x:25\nD p\nD q\nC SELECT 2\nZ I");
    /* The second statement fails on pg1: in simple protocol the rest is skipped there. */
    const char *const *const s2[] = {
        S("C UPDATE 2", "E 22012 division by zero", "Z I"),
        S("C UPDATE 3", "C SELECT 0", "C UPDATE 1", "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, s2),
              "C UPDATE 5\nN WARNING 01000 node pg1 (127.0.0.1:5432) failed: 22012 division by "
              "zero\nC SELECT 0\nC UPDATE 1\nZ I");
}

TEST(extended_protocol)
{
    const char *const *const ss[] = {
        S("1", "t 23", "T a:23", "2", "D 5", "C SELECT 1", "3", "Z I"),
        S("1", "t 23", "T a:23", "2", "D 6", "C SELECT 1", "3", "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, ss),
              "1\nt\nT a:23\n2\nD 5\nD 6\nC SELECT 2\n3\nZ I");
    /* Parse fails on pg2 (its reply ends at Sync's ReadyForQuery). */
    const char *const *const s2[] = {
        S("1", "2", "T a:23", "D 5", "C SELECT 1", "Z I"),
        S("E 42601 syntax error at or near \"SELEC\"", "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, s2),
              "1\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: 42601 syntax error at or "
              "near \"SELEC\"\n2\nT a:23\nD 5\nC SELECT 1\nZ I");
    /* NoData, EmptyQueryResponse, PortalSuspended, and ParameterDescriptions that differ. */
    const char *const *const s3[] = {
        S("1", "t 23", "n", "2", "I", "Z I"),
        S("1", "t 20", "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, s3),
              "1\nt\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: 42804 parameter types "
              "differ from node pg1's\nn\n2\nI\nZ I");
    const char *const *const s4[] = {
        S("2", "D 1", "s", "Z T"),
        S("2", "D 2", "C SELECT 1", "Z T"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, s4), "2\nD 1\nD 2\ns\nZ T");
}

TEST(ready_status)
{
    const char *const *const ss[] = {S("C BEGIN", "Z T"), S("C BEGIN", "Z T"),
                                     S("C BEGIN", "Z T")};
    CHECK_STR(run(3, PGR_MERGE_WARN, false, ss), "C BEGIN\nZ T");
    const char *const *const s2[] = {S("C UPDATE 1", "Z T"), S("E 40001 could not serialize",
                                                              "Z E")};
    CHECK_STR(run(2, PGR_MERGE_WARN, false, s2),
              "N WARNING 01000 node pg2 (127.0.0.1:5433) failed: 40001 could not serialize\n"
              "C UPDATE 1\nZ E");
}

TEST(out_of_band)
{
    const char *const *const ss[] = {
        S("S DateStyle=ISO, MDY", "N table \"t\" does not exist, skipping", "C DROP TABLE",
          "Z I"),
        S("N table \"t\" does not exist, skipping", "S DateStyle=ISO, MDY", "C DROP TABLE",
          "Z I"),
    };
    CHECK_STR(run(2, PGR_MERGE_WARN, false, ss),
              "S DateStyle=ISO, MDY\nN NOTICE 00000 pg2: table \"t\" does not exist, skipping\n"
              "N NOTICE 00000 pg1: table \"t\" does not exist, skipping\nC DROP TABLE\nZ I");
}

TEST(node_lost)
{
    fx_t fx;
    fx_init(&fx, 3, NULL, PGR_MERGE_WARN, false);
    CHECK_INT(ms_feed_all(fx.m, S("0:T a:23", "1:T a:23", "2:T a:23", "0:D 1", "1:D 2"),
                          &fx.out),
              -1);
    CHECK_INT(pgr_merge_fail(fx.m, 1, "57014", "node pg2 timed out after 30 s", &fx.out), 0);
    CHECK(!pgr_merge_wants(fx.m, 1));
    CHECK_INT(ms_feed(fx.m, 1, "D 3", &fx.out), PGR_EINVAL);
    CHECK_INT(ms_feed_all(fx.m, S("2:D 4", "0:C SELECT 1", "2:C SELECT 1", "0:Z I", "2:Z I"),
                          &fx.out),
              -1);
    CHECK(pgr_merge_done(fx.m));
    CHECK(!pgr_merge_node_synced(fx.m, 1, NULL));
    CHECK_STR(ms_render(&fx.out),
              "T a:23\nD 1\nD 2\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: 57014 node "
              "pg2 timed out after 30 s\nD 4\nC SELECT 3\nZ I");
    /* Failing a node that already finished changes nothing. */
    CHECK_INT(pgr_merge_fail(fx.m, 0, NULL, NULL, &fx.out), 0);
    bool ok;
    pgr_merge_node_result(fx.m, 0, &ok, NULL, NULL, NULL);
    CHECK(ok);
    fx_free(&fx);
}

TEST(every_node_lost)
{
    fx_t fx;
    fx_init(&fx, 2, NULL, PGR_MERGE_WARN, false);
    CHECK_INT(pgr_merge_fail(fx.m, 0, "08006", "connection to node lost", &fx.out), 0);
    CHECK(!pgr_merge_done(fx.m));
    CHECK_INT(pgr_merge_fail(fx.m, 1, "08006", "connection to node lost", &fx.out), 0);
    CHECK(pgr_merge_done(fx.m));
    CHECK_STR(ms_render(&fx.out), "E 08006 connection to node lost\nZ I");
    fx_free(&fx);
}

TEST(protocol_violations)
{
    fx_t fx;
    fx_init(&fx, 3, NULL, PGR_MERGE_WARN, false);
    CHECK_INT(ms_feed(fx.m, 0, "H", &fx.out), 0); /* CopyOutResponse (empty body: invalid) */
    CHECK_INT(ms_feed(fx.m, 1, "K", &fx.out), 0); /* BackendKeyData mid-query */
    /* A DataRow whose body lies about its length. */
    static const uint8_t bad[] = {0, 1, 0, 0, 0, 9, 'x'};
    CHECK_INT(pgr_merge_feed(fx.m, 2, 'D', bad, sizeof(bad), &fx.out), 0);
    CHECK(pgr_merge_done(fx.m));
    const char *st;
    for (int i = 0; i < 3; i++) {
        CHECK(!pgr_merge_wants(fx.m, i));
        CHECK(!pgr_merge_node_synced(fx.m, i, NULL));
        pgr_merge_node_result(fx.m, i, NULL, NULL, &st, NULL);
        CHECK_STR(st, i == 0 ? "0A000" : "08P01");
    }
    const char *r = ms_render(&fx.out);
    CHECK_STR(r, "E 0A000 node pg1 (127.0.0.1:5432) failed: 0A000 COPY is not supported in "
                 "a broadcast|applied on: none; failed on: pg1 (0A000 COPY is not supported in "
                 "a broadcast), pg2 (08P01 sent BackendKeyData during a query), pg3 (08P01 sent "
                 "an invalid DataRow: message truncated)\nZ I");
    fx_free(&fx);
    /* FATAL: the node will close; it is finished without a ReadyForQuery. */
    const char *const *const ss[] = {S("C SELECT 0", "Z I"),
                                     S("F 57P01 terminating connection due to administrator "
                                       "command")};
    CHECK_STR(run(2, PGR_MERGE_WARN, false, ss),
              "N WARNING 01000 node pg2 (127.0.0.1:5433) failed: 57P01 terminating connection "
              "due to administrator command\nC SELECT 0\nZ I");
}

TEST(bad_arguments)
{
    pgr_merge_t *m = (pgr_merge_t *)1;
    pgr_merge_plan_t p = {.n_keys = 9, .limit = -1, .offset = -1};
    CHECK_INT(pgr_merge_new(NULL, 0, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    CHECK(m == NULL);
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    p.n_keys = 1;
    p.keys[0].column = -1;
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    pgr_merge_node_t nn[] = {{NULL, NULL}};
    CHECK_INT(pgr_merge_new(NULL, 1, nn, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
}

int
main(void)
{
    return RUN(concat_interleaved, lockstep_busy, tag_sums, tag_kind_differs, node_column,
               rowdesc_mismatch, unit_differs, error_warn, error_fail, all_same_error_once,
               all_failed_differently, multi_statement, extended_protocol, ready_status,
               out_of_band, node_lost, every_node_lost, protocol_violations, bad_arguments);
}

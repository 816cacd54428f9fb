/* Capability 3: query_all / query_healthy run at once on every node, with per-node timeouts,
 * and deliver every node's result, failures included. */
#include "common.h"

static qall_t
run_all(bool healthy, const char *sql, int64_t timeout_ms, double *elapsed)
{
    qall_t q;
    memset(&q, 0, sizeof(q));
    double t0 = fx_now();
    int rc = healthy ? pgr_cluster_query_healthy(C, sql, 0, NULL, timeout_ms, qall_cb, &q)
                     : pgr_cluster_query_all(C, sql, 0, NULL, timeout_ms, qall_cb, &q);
    CHECK_INT(rc, 0);
    CHECK(!q.done);
    CHECK(fx_run_until(&LOOP, &q.done, 15.0));
    if (elapsed)
        *elapsed = q.at - t0;
    return q;
}

TEST(warm_up)
{
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)3, 5.0));
    qall_t q = run_all(false, "SELECT 1", 5000, NULL);
    CHECK_INT(q.n, 3);
    for (size_t i = 0; i < q.n; i++)
        CHECK_INT(q.r[i].status, 0);
}

TEST(parallel_not_serial)
{
    qres_t one = { 0 };
    double t0 = fx_now();
    CHECK_INT(pgr_cluster_query(C, "pg1", "SELECT pg_sleep(0.3)", 0, NULL, 5000, q_cb, &one), 0);
    CHECK(fx_run_until(&LOOP, &one.done, 5.0));
    double single = one.at - t0, all;
    qall_t q = run_all(false, "SELECT pg_sleep(0.3)", 5000, &all);
    printf("# single %.3f s, all three %.3f s\n", single, all);
    CHECK_INT(q.n, 3);
    CHECK_STR(q.ids[0], "pg1");
    CHECK_STR(q.ids[1], "pg2");
    CHECK_STR(q.ids[2], "pg3");
    for (size_t i = 0; i < q.n; i++)
        CHECK_INT(q.r[i].status, 0);
    CHECK(single >= 0.3);
    CHECK(all < 1.5 * single);
}

TEST(node_errors_are_results)
{
    qall_t q = run_all(false, "SELECT 1/0", 5000, NULL);
    CHECK_INT(q.n, 3);
    for (size_t i = 0; i < q.n; i++) {
        CHECK_INT(q.r[i].status, PGR_EQUERY);
        CHECK_STR(q.r[i].sqlstate, "22012");
        CHECK(strstr(q.r[i].msg, "division by zero") != NULL);
    }
    /* the connections stay usable after a node's own error */
    q = run_all(false, "SELECT 2", 5000, NULL);
    for (size_t i = 0; i < q.n; i++)
        CHECK_STR(q.r[i].v0, "2");
}

TEST(per_node_timeout_cancels_the_statement)
{
    double dt;
    qall_t q = run_all(false, "SELECT pg_sleep(5) /* t1 */", 300, &dt);
    t_diag("timed out after %.3f s: %s", dt, q.r[0].msg);
    /* the 300 ms limit (libuv's loop clock counts whole milliseconds, so it may fire a
     * millisecond or two early by fx_now()), not the 5 s sleep */
    CHECK(dt >= 0.295 && dt < 2.0);
    for (size_t i = 0; i < q.n; i++) {
        CHECK_INT(q.r[i].status, PGR_ETIMEDOUT);
        CHECK_STR(q.r[i].sqlstate, "57014");
        CHECK(strstr(q.r[i].msg, q.ids[i]) != NULL);
        CHECK(strstr(q.r[i].msg, "300 ms") != NULL);
    }
    /* the cancel reached every node: nothing is still sleeping */
    for (int i = 0; i < 3; i++) {
        char out[16] = "";
        double end = fx_now() + 2;
        do {
            fx_psql(&FX, i, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                            "'SELECT pg_sleep(5) /* t1 */%' AND state = 'active'",
                    out, sizeof(out));
        } while (strcmp(out, "0") != 0 && fx_now() < end);
        CHECK_STR(out, "0");
    }
}

TEST(one_node_down)
{
    CHECK_INT(fx_node(&FX, "kill", "pg3"), 0);
    qall_t q = run_all(false, "SELECT current_setting('port')", 3000, NULL);
    CHECK_INT(q.n, 3);
    CHECK_INT(q.r[0].status, 0);
    CHECK_INT(q.r[1].status, 0);
    CHECK_INT(atoi(q.r[1].v0), FX.nodes[1].port);
    CHECK_STR(q.ids[2], "pg3");
    CHECK(q.r[2].status != 0);
    CHECK_STR(q.r[2].sqlstate, "08006");
    CHECK(strstr(q.r[2].msg, "pg3") != NULL);
    t_diag("pg3: %s", q.r[2].msg);
    CHECK(wait_state("pg3", PGR_NODE_UNHEALTHY, 3.0));
    q = run_all(true, "SELECT 1", 3000, NULL);
    CHECK_INT(q.n, 2);
    CHECK_STR(q.ids[0], "pg1");
    CHECK_STR(q.ids[1], "pg2");
}

TEST(shutdown_clean)
{
    check_shutdown_clean(2);
}

int
main(void)
{
    start((fx_setup_t){ .nodes = 3, .configured = 3 });
    return finish(RUN(warm_up, parallel_not_serial, node_errors_are_results,
                      per_node_timeout_cancels_the_statement, one_node_down, shutdown_clean));
}

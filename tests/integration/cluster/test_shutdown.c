/* Capability 5: graceful shutdown: new work refused, in-flight work finishes within the drain
 * timeout, the rest is forced, nothing is left on the nodes or in the loop. */
#include "common.h"

static int relay_status;

static void
shut_cb(pgr_cluster_t *c, int status, void *arg)
{
    (void)c;
    *(bool *)arg = status == 0;
}

static void
relay_io(pgr_server_t *srv, int status, int events, void *arg)
{
    (void)events;
    (void)arg;
    if (status < 0) {
        relay_status = status;
        pgr_cluster_release(srv, PGR_RELEASE_CLOSE);
    }
}

TEST(shutdown_drains_and_closes)
{
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)2, 5.0));
    qres_t short_q = { 0 }, long_q = { 0 }, late = { 0 };
    acq_t a = { 0 };
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", NULL, acq_cb, &a, NULL), 0);
    CHECK(fx_run_until(&LOOP, &a.done, 5.0));
    CHECK_INT(a.status, 0);
    CHECK_INT(pgr_server_watch(a.srv, true, false, relay_io, NULL), 0);
    CHECK_INT(pgr_cluster_query(C, "pg1", "SELECT pg_sleep(0.4)", 0, NULL, -1, q_cb, &short_q), 0);
    CHECK_INT(pgr_cluster_query(C, "pg2", "SELECT pg_sleep(10) /* long */", 0, NULL, -1, q_cb,
                                &long_q), 0);
    /* Wait (generously: sanitizer builds on a loaded machine are slow) until both queries run. */
    for (int i = 0; i < 100 && fx_count_conns(&FX, 0, "pgrouter") < 3; i++)
        fx_run_for(&LOOP, 0.05);
    CHECK_INT(fx_count_conns(&FX, 0, "pgrouter"), 3); /* health, relay, query */

    bool done = false;
    double t0 = fx_now();
    CHECK_INT(pgr_cluster_shutdown(C, 1000, shut_cb, &done), 0);
    CHECK(!done);
    CHECK(!pgr_cluster_is_running(C));
    CHECK_INT(pgr_cluster_shutdown(C, 1000, NULL, NULL), PGR_ESHUTDOWN);
    CHECK_INT(pgr_cluster_query(C, "pg1", "SELECT 1", 0, NULL, 1000, q_cb, &late), PGR_ESHUTDOWN);
    CHECK_INT(pgr_cluster_query_all(C, "SELECT 1", 0, NULL, 1000, qall_cb, &late), PGR_ESHUTDOWN);
    acq_t b = { 0 };
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", NULL, acq_cb, &b, NULL), PGR_ESHUTDOWN);
    pgr_node_config_t nc;
    char err[128];
    fx_node_config(&FX, 0, &nc);
    nc.id = "late";
    CHECK_INT(pgr_cluster_add_node(C, &nc, err, sizeof(err)), PGR_ESHUTDOWN);

    CHECK(fx_run_until(&LOOP, &done, 10.0));
    double dt = fx_now() - t0;
    CHECK_INT(pgr_cluster_all_nodes(C, NULL, 0), 0);
    t_diag("shutdown took %.3f s; long query: %s", dt, long_q.msg);
    CHECK(dt < 3.0);
    CHECK(short_q.done);
    CHECK_INT(short_q.status, 0);               /* finished inside the drain */
    CHECK(long_q.done);
    CHECK_INT(long_q.status, PGR_ESHUTDOWN);    /* forced at the deadline */
    CHECK_STR(long_q.sqlstate, "57P01");
    CHECK(long_q.at - t0 >= 0.9);
    CHECK_INT(relay_status, PGR_ESHUTDOWN);     /* the borrower was told */
    CHECK(!late.done && !b.done);
}

TEST(nothing_left)
{
    pgr_cluster_free(C);
    uv_run(&LOOP, UV_RUN_NOWAIT);
    CHECK_INT(uv_loop_close(&LOOP), 0);
    for (int i = 0; i < 2; i++)
        CHECK_INT(fx_wait_conns(&FX, i, "pgrouter", 0, 3.0), 0);
    char out[16] = "";
    fx_psql(&FX, 1, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                    "'SELECT pg_sleep(10) /* long */%'", out, sizeof(out));
    CHECK_STR(out, "0"); /* canceled, not left running */
}

int
main(void)
{
    start((fx_setup_t){ .nodes = 2, .configured = 2 });
    return finish(RUN(shutdown_drains_and_closes, nothing_left));
}

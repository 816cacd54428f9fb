/* Capability 4: nodes added and removed at runtime, with validation and drain. */
#include "common.h"

static bool removed_cb_ran;
static double removed_at;

static void
removed(pgr_cluster_t *c, int status, void *arg)
{
    (void)c;
    (void)arg;
    removed_cb_ran = status == 0;
    removed_at = fx_now();
}

TEST(start_with_two)
{
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)2, 5.0));
    CHECK(!pgr_cluster_has_node(C, "pg3"));
    CHECK(pgr_cluster_is_running(C));
}

TEST(add_validates)
{
    pgr_node_config_t nc;
    char err[256] = "";
    fx_node_config(&FX, 0, &nc); /* id pg1 again */
    CHECK_INT(pgr_cluster_add_node(C, &nc, err, sizeof(err)), PGR_EEXIST);
    CHECK(strstr(err, "\"pg1\" already exists") != NULL);
    CHECK_INT(pgr_cluster_add_node_conninfo(C, "pgx", "host=127.0.0.1 port=abc", err, sizeof(err)),
              PGR_EINVAL);
    CHECK(strstr(err, "port") != NULL);
    CHECK_INT(pgr_cluster_add_node_conninfo(C, "pgx", "host=127.0.0.1 =bad", err, sizeof(err)),
              PGR_EINVAL);
    CHECK(strstr(err, "invalid conninfo") != NULL);
    t_diag("%s", err);
    CHECK_INT(pgr_cluster_add_node_conninfo(C, "pgx", "host=127.0.0.1 port=5 options=-cx=1", err,
                                            sizeof(err)), PGR_EINVAL);
    CHECK(strstr(err, "options") != NULL);
    CHECK_INT(pgr_cluster_add_node_conninfo(C, "pgx", "dbname=app", err, sizeof(err)), PGR_EINVAL);
    CHECK(!pgr_cluster_has_node(C, "pgx"));
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_ADDED, NULL, -1), 0); /* rejected: no event */
}

TEST(add_joins_health_and_queries)
{
    char conninfo[128], err[256] = "";
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d", FX.nodes[2].port);
    double t0 = fx_now();
    CHECK_INT(pgr_cluster_add_node_conninfo(C, "pg3", conninfo, err, sizeof(err)), 0);
    CHECK(pgr_cluster_has_node(C, "pg3"));
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_ADDED, "pg3", -1), 1);
    CHECK(wait_state("pg3", PGR_NODE_HEALTHY, 3.0));
    printf("# pg3 healthy %.3f s after add\n", fx_now() - t0);
    CHECK(fx_now() - t0 < 1.0);
    qall_t q = { 0 };
    CHECK_INT(pgr_cluster_query_all(C, "SELECT current_setting('port')", 0, NULL, 5000, qall_cb, &q), 0);
    CHECK(fx_run_until(&LOOP, &q.done, 5.0));
    CHECK_INT(q.n, 3);
    CHECK_STR(q.ids[2], "pg3");
    CHECK_INT(q.r[2].status, 0);
    CHECK_INT(atoi(q.r[2].v0), FX.nodes[2].port);
}

TEST(remove_drains_then_closes)
{
    qres_t q = { 0 };
    CHECK_INT(pgr_cluster_query(C, "pg3", "SELECT pg_sleep(0.5)", 0, NULL, 5000, q_cb, &q), 0);
    fx_run_for(&LOOP, 0.1); /* the statement is running */
    CHECK_INT(pgr_cluster_remove_node(C, "pg3", 5000, removed, NULL), 0);
    CHECK(!pgr_cluster_has_node(C, "pg3"));
    CHECK_INT(pgr_cluster_remove_node(C, "pg3", 5000, removed, NULL), PGR_ENOENT);
    qres_t q2 = { 0 };
    CHECK_INT(pgr_cluster_query(C, "pg3", "SELECT 1", 0, NULL, 5000, q_cb, &q2), PGR_ENOENT);
    CHECK(fx_run_until(&LOOP, &removed_cb_ran, 5.0));
    CHECK(q.done);
    CHECK_INT(q.status, 0); /* the in-flight statement finished */
    CHECK(q.at <= removed_at);
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_REMOVED, "pg3", -1), 1);
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg3", PGR_NODE_REMOVED), 1);
    qall_t a = { 0 };
    CHECK_INT(pgr_cluster_query_all(C, "SELECT 1", 0, NULL, 5000, qall_cb, &a), 0);
    CHECK(fx_run_until(&LOOP, &a.done, 5.0));
    CHECK_INT(a.n, 2);
    CHECK_STR(a.ids[0], "pg1");
    CHECK_STR(a.ids[1], "pg2");
    CHECK_INT(fx_wait_conns(&FX, 2, "pgrouter", 0, 3.0), 0);
    CHECK(fx_count_conns(&FX, 0, "pgrouter") >= 1); /* the others keep theirs */
}

TEST(remove_with_short_drain_forces)
{
    pgr_node_config_t nc;
    char err[256];
    fx_node_config(&FX, 2, &nc);
    nc.id = "pg3b";
    CHECK_INT(pgr_cluster_add_node(C, &nc, err, sizeof(err)), 0);
    CHECK(wait_state("pg3b", PGR_NODE_HEALTHY, 3.0));
    qres_t q = { 0 };
    CHECK_INT(pgr_cluster_query(C, "pg3b", "SELECT pg_sleep(10)", 0, NULL, -1, q_cb, &q), 0);
    fx_run_for(&LOOP, 0.1);
    removed_cb_ran = false;
    double t0 = fx_now();
    CHECK_INT(pgr_cluster_remove_node(C, "pg3b", 200, removed, NULL), 0);
    CHECK(fx_run_until(&LOOP, &removed_cb_ran, 5.0));
    CHECK(fx_now() - t0 < 1.5);
    CHECK(q.done);
    CHECK_INT(q.status, PGR_EREMOVED);
    CHECK_INT(fx_wait_conns(&FX, 2, "pgrouter", 0, 3.0), 0);
}

TEST(shutdown_clean)
{
    check_shutdown_clean(3);
}

int
main(void)
{
    start((fx_setup_t){ .nodes = 3, .configured = 2 });
    return finish(RUN(start_with_two, add_validates, add_joins_health_and_queries,
                      remove_drains_then_closes, remove_with_short_drain_forces, shutdown_clean));
}

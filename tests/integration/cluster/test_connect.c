/* Capability 1: a cluster from config connects to every node in parallel; lookups; query on
 * one node; SSL settings reach libpq (a CA with no mode means verify-full). */
#include "common.h"

TEST(connects_to_all_nodes_in_parallel)
{
    double t0 = fx_now();
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)3, 5.0));
    printf("# all 3 healthy after %.3f s\n", fx_now() - t0);
    CHECK(fx_now() - t0 < 2.0);
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_CONNECTED, NULL, -1), 3);
}

TEST(lookups)
{
    pgr_node_info_t info, all[8];
    CHECK(pgr_cluster_has_node(C, "pg2"));
    CHECK(!pgr_cluster_has_node(C, "pg9"));
    CHECK_INT(pgr_cluster_get_node(C, "pg3", &info), 0);
    CHECK_STR(info.id, "pg3");
    CHECK_INT(info.port, FX.nodes[2].port);
    CHECK_INT(pgr_cluster_get_node(C, "nope", &info), PGR_ENOENT);
    CHECK_INT(pgr_cluster_all_nodes(C, all, 8), 3);
    CHECK_STR(all[0].id, "pg1");
    CHECK_STR(all[2].id, "pg3");
    CHECK_INT(pgr_cluster_all_nodes(C, all, 1), 3); /* count even past cap */
    const char *ids[8];
    CHECK_INT(pgr_cluster_healthy_nodes(C, ids, 8), 3);
    pgr_health_t h;
    CHECK_INT(pgr_cluster_get_health(C, "pg1", &h), 0);
    CHECK_INT(h.role, PGR_ROLE_PRIMARY);
    CHECK(h.lsn > 0);
    CHECK(h.latency_us > 0);
    CHECK(h.last_check_ms > 0);
}

TEST(query_each_node)
{
    for (int i = 0; i < 3; i++) {
        qres_t q = { 0 };
        const char *params[] = { "hello" };
        char want[64];
        CHECK_INT(pgr_cluster_query(C, FX.nodes[i].id,
                                    "SELECT current_setting('port') || ':' || $1::text", 1,
                                    params, 5000, q_cb, &q), 0);
        CHECK(!q.done); /* never before returning */
        CHECK(fx_run_until(&LOOP, &q.done, 5.0));
        snprintf(want, sizeof(want), "%d:hello", FX.nodes[i].port);
        CHECK_INT(q.status, 0);
        CHECK_STR(q.v0, want);
    }
    qres_t q = { 0 };
    CHECK_INT(pgr_cluster_query(C, "pg9", "SELECT 1", 0, NULL, 1000, q_cb, &q), PGR_ENOENT);
    CHECK_INT(pgr_cluster_query(C, "pg1", "SELECT * FROM no_such_table", 0, NULL, 5000, q_cb, &q), 0);
    CHECK(fx_run_until(&LOOP, &q.done, 5.0));
    CHECK_INT(q.status, PGR_EQUERY);
    CHECK_STR(q.sqlstate, "42P01");
    CHECK(strstr(q.msg, "no_such_table") != NULL);
}

TEST(application_name_on_every_connection)
{
    /* health connection + the pooled one used above */
    for (int i = 0; i < 3; i++)
        CHECK_INT(fx_count_conns(&FX, i, "pgrouter"), 2);
}

TEST(ssl_settings_map_to_libpq)
{
    pgr_node_config_t nc;
    char err[256];
    qres_t q1 = { 0 }, q2 = { 0 };
    /* The test nodes have no TLS: require fails, a CA alone means verify-full and fails too. */
    fx_node_config(&FX, 0, &nc);
    nc.id = "tls_require";
    nc.ssl.mode = "require";
    CHECK_INT(pgr_cluster_add_node(C, &nc, err, sizeof(err)), 0);
    fx_node_config(&FX, 0, &nc);
    nc.id = "tls_ca";
    nc.ssl.ca = "/nonexistent/root.crt";
    CHECK_INT(pgr_cluster_add_node(C, &nc, err, sizeof(err)), 0);
    CHECK_INT(pgr_cluster_query(C, "tls_require", "SELECT 1", 0, NULL, 3000, q_cb, &q1), 0);
    CHECK_INT(pgr_cluster_query(C, "tls_ca", "SELECT 1", 0, NULL, 3000, q_cb, &q2), 0);
    CHECK(fx_run_until(&LOOP, &q1.done, 5.0));
    CHECK(fx_run_until(&LOOP, &q2.done, 5.0));
    t_diag("require: %s\nca only: %s", q1.msg, q2.msg);
    /* Either the query's own connect fails, or the health check (which fails the same way)
     * marks the node unhealthy first and the waiting query is failed with that, the health
     * check's message in it: both name the cause. */
    CHECK(q1.status == PGR_ECONNECT || q1.status == PGR_EUNHEALTHY);
    CHECK(strstr(q1.msg, "SSL") != NULL);
    CHECK(q2.status == PGR_ECONNECT || q2.status == PGR_EUNHEALTHY);
    CHECK(strstr(q2.msg, "SSL") != NULL || strstr(q2.msg, "root.crt") != NULL);
    CHECK_STR(q1.sqlstate, "08006");
    /* a bad sslmode is refused up front */
    fx_node_config(&FX, 0, &nc);
    nc.id = "tls_bad";
    nc.ssl.mode = "sometimes";
    CHECK_INT(pgr_cluster_add_node(C, &nc, err, sizeof(err)), PGR_EINVAL);
    CHECK(strstr(err, "ssl mode") != NULL);
}

TEST(bad_config_starts_nothing)
{
    pgr_config_t *cfg = fx_config(&FX, 2);
    free(cfg->nodes[1].id);
    cfg->nodes[1].id = strdup("pg1");
    pgr_cluster_t *c2 = NULL;
    char err[256] = "";
    CHECK_INT(pgr_cluster_new(&LOOP, cfg, NULL, &c2, err, sizeof(err)), PGR_ECONFIG);
    CHECK(c2 == NULL);
    CHECK(strstr(err, "pg1") != NULL);
    pgr_config_free(cfg);
}

TEST(shutdown_clean)
{
    check_shutdown_clean(3);
}

int
main(void)
{
    start((fx_setup_t){ .nodes = 3, .configured = 3 });
    return finish(RUN(connects_to_all_nodes_in_parallel, lookups, query_each_node,
                      application_name_on_every_connection, ssl_settings_map_to_libpq,
                      bad_config_starts_nothing, shutdown_clean));
}

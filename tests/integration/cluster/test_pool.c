/* Capability 6 and the relay's API: pool limits (max_size, min_idle, idle_timeout,
 * acquire_timeout), counters and events; raw I/O on a lent connection, BackendKeyData and a
 * non-blocking cancel, ParameterStatus, session-mode reset, borrower data. */
#include "common.h"

static int data_freed;

static void
free_data(void *p)
{
    (void)p;
    data_freed++;
}

TEST(acquire_honours_max_size_and_timeout)
{
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)3, 5.0));
    acq_t a1 = { 0 }, a2 = { 0 }, a3 = { 0 }, a4 = { 0 };
    pgr_acquire_t *r4 = NULL;
    pgr_pool_stats_t st;
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", "app", acq_cb, &a1, NULL), 0);
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", "app", acq_cb, &a2, NULL), 0);
    CHECK(!a1.done); /* never before returning, even later with an idle connection */
    CHECK(fx_run_until(&LOOP, &a1.done, 5.0) && fx_run_until(&LOOP, &a2.done, 5.0));
    CHECK_INT(a1.status, 0);
    CHECK_INT(a2.status, 0);
    double t0 = fx_now();
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", "app", acq_cb, &a3, NULL), 0);
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", "app", acq_cb, &a4, &r4), 0);
    fx_run_for(&LOOP, 0.05);
    CHECK_INT(pgr_cluster_pool_stats(C, "pg1", &st), 0);
    CHECK_INT(st.active, 2);
    CHECK_INT(st.waiting, 2);
    CHECK_INT(st.max, 2);
    CHECK(st.total <= 2);
    pgr_cluster_acquire_cancel(r4); /* withdrawn: its callback never runs */
    CHECK(fx_run_until(&LOOP, &a3.done, 3.0));
    double dt = a3.at - t0;
    t_diag("waiter failed after %.3f s: %s", dt, a3.msg);
    CHECK_INT(a3.status, PGR_ETIMEDOUT);
    CHECK(dt >= 0.29 && dt < 2.0); /* the 300 ms limit (timer granularity: 1 ms), not a hang */
    CHECK(strstr(a3.msg, "pg1") != NULL);
    CHECK(strstr(a3.msg, "acquire_timeout 300 ms") != NULL);
    fx_run_for(&LOOP, 0.5);
    CHECK(!a4.done);
    pgr_cluster_pool_stats(C, "pg1", &st);
    CHECK_INT(st.timed_out, 1);
    CHECK(st.acquired >= 2);
    CHECK_INT(st.waiting, 0);
    CHECK_INT(state_of("pg1"), PGR_NODE_HEALTHY); /* a pool limit is not a sick node */
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_UNHEALTHY), 0);

    /* Raw I/O, the key, the parameters. */
    char v[64], state[6];
    uint32_t pid = 0, key = 0;
    CHECK_INT(pgr_server_backend_key(a1.srv, &pid, &key), 0);
    CHECK_INT(raw_query(a1.srv, "SELECT pg_backend_pid()", v, sizeof(v), state, 5.0), 'I');
    CHECK_INT(atoi(v), (int)pid);
    CHECK(key != 0);
    CHECK(pgr_server_parameter(a1.srv, "server_version") != NULL);
    CHECK(strncmp(pgr_server_parameter(a1.srv, "server_version"), "15", 2) == 0);
    CHECK_STR(pgr_server_parameter(a1.srv, "application_name"), "pgrouter");
    CHECK_STR(pgr_server_node_id(a1.srv), "pg1");
    CHECK_INT(pgr_server_pending(a1.srv), 0);
    CHECK_INT(raw_query(a1.srv, "BEGIN", NULL, 0, NULL, 5.0), 'T');
    CHECK_INT(raw_query(a1.srv, "COMMIT", NULL, 0, NULL, 5.0), 'I');

    /* A non-blocking cancel stops a running statement. */
    bool cancel_done = false;
    int cancel_status = -1;
    unsigned char q[64];
    const char *sql = "SELECT pg_sleep(10)";
    size_t sl = strlen(sql) + 1;
    uint32_t l = htonl((uint32_t)(4 + sl));
    q[0] = 'Q';
    memcpy(q + 1, &l, 4);
    memcpy(q + 5, sql, sl);
    CHECK_INT(pgr_server_write(a2.srv, q, 5 + sl), (long long)(5 + sl));
    fx_run_for(&LOOP, 0.2);
    t0 = fx_now();
    CHECK_INT(pgr_server_cancel(a2.srv, 2000, (pgr_cancel_cb)NULL, NULL), 0);
    (void)cancel_done;
    (void)cancel_status;
    CHECK_INT(raw_query(a2.srv, "SELECT 1", v, sizeof(v), state, 5.0), 'I');
    /* raw_query read the canceled statement's ErrorResponse and ReadyForQuery first */
    t_diag("canceled after %.3f s (sqlstate %s)", fx_now() - t0, state);
    CHECK_STR(state, "57014");
    CHECK(fx_now() - t0 < 2.0);

    pgr_server_set_data(a1.srv, &data_freed, free_data);
    CHECK(pgr_server_get_data(a1.srv) == &data_freed);
    pgr_cluster_release(a1.srv, PGR_RELEASE_CLEAN);
    pgr_cluster_release(a2.srv, PGR_RELEASE_CLOSE);
    fx_run_for(&LOOP, 0.1);
    pgr_cluster_pool_stats(C, "pg1", &st);
    CHECK_INT(st.idle, 1);
    CHECK_INT(st.active, 0);
    CHECK_INT(data_freed, 0); /* transaction mode: the data stays with the connection */
}

TEST(idle_timeout_closes_idle)
{
    pgr_pool_stats_t st;
    double end = fx_now() + 3;
    do {
        fx_run_for(&LOOP, 0.05);
        pgr_cluster_pool_stats(C, "pg1", &st);
    } while (st.total > 0 && fx_now() < end);
    CHECK_INT(st.total, 0);
    CHECK_INT(data_freed, 1); /* freed with its connection */
    CHECK_INT(fx_wait_conns(&FX, 0, "pgrouter", 1, 2.0), 1); /* only the health connection */
}

TEST(min_idle_fills)
{
    pgr_pool_stats_t st;
    double end = fx_now() + 3;
    do {
        fx_run_for(&LOOP, 0.05);
        pgr_cluster_pool_stats(C, "pg2", &st);
    } while (st.idle < 2 && fx_now() < end);
    CHECK_INT(st.idle, 2);
    CHECK_INT(fx_count_conns(&FX, 1, "pgrouter"), 3);
}

TEST(session_mode_resets)
{
    acq_t a = { 0 }, b = { 0 };
    char v[64];
    CHECK_INT(pgr_cluster_acquire(C, "pg3", "app", "app", "app", acq_cb, &a, NULL), 0);
    CHECK(fx_run_until(&LOOP, &a.done, 5.0));
    CHECK_INT(a.status, 0);
    uint32_t pid1, pid2, key;
    pgr_server_backend_key(a.srv, &pid1, &key);
    CHECK_INT(raw_query(a.srv, "SET work_mem = '77kB'", NULL, 0, NULL, 5.0), 'I');
    CHECK_INT(raw_query(a.srv, "SHOW work_mem", v, sizeof(v), NULL, 5.0), 'I');
    CHECK_STR(v, "77kB");
    pgr_server_set_data(a.srv, &data_freed, free_data);
    int freed_before = data_freed;
    pgr_cluster_release(a.srv, PGR_RELEASE_CLEAN);
    CHECK_INT(pgr_cluster_acquire(C, "pg3", "app", "app", "app", acq_cb, &b, NULL), 0);
    CHECK(fx_run_until(&LOOP, &b.done, 5.0));
    CHECK_INT(b.status, 0);
    pgr_server_backend_key(b.srv, &pid2, &key);
    CHECK_INT(pid2, pid1); /* the same connection (max_size 1) ... */
    CHECK_INT(raw_query(b.srv, "SHOW work_mem", v, sizeof(v), NULL, 5.0), 'I');
    CHECK_STR(v, "4MB"); /* ... after DISCARD ALL */
    CHECK_INT(data_freed, freed_before + 1);
    CHECK(pgr_server_get_data(b.srv) == NULL);
    pgr_cluster_release(b.srv, PGR_RELEASE_CLEAN);
}

TEST(connect_failures_counted_and_reported)
{
    acq_t a = { 0 };
    pgr_pool_stats_t st;
    CHECK_INT(fx_node(&FX, "kill", "pg3"), 0);
    fx_run_for(&LOOP, 0.05);
    CHECK_INT(pgr_cluster_acquire(C, "pg3", "app", "other", "app", acq_cb, &a, NULL), 0);
    CHECK(fx_run_until(&LOOP, &a.done, 5.0));
    t_diag("%s", a.msg);
    CHECK_INT(a.status, PGR_ECONNECT);
    CHECK(strstr(a.msg, "pg3") != NULL);
    pgr_cluster_pool_stats(C, "pg3", &st);
    CHECK(st.connect_failures >= 1);
    CHECK(wait_state("pg3", PGR_NODE_UNHEALTHY, 2.5));
}

TEST(stats_and_events)
{
    pgr_pool_stats_t all[8];
    CHECK_INT(pgr_cluster_all_pool_stats(C, all, 8), 3);
    CHECK_STR(all[1].node_id, "pg2");
    CHECK_INT(pgr_cluster_pool_stats(C, "nope", all), PGR_ENOENT);
    /* one POOL_STATS event per health interval (1 s) */
    int before = EV.stats_events;
    fx_run_for(&LOOP, 2.3);
    CHECK(EV.stats_events - before >= 2 && EV.stats_events - before <= 3);
    CHECK_INT(pgr_cluster_unsubscribe(C, fx_events_cb, &EV), 0);
    CHECK_INT(pgr_cluster_unsubscribe(C, fx_events_cb, &EV), PGR_ENOENT);
    before = EV.stats_events;
    fx_run_for(&LOOP, 1.2);
    CHECK_INT(EV.stats_events, before);
}

TEST(shutdown_clean)
{
    check_shutdown_clean(2);
}

static void
tune(pgr_config_t *cfg)
{
    cfg->nodes[0].pool.max_size = 2;            /* pg1: limits */
    cfg->nodes[0].pool.acquire_timeout_ms = 300;
    cfg->nodes[0].pool.idle_timeout_ms = 400;
    cfg->nodes[1].pool.min_idle = 2;            /* pg2: min_idle (library's pool + app's) */
    cfg->nodes[2].pool.mode = PGR_POOL_SESSION; /* pg3: session mode, one connection */
    cfg->nodes[2].pool.max_size = 1;
}

int
main(void)
{
    start((fx_setup_t){ .nodes = 3, .configured = 3, .tune = tune });
    return finish(RUN(acquire_honours_max_size_and_timeout, idle_timeout_closes_idle,
                      min_idle_fills, session_mode_resets, connect_failures_counted_and_reported,
                      stats_and_events, shutdown_clean));
}

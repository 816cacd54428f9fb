/* Health details: the role each node reports (a promotion is followed), the LSN, and an I/O
 * error on a pooled connection triggering an immediate check (interval 10 s here, so only the
 * trigger can explain a prompt one). */
#include "common.h"

static pgr_role_t
role_of(const char *id)
{
    pgr_health_t h;
    pgr_cluster_get_health(C, id, &h);
    return h.role;
}

static bool
pg2_primary(void *arg)
{
    (void)arg;
    return role_of("pg2") == PGR_ROLE_PRIMARY;
}

TEST(roles_as_reported)
{
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)2, 5.0));
    pgr_health_t h1, h2;
    pgr_cluster_get_health(C, "pg1", &h1);
    pgr_cluster_get_health(C, "pg2", &h2);
    CHECK_INT(h1.role, PGR_ROLE_PRIMARY);
    CHECK_INT(h2.role, PGR_ROLE_REPLICA);
    CHECK(h1.lsn > 0);
    CHECK(h2.lsn > 0);
    CHECK(h2.lsn <= h1.lsn);
    CHECK(h1.lag_s == 0);
    CHECK_INT(h1.checks, 1); /* one check so far: the interval is 10 s */
}

TEST(io_error_triggers_a_check)
{
    acq_t a = { 0 };
    pgr_health_t before, after;
    char sql[128], buf[256];
    uint32_t pid, key;
    CHECK_INT(pgr_cluster_acquire(C, "pg1", "app", "app", NULL, acq_cb, &a, NULL), 0);
    CHECK(fx_run_until(&LOOP, &a.done, 5.0));
    CHECK_INT(a.status, 0);
    CHECK_INT(pgr_server_backend_key(a.srv, &pid, &key), 0);
    pgr_cluster_get_health(C, "pg1", &before);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%u)", pid);
    CHECK_INT(fx_psql(&FX, 0, sql, NULL, 0), 0);
    double t0 = fx_now();
    ssize_t n;
    /* The FATAL ErrorResponse, then EOF: the read reports an error. */
    while ((n = pgr_server_read(a.srv, buf, sizeof(buf))) >= 0 && fx_now() - t0 < 3) {
        if (n == 0)
            wait_io(a.srv, true, false, 1.0);
    }
    CHECK_INT(n, PGR_ECLOSED);
    pgr_cluster_release(a.srv, PGR_RELEASE_CLOSE);
    double end = fx_now() + 2;
    do {
        fx_run_for(&LOOP, 0.02);
        pgr_cluster_get_health(C, "pg1", &after);
    } while (after.checks == before.checks && fx_now() < end);
    printf("# check %.3f s after the I/O error\n", fx_now() - t0);
    CHECK_INT(after.checks, before.checks + 1);
    CHECK(fx_now() - t0 < 1.0);
    CHECK_INT(after.state, PGR_NODE_HEALTHY);
}

TEST(promotion_is_followed)
{
    CHECK_INT(fx_node(&FX, "promote", "pg2"), 0);
    CHECK(fx_run_until_pred(&LOOP, pg2_primary, NULL, 15.0));
    CHECK_INT(role_of("pg2"), PGR_ROLE_PRIMARY);
}

TEST(shutdown_clean)
{
    check_shutdown_clean(2);
}

static void
tune(pgr_config_t *cfg)
{
    cfg->health.interval_ms = 10000;
}

int
main(void)
{
    start((fx_setup_t){ .nodes = 2, .replicas = 1, .configured = 2, .tune = tune });
    return finish(RUN(roles_as_reported, io_error_triggers_a_check, promotion_is_followed,
                      shutdown_clean));
}

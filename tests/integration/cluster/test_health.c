/* Capability 2: health checks with the defaults: a killed node is unhealthy within 2 s, a hung
 * one within 3 s, both come back; one failed check below the threshold changes nothing. */
#include "common.h"

TEST(healthy_at_start)
{
    CHECK(fx_run_until_pred(&LOOP, all_healthy, (void *)(intptr_t)2, 5.0));
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_HEALTHY), 1);
}

TEST(one_failure_below_threshold_changes_nothing)
{
    pgr_health_t before, after;
    char out[32];
    int health_events = fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", -1);
    CHECK_INT(pgr_cluster_get_health(C, "pg1", &before), 0);
    /* Only the health connection is ours on pg1 now; terminating it fails one check. */
    CHECK_INT(fx_psql(&FX, 0, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = 'pgrouter'", out, sizeof(out)), 0);
    CHECK_STR(out, "1");
    double end = fx_now() + 3;
    do {
        fx_run_for(&LOOP, 0.05);
        pgr_cluster_get_health(C, "pg1", &after);
    } while (after.failures == before.failures && fx_now() < end);
    CHECK_INT(after.failures, before.failures + 1);
    CHECK(after.last_error[0] != '\0');
    t_diag("last error: %s", after.last_error);
    fx_run_for(&LOOP, 1.5); /* the next checks succeed */
    pgr_cluster_get_health(C, "pg1", &after);
    CHECK_INT(after.state, PGR_NODE_HEALTHY);
    CHECK_INT(after.consecutive_failures, 0);
    CHECK_INT(after.failures, before.failures + 1);
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", -1), health_events);
    CHECK(fx_events_count(&EV, PGR_EVENT_NODE_DISCONNECTED, "pg1", -1) >= 1);
    CHECK(fx_events_count(&EV, PGR_EVENT_NODE_CONNECTED, "pg1", -1) >= 2);
}

TEST(killed_node_unhealthy_within_2s_and_back)
{
    CHECK_INT(fx_node(&FX, "kill", "pg1"), 0);
    double t0 = fx_now();
    CHECK(wait_state("pg1", PGR_NODE_UNHEALTHY, 5.0));
    double dt = fx_now() - t0;
    printf("# killed node unhealthy after %.3f s\n", dt);
    CHECK(dt < 2.0);
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_UNHEALTHY), 1);
    CHECK_INT(state_of("pg2"), PGR_NODE_HEALTHY);
    const char *ids[4];
    CHECK_INT(pgr_cluster_healthy_nodes(C, ids, 4), 1);
    CHECK_STR(ids[0], "pg2");
    CHECK_INT(fx_node(&FX, "restart", "pg1"), 0);
    t0 = fx_now();
    CHECK(wait_state("pg1", PGR_NODE_HEALTHY, 12.0));
    printf("# restarted node healthy after %.3f s\n", fx_now() - t0);
    /* One event per real change: healthy -> unhealthy, then unhealthy -> healthy; the
     * reconnect attempt in between is not announced. */
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_RECONNECTING), 0);
    const fx_event_t *last = NULL;
    for (int i = 0; i < EV.n; i++)
        if (EV.ev[i].type == PGR_EVENT_NODE_HEALTH && strcmp(EV.ev[i].node_id, "pg1") == 0)
            last = &EV.ev[i];
    CHECK(last != NULL && last->old_state == PGR_NODE_UNHEALTHY &&
          last->new_state == PGR_NODE_HEALTHY);
}

TEST(hung_node_unhealthy_within_3s_and_back)
{
    CHECK_INT(fx_node(&FX, "hang", "pg2"), 0);
    double t0 = fx_now();
    CHECK(wait_state("pg2", PGR_NODE_UNHEALTHY, 6.0));
    double dt = fx_now() - t0;
    printf("# hung node unhealthy after %.3f s\n", dt);
    CHECK(dt < 3.0);
    pgr_health_t h;
    pgr_cluster_get_health(C, "pg2", &h);
    CHECK(strstr(h.last_error, "timed out") != NULL);
    CHECK_INT(fx_node(&FX, "resume", "pg2"), 0);
    t0 = fx_now();
    CHECK(wait_state("pg2", PGR_NODE_HEALTHY, 12.0));
    printf("# resumed node healthy after %.3f s\n", fx_now() - t0);
}

TEST(probe_skips_the_backoff)
{
    int unhealthy_events = fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_UNHEALTHY);
    CHECK_INT(fx_node(&FX, "kill", "pg1"), 0);
    CHECK(wait_state("pg1", PGR_NODE_UNHEALTHY, 5.0));
    /* Failed reconnects at about 1 s and 3 s put the next one near 7 s. */
    fx_run_for(&LOOP, 3.5);
    CHECK_INT(state_of("pg1"), PGR_NODE_UNHEALTHY);
    pgr_health_t h;
    pgr_cluster_get_health(C, "pg1", &h);
    CHECK(h.consecutive_failures >= 4); /* the two checks, then failed reconnects */
    /* ... and all that is one event: no reconnecting/unhealthy pair per retry. */
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_UNHEALTHY),
              unhealthy_events + 1);
    CHECK_INT(fx_events_count(&EV, PGR_EVENT_NODE_HEALTH, "pg1", PGR_NODE_RECONNECTING), 0);
    CHECK(h.last_error_ms > 0 && h.last_error[0] != '\0');
    CHECK_INT(fx_node(&FX, "restart", "pg1"), 0);
    double t0 = fx_now();
    CHECK_INT(pgr_cluster_probe(C, "pg1"), 0);
    CHECK(wait_state("pg1", PGR_NODE_HEALTHY, 1.5));
    printf("# healthy %.3f s after the probe\n", fx_now() - t0);
    CHECK_INT(pgr_cluster_probe(C, "nope"), PGR_ENOENT);
}

TEST(shutdown_clean)
{
    check_shutdown_clean(2);
}

int
main(void)
{
    /* the config's defaults: 1 s interval/timeout, threshold 2 */
    start((fx_setup_t){ .nodes = 2, .configured = 2 });
    return finish(RUN(healthy_at_start, one_failure_below_threshold_changes_nothing,
                      killed_node_unhealthy_within_2s_and_back,
                      hung_node_unhealthy_within_3s_and_back, probe_skips_the_backoff,
                      shutdown_clean));
}

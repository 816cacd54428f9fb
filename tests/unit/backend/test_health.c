/* The health checker's pure parts: the state machine, the backoff with jitter, LSN parsing. */
#include "backend/health.h"
#include "../harness.h"

#define STEP(s, ev, f, th) pgr_health_step(PGR_NODE_##s, PGR_HEV_##ev, (f), (th), &a)

TEST(check_ok_goes_healthy_from_everywhere)
{
    pgr_health_action_t a;
    CHECK_INT(STEP(CONNECTING, CHECK_OK, 0, 2), PGR_NODE_HEALTHY);
    CHECK_INT(a, PGR_HACT_NEXT_INTERVAL);
    CHECK_INT(STEP(HEALTHY, CHECK_OK, 0, 2), PGR_NODE_HEALTHY);
    CHECK_INT(STEP(RECONNECTING, CHECK_OK, 0, 2), PGR_NODE_HEALTHY);
    CHECK_INT(STEP(UNHEALTHY, CHECK_OK, 0, 2), PGR_NODE_HEALTHY);
    CHECK_INT(a, PGR_HACT_NEXT_INTERVAL);
}

TEST(failure_below_threshold_keeps_state_and_rechecks)
{
    pgr_health_action_t a;
    CHECK_INT(STEP(HEALTHY, CHECK_FAILED, 1, 2), PGR_NODE_HEALTHY);
    CHECK_INT(a, PGR_HACT_CHECK_NOW);
    CHECK_INT(STEP(CONNECTING, CHECK_FAILED, 1, 3), PGR_NODE_CONNECTING);
    CHECK_INT(STEP(HEALTHY, CHECK_FAILED, 2, 3), PGR_NODE_HEALTHY);
    CHECK_INT(a, PGR_HACT_CHECK_NOW);
}

TEST(threshold_marks_unhealthy_and_backs_off)
{
    pgr_health_action_t a;
    CHECK_INT(STEP(HEALTHY, CHECK_FAILED, 2, 2), PGR_NODE_UNHEALTHY);
    CHECK_INT(a, PGR_HACT_BACKOFF);
    CHECK_INT(STEP(CONNECTING, CHECK_FAILED, 1, 1), PGR_NODE_UNHEALTHY);
    CHECK_INT(STEP(HEALTHY, CHECK_FAILED, 1, 0), PGR_NODE_UNHEALTHY); /* threshold < 1 is 1 */
}

TEST(reconnect_cycle)
{
    pgr_health_action_t a;
    CHECK_INT(STEP(UNHEALTHY, RETRY_DUE, 2, 2), PGR_NODE_RECONNECTING);
    CHECK_INT(a, PGR_HACT_CHECK_NOW);
    CHECK_INT(STEP(RECONNECTING, CHECK_FAILED, 3, 2), PGR_NODE_UNHEALTHY);
    CHECK_INT(a, PGR_HACT_BACKOFF);
    CHECK_INT(STEP(RECONNECTING, CHECK_OK, 0, 2), PGR_NODE_HEALTHY);
    CHECK_INT(STEP(HEALTHY, RETRY_DUE, 0, 2), PGR_NODE_HEALTHY);
    CHECK_INT(a, PGR_HACT_CHECK_NOW);
}

TEST(removed_is_final)
{
    pgr_health_action_t a;
    CHECK_INT(STEP(HEALTHY, REMOVE, 0, 2), PGR_NODE_REMOVED);
    CHECK_INT(a, PGR_HACT_STOP);
    CHECK_INT(STEP(REMOVED, CHECK_OK, 0, 2), PGR_NODE_REMOVED);
    CHECK_INT(a, PGR_HACT_STOP);
    CHECK_INT(STEP(REMOVED, RETRY_DUE, 0, 2), PGR_NODE_REMOVED);
}

TEST(backoff_doubles_to_the_cap)
{
    /* rnd 0.5 means no jitter */
    CHECK_INT(pgr_health_backoff_ms(0, 1000, 30000, 0.2, 0.5), 1000);
    CHECK_INT(pgr_health_backoff_ms(1, 1000, 30000, 0.2, 0.5), 2000);
    CHECK_INT(pgr_health_backoff_ms(2, 1000, 30000, 0.2, 0.5), 4000);
    CHECK_INT(pgr_health_backoff_ms(3, 1000, 30000, 0.2, 0.5), 8000);
    CHECK_INT(pgr_health_backoff_ms(4, 1000, 30000, 0.2, 0.5), 16000);
    CHECK_INT(pgr_health_backoff_ms(5, 1000, 30000, 0.2, 0.5), 30000);
    CHECK_INT(pgr_health_backoff_ms(60, 1000, 30000, 0.2, 0.5), 30000); /* no overflow */
}

TEST(backoff_jitter_bounds)
{
    /* The extremes of rnd give exactly base * (1 -/+ jitter). */
    CHECK_INT(pgr_health_backoff_ms(0, 1000, 30000, 0.2, 0.0), 800);
    CHECK(pgr_health_backoff_ms(0, 1000, 30000, 0.2, 0.999999) >= 1199);
    CHECK(pgr_health_backoff_ms(0, 1000, 30000, 0.2, 0.999999) <= 1200);
    /* Every rnd stays inside the band, and the spread is real. */
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t d = pgr_health_backoff_ms(3, 1000, 30000, 0.2, i / 1000.0);
        CHECK(d >= 6400 && d <= 9600);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    CHECK(lo <= 6500 && hi >= 9500);
    CHECK_INT(pgr_health_backoff_ms(2, 1000, 30000, 0.0, 0.0), 4000);
    CHECK_INT(pgr_health_backoff_ms(2, 1000, 30000, 5.0, 0.0), 0); /* jitter clamps to 1 */
}

TEST(lsn_parse)
{
    uint64_t v = 0;
    CHECK(pgr_health_parse_lsn("0/16B3748", &v));
    CHECK_INT(v, 0x16B3748);
    CHECK(pgr_health_parse_lsn("16/B374D848", &v));
    CHECK(v == ((uint64_t)0x16 << 32 | 0xB374D848u));
    CHECK(!pgr_health_parse_lsn("16-B374D848", &v));
    CHECK(!pgr_health_parse_lsn("1/2x", &v));
    CHECK(!pgr_health_parse_lsn(NULL, &v));
}

TEST(state_names)
{
    CHECK_STR(pgr_node_state_name(PGR_NODE_CONNECTING), "connecting");
    CHECK_STR(pgr_node_state_name(PGR_NODE_RECONNECTING), "reconnecting");
    CHECK_STR(pgr_node_state_name(PGR_NODE_REMOVED), "removed");
    CHECK_STR(pgr_node_state_name((pgr_node_state_t)99), "unknown");
}

int
main(void)
{
    return RUN(check_ok_goes_healthy_from_everywhere, failure_below_threshold_keeps_state_and_rechecks,
               threshold_marks_unhealthy_and_backs_off, reconnect_cycle, removed_is_final,
               backoff_doubles_to_the_cap, backoff_jitter_bounds, lsn_parse, state_names);
}

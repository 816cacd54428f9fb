/* The health checker's pure parts: the state machine, the backoff with jitter, LSN parsing, the
 * health login and which login failures name config keys. */
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

TEST(only_real_changes_are_announced)
{
#define CHANGE(a, b) pgr_health_is_change(PGR_NODE_##a, PGR_NODE_##b)
    CHECK(CHANGE(CONNECTING, HEALTHY));
    CHECK(CHANGE(CONNECTING, UNHEALTHY));
    CHECK(CHANGE(HEALTHY, UNHEALTHY));
    CHECK(CHANGE(UNHEALTHY, HEALTHY));   /* a reconnect that worked: unhealthy -> healthy */
    CHECK(CHANGE(UNHEALTHY, REMOVED));
    CHECK(CHANGE(HEALTHY, REMOVED));
    /* An unhealthy node's retries: neither the attempt nor its failure is a change. */
    CHECK(!CHANGE(UNHEALTHY, RECONNECTING));
    CHECK(!CHANGE(UNHEALTHY, UNHEALTHY));
    CHECK(!CHANGE(HEALTHY, HEALTHY));
    /* A retry cycle as the checker runs it: told stays UNHEALTHY through it. */
    pgr_node_state_t told = PGR_NODE_HEALTHY, seq[] = { PGR_NODE_UNHEALTHY, PGR_NODE_RECONNECTING,
        PGR_NODE_UNHEALTHY, PGR_NODE_RECONNECTING, PGR_NODE_UNHEALTHY, PGR_NODE_RECONNECTING,
        PGR_NODE_HEALTHY };
    int announced = 0;
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        if (pgr_health_is_change(told, seq[i])) {
            told = seq[i];
            announced++;
        }
    }
    CHECK_INT(announced, 2); /* healthy -> unhealthy, unhealthy -> healthy */
    CHECK_INT(told, PGR_NODE_HEALTHY);
#undef CHANGE
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
    /* The cap is a cap: at and past it, jitter only shortens (was 30 s + 20 %: 36 s). */
    lo = INT64_MAX, hi = 0;
    for (int step = 4; step < 40; step++) {
        for (int i = 0; i < 1000; i++) {
            int64_t d = pgr_health_backoff_ms(step, 1000, 30000, 0.2, i / 1000.0);
            CHECK(d >= 12800 && d <= 30000);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
    }
    CHECK(hi == 30000 && lo <= 13000);
    CHECK(pgr_health_backoff_ms(5, 1000, 30000, 0.2, 0.0) == 24000);
    CHECK(pgr_health_backoff_ms(5, 1000, 30000, 0.2, 0.999999) == 30000);
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

TEST(login_levels)
{
    pgr_health_login_t fb = { "postgres", NULL, "postgres" }, l;
    pgr_login_config_t none = { 0 }, global = { "hc", "hc-pw", NULL };
    pgr_node_config_t n = { 0 };

    /* nothing set: libpq's old defaults */
    l = pgr_health_login(&n, &none, &fb);
    CHECK_STR(l.user, "postgres");
    CHECK(l.password == NULL);
    CHECK_STR(l.dbname, "postgres");
    /* the node's own login, password included, while no health user is set */
    n.user = "app";
    n.password = "app-pw";
    n.dbname = "appdb";
    l = pgr_health_login(&n, &none, &fb);
    CHECK_STR(l.user, "app");
    CHECK_STR(l.password, "app-pw");
    CHECK_STR(l.dbname, "appdb");
    /* global keys over the node's; the node's dbname still fills the gap */
    l = pgr_health_login(&n, &global, &fb);
    CHECK_STR(l.user, "hc");
    CHECK_STR(l.password, "hc-pw");
    CHECK_STR(l.dbname, "appdb");
    /* a health user without a health password never gets the pool's password */
    pgr_login_config_t user_only = { "hc", NULL, NULL };
    l = pgr_health_login(&n, &user_only, &fb);
    CHECK_STR(l.user, "hc");
    CHECK(l.password == NULL);
    /* the node's block over everything, field by field */
    n.health = (pgr_login_config_t){ "bench", NULL, "bench" };
    l = pgr_health_login(&n, &global, &fb);
    CHECK_STR(l.user, "bench");
    CHECK_STR(l.password, "hc-pw");
    CHECK_STR(l.dbname, "bench");
    n.health = (pgr_login_config_t){ NULL, "own-pw", NULL };
    l = pgr_health_login(&n, &none, &fb);
    CHECK_STR(l.user, "app");
    CHECK_STR(l.password, "own-pw");
}

TEST(login_failures_name_keys)
{
    static const char *const auth[] = {
        "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password "
        "authentication failed for user \"postgres\"",
        "connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no password "
        "supplied",
        "FATAL:  role \"postgres\" does not exist",
        "FATAL:  role \"hc\" is not permitted to log in",
        "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"x\", database \"y\", "
        "no encryption",
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(auth); i++)
        CHECK(pgr_health_login_keys(auth[i]) != NULL &&
              strstr(pgr_health_login_keys(auth[i]), "health.user") != NULL);
    CHECK_STR(pgr_health_login_keys("FATAL:  password authentication failed for user \"a\""),
              "health.user and health.password");
    CHECK_STR(pgr_health_login_keys("FATAL:  database \"app\" does not exist"),
              "health.dbname");
    /* not a login problem: the node is down, slow or shutting down */
    CHECK(pgr_health_login_keys("connection to server at \"127.0.0.1\", port 5432 failed: "
                                "Connection refused") == NULL);
    CHECK(pgr_health_login_keys("FATAL:  the database system is starting up") == NULL);
    CHECK(pgr_health_login_keys("connection to node pg1 timed out after 1000 ms") == NULL);
    CHECK(pgr_health_login_keys("FATAL:  sorry, too many clients already") == NULL);
    CHECK(pgr_health_login_keys(NULL) == NULL);
}

int
main(void)
{
    return RUN(check_ok_goes_healthy_from_everywhere, failure_below_threshold_keeps_state_and_rechecks,
               threshold_marks_unhealthy_and_backs_off, reconnect_cycle,
               only_real_changes_are_announced, removed_is_final,
               backoff_doubles_to_the_cap, backoff_jitter_bounds, lsn_parse, state_names,
               login_levels, login_failures_name_keys);
}

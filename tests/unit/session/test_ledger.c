/* session/state: the server connection's ledger — how a connection goes back (keep, reset with
 * DISCARD ALL, close) for each pin reason and setting kind, and the LRU record of statements. */
#include "session/state.h"
#include "../harness.h"

static pgr_ledger_release_t
verdict(const pgr_srv_state_t *st, bool boundary, bool session, const char **why)
{
    const char *w = "unset";
    pgr_ledger_release_t r = pgr_srv_state_release(st, boundary, session, &w);
    if (why)
        *why = w;
    return r;
}

TEST(fresh_connection_is_kept_in_transaction_mode_reset_in_session_mode)
{
    pgr_srv_state_t *st = pgr_srv_state_new();
    const char *why;

    CHECK_INT(verdict(NULL, true, false, &why), PGR_LEDGER_KEEP);
    CHECK(why == NULL);
    CHECK_INT(verdict(st, true, false, NULL), PGR_LEDGER_KEEP);
    CHECK_INT(verdict(st, true, true, &why), PGR_LEDGER_RESET);
    CHECK_STR(why, "session mode");
    /* Settings that differ from the startup values are overwritten by the next preamble. */
    st->extras = strdup("SET search_path TO 'x';");
    CHECK_INT(verdict(st, true, false, NULL), PGR_LEDGER_KEEP);
    pgr_srv_state_free(st);
}

TEST(mid_transaction_is_closed_whatever_the_ledger_says)
{
    pgr_srv_state_t *st = pgr_srv_state_new();
    const char *why;

    CHECK_INT(verdict(st, false, false, &why), PGR_LEDGER_CLOSE);
    CHECK_STR(why, "in a transaction or with a message in flight");
    CHECK_INT(verdict(st, false, true, NULL), PGR_LEDGER_CLOSE);
    CHECK_INT(verdict(NULL, false, false, NULL), PGR_LEDGER_CLOSE);
    pgr_srv_state_free(st);
}

/* Each pin reason the classifier gives, with a statement that makes it. */
static const struct { const char *reason, *sql; } pins[] = {
    { "SET ROLE", "SET ROLE r" },
    { "SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION app" },
    { "PREPARE", "PREPARE p AS SELECT 1" },
    { "session-level advisory lock", "SELECT pg_advisory_lock(1)" },
    { "LISTEN", "LISTEN ch" },
    { "DECLARE ... WITH HOLD", "DECLARE c CURSOR WITH HOLD FOR SELECT 1" },
    { "SET SESSION CHARACTERISTICS", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY" },
    { "SET inside a transaction", "SET search_path = x" },
    { "DISCARD", "DISCARD PLANS" },
};

TEST(each_pin_reason_is_reset)
{
    for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
        pgr_srv_state_t *st = pgr_srv_state_new();
        const char *why;
        pgr_srv_state_note_pin(st, pins[i].reason, pins[i].sql, strlen(pins[i].sql));
        CHECK_INT(verdict(st, true, false, &why), PGR_LEDGER_RESET);
        CHECK_STR(why, pins[i].reason);
        CHECK_INT(verdict(st, true, true, NULL), PGR_LEDGER_RESET);
        CHECK_INT(verdict(st, false, false, NULL), PGR_LEDGER_CLOSE);
        /* A second reason keeps the first. */
        pgr_srv_state_note_pin(st, "LISTEN", "LISTEN x", 8);
        CHECK_STR(st->pin, pins[i].reason);
        pgr_srv_state_free(st);
    }
}

TEST(placeholders_and_load_are_closed)
{
    static const struct { const char *reason, *sql; } keep_out[] = {
        { "set_config() of a session-level setting", "SELECT set_config('a.b', 'x', false)" },
        { "set_config() of a session-level setting", "select 1, SET_CONFIG('a.b', 'x', false)" },
        { "session-level SET", "SET app.tenant = 3" },
        { "session-level SET", "SET SESSION myext.level TO 'x'" },
        { "SET inside a transaction", "set  app.x=1" },
        { "LOAD", "LOAD 'auto_explain'" },
        { "CREATE TEMP TABLE", "CREATE TEMP TABLE t(x int)" }, /* its schema stays */
        { "CREATE TEMP SEQUENCE", "CREATE TEMP SEQUENCE s" },
    };
    for (size_t i = 0; i < sizeof(keep_out) / sizeof(keep_out[0]); i++) {
        pgr_srv_state_t *st = pgr_srv_state_new();
        const char *why;
        pgr_srv_state_note_pin(st, keep_out[i].reason, keep_out[i].sql,
                               strlen(keep_out[i].sql));
        CHECK_INT(verdict(st, true, false, &why), PGR_LEDGER_CLOSE);
        CHECK_INT(verdict(st, true, true, NULL), PGR_LEDGER_CLOSE);
        pgr_srv_state_free(st);
    }
    /* Ordinary settings (no dot) are reset, not closed. */
    static const char *plain[] = { "SET search_path = x", "SET SESSION work_mem TO '8MB'",
                                   "SET statement_timeout=5" };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        pgr_srv_state_t *st = pgr_srv_state_new();
        pgr_srv_state_note_pin(st, "session-level SET", plain[i], strlen(plain[i]));
        CHECK_INT(verdict(st, true, true, NULL), PGR_LEDGER_RESET);
        pgr_srv_state_free(st);
    }
}

TEST(statements_are_an_lru_closed_beyond_the_cap)
{
    pgr_srv_state_t *st = pgr_srv_state_new();
    uint64_t evicted = 0;
    bool ev = false;

    for (uint64_t k = 1; k <= PGR_SERVER_STMTS_MAX; k++)
        ev |= pgr_srv_state_add(st, k, &evicted);
    CHECK(!ev);
    CHECK(pgr_srv_state_has(st, 1));
    CHECK(pgr_srv_state_add(st, PGR_SERVER_STMTS_MAX + 1, &evicted));
    CHECK_INT(evicted, 1);
    CHECK(!pgr_srv_state_has(st, 1));
    CHECK(pgr_srv_state_has(st, PGR_SERVER_STMTS_MAX + 1));
    pgr_srv_state_forget(st, 2);
    CHECK(!pgr_srv_state_has(st, 2));
    CHECK(!pgr_srv_state_add(st, PGR_SERVER_STMTS_MAX + 2, &evicted));
    pgr_srv_state_free(st);
}

TEST(lru_order_follows_use)
{
    pgr_srv_state_t *st = pgr_srv_state_new();
    uint64_t evicted = 0;

    for (uint64_t k = 1; k <= PGR_SERVER_STMTS_MAX; k++)
        (void)pgr_srv_state_add(st, k, &evicted);
    pgr_srv_state_touch(st, 1); /* 1 is used again: 2 is now the least recently used */
    CHECK(!pgr_srv_state_add(st, 5, &evicted)); /* already there: touched, nothing evicted */
    CHECK(pgr_srv_state_add(st, 100001, &evicted));
    CHECK_INT(evicted, 2);
    CHECK(pgr_srv_state_has(st, 1));
    CHECK(pgr_srv_state_add(st, 100002, &evicted));
    CHECK_INT(evicted, 3);
    CHECK_INT(st->n_stmts, PGR_SERVER_STMTS_MAX);
    pgr_srv_state_forget_all(st);
    CHECK_INT(st->n_stmts, 0);
    CHECK(!pgr_srv_state_has(st, 1));
    CHECK(!pgr_srv_state_add(st, 7, &evicted));
    CHECK(pgr_srv_state_has(st, 7));
    pgr_srv_state_free(st);
}

int
main(void)
{
    return RUN(fresh_connection_is_kept_in_transaction_mode_reset_in_session_mode,
               mid_transaction_is_closed_whatever_the_ledger_says, each_pin_reason_is_reset,
               placeholders_and_load_are_closed, statements_are_an_lru_closed_beyond_the_cap,
               lru_order_follows_use);
}

/* session/stmts: a client's prepared statements by name and by sequence number, their server
 * names (one scheme for the relay and broadcast), and the small sets a broadcast batch keeps. */
#include "session/stmts.h"
#include "../harness.h"

TEST(client_statements_by_name)
{
    pgr_stmts_t s = {0};
    char name[32];
    int bad = 0;

    for (int i = 0; i < PGR_STMTS_MAX; i++) {
        snprintf(name, sizeof(name), "stmt_%d", i);
        bad += pgr_stmts_add(&s, name, (const uint8_t *)"x", 2) == NULL;
    }
    CHECK_INT(bad, 0);
    CHECK(pgr_stmts_add(&s, "one_too_many", (const uint8_t *)"x", 2) == NULL);
    for (int i = 0; i < PGR_STMTS_MAX; i += 3) { /* remove a third, in order */
        snprintf(name, sizeof(name), "stmt_%d", i);
        pgr_stmts_remove(&s, name);
    }
    for (int i = 0; i < PGR_STMTS_MAX; i++) {
        snprintf(name, sizeof(name), "stmt_%d", i);
        pgr_stmt_t *sm = pgr_stmts_find(&s, name);
        bad += (i % 3 == 0) ? sm != NULL : (sm == NULL || strcmp(sm->name, name) != 0);
    }
    CHECK_INT(bad, 0);
    /* Re-adding a name replaces it with a new sequence number. */
    pgr_stmt_t *a = pgr_stmts_find(&s, "stmt_1");
    uint32_t seq = a->seq;
    CHECK(pgr_stmts_add(&s, "stmt_1", (const uint8_t *)"y", 2) == a && a->seq != seq);
    pgr_stmts_free(&s);
    CHECK(pgr_stmts_find(&s, "stmt_1") == NULL);
}

TEST(by_seq_follows_add_replace_and_remove)
{
    pgr_stmts_t s = {0};
    char name[32];
    uint32_t seqs[100];
    int bad = 0;

    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        seqs[i] = pgr_stmts_add(&s, name, (const uint8_t *)"x", 2)->seq;
    }
    /* Removing moves the last entry into the hole: its sequence number must follow it. */
    pgr_stmts_remove(&s, "s10");
    CHECK(pgr_stmts_by_seq(&s, seqs[10]) == NULL);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        pgr_stmt_t *sm = pgr_stmts_by_seq(&s, seqs[i]);
        bad += i == 10 ? sm != NULL : (sm == NULL || strcmp(sm->name, name) != 0);
    }
    CHECK_INT(bad, 0);
    /* A replaced statement is found under its new number only. */
    pgr_stmt_t *a = pgr_stmts_add(&s, "s20", (const uint8_t *)"y", 2);
    CHECK(pgr_stmts_by_seq(&s, seqs[20]) == NULL);
    CHECK(pgr_stmts_by_seq(&s, a->seq) == a);
    CHECK(pgr_stmts_by_seq(&s, 0) == NULL);
    pgr_stmts_free(&s);
    CHECK(pgr_stmts_by_seq(&s, seqs[30]) == NULL);
}

TEST(one_naming_scheme_for_relay_and_broadcast)
{
    char buf[48];
    uint64_t relay = pgr_stmt_key(7, 42, PGR_STMT_RELAY);
    uint64_t bcast = pgr_stmt_key(7, 42, PGR_STMT_BROADCAST);

    CHECK(relay != bcast);
    pgr_stmt_key_name(buf, sizeof(buf), relay);
    CHECK_STR(buf, "pgr_7_42");
    pgr_stmt_server_name(buf, sizeof(buf), 7, 42);
    CHECK_STR(buf, "pgr_7_42");
    pgr_stmt_key_name(buf, sizeof(buf), bcast);
    CHECK_STR(buf, "pgr_7_b42");
    /* the largest client id and sequence number fit the documented 48 bytes */
    pgr_stmt_key_name(buf, sizeof(buf), pgr_stmt_key(UINT32_MAX, 0x7fffffffu, PGR_STMT_BROADCAST));
    CHECK_STR(buf, "pgr_4294967295_b2147483647");
}

TEST(seq_sets_keep_one_of_each)
{
    pgr_stmt_seqs_t v = {0};

    for (uint32_t i = 0; i < 20; i++)
        CHECK_INT(pgr_stmt_seqs_add(&v, i % 10), 0);
    CHECK_INT(v.n, 10);
    CHECK(pgr_stmt_seqs_has(&v, 9));
    CHECK(!pgr_stmt_seqs_has(&v, 10));
    pgr_stmt_seqs_free(&v);
    CHECK(v.n == 0 && v.v == NULL && !pgr_stmt_seqs_has(&v, 1));
}

int
main(void)
{
    return RUN(client_statements_by_name, by_seq_follows_add_replace_and_remove,
               one_naming_scheme_for_relay_and_broadcast, seq_sets_keep_one_of_each);
}

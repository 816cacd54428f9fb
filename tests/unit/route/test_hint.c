/* Routing hints in leading comments: every form, spacing and case, malformed ones, conflicts,
 * and that only comments before the first token count. */
#include "route/classify.h"
#include "route/hint.h"
#include "../harness.h"

static pgr_hint_t h;

static const pgr_hint_t *
hint(const char *sql)
{
    pgr_hint_parse(sql, strlen(sql), &h);
    return &h;
}

TEST(valid_forms)
{
    static const struct { const char *sql; pgr_hint_kind_t kind; const char *node; } ok[] = {
        {"/* pgrouter: primary */ SELECT 1", PGR_HINT_PRIMARY, ""},
        {"/* pgrouter: replica */ SELECT 1", PGR_HINT_REPLICA, ""},
        {"/* pgrouter: broadcast */ SELECT 1", PGR_HINT_BROADCAST, ""},
        {"/* pgrouter: node=pg2 */ SELECT 1", PGR_HINT_NODE, "pg2"},
        {"/*pgrouter:primary*/SELECT 1", PGR_HINT_PRIMARY, ""},
        {"/*PGROUTER:REPLICA*/ SELECT 1", PGR_HINT_REPLICA, ""},
        {"/*  PgRouter :  Broadcast  */ SELECT 1", PGR_HINT_BROADCAST, ""},
        {"/* pgrouter: node = db-east_1 */ SELECT 1", PGR_HINT_NODE, "db-east_1"},
        {"/*pgrouter:NODE=PG2*/SELECT 1", PGR_HINT_NODE, "PG2"},
        {"\n\t /* pgrouter:\n primary\n */\n SELECT 1", PGR_HINT_PRIMARY, ""},
        {"-- pgrouter: replica\nSELECT 1", PGR_HINT_REPLICA, ""},
        {"/* app=web */ /* pgrouter: node=pg3 */ SELECT 1", PGR_HINT_NODE, "pg3"},
        {"-- a note\n/* pgrouter: primary */ SELECT 1", PGR_HINT_PRIMARY, ""},
        {"/* pgrouter: primary */ /* pgrouter: primary */ SELECT 1", PGR_HINT_PRIMARY, ""},
        {"/* pgrouter: node=a */ /*pgrouter:node = a*/ SELECT 1", PGR_HINT_NODE, "a"},
        {"/* outer /* nested */ still outer */ /* pgrouter: replica */ SELECT 1",
         PGR_HINT_REPLICA, ""},
        {"/* pgrouter: primary */", PGR_HINT_PRIMARY, ""},
        {"/* pgrouter: node=abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc */",
         PGR_HINT_NODE, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"},
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(ok); i++) {
        const pgr_hint_t *r = hint(ok[i].sql);
        if (r->error || r->kind != ok[i].kind)
            printf("# %s: kind %d error %s\n", ok[i].sql, r->kind, r->error_msg);
        CHECK(!r->error);
        CHECK_INT(r->kind, ok[i].kind);
        CHECK_STR(r->node, ok[i].node);
    }
}

TEST(not_hints)
{
    static const char *const none[] = {
        "SELECT 1",
        "",
        "   ",
        "/* just a comment */ SELECT 1",
        "/* pgrouter is great */ SELECT 1",      /* no colon: not a hint */
        "/* route: primary */ SELECT 1",
        "/* xpgrouter: primary */ SELECT 1",
        "SELECT /* pgrouter: primary */ 1",      /* after the first token */
        "SELECT 1 /* pgrouter: replica */",
        "SELECT 1; /* pgrouter: replica */ SELECT 2",
        "'/* pgrouter: primary */'",
        "/* pgrouter: primary",                   /* unterminated: the parser's error */
        "/* a /* pgrouter: primary */",           /* still inside the outer comment */
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(none); i++) {
        const pgr_hint_t *r = hint(none[i]);
        if (r->error || r->kind != PGR_HINT_NONE)
            printf("# %s: kind %d error %s\n", none[i], r->kind, r->error_msg);
        CHECK(!r->error);
        CHECK_INT(r->kind, PGR_HINT_NONE);
    }
}

TEST(malformed)
{
    static const struct { const char *sql; const char *msg_part; } bad[] = {
        {"/* pgrouter: nod=pg2 */ SELECT 1", "unknown hint"},
        {"/* pgrouter: */ SELECT 1", "unknown hint"},
        {"/* pgrouter: primry */ SELECT 1", "unknown hint"},
        {"/* pgrouter: 42 */ SELECT 1", "unknown hint"},
        {"/* pgrouter: node= */ SELECT 1", "empty or invalid node id"},
        {"/* pgrouter: node */ SELECT 1", "expected node=ID"},
        {"/* pgrouter: node:pg2 */ SELECT 1", "expected node=ID"},
        {"/* pgrouter: node=pg 2 */ SELECT 1", "invalid node id"},
        {"/* pgrouter: node=pg2! */ SELECT 1", "invalid node id"},
        {"/* pgrouter: node='pg2' */ SELECT 1", "empty or invalid node id"},
        {"/* pgrouter: node=abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd */",
         "longer than 63"},
        {"/* pgrouter: primary please */ SELECT 1", "unexpected text"},
        {"/* pgrouter: primary, replica */ SELECT 1", "unexpected text"},
        {"/* pgrouter: primary */ /* pgrouter: replica */ SELECT 1", "conflicts"},
        {"/* pgrouter: node=a */ /* pgrouter: node=b */ SELECT 1", "conflicts"},
        {"-- pgrouter: broadcast\n/* pgrouter: node=a */ SELECT 1", "conflicts"},
        {"-- pgrouter: everywhere\nSELECT 1", "unknown hint"},
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(bad); i++) {
        const pgr_hint_t *r = hint(bad[i].sql);
        if (!r->error || !strstr(r->error_msg, bad[i].msg_part))
            printf("# %s: error %d \"%s\"\n", bad[i].sql, r->error, r->error_msg);
        CHECK(r->error);
        CHECK(strstr(r->error_msg, bad[i].msg_part) != NULL);
        CHECK_INT(r->kind, PGR_HINT_NONE);      /* never half-applied */
        CHECK_STR(r->node, "");
    }
    /* the message names the comment's text */
    CHECK_STR(hint("/* pgrouter: nod=pg2 */ SELECT 1")->error_msg,
              "unknown hint (expected primary, replica, broadcast or node=ID) in routing hint "
              "\"pgrouter: nod=pg2\"");
    /* control bytes are not echoed */
    CHECK(strchr(hint("/* pgrouter: x\001y */")->error_msg, '\001') == NULL);
}

TEST(names)
{
    CHECK_STR(pgr_hint_kind_name(PGR_HINT_NONE), "none");
    CHECK_STR(pgr_hint_kind_name(PGR_HINT_PRIMARY), "primary");
    CHECK_STR(pgr_hint_kind_name(PGR_HINT_REPLICA), "replica");
    CHECK_STR(pgr_hint_kind_name(PGR_HINT_NODE), "node");
    CHECK_STR(pgr_hint_kind_name(PGR_HINT_BROADCAST), "broadcast");
}

TEST(through_classifier)
{
    pgr_classifier_t *c = NULL;
    const pgr_classification_t *r = NULL;
    CHECK_INT(pgr_classifier_new(8, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    const char *q = "/* pgrouter: node=pg2 */ INSERT INTO t VALUES (1)";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_NODE);
    CHECK_STR(r->hint_node, "pg2");
    CHECK(!r->hint_error);
    CHECK_INT(r->cls, PGR_CLASS_WRITE);
    /* cached: the hint comes back with the class */
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_NODE);
    CHECK_STR(r->hint_node, "pg2");

    q = "/* pgrouter: nod=pg2 */ SELECT 1";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK(r->hint_error);
    CHECK_INT(r->hint, PGR_HINT_NONE);
    CHECK(strstr(r->hint_error_msg, "nod=pg2") != NULL);
    CHECK_INT(r->cls, PGR_CLASS_READ);

    q = "/* pgrouter: broadcast */ SELECT 1; SELECT 2";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_BROADCAST);
    CHECK_INT(r->n_stmts, 2);

    /* a hint on text that does not parse is still read; the class is WRITE */
    q = "/* pgrouter: replica */ SELEC 1";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_REPLICA);
    CHECK(r->parse_error);
    CHECK_INT(r->cls, PGR_CLASS_WRITE);

    /* the hint is part of the key: same statement, different hint */
    q = "/* pgrouter: primary */ SELECT 1";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_PRIMARY);
    q = "/* pgrouter: replica */ SELECT 1";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_REPLICA);
    q = "SELECT 1";
    CHECK_INT(pgr_classify(c, q, strlen(q), &r), 0);
    CHECK_INT(r->hint, PGR_HINT_NONE);
    pgr_classifier_free(c);
}

TEST(length_bounded)
{
    /* only sql[0..len) is read: a hint past len does not count */
    const char *q = "/* pgrouter: primary */";
    pgr_hint_parse(q, 10, &h);
    CHECK_INT(h.kind, PGR_HINT_NONE);
    CHECK(!h.error);
    pgr_hint_parse(q, strlen(q), &h);
    CHECK_INT(h.kind, PGR_HINT_PRIMARY);
    pgr_hint_parse(NULL, 0, &h);
    CHECK_INT(h.kind, PGR_HINT_NONE);
}

int
main(void)
{
    int rc = RUN(valid_forms, not_hints, malformed, names, through_classifier, length_bounded);
    pgr_classify_shutdown();
    return rc;
}

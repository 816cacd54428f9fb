/* The statement classifier: a table of statements with their expected class and flags
 * (classify_rows.h), then the merge flags, pgrouter.* settings, statement offsets, user write
 * functions, and errors. Hints are in test_hint.c, the cache in test_classify_cache.c, shapes
 * (one entry for statements that differ only in constants) in test_classify_shape.c. */
#include <time.h>

#include "route/classify.h"
#include "route/sqlscan.h"
#include "../harness.h"
#include "classify_rows.h"

TEST(table)
{
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(64, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    CHECK(PGR_ARRAY_LEN(classify_rows) >= 130);
    int bad = 0;
    for (size_t i = 0; i < PGR_ARRAY_LEN(classify_rows); i++) {
        const row_t *rw = &classify_rows[i];
        const pgr_classification_t *r = NULL;
        int rc = pgr_classify(c, rw->sql, strlen(rw->sql), &r);
        if (rc != 0 || r == NULL) {
            printf("# row %zu: rc %d: %s\n", i, rc, rw->sql);
            bad++;
            continue;
        }
        bool ro = false, local = false, sset_ok = true;
        for (int k = 0; k < r->n_stmts; k++) {
            const pgr_stmt_info_t *st = &r->stmts[k];
            ro |= st->read_only_txn;
            local |= st->set_local;
            /* session_set is exactly "pins because it is a session-level SET" */
            sset_ok &= st->session_set ==
                       (st->pins && strcmp(st->pin_reason, "session-level SET") == 0);
        }
        bool ok = (int)r->cls == rw->cls && r->n_stmts == rw->n &&
                  ro == !!(rw->flags & RO) && local == !!(rw->flags & LOCAL) &&
                  r->pins == !!(rw->flags & PIN) && r->parse_error == !!(rw->flags & PERR) &&
                  (rw->pin == NULL ? r->pin_reason == NULL
                                   : r->pin_reason && strcmp(r->pin_reason, rw->pin) == 0) &&
                  sset_ok && !r->hint_error;
        if (!ok) {
            printf("# row %zu: %s\n#   got class %s n %d ro %d local %d pins %d (%s) sset_ok %d "
                   "perr %d "
                   "(%s) why \"%s\"\n#   want class %s n %d flags %#x pin %s\n",
                   i, rw->sql, pgr_stmt_class_name(r->cls), r->n_stmts, ro, local, r->pins,
                   r->pin_reason ? r->pin_reason : "-", sset_ok, r->parse_error, r->error,
                   r->n_stmts ? r->stmts[0].why : "", pgr_stmt_class_name(rw->cls), rw->n,
                   rw->flags, rw->pin ? rw->pin : "-");
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    pgr_classifier_free(c);
}

/* Classify one string with a fresh classifier; the result is copied out. */
static pgr_classification_t one_res;
static pgr_stmt_info_t one_stmts[8];

static const pgr_classification_t *
one(const char *sql)
{
    pgr_classifier_t *c = NULL;
    const pgr_classification_t *r = NULL;
    memset(&one_res, 0, sizeof(one_res));
    if (pgr_classifier_new(4, NULL, 0, &c) != 0)
        return &one_res;
    if (pgr_classify(c, sql, strlen(sql), &r) == 0 && r) {
        one_res = *r;
        int n = r->n_stmts < 8 ? r->n_stmts : 8;
        memset(one_stmts, 0, sizeof(one_stmts));
        if (n > 0)
            memcpy(one_stmts, r->stmts, (size_t)n * sizeof(*one_stmts));
        one_res.stmts = one_stmts;      /* zeroed when there are none, so tests can look */
    }
    pgr_classifier_free(c);
    return &one_res;
}

/* session_set: the one pin a session may lift by carrying the setting (session/relay.c). */
TEST(session_set_flag)
{
    static const struct { const char *sql; bool want; } cases[] = {
        {"SET search_path = public", true},
        {"SET SESSION work_mem = '1MB'", true},
        {"SET TIME ZONE 'UTC'", true},
        {"set my.opt to 'x'", true},
        {"SET LOCAL search_path = public", false},
        {"SET work_mem TO DEFAULT", false},
        {"RESET search_path", false},
        {"RESET ALL", false},
        {"SET ROLE admin", false},
        {"SET SESSION AUTHORIZATION bob", false},
        {"SET TRANSACTION READ ONLY", false},
        {"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", false},
        {"SET pgrouter.route = 'primary'", false},
        {"SELECT set_config('a.b', '1', false)", false},
        {"LISTEN ch", false},
        {"DISCARD ALL", false},
        {"SELECT 1", false},
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        const pgr_classification_t *r = one(cases[i].sql);
        CHECK_INT(r->n_stmts, 1);
        if (r->stmts[0].session_set != cases[i].want)
            printf("# %s: session_set %d\n", cases[i].sql, r->stmts[0].session_set);
        CHECK(r->stmts[0].session_set == cases[i].want);
    }
    /* per statement: the second of two, after one that pins for another reason */
    const pgr_classification_t *r = one("LISTEN ch; SET a.b = 1");
    CHECK_INT(r->n_stmts, 2);
    CHECK(!r->stmts[0].session_set);
    CHECK(r->stmts[1].session_set);
    CHECK_STR(r->pin_reason, "LISTEN");
}

TEST(class_names)
{
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_READ), "read");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_WRITE), "write");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_DDL), "ddl");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_BEGIN), "begin");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_COMMIT), "commit");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_ROLLBACK), "rollback");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_SAVEPOINT), "savepoint");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_SET), "set");
    CHECK_STR(pgr_stmt_class_name(PGR_CLASS_UTILITY), "utility");
    CHECK_STR(pgr_stmt_class_name((pgr_stmt_class_t)99), "unknown");
}

TEST(why_text)
{
    CHECK_STR(one("SELECT nextval('s')")->stmts[0].why, "calls nextval");
    CHECK_STR(one("SELECT * FROM t FOR NO KEY UPDATE")->stmts[0].why, "FOR NO KEY UPDATE");
    CHECK_STR(one("SELECT * FROM t FOR KEY SHARE")->stmts[0].why, "FOR KEY SHARE");
    CHECK_STR(one("SELECT * FROM t FOR SHARE")->stmts[0].why, "FOR SHARE");
    CHECK_STR(one("SELECT * FROM t FOR UPDATE")->stmts[0].why, "FOR UPDATE");
    CHECK_STR(one("WITH d AS (DELETE FROM t RETURNING 1) SELECT 1")->stmts[0].why,
              "data-modifying WITH");
    CHECK_STR(one("SELECT 1 INTO x")->stmts[0].why, "SELECT INTO");
    CHECK_STR(one("COPY t TO '/tmp/x'")->stmts[0].why, "COPY TO a server file or program");
    CHECK_STR(one("SELECT 1")->stmts[0].why, "");
    CHECK_STR(one("INSERT INTO t VALUES (1)")->stmts[0].why, "");
}

TEST(transaction_options)
{
    const pgr_classification_t *r = one("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE");
    CHECK_INT(r->stmts[0].isolation, PGR_ISO_SERIALIZABLE);
    CHECK(r->stmts[0].read_only_txn && !r->stmts[0].read_write_txn && r->stmts[0].deferrable);
    r = one("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE, NOT DEFERRABLE");
    CHECK_INT(r->stmts[0].isolation, PGR_ISO_REPEATABLE_READ);
    CHECK(!r->stmts[0].read_only_txn && r->stmts[0].read_write_txn && !r->stmts[0].deferrable);
    CHECK_INT(one("BEGIN ISOLATION LEVEL READ COMMITTED")->stmts[0].isolation,
              PGR_ISO_READ_COMMITTED);
    CHECK_INT(one("BEGIN ISOLATION LEVEL READ UNCOMMITTED")->stmts[0].isolation,
              PGR_ISO_READ_UNCOMMITTED);
    CHECK_INT(one("BEGIN")->stmts[0].isolation, PGR_ISO_DEFAULT);
    r = one("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    CHECK_INT(r->stmts[0].isolation, PGR_ISO_REPEATABLE_READ);
    CHECK(r->stmts[0].read_only_txn);
    CHECK(one("SET TRANSACTION READ WRITE")->stmts[0].read_write_txn);
    CHECK(one("COMMIT AND CHAIN")->stmts[0].chain);
    CHECK(one("ROLLBACK AND CHAIN")->stmts[0].chain);
    CHECK(!one("COMMIT")->stmts[0].chain);
}

TEST(transaction_tags)
{
    /* PostgreSQL's CommandComplete tags, which pgrouter gives the statements it answers. */
    static const struct { const char *sql, *tag; bool plain; } rows[] = {
        { "BEGIN", "BEGIN", true },
        { "begin work", "BEGIN", true },
        { "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY", "BEGIN", true },
        { "START TRANSACTION", "START TRANSACTION", true },
        { "/* c */ start transaction read only", "START TRANSACTION", true },
        { "COMMIT", "COMMIT", true },
        { "END", "COMMIT", true },
        { "COMMIT AND CHAIN", "COMMIT", true },
        { "ROLLBACK", "ROLLBACK", true },
        { "ABORT", "ROLLBACK", true },
        { "PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION", false },
        { "COMMIT PREPARED 'x'", "COMMIT PREPARED", false },
        { "ROLLBACK PREPARED 'x'", "ROLLBACK PREPARED", false },
        { "SAVEPOINT a", "SAVEPOINT", false },
        { "RELEASE a", "RELEASE", false },
        { "ROLLBACK TO a", "ROLLBACK", false },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const pgr_stmt_info_t *st = &one(rows[i].sql)->stmts[0];
        CHECK_STR(st->tag, rows[i].tag);
        CHECK(st->txn_plain == rows[i].plain);
    }
    CHECK(one("SELECT 1")->stmts[0].tag == NULL);
    CHECK(one("SET TRANSACTION READ ONLY")->stmts[0].tag == NULL);
    CHECK(one("SET statement_timeout = 0")->stmts[0].tag == NULL);
    CHECK_STR(one("SET pgrouter.route = 'primary'")->stmts[0].tag, "SET");
    CHECK_STR(one("SET pgrouter.route TO DEFAULT")->stmts[0].tag, "SET");
    CHECK_STR(one("RESET pgrouter.route")->stmts[0].tag, "RESET");
    CHECK_STR(one("SHOW pgrouter.route")->stmts[0].tag, "SHOW");
}

TEST(pgrouter_settings)
{
    const pgr_classification_t *r = one("SET pgrouter.route = 'node:pg2'");
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_SET);
    CHECK_STR(r->stmts[0].pgrvar_name, "pgrouter.route");
    CHECK_STR(r->stmts[0].pgrvar_value, "node:pg2");
    CHECK(!r->stmts[0].pgrvar_bad && !r->pins && !r->stmts[0].set_local);

    r = one("set PGROUTER.Route to auto");
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_SET);
    CHECK_STR(r->stmts[0].pgrvar_name, "pgrouter.route");
    CHECK_STR(r->stmts[0].pgrvar_value, "auto");

    r = one("SET pgrouter.route TO 'primary'");
    CHECK_STR(r->stmts[0].pgrvar_value, "primary");
    /* PRIMARY is a reserved word: unquoted it does not parse (PostgreSQL says the same) */
    CHECK(one("SET pgrouter.route TO primary")->parse_error);
    r = one("SET pgrouter.route = on");
    CHECK_STR(r->stmts[0].pgrvar_value, "on");
    r = one("SET pgrouter.route = 'a', 'b'");
    CHECK_STR(r->stmts[0].pgrvar_value, "a, b");
    r = one("SET pgrouter.weight = 5");
    CHECK_STR(r->stmts[0].pgrvar_name, "pgrouter.weight");
    CHECK_STR(r->stmts[0].pgrvar_value, "5");

    r = one("SET LOCAL pgrouter.route = 'broadcast'");
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_SET);
    CHECK(r->stmts[0].set_local);
    CHECK_STR(r->stmts[0].pgrvar_value, "broadcast");

    r = one("SHOW pgrouter.route");
    CHECK_INT(r->cls, PGR_CLASS_READ);
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_SHOW);
    CHECK_STR(r->stmts[0].pgrvar_name, "pgrouter.route");

    r = one("RESET pgrouter.route");
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_RESET);
    CHECK_STR(r->stmts[0].pgrvar_name, "pgrouter.route");
    r = one("SET pgrouter.route TO DEFAULT");
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_RESET);

    /* not pgrouter's */
    CHECK_INT(one("SET search_path = x")->stmts[0].pgrvar, PGR_PGRVAR_NONE);
    CHECK_INT(one("SHOW search_path")->stmts[0].pgrvar, PGR_PGRVAR_NONE);
    CHECK_INT(one("SET pgrouterx.route = 1")->stmts[0].pgrvar, PGR_PGRVAR_NONE);
    CHECK_INT(one("RESET ALL")->stmts[0].pgrvar, PGR_PGRVAR_NONE);

    /* too long a value, or not a constant: bad, never truncated silently */
    char sql[400];
    snprintf(sql, sizeof(sql), "SET pgrouter.route = 'node:%0200d'", 7);
    r = one(sql);
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_SET);
    CHECK(r->stmts[0].pgrvar_bad);
    CHECK(one("SET pgrouter.route = interval '1 day'")->parse_error);   /* only TIME ZONE */
    CHECK(one("SET pgrouter.route FROM CURRENT")->stmts[0].pgrvar_bad);

    /* in a multi-statement string, each statement carries its own */
    r = one("SET pgrouter.route = 'replica'; SELECT 1");
    CHECK_INT(r->n_stmts, 2);
    CHECK_INT(r->stmts[0].pgrvar, PGR_PGRVAR_SET);
    CHECK_INT(r->stmts[1].pgrvar, PGR_PGRVAR_NONE);
}

TEST(merge_flags)
{
    const pgr_classification_t *r = one("SELECT * FROM t ORDER BY a LIMIT 10 OFFSET 5");
    const pgr_stmt_info_t *s = &r->stmts[0];
    CHECK(s->has_order_by && s->has_limit && !s->has_group_by && !s->has_aggregates);
    CHECK_INT(s->limit, 10);
    CHECK_INT(s->offset, 5);

    s = &one("SELECT a, count(*) FROM t GROUP BY a")->stmts[0];
    CHECK(s->has_group_by && s->has_aggregates && !s->has_order_by && !s->has_limit);
    CHECK_INT(s->limit, -1);
    CHECK_INT(s->offset, -1);

    s = &one("SELECT max(a) + 1 FROM t")->stmts[0];
    CHECK(s->has_aggregates && !s->has_group_by);
    s = &one("SELECT my_agg(DISTINCT a) FROM t")->stmts[0];
    CHECK(s->has_aggregates);
    s = &one("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a) FROM t")->stmts[0];
    CHECK(s->has_aggregates);
    s = &one("SELECT a FROM t GROUP BY a HAVING a > 1")->stmts[0];
    CHECK(s->has_aggregates && s->has_group_by);
    s = &one("SELECT a FROM t")->stmts[0];
    CHECK(!s->has_order_by && !s->has_limit && !s->has_group_by && !s->has_aggregates);
    CHECK(!s->has_distinct && !s->is_set_op && !s->limit_with_ties);
    s = &one("SELECT (SELECT count(*) FROM u) FROM t")->stmts[0];
    CHECK(!s->has_aggregates);
    s = &one("SELECT count(*) OVER () FROM t")->stmts[0];
    CHECK(!s->has_aggregates);
    s = &one("SELECT * FROM t LIMIT ALL")->stmts[0];
    CHECK(!s->has_limit);
    CHECK_INT(s->limit, -1);
    s = &one("SELECT * FROM t LIMIT $1 OFFSET $2")->stmts[0];
    CHECK(s->has_limit);
    CHECK_INT(s->limit, -1);
    CHECK_INT(s->offset, -1);
    s = &one("SELECT * FROM t LIMIT 10000000000")->stmts[0];
    CHECK_INT(s->limit, 10000000000LL);
    s = &one("SELECT * FROM t OFFSET 3")->stmts[0];
    CHECK(!s->has_limit);
    CHECK_INT(s->offset, 3);
    s = &one("SELECT * FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES")->stmts[0];
    CHECK(s->has_limit && s->limit_with_ties && s->has_order_by);
    CHECK_INT(s->limit, 3);
    s = &one("SELECT * FROM t FETCH NEXT 7 ROWS ONLY")->stmts[0];
    CHECK(s->has_limit && !s->limit_with_ties);
    CHECK_INT(s->limit, 7);
    s = &one("SELECT DISTINCT a FROM t")->stmts[0];
    CHECK(s->has_distinct);
    s = &one("SELECT 1 UNION ALL SELECT 2 ORDER BY 1 LIMIT 1")->stmts[0];
    CHECK(s->is_set_op && s->has_order_by && s->has_limit);
    CHECK_INT(s->limit, 1);
    /* the subquery's LIMIT is not the statement's */
    s = &one("SELECT * FROM (SELECT * FROM t ORDER BY a LIMIT 3) s")->stmts[0];
    CHECK(!s->has_limit && !s->has_order_by);
    /* EXPLAIN ANALYZE and non-SELECTs carry none */
    s = &one("EXPLAIN ANALYZE SELECT a, count(*) FROM t GROUP BY a ORDER BY a LIMIT 3")->stmts[0];
    CHECK(!s->has_order_by && !s->has_limit && !s->has_group_by && !s->has_aggregates);
    CHECK_INT(s->limit, -1);
    s = &one("INSERT INTO t SELECT * FROM u ORDER BY a LIMIT 3")->stmts[0];
    CHECK(!s->has_order_by && !s->has_limit);
    CHECK_INT(s->limit, -1);
}

TEST(statement_offsets)
{
    const char *sql = "SELECT 1; INSERT INTO t VALUES (2);\n  SHOW x";
    const pgr_classification_t *r = one(sql);
    CHECK_INT(r->n_stmts, 3);
    CHECK_INT(r->cls, PGR_CLASS_WRITE);
    CHECK_INT(r->stmts[0].cls, PGR_CLASS_READ);
    CHECK_INT(r->stmts[1].cls, PGR_CLASS_WRITE);
    CHECK_INT(r->stmts[2].cls, PGR_CLASS_READ);
    char buf[64];
    for (int i = 0; i < 3; i++) {
        const pgr_stmt_info_t *s = &r->stmts[i];
        CHECK(s->text_offset + s->text_length <= strlen(sql));
        snprintf(buf, sizeof(buf), "%.*s", (int)s->text_length, sql + s->text_offset);
        /* trimmed of leading whitespace, the text is the statement */
        const char *p = buf;
        while (*p == ' ' || *p == '\n')
            p++;
        CHECK_STR(p, i == 0 ? "SELECT 1" : i == 1 ? "INSERT INTO t VALUES (2)" : "SHOW x");
    }
}

TEST(parse_error_detail)
{
    const pgr_classification_t *r = one("SELECT * FORM t");
    CHECK(r->parse_error);
    CHECK_INT(r->cls, PGR_CLASS_WRITE);
    CHECK_INT(r->n_stmts, 0);
    CHECK(strstr(r->error, "syntax error") != NULL);
    CHECK(strstr(r->error, "FORM") != NULL);
    CHECK_INT(r->error_cursor, 10);

    /* a zero byte inside the text: not parsed at all */
    static const char nul[] = "SELECT 1\0; DELETE FROM t";
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(4, NULL, 0, &c), 0);
    const pgr_classification_t *rr = NULL;
    CHECK_INT(pgr_classify(c, nul, sizeof(nul) - 1, &rr), 0);
    CHECK(rr && rr->parse_error && rr->cls == PGR_CLASS_WRITE);
    CHECK(rr && rr->n_stmts == 0 && rr->stmts == NULL);
    /* and the same text up to the zero byte is a read: different keys */
    CHECK_INT(pgr_classify(c, nul, 8, &rr), 0);
    CHECK(rr && !rr->parse_error && rr->cls == PGR_CLASS_READ);
    pgr_classifier_free(c);
}

TEST(user_write_functions)
{
    const char *const fns[] = {"app.audit_log", "bump"};
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(16, fns, 2, &c), 0);
    if (c == NULL)
        return;
    static const struct { const char *sql; int cls; } cases[] = {
        {"SELECT app.audit_log('x')", W},
        {"SELECT audit_log('x')", W},            /* unqualified may resolve to app. */
        {"SELECT other.audit_log('x')", R},
        {"SELECT bump()", W},
        {"SELECT other.bump()", W},
        {"SELECT * FROM t WHERE a = (SELECT bump())", W},
        {"SELECT bumps()", R},
        {"SELECT nextval('s')", W},              /* the built-ins still apply */
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        const pgr_classification_t *r = NULL;
        CHECK_INT(pgr_classify(c, cases[i].sql, strlen(cases[i].sql), &r), 0);
        if (r && (int)r->cls != cases[i].cls)
            printf("# %s: got %s\n", cases[i].sql, pgr_stmt_class_name(r->cls));
        CHECK(r && (int)r->cls == cases[i].cls);
    }
    pgr_classifier_free(c);

    const char *const empty[] = {""};
    const char *const dot[] = {"app."};
    const char *const nul[] = {NULL};
    CHECK_INT(pgr_classifier_new(16, empty, 1, &c), PGR_EINVAL);
    CHECK(c == NULL);
    CHECK_INT(pgr_classifier_new(16, dot, 1, &c), PGR_EINVAL);
    CHECK_INT(pgr_classifier_new(16, nul, 1, &c), PGR_EINVAL);
}

/* "SELECT " + head + n * unit + tail, malloc'd. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(7 + hl + ul * n + tl + 1);
    if (s == NULL)
        return NULL;
    char *p = s;
    memcpy(p, "SELECT ", 7);
    p += 7;
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    *len = (size_t)(p - s) + tl;
    return s;
}

static const pgr_classification_t *
classify_len(pgr_classifier_t *c, const char *sql, size_t len)
{
    const pgr_classification_t *r = NULL;
    if (pgr_classify(c, sql, len, &r) != 0)
        return NULL;
    return r;
}

TEST(deep_statements)
{
    /* libpg_query's protobuf output recurses once per tree level (a left-deep chain of 25,000
     * operators overflows an 8 MB stack) and takes time quadratic in the depth. Chains up to
     * the limit are parsed (long ones on the private stack) and walked to the bottom; deeper
     * ones are not parsed at all and are writes. */
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(4, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    size_t len;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *q = repeat("1", "+1", PGR_CLASSIFY_MAX_DEPTH / 2 - 10, "", &len);
    const pgr_classification_t *r = q ? classify_len(c, q, len) : NULL;
    CHECK(r && !r->parse_error && r->cls == PGR_CLASS_READ);
    free(q);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("# a %d-level chain classified in %.1f ms\n", PGR_CLASSIFY_MAX_DEPTH / 2 - 10,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    q = repeat("nextval('s')", "+1", PGR_CLASSIFY_MAX_DEPTH / 2 - 10, "", &len);
    r = q ? classify_len(c, q, len) : NULL;
    CHECK(r && !r->parse_error && r->cls == PGR_CLASS_WRITE);
    if (r && r->n_stmts == 1)
        CHECK_STR(r->stmts[0].why, "calls nextval");
    free(q);
    q = repeat("'a'", "||'b'", 1400, " FROM t FOR UPDATE", &len);
    r = q ? classify_len(c, q, len) : NULL;
    CHECK(r && !r->parse_error && r->cls == PGR_CLASS_WRITE);
    free(q);
    q = repeat("", "abs(", 500, "1", &len);     /* the pre-scan tracks 511 bracket levels */
    if (q != NULL) {
        q = realloc(q, len + 500 + 1);
        memset(q + len, ')', 500);
        q[len + 500] = '\0';
        r = classify_len(c, q, len + 500);
        CHECK(r && !r->parse_error && r->cls == PGR_CLASS_READ);
        free(q);
    }
    /* too deep: not parsed (a 100,000-operator chain would take half a minute) */
    q = repeat("1", "+1", 100000, "", &len);
    r = q ? classify_len(c, q, len) : NULL;
    CHECK(r && r->parse_error && r->cls == PGR_CLASS_WRITE && r->n_stmts == 0);
    CHECK(r && strstr(r->error, "not parsed: nested deeper") != NULL);
    free(q);
    q = repeat("", "abs(", 20000, "1", &len);
    if (q != NULL) {
        q = realloc(q, len + 20000 + 1);
        memset(q + len, ')', 20000);
        q[len + 20000] = '\0';
        r = classify_len(c, q, len + 20000);
        CHECK(r && r->parse_error && r->cls == PGR_CLASS_WRITE);
        free(q);
    }
    /* long but shallow: parsed (a 300 KB IN list, on the private stack) */
    q = repeat("* FROM t WHERE id IN (0", ",12345", 50000, ")", &len);
    r = q ? classify_len(c, q, len) : NULL;
    CHECK(r && !r->parse_error && r->cls == PGR_CLASS_READ);
    free(q);
    /* over the length limit: not parsed, a write */
    q = repeat("* FROM t WHERE id IN (0", ",12345", PGR_CLASSIFY_MAX_PARSE / 6, ")", &len);
    r = q ? classify_len(c, q, len) : NULL;
    CHECK(r && r->parse_error && r->cls == PGR_CLASS_WRITE && r->n_stmts == 0);
    CHECK(r && strstr(r->error, "not parsed") != NULL);
    free(q);
    /* a short statement after all that still works */
    r = classify_len(c, "SELECT 1", 8);
    CHECK(r && r->cls == PGR_CLASS_READ);
    pgr_classifier_free(c);
}

TEST(depth_bound)
{
    /* the pre-scan's bound is never below the real depth of these, and skips quoted text */
    CHECK(pgr_sqlscan_depth("SELECT 1", 8, 100) >= 1);
    CHECK(pgr_sqlscan_depth("SELECT 1+1+1+1", 14, 100) >= 3);
    size_t a = pgr_sqlscan_depth("SELECT ((((1))))", 16, 100);
    CHECK(a >= 4);
    /* commas, AND, OR separate: a long flat list stays shallow */
    const char *flat = "SELECT 1, 2, 3 WHERE a = 1 OR a = 2 OR a = 3 AND b = 4";
    CHECK(pgr_sqlscan_depth(flat, strlen(flat), 1000) < 12);
    /* BETWEEN's AND does not separate */
    const char *btw = "SELECT x BETWEEN 1 AND 2 BETWEEN 3 AND 4 BETWEEN 5 AND 6";
    CHECK(pgr_sqlscan_depth(btw, strlen(btw), 1000) >= 6);
    /* operators inside strings, comments and dollar quotes are not counted */
    const char *q1 = "SELECT '+++++++++++++++++++++' /* + + + + + + + + + */ -- + + + + +\n";
    const char *q2 = "SELECT $x$ + + + + + + + + + + + + $x$, E'\\' + + + + + + + + + + '";
    CHECK(pgr_sqlscan_depth(q1, strlen(q1), 1000) <= 3);
    CHECK(pgr_sqlscan_depth(q2, strlen(q2), 1000) <= 4);
    /* a bracketed part deep inside a later chain adds up */
    const char *q3 = "SELECT (((1))) + 1 + 1 + 1";
    CHECK(pgr_sqlscan_depth(q3, strlen(q3), 1000) >= 6);
    /* saturates at the cap; odd bytes never stall it */
    CHECK_INT(pgr_sqlscan_depth("SELECT 1+1+1+1+1+1+1+1+1+1", 26, 5), 5);
    static const char odd[] = "SELECT $1 $ $$ \0 ( [ ) ] \" \\ {}";
    CHECK(pgr_sqlscan_depth(odd, sizeof(odd) - 1, 1000) < 1000);
    static const char nul[] = "SELECT 1\0\0\0+1";
    CHECK(pgr_sqlscan_depth(nul, sizeof(nul) - 1, 1000) < 1000);
}

int
main(void)
{
    int rc = RUN(table, session_set_flag, class_names, why_text, transaction_options,
               transaction_tags, pgrouter_settings, merge_flags, statement_offsets,
               parse_error_detail, user_write_functions, deep_statements, depth_bound);
    pgr_classify_shutdown();
    return rc;
}

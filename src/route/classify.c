/* The statement classifier (see classify.h): the whole string checked, parsed by libpg_query
 * (on a private stack when long) and unpacked with protobuf-c, each statement classed
 * (classify_stmt.c) and the classes combined. The object and its cache are in
 * classify_cache.c; the files that include pg_query.h are those listed in classify_pgq.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route/classify_pgq.h"

/* ---- names --------------------------------------------------------------------------- */

static const char *const class_names[] = {
    [PGR_CLASS_READ] = "read",       [PGR_CLASS_WRITE] = "write",
    [PGR_CLASS_DDL] = "ddl",         [PGR_CLASS_BEGIN] = "begin",
    [PGR_CLASS_COMMIT] = "commit",   [PGR_CLASS_ROLLBACK] = "rollback",
    [PGR_CLASS_SAVEPOINT] = "savepoint", [PGR_CLASS_SET] = "set",
    [PGR_CLASS_UTILITY] = "utility",
};

const char *
pgr_stmt_class_name(pgr_stmt_class_t c)
{
    if ((unsigned)c >= PGR_ARRAY_LEN(class_names))
        return "unknown";
    return class_names[c];
}

/* ---- libpg_query's per-thread memory ----------------------------------------------------- */

/* libpg_query's memory lives in per-thread contexts it sets up on first use and can free only
 * once (pg_query_exit; it does not set itself up again afterwards). These two per-thread flags
 * mirror that state so the shutdown call is safe whatever happened before it. */
static __thread bool pgq_used;
static __thread bool pgq_exited;

void
pgr_classify_shutdown(void)
{
    if (pgq_used && !pgq_exited)
        pg_query_exit();
    pgq_exited = true;
}

/* ---- the whole string ----------------------------------------------------------------------- */

static pgr_stmt_class_t
combine(const pgr_stmt_info_t *stmts, int n)
{
    if (n == 0)
        return PGR_CLASS_READ;
    if (n == 1)
        return stmts[0].cls;
    bool same = true;
    for (int i = 0; i < n; i++) {
        pgr_stmt_class_t k = stmts[i].cls;
        if (k == PGR_CLASS_WRITE || k == PGR_CLASS_DDL || k == PGR_CLASS_UTILITY)
            return PGR_CLASS_WRITE;
        same &= k == stmts[0].cls;
    }
    return same ? stmts[0].cls : PGR_CLASS_WRITE;
}

static void
set_parse_error(pgr_classification_t *r, const char *msg, int cursor)
{
    r->parse_error = true;
    r->cls = PGR_CLASS_WRITE;
    r->n_stmts = 0;
    r->error_cursor = cursor;
    snprintf(r->error, sizeof(r->error), "%s", msg ? msg : "syntax error");
}

static int
ensure_stmts(pgr_classifier_t *c, size_t n)
{
    if (n <= c->scratch_cap)
        return 0;
    size_t cap = c->scratch_cap ? c->scratch_cap : 8;
    while (cap < n)
        cap *= 2;
    pgr_stmt_info_t *p = realloc(c->scratch_stmts, cap * sizeof(*p));
    if (p == NULL)
        return PGR_ENOMEM;
    c->scratch_stmts = p;
    c->scratch_cap = cap;
    return 0;
}

/* Statements up to this long are parsed on the caller's stack: at most ~2,000 tree levels,
 * well under 1 MB of stack. Longer ones run on the classifier's private stack. */
#define DIRECT_PARSE_MAX  4096
/* Reserved, not committed. The depth pre-scan keeps trees to a few thousand levels (~400
 * bytes of stack each, more under ASan); this leaves room for it to be wrong tenfold. */
#define BIG_STACK_SIZE    ((size_t)64 << 20)
/* After a statement this long, hand the stack pages it touched back to the system. */
#define RELEASE_AFTER     (64 * 1024)

static int parse_and_walk(pgr_classifier_t *c, size_t len);

typedef struct deep_call {
    pgr_classifier_t *c;
    size_t len;
    int rc;
} deep_call_t;

static void
deep_entry(void *arg)
{
    deep_call_t *call = arg;
    call->rc = parse_and_walk(call->c, call->len);
}

/* Parse and classify sql[0..len) into c->scratch (stmts in c->scratch_stmts). */
static int
classify_text(pgr_classifier_t *c, const char *sql, size_t len)
{
    pgr_classification_t *r = &c->scratch;
    pgr_hint_t hint;
    memset(r, 0, sizeof(*r));
    pgr_hint_parse(sql, len, &hint);
    r->hint = hint.kind;
    memcpy(r->hint_node, hint.node, sizeof(r->hint_node));
    r->hint_error = hint.error;
    memcpy(r->hint_error_msg, hint.error_msg, sizeof(r->hint_error_msg));

    if (len > 0 && memchr(sql, '\0', len) != NULL) {
        set_parse_error(r, "query string contains a zero byte", 0);
        return 0;
    }
    if (len > PGR_CLASSIFY_MAX_PARSE) {
        char msg[96];
        snprintf(msg, sizeof(msg), "not parsed: %zu bytes is over the classifier's %u-byte limit",
                 len, (unsigned)PGR_CLASSIFY_MAX_PARSE);
        set_parse_error(r, msg, 0);
        return 0;
    }
    if (len + 1 > c->text_cap) {
        char *t = realloc(c->text, len + 1);
        if (t == NULL)
            return PGR_ENOMEM;
        c->text = t;
        c->text_cap = len + 1;
    }
    memcpy(c->text, sql, len);
    c->text[len] = '\0';

    size_t depth = pgr_sqlscan_depth(sql, len, PGR_CLASSIFY_MAX_DEPTH + 1);
    c->depth = depth;
    if (depth > PGR_CLASSIFY_MAX_DEPTH) {
        char msg[96];
        snprintf(msg, sizeof(msg), "not parsed: nested deeper than the classifier's limit (%u)",
                 (unsigned)PGR_CLASSIFY_MAX_DEPTH);
        set_parse_error(r, msg, 0);
        return 0;
    }
    if (len <= DIRECT_PARSE_MAX)
        return parse_and_walk(c, len);
    if (c->stack == NULL && pgr_bigstack_new(BIG_STACK_SIZE, &c->stack) != 0) {
        set_parse_error(r, "not parsed: no stack for a long statement", 0);
        return 0;
    }
    deep_call_t call = { .c = c, .len = len };
    pgr_bigstack_run(c->stack, deep_entry, &call);
    if (len > RELEASE_AFTER)
        pgr_bigstack_release(c->stack);
    return call.rc;
}

/* The parse and the walk, for a NUL-terminated copy in c->text of length len. */
static int
parse_and_walk(pgr_classifier_t *c, size_t len)
{
    pgr_classification_t *r = &c->scratch;
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(c->text);
    if (pr.error != NULL) {
        set_parse_error(r, pr.error->message, pr.error->cursorpos);
        pg_query_free_protobuf_parse_result(pr);
        return 0;
    }
    PgQuery__ParseResult *tree =
        pg_query__parse_result__unpack(NULL, pr.parse_tree.len, (const uint8_t *)pr.parse_tree.data);
    pg_query_free_protobuf_parse_result(pr);
    if (tree == NULL)
        return PGR_ENOMEM;      /* the library's own output: only memory can fail here */

    int rc = ensure_stmts(c, tree->n_stmts);
    if (rc != 0)
        goto out;
    r->stmts = tree->n_stmts ? c->scratch_stmts : NULL;
    for (size_t i = 0; i < tree->n_stmts; i++) {
        pgr_stmt_info_t *st = &c->scratch_stmts[i];
        const PgQuery__RawStmt *raw = tree->stmts[i];
        memset(st, 0, sizeof(*st));
        st->limit = st->offset = -1;
        if (raw == NULL || raw->stmt == NULL) {
            st->cls = PGR_CLASS_WRITE;
            snprintf(st->why, sizeof(st->why), "empty parse node");
        } else {
            pgr_classify_stmt(c, st, raw->stmt);
        }
        size_t off = raw && raw->stmt_location > 0 ? (size_t)raw->stmt_location : 0;
        size_t sl = raw && raw->stmt_len > 0 ? (size_t)raw->stmt_len : 0;
        if (off > len)
            off = len;
        if (sl == 0 || sl > len - off)
            sl = len - off;     /* 0 means "to the end of the string" */
        st->text_offset = (uint32_t)off;
        st->text_length = (uint32_t)sl;
        if (st->pins && !r->pins) {
            r->pins = true;
            r->pin_reason = st->pin_reason;
        }
    }
    r->n_stmts = (int)tree->n_stmts;
    r->cls = combine(c->scratch_stmts, r->n_stmts);
    if (c->shape_pending != NULL)
        c->shape_free = pgr_classify_shape_free(c, tree, c->shape_pending);
out:
    pg_query__parse_result__free_unpacked(tree, NULL);
    return rc;
}

int
pgr_classify_parse(pgr_classifier_t *c, const char *sql, size_t len)
{
    if (pgq_exited)
        return PGR_ESHUTDOWN;
    pgq_used = true;
    return classify_text(c, sql, len);
}

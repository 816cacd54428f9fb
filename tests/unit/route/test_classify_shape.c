/* Shapes: statements that differ only in constants share one cache entry (route/sqlscan.h,
 * the shape section of route/classify_stmt.c), and sharing never changes a result. The scan's
 * keys and refusals; then differential tests: every row of the classifier's table, and random
 * variants of each with other constants, classified through one shared cache, must give
 * exactly what a parse of that very text gives (a classifier without a cache). */
#include <ctype.h>
#include <stddef.h>
#include <time.h>

#include "route/classify.h"
#include "route/sqlscan.h"
#include "../harness.h"
#include "classify_rows.h"

/* ---- the scan ------------------------------------------------------------------------------ */

static char keybuf[PGR_SQLSCAN_KEY_CAP(PGR_SQLSCAN_SHAPE_MAX)];

/* The shape key of sql, readable: placeholders as <kind>; NULL when the scan refuses. */
static const char *
shape_of(const char *sql, size_t len, pgr_sqlshape_t *sh)
{
    static char out[4 * PGR_SQLSCAN_SHAPE_MAX];
    if (!pgr_sqlscan_shape(sql, len, keybuf, sh))
        return NULL;
    if (sh->key_len < 1 || keybuf[0] != '\0' || sh->key_len > PGR_SQLSCAN_KEY_CAP(len))
        return "(bad key)";
    size_t o = 0;
    for (size_t i = 1; i < sh->key_len; i++) {
        if (keybuf[i] == '\x01' && i + 1 < sh->key_len) {
            o += (size_t)sprintf(out + o, "<%c>", keybuf[++i]);
        } else {
            out[o++] = keybuf[i];
        }
    }
    out[o] = '\0';
    return out;
}

static const char *
shape(const char *sql)
{
    pgr_sqlshape_t sh;
    return shape_of(sql, strlen(sql), &sh);
}

TEST(shape_keys)
{
    static const struct { const char *sql, *key; } cases[] = {
        {"SELECT abalance FROM pgbench_accounts WHERE aid = 48213",
         "SELECT abalance FROM pgbench_accounts WHERE aid = <i>"},
        /* int4 or not: ICONST and FCONST go to different places in the grammar */
        {"select 1, 2.5, .5, 5., 1e3, 1.5E-3, 2147483647, 2147483648, 0002147483647, 99999999999",
         "select <i>, <f>, <f>, <f>, <f>, <f>, <i>, <f>, <i>, <f>"},
        {"SELECT 'a''b', E'x\\'y''z', B'0101', x'1F', N'nat', $$d$$, $t$ $$ $t$, $1",
         "SELECT <s>, E<e>, B<b>, x<x>, N<s>, <d>, <d>, $1"},
        /* comments (hints), case and spacing are kept as written */
        {"/* pgrouter: replica */ Select *  FROM t WHERE a = 'x' -- 'c' 1\n",
         "/* pgrouter: replica */ Select *  FROM t WHERE a = <s> -- 'c' 1\n"},
        {"/* a /* nested 'x' */ 5 */ SELECT 1", "/* a /* nested 'x' */ 5 */ SELECT <i>"},
        /* LIMIT, OFFSET, FETCH FIRST/NEXT values and float precision are kept */
        {"SELECT * FROM t WHERE a = 1 LIMIT 10 OFFSET '5'",
         "SELECT * FROM t WHERE a = <i> LIMIT 10 OFFSET '5'"},
        {"SELECT * FROM t WHERE a = 1 FETCH FIRST 3 ROWS ONLY",
         "SELECT * FROM t WHERE a = <i> FETCH FIRST 3 ROWS ONLY"},
        {"SELECT * FROM t WHERE a = 1 LIMIT (5)", "SELECT * FROM t WHERE a = <i> LIMIT (<i>)"},
        {"SELECT x::FLOAT (10), 3 FROM t", "SELECT x::FLOAT (10), <i> FROM t"},
        /* E'' with escapes the lexer checks: kept */
        {"SELECT E'\\101', E'\\x41', E'\\u0041', E'\\n', 7",
         "SELECT E'\\101', E'\\x41', E'\\u0041', E<e>, <i>"},
        /* identifiers that look like prefixes or hold digits and '$' */
        {"SELECT e, t1.b2, a$1, xe'q' FROM t2 WHERE c = 0", "SELECT e, t1.b2, a$1, xe<s> FROM t2 "
                                                            "WHERE c = <i>"},
        {"SELECT \"it's\"\"\" FROM t WHERE a = 1", "SELECT \"it's\"\"\" FROM t WHERE a = <i>"},
        {"SELECT a..5", "SELECT a..<i>"},
        {"WITH x AS (SELECT 1) SELECT * FROM x", "WITH x AS (SELECT <i>) SELECT * FROM x"},
        {"(SELECT 1)", "(SELECT <i>)"},
        {"INSERT INTO t VALUES (1, 'x');", "INSERT INTO t VALUES (<i>, <s>);"},
        {"UPDATE t SET a = 1 ; ; -- done", "UPDATE t SET a = <i> ; ; -- done"},
        {"DELETE FROM t WHERE a = 1e10", "DELETE FROM t WHERE a = <f>"},
        {"VALUES (1)", "VALUES (<i>)"},
        {"TABLE t LIMIT 1", "TABLE t LIMIT 1"},
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        const char *k = shape(cases[i].sql);
        if (i + 1 == PGR_ARRAY_LEN(cases)) {
            CHECK(k == NULL);           /* nothing replaced: the exact text is the key */
            continue;
        }
        CHECK_STR(k, cases[i].key);
    }

    pgr_sqlshape_t sh;
    const char *q = "SELECT * FROM t WHERE a = 1 LIMIT 10 OFFSET '5';  ";
    CHECK(shape_of(q, strlen(q), &sh) != NULL);
    CHECK_INT(sh.n_replaced, 1);
    CHECK_INT(sh.n_kept, 2);
    CHECK_INT(sh.kept[0], strstr(q, "10") - q);
    CHECK_INT(sh.kept[1], strstr(q, "'5'") - q);
    CHECK_INT(sh.stmt_offset, 0);
    CHECK_INT(sh.stmt_length, strchr(q, ';') - q);
    q = "/* x */ SELECT 'a;b' -- ;\n";
    CHECK(shape_of(q, strlen(q), &sh) != NULL);
    CHECK_INT(sh.stmt_length, strlen(q));
}

TEST(shape_refusals)
{
    static const char *const refused[] = {
        "SELECT 1; SELECT 2", "; SELECT 1", "SELECT 1; x",
        "SET a.b = 1", "BEGIN", "SHOW x", "EXPLAIN SELECT 1", "COPY (SELECT 1) TO STDOUT",
        "SELEC 1", "", "   ", "-- only a comment 1",
        "SELECT 'a'\n'b'", "SELECT 'a' -- c\n 'b'", "SELECT 'a' 'b'", "SELECT b'01''1'",
        "SELECT E'a'\n'b'",
        "SELECT U&'d\\0061t'", "SELECT u&\"x\" FROM t WHERE a = 1",
        "SELECT 123abc", "SELECT 1..2", "SELECT 1.5.3", "SELECT 1e", "SELECT 1e+", "SELECT 1$",
        "SELECT .5e", "SELECT 1_000",
        "SELECT 'unterminated", "SELECT E'x\\'", "SELECT \"x", "SELECT 1 /* open", "SELECT $$x",
        "SELECT $a$ x $b$", "SELECT $", "SELECT $ 1", "SELECT $a",
        "SELECT 1\v", "SELECT \x01 1", "SELECT 1 /* \x02 */", "SELECT 'a\x01' -- \x01\n",
        "SELECT x FROM t",
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(refused); i++) {
        const char *k = shape(refused[i]);
        if (k != NULL)
            printf("# shaped: %s -> %s\n", refused[i], k);
        CHECK(k == NULL);
    }
    static const char nul[] = "SELECT 1\0 + 2";
    pgr_sqlshape_t sh;
    CHECK(!pgr_sqlscan_shape(nul, sizeof(nul) - 1, keybuf, &sh));
    /* a control byte inside a replaced constant is fine: it is not in the key */
    CHECK_STR(shape("SELECT 'a\x01b' FROM t"), "SELECT <s> FROM t");
    /* too long: exact text only */
    size_t n = PGR_SQLSCAN_SHAPE_MAX + 1;
    char *big = malloc(n + 1);
    if (big != NULL) {
        memset(big, ' ', n);
        memcpy(big, "SELECT 1", 8);
        CHECK(!pgr_sqlscan_shape(big, n, keybuf, &sh));
        CHECK(pgr_sqlscan_shape(big, n - 1, keybuf, &sh));
        free(big);
    }
    /* more kept constants than the scan records */
    CHECK(shape("SELECT 1 FROM (SELECT 1 LIMIT 1 OFFSET 1) a, (SELECT 1 LIMIT 1 OFFSET 1) b, "
                "(SELECT 1 LIMIT 1 OFFSET 1) c, (SELECT 1 LIMIT 1 OFFSET 1) d") != NULL);
    CHECK(shape("SELECT 1 FROM (SELECT 1 LIMIT 1 OFFSET 1) a, (SELECT 1 LIMIT 1 OFFSET 1) b, "
                "(SELECT 1 LIMIT 1 OFFSET 1) c, (SELECT 1 LIMIT 1 OFFSET 1) d, "
                "(SELECT 1 LIMIT 1) e") == NULL);
}

static uint64_t rng_state;
static size_t pick(size_t n);
static void seed_rng(void);

TEST(shape_any_bytes)
{
    /* whatever the bytes, the scan stays inside the text and the key buffer (ASan checks the
     * reads and writes), and what it reports is consistent */
    static const char alphabet[] = "''''\"\"$$$eEbBxXnNuU&--//**;;(()).. 0123456789+aLIMITfloat\\"
                                   "\x01\t\n\r\v\f\x80\xff";
    char s[96];
    static char key[PGR_SQLSCAN_KEY_CAP(sizeof(s)) + 16];
    seed_rng();
    int bad = 0, shaped = 0;
    for (int t = 0; t < 300000 && bad < 3; t++) {
        size_t n = 1 + pick(sizeof(s));
        for (size_t i = 0; i < n; i++)
            s[i] = alphabet[pick(sizeof(alphabet) - 1)];
        if (pick(2))
            memcpy(s, "SELECT ", n < 7 ? n : 7);
        memset(key, 0x55, sizeof(key));
        pgr_sqlshape_t sh;
        if (!pgr_sqlscan_shape(s, n, key, &sh))
            continue;
        shaped++;
        bool ok = key[0] == '\0' && sh.key_len <= PGR_SQLSCAN_KEY_CAP(n) &&
                  (unsigned char)key[PGR_SQLSCAN_KEY_CAP(n)] == 0x55 && sh.n_replaced > 0 &&
                  sh.stmt_offset == 0 && sh.stmt_length <= n && sh.n_kept <= PGR_SQLSCAN_MAX_KEPT;
        for (size_t k = 0; k < sh.n_kept; k++)
            ok &= sh.kept[k] < n;
        if (!ok) {
            printf("# inconsistent shape for %.*s\n", (int)n, s);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    printf("# %d of 300000 random texts shaped\n", shaped);
    CHECK(shaped > 1000);
}

/* ---- comparing results --------------------------------------------------------------------- */

/* Every field of two results, named in *what when one differs. */
static bool
same_result(const pgr_classification_t *a, const pgr_classification_t *b, const char **what)
{
#define F(cond, name)           \
    if (!(cond)) {              \
        *what = name;           \
        return false;           \
    }
    F(a->n_stmts == b->n_stmts, "n_stmts");
    F(a->cls == b->cls, "cls");
    F(a->pins == b->pins, "pins");
    F(a->pin_reason == b->pin_reason ||
      (a->pin_reason && b->pin_reason && strcmp(a->pin_reason, b->pin_reason) == 0),
      "pin_reason");
    F(a->parse_error == b->parse_error, "parse_error");
    F(strcmp(a->error, b->error) == 0, "error");
    F(a->error_cursor == b->error_cursor, "error_cursor");
    F(a->hint == b->hint, "hint");
    F(strcmp(a->hint_node, b->hint_node) == 0, "hint_node");
    F(a->hint_error == b->hint_error, "hint_error");
    F(strcmp(a->hint_error_msg, b->hint_error_msg) == 0, "hint_error_msg");
    F((a->stmts == NULL) == (b->stmts == NULL), "stmts");
    for (int i = 0; i < a->n_stmts; i++) {
        const pgr_stmt_info_t *x = &a->stmts[i], *y = &b->stmts[i];
        F(x->cls == y->cls, "stmt cls");
        F(x->text_offset == y->text_offset, "text_offset");
        F(x->text_length == y->text_length, "text_length");
        F(strcmp(x->why, y->why) == 0, "why");
        F(x->read_only_txn == y->read_only_txn && x->read_write_txn == y->read_write_txn &&
          x->deferrable == y->deferrable && x->isolation == y->isolation &&
          x->chain == y->chain && x->set_local == y->set_local, "transaction options");
        F(x->pgrvar == y->pgrvar && strcmp(x->pgrvar_name, y->pgrvar_name) == 0 &&
          strcmp(x->pgrvar_value, y->pgrvar_value) == 0 && x->pgrvar_bad == y->pgrvar_bad,
          "pgrouter setting");
        F(x->pins == y->pins, "stmt pins");
        F(x->pin_reason == y->pin_reason ||
          (x->pin_reason && y->pin_reason && strcmp(x->pin_reason, y->pin_reason) == 0),
          "stmt pin_reason");
        F(x->has_order_by == y->has_order_by && x->has_limit == y->has_limit &&
          x->has_group_by == y->has_group_by && x->has_aggregates == y->has_aggregates &&
          x->has_distinct == y->has_distinct && x->is_set_op == y->is_set_op &&
          x->limit_with_ties == y->limit_with_ties, "merge flags");
        F(x->limit == y->limit, "limit");
        F(x->offset == y->offset, "offset");
        /* and the rest, whatever is added later: the structs are built from zeroed memory */
        F(memcmp(&x->has_order_by, &y->has_order_by,
                 sizeof(*x) - offsetof(pgr_stmt_info_t, has_order_by)) == 0, "stmt (rest)");
    }
#undef F
    return true;
}

/* The shared classifier's result for sql must equal a parse of sql (a classifier without a
 * cache). Prints the text and the field on a difference. */
static bool
check_same(pgr_classifier_t *shared, pgr_classifier_t *fresh, const char *sql, size_t len,
           const pgr_classification_t **got)
{
    static pgr_classification_t want;
    static pgr_stmt_info_t want_stmts[64];
    const pgr_classification_t *a = NULL, *b = NULL;
    if (pgr_classify(fresh, sql, len, &b) != 0 || b == NULL || b->n_stmts > 64) {
        printf("# fresh classify failed: %.*s\n", (int)len, sql);
        return false;
    }
    want = *b;
    if (b->n_stmts > 0)
        memcpy(want_stmts, b->stmts, (size_t)b->n_stmts * sizeof(*want_stmts));
    want.stmts = b->n_stmts > 0 ? want_stmts : NULL;
    if (pgr_classify(shared, sql, len, &a) != 0 || a == NULL) {
        printf("# shared classify failed: %.*s\n", (int)len, sql);
        return false;
    }
    const char *what = NULL;
    if (!same_result(a, &want, &what)) {
        printf("# differs in %s: %.*s\n", what, (int)len, sql);
        return false;
    }
    if (got != NULL)
        *got = a;
    return true;
}

/* ---- random variants: the same statement with other constants ------------------------------ */

static uint64_t
rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t
pick(size_t n)
{
    return (size_t)(rnd() % n);
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf_t;

static void
put(sbuf_t *b, const char *s, size_t n)
{
    if (b->n + n < b->cap) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
}

static void
puts_(sbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Text that can stand inside '' (and E'', N''; dollar quotes when !dollar_ok): no lone
 * quote; a backslash (literal in '', an escape in E'') only when backslash_ok. */
static void
rand_plain(sbuf_t *b, bool dollar_ok, bool backslash_ok)
{
    static const char *const bits[] = {
        "a", "Z", "0", "9", " ", ";", "--", "/*", "*/", "\"", "é", "pgrouter: primary", "''",
        "DELETE FROM t", "nextval('s')", "\n", "\t", "$", "$$", "E", "(", ")",
    };
    size_t n = pick(8);
    for (size_t i = 0; i < n; i++) {
        const char *s = bits[pick(PGR_ARRAY_LEN(bits))];
        if (!dollar_ok && strchr(s, '$') != NULL)
            continue;
        puts_(b, s);
        if (backslash_ok && pick(8) == 0)
            puts_(b, "\\");
    }
}

static void
rand_number(sbuf_t *b)
{
    static const char *const odd[] = {
        "0", "1", "2147483647", "2147483648", "000123", "99999999999999999999", "1.5", ".5",
        "5.", "1e5", "1.5E-3", "0.0", "10", "53", "54", "24", "25",
    };
    char num[32];
    if (pick(3) == 0) {
        puts_(b, odd[pick(PGR_ARRAY_LEN(odd))]);
    } else {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)(rnd() % 100000));
        puts_(b, num);
    }
}

/* Copy s[i..j) to b. */
static void
copy_span(sbuf_t *b, const char *s, size_t i, size_t j)
{
    put(b, s + i, j - i);
}

/* A variant of sql with its constants replaced at random (each with probability 3/4):
 * numbers by numbers (int4 or not), '' / E'' / N'' / B'' / X'' bodies by bodies of the same
 * kind (E'' sometimes with escapes the lexer checks), dollar-quoted bodies by other ones.
 * Comments, identifiers, parameters and everything else stay. Its own small lexer, not the
 * one under test. */
static size_t
variant(const char *s, size_t len, char *out, size_t cap)
{
    sbuf_t b = { out, 0, cap };
    size_t i = 0;
    while (i < len) {
        char ch = s[i];
        size_t j = i + 1;
        bool change = pick(4) != 0;
        if (ch == '-' && i + 1 < len && s[i + 1] == '-') {
            while (j < len && s[j] != '\n')
                j++;
            copy_span(&b, s, i, j);
        } else if (ch == '/' && i + 1 < len && s[i + 1] == '*') {
            int d = 1;
            for (j = i + 2; j < len && d > 0; j++) {
                if (s[j] == '/' && j + 1 < len && s[j + 1] == '*')
                    d++, j++;
                else if (s[j] == '*' && j + 1 < len && s[j + 1] == '/')
                    d--, j++;
            }
            copy_span(&b, s, i, j);
        } else if (ch == '"') {
            while (j < len && !(s[j] == '"' && (j + 1 >= len || s[j + 1] != '"')))
                j += s[j] == '"' ? 2 : 1;
            copy_span(&b, s, i, j < len ? j + 1 : len);
            j = j < len ? j + 1 : len;
        } else if (ch == '\'' || ((ch == 'e' || ch == 'E' || ch == 'n' || ch == 'N' ||
                                   ch == 'b' || ch == 'B' || ch == 'x' || ch == 'X') &&
                                  i + 1 < len && s[i + 1] == '\'' &&
                                  (i == 0 || !(isalnum((unsigned char)s[i - 1]) ||
                                               s[i - 1] == '_' || s[i - 1] == '$')))) {
            size_t q = ch == '\'' ? i : i + 1;
            char kind = ch == '\'' ? 's' : (char)(ch | 0x20);
            j = q + 1;
            while (j < len) {
                if (kind == 'e' && s[j] == '\\') {
                    j += 2;
                } else if (s[j] == '\'') {
                    if ((kind == 's' || kind == 'e' || kind == 'n') && j + 1 < len &&
                        s[j + 1] == '\'')
                        j += 2;
                    else
                        break;
                } else {
                    j++;
                }
            }
            if (j >= len || !change) {
                copy_span(&b, s, i, j < len ? j + 1 : len);
            } else {
                copy_span(&b, s, i, q + 1);
                if (kind == 'b') {
                    for (size_t k = pick(10); k > 0; k--)
                        puts_(&b, pick(20) ? (pick(2) ? "0" : "1") : "2");
                } else if (kind == 'x') {
                    for (size_t k = pick(10); k > 0; k--)
                        put(&b, &"0123456789abcdefG"[pick(pick(20) ? 16 : 17)], 1);
                } else if (kind == 'e') {
                    static const char *const esc[] = {
                        "\\\\", "\\'", "\\n", "\\t", "\\q", "\\101", "\\x41", "\\u0041",
                        "\\377", "\\uD800",
                    };
                    for (size_t k = pick(4); k > 0; k--) {
                        rand_plain(&b, true, false);
                        puts_(&b, esc[pick(pick(5) ? 5 : PGR_ARRAY_LEN(esc))]);
                    }
                } else {
                    rand_plain(&b, true, true);
                }
                puts_(&b, "'");
            }
            j = j < len ? j + 1 : len;
        } else if (ch == '$' && i + 1 < len &&
                   (s[i + 1] == '$' || isalpha((unsigned char)s[i + 1]))) {
            size_t t = i + 1;
            while (t < len && s[t] != '$' && (isalnum((unsigned char)s[t]) || s[t] == '_'))
                t++;
            if (t >= len || s[t] != '$') {
                copy_span(&b, s, i, i + 1);
            } else {
                size_t dl = t + 1 - i, end = len;
                for (size_t k = t + 1; k + dl <= len; k++)
                    if (memcmp(s + k, s + i, dl) == 0) {
                        end = k;
                        break;
                    }
                if (end == len || !change) {
                    copy_span(&b, s, i, end == len ? len : end + dl);
                } else {
                    copy_span(&b, s, i, t + 1);
                    rand_plain(&b, false, true);
                    copy_span(&b, s, i, t + 1);
                }
                j = end == len ? len : end + dl;
            }
        } else if (isalpha((unsigned char)ch) || ch == '_' || (unsigned char)ch >= 0x80 ||
                   ch == '$') {
            while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_' || s[j] == '$' ||
                               (unsigned char)s[j] >= 0x80))
                j++;
            copy_span(&b, s, i, j);
        } else if (isdigit((unsigned char)ch) ||
                   (ch == '.' && i + 1 < len && isdigit((unsigned char)s[i + 1]))) {
            while (j < len && (isdigit((unsigned char)s[j]) || s[j] == '.'))
                j++;
            if (j < len && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < len && (s[k] == '+' || s[k] == '-'))
                    k++;
                if (k < len && isdigit((unsigned char)s[k])) {
                    while (k < len && isdigit((unsigned char)s[k]))
                        k++;
                    j = k;
                }
            }
            if (change)
                rand_number(&b);
            else
                copy_span(&b, s, i, j);
        } else {
            copy_span(&b, s, i, j);
        }
        i = j;
    }
    return b.n;
}

/* More statements for the random test: what shapes must get right besides the table. */
static const char *const extra[] = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213",
    "UPDATE pgbench_accounts SET abalance = abalance + -2437 WHERE aid = 48213",
    ("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
     "VALUES (7, 1, 48213, -2437, CURRENT_TIMESTAMP)"),
    "SELECT * FROM t WHERE a = 1 LIMIT 10 OFFSET 5",
    "SELECT * FROM t WHERE a = 1 LIMIT (5) OFFSET (2)",
    "SELECT * FROM t WHERE a = 1 LIMIT -5",
    "SELECT * FROM t WHERE a = 'x' LIMIT '7' OFFSET '3'",
    "SELECT * FROM t WHERE a = 1 ORDER BY a FETCH FIRST +3 ROWS ONLY",
    "SELECT * FROM t WHERE a = 1 ORDER BY a OFFSET 2 ROWS FETCH NEXT 4 ROWS WITH TIES",
    "SELECT * FROM (SELECT * FROM t LIMIT 3) s WHERE a = 2 LIMIT 9",
    "SELECT set_config('a.b', 'c', 't') FROM t WHERE a = 1",
    "SELECT set_config('a.b', 'c', 1) FROM t WHERE a = 1",
    "SELECT 1::float(10), 2::float(30) FROM t WHERE a = 1",
    "SELECT CAST(a AS FLOAT(53)) FROM t WHERE b = 'x'",
    "SELECT E'a\\'b', E'\\101', E'\\x41' FROM t WHERE a = 1",
    "SELECT B'0101', X'1F', N'abc' FROM t",
    "SELECT $$abc$$, $q$ $$ 'x' $q$ FROM t WHERE a = 1",
    "SELECT 1.5, .5, 5., 1e5, 2147483647, 2147483648 FROM t",
    "/* pgrouter: node=pg2 */ SELECT * FROM t WHERE id = 1",
    "/* pgrouter: replica */ -- 'x' 1\n SELECT * FROM t WHERE id = 1;",
    "/* pgrouter: primary */ /* pgrouter: replica */ SELECT 1",
    "/* pgrouter: bogus */ SELECT 1",
    "SELECT 1 /* pgrouter: primary */",
    "  SELECT 'a;b' ;  ;  -- trailing",
    "SELECT nextval('s'), 5",
    "SELECT pg_advisory_lock(5)",
    "SELECT lower('x') FROM t WHERE a = 1 FOR UPDATE",
    "WITH d AS (DELETE FROM t WHERE a = 1 RETURNING *) SELECT * FROM d",
    "SELECT * INTO TEMP x FROM t WHERE a = 1",
    "SELECT count(*) FROM t WHERE a > 5 GROUP BY b HAVING count(*) > 1",
    "SELECT DISTINCT a FROM t WHERE b = 'x' UNION SELECT 1",
    "VALUES (1, 'a'), (2, 'b')",
    "INSERT INTO t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET a = 'y'",
    "DELETE FROM t WHERE a IN (1, 2, 3)",
    "(SELECT 1) UNION (SELECT 2 LIMIT 1)",
    "SELECT a..5",
    "SELECT 1 FROM t WHERE a = 1::float(0)",
    "SELECT x'1G', b'12' FROM t",
    "SELECT E'\\uD800', E'\\377' FROM t WHERE a = 1",
    "SELECT interval '1 day', date '2020-01-01' FROM t",
    "SELECT 1 FROM t WHERE a = $1 AND b = 2",
    "SELECT 'a' 'b'",
    "EXPLAIN SELECT 1",
    "SET statement_timeout = 5",
    "SET pgrouter.route = 'node:pg2'",
};

/* Every text of the list, and nvar variants of each, in a shuffled order through one shared
 * classifier, each compared with a parse of the same text; then the same again (now mostly
 * cache hits). Returns the number of differences; *shared_hits counts results that came from
 * an entry another text made. */
static int
differential(const char *const *texts, size_t n, size_t nvar, size_t *shared_hits)
{
    pgr_classifier_t *shared = NULL, *fresh = NULL;
    if (pgr_classifier_new(100000, NULL, 0, &shared) != 0 ||
        pgr_classifier_new(0, NULL, 0, &fresh) != 0) {
        pgr_classifier_free(shared);
        return 1;
    }
    size_t total = n * (nvar + 1);
    char **all = calloc(total, sizeof(*all));
    size_t *lens = calloc(total, sizeof(*lens));
    const void **entry = calloc(total, sizeof(*entry));
    int bad = 0;
    if (all == NULL || lens == NULL || entry == NULL) {
        bad = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]), cap = 2 * len + 2048;
        for (size_t v = 0; v <= nvar; v++) {
            char *t = malloc(cap);
            if (t == NULL) {
                bad = 1;
                goto out;
            }
            size_t k = i * (nvar + 1) + v;
            lens[k] = v == 0 ? (memcpy(t, texts[i], len), len) : variant(texts[i], len, t, cap);
            all[k] = t;
        }
    }
    for (size_t k = total; k > 1; k--) {            /* shuffle */
        size_t r = pick(k);
        char *t = all[k - 1];
        size_t l = lens[k - 1];
        all[k - 1] = all[r];
        lens[k - 1] = lens[r];
        all[r] = t;
        lens[r] = l;
    }
    *shared_hits = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < total; k++) {
            const pgr_classification_t *got = NULL;
            if (!check_same(shared, fresh, all[k], lens[k], &got)) {
                bad++;
                continue;
            }
            /* an entry another text made (the cache never evicts here, so addresses are
             * not reused) */
            for (size_t m = 0; pass == 0 && m < k; m++) {
                if (entry[m] == got && (lens[m] != lens[k] || memcmp(all[m], all[k], lens[k]))) {
                    ++*shared_hits;
                    break;
                }
            }
            entry[k] = got;
        }
    }
    pgr_classify_stats_t st;
    pgr_classifier_stats(shared, &st);
    if (st.evictions != 0)
        bad++;
out:
    for (size_t k = 0; all != NULL && k < total; k++)
        free(all[k]);
    free(all);
    free(lens);
    free(entry);
    pgr_classifier_free(shared);
    pgr_classifier_free(fresh);
    return bad;
}

static void
seed_rng(void)
{
    const char *env = getenv("PGR_TEST_SEED");
    rng_state = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
    if (rng_state == 0)
        rng_state = 1;
    printf("# seed %llu (PGR_TEST_SEED=... repeats a run)\n", (unsigned long long)rng_state);
}

TEST(table_differential)
{
    /* every row of the classifier's table, alone: through the shared cache (its shape entry
     * when it has one, made by this very text) and through a parse */
    const char *texts[PGR_ARRAY_LEN(classify_rows)];
    for (size_t i = 0; i < PGR_ARRAY_LEN(classify_rows); i++)
        texts[i] = classify_rows[i].sql;
    size_t shared = 0, shaped = 0;
    CHECK_INT(differential(texts, PGR_ARRAY_LEN(classify_rows), 0, &shared), 0);
    for (size_t i = 0; i < PGR_ARRAY_LEN(classify_rows); i++) {
        pgr_sqlshape_t sh;
        shaped += pgr_sqlscan_shape(texts[i], strlen(texts[i]), keybuf, &sh);
    }
    printf("# %zu rows, %zu with a shape, %zu served from an entry another row made\n",
           PGR_ARRAY_LEN(classify_rows), shaped, shared);
    CHECK(shaped >= 70);
}

TEST(random_constants)
{
    /* the table's rows and the extras, each with variants: results made from one text and
     * served to another must equal that other text's own parse */
    size_t nrows = PGR_ARRAY_LEN(classify_rows), n = nrows + PGR_ARRAY_LEN(extra);
    const char **texts = calloc(n, sizeof(*texts));
    if (texts == NULL)
        return;
    for (size_t i = 0; i < nrows; i++)
        texts[i] = classify_rows[i].sql;
    for (size_t i = 0; i < PGR_ARRAY_LEN(extra); i++)
        texts[nrows + i] = extra[i];
    size_t shared = 0;
#if defined(__SANITIZE_ADDRESS__)
    size_t nvar = 6;
#else
    size_t nvar = 16;
#endif
    seed_rng();
    CHECK_INT(differential(texts, n, nvar, &shared), 0);
    printf("# %zu texts, %zu results served from an entry another text made\n", n * (nvar + 1),
           shared);
    CHECK(shared >= n);         /* sharing happened: most rows have constants */
    free(texts);
}

/* ---- targeted cases ------------------------------------------------------------------------ */

static const pgr_classification_t *
cl(pgr_classifier_t *c, const char *sql)
{
    const pgr_classification_t *r = NULL;
    if (pgr_classify(c, sql, strlen(sql), &r) != 0)
        return NULL;
    return r;
}

TEST(sharing)
{
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(64, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    char sql[128];
    const pgr_classification_t *first[2] = {NULL, NULL};
    for (int i = 0; i < 100; i++) {
        /* with and without a ';' (kept in the shape): two entries */
        int semi = i % 2;
        int n = snprintf(sql, sizeof(sql), "SELECT abalance FROM pgbench_accounts WHERE aid = %d%s",
                         i * 7919, semi ? ";" : "");
        const pgr_classification_t *r = cl(c, sql);
        CHECK(r && r->cls == PGR_CLASS_READ && r->n_stmts == 1);
        if (r == NULL)
            break;
        if (first[semi] == NULL)
            first[semi] = r;
        CHECK(r == first[semi]);
        CHECK_INT(r->stmts[0].text_offset, 0);
        CHECK_INT(r->stmts[0].text_length, n - semi);
    }
    pgr_classify_stats_t st;
    pgr_classifier_stats(c, &st);
    CHECK_INT(st.entries, 2);
    CHECK_INT(st.misses, 2);
    CHECK_INT(st.hits, 98);
    CHECK_INT(st.uncached, 0);

    /* a shape whose results depend on constants: an entry saying so, and one per text */
    const pgr_classification_t *r = cl(c, "SELECT set_config('a.b', 'x', 't') FROM t");
    CHECK(r && !r->pins);
    r = cl(c, "SELECT set_config('a.b', 'x', 'f') FROM t");
    CHECK(r && r->pins);
    r = cl(c, "SELECT set_config('a.b', 'x', 'yes') FROM t");
    CHECK(r && !r->pins);
    pgr_classifier_stats(c, &st);
    CHECK_INT(st.entries, 2 + 1 + 3);
    CHECK_INT(st.misses, 5);
    r = cl(c, "SELECT set_config('a.b', 'x', 'f') FROM t");
    CHECK(r && r->pins);
    pgr_classifier_stats(c, &st);
    CHECK_INT(st.hits, 99);
    CHECK_INT(st.entries, 6);
    pgr_classifier_free(c);
}

TEST(limits_and_offsets)
{
    pgr_classifier_t *c = NULL, *fresh = NULL;
    CHECK_INT(pgr_classifier_new(64, NULL, 0, &c), 0);
    CHECK_INT(pgr_classifier_new(0, NULL, 0, &fresh), 0);
    if (c == NULL || fresh == NULL)
        goto out;
    /* each pair has one shape; both orders, each against its own parse */
    static const char *const pairs[][2] = {
        {"SELECT * FROM t WHERE a = 1 LIMIT 10", "SELECT * FROM t WHERE a = 2 LIMIT 20"},
        {"SELECT * FROM t WHERE a = 1 LIMIT (5)", "SELECT * FROM t WHERE a = 1 LIMIT (6)"},
        {"SELECT * FROM t WHERE a = 1 LIMIT -5", "SELECT * FROM t WHERE a = 1 LIMIT -6"},
        {"SELECT * FROM t ORDER BY a FETCH FIRST +3 ROWS ONLY",
         "SELECT * FROM t ORDER BY a FETCH FIRST +4 ROWS ONLY"},
        {"SELECT * FROM t WHERE a = 'x' OFFSET '7'", "SELECT * FROM t WHERE a = 'y' OFFSET '8'"},
        {"SELECT 1::float(10) FROM t WHERE a = 1", "SELECT 1::float(0) FROM t WHERE a = 1"},
        {"SELECT 1::float(10) FROM t WHERE a = 1", "SELECT 1::float(54) FROM t WHERE a = 1"},
        {"/* pgrouter: node=pg2 */ SELECT 'a' ;  -- x",
         "/* pgrouter: node=pg2 */ SELECT 'abcdef' ;"},
        {"/* c */\n  SELECT 'a'  ; ", "/* c */\n  SELECT 'abcdefgh'  ; "},
        {"SELECT E'a', 1", "SELECT E'\\u0041', 1"},
        {"SELECT E'a', 1", "SELECT E'\\uD800', 1"},
        {"SELECT E'a', 1", "SELECT E'\\377', 1"},
        {"SELECT B'01' FROM t", "SELECT B'0121' FROM t"},
    };
    for (int order = 0; order < 2; order++) {
        for (size_t i = 0; i < PGR_ARRAY_LEN(pairs); i++) {
            for (int k = 0; k < 2; k++) {
                const char *q = pairs[i][order ? 1 - k : k];
                CHECK(check_same(c, fresh, q, strlen(q), NULL));
            }
        }
    }
    const pgr_classification_t *r = cl(c, "SELECT * FROM t WHERE a = 2 LIMIT 20");
    CHECK(r && r->stmts[0].limit == 20);
    r = cl(c, "SELECT * FROM t WHERE a = 1 LIMIT (6)");
    CHECK(r && r->stmts[0].limit == 6);
    r = cl(c, "SELECT 1::float(0) FROM t WHERE a = 1");
    CHECK(r && r->parse_error);
    const char *q = "/* pgrouter: node=pg2 */ SELECT 'abcdef' ;";
    r = cl(c, q);
    CHECK(r && r->hint == PGR_HINT_NODE && strcmp(r->hint_node, "pg2") == 0);
    CHECK(r && r->stmts[0].text_offset == 0 && r->stmts[0].text_length == strchr(q, ';') - q);
out:
    pgr_classifier_free(c);
    pgr_classifier_free(fresh);
}

/* "SELECT " + n constants c joined by '+'. */
static char *
chain(const char *k, size_t n, size_t *len)
{
    size_t kl = strlen(k);
    char *s = malloc(8 + n * (kl + 1) + 1);
    if (s == NULL)
        return NULL;
    size_t o = (size_t)sprintf(s, "SELECT ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            s[o++] = '+';
        memcpy(s + o, k, kl);
        o += kl;
    }
    s[o] = '\0';
    *len = o;
    return s;
}

TEST(depth_per_constant)
{
    /* classify_stmt.c keeps a shape only with room for its constants to read two levels deeper
     * each in the depth pre-scan (1e+5 is three tokens there, 1.0 one): texts of one shape must
     * never differ by more */
    static const char *const base[] = {
        "SELECT 1e+5+(2.0*3)-(((4)))+ 'a' || E'b' || $$c$$, 1.5E-3 BETWEEN 1 AND 2e+1",
        "SELECT * FROM t WHERE a = 1e+1 AND (b = 2 OR c = (3e-3 + 4.0)) LIMIT 5",
        "INSERT INTO t VALUES (1e+5, 2, (3 + (4 * 5e-1)))",
    };
    char buf[512];
    seed_rng();
    int bad = 0, compared = 0;
    for (int t = 0; t < 20000 && bad < 3; t++) {
        const char *q = base[pick(PGR_ARRAY_LEN(base))];
        size_t n = variant(q, strlen(q), buf, sizeof(buf));
        pgr_sqlshape_t a, b;
        char ka[2 * sizeof(buf) + 1];
        if (!pgr_sqlscan_shape(q, strlen(q), ka, &a) || !pgr_sqlscan_shape(buf, n, keybuf, &b))
            continue;
        if (a.key_len != b.key_len || memcmp(ka, keybuf, a.key_len) != 0)
            continue;                   /* another shape: nothing to compare */
        compared++;
        size_t da = pgr_sqlscan_depth(q, strlen(q), 100000);
        size_t db = pgr_sqlscan_depth(buf, n, 100000);
        if (db > da + 2 * a.n_replaced || da > db + 2 * a.n_replaced) {
            printf("# depth %zu vs %zu, %zu constants: %.*s\n", da, db, a.n_replaced, (int)n, buf);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    printf("# %d same-shape pairs compared\n", compared);
    CHECK(compared >= 500);
}

TEST(too_deep_by_shape)
{
    /* the depth pre-scan reads 1e+5 as three tokens and 1.0 as one: same shape, but only
     * the first text is shallow enough to parse */
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(16, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    size_t la, lb;
    char *a = chain("1.0", 1000, &la), *b = chain("1e+5", 1000, &lb);
    if (a != NULL && b != NULL) {
        const pgr_classification_t *r = NULL;
        CHECK_INT(pgr_classify(c, a, la, &r), 0);
        CHECK(r && !r->parse_error && r->cls == PGR_CLASS_READ);
        CHECK_INT(pgr_classify(c, b, lb, &r), 0);
        CHECK(r && r->parse_error && strstr(r->error, "nested deeper") != NULL);
        CHECK_INT(pgr_classify(c, a, la, &r), 0);
        CHECK(r && !r->parse_error);
    }
    free(a);
    free(b);
    pgr_classifier_free(c);
}

TEST(keys_never_meet)
{
    /* a text spelled like a shape key (a zero byte, then the text with a placeholder) is its
     * own text: a zero byte makes it a parse error, whatever the cache holds */
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(16, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    const pgr_classification_t *r = cl(c, "SELECT 5");
    CHECK(r && r->cls == PGR_CLASS_READ);
    static const char lookalike[] = "\0SELECT \x01i";
    CHECK_INT(pgr_classify(c, lookalike, sizeof(lookalike) - 1, &r), 0);
    CHECK(r && r->parse_error && r->cls == PGR_CLASS_WRITE);
    CHECK_INT(pgr_classify(c, lookalike, sizeof(lookalike) - 1, &r), 0);
    CHECK(r && r->parse_error);
    pgr_classify_stats_t st;
    pgr_classifier_stats(c, &st);
    CHECK_INT(st.uncached, 2);
    CHECK_INT(st.entries, 1);
    pgr_classifier_free(c);
}

TEST(bounded)
{
    /* shapes and exact texts share the entry cap and the byte budget */
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(100, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    char sql[128];
    for (int i = 0; i < 3000; i++) {
        switch (i % 3) {
        case 0: snprintf(sql, sizeof(sql), "SELECT * FROM t%d WHERE a = %d", i, i); break;
        case 1: snprintf(sql, sizeof(sql), "SELECT set_config('x', 'y', 'on') FROM t%d", i); break;
        default: snprintf(sql, sizeof(sql), "SELECT c%d FROM t", i); break;
        }
        CHECK(cl(c, sql) != NULL);
        pgr_classify_stats_t st;
        pgr_classifier_stats(c, &st);
        if (st.entries > 100 || st.bytes > st.max_bytes) {
            CHECK(st.entries <= 100);
            CHECK(st.bytes <= st.max_bytes);
            break;
        }
    }
    pgr_classify_stats_t st;
    pgr_classifier_stats(c, &st);
    CHECK_INT(st.entries, 100);
    CHECK_INT(st.misses, 3000);
    CHECK_INT(st.evictions, 3000 + 1000 - 100);     /* set_config texts take two entries */
    pgr_classifier_free(c);
}

int
main(void)
{
    int rc = RUN(shape_keys, shape_refusals, shape_any_bytes, sharing, limits_and_offsets,
                 depth_per_constant, too_deep_by_shape,
                 keys_never_meet, bounded, table_differential, random_constants);
    pgr_classify_shutdown();
    return rc;
}

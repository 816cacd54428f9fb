/* The classifier's cache: hits and misses, exact keys and shapes, LRU order, the entry cap and
 * the byte budget, results too large to keep, a disabled cache, and flat memory over a million
 * distinct statements. (Shapes in depth: test_classify_shape.c.) */
#include <time.h>
#include <unistd.h>

#include "route/classify.h"
#include "../harness.h"

static const pgr_classification_t *
cl(pgr_classifier_t *c, const char *sql)
{
    const pgr_classification_t *r = NULL;
    if (pgr_classify(c, sql, strlen(sql), &r) != 0)
        return NULL;
    return r;
}

static pgr_classify_stats_t
stats(pgr_classifier_t *c)
{
    pgr_classify_stats_t st;
    pgr_classifier_stats(c, &st);
    return st;
}

TEST(hit_and_miss)
{
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(16, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    const pgr_classification_t *a = cl(c, "SELECT * FROM t WHERE id = 1");
    CHECK(a && a->cls == PGR_CLASS_READ);
    pgr_classify_stats_t st = stats(c);
    CHECK_INT(st.hits, 0);
    CHECK_INT(st.misses, 1);
    CHECK_INT(st.entries, 1);
    CHECK(st.bytes > sizeof(pgr_classification_t));

    const pgr_classification_t *a2 = cl(c, "SELECT * FROM t WHERE id = 1");
    CHECK(a2 == a);                     /* the cached entry itself: no parse */
    st = stats(c);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.misses, 1);

    /* other constants: the same shape, the same entry, this text's own offsets */
    const char *q = "SELECT * FROM t WHERE id = 123456";
    const pgr_classification_t *b = cl(c, q);
    CHECK(b == a);
    CHECK(b && b->stmts[0].text_length == strlen(q));
    st = stats(c);
    CHECK_INT(st.hits, 2);
    CHECK_INT(st.misses, 1);
    CHECK_INT(st.entries, 1);

    /* the shape keeps everything but constants: case and spacing make different entries */
    CHECK(cl(c, "select * from t where id = 1") != NULL);
    CHECK(cl(c, "SELECT * FROM t WHERE id = 1 ") != NULL);
    /* text without constants is cached by its exact text */
    CHECK(cl(c, "SELECT * FROM t WHERE id = $1") != NULL);
    st = stats(c);
    CHECK_INT(st.misses, 4);
    CHECK_INT(st.entries, 4);
    CHECK(cl(c, "SELECT * FROM t WHERE id = $1") != NULL);
    CHECK_INT(stats(c).hits, 3);

    /* a multi-statement entry keeps its statements */
    const pgr_classification_t *m = cl(c, "SELECT 1; UPDATE t SET a = 1; SHOW x");
    CHECK(m && m->n_stmts == 3 && m->cls == PGR_CLASS_WRITE);
    m = cl(c, "SELECT 1; UPDATE t SET a = 1; SHOW x");
    CHECK(m && m->n_stmts == 3);
    CHECK(m && m->stmts[1].cls == PGR_CLASS_WRITE && m->stmts[2].cls == PGR_CLASS_READ);
    CHECK_INT(stats(c).hits, 4);

    /* parse errors are cached too */
    m = cl(c, "SELEC 1");
    CHECK(m && m->parse_error);
    m = cl(c, "SELEC 1");
    CHECK(m && m->parse_error && strstr(m->error, "syntax error"));
    CHECK_INT(stats(c).hits, 5);
    pgr_classifier_free(c);
}

TEST(lru_order)
{
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(3, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    cl(c, "SELECT a");
    cl(c, "SELECT b");
    cl(c, "SELECT c");
    cl(c, "SELECT a");                /* a is now the newest; b the oldest */
    CHECK_INT(stats(c).hits, 1);
    cl(c, "SELECT d");                /* evicts b */
    pgr_classify_stats_t st = stats(c);
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.evictions, 1);
    cl(c, "SELECT a");
    cl(c, "SELECT c");
    cl(c, "SELECT d");
    CHECK_INT(stats(c).hits, 4);        /* a, c, d still there */
    cl(c, "SELECT b");                /* b was gone: a miss, evicting a (oldest) */
    st = stats(c);
    CHECK_INT(st.hits, 4);
    CHECK_INT(st.misses, 5);
    CHECK_INT(st.evictions, 2);
    cl(c, "SELECT a");
    CHECK_INT(stats(c).misses, 6);
    pgr_classifier_free(c);
}

TEST(byte_budget)
{
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(1000, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    pgr_classify_stats_t st = stats(c);
    CHECK_INT(st.max_entries, 1000);
    CHECK_INT(st.max_bytes, 1000 * PGR_CLASSIFY_BYTES_PER_ENTRY);
    char sql[256];
    for (int i = 0; i < 200; i++) {
        snprintf(sql, sizeof(sql), "SELECT c%d", i);   /* no constant: exact keys */
        cl(c, sql);
    }
    st = stats(c);
    CHECK_INT(st.entries, 200);
    size_t per = st.bytes / st.entries;

    /* shrink the budget to ~50 entries: evicted at once, the newest kept */
    pgr_classifier_set_max_bytes(c, per * 50 + per / 2);
    st = stats(c);
    CHECK_INT(st.entries, 50);
    CHECK(st.bytes <= st.max_bytes);
    CHECK_INT(st.evictions, 150);
    uint64_t h = st.hits;
    cl(c, "SELECT c199");
    CHECK_INT(stats(c).hits, h + 1);
    cl(c, "SELECT c100");
    CHECK_INT(stats(c).hits, h + 1);    /* evicted */

    /* inserting under the byte budget evicts by bytes, not count */
    for (int i = 1000; i < 1300; i++) {
        snprintf(sql, sizeof(sql), "SELECT c%d", i);   /* no constant: exact keys */
        cl(c, sql);
        st = stats(c);
        CHECK(st.bytes <= st.max_bytes);
    }
    CHECK(st.entries <= 51 && st.entries >= 49);

    /* one result larger than 16 KiB and an eighth of the budget: returned, not kept */
    size_t big = 20000;
    CHECK(big > st.max_bytes / 8 && big < st.max_bytes);
    char *q = malloc(big + 64);
    if (q != NULL) {
        size_t n = (size_t)sprintf(q, "SELECT '");
        memset(q + n, 'x', big);
        n += big;
        n += (size_t)sprintf(q + n, "' AS big");
        size_t entries = st.entries;
        const pgr_classification_t *r = NULL;
        CHECK_INT(pgr_classify(c, q, n, &r), 0);
        CHECK(r && r->cls == PGR_CLASS_READ && r->n_stmts == 1 && !r->parse_error);
        st = stats(c);
        CHECK_INT(st.uncached, 1);
        CHECK_INT(st.entries, entries);
        CHECK(st.bytes <= st.max_bytes);
        CHECK_INT(pgr_classify(c, q, n, &r), 0);  /* not a hit: it was never stored */
        CHECK_INT(stats(c).uncached, 2);
        free(q);
    }
    /* back to the default budget */
    pgr_classifier_set_max_bytes(c, 0);
    CHECK_INT(stats(c).max_bytes, 1000 * PGR_CLASSIFY_BYTES_PER_ENTRY);
    pgr_classifier_free(c);
}

TEST(cache_disabled)
{
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(0, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    for (int i = 0; i < 3; i++) {
        const pgr_classification_t *r = cl(c, "UPDATE t SET a = 1; SELECT 1");
        CHECK(r && r->cls == PGR_CLASS_WRITE && r->n_stmts == 2);
        CHECK(r && r->stmts[0].cls == PGR_CLASS_WRITE && r->stmts[1].cls == PGR_CLASS_READ);
    }
    pgr_classify_stats_t st = stats(c);
    CHECK_INT(st.hits, 0);
    CHECK_INT(st.misses, 3);
    CHECK_INT(st.entries, 0);
    CHECK_INT(st.bytes, 0);
    CHECK_INT(st.uncached, 3);
    pgr_classifier_free(c);
}

TEST(many_statements_in_one_string)
{
    /* more statements than the scratch space starts with, cached and not */
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(4, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    size_t n = 1000;
    char *q = malloc(n * 16 + 32);
    if (q == NULL)
        return;
    char *p = q;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "SELECT %zu;", i);
    p += sprintf(p, "DELETE FROM t");
    const pgr_classification_t *r = NULL;
    CHECK_INT(pgr_classify(c, q, (size_t)(p - q), &r), 0);
    CHECK(r && r->n_stmts == (int)n + 1 && r->cls == PGR_CLASS_WRITE);
    CHECK(r && r->stmts[n].cls == PGR_CLASS_WRITE && r->stmts[n - 1].cls == PGR_CLASS_READ);
    /* the next call still works after the scratch space was released */
    r = cl(c, "SELECT 1; SELECT 2");
    CHECK(r && r->n_stmts == 2 && r->cls == PGR_CLASS_READ);
    free(q);
    pgr_classifier_free(c);
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t
rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

TEST(flat_memory)
{
    /* A million distinct statements through a 1,000-entry cache: entries and bytes reach the
     * caps and stay there; evictions account for every other entry. Without ASan (whose
     * quarantine holds freed memory), the process's RSS must not grow either. A third are
     * cached by exact text (no constant), a third by shape (a new table each time), a third
     * by exact text after a shape entry saying constants matter (two entries each). */
    /* Under ASan every parse is several times slower: a fifth of the statements there. */
    const size_t cap = 1000, total = SANITIZED ? 200000 : 1000000;
    pgr_classifier_t *c = NULL;
    CHECK_INT(pgr_classifier_new(cap, NULL, 0, &c), 0);
    if (c == NULL)
        return;
    char sql[128];
    size_t max_bytes_seen = 0, bytes_at_cap = 0, rss_early = 0;
    struct timespec t0, t1;
    clock_t cpu0 = clock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < total; i++) {
        int n = snprintf(sql, sizeof(sql),
                         i % 3 == 0 ? "SELECT c%zu_%zu" :
                         i % 3 == 1 ? "DELETE FROM t%zu WHERE a = %zu" :
                                      "SELECT set_config('s', 'x', 'on') + c%zu", i, i % 97);
        const pgr_classification_t *r = NULL;
        if (pgr_classify(c, sql, (size_t)n, &r) != 0 || r == NULL) {
            CHECK(!"classify failed");
            break;
        }
        if (i % 3 != 0 && r->cls != PGR_CLASS_WRITE) {
            CHECK(!"class");
            break;
        }
        if (i % 1000 == 999) {
            pgr_classify_stats_t st = stats(c);
            if (st.bytes > max_bytes_seen)
                max_bytes_seen = st.bytes;
            if (i + 1 == 10 * cap)
                bytes_at_cap = st.bytes;
            if (i + 1 == 100000)
                rss_early = rss_bytes();
            if (st.entries > cap || st.bytes > st.max_bytes) {
                CHECK(st.entries <= cap);
                CHECK(st.bytes <= st.max_bytes);
                break;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pgr_classify_stats_t st = stats(c);
    CHECK_INT(st.entries, cap);
    CHECK_INT(st.misses, total);
    CHECK_INT(st.evictions, total + total / 3 - cap);
    CHECK(st.bytes <= st.max_bytes);
    /* statement lengths barely vary, so the bytes held stay where they were at the cap */
    CHECK(max_bytes_seen <= bytes_at_cap + bytes_at_cap / 20);
    size_t rss_late = rss_bytes();
    printf("# %zu statements in %.1f s (%.1f s CPU); cache %zu entries, %zu bytes; "
           "rss %zu -> %zu KiB\n", total,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           (double)(clock() - cpu0) / CLOCKS_PER_SEC, st.entries, st.bytes, rss_early / 1024,
           rss_late / 1024);
    if (!SANITIZED && rss_early > 0)
        CHECK(rss_late <= rss_early + 4 * 1024 * 1024);
    pgr_classifier_free(c);
}

int
main(void)
{
    int rc = RUN(hit_and_miss, lru_order, byte_budget, cache_disabled,
               many_statements_in_one_string, flat_memory);
    pgr_classify_shutdown();
    return rc;
}

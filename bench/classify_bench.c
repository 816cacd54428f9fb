/* Classifier microbenchmark: ns per statement for a pgbench-like mix (the five statements of
 * pgbench's TPC-B transaction plus its -S SELECT), in three streams through one classifier
 * with a 10,000-entry cache:
 *
 *   literals   every statement carries new constants, as pgbench -M simple sends them
 *              (statements that differ only in constants may share a cache entry)
 *   repeated   the same 8 texts again and again (an exact-text hit each)
 *   parsed     every statement names a different table, so no two share an entry: each one
 *              is parsed and walked (the cost of a miss)
 *
 *   classify_bench [SECONDS]    (default 2 per stream)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route/classify.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* pgbench's built-in TPC-B script, with its values, and the -S select. Each is printed with a
 * table suffix (a string, empty but in the "parsed" stream) and two integers, the first used
 * only by some. */
static const char *const mix[] = {
    "BEGIN",
    "UPDATE pgbench_accounts%s SET abalance = abalance + %d WHERE aid = %d",
    "SELECT abalance FROM pgbench_accounts%s WHERE aid = %d",
    "UPDATE pgbench_tellers%s SET tbalance = tbalance + %d WHERE tid = %d",
    "UPDATE pgbench_branches%s SET bbalance = bbalance + %d WHERE bid = %d",
    "INSERT INTO pgbench_history%s (tid, bid, aid, delta, mtime) "
    "VALUES (%d, 1, %d, -2437, CURRENT_TIMESTAMP)",
    "END",
    "SELECT abalance FROM pgbench_accounts%s WHERE aid = %d",
};
#define NMIX (sizeof(mix) / sizeof(mix[0]))

#define BATCH 1000

typedef enum { LITERALS, REPEATED, PARSED } stream_t;

/* Classify batches of BATCH texts for about `seconds`; only the classify calls are timed (the
 * texts of a batch are written before its clock starts). */
static int
run(pgr_classifier_t *c, stream_t s, double seconds, double *ns_per, long *count)
{
    static char text[BATCH][256];
    static size_t tlen[BATCH];
    static long serial;         /* PARSED: table suffixes never repeat across runs */
    long n = 0;
    double spent = 0;
    do {
        for (int k = 0; k < BATCH; k++) {
            long i = n + k;
            int a = 42, b = 7;
            char tab[24] = "";
            if (s == LITERALS) {
                a = (int)(i % 1000000) + 1;
                b = (int)(i / (long)NMIX) % 5000 - 2500;
            } else if (s == PARSED) {
                snprintf(tab, sizeof(tab), "_%ld", ++serial);
            }
            int m = s == PARSED ? (int)(i % (long)(NMIX - 2)) + 1 : (int)(i % (long)NMIX);
            if (m == 6)
                m = 7;          /* PARSED: BEGIN and END have no table to vary */
            tlen[k] = (size_t)snprintf(text[k], sizeof(text[k]), mix[m], tab, a, b);
        }
        double t0 = now();
        for (int k = 0; k < BATCH; k++) {
            const pgr_classification_t *r;
            if (pgr_classify(c, text[k], tlen[k], &r) != 0)
                return -1;
        }
        spent += now() - t0;
        n += BATCH;
    } while (spent < seconds);
    *ns_per = spent * 1e9 / (double)n;
    *count = n;
    return 0;
}

static void
print_stats(const char *what, pgr_classifier_t *c, const pgr_classify_stats_t *before)
{
    pgr_classify_stats_t st;
    pgr_classifier_stats(c, &st);
    printf("  %-9s cache: %llu hits, %llu misses, %llu evictions; %zu entries, %zu bytes\n",
           what, (unsigned long long)(st.hits - before->hits),
           (unsigned long long)(st.misses - before->misses),
           (unsigned long long)(st.evictions - before->evictions), st.entries, st.bytes);
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    static const struct { stream_t s; const char *name, *what; } streams[] = {
        {LITERALS, "literals", "new constants in every statement (pgbench -M simple)"},
        {REPEATED, "repeated", "8 distinct texts"},
        {PARSED, "parsed", "every statement a new table: each one parsed"},
    };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        pgr_classifier_t *c = NULL;
        if (pgr_classifier_new(10000, NULL, 0, &c) != 0) {
            fprintf(stderr, "classifier_new failed\n");
            return 1;
        }
        pgr_classify_stats_t st0;
        pgr_classifier_stats(c, &st0);
        double ns;
        long n;
        if (run(c, streams[i].s, seconds, &ns, &n) != 0) {
            fprintf(stderr, "classify failed\n");
            return 1;
        }
        printf("%-9s %8.0f ns/statement (%ld statements, %s)\n", streams[i].name, ns, n,
               streams[i].what);
        print_stats("", c, &st0);
        pgr_classifier_free(c);
    }
    pgr_classify_shutdown();
    return 0;
}

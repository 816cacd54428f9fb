/* Classifier microbenchmark: ns per statement for a pgbench-like mix (the five statements of
 * pgbench's TPC-B transaction plus its -S SELECT), cached (the same texts again and again: a
 * hash lookup each) and uncached (every text distinct, so every one is parsed and walked).
 *
 *   classify_bench [SECONDS]    (default 2 per measurement)
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

/* pgbench's built-in TPC-B script, with its values, and the -S select. */
static const char *const mix[] = {
    "BEGIN",
    "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d",
    "SELECT abalance FROM pgbench_accounts WHERE aid = %d%.0d",
    "UPDATE pgbench_tellers SET tbalance = tbalance + %d WHERE tid = %d",
    "UPDATE pgbench_branches SET bbalance = bbalance + %d WHERE bid = %d",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
    "VALUES (%d, 1, %d, -2437, CURRENT_TIMESTAMP)",
    "END",
    "SELECT abalance FROM pgbench_accounts WHERE aid = %d%.0d",
};
#define NMIX (sizeof(mix) / sizeof(mix[0]))

#define BATCH 1000

/* Classify batches of BATCH texts for about `seconds`; only the classify calls are timed (the
 * texts of a batch are written before its clock starts). */
static int
run(pgr_classifier_t *c, bool distinct, double seconds, double *ns_per, long *count)
{
    static char text[BATCH][256];
    static size_t tlen[BATCH];
    long n = 0;
    double spent = 0;
    do {
        for (int k = 0; k < BATCH; k++) {
            long i = n + k;
            int a = distinct ? (int)(i / (long)NMIX) : 42, b = distinct ? (int)i : 7;
            tlen[k] = (size_t)snprintf(text[k], sizeof(text[k]), mix[i % (long)NMIX], a, b);
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

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    pgr_classifier_t *c = NULL;
    if (pgr_classifier_new(10000, NULL, 0, &c) != 0) {
        fprintf(stderr, "classifier_new failed\n");
        return 1;
    }
    double cached, uncached;
    long nc, nu;
    if (run(c, true, seconds, &uncached, &nu) != 0 || run(c, false, seconds, &cached, &nc) != 0) {
        fprintf(stderr, "classify failed\n");
        return 1;
    }
    pgr_classify_stats_t st;
    pgr_classifier_stats(c, &st);
    printf("uncached: %8.0f ns/statement (%ld statements, every one parsed)\n", uncached, nu);
    printf("cached:   %8.0f ns/statement (%ld statements, %zu distinct texts)\n", cached, nc,
           NMIX);
    printf("cache: %llu hits, %llu misses, %llu evictions, %zu entries, %zu bytes\n",
           (unsigned long long)st.hits, (unsigned long long)st.misses,
           (unsigned long long)st.evictions, st.entries, st.bytes);
    pgr_classifier_free(c);
    pgr_classify_shutdown();
    return 0;
}

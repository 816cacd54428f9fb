/* stmts_bench: ns per Bind-path lookup of a named prepared statement — the client's statement by
 * name (pgr_stmts_find) and whether its server connection has it (pgr_srv_state_has + touch) —
 * with 10 to 10,000 statements. The cost must not depend on their number (it was a linear scan:
 * up to 10,000 strcmp per Bind). Prints one line per size and the ratio to the smallest. */
#include <stdio.h>
#include <time.h>

#include "session/state.h"

static double
now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int
main(void)
{
    static const int sizes[] = {10, 100, 1000, 10000};
    const int ops = 2000000;
    double base = 0;

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int n = sizes[k];
        pgr_stmts_t s = {0};
        pgr_srv_state_t *st = pgr_srv_state_new();
        char name[32];
        uint64_t ev;
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "P_%d", i);
            pgr_stmt_t *sm = pgr_stmts_add(&s, name, (const uint8_t *)"SELECT 1\0\0\0", 11);
            (void)pgr_srv_state_add(st, (uint64_t)1 << 32 | sm->seq, &ev);
        }
        uint64_t x = 12345, hits = 0;
        double t0 = now();
        for (int i = 0; i < ops; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            snprintf(name, sizeof(name), "P_%d", (int)((x >> 33) % (uint64_t)n));
            pgr_stmt_t *sm = pgr_stmts_find(&s, name);
            uint64_t key = (uint64_t)1 << 32 | sm->seq;
            if (pgr_srv_state_has(st, key)) {
                pgr_srv_state_touch(st, key);
                hits++;
            }
        }
        double ns = (now() - t0) * 1e9 / ops;
        if (k == 0)
            base = ns;
        printf("%6d statements: %7.1f ns per lookup (%.2fx the 10-statement cost, %.0f%% on the "
               "connection)\n", n, ns, ns / base, 100.0 * (double)hits / ops);
        pgr_stmts_free(&s);
        pgr_srv_state_free(st);
    }
    return 0;
}

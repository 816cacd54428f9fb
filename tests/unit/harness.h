/* A tiny unit-test harness that speaks TAP (meson: protocol 'tap').
 *
 *   TEST(name) { CHECK(x == 1); CHECK_STR(got, "want"); CHECK_INT(a, b); }
 *   int main(void) { return RUN(name, other); }
 *
 * Each TEST is one TAP line; a failed CHECK prints its expression, file and line as a TAP
 * diagnostic and marks the test failed (the test goes on, so all failures show). */
#ifndef PGR_TEST_HARNESS_H
#define PGR_TEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdint.h>
#include <inttypes.h>

static int t_failed_checks;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            t_failed_checks++;                                                       \
            printf("# FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                 \
        }                                                                            \
    } while (0)

#define CHECK_INT(got, want)                                                         \
    do {                                                                             \
        long long g_ = (long long)(got), w_ = (long long)(want);                     \
        if (g_ != w_) {                                                              \
            t_failed_checks++;                                                       \
            printf("# FAIL %s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, \
                   g_, w_);                                                          \
        }                                                                            \
    } while (0)

#define CHECK_STR(got, want)                                                         \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {             \
            t_failed_checks++;                                                       \
            t_diag("FAIL %s:%d: %s\n  got:  %s\n  want: %s", __FILE__, __LINE__, #got, \
                   g_ ? g_ : "(null)", w_ ? w_ : "(null)");                          \
        }                                                                            \
    } while (0)

#define CHECK_MEM(got, want, len)                                                    \
    do {                                                                             \
        if (memcmp((got), (want), (len)) != 0) {                                     \
            t_failed_checks++;                                                       \
            printf("# FAIL %s:%d: %s differs from %s\n", __FILE__, __LINE__, #got,   \
                   #want);                                                           \
        }                                                                            \
    } while (0)

/* A TAP diagnostic: the formatted text with "# " in front of each of its lines, so a message
 * that spans lines (libpq's "...\n\tIs the server running...") stays a diagnostic. */
static inline void __attribute__((format(printf, 1, 2)))
t_diag(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (const char *p = buf; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("# %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
}

typedef struct { const char *name; void (*fn)(void); } t_case;

static inline int
t_run(const t_case *cases, size_t n)
{
    int failed = 0;
    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        int before = t_failed_checks;
        cases[i].fn();
        int ok = t_failed_checks == before;
        printf("%s %zu - %s\n", ok ? "ok" : "not ok", i + 1, cases[i].name);
        fflush(stdout);
        failed += !ok;
    }
    return failed ? 1 : 0;
}

#define T_CASE(name) { #name, test_##name },
#define T_EXPAND(...) __VA_ARGS__
/* RUN(a, b, c): run the tests in order. */
#define RUN(...) t_run_list((const char *)#__VA_ARGS__, (void (*[])(void)){ T_FNS(__VA_ARGS__) }, \
                            sizeof((void (*[])(void)){ T_FNS(__VA_ARGS__) }) / sizeof(void (*)(void)))

/* Map names to test_ function pointers (up to 64 tests per file; split larger files). */
#define T_FN(x) test_##x
#define T_FNS(...) T_MAP(T_FN, __VA_ARGS__)
#define T_MAP(f, ...) T_MAP_(T_NARGS(__VA_ARGS__), f, __VA_ARGS__)
#define T_MAP_(n, f, ...) T_MAP__(n, f, __VA_ARGS__)
#define T_MAP__(n, f, ...) T_MAP_##n(f, __VA_ARGS__)
#include "harness_map.h"

static inline int
t_run_list(const char *names, void (**fns)(void), size_t n)
{
    t_case cases[256];
    char buf[8192];
    size_t k = 0;
    snprintf(buf, sizeof(buf), "%s", names);
    for (char *save = NULL, *tok = strtok_r(buf, ", \n\t", &save); tok && k < n;
         tok = strtok_r(NULL, ", \n\t", &save)) {
        cases[k].name = strdup(tok);
        cases[k].fn = fns[k];
        k++;
    }
    int rc = t_run(cases, k);
    for (size_t i = 0; i < k; i++)
        free((void *)cases[i].name);
    return rc;
}

#endif

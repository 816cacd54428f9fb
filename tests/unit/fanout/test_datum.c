/* Typed comparison and exact decimal addition of column values (fanout/datum). */
#include "../harness.h"
#include "fanout/datum.h"

static int
cmp_text(pgr_datum_kind_t k, const char *a, const char *b, int *rc)
{
    int c = 99;
    *rc = pgr_datum_compare(k, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b, strlen(b),
                            &c);
    return c;
}

/* Each list is in ascending order (equal neighbours marked with '=' prefix on the second). */
static void
check_order(pgr_datum_kind_t k, const char *const *vals, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int rc;
            const char *a = vals[i], *b = vals[j];
            bool ea = a[0] == '=', eb = b[0] == '=';
            int c = cmp_text(k, a + ea, b + eb, &rc);
            /* rank: an '=' entry ranks with its predecessor */
            int ri = i, rj = j;
            while (ri > 0 && vals[ri][0] == '=')
                ri--;
            while (rj > 0 && vals[rj][0] == '=')
                rj--;
            int want = (ri > rj) - (ri < rj);
            CHECK_INT(rc, 0);
            if ((c > 0) - (c < 0) != want) {
                CHECK_INT((c > 0) - (c < 0), want);
                printf("#   %s vs %s\n", a, b);
            }
        }
}

#define ORDER(k, ...)                                                                  \
    do {                                                                               \
        const char *const v_[] = {__VA_ARGS__};                                        \
        check_order(k, v_, (int)(sizeof(v_) / sizeof(v_[0])));                         \
    } while (0)

TEST(kinds)
{
    CHECK_INT(pgr_datum_kind(23, 0), PGR_DATUM_INT);
    CHECK_INT(pgr_datum_kind(20, 1), PGR_DATUM_INT);
    CHECK_INT(pgr_datum_kind(1700, 0), PGR_DATUM_NUMERIC);
    CHECK_INT(pgr_datum_kind(1700, 1), PGR_DATUM_NUMERIC); /* binary: numeric.h */
    CHECK_INT(pgr_datum_kind(1186, 0), PGR_DATUM_OTHER); /* interval */
    CHECK_INT(pgr_datum_kind(25, 2), PGR_DATUM_OTHER);
}

TEST(numbers)
{
    ORDER(PGR_DATUM_INT, "-9223372036854775808", "-100", "-99", "-1", "0", "=-0", "7", "10",
          "100", "9223372036854775807");
    ORDER(PGR_DATUM_NUMERIC, "-Infinity", "-10.5", "-10.25", "-1", "-0.001", "0", "=0.000",
          "=-0.0", "0.0001", "0.5", "=0.50", "1", "=001.0", "9.99", "10", "123456789012345678901234567890.1",
          "Infinity", "NaN");
    ORDER(PGR_DATUM_FLOAT, "-Infinity", "-1e+300", "-1.5", "-0", "=0", "1e-05", "0.25", "3",
          "1e+20", "Infinity", "NaN");
    int rc;
    cmp_text(PGR_DATUM_INT, "1.5", "1", &rc);
    CHECK_INT(rc, PGR_EINVAL);
    cmp_text(PGR_DATUM_NUMERIC, "1e5", "1", &rc);
    CHECK_INT(rc, PGR_EINVAL);
    /* Binary: big-endian ints, oids unsigned, IEEE floats. */
    uint8_t a[4] = {0xff, 0xff, 0xff, 0xfe}, b[4] = {0, 0, 0, 1};
    int c;
    CHECK_INT(pgr_datum_compare(PGR_DATUM_INT, 1, a, 4, b, 4, &c), 0);
    CHECK(c < 0);
    CHECK_INT(pgr_datum_compare(PGR_DATUM_OID, 1, a, 4, b, 4, &c), 0);
    CHECK(c > 0);
    uint8_t f1[8] = {0xbf, 0xf0, 0, 0, 0, 0, 0, 0}, f2[8] = {0x40, 0, 0, 0, 0, 0, 0, 0};
    CHECK_INT(pgr_datum_compare(PGR_DATUM_FLOAT, 1, f1, 8, f2, 8, &c), 0); /* -1.0 vs 2.0 */
    CHECK(c < 0);
    CHECK_INT(pgr_datum_compare(PGR_DATUM_INT, 1, a, 4, b, 2, &c), 0); /* int4 vs int2 */
    CHECK_INT(pgr_datum_compare(PGR_DATUM_INT, 1, a, 3, b, 4, &c), PGR_EINVAL);
}

TEST(text_like)
{
    ORDER(PGR_DATUM_TEXT, "", "A", "B", "Z", "a", "ab", "b", "\xc3\xa9");
    ORDER(PGR_DATUM_BPCHAR, "a", "=a  ", "ab", "b   ");
    ORDER(PGR_DATUM_BOOL, "f", "t");
    ORDER(PGR_DATUM_UUID, "00000000-0000-0000-0000-000000000000",
          "0a000000-0000-0000-0000-000000000000", "ffffffff-0000-0000-0000-000000000000");
    ORDER(PGR_DATUM_BYTEA, "\\x", "\\x00", "\\x0001", "\\x01", "\\xff");
    int rc;
    cmp_text(PGR_DATUM_BYTEA, "\\001", "\\x00", &rc); /* escape output: not comparable */
    CHECK_INT(rc, PGR_EINVAL);
    cmp_text(PGR_DATUM_BOOL, "true", "f", &rc);
    CHECK_INT(rc, PGR_EINVAL);
}

static int
cmp_coll(const pgr_coll_t *c, pgr_datum_kind_t k, const char *a, const char *b)
{
    int r = 99;
    CHECK_INT(pgr_datum_compare_coll(c, k, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
                                     strlen(b), &r),
              0);
    return (r > 0) - (r < 0);
}

/* Collation names as PostgreSQL spells them; en_US.UTF-8 must be generated on this machine
 * (scripts/bootstrap.sh does it). */
TEST(collations)
{
    static const char *const bytewise[] = {"C", "POSIX", "ucs_basic", "C.UTF-8", "C.utf8",
                                           "c.utf-8"};
    pgr_coll_t c;
    for (size_t i = 0; i < PGR_ARRAY_LEN(bytewise); i++) {
        pgr_datum_coll_open(&c, bytewise[i], 'c');
        CHECK_INT(c.kind, PGR_COLL_BYTES);
        pgr_datum_coll_close(&c);
    }
    pgr_datum_coll_open(&c, "en_US.UTF-8", 'i'); /* ICU: not libc's order */
    CHECK_INT(c.kind, PGR_COLL_UNKNOWN);
    pgr_datum_coll_open(&c, "xx_NOPE.UTF-8", 'c');
    CHECK_INT(c.kind, PGR_COLL_UNKNOWN);
    CHECK_INT(cmp_coll(&c, PGR_DATUM_TEXT, "a", "B"), 1); /* unknown: bytewise */
    pgr_datum_coll_open(&c, "", 'c');
    CHECK_INT(c.kind, PGR_COLL_UNKNOWN);

    static const char *const names[] = {"en_US.UTF-8", "en_US.utf8", "en_US"};
    for (size_t i = 0; i < PGR_ARRAY_LEN(names); i++) {
        pgr_datum_coll_open(&c, names[i], 'c');
        CHECK_INT(c.kind, PGR_COLL_LIBC);
        if (c.kind != PGR_COLL_LIBC) {
            printf("# %s: locale not available (run scripts/bootstrap.sh)\n", names[i]);
            continue;
        }
        /* glibc's en_US order: case and accents second, punctuation and spaces after
         * letters and digits at the first level */
        static const char *const order[] = {"", " a", "a", "A", "a1", "a10", "a2", "a b",
                                            "a-b", "ab", "b", "B", "cote", "cot\xc3\xa9",
                                            "c\xc3\xb4te", "e", "E", "\xc3\xa9", "f", "ss",
                                            "\xc3\x9f", "zoe", "Zo\xc3\xab"};
        for (size_t x = 0; x < PGR_ARRAY_LEN(order); x++)
            for (size_t y = 0; y < PGR_ARRAY_LEN(order); y++) {
                int want = (x > y) - (x < y);
                if (cmp_coll(&c, PGR_DATUM_TEXT, order[x], order[y]) != want) {
                    CHECK_INT(cmp_coll(&c, PGR_DATUM_TEXT, order[x], order[y]), want);
                    printf("#   \"%s\" vs \"%s\" in %s\n", order[x], order[y], names[i]);
                }
            }
        /* char(n) ignores trailing spaces before collating; name goes the same way when a
         * collation is given; a long value is copied, not cut */
        CHECK_INT(cmp_coll(&c, PGR_DATUM_BPCHAR, "b   ", "B"), -1);
        CHECK_INT(cmp_coll(&c, PGR_DATUM_BPCHAR, "a  ", "a"), 0);
        CHECK_INT(cmp_coll(&c, PGR_DATUM_NAME, "b", "B"), -1);
        char big1[3000], big2[3000];
        memset(big1, 'x', sizeof(big1));
        memcpy(big2, big1, sizeof(big2));
        big1[2000] = 'B';
        big2[2000] = 'c';
        big1[2999] = big2[2999] = '\0';
        CHECK_INT(cmp_coll(&c, PGR_DATUM_TEXT, big1, big2), -1);
        CHECK_INT(cmp_coll(NULL, PGR_DATUM_TEXT, big1, big2), -1);
        big2[2000] = 'a';
        CHECK_INT(cmp_coll(&c, PGR_DATUM_TEXT, big1, big2), 1);
        CHECK_INT(cmp_coll(NULL, PGR_DATUM_TEXT, big1, big2), -1);
        /* other kinds ignore the collation */
        CHECK_INT(cmp_coll(&c, PGR_DATUM_INT, "10", "9"), 1);
        pgr_datum_coll_close(&c);
        CHECK_INT(c.kind, PGR_COLL_UNKNOWN);
    }
    CHECK_INT(pgr_datum_kind(19, 0), PGR_DATUM_NAME);
    CHECK_INT(pgr_datum_kind(1043, 1), PGR_DATUM_TEXT);
}

TEST(dates_and_times)
{
    ORDER(PGR_DATUM_DATE, "-infinity", "4713-01-01 BC", "0002-12-31 BC", "0001-01-01 BC",
          "0001-01-01", "1999-12-31", "2000-01-01", "9999-12-31", "10000-01-01", "infinity");
    ORDER(PGR_DATUM_TIMESTAMP, "-infinity", "0001-06-01 12:00:00 BC", "1970-01-01 00:00:00",
          "1970-01-01 00:00:00.000001", "1970-01-01 00:00:00.5", "1970-01-01 00:00:01",
          "2024-02-29 23:59:59.999999", "infinity");
    /* DST fall-back in America/New_York: 01:59-04 comes before 01:00-05. */
    ORDER(PGR_DATUM_TIMESTAMPTZ, "2024-11-03 00:30:00-04", "2024-11-03 01:59:00-04",
          "2024-11-03 11:30:00+05:30:01", "2024-11-03 01:00:00-05", "=2024-11-03 06:00:00+00",
          "=2024-11-03 11:30:00+05:30", "2024-11-03 06:00:00.5+00");
    ORDER(PGR_DATUM_TIME, "00:00:00", "00:00:00.1", "09:59:59", "10:00:00", "24:00:00");
    int rc;
    cmp_text(PGR_DATUM_DATE, "12/31/1999", "2000-01-01", &rc); /* DateStyle SQL */
    CHECK_INT(rc, PGR_EINVAL);
    cmp_text(PGR_DATUM_TIMESTAMPTZ, "2024-01-01 00:00:00 PST", "2024-01-01 00:00:00+00", &rc);
    CHECK_INT(rc, PGR_EINVAL);
}

static const char *
add(const char *a, const char *b)
{
    static char buf[256];
    char *r = NULL;
    int rc = pgr_datum_dec_add(a, strlen(a), b, strlen(b), &r);
    if (rc)
        snprintf(buf, sizeof(buf), "error %s", pgr_strerror(rc));
    else
        snprintf(buf, sizeof(buf), "%s", r);
    free(r);
    return buf;
}

TEST(decimal_add)
{
    CHECK_STR(add("1", "2"), "3");
    CHECK_STR(add("999", "1"), "1000");
    CHECK_STR(add("-5", "3"), "-2");
    CHECK_STR(add("5", "-5"), "0");
    CHECK_STR(add("1.50", "2.5"), "4.00");
    CHECK_STR(add("-0.25", "0.05"), "-0.20");
    CHECK_STR(add("0.1", "-0.1"), "0.0");
    CHECK_STR(add("9223372036854775807", "9223372036854775807"), "18446744073709551614");
    CHECK_STR(add("-100.001", "-0.999"), "-101.000");
    CHECK_STR(add("12345678901234567890.123456789", "1"), "12345678901234567891.123456789");
    CHECK_STR(add("NaN", "1"), "NaN");
    CHECK_STR(add("Infinity", "5"), "Infinity");
    CHECK_STR(add("-Infinity", "Infinity"), "NaN");
    CHECK_STR(add("0", "-Infinity"), "-Infinity");
    CHECK_STR(add("1x", "1"), "error invalid argument");
    CHECK(pgr_datum_dec_is_int8("9223372036854775807", 19));
    CHECK(!pgr_datum_dec_is_int8("9223372036854775808", 19));
    CHECK(pgr_datum_dec_is_int8("-9223372036854775808", 20));
    CHECK(!pgr_datum_dec_is_int8("1.0", 3));
}

/* Random integers added as decimal strings agree with __int128 arithmetic. */
TEST(decimal_add_random)
{
    srand(7);
    for (int k = 0; k < 20000; k++) {
        long long a = ((long long)rand() << 20 ^ rand()) * (rand() % 2 ? 1 : -1);
        long long b = ((long long)rand() << 8 ^ rand()) * (rand() % 2 ? 1 : -1);
        int sa = rand() % 4, sb = rand() % 4; /* scales */
        char x[64], y[64], want[64];
        snprintf(x, sizeof(x), "%s%lld.%0*lld", a < 0 ? "-" : "", llabs(a) / 1000, 3,
                 llabs(a) % 1000);
        snprintf(y, sizeof(y), "%s%lld.%0*lld", b < 0 ? "-" : "", llabs(b) / 1000, 3,
                 llabs(b) % 1000);
        long long s = a + b;
        snprintf(want, sizeof(want), "%s%lld.%03lld", s < 0 ? "-" : "", llabs(s) / 1000,
                 llabs(s) % 1000);
        (void)sa;
        (void)sb;
        if (strcmp(add(x, y), want) != 0) {
            CHECK_STR(add(x, y), want);
            break;
        }
    }
}

int
main(void)
{
    return RUN(kinds, numbers, text_like, collations, dates_and_times, decimal_add, decimal_add_random);
}

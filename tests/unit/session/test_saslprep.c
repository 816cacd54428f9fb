/* session/saslprep: pg_saslprep's outcomes for the cases that decide a login. Every expected
 * value here was checked against libpq's own pg_saslprep (PQencryptPasswordConn) by
 * tests/integration/test_auth_verifier.py, which runs the same comparison on every build. */
#include "session/saslprep.h"
#include "../harness.h"

static int
prep(const char *in, char **out)
{
    int rc = pgr_saslprep(in, out);
    if (rc != PGR_SASLPREP_OK && *out != NULL)
        printf("# %s: *out set on failure\n", in);
    return rc;
}

#define CHECK_PREP(in, want)                                                             \
    do {                                                                                 \
        char *o_ = NULL;                                                                 \
        CHECK_INT(prep((in), &o_), PGR_SASLPREP_OK);                                     \
        CHECK_STR(o_, (want));                                                           \
        pgr_saslprep_free(o_);                                                           \
    } while (0)

#define CHECK_FAILS(in, rc)                                                              \
    do {                                                                                 \
        char *o_ = NULL;                                                                 \
        CHECK_INT(prep((in), &o_), (rc));                                                \
        CHECK(o_ == NULL);                                                               \
    } while (0)

TEST(ascii_is_unchanged)
{
    CHECK_PREP("", "");
    CHECK_PREP("scram_pass", "scram_pass");
    /* control characters are prohibited by the profile, but pg_saslprep never looks at ASCII */
    CHECK_PREP("\x01\x02 tab\there", "\x01\x02 tab\there");
}

TEST(map_and_normalise)
{
    CHECK_PREP("IX-\u2168", "IX-IX");             /* ROMAN NUMERAL NINE, NFKC */
    CHECK_PREP("a\u00adb", "ab");                 /* SOFT HYPHEN maps to nothing (B.1) */
    CHECK_PREP("x\u2000y", "x y");                /* EN QUAD, a non-ASCII space (C.1.2) */
    CHECK_PREP("a\u200bb", "a b");                /* ZERO WIDTH SPACE: C.1.2 before B.1 */
    CHECK_PREP("\u00a0", " ");
    CHECK_PREP("\ufb01", "fi");
    CHECK_PREP("\u212b", "\u00c5");               /* ANGSTROM SIGN */
    CHECK_PREP("cafe\u0301", "caf\u00e9");        /* composed */
    CHECK_PREP("caf\u00e9", "caf\u00e9");
    CHECK_PREP("\u0627\u0628", "\u0627\u0628");   /* right-to-left only: fine */
    CHECK_PREP("\u1100\u1161\u11a8", "\uac01");   /* Hangul jamo compose */
}

TEST(prohibited)
{
    CHECK_FAILS("\u00ad", PGR_SASLPREP_PROHIBITED);            /* maps to the empty string */
    CHECK_FAILS("pw\ue000", PGR_SASLPREP_PROHIBITED);          /* private use (C.3) */
    CHECK_FAILS("\u0627a\u0628", PGR_SASLPREP_PROHIBITED);     /* RandAL with L (bidi) */
    CHECK_FAILS("\u0627\u0661x", PGR_SASLPREP_PROHIBITED);     /* does not end in RandAL */
    CHECK_FAILS("a\u2028b", PGR_SASLPREP_PROHIBITED);          /* LINE SEPARATOR (C.2.2) */
    CHECK_FAILS("\U0001F600", PGR_SASLPREP_PROHIBITED);        /* unassigned in Unicode 3.2 */
    /* U+1F100 NFKC-maps to "0." today, but pg_saslprep checks the string before normalising,
     * where it is unassigned (Unicode 3.2): the password is used as its raw bytes. */
    CHECK_FAILS("\U0001F100x", PGR_SASLPREP_PROHIBITED);
}

TEST(invalid_utf8)
{
    CHECK_FAILS("\xff\xfe", PGR_SASLPREP_INVALID_UTF8);
    CHECK_FAILS("ab\xc3", PGR_SASLPREP_INVALID_UTF8);          /* truncated sequence */
    CHECK_FAILS("\xed\xa0\x80", PGR_SASLPREP_INVALID_UTF8);    /* a surrogate */
    CHECK_FAILS("\xc0\xaf", PGR_SASLPREP_INVALID_UTF8);        /* overlong */
}

TEST(password_falls_back_to_its_bytes)
{
    char *p = pgr_saslprep_password("IX-\u2168");
    CHECK_STR(p, "IX-IX");
    pgr_saslprep_free(p);
    p = pgr_saslprep_password("pw\ue000");
    CHECK_STR(p, "pw\ue000");
    pgr_saslprep_free(p);
    p = pgr_saslprep_password("\xff\xfe");
    CHECK_STR(p, "\xff\xfe");
    pgr_saslprep_free(p);
    pgr_saslprep_free(NULL);
}

int
main(void)
{
    return RUN(ascii_is_unchanged, map_and_normalise, prohibited, invalid_utf8,
               password_falls_back_to_its_bytes);
}

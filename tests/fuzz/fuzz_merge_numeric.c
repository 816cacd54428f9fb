/* libFuzzer driver: binary numeric (fanout/numeric), the values the merge compares and sums.
 * The input is two values a and b (the first byte, mod the rest's length + 1, says where a
 * ends), each copied to a buffer of exactly its size so ASan sees any read past it. Whatever
 * comes in: no crash; compare and add answer 0 or PGR_EINVAL, and agree on what is malformed
 * (add may also refuse a valid pair: a digit beyond dscale or a weight overflow). For valid
 * values the order is antisymmetric and reflexive, and a sum is commutative (same bytes), is
 * itself valid and canonical (adding 0 gives the same bytes back), and is ordered as
 * arithmetic says: a + b > a when b > 0 is finite and a finite, and so on. */
#include <stdlib.h>
#include <string.h>

#include "fanout/numeric.h"
#include "pgrouter/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                         \
    do {                                                                                   \
        if (!(c))                                                                          \
            abort();                                                                       \
    } while (0)

static const uint8_t zero[8] = {0};

static uint8_t *
dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    REQUIRE(q != NULL);
    if (n)
        memcpy(q, p, n);
    return q;
}

static bool
special(const uint8_t *p)
{
    return p[4] & 0x80; /* valid values only: 0xC000, 0xD000, 0xF000 */
}

static void
check_add(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t *s = NULL, *t = NULL, *u = NULL;
    size_t slen, tlen, ulen;
    int c, rc = pgr_numeric_add(a, alen, b, blen, &s, &slen);
    REQUIRE(rc == 0 || rc == PGR_EINVAL);
    if (rc) {
        REQUIRE(s == NULL);
        REQUIRE(pgr_numeric_add(b, blen, a, alen, &t, &tlen) == PGR_EINVAL);
        return;
    }
    REQUIRE(pgr_numeric_add(b, blen, a, alen, &t, &tlen) == 0);
    REQUIRE(slen == tlen && memcmp(s, t, slen) == 0);
    REQUIRE(pgr_numeric_compare(s, slen, s, slen, &c) == 0 && c == 0);
    REQUIRE(pgr_numeric_add(s, slen, zero, sizeof(zero), &u, &ulen) == 0);
    REQUIRE(ulen == slen && memcmp(s, u, slen) == 0);
    /* a + b against a, when both are finite: the sign of b decides. */
    if (!special(a) && !special(b)) {
        int bs, d;
        REQUIRE(pgr_numeric_compare(b, blen, zero, sizeof(zero), &bs) == 0);
        REQUIRE(pgr_numeric_compare(s, slen, a, alen, &d) == 0);
        REQUIRE((d > 0) - (d < 0) == (bs > 0) - (bs < 0));
        REQUIRE(!special(s));
    }
    free(s);
    free(t);
    free(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t rest = size - 1, alen = data[0] % (rest + 1);
    uint8_t *a = dup(data + 1, alen), *b = dup(data + 1 + alen, rest - alen);
    size_t blen = rest - alen;
    int ab = 7, ba = 7, aa = 7;
    int r1 = pgr_numeric_compare(a, alen, b, blen, &ab);
    int r2 = pgr_numeric_compare(b, blen, a, alen, &ba);
    REQUIRE(r1 == 0 || r1 == PGR_EINVAL);
    REQUIRE(r1 == r2);
    if (r1 == 0) {
        REQUIRE((ab > 0) - (ab < 0) == -((ba > 0) - (ba < 0)));
        REQUIRE(pgr_numeric_compare(a, alen, a, alen, &aa) == 0 && aa == 0);
        check_add(a, alen, b, blen);
    } else {
        uint8_t *s = NULL;
        size_t slen;
        REQUIRE(ab == 7 && ba == 7);
        REQUIRE(pgr_numeric_add(a, alen, b, blen, &s, &slen) == PGR_EINVAL && s == NULL);
    }
    free(a);
    free(b);
    return 0;
}

/* Binary numeric: decoding, exact order and exact addition (see numeric.h). */
#include <stdlib.h>
#include <string.h>

#include "fanout/numeric.h"
#include "protocol/reader.h"

#define NBASE      10000
#define DSCALE_MAX 0x3FFF

/* A decoded value. cls: -1 -Infinity, 0 finite, 1 +Infinity, 2 NaN. A finite value's digits
 * d[0..nd) point into the caller's bytes with leading and trailing zero digits left out, so
 * d[0] and d[nd-1] are non-zero and weight is d[0]'s exponent; zero is nd 0, weight 0, not
 * neg. */
typedef struct {
    int cls;
    bool neg;
    int weight;
    int dscale;
    size_t nd;
    const uint8_t *d;
} num_t;

static unsigned
dig_at(const num_t *x, size_t i)
{
    return pgr_be16(x->d + 2 * i);
}

/* Digit of exponent e (10000^e), 0 outside the stored ones. */
static unsigned
dig_exp(const num_t *x, long e)
{
    long i = (long)x->weight - e;
    return i >= 0 && (size_t)i < x->nd ? dig_at(x, (size_t)i) : 0;
}

/* The exponent of the last stored digit of a non-zero value. */
static long
low_exp(const num_t *x)
{
    return (long)x->weight - (long)x->nd + 1;
}

static int
parse(const uint8_t *p, size_t len, num_t *x)
{
    memset(x, 0, sizeof(*x));
    if (len < 8)
        return PGR_EINVAL;
    size_t nd = pgr_be16(p);
    if (len - 8 != 2 * nd)
        return PGR_EINVAL;
    int weight = (int16_t)pgr_be16(p + 2);
    unsigned sign = pgr_be16(p + 4);
    unsigned dscale = pgr_be16(p + 6);
    if (dscale > DSCALE_MAX)
        return PGR_EINVAL;
    const uint8_t *d = p + 8;
    for (size_t i = 0; i < nd; i++)
        if (pgr_be16(d + 2 * i) >= NBASE)
            return PGR_EINVAL;
    x->dscale = (int)dscale;
    switch (sign) {
    case PGR_NUMERIC_NAN:
        x->cls = 2;
        return 0; /* digits, weight, dscale ignored, as numeric_recv does */
    case PGR_NUMERIC_PINF:
        x->cls = 1;
        return 0;
    case PGR_NUMERIC_NINF:
        x->cls = -1;
        return 0;
    case PGR_NUMERIC_POS:
    case PGR_NUMERIC_NEG:
        break;
    default:
        return PGR_EINVAL;
    }
    while (nd && pgr_be16(d) == 0) {
        d += 2;
        nd--;
        weight--;
    }
    while (nd && pgr_be16(d + 2 * (nd - 1)) == 0)
        nd--;
    if (nd == 0)
        return 0;
    x->neg = sign == PGR_NUMERIC_NEG;
    x->weight = weight;
    x->nd = nd;
    x->d = d;
    return 0;
}

/* |a| vs |b| of finite values. */
static int
mag_cmp(const num_t *a, const num_t *b)
{
    if (a->nd == 0 || b->nd == 0)
        return (a->nd != 0) - (b->nd != 0);
    if (a->weight != b->weight)
        return a->weight < b->weight ? -1 : 1;
    size_t n = a->nd > b->nd ? a->nd : b->nd;
    for (size_t i = 0; i < n; i++) {
        unsigned x = i < a->nd ? dig_at(a, i) : 0, y = i < b->nd ? dig_at(b, i) : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

static int
num_cmp(const num_t *a, const num_t *b)
{
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->cls != 0)
        return 0;
    int sa = a->nd == 0 ? 0 : a->neg ? -1 : 1;
    int sb = b->nd == 0 ? 0 : b->neg ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    int c = mag_cmp(a, b);
    return sa < 0 ? -c : c;
}

int
pgr_numeric_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int *cmp)
{
    num_t x, y;
    if (parse(a, alen, &x) || parse(b, blen, &y))
        return PGR_EINVAL;
    *cmp = num_cmp(&x, &y);
    return 0;
}

/* Decimal digits after the point a finite value needs (0 for an integer). */
static long
frac_digits(const num_t *x)
{
    if (x->nd == 0 || low_exp(x) >= 0)
        return 0;
    unsigned last = dig_at(x, x->nd - 1);
    long tz = 0;
    while (last % 10 == 0) {
        last /= 10;
        tz++;
    }
    return 4 * -low_exp(x) - tz;
}

static void
put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The encoded value: header plus nd digits from acc[top] down to acc[top - nd + 1] (acc is
 * indexed by exponent − lo). */
static int
encode(bool neg, long weight, int dscale, const int32_t *acc, long top, size_t nd,
       unsigned special, uint8_t **out, size_t *outlen)
{
    size_t len = 8 + 2 * nd;
    uint8_t *p = malloc(len);
    if (p == NULL)
        return PGR_ENOMEM;
    put16(p, (unsigned)nd);
    put16(p + 2, (unsigned)(uint16_t)(int16_t)weight);
    put16(p + 4, special ? special : neg ? PGR_NUMERIC_NEG : PGR_NUMERIC_POS);
    put16(p + 6, (unsigned)dscale);
    for (size_t i = 0; i < nd; i++)
        put16(p + 8 + 2 * i, (unsigned)acc[top - (long)i]);
    *out = p;
    *outlen = len;
    return 0;
}

static int
add_special(const num_t *x, const num_t *y, uint8_t **out, size_t *outlen)
{
    unsigned s;
    if (x->cls == 2 || y->cls == 2 || x->cls * y->cls == -1)
        s = PGR_NUMERIC_NAN; /* NaN absorbs; +Infinity + -Infinity */
    else
        s = (x->cls ? x->cls : y->cls) == 1 ? PGR_NUMERIC_PINF : PGR_NUMERIC_NINF;
    /* NaN goes out with dscale 0, ±Infinity with 32, as numeric_send writes them. */
    return encode(false, 0, s == PGR_NUMERIC_NAN ? 0 : 32, NULL, 0, 0, s, out, outlen);
}

int
pgr_numeric_add(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t **out,
                size_t *outlen)
{
    num_t x, y;
    *out = NULL;
    *outlen = 0;
    if (parse(a, alen, &x) || parse(b, blen, &y))
        return PGR_EINVAL;
    if (x.cls != 0 || y.cls != 0)
        return add_special(&x, &y, out, outlen);
    if (frac_digits(&x) > x.dscale || frac_digits(&y) > y.dscale)
        return PGR_EINVAL;
    int dscale = x.dscale > y.dscale ? x.dscale : y.dscale;
    if (x.nd == 0 || y.nd == 0) {
        const num_t *v = x.nd ? &x : &y;
        if (v->nd == 0)
            return encode(false, 0, dscale, NULL, 0, 0, 0, out, outlen);
        /* Re-encode the non-zero one from its own digits, canonical. */
        size_t len = 8 + 2 * v->nd;
        uint8_t *p = malloc(len);
        if (p == NULL)
            return PGR_ENOMEM;
        put16(p, (unsigned)v->nd);
        put16(p + 2, (unsigned)(uint16_t)(int16_t)v->weight);
        put16(p + 4, v->neg ? PGR_NUMERIC_NEG : PGR_NUMERIC_POS);
        put16(p + 6, (unsigned)dscale);
        memcpy(p + 8, v->d, 2 * v->nd);
        *out = p;
        *outlen = len;
        return 0;
    }
    /* Both non-zero: digits of exponents lo..hi (hi one above the larger weight for a carry),
     * least significant first. Subtraction takes the smaller magnitude from the larger. */
    long lo = low_exp(&x) < low_exp(&y) ? low_exp(&x) : low_exp(&y);
    long hi = (x.weight > y.weight ? x.weight : y.weight) + 1;
    size_t n = (size_t)(hi - lo + 1);
    int32_t *acc = malloc(n * sizeof(*acc));
    if (acc == NULL)
        return PGR_ENOMEM;
    const num_t *big = &x, *small = &y;
    bool subtract = x.neg != y.neg;
    if (subtract && mag_cmp(&x, &y) < 0) {
        big = &y;
        small = &x;
    }
    bool neg = big->neg;
    int32_t carry = 0;
    for (long e = lo; e <= hi; e++) {
        int32_t v = subtract ? (int32_t)dig_exp(big, e) - (int32_t)dig_exp(small, e) - carry
                             : (int32_t)dig_exp(big, e) + (int32_t)dig_exp(small, e) + carry;
        if (subtract) {
            carry = v < 0;
            v += carry ? NBASE : 0;
        } else {
            carry = v >= NBASE;
            v -= carry ? NBASE : 0;
        }
        acc[e - lo] = v;
    }
    long top = (long)n - 1, bot = 0;
    while (top >= 0 && acc[top] == 0)
        top--;
    int rc;
    if (top < 0) { /* x = -y */
        rc = encode(false, 0, dscale, NULL, 0, 0, 0, out, outlen);
        goto done;
    }
    while (acc[bot] == 0)
        bot++;
    long weight = top + lo;
    size_t nd = (size_t)(top - bot + 1);
    if (weight > INT16_MAX || weight < INT16_MIN || nd > UINT16_MAX) {
        rc = PGR_EINVAL; /* PostgreSQL: "value overflows numeric format" */
        goto done;
    }
    rc = encode(neg, weight, dscale, acc, top, nd, 0, out, outlen);
done:
    free(acc);
    return rc;
}

/* Typed comparison and decimal addition of DataRow column values (see datum.h). */
#include <langinfo.h>
#include <math.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/datum.h"
#include "fanout/numeric.h"
#include "protocol/reader.h"

pgr_datum_kind_t
pgr_datum_kind(int32_t type_oid, int16_t format)
{
    if (format != 0 && format != 1)
        return PGR_DATUM_OTHER;
    switch (type_oid) {
    case PGR_OID_INT2:
    case PGR_OID_INT4:
    case PGR_OID_INT8:
        return PGR_DATUM_INT;
    case PGR_OID_OID:
        return PGR_DATUM_OID;
    case PGR_OID_FLOAT4:
    case PGR_OID_FLOAT8:
        return PGR_DATUM_FLOAT;
    case PGR_OID_NUMERIC:
        return PGR_DATUM_NUMERIC;
    case PGR_OID_BOOL:
        return PGR_DATUM_BOOL;
    case PGR_OID_TEXT:
    case PGR_OID_VARCHAR:
    case PGR_OID_UNKNOWN:
        return PGR_DATUM_TEXT;
    case PGR_OID_NAME:
        return PGR_DATUM_NAME;
    case PGR_OID_BPCHAR:
        return PGR_DATUM_BPCHAR;
    case PGR_OID_BYTEA:
        return PGR_DATUM_BYTEA;
    case PGR_OID_UUID:
        return PGR_DATUM_UUID;
    case PGR_OID_DATE:
        return PGR_DATUM_DATE;
    case PGR_OID_TIME:
        return PGR_DATUM_TIME;
    case PGR_OID_TIMESTAMP:
        return PGR_DATUM_TIMESTAMP;
    case PGR_OID_TIMESTAMPTZ:
        return PGR_DATUM_TIMESTAMPTZ;
    default:
        return PGR_DATUM_OTHER;
    }
}

static int
sign_of(long long d)
{
    return (d > 0) - (d < 0);
}

/* memcmp order, a prefix before its extensions. */
static int
bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return (alen > blen) - (alen < blen);
}

/* ---- decimals ----------------------------------------------------------------------------- */

/* A parsed decimal: class -1 -Infinity, 0 finite, 1 +Infinity, 2 NaN. For finite values ip
 * is the integer part without leading zeros and fp the fraction as written (its length is the
 * scale); neg is false for zero. */
typedef struct {
    int cls;
    bool neg;
    const char *ip, *fp;
    size_t ilen, flen;
} dec_t;

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
span_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int
dec_parse(const char *s, size_t n, dec_t *d)
{
    memset(d, 0, sizeof(*d));
    if (span_eq(s, n, "NaN")) {
        d->cls = 2;
        return 0;
    }
    if (span_eq(s, n, "Infinity")) {
        d->cls = 1;
        return 0;
    }
    if (span_eq(s, n, "-Infinity")) {
        d->cls = -1;
        return 0;
    }
    size_t i = 0;
    if (i < n && s[i] == '-') {
        d->neg = true;
        i++;
    }
    size_t istart = i;
    while (i < n && is_digit(s[i]))
        i++;
    size_t iend = i;
    size_t fstart = i, fend = i;
    if (i < n && s[i] == '.') {
        fstart = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        fend = i;
    }
    if (i != n || (iend == istart && fend == fstart))
        return PGR_EINVAL;
    while (istart < iend && s[istart] == '0')
        istart++;
    d->ip = s + istart;
    d->ilen = iend - istart;
    d->fp = s + fstart;
    d->flen = fend - fstart;
    bool zero = d->ilen == 0;
    for (size_t k = 0; zero && k < d->flen; k++)
        zero = d->fp[k] == '0';
    if (zero)
        d->neg = false;
    return 0;
}

static bool
dec_is_zero(const dec_t *d)
{
    if (d->ilen)
        return false;
    for (size_t k = 0; k < d->flen; k++)
        if (d->fp[k] != '0')
            return false;
    return true;
}

/* |a| vs |b| for finite values. */
static int
dec_mag_cmp(const dec_t *a, const dec_t *b)
{
    if (a->ilen != b->ilen)
        return a->ilen < b->ilen ? -1 : 1;
    int c = a->ilen ? memcmp(a->ip, b->ip, a->ilen) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    size_t fa = a->flen, fb = b->flen;
    while (fa && a->fp[fa - 1] == '0')
        fa--;
    while (fb && b->fp[fb - 1] == '0')
        fb--;
    return bytes_cmp((const uint8_t *)a->fp, fa, (const uint8_t *)b->fp, fb);
}

static int
dec_cmp(const dec_t *a, const dec_t *b)
{
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->cls != 0)
        return 0;
    int sa = dec_is_zero(a) ? 0 : a->neg ? -1 : 1;
    int sb = dec_is_zero(b) ? 0 : b->neg ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int c = dec_mag_cmp(a, b);
    return sa < 0 ? -c : c;
}

/* Digit k (0 = units, 1 = tens, ...; negative = fraction) of a finite decimal. */
static int
dec_digit(const dec_t *d, long k)
{
    if (k >= 0)
        return (size_t)k < d->ilen ? d->ip[d->ilen - 1 - (size_t)k] - '0' : 0;
    size_t f = (size_t)(-k) - 1;
    return f < d->flen ? d->fp[f] - '0' : 0;
}

int
pgr_datum_dec_add(const char *a, size_t alen, const char *b, size_t blen, char **out)
{
    dec_t x, y;
    *out = NULL;
    if (dec_parse(a, alen, &x) || dec_parse(b, blen, &y))
        return PGR_EINVAL;
    if (x.cls != 0 || y.cls != 0) {
        const char *r;
        if (x.cls == 2 || y.cls == 2 || (x.cls == 1 && y.cls == -1) || (x.cls == -1 && y.cls == 1))
            r = "NaN";
        else
            r = (x.cls ? x.cls : y.cls) == 1 ? "Infinity" : "-Infinity";
        *out = strdup(r);
        return *out ? 0 : PGR_ENOMEM;
    }
    size_t scale = x.flen > y.flen ? x.flen : y.flen;
    size_t iw = (x.ilen > y.ilen ? x.ilen : y.ilen) + 1;
    /* sign, integer digits, '.', fraction, NUL */
    char *buf = malloc(iw + scale + 4);
    if (buf == NULL)
        return PGR_ENOMEM;
    const dec_t *big = &x, *small = &y;
    bool subtract = x.neg != y.neg;
    bool neg = x.neg;
    if (subtract && dec_mag_cmp(&x, &y) < 0) {
        big = &y;
        small = &x;
        neg = y.neg;
    }
    /* Digits least significant first into the tail of a scratch array. */
    size_t nd = iw + scale;
    char *dig = malloc(nd);
    if (dig == NULL) {
        free(buf);
        return PGR_ENOMEM;
    }
    int carry = 0;
    for (size_t k = 0; k < nd; k++) {
        long pos = (long)k - (long)scale;
        int v = subtract ? dec_digit(big, pos) - dec_digit(small, pos) - carry
                         : dec_digit(big, pos) + dec_digit(small, pos) + carry;
        if (subtract) {
            carry = v < 0;
            v += carry ? 10 : 0;
        } else {
            carry = v >= 10;
            v -= carry ? 10 : 0;
        }
        dig[k] = (char)('0' + v);
    }
    size_t top = nd;
    while (top > scale + 1 && dig[top - 1] == '0')
        top--;
    bool zero = true;
    for (size_t k = 0; k < nd && zero; k++)
        zero = dig[k] == '0';
    char *p = buf;
    if (neg && !zero)
        *p++ = '-';
    for (size_t k = top; k > scale; k--)
        *p++ = dig[k - 1];
    if (scale) {
        *p++ = '.';
        for (size_t k = scale; k > 0; k--)
            *p++ = dig[k - 1];
    }
    *p = '\0';
    free(dig);
    *out = buf;
    return 0;
}

bool
pgr_datum_dec_is_int8(const char *s, size_t len)
{
    dec_t d, lim;
    if (dec_parse(s, len, &d) || d.cls != 0 || memchr(s, '.', len) != NULL)
        return false;
    const char *l = d.neg ? "-9223372036854775808" : "9223372036854775807";
    (void)dec_parse(l, strlen(l), &lim);
    return d.neg ? dec_cmp(&d, &lim) >= 0 : dec_cmp(&d, &lim) <= 0;
}

/* ---- floats ------------------------------------------------------------------------------- */

static int
float_text(const uint8_t *s, size_t n, double *v)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return PGR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = (char)s[i];
        if (!is_digit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E')
            if (!span_eq((const char *)s, n, "NaN") && !span_eq((const char *)s, n, "Infinity") &&
                !span_eq((const char *)s, n, "-Infinity"))
                return PGR_EINVAL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' ? 0 : PGR_EINVAL;
}

static int
float_bin(const uint8_t *s, size_t n, double *v)
{
    if (n == 4) {
        uint32_t u = pgr_be32(s);
        float f;
        memcpy(&f, &u, 4);
        *v = f;
    } else if (n == 8) {
        uint64_t u = (uint64_t)pgr_be32(s) << 32 | pgr_be32(s + 4);
        memcpy(v, &u, 8);
    } else {
        return PGR_EINVAL;
    }
    return 0;
}

/* PostgreSQL's float order: NaN equals NaN and is above everything. */
static int
float_cmp(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na - nb;
    return (a > b) - (a < b);
}

/* ---- integers (binary) -------------------------------------------------------------------- */

static int
int_bin(const uint8_t *s, size_t n, bool is_unsigned, long long *v)
{
    if (n == 2) {
        *v = (int16_t)pgr_be16(s);
    } else if (n == 4) {
        *v = is_unsigned ? (long long)pgr_be32(s) : (long long)(int32_t)pgr_be32(s);
    } else if (n == 8 && !is_unsigned) {
        *v = (long long)(int64_t)((uint64_t)pgr_be32(s) << 32 | pgr_be32(s + 4));
    } else {
        return PGR_EINVAL;
    }
    return 0;
}

static int
int_bin_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, bool is_unsigned,
            int *cmp)
{
    long long x, y;
    if (int_bin(a, alen, is_unsigned, &x) || int_bin(b, blen, is_unsigned, &y))
        return PGR_EINVAL;
    *cmp = (x > y) - (x < y);
    return 0;
}

/* ---- dates and times (text, DateStyle ISO) ------------------------------------------------ */

/* An instant: class -1 -infinity, 0 finite, 1 infinity; secs since 1970-01-01 00:00 UTC (local
 * time for timestamp and date), micro the fraction in microseconds. */
typedef struct {
    int cls;
    long long secs;
    long micro;
} instant_t;

/* Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC is 0). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* n digits at s[*i] (exactly n when n > 0; 1 to 9 when n == 0). */
static bool
digits(const char *s, size_t len, size_t *i, int n, long long *v)
{
    size_t st = *i;
    long long x = 0;
    while (*i < len && is_digit(s[*i]) && (n == 0 ? *i - st < 9 : *i - st < (size_t)n))
        x = x * 10 + (s[(*i)++] - '0');
    if (*i == st || (n > 0 && *i - st != (size_t)n) || (n == 0 && *i < len && is_digit(s[*i])))
        return false;
    *v = x;
    return true;
}

static bool
lit(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

/* what: 'd' date, 't' timestamp, 'z' timestamptz. */
static int
instant_parse(const uint8_t *us, size_t len, char what, instant_t *t)
{
    const char *s = (const char *)us;
    memset(t, 0, sizeof(*t));
    if (span_eq(s, len, "infinity")) {
        t->cls = 1;
        return 0;
    }
    if (span_eq(s, len, "-infinity")) {
        t->cls = -1;
        return 0;
    }
    bool bc = len >= 3 && memcmp(s + len - 3, " BC", 3) == 0;
    if (bc)
        len -= 3;
    size_t i = 0;
    long long y, mo, d, hh = 0, mi = 0, ss = 0, off = 0;
    if (!digits(s, len, &i, 0, &y) || i < 4 || !lit(s, len, &i, '-') ||
        !digits(s, len, &i, 2, &mo) || !lit(s, len, &i, '-') || !digits(s, len, &i, 2, &d))
        return PGR_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || (bc && y == 0))
        return PGR_EINVAL;
    if (what != 'd') {
        if (!lit(s, len, &i, ' ') || !digits(s, len, &i, 2, &hh) || !lit(s, len, &i, ':') ||
            !digits(s, len, &i, 2, &mi) || !lit(s, len, &i, ':') || !digits(s, len, &i, 2, &ss))
            return PGR_EINVAL;
        if (lit(s, len, &i, '.')) {
            int nf = 0;
            while (i < len && is_digit(s[i]) && nf < 6) {
                t->micro = t->micro * 10 + (s[i++] - '0');
                nf++;
            }
            if (nf == 0)
                return PGR_EINVAL;
            for (; nf < 6; nf++)
                t->micro *= 10;
        }
        if (what == 'z') {
            int sg = lit(s, len, &i, '+') ? 1 : lit(s, len, &i, '-') ? -1 : 0;
            long long oh, om = 0, os = 0;
            if (sg == 0 || !digits(s, len, &i, 2, &oh))
                return PGR_EINVAL;
            if (lit(s, len, &i, ':') && (!digits(s, len, &i, 2, &om) ||
                                         (lit(s, len, &i, ':') && !digits(s, len, &i, 2, &os))))
                return PGR_EINVAL;
            off = sg * (oh * 3600 + om * 60 + os);
        }
    }
    if (i != len)
        return PGR_EINVAL;
    long long year = bc ? 1 - y : y;
    t->secs = days_from_civil(year, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 +
              ss - off;
    return 0;
}

static int
instant_cmp(const instant_t *a, const instant_t *b)
{
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->cls != 0)
        return 0;
    if (a->secs != b->secs)
        return a->secs < b->secs ? -1 : 1;
    return sign_of(a->micro - b->micro);
}

/* ---- the comparison ----------------------------------------------------------------------- */

static size_t
rtrim_spaces(const uint8_t *s, size_t n)
{
    while (n && s[n - 1] == ' ')
        n--;
    return n;
}

static bool
is_hex(uint8_t c)
{
    return is_digit((char)c) || (c >= 'a' && c <= 'f');
}

static bool
uuid_text_ok(const uint8_t *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !is_hex(s[i]))
            return false;
    return true;
}

static bool
bytea_hex_ok(const uint8_t *s, size_t n)
{
    if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2)
        return false;
    for (size_t i = 2; i < n; i++)
        if (!is_hex(s[i]))
            return false;
    return true;
}

static bool
time_text_ok(const uint8_t *us, size_t n)
{
    const char *s = (const char *)us;
    size_t i = 0;
    long long v;
    if (!digits(s, n, &i, 2, &v) || !lit(s, n, &i, ':') || !digits(s, n, &i, 2, &v) ||
        !lit(s, n, &i, ':') || !digits(s, n, &i, 2, &v))
        return false;
    if (lit(s, n, &i, '.'))
        while (i < n && is_digit(s[i]))
            i++;
    return i == n;
}

/* ---- collations --------------------------------------------------------------------------- */

static bool
utf8_locale(locale_t loc)
{
    const char *cs = nl_langinfo_l(CODESET, loc);
    return cs != NULL && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

static locale_t
try_locale(const char *name)
{
    locale_t loc = newlocale(LC_COLLATE_MASK | LC_CTYPE_MASK, name, (locale_t)0);
    if (loc != (locale_t)0 && !utf8_locale(loc)) {
        freelocale(loc);
        loc = (locale_t)0;
    }
    return loc;
}

void
pgr_datum_coll_open(pgr_coll_t *c, const char *name, char provider)
{
    static const char *const bytewise[] = {"C", "POSIX", "ucs_basic", "C.UTF-8", "C.utf8"};
    char buf[128];

    c->kind = PGR_COLL_UNKNOWN;
    c->loc = (locale_t)0;
    if (provider == 'i' || name == NULL || name[0] == '\0')
        return;
    for (size_t i = 0; i < PGR_ARRAY_LEN(bytewise); i++)
        if (strcasecmp(name, bytewise[i]) == 0) {
            c->kind = PGR_COLL_BYTES;
            return;
        }
    /* A UTF-8 database's pg_collation has "en_US" for en_US.utf8. */
    if (strchr(name, '.') == NULL && snprintf(buf, sizeof(buf), "%s.UTF-8", name) < (int)sizeof(buf))
        c->loc = try_locale(buf);
    if (c->loc == (locale_t)0)
        c->loc = try_locale(name);
    if (c->loc != (locale_t)0)
        c->kind = PGR_COLL_LIBC;
}

void
pgr_datum_coll_close(pgr_coll_t *c)
{
    if (c->loc != (locale_t)0)
        freelocale(c->loc);
    c->loc = (locale_t)0;
    c->kind = PGR_COLL_UNKNOWN;
}

/* PostgreSQL's varstr_cmp for a deterministic libc collation: strcoll_l on NUL-terminated
 * copies, and equal by strcoll is decided bytewise. */
static int
coll_cmp(locale_t loc, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int *cmp)
{
    char sa[512], sb[512];
    char *pa = sa, *pb = sb;
    int rc = 0;

    *cmp = bytes_cmp(a, alen, b, blen);
    if (*cmp == 0)
        return 0;
    if (alen >= sizeof(sa))
        pa = malloc(alen + 1);
    if (blen >= sizeof(sb))
        pb = malloc(blen + 1);
    if (pa == NULL || pb == NULL) {
        rc = PGR_ENOMEM;
        goto out;
    }
    memcpy(pa, a, alen);
    pa[alen] = '\0';
    memcpy(pb, b, blen);
    pb[blen] = '\0';
    int c = strcoll_l(pa, pb, loc);
    if (c != 0)
        *cmp = c < 0 ? -1 : 1;
out:
    if (pa != sa)
        free(pa);
    if (pb != sb)
        free(pb);
    return rc;
}

static int
text_cmp(const pgr_coll_t *coll, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
         int *cmp)
{
    /* A NUL inside cannot come from PostgreSQL text; strcoll would stop at it. */
    if (coll == NULL || coll->kind != PGR_COLL_LIBC || memchr(a, '\0', alen) != NULL ||
        memchr(b, '\0', blen) != NULL) {
        *cmp = bytes_cmp(a, alen, b, blen);
        return 0;
    }
    return coll_cmp(coll->loc, a, alen, b, blen, cmp);
}

int
pgr_datum_compare(pgr_datum_kind_t kind, int16_t format, const uint8_t *a, size_t alen,
                  const uint8_t *b, size_t blen, int *cmp)
{
    return pgr_datum_compare_coll(NULL, kind, format, a, alen, b, blen, cmp);
}

int
pgr_datum_compare_coll(const pgr_coll_t *coll, pgr_datum_kind_t kind, int16_t format,
                       const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int *cmp)
{
    bool bin = format == 1;
    *cmp = bytes_cmp(a, alen, b, blen);
    switch (kind) {
    case PGR_DATUM_INT:
    case PGR_DATUM_OID:
    case PGR_DATUM_NUMERIC:
        if (bin)
            return kind == PGR_DATUM_NUMERIC ? pgr_numeric_compare(a, alen, b, blen, cmp)
                                             : int_bin_cmp(a, alen, b, blen,
                                                           kind == PGR_DATUM_OID, cmp);
        {
            dec_t x, y;
            if (dec_parse((const char *)a, alen, &x) || dec_parse((const char *)b, blen, &y))
                return PGR_EINVAL;
            if (kind != PGR_DATUM_NUMERIC && (x.cls != 0 || y.cls != 0 || x.flen || y.flen ||
                                              (alen && a[alen - 1] == '.') ||
                                              (blen && b[blen - 1] == '.')))
                return PGR_EINVAL;
            *cmp = dec_cmp(&x, &y);
            return 0;
        }
    case PGR_DATUM_FLOAT: {
        double x, y;
        if (bin ? float_bin(a, alen, &x) || float_bin(b, blen, &y)
                : float_text(a, alen, &x) || float_text(b, blen, &y))
            return PGR_EINVAL;
        *cmp = float_cmp(x, y);
        return 0;
    }
    case PGR_DATUM_BOOL: {
        int x, y;
        if (alen != 1 || blen != 1)
            return PGR_EINVAL;
        if (bin) {
            x = a[0] != 0;
            y = b[0] != 0;
        } else {
            if ((a[0] != 't' && a[0] != 'f') || (b[0] != 't' && b[0] != 'f'))
                return PGR_EINVAL;
            x = a[0] == 't';
            y = b[0] == 't';
        }
        *cmp = x - y;
        return 0;
    }
    case PGR_DATUM_TEXT:
    case PGR_DATUM_NAME:
        return text_cmp(coll, a, alen, b, blen, cmp);
    case PGR_DATUM_BPCHAR:
        return text_cmp(coll, a, rtrim_spaces(a, alen), b, rtrim_spaces(b, blen), cmp);
    case PGR_DATUM_BYTEA:
        return bin || (bytea_hex_ok(a, alen) && bytea_hex_ok(b, blen)) ? 0 : PGR_EINVAL;
    case PGR_DATUM_UUID:
        if (bin)
            return alen == 16 && blen == 16 ? 0 : PGR_EINVAL;
        return uuid_text_ok(a, alen) && uuid_text_ok(b, blen) ? 0 : PGR_EINVAL;
    case PGR_DATUM_TIME:
        if (bin)
            return alen == 8 && blen == 8 ? int_bin_cmp(a, alen, b, blen, false, cmp)
                                          : PGR_EINVAL;
        return time_text_ok(a, alen) && time_text_ok(b, blen) ? 0 : PGR_EINVAL;
    case PGR_DATUM_DATE:
    case PGR_DATUM_TIMESTAMP:
    case PGR_DATUM_TIMESTAMPTZ: {
        if (bin) {
            size_t w = kind == PGR_DATUM_DATE ? 4 : 8;
            return alen == w && blen == w ? int_bin_cmp(a, alen, b, blen, false, cmp)
                                          : PGR_EINVAL;
        }
        char what = kind == PGR_DATUM_DATE ? 'd' : kind == PGR_DATUM_TIMESTAMP ? 't' : 'z';
        instant_t x, y;
        if (instant_parse(a, alen, what, &x) || instant_parse(b, blen, what, &y))
            return PGR_EINVAL;
        *cmp = instant_cmp(&x, &y);
        return 0;
    }
    case PGR_DATUM_OTHER:
    default:
        return PGR_EINVAL;
    }
}

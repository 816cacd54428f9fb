/* Typed column values of DataRows, as the broadcast merge needs them: which type OIDs (in which
 * format) can be compared exactly, the comparison itself (PostgreSQL's order for the type; text
 * bytewise or in a libc collation), and exact decimal addition for merging count/sum. Pure: no
 * I/O (opening a collation reads the system's locale files). Binary numeric is numeric.h's. */
#ifndef PGR_FANOUT_DATUM_H
#define PGR_FANOUT_DATUM_H

#include <locale.h>

#include "core/base.h"

typedef enum {
    PGR_DATUM_OTHER = 0, /* not comparable exactly by this module */
    PGR_DATUM_INT,       /* int2, int4, int8: text decimal or big-endian binary */
    PGR_DATUM_OID,       /* oid: text decimal or unsigned big-endian binary */
    PGR_DATUM_FLOAT,     /* float4, float8 (NaN above everything, -0 = 0) */
    PGR_DATUM_NUMERIC,   /* numeric: exact decimal order, NaN above Infinity; text, or
                          * binary (numeric.h) */
    PGR_DATUM_BOOL,      /* f < t */
    PGR_DATUM_TEXT,      /* text, varchar, unknown: in the key's collation (pgr_coll_t) */
    PGR_DATUM_BPCHAR,    /* char(n): bytewise ignoring trailing spaces */
    PGR_DATUM_BYTEA,     /* text: hex output only ("\x..."); binary: bytewise */
    PGR_DATUM_UUID,
    PGR_DATUM_DATE,      /* text: DateStyle ISO (BC, years > 9999, ±infinity understood) */
    PGR_DATUM_TIME,      /* time without time zone */
    PGR_DATUM_TIMESTAMP,
    PGR_DATUM_TIMESTAMPTZ, /* text: ISO with a numeric UTC offset, compared as instants */
    PGR_DATUM_NAME,      /* name: as TEXT, but its own collation is "C", not the database's */
} pgr_datum_kind_t;

/* How text (TEXT, BPCHAR, NAME) values compare.
 *   BYTES    bytewise: collations "C", "POSIX", "ucs_basic", and C.UTF-8 (code point order,
 *            which is UTF-8's byte order)
 *   LIBC     strcoll_l in a UTF-8 libc locale of this machine, ties broken bytewise, as
 *            PostgreSQL's varstr_cmp does for a deterministic libc collation
 *   UNKNOWN  an ICU collation, a locale this machine lacks or that is not UTF-8: compared
 *            bytewise, which is not the nodes' order (the merge then warns when it sees rows
 *            out of that order)
 * The values must be UTF-8 (client_encoding UTF8). pgrouter and the nodes must have the same
 * locale data (the same glibc) for LIBC to give PostgreSQL's order. */
typedef enum { PGR_COLL_BYTES = 0, PGR_COLL_LIBC, PGR_COLL_UNKNOWN } pgr_coll_kind_t;

typedef struct pgr_coll {
    pgr_coll_kind_t kind;
    locale_t loc;        /* LIBC: owned (pgr_datum_coll_close frees it) */
} pgr_coll_t;

/* The collation a PostgreSQL locale or libc collation name stands for ("en_US.UTF-8",
 * "en_US.utf8", "de_DE": a name without a codeset is tried as name.UTF-8 first, as a UTF-8
 * database's pg_collation aliases it). provider: 'i' ICU (always UNKNOWN), anything else
 * libc. Always fills *c (UNKNOWN when the name cannot be opened here). */
void pgr_datum_coll_open(pgr_coll_t *c, const char *name, char provider);
void pgr_datum_coll_close(pgr_coll_t *c);

/* Type OIDs the merge looks at. */
#define PGR_OID_BOOL        16
#define PGR_OID_BYTEA       17
#define PGR_OID_NAME        19
#define PGR_OID_INT8        20
#define PGR_OID_INT2        21
#define PGR_OID_INT4        23
#define PGR_OID_TEXT        25
#define PGR_OID_OID         26
#define PGR_OID_FLOAT4      700
#define PGR_OID_FLOAT8      701
#define PGR_OID_UNKNOWN     705
#define PGR_OID_BPCHAR      1042
#define PGR_OID_VARCHAR     1043
#define PGR_OID_DATE        1082
#define PGR_OID_TIME        1083
#define PGR_OID_TIMESTAMP   1114
#define PGR_OID_TIMESTAMPTZ 1184
#define PGR_OID_NUMERIC     1700
#define PGR_OID_UUID        2950

/* The kind of a column of type_oid sent in format (0 text, 1 binary); OTHER when its values
 * cannot be compared exactly here (interval, arrays, ...). */
pgr_datum_kind_t pgr_datum_kind(int32_t type_oid, int16_t format);

/* Compares two non-NULL values of one kind and format: *cmp < 0, 0, > 0. Returns 0, or
 * PGR_EINVAL when a value is not in the form its kind expects (a text timestamp not in ISO
 * style, bytea in escape style, a malformed number); then *cmp is the bytewise order. */
int pgr_datum_compare(pgr_datum_kind_t kind, int16_t format, const uint8_t *a, size_t alen,
                      const uint8_t *b, size_t blen, int *cmp);

/* The same, text kinds in collation coll (NULL: bytewise). PGR_ENOMEM when a long value
 * could not be copied for strcoll_l (*cmp is then the bytewise order). */
int pgr_datum_compare_coll(const pgr_coll_t *coll, pgr_datum_kind_t kind, int16_t format,
                           const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                           int *cmp);

/* Exact decimal addition of two text numbers as PostgreSQL prints int8 and numeric ("-12",
 * "3.50", "NaN", "Infinity", "-Infinity"): the result has the larger of the two scales, as
 * sum(numeric) has. *out is malloc'd and NUL-terminated (the caller frees it). Returns 0,
 * PGR_EINVAL for a malformed operand, PGR_ENOMEM. */
int pgr_datum_dec_add(const char *a, size_t alen, const char *b, size_t blen, char **out);

/* True when s[0..len) is a decimal integer within int8's range. */
bool pgr_datum_dec_is_int8(const char *s, size_t len);

#endif

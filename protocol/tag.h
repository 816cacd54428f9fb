/* CommandComplete tags: parsing ("INSERT 0 5" → INSERT, 5), summing across nodes, formatting
 * back. Tags without a row count ("CREATE TABLE", "BEGIN") are kind OTHER and sum only with an
 * identical tag. */
#ifndef PGR_PROTOCOL_TAG_H
#define PGR_PROTOCOL_TAG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PGR_TAG_OTHER = 0,
    PGR_TAG_SELECT,
    PGR_TAG_INSERT, /* "INSERT oid n"; the oid is always 0 since PostgreSQL 12 */
    PGR_TAG_UPDATE,
    PGR_TAG_DELETE,
    PGR_TAG_COPY,
    PGR_TAG_MERGE,
    PGR_TAG_FETCH,
    PGR_TAG_MOVE,
} pgr_tag_kind_t;

typedef struct {
    pgr_tag_kind_t kind;
    uint64_t count;   /* rows, for every kind but OTHER */
    const char *text; /* the tag as parsed (borrowed): what OTHER formats back to */
} pgr_tag_t;

/* 0, or PGR_EPROTO when a counted tag's numbers are missing or malformed ("UPDATE x"). The
 * result borrows tag. */
int pgr_tag_parse(const char *tag, pgr_tag_t *out);
/* acc += add. PGR_EINVAL when the kinds (or, for OTHER, the texts) differ; PGR_ELIMIT when the
 * count would overflow. acc is unchanged on failure. */
int pgr_tag_sum(pgr_tag_t *acc, const pgr_tag_t *add);
/* Writes the tag ("INSERT 0 12", "SELECT 30", or OTHER's text) NUL-terminated into buf.
 * Returns its length, or PGR_ELIMIT when cap is too small. */
int pgr_tag_format(const pgr_tag_t *t, char *buf, size_t cap);

#endif

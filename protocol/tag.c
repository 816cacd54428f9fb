/* CommandComplete tag parsing, summing and formatting (see tag.h). */
#include <stdio.h>
#include <string.h>

#include "pgrouter/error.h"
#include "protocol/tag.h"

static const struct {
    const char *word;
    pgr_tag_kind_t kind;
} kinds[] = {
    {"SELECT", PGR_TAG_SELECT}, {"INSERT", PGR_TAG_INSERT}, {"UPDATE", PGR_TAG_UPDATE},
    {"DELETE", PGR_TAG_DELETE}, {"COPY", PGR_TAG_COPY},     {"MERGE", PGR_TAG_MERGE},
    {"FETCH", PGR_TAG_FETCH},   {"MOVE", PGR_TAG_MOVE},
};

static const char *
kind_word(pgr_tag_kind_t k)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].kind == k)
            return kinds[i].word;
    return NULL;
}

/* A decimal uint64 at *p (at least one digit, no sign); advances *p. */
static int
parse_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    if (*s < '0' || *s > '9')
        return PGR_EPROTO;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            return PGR_EPROTO;
        n = n * 10 + d;
    }
    *p = s;
    *v = n;
    return 0;
}

int
pgr_tag_parse(const char *tag, pgr_tag_t *out)
{
    out->kind = PGR_TAG_OTHER;
    out->count = 0;
    out->text = tag;
    const char *sp = strchr(tag, ' ');
    size_t wlen = sp ? (size_t)(sp - tag) : strlen(tag);
    pgr_tag_kind_t kind = PGR_TAG_OTHER;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strlen(kinds[i].word) == wlen && memcmp(kinds[i].word, tag, wlen) == 0)
            kind = kinds[i].kind;
    if (kind == PGR_TAG_OTHER)
        return 0;
    if (sp == NULL)
        return PGR_EPROTO;
    const char *p = sp + 1;
    uint64_t n, oid;
    if (kind == PGR_TAG_INSERT) {
        if (parse_u64(&p, &oid) || *p++ != ' ')
            return PGR_EPROTO;
    }
    if (parse_u64(&p, &n) || *p != '\0')
        return PGR_EPROTO;
    out->kind = kind;
    out->count = n;
    return 0;
}

int
pgr_tag_sum(pgr_tag_t *acc, const pgr_tag_t *add)
{
    if (acc->kind != add->kind)
        return PGR_EINVAL;
    if (acc->kind == PGR_TAG_OTHER)
        return strcmp(acc->text, add->text) == 0 ? 0 : PGR_EINVAL;
    if (add->count > UINT64_MAX - acc->count)
        return PGR_ELIMIT;
    acc->count += add->count;
    return 0;
}

int
pgr_tag_format(const pgr_tag_t *t, char *buf, size_t cap)
{
    int n;
    const char *word = kind_word(t->kind);
    if (word == NULL)
        n = snprintf(buf, cap, "%s", t->text ? t->text : "");
    else if (t->kind == PGR_TAG_INSERT)
        n = snprintf(buf, cap, "INSERT 0 %llu", (unsigned long long)t->count);
    else
        n = snprintf(buf, cap, "%s %llu", word, (unsigned long long)t->count);
    if (n < 0 || (size_t)n >= cap)
        return PGR_ELIMIT;
    return n;
}

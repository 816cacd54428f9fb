/* The typed, table-driven walk of one YAML mapping into a struct: the value grammars
 * (durations, sizes, booleans, enums, lists) and the message for each kind of mistake. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config_walk.h"

/* ---- helpers ---- */

#define SLOT(base, off, type) ((type *)((char *)(base) + (off)))

void
pgr_config_bufprintf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void
pgr_config_bad(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path, const char *expected)
{
    char buf[160];
    pgr_config_err(w->ctx, v->line, v->col, path, "expected %s, got %s", expected,
                   pgr_config_got(v, buf, sizeof(buf)));
}

char *
pgr_config_strdup(pgr_config_walker_t *w, const char *s)
{
    char *d = strdup(s);
    if (!d)
        w->ctx->nomem = true;
    return d;
}

const pgr_ynode_t *
pgr_config_map_get(const pgr_ynode_t *map, const char *key)
{
    if (!map || map->kind != PGR_YNODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (!map->kids[i]->alias && strcmp(map->kids[i]->str, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

/* A decimal integer, all of s, without sign; false on anything else or overflow past max. */
bool
pgr_config_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static size_t
digits_len(const char *s)
{
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

void
pgr_config_fmt_dur(char *buf, size_t len, int64_t ms)
{
    if (ms != 0 && ms % PGR_DAY_MS == 0)
        pgr_config_bufprintf(buf, len, "%" PRId64 "d", ms / PGR_DAY_MS);
    else if (ms != 0 && ms % 3600000 == 0)
        pgr_config_bufprintf(buf, len, "%" PRId64 "h", ms / 3600000);
    else if (ms != 0 && ms % 60000 == 0)
        pgr_config_bufprintf(buf, len, "%" PRId64 "m", ms / 60000);
    else if (ms != 0 && ms % 1000 == 0)
        pgr_config_bufprintf(buf, len, "%" PRId64 "s", ms / 1000);
    else
        pgr_config_bufprintf(buf, len, "%" PRId64 "ms", ms);
}

static void
fmt_size(char *buf, size_t len, uint64_t b)
{
    static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
    size_t u = 0;
    while (u + 1 < PGR_ARRAY_LEN(units) && b != 0 && b % 1024 == 0) {
        b /= 1024;
        u++;
    }
    pgr_config_bufprintf(buf, len, "%" PRIu64 "%s", b, units[u]);
}

static void
list_names(char *buf, size_t len, const char *const *names)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", names[i]);
}

void
pgr_config_set_path(char *dst, size_t len, const char *parent, const char *key)
{
    pgr_config_bufprintf(dst, len, "%s%s%s", parent, parent[0] ? "." : "", key);
}

/* ---- bounds and duplicates ---- */

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

bool
pgr_config_strset_add(pgr_config_walker_t *w, pgr_config_strset_t *s, const char *key,
                      size_t at, size_t *first)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        const char **keys = calloc(cap, sizeof(*keys));
        size_t *ats = calloc(cap, sizeof(*ats));
        if (!keys || !ats) {
            free(keys);
            free(ats);
            w->ctx->nomem = true;
            return false;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            size_t j = (size_t)hash_str(s->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = s->keys[i];
            ats[j] = s->at[i];
        }
        free(s->keys);
        free(s->at);
        s->keys = keys;
        s->at = ats;
        s->cap = cap;
    }
    size_t j = (size_t)hash_str(key) & (s->cap - 1);
    for (; s->keys[j]; j = (j + 1) & (s->cap - 1)) {
        if (strcmp(s->keys[j], key) == 0) {
            if (first)
                *first = s->at[j];
            return true;
        }
    }
    s->keys[j] = key;
    s->at[j] = at;
    s->n++;
    return false;
}

bool
pgr_config_strset_has(const pgr_config_strset_t *s, const char *key)
{
    if (s->n == 0)
        return false;
    for (size_t j = (size_t)hash_str(key) & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (strcmp(s->keys[j], key) == 0)
            return true;
    return false;
}

void
pgr_config_strset_free(pgr_config_strset_t *s)
{
    free(s->keys);
    free(s->at);
    *s = (pgr_config_strset_t){ 0 };
}

bool
pgr_config_too_long(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path,
                    const char *what, int64_t max, bool secret)
{
    size_t len = strlen(v->str), bound = max > 0 ? (size_t)max : PGR_CONFIG_STR_MAX;
    char buf[160];

    if (len <= bound)
        return false;
    if (secret)
        pgr_config_err(w->ctx, v->line, v->col, path,
                       "expected %s of at most %zu bytes, got %zu bytes (not shown)", what,
                       bound, len);
    else
        pgr_config_err(w->ctx, v->line, v->col, path,
                       "expected %s of at most %zu bytes, got %zu bytes: %s", what, bound, len,
                       pgr_config_got(v, buf, sizeof(buf)));
    return true;
}

/* ---- one value ---- */


static void
walk_strlist(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path, const pgr_config_field_t *f, void *base,
             bool single_ok)
{
    char **list, **old = *SLOT(base, f->off, char **);
    size_t n = 0, oldn = *SLOT(base, f->off_n, size_t);
    char item[256];

    if (v->kind == PGR_YNODE_SCALAR && single_ok && !pgr_config_is_null(v)) {
        if (!v->str[0]) {
            pgr_config_bad(w, v, path, "a host name or address");
            return;
        }
        if (pgr_config_too_long(w, v, path, "a host name or address", f->max, f->secret))
            return;
        if (!(list = calloc(1, sizeof(*list))) || !(list[0] = pgr_config_strdup(w, v->str))) {
            free(list);
            w->ctx->nomem = true;
            return;
        }
        n = 1;
        goto store;
    }
    if (v->kind != PGR_YNODE_SEQ) {
        pgr_config_bad(w, v, path, single_ok ? "a string or a list of strings" : "a list of strings");
        return;
    }
    if (single_ok && v->n == 0) {
        pgr_config_bad(w, v, path, "at least one host");
        return;
    }
    if (!(list = calloc(v->n ? v->n : 1, sizeof(*list)))) {
        w->ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const pgr_ynode_t *it = v->kids[i];
        pgr_config_bufprintf(item, sizeof(item), "%s[%zu]", path, i);
        if (it->alias)
            continue;
        if (it->kind != PGR_YNODE_SCALAR || pgr_config_is_null(it) || !it->str[0]) {
            pgr_config_bad(w, it, item, "a non-empty string");
            continue;
        }
        if (pgr_config_too_long(w, it, item, single_ok ? "a host name or address" : "a string",
                                f->max, f->secret))
            continue;
        if ((list[n] = pgr_config_strdup(w, it->str)) != NULL)
            n++;
    }
store:
    for (size_t i = 0; i < oldn; i++)
        free(old[i]);
    free(old);
    *SLOT(base, f->off, char **) = list;
    *SLOT(base, f->off_n, size_t) = n;
}

static void
walk_value(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path, const pgr_config_field_t *f, void *base)
{
    char expect[256], a[32], b[32];
    const char *s = v->str;
    uint64_t u;

    if (v->alias)
        return;
    switch (f->type) {
    case F_MAP:
        pgr_config_walk_map(w, v, path, f->sub, base);
        return;
    case F_CUSTOM:
        f->fn(w, v, path, base);
        return;
    case F_STRLIST:
    case F_HOSTS:
        walk_strlist(w, v, path, f, base, f->type == F_HOSTS);
        return;
    default:
        break;
    }
    if (v->kind != PGR_YNODE_SCALAR) {
        pgr_config_bad(w, v, path, f->type == F_STR || f->type == F_STR_NULL ? "a string" : "a scalar value");
        return;
    }
    switch (f->type) {
    case F_STR:
    case F_STR_NULL:
    case F_HOSTPORT: {
        char **slot = SLOT(base, f->off, char *);
        if (f->type != F_STR && pgr_config_is_null(v)) {
            free(*slot);
            *slot = NULL;
            return;
        }
        if (f->type == F_HOSTPORT) {
            const char *colon = strrchr(s, ':');
            if (!colon || colon == s || !pgr_config_parse_uint(colon + 1, strlen(colon + 1), 65535, &u) ||
                u == 0) {
                pgr_config_bad(w, v, path, "host:port (port 1-65535) or null");
                return;
            }
            /* max bounds the host part */
            size_t host_len = (size_t)(colon - s), bound = f->max > 0 ? (size_t)f->max
                                                                      : PGR_CONFIG_STR_MAX;
            if (host_len > bound) {
                char buf[160];
                pgr_config_err(w->ctx, v->line, v->col, path,
                               "expected host:port with a host of at most %zu bytes, got %zu "
                               "bytes: %s", bound, host_len, pgr_config_got(v, buf, sizeof(buf)));
                return;
            }
        } else if (pgr_config_is_null(v) || !s[0]) {
            pgr_config_bad(w, v, path, f->type == F_STR ? "a non-empty string" : "a non-empty string or null");
            return;
        } else if (pgr_config_too_long(w, v, path, "a string", f->max, f->secret)) {
            return;
        }
        free(*slot);
        *slot = pgr_config_strdup(w, s);
        return;
    }
    case F_ENUM:
    case F_ENUM_STR:
        for (int i = 0; f->names[i]; i++) {
            if (strcmp(s, f->names[i]) == 0) {
                if (f->type == F_ENUM) {
                    *SLOT(base, f->off, int) = i;
                } else {
                    free(*SLOT(base, f->off, char *));
                    *SLOT(base, f->off, char *) = pgr_config_strdup(w, s);
                }
                return;
            }
        }
        {
            char names[200];
            list_names(names, sizeof(names), f->names);
            pgr_config_bufprintf(expect, sizeof(expect), "one of %s", names);
        }
        pgr_config_bad(w, v, path, expect);
        return;
    case F_INT:
    case F_COUNT:
        if (!pgr_config_parse_uint(s, strlen(s), UINT64_MAX, &u) || u < (uint64_t)f->min ||
            u > (uint64_t)f->max) {
            pgr_config_bufprintf(expect, sizeof(expect), "an integer %" PRId64 "-%" PRId64, f->min, f->max);
            pgr_config_bad(w, v, path, expect);
            return;
        }
        if (f->type == F_INT)
            *SLOT(base, f->off, int) = (int)u;
        else
            *SLOT(base, f->off, size_t) = (size_t)u;
        return;
    case F_DUR: {
        static const struct { const char *unit; uint64_t ms; } units[] = {
            { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
        };
        size_t nd = digits_len(s);
        pgr_config_fmt_dur(a, sizeof(a), f->min);
        pgr_config_fmt_dur(b, sizeof(b), f->max);
        if (nd > 0 && s[nd] == '\0') {
            pgr_config_bad(w, v, path, "a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s");
            return;
        }
        for (size_t i = 0; i < PGR_ARRAY_LEN(units); i++) {
            if (nd == 0 || strcmp(s + nd, units[i].unit) != 0)
                continue;
            if (pgr_config_parse_uint(s, nd, UINT64_MAX / units[i].ms, &u) &&
                u * units[i].ms >= (uint64_t)f->min && u * units[i].ms <= (uint64_t)f->max) {
                *SLOT(base, f->off, int64_t) = (int64_t)(u * units[i].ms);
                return;
            }
            pgr_config_bufprintf(expect, sizeof(expect), "a duration %s-%s", a, b);
            pgr_config_bad(w, v, path, expect);
            return;
        }
        pgr_config_bad(w, v, path, "a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s");
        return;
    }
    case F_SIZE: {
        static const struct { const char *unit; uint64_t mul; } units[] = {
            { "", 1 }, { "B", 1 }, { "kB", 1ull << 10 }, { "MB", 1ull << 20 },
            { "GB", 1ull << 30 }, { "TB", 1ull << 40 },
        };
        size_t nd = digits_len(s);
        fmt_size(a, sizeof(a), (uint64_t)f->min);
        fmt_size(b, sizeof(b), (uint64_t)f->max);
        pgr_config_bufprintf(expect, sizeof(expect), "a size %s-%s (bytes, or with a unit: B, kB, MB, GB, TB)",
                 a, b);
        for (size_t i = 0; i < PGR_ARRAY_LEN(units); i++) {
            if (nd == 0 || strcmp(s + nd, units[i].unit) != 0)
                continue;
            if (pgr_config_parse_uint(s, nd, UINT64_MAX / units[i].mul, &u) &&
                u * units[i].mul >= (uint64_t)f->min && u * units[i].mul <= (uint64_t)f->max) {
                *SLOT(base, f->off, uint64_t) = u * units[i].mul;
                return;
            }
            break;
        }
        pgr_config_bad(w, v, path, expect);
        return;
    }
    case F_BOOL:
        if (strcasecmp(s, "true") == 0 || strcasecmp(s, "on") == 0)
            *SLOT(base, f->off, bool) = true;
        else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "off") == 0)
            *SLOT(base, f->off, bool) = false;
        else
            pgr_config_bad(w, v, path, "a boolean (true, false, on, off)");
        return;
    case F_FRAC: {
        char *end;
        double d;
        errno = 0;
        d = strtod(s, &end);
        if (!s[0] || *end || errno || !(d >= 0.0 && d <= 1.0) || (s[0] < '0' || s[0] > '9')) {
            pgr_config_bad(w, v, path, "a number from 0 to 1");
            return;
        }
        *SLOT(base, f->off, double) = d;
        return;
    }
    default:
        pgr_assert(!"unhandled field type");
    }
}

/* Walk one mapping against its table: unknown and duplicate keys, missing required keys,
 * and every known key's value. */
void
pgr_config_walk_map(pgr_config_walker_t *w, const pgr_ynode_t *map, const char *path, const pgr_config_field_t *fields, void *base)
{
    char sub[512], names[512];
    size_t nf = 0;

    if (map->alias)
        return;
    if (map->kind != PGR_YNODE_MAP) {
        pgr_config_bad(w, map, path[0] ? path : "(top level)", "a mapping");
        return;
    }
    while (fields[nf].key)
        nf++;
    /* Duplicate keys: compared pairwise in a small mapping, through a set in a large one. */
    bool big = map->n > 32;
    pgr_config_strset_t seen = { 0 };
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const pgr_ynode_t *k = map->kids[i], *v = map->kids[i + 1];
        const pgr_config_field_t *f = NULL;
        size_t first = SIZE_MAX;
        if (k->alias)
            continue;
        pgr_config_set_path(sub, sizeof(sub), path, k->str);
        if (big) {
            if (!pgr_config_strset_add(w, &seen, k->str, i, &first))
                first = SIZE_MAX;
        } else {
            for (size_t j = 0; j < i && first == SIZE_MAX; j += 2)
                if (!map->kids[j]->alias && strcmp(map->kids[j]->str, k->str) == 0)
                    first = j;
        }
        if (first != SIZE_MAX) {
            pgr_config_err(w->ctx, k->line, k->col, sub,
                           "expected each key once, got a duplicate (first at line %d)",
                           map->kids[first]->line);
            goto next;
        }
        for (size_t j = 0; j < nf; j++)
            if (strcmp(fields[j].key, k->str) == 0)
                f = &fields[j];
        if (!f) {
            size_t o = 0;
            for (size_t j = 0; j < nf && o < sizeof(names); j++)
                o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", j ? ", " : "",
                                      fields[j].key);
            pgr_config_err(w->ctx, k->line, k->col, sub, "unknown key (expected one of %s)", names);
            continue;
        }
        walk_value(w, v, sub, f, base);
    next:;
    }
    pgr_config_strset_free(&seen);
    for (size_t j = 0; j < nf; j++) {
        if (fields[j].required && !pgr_config_map_get(map, fields[j].key))
            pgr_config_err(w->ctx, map->line, map->col, path[0] ? path : "(top level)",
                           "expected key \"%s\", got none (it is required)", fields[j].key);
    }
}


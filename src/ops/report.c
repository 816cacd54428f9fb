/* Shared views for the admin console and the HTTP endpoints (see report.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/report.h"

int
pgr_report_nodes(const pgr_runtime_t *rt, pgr_report_nodes_t *out)
{
    pgr_node_info_t *info = NULL;
    pgr_health_t *health = NULL;
    pgr_pool_stats_t *pool = NULL;
    size_t cap = 16, n = 0, nh = 0, np = 0;

    memset(out, 0, sizeof(*out));
    if (rt->cluster == NULL)
        return 0;
    /* The counts cannot change between the calls (one loop turn); retry only on growth. */
    for (;;) {
        info = calloc(cap, sizeof(*info));
        health = calloc(cap, sizeof(*health));
        pool = calloc(cap, sizeof(*pool));
        if (!info || !health || !pool)
            goto fail;
        n = pgr_cluster_all_nodes(rt->cluster, info, cap);
        nh = pgr_cluster_all_health(rt->cluster, health, cap);
        np = pgr_cluster_all_pool_stats(rt->cluster, pool, cap);
        if (n <= cap && nh <= cap && np <= cap)
            break;
        cap = (n > nh ? n : nh) > np ? (n > nh ? n : nh) : np;
        free(info);
        free(health);
        free(pool);
        info = NULL;
        health = NULL;
        pool = NULL;
    }
    out->v = calloc(n ? n : 1, sizeof(*out->v));
    if (!out->v)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        pgr_report_node_t *r = &out->v[i];
        r->info = info[i];
        /* Join by id rather than by position: the lists are each in node order today, but
         * nothing promises it. */
        for (size_t j = 0; j < nh && !r->has_health; j++) {
            if (strcmp(health[j].node_id, info[i].id) == 0) {
                r->health = health[j];
                r->has_health = true;
            }
        }
        for (size_t j = 0; j < np && !r->has_pool; j++) {
            if (strcmp(pool[j].node_id, info[i].id) == 0) {
                r->pool = pool[j];
                r->has_pool = true;
            }
        }
        if (r->has_health && r->health.state == PGR_NODE_HEALTHY)
            out->n_healthy++;
    }
    out->n = n;
    free(info);
    free(health);
    free(pool);
    return 0;
fail:
    free(info);
    free(health);
    free(pool);
    free(out->v);
    memset(out, 0, sizeof(*out));
    return PGR_ENOMEM;
}

void
pgr_report_nodes_free(pgr_report_nodes_t *nodes)
{
    free(nodes->v);
    memset(nodes, 0, sizeof(*nodes));
}

void
pgr_report_lsn(uint64_t lsn, char *buf, size_t cap)
{
    snprintf(buf, cap, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

bool
pgr_report_health_current(const pgr_report_node_t *n)
{
    return n->has_health && n->health.state == PGR_NODE_HEALTHY && n->health.checks > 0;
}

void
pgr_report_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The fewest significant digits that read back as the same double (17 always do). */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void
pgr_report_time(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&t, &tm);
    n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03d+00", (int)(ms % 1000));
}

size_t
pgr_report_utf8_seq(const char *s, size_t avail)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    uint32_t cp;
    if (avail == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool
pgr_report_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = s[i] ? pgr_report_utf8_seq(s + i, n - i) : 0;
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

bool
pgr_report_utf8_sanitize(char *s)
{
    bool changed = false;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = pgr_report_utf8_seq(s + i, n - i);
        if (k == 0) {
            s[i] = '?';
            changed = true;
            k = 1;
        }
        i += k;
    }
    return changed;
}

void
pgr_report_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', f);
    while (*p) {
        /* 4 is enough: a NUL inside a sequence is not a continuation byte and stops it. */
        size_t n = pgr_report_utf8_seq((const char *)p, 4);
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (n == 0)
            fputs("\\ufffd", f); /* not UTF-8: replaced, so the document stays valid */
        else
            fwrite(p, 1, n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

void
pgr_report_label(FILE *f, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

/* The process logger: level filter, timestamp, text or JSON line, password redaction. */
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>

#include "core/log.h"

static struct {
    pgr_log_level_t min;
    int json;
    FILE *out;
} L = { PGR_LOG_INFO, 0, NULL };

static const char *const level_names[] = { "debug", "info", "warning", "error", "fatal" };

void
pgr_log_setup(pgr_log_level_t min_level, int json, FILE *out)
{
    L.min = min_level;
    L.json = json;
    L.out = out;
}

pgr_log_level_t
pgr_log_min_level(void)
{
    return L.min;
}

int
pgr_log_level_parse(const char *s)
{
    for (size_t i = 0; i < PGR_ARRAY_LEN(level_names); i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return (int)i;
    return -1;
}

/* Is s[i] the start of a conninfo keyword "password" (not part of a longer word)? */
static int
at_keyword(const char *s, size_t i, const char *kw, size_t kwlen)
{
    if (strncasecmp(s + i, kw, kwlen) != 0)
        return 0;
    return i == 0 || !(s[i - 1] == '_' || (s[i - 1] >= 'a' && s[i - 1] <= 'z') ||
                       (s[i - 1] >= 'A' && s[i - 1] <= 'Z') || (s[i - 1] >= '0' && s[i - 1] <= '9'));
}

size_t
pgr_log_redact(char *dst, size_t dstlen, const char *src)
{
    size_t o = 0, i = 0, n = strlen(src);
#define PUT(c) do { if (o + 1 < dstlen) dst[o++] = (c); } while (0)
#define PUTS(str) do { for (const char *p_ = (str); *p_; p_++) PUT(*p_); } while (0)
    if (dstlen == 0)
        return 0;
    while (i < n) {
        if (at_keyword(src, i, "password", 8)) {
            size_t j = i + 8;
            int json_key = i > 0 && src[i - 1] == '"' && src[j] == '"';
            if (json_key)
                j++;
            size_t k = j;
            while (k < n && (src[k] == ' ' || src[k] == '\t'))
                k++;
            if (k < n && (src[k] == '=' || src[k] == ':')) {
                k++;
                while (k < n && (src[k] == ' ' || src[k] == '\t'))
                    k++;
                for (size_t c = i; c < k; c++)
                    PUT(src[c]);
                if (k < n && (src[k] == '\'' || src[k] == '"')) {
                    char q = src[k++];
                    while (k < n && src[k] != q) {
                        if (src[k] == '\\' && k + 1 < n)
                            k++;
                        k++;
                    }
                    if (k < n)
                        k++;
                    PUT(q); PUTS("***"); PUT(q);
                } else {
                    while (k < n && src[k] != ' ' && src[k] != '\t' && src[k] != ',' &&
                           src[k] != '}' && src[k] != ';')
                        k++;
                    PUTS("***");
                }
                i = k;
                continue;
            }
        }
        /* URI userinfo: scheme://user:secret@host */
        if (src[i] == ':' && i >= 3 && i + 2 < n && src[i + 1] == '/' && src[i + 2] == '/') {
            size_t start = i + 3, at = start, colon = 0;
            while (at < n && src[at] != '@' && src[at] != '/' && src[at] != ' ') {
                if (src[at] == ':' && !colon)
                    colon = at;
                at++;
            }
            if (at < n && src[at] == '@' && colon) {
                for (size_t c = i; c <= colon; c++)
                    PUT(src[c]);
                PUTS("***");
                i = at;
                continue;
            }
        }
        PUT(src[i]);
        i++;
    }
    dst[o] = '\0';
    return o;
#undef PUT
#undef PUTS
}

static void
json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void
pgr_log_write(pgr_log_level_t level, const char *component, const char *fmt, ...)
{
    char raw[2048], msg[2048], ts[64];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    FILE *f = L.out ? L.out : stderr;

    if (level < L.min)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    pgr_log_redact(msg, sizeof(msg), raw);

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(tv.tv_usec / 1000));

    if (L.json) {
        fprintf(f, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts, level_names[level]);
        json_escape(f, component ? component : "");
        fputs("\",\"msg\":\"", f);
        json_escape(f, msg);
        fputs("\"}\n", f);
    } else {
        fprintf(f, "%s %s [%s] %s\n", ts, level_names[level], component ? component : "-", msg);
    }
    fflush(f);
}

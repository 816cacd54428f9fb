/* The process logger: level filter, timestamp, text or JSON line, password redaction. */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>

#include "core/log.h"

static struct {
    pgr_log_level_t min;
    int json;
    FILE *out;   /* NULL: stderr */
    FILE *owned; /* the file pgr_log_apply_config opened, closed when replaced */
} L = { PGR_LOG_INFO, 0, NULL, NULL };

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

static bool
is_word(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* If a password key ends at src[j) (e.g. "password", "sslpassword", "PGPASSWORD", optionally
 * closed by the quote that opened it), followed by '=' or ':', return the index of the value's
 * first character, else 0. quote_open is the quote char before the key, or 0. */
static size_t
password_value(const char *src, size_t n, size_t j, char quote_open)
{
    if (quote_open && j < n && src[j] == quote_open)
        j++;
    while (j < n && (src[j] == ' ' || src[j] == '\t'))
        j++;
    if (j >= n || (src[j] != '=' && src[j] != ':'))
        return 0;
    j++;
    while (j < n && (src[j] == ' ' || src[j] == '\t'))
        j++;
    return j;
}

/* The index just past the value that starts at src[k]: a quoted value to its closing quote
 * (backslash escapes skipped); after '=' (conninfo) an unquoted value runs to whitespace; after
 * ':' (YAML, JSON) it runs to the end of the line, ',' or '}'. */
static size_t
value_end(const char *src, size_t n, size_t k, char sep)
{
    if (k < n && (src[k] == '\'' || src[k] == '"')) {
        char q = src[k++];
        while (k < n && src[k] != q) {
            if (src[k] == '\\' && k + 1 < n)
                k++;
            k++;
        }
        return k < n ? k + 1 : k;
    }
    while (k < n && src[k] != '\n' && src[k] != '\r' && src[k] != ',' && src[k] != '}' &&
           (sep == ':' || (src[k] != ' ' && src[k] != '\t' && src[k] != ';')))
        k++;
    return k;
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
        /* key=value / key: value where the key ends in "password" (any case, any prefix) */
        if (strncasecmp(src + i, "password", 8) == 0 && !(i + 8 < n && is_word(src[i + 8]))) {
            size_t ks = i;
            while (ks > 0 && is_word(src[ks - 1]))
                ks--;
            char qo = ks > 0 && (src[ks - 1] == '"' || src[ks - 1] == '\'') ? src[ks - 1] : 0;
            size_t k = password_value(src, n, i + 8, qo);
            if (k) {
                char sep = 0;
                for (size_t c = i + 8; c < k; c++)
                    if (src[c] == '=' || src[c] == ':')
                        sep = src[c];
                size_t end = value_end(src, n, k, sep);
                for (size_t c = i; c < k; c++)
                    PUT(src[c]);
                if (k < n && (src[k] == '\'' || src[k] == '"')) {
                    PUT(src[k]); PUTS("***"); PUT(src[k]);
                } else {
                    PUTS("***");
                }
                i = end;
                continue;
            }
        }
        /* URI userinfo: scheme://user:secret@host (the last '@' of the authority ends it) */
        if (src[i] == ':' && i + 2 < n && src[i + 1] == '/' && src[i + 2] == '/') {
            size_t start = i + 3, end = start, at = 0, colon = 0;
            while (end < n && src[end] != '/' && src[end] != '?' && src[end] != '#' &&
                   src[end] != ' ' && src[end] != '\t' && src[end] != '\n') {
                if (src[end] == '@')
                    at = end;
                end++;
            }
            for (size_t c = start; at && c < at; c++) {
                if (src[c] == ':') {
                    colon = c;
                    break;
                }
            }
            if (at && colon) {
                for (size_t c = i; c <= colon; c++)
                    PUT(src[c]);
                PUTS("***");
                i = at;
                continue;
            }
        }
        /* password hashes: md5 + 32 hex digits, SCRAM-SHA-256$... verifiers */
        if (strncmp(src + i, "md5", 3) == 0 && i + 35 <= n && !(i > 0 && is_word(src[i - 1]))) {
            size_t h = 3;
            while (h < 35 && is_hex(src[i + h]))
                h++;
            if (h == 35 && !(i + 35 < n && is_word(src[i + 35]))) {
                PUTS("md5***");
                i += 35;
                continue;
            }
        }
        if (strncmp(src + i, "SCRAM-SHA-256$", 14) == 0) {
            PUTS("SCRAM-SHA-256$***");
            i += 14;
            while (i < n && src[i] != ' ' && src[i] != '\t' && src[i] != '\n' && src[i] != '"' &&
                   src[i] != '\'' && src[i] != ',' && src[i] != '}')
                i++;
            continue;
        }
        PUT(src[i]);
        i++;
    }
    dst[o] = '\0';
    return o;
#undef PUT
#undef PUTS
}

/* Append s to buf[*o..len) escaped for a JSON string (json) or, for a text line, with line
 * breaks and other control characters made visible so one event stays one line. */
static void
put_escaped(char *buf, size_t len, size_t *o, const char *s, bool json)
{
    for (; *s && *o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (json && (c == '"' || c == '\\')) {
            buf[(*o)++] = '\\';
            buf[(*o)++] = (char)c;
        } else if (c == '\n') {
            buf[(*o)++] = '\\';
            buf[(*o)++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            *o += (size_t)snprintf(buf + *o, len - *o, json ? "\\u%04x" : "\\x%02x", c);
        } else {
            buf[(*o)++] = (char)c;
        }
    }
}

static void write_msg(pgr_log_level_t level, const char *component, const char *msg);

void
pgr_log_write(pgr_log_level_t level, const char *component, const char *fmt, ...)
{
    char raw[2048], msg[2048];
    va_list ap;

    if (level < L.min)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    pgr_log_redact(msg, sizeof(msg), raw);
    explicit_bzero(raw, sizeof(raw));
    write_msg(level, component, msg);
}

/* ---- rate limits ---- */

static pgr_log_limit_t *limited; /* limiters with a count to report */

int64_t
pgr_log_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The window of lim has ended: its count, if any, becomes one line. */
static void
close_window(pgr_log_limit_t *lim, int64_t now_ms)
{
    char msg[700];
    if (lim->suppressed > 0) {
        snprintf(msg, sizeof(msg), "last message repeated %llu more times within %d s (at most "
                 "%d written per %d s): %s", (unsigned long long)lim->suppressed,
                 PGR_LOG_LIMIT_WINDOW_MS / 1000, PGR_LOG_LIMIT_BURST,
                 PGR_LOG_LIMIT_WINDOW_MS / 1000, lim->last);
        if (lim->level >= L.min)
            write_msg(lim->level, lim->component, msg);
    }
    lim->window_start_ms = now_ms;
    lim->written = 0;
    lim->suppressed = 0;
    lim->last[0] = '\0';
}

void
pgr_log_limited(pgr_log_limit_t *lim, int64_t now_ms, pgr_log_level_t level,
                const char *component, const char *fmt, ...)
{
    char raw[2048], msg[2048];
    va_list ap;

    if (level < L.min)
        return;
    if (lim->written == 0 && lim->suppressed == 0)
        lim->window_start_ms = now_ms;
    else if (now_ms - lim->window_start_ms >= PGR_LOG_LIMIT_WINDOW_MS)
        close_window(lim, now_ms);
    lim->level = level;
    lim->component = component;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    pgr_log_redact(msg, sizeof(msg), raw);
    explicit_bzero(raw, sizeof(raw));
    if (lim->written < PGR_LOG_LIMIT_BURST) {
        lim->written++;
        write_msg(level, component, msg);
        return;
    }
    lim->suppressed++;
    size_t n = strnlen(msg, sizeof(lim->last) - 1);
    memcpy(lim->last, msg, n); /* cut to fit */
    lim->last[n] = '\0';
    if (!lim->listed) {
        lim->listed = true;
        lim->next = limited;
        limited = lim;
    }
}

void
pgr_log_limit_flush(int64_t now_ms, bool all)
{
    pgr_log_limit_t **pp = &limited;
    while (*pp) {
        pgr_log_limit_t *lim = *pp;
        if (lim->suppressed > 0 && !all && now_ms - lim->window_start_ms < PGR_LOG_LIMIT_WINDOW_MS) {
            pp = &lim->next;
            continue;
        }
        close_window(lim, now_ms);
        *pp = lim->next;
        lim->next = NULL;
        lim->listed = false;
    }
}

/* One line: timestamp, level, component, the (already redacted) message. */
static void
write_msg(pgr_log_level_t level, const char *component, const char *msg)
{
    char ts[64], line[4600];
    struct timeval tv;
    struct tm tm;
    size_t o;
    FILE *f = L.out ? L.out : stderr;

    if ((unsigned)level >= PGR_ARRAY_LEN(level_names))
        level = PGR_LOG_ERROR;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(tv.tv_usec / 1000));

    /* The line is built whole and written with one call, so lines from threads never mix. */
    if (L.json) {
        o = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"",
                             ts, level_names[level]);
        put_escaped(line, sizeof(line), &o, component ? component : "", true);
        o += (size_t)snprintf(line + o, sizeof(line) - o, "\",\"msg\":\"");
        put_escaped(line, sizeof(line), &o, msg, true);
        o += (size_t)snprintf(line + o, sizeof(line) - o, "\"}\n");
    } else {
        o = (size_t)snprintf(line, sizeof(line), "%s %s [%s] ", ts, level_names[level],
                             component ? component : "-");
        put_escaped(line, sizeof(line), &o, msg, false);
        o += (size_t)snprintf(line + o, sizeof(line) - o, "\n");
    }
    fwrite(line, 1, o < sizeof(line) ? o : sizeof(line) - 1, f);
    fflush(f);
}

int
pgr_log_apply_config(const pgr_config_t *cfg)
{
    int level = pgr_log_level_parse(cfg->log.level ? cfg->log.level : "info");
    FILE *f = NULL;

    if (level < 0 || level > PGR_LOG_ERROR)
        return PGR_EINVAL;
    if (cfg->log.file) {
        if (!(f = fopen(cfg->log.file, "a")))
            return PGR_EIO;
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pgr_log_setup((pgr_log_level_t)level, cfg->log.json, f);
    if (L.owned)
        fclose(L.owned);
    L.owned = f;
    return 0;
}

void
pgr_log_shutdown(void)
{
    FILE *f = L.owned;
    pgr_log_setup(L.min, L.json, NULL);
    L.owned = NULL;
    if (f)
        fclose(f);
}

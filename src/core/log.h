/* Logging: levels, timestamps, one line per event, text or JSON lines, to stderr or a file.
 * Messages pass through pgr_log_redact() so no password (password=..., :pass@ in URIs,
 * "password": values) ever reaches a log line. The logger is process-wide state: it is the
 * one deliberate global, set up once by main before the loop starts. */
#ifndef PGR_CORE_LOG_H
#define PGR_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base.h"
#include "pgrouter/config.h"

typedef enum pgr_log_level {
    PGR_LOG_DEBUG,
    PGR_LOG_INFO,
    PGR_LOG_WARNING,
    PGR_LOG_ERROR,
    PGR_LOG_FATAL,
} pgr_log_level_t;

/* Where and how lines are written. out NULL means stderr. */
void pgr_log_setup(pgr_log_level_t min_level, int json, FILE *out);
pgr_log_level_t pgr_log_min_level(void);
/* Parse "debug" | "info" | "warning" | "error"; -1 if unknown. */
int pgr_log_level_parse(const char *s);

/* Emit one line. component names the module ("pool", "health", "config", ...). Control
 * characters and line breaks in the message are escaped, so one call is one line; the line is
 * written with one stdio call, so lines from different threads never interleave. */
void pgr_log_write(pgr_log_level_t level, const char *component, const char *fmt, ...)
    PGR_PRINTF(3, 4);

/* Set up logging from a loaded config's log section (level, json, file; the file is opened
 * for appending and replaces, then closes, any file a previous call opened). Returns 0,
 * PGR_EINVAL for an unknown level, or PGR_EIO when the file cannot be opened (errno is set;
 * the previous set-up is then kept). */
int pgr_log_apply_config(const pgr_config_t *cfg) PGR_MUSTCHECK;
/* Back to stderr, closing the file pgr_log_apply_config opened. */
void pgr_log_shutdown(void);

/* Copy src into dst (size dstlen, always NUL-terminated) with every password value replaced
 * by "***": conninfo `password=...` (quoted or not; also sslpassword=, PGPASSWORD=), URI
 * `scheme://user:pass@host`, JSON `"password":"..."`, YAML `password: ...` (to end of line),
 * and password hashes (`md5` + 32 hex digits, `SCRAM-SHA-256$...`). Returns the length written.
 * It is a safety net, not a licence: code must still not log secrets on purpose. */
size_t pgr_log_redact(char *dst, size_t dstlen, const char *src);

/* ---- rate limits -------------------------------------------------------------------------
 * A line a remote party can cause (a rejected CancelRequest, a bad startup packet, a failed
 * login, a TLS handshake that fails) goes through a limiter kept at its call site: in each
 * PGR_LOG_LIMIT_WINDOW_MS window the first PGR_LOG_LIMIT_BURST lines are written, the rest
 * only counted, and when the window has ended one line says how many there were and what the
 * last one said ("... repeated 9990 more times in 10 s, last: ..."), as syslog's "last message
 * repeated N times". So 100,000 bad cancels write a few lines, not 100,000.
 *
 * Loop thread only. A window's count is written by the site's next line after the window, or
 * by pgr_log_limit_flush(), which the daemon calls every second and at exit. */
#define PGR_LOG_LIMIT_BURST 10
#define PGR_LOG_LIMIT_WINDOW_MS 10000

typedef struct pgr_log_limit {
    int64_t window_start_ms;
    unsigned written;          /* lines written in this window */
    uint64_t suppressed;       /* lines counted, not written, in this window */
    pgr_log_level_t level;
    const char *component;
    char last[512];            /* the last counted line's message (redacted) */
    struct pgr_log_limit *next; /* on the list of limiters with counts to report */
    bool listed;
} pgr_log_limit_t;

/* Milliseconds of a monotonic clock. */
int64_t pgr_log_now_ms(void);
/* Write one line through lim at time now_ms (see above). */
void pgr_log_limited(pgr_log_limit_t *lim, int64_t now_ms, pgr_log_level_t level,
                     const char *component, const char *fmt, ...) PGR_PRINTF(5, 6);
/* Report the counts of windows ended by now_ms (all of them when all is true, at exit). */
void pgr_log_limit_flush(int64_t now_ms, bool all);

/* A rate-limited line: its limiter lives at the call site. */
#define pgr_log_rl(lvl, comp, ...)                                                            \
    do {                                                                                      \
        static pgr_log_limit_t pgr_rl_;                                                       \
        if (pgr_log_enabled(lvl))                                                             \
            pgr_log_limited(&pgr_rl_, pgr_log_now_ms(), lvl, comp, __VA_ARGS__);              \
    } while (0)
#define pgr_info_rl(comp, ...) pgr_log_rl(PGR_LOG_INFO, comp, __VA_ARGS__)
#define pgr_warn_rl(comp, ...) pgr_log_rl(PGR_LOG_WARNING, comp, __VA_ARGS__)

#define pgr_log_enabled(lvl) ((lvl) >= pgr_log_min_level())
#define pgr_debug(comp, ...) \
    do { if (pgr_log_enabled(PGR_LOG_DEBUG)) pgr_log_write(PGR_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define pgr_info(comp, ...)  pgr_log_write(PGR_LOG_INFO, comp, __VA_ARGS__)
#define pgr_warn(comp, ...)  pgr_log_write(PGR_LOG_WARNING, comp, __VA_ARGS__)
#define pgr_error(comp, ...) pgr_log_write(PGR_LOG_ERROR, comp, __VA_ARGS__)

#endif

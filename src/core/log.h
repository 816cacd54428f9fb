/* Logging: levels, timestamps, one line per event, text or JSON lines, to stderr or a file.
 * Messages pass through pgr_log_redact() so no password (password=..., :pass@ in URIs,
 * "password": values) ever reaches a log line. The logger is process-wide state: it is the
 * one deliberate global, set up once by main before the loop starts. */
#ifndef PGR_CORE_LOG_H
#define PGR_CORE_LOG_H

#include <stdio.h>
#include <stddef.h>

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

#define pgr_log_enabled(lvl) ((lvl) >= pgr_log_min_level())
#define pgr_debug(comp, ...) \
    do { if (pgr_log_enabled(PGR_LOG_DEBUG)) pgr_log_write(PGR_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define pgr_info(comp, ...)  pgr_log_write(PGR_LOG_INFO, comp, __VA_ARGS__)
#define pgr_warn(comp, ...)  pgr_log_write(PGR_LOG_WARNING, comp, __VA_ARGS__)
#define pgr_error(comp, ...) pgr_log_write(PGR_LOG_ERROR, comp, __VA_ARGS__)

#endif

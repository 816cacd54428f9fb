/* Logging: levels, timestamps, one line per event, text or JSON lines, to stderr or a file.
 * Messages pass through pgr_log_redact() so no password (password=..., :pass@ in URIs,
 * "password": values) ever reaches a log line. The logger is process-wide state: it is the
 * one deliberate global, set up once by main before the loop starts. */
#ifndef PGR_CORE_LOG_H
#define PGR_CORE_LOG_H

#include <stdio.h>
#include <stddef.h>

#include "core/base.h"

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

/* Emit one line. component names the module ("pool", "health", "config", ...). */
void pgr_log_write(pgr_log_level_t level, const char *component, const char *fmt, ...)
    PGR_PRINTF(3, 4);

/* Copy src into dst (size dstlen, always NUL-terminated) with every password value replaced
 * by "***": conninfo `password=...` (quoted or not), URI `user:pass@`, and `"password":"..."`.
 * Returns the length written. */
size_t pgr_log_redact(char *dst, size_t dstlen, const char *src);

#define pgr_log_enabled(lvl) ((lvl) >= pgr_log_min_level())
#define pgr_debug(comp, ...) \
    do { if (pgr_log_enabled(PGR_LOG_DEBUG)) pgr_log_write(PGR_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define pgr_info(comp, ...)  pgr_log_write(PGR_LOG_INFO, comp, __VA_ARGS__)
#define pgr_warn(comp, ...)  pgr_log_write(PGR_LOG_WARNING, comp, __VA_ARGS__)
#define pgr_error(comp, ...) pgr_log_write(PGR_LOG_ERROR, comp, __VA_ARGS__)

#endif

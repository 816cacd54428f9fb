/* pgrouter error codes: one X-macro table feeds the enum and pgr_strerror().
 * Functions return int: 0 on success, a negative PGR_E* code on failure. */
#ifndef PGROUTER_ERROR_H
#define PGROUTER_ERROR_H

#define PGR_ERRNO_MAP(X)                                                   \
    X(NOMEM,     "out of memory")                                          \
    X(INVAL,     "invalid argument")                                       \
    X(EXIST,     "already exists")                                         \
    X(NOENT,     "not found")                                              \
    X(TIMEDOUT,  "timed out")                                              \
    X(SHUTDOWN,  "shutting down")                                          \
    X(IO,        "I/O error")                                              \
    X(PROTO,     "protocol violation")                                     \
    X(CONFIG,    "invalid configuration")                                  \
    X(BUSY,      "resource busy")                                          \
    X(CANCELED,  "canceled")                                               \
    X(UNHEALTHY, "node unhealthy")                                         \
    X(CONNECT,   "connection failed")                                      \
    X(QUERY,     "query failed")                                           \
    X(LIMIT,     "limit exceeded")                                         \
    X(CLOSED,    "connection closed")                                      \
    X(REMOVED,   "node removed")                                           \
    X(TRUNC,     "message truncated")                                      \
    X(TRAILING,  "unexpected bytes at end of message")                     \
    X(NOTERM,    "string not terminated")

enum pgr_errno {
    PGR_OK = 0,
#define PGR_ERRNO_ENUM(name, msg) PGR_E##name,
    PGR__EFIRST = -1000,
    PGR_ERRNO_MAP(PGR_ERRNO_ENUM)
#undef PGR_ERRNO_ENUM
    PGR__ELAST
};

/* A static, human-readable text for a PGR_E* code (or "success" for 0). Never NULL. */
const char *pgr_strerror(int err);

#endif

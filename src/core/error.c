/* pgr_strerror() and the assertion handler. */
#include <stdio.h>

#include "core/base.h"

const char *
pgr_strerror(int err)
{
    switch (err) {
    case PGR_OK:
        return "success";
#define PGR_ERRNO_CASE(name, msg) \
    case PGR_E##name:             \
        return msg;
        PGR_ERRNO_MAP(PGR_ERRNO_CASE)
#undef PGR_ERRNO_CASE
    default:
        return "unknown error";
    }
}

void
pgr_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "pgrouter: assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}

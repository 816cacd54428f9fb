/* Base definitions every module may use: attributes, container_of, assertions, sizes. */
#ifndef PGR_CORE_BASE_H
#define PGR_CORE_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pgrouter/error.h"

#define PGR_API          __attribute__((visibility("default")))
#define PGR_MUSTCHECK    __attribute__((warn_unused_result))
#define PGR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PGR_UNUSED       __attribute__((unused))
#define pgr_likely(x)    __builtin_expect(!!(x), 1)
#define pgr_unlikely(x)  __builtin_expect(!!(x), 0)

#define PGR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define pgr_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

/* A programmer error: never for anything a client, a node or a config file can cause. */
void pgr_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define pgr_assert(e) ((e) ? (void)0 : pgr_assert_fail(#e, __FILE__, __LINE__))

#endif

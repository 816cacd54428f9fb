/* libFuzzer driver: route/sqlscan, the shape scanner the classifier's cache keys on, and the
 * nesting-depth bound. A shape's key is written inside its documented capacity, starts with a
 * zero byte, holds at least one placeholder, and its kept offsets lie inside the text. */
#include <stdlib.h>
#include <string.h>

#include "route/sqlscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sql = (const char *)data;

    if (pgr_sqlscan_depth(sql, size, 100) > 100)
        abort();
    size_t cap = PGR_SQLSCAN_KEY_CAP(size);
    char *key = malloc(cap + 1);
    if (key == NULL)
        return 0;
    key[cap] = 0x5a; /* a guard byte past the capacity */
    pgr_sqlshape_t s;
    if (pgr_sqlscan_shape(sql, size, key, &s)) {
        if (s.key_len > cap || s.key_len == 0 || key[0] != '\0' || s.n_replaced == 0 ||
            s.n_kept > PGR_SQLSCAN_MAX_KEPT || size > PGR_SQLSCAN_SHAPE_MAX ||
            (size_t)s.stmt_offset + s.stmt_length > size)
            abort();
        for (size_t i = 0; i < s.n_kept; i++)
            if (s.kept[i] >= size)
                abort();
        if (memchr(key, 0x01, s.key_len) == NULL)
            abort();
    }
    if (key[cap] != 0x5a)
        abort();
    free(key);
    return 0;
}

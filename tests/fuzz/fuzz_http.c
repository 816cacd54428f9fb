/* libFuzzer driver: the admin HTTP endpoint's request-head parser (ops/http). A complete head
 * yields a NUL-terminated method and path inside their buffers; anything else is "more" or
 * refused, never read past the input. */
#include <stdlib.h>
#include <string.h>

#include "ops/http.h"
#include "pgrouter/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    char method[16], path[256];

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    int rc = pgr_http_parse_request(buf, size, method, sizeof(method), path, sizeof(path));
    if (rc != 0 && rc != 1 && rc != PGR_EPROTO)
        abort();
    if (rc == 1 && (memchr(method, '\0', sizeof(method)) == NULL || method[0] == '\0' ||
                    memchr(path, '\0', sizeof(path)) == NULL))
        abort();
    free(buf);
    return 0;
}

/* libFuzzer driver: route/hint, the routing-hint comments before a statement's first token.
 * Never fails: *out is always set, an error has a message and no kind, a node hint an id. */
#include <stdlib.h>
#include <string.h>

#include "route/hint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgr_hint_t h;

    pgr_hint_parse((const char *)data, size, &h);
    if (h.error && (h.kind != PGR_HINT_NONE || h.error_msg[0] == '\0'))
        abort();
    if (!h.error && h.kind == PGR_HINT_NODE && h.node[0] == '\0')
        abort();
    if (memchr(h.node, '\0', sizeof(h.node)) == NULL ||
        memchr(h.error_msg, '\0', sizeof(h.error_msg)) == NULL)
        abort();
    if (pgr_hint_kind_name(h.kind) == NULL)
        abort();
    return 0;
}

/* libFuzzer driver: the YAML configuration loader (core/config*). A load either succeeds with
 * no message or fails with at least one, and every message starts with the file's name. */
#include <stdlib.h>
#include <string.h>

#include "pgrouter/config.h"
#include "pgrouter/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgr_config_t *cfg = NULL;
    pgr_config_errors_t errs = { 0 };
    int rc = pgr_config_load_string("f", (const char *)data, size, &cfg, &errs);

    if (rc == 0 && (cfg == NULL || errs.n != 0))
        abort();
    if (rc == PGR_ECONFIG && (cfg != NULL || errs.n == 0))
        abort();
    for (size_t i = 0; i < errs.n; i++)
        if (strncmp(errs.msgs[i], "f:", 2) != 0)
            abort();
    pgr_config_errors_free(&errs);
    pgr_config_free(cfg);
    return 0;
}

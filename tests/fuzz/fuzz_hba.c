/* libFuzzer driver: core/hba, the pg_hba.conf parser, and matching with what it built. A parse
 * either succeeds with no message or fails with at least one; every message names the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hba.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
free_errs(pgr_config_errors_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msgs[i]);
    free(e->msgs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgr_config_errors_t errs = { 0 };
    pgr_hba_t *h = NULL;
    int rc = pgr_hba_parse("f", (const char *)data, size, &h, &errs);

    if ((rc == 0) != (errs.n == 0) || (rc == 0) != (h != NULL))
        abort();
    for (size_t i = 0; i < errs.n; i++)
        if (strncmp(errs.msgs[i], "f:", 2) != 0)
            abort();
    free_errs(&errs);
    if (h == NULL)
        return 0;
    /* Clients made from the input's first bytes, every connection kind. */
    static const char *const names[] = { "all", "app", "postgres", "" };
    for (int k = 0; k < 8; k++) {
        pgr_hba_client_t c = { .local = k == 0, .ssl = k & 1, .family = k < 4 ? 4 : 6,
                               .user = names[k % 4], .database = names[(k + 1) % 4] };
        for (size_t i = 0; i < sizeof(c.addr); i++)
            c.addr[i] = size ? data[(i + (size_t)k) % size] : 0;
        pgr_hba_method_t m;
        int line = 0;
        if (pgr_hba_match(h, &c, &m, &line) && (line < 1 || pgr_hba_method_name(m)[0] == 'u'))
            abort();
    }
    pgr_hba_free(h);
    return 0;
}

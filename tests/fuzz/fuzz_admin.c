/* libFuzzer driver: the admin console's command parser (ops/admin). Any bytes: a command is
 * parsed or refused with a SQLSTATE and a message, never read past the input. */
#include <stdlib.h>
#include <string.h>

#include "ops/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading one byte past the input is caught. */
    char *sql = malloc(size ? size : 1);
    if (sql == NULL)
        return 0;
    memcpy(sql, data, size);
    pgr_admin_cmd_t cmd;
    pgr_admin_err_t err;
    int rc = pgr_admin_parse(sql, size, &cmd, &err);
    if (rc == 0) {
        if (pgr_admin_verb_name(cmd.verb) == NULL ||
            memchr(cmd.node, '\0', sizeof(cmd.node)) == NULL)
            abort();
        if (cmd.rest && (cmd.rest < sql || cmd.rest + cmd.rest_len > sql + size))
            abort();
        pgr_admin_cmd_free(&cmd);
    } else if (rc == PGR_EINVAL) {
        if (strlen(err.sqlstate) != 5 || err.msg[0] == '\0')
            abort();
    }
    free(sql);
    return 0;
}

/* The admin commands that answer with rows: SHOW NODES / POOLS / CLIENTS / SERVERS / STATS /
 * CONFIG / VERSION / HELP and EXPLAIN ROUTE (see admin.h for the reply contract). */
#ifndef PGR_OPS_ADMIN_SHOW_H
#define PGR_OPS_ADMIN_SHOW_H

#include "ops/admin.h"

/* Append the reply to cmd (a SHOW_* or EXPLAIN_ROUTE verb): RowDescription, DataRows,
 * CommandComplete "SHOW" / "EXPLAIN"; or one ErrorResponse. Failures stick in out->err. */
void pgr_admin_show(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out);

#endif

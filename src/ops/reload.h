/* Configuration reload (SIGHUP, admin RELOAD): load the config file again, compare it with the
 * running snapshot (core/reload) and carry out the difference live — nodes added, drained and
 * removed, replaced, re-weighted; router, classifier and logger refreshed — then swap the
 * snapshot. An invalid file changes nothing. Settings bound at start keep their old values and
 * are reported as needing a restart. Old snapshots stay allocated until the process ends
 * (sessions may still hold pointers into them) and are freed by pgr_reload_release. */
#ifndef PGR_OPS_RELOAD_H
#define PGR_OPS_RELOAD_H

#include "core/runtime.h"
#include "protocol/writer.h"

/* Reload rt->cfg->path. out (may be NULL: log only) gets a NOTICE per change and setting kept,
 * then CommandComplete "RELOAD" — or one ErrorResponse (F0000, the file's first problems as
 * "file:line:col: ..." in DETAIL) when the file is not valid. Returns 0, PGR_ECONFIG or
 * PGR_ENOMEM. */
int pgr_reload_run(pgr_runtime_t *rt, pgr_writer_t *out);
/* Free every snapshot retired by a reload except keep (the one the caller owns). */
void pgr_reload_release(pgr_runtime_t *rt, const pgr_config_t *keep);

#endif

/* The running server: runtime, signals, loop, shutdown (see daemon.c). */
#ifndef PGR_OPS_DAEMON_H
#define PGR_OPS_DAEMON_H

#include "pgrouter/config.h"

/* Run pgrouter with cfg until it is shut down by a signal. Returns the process exit code. cfg
 * stays the caller's. */
int pgr_daemon_run(pgr_config_t *cfg);

#endif

/* workers: `pgrouter -c FILE --workers N` as one command for a group of N processes on one
 * machine (listen.reuseport). The parent forks them before any loop exists, passes SIGTERM,
 * SIGINT and SIGHUP on to every one, and exits once all have. */
#ifndef PGR_OPS_WORKERS_H
#define PGR_OPS_WORKERS_H

/* Run one worker: the process body (main.c's run). */
typedef int (*pgr_worker_fn)(const char *path, int instance);

/* Fork n workers running fn(path, base + i), i = 0..n-1; wait for them. A worker that exits
 * on its own is logged and not restarted (the others go on serving; a service manager
 * restarts the group). Returns the exit code: 0 when every worker exited 0, else 1. The caller
 * has checked that base + n - 1 is a valid instance id. */
int pgr_workers_run(const char *path, int base, int n, pgr_worker_fn fn);

#endif

/* pgrouter's entry point: argv, signals, config, runtime, loop — nothing else. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base.h"
#include "core/log.h"
#include "ops/daemon.h"
#include "ops/workers.h"
#include "pgrouter/config.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: pgrouter -c FILE [--instance N] [--workers N]\n"
            "                                         run with the configuration in FILE\n"
            "       pgrouter --check-config FILE       validate FILE, print ok or the errors\n"
            "       pgrouter --version\n"
            "  --instance N   this process's instance id (0-%d), over instance.id in FILE:\n"
            "                 several processes can run from one file\n"
            "  --workers N    start N processes on one port (listen.reuseport), instances\n"
            "                 --instance (or instance.id) and up; signals go to all of them\n",
            PGR_INSTANCE_MAX);
}

/* Load path; on failure print every message to stderr, one per line, and return NULL. */
static pgr_config_t *
load_config(const char *path)
{
    pgr_config_errors_t errs = { 0 };
    pgr_config_t *cfg = NULL;
    int rc = pgr_config_load(path, &cfg, &errs);

    if (rc == 0)
        return cfg;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    if (errs.n == 0)
        fprintf(stderr, "%s: %s\n", path, pgr_strerror(rc));
    pgr_config_errors_free(&errs);
    return NULL;
}

static bool
parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* instance: -1, or the --instance override. */
static int
run(const char *path, int instance)
{
    pgr_config_t *cfg = load_config(path);
    int rc;

    if (!cfg)
        return 1;
    if (instance >= 0) {
        cfg->instance.id = instance;
        cfg->instance.cli = true;
    }
    if ((rc = pgr_log_apply_config(cfg)) != 0) {
        fprintf(stderr, "%s: log.file %s: %s\n", path, cfg->log.file ? cfg->log.file : "-",
                rc == PGR_EIO ? strerror(errno) : pgr_strerror(rc));
        pgr_config_free(cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* PostgreSQL and PgBouncer refuse to run as root; pgrouter warns, once the log is set up. */
    if (geteuid() == 0)
        pgr_warn("main", "running as root: run pgrouter as its own unprivileged user "
                 "(the systemd unit runs it as pgrouter)");
    pgr_info("main", "config loaded: %zu nodes", cfg->n_nodes);
    rc = pgr_daemon_run(cfg);
    pgr_config_free(cfg);
    pgr_log_shutdown();
    return rc;
}

/* --workers n: instances base..base+n-1 (base: --instance, else the file's instance.id), all
 * on one port, so the file must say listen.reuseport when n > 1. */
static int
run_workers(const char *path, int instance, int n)
{
    pgr_config_t *cfg = load_config(path);
    int base;

    if (!cfg)
        return 1;
    base = instance >= 0 ? instance : cfg->instance.id;
    if (n > 1 && !cfg->listen.reuseport) {
        fprintf(stderr, "%s: --workers %d needs listen.reuseport: true (the workers share "
                "listen.port)\n", path, n);
        pgr_config_free(cfg);
        return 1;
    }
    pgr_config_free(cfg);
    if (base + n - 1 > PGR_INSTANCE_MAX) {
        fprintf(stderr, "pgrouter: --workers %d from instance %d goes past instance %d\n", n,
                base, PGR_INSTANCE_MAX);
        return 2;
    }
    return pgr_workers_run(path, base, n, run);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("pgrouter %s\n", PGR_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0) {
        pgr_config_t *cfg = load_config(argv[2]);
        if (!cfg)
            return 1;
        pgr_config_free(cfg);
        printf("ok\n");
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
        int instance = -1, workers = 0;
        for (int i = 3; i < argc; i += 2) {
            bool inst = strcmp(argv[i], "--instance") == 0;
            if ((!inst && strcmp(argv[i], "--workers") != 0) || i + 1 >= argc) {
                usage(stderr);
                return 2;
            }
            if (!parse_int(argv[i + 1], inst ? 0 : 1, inst ? PGR_INSTANCE_MAX : 1024,
                           inst ? &instance : &workers)) {
                fprintf(stderr, "pgrouter: %s expects %s, got \"%s\"\n", argv[i],
                        inst ? "an id from 0 to 1023" : "a count from 1 to 1024", argv[i + 1]);
                usage(stderr);
                return 2;
            }
        }
        if (workers > 0)
            return run_workers(argv[2], instance, workers);
        return run(argv[2], instance);
    }
    usage(stderr);
    return 2;
}

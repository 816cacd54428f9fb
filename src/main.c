/* pgrouter's entry point: argv, signals, config, runtime, loop — nothing else. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base.h"
#include "core/log.h"
#include "ops/daemon.h"
#include "pgrouter/config.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: pgrouter -c FILE          run with the configuration in FILE\n"
            "       pgrouter --check-config FILE   validate FILE, print ok or the errors\n"
            "       pgrouter --version\n");
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

static int
run(const char *path)
{
    pgr_config_t *cfg = load_config(path);
    int rc;

    if (!cfg)
        return 1;
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
    if (argc == 3 && strcmp(argv[1], "-c") == 0)
        return run(argv[2]);
    usage(stderr);
    return 2;
}

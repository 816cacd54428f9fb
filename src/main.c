/* pgrouter's entry point: argv, signals, config, runtime, loop — nothing else. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/base.h"
#include "core/log.h"
#include "ops/daemon.h"
#include "pgrouter/config.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: pgrouter -c FILE [--instance N]   run with the configuration in FILE\n"
            "       pgrouter --check-config FILE       validate FILE, print ok or the errors\n"
            "       pgrouter --version\n"
            "  --instance N   this process's instance id (0-%d), over instance.id in FILE:\n"
            "                 several processes can run from one file\n", PGR_INSTANCE_MAX);
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
    if ((argc == 3 || argc == 5) && strcmp(argv[1], "-c") == 0) {
        int instance = -1;
        if (argc == 5) {
            char *end;
            long v;
            errno = 0;
            v = strtol(argv[4], &end, 10);
            if (strcmp(argv[3], "--instance") != 0 || errno != 0 || end == argv[4] || *end ||
                v < 0 || v > PGR_INSTANCE_MAX) {
                fprintf(stderr, "pgrouter: --instance expects an id from 0 to %d, got \"%s\"\n",
                        PGR_INSTANCE_MAX, argv[4]);
                usage(stderr);
                return 2;
            }
            instance = (int)v;
        }
        return run(argv[2], instance);
    }
    usage(stderr);
    return 2;
}

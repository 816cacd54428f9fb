/* Test fixture for the cluster library's integration tests: real PostgreSQL nodes from
 * tests/cluster.sh in a mkdtemp dir, faults through the same script, a loop runner with a
 * deadline, an event recorder, and pg_stat_activity counts through a plain libpq connection.
 *
 * Servers never outlive the test: fx_start forks a watchdog (its own session) that stops the
 * cluster when the test process goes away for any reason (exit, abort, sanitizer, timeout);
 * fx_stop (also run by atexit) stops it on the normal path. */
#ifndef PGR_TEST_CLUSTER_FIXTURE_H
#define PGR_TEST_CLUSTER_FIXTURE_H

#include <stdbool.h>
#include <uv.h>

#include "pgrouter/cluster.h"
#include "pgrouter/config.h"

#define FX_MAX_NODES 8

typedef struct fx_node {
    char id[16];
    int port;
    char role[16];
} fx_node_t;

typedef struct fx_cluster {
    char dir[256];
    int n;
    fx_node_t nodes[FX_MAX_NODES];
    int watchdog_fd;
    int watchdog_pid;
} fx_cluster_t;

/* Start n nodes (replicas of pg1 among them); exits the test (Bail out!) on failure. */
void fx_start(fx_cluster_t *fx, int n, int replicas);
void fx_stop(fx_cluster_t *fx);

/* What a cluster test program runs against. */
typedef struct fx_setup {
    int nodes;                        /* started by tests/cluster.sh */
    int replicas;                     /* replicas of pg1, among the nodes */
    int configured;                   /* nodes [0, configured) are in the cluster's config */
    void (*tune)(pgr_config_t *cfg);  /* edits that config before the cluster is made; NULL */
} fx_setup_t;

struct fx_events;

/* A test program's start: the nodes started (fx_start), loop initialised, a cluster made on
 * the configured nodes with fx_options() into *c, every event recorded into ev. Exits the test
 * (Bail out!) on failure. The caller shuts *c down (fx_shutdown) and stops fx (fx_stop, which
 * also runs at exit). */
void fx_begin(fx_cluster_t *fx, uv_loop_t *loop, pgr_cluster_t **c, struct fx_events *ev,
              const fx_setup_t *setup);
/* kill | hang | resume | restart | promote a node; 0 on success. */
int fx_node(fx_cluster_t *fx, const char *verb, const char *id);

/* A default config with fx's nodes [0, n) (host 127.0.0.1, port, no pool overrides). */
pgr_config_t *fx_config(const fx_cluster_t *fx, int n);
/* Fill a node config for node i of fx (strings point into fx / static storage). */
void fx_node_config(const fx_cluster_t *fx, int i, pgr_node_config_t *nc);
/* Options the tests use: user postgres, database app. */
const pgr_cluster_options_t *fx_options(void);

/* Run loop until *flag is true or timeout_s passes; returns *flag. */
bool fx_run_until(uv_loop_t *loop, const bool *flag, double timeout_s);
/* Run loop until pred(arg) or timeout; returns pred(arg). */
bool fx_run_until_pred(uv_loop_t *loop, bool (*pred)(void *), void *arg, double timeout_s);
/* Run loop for seconds. */
void fx_run_for(uv_loop_t *loop, double seconds);
double fx_now(void);

/* Connections with application_name = appname on node i (a fresh blocking libpq connection,
 * which itself does not count); -1 on error. */
int fx_count_conns(const fx_cluster_t *fx, int i, const char *appname);
/* Same, but waits up to timeout_s for the count to reach want; returns the last count. */
int fx_wait_conns(const fx_cluster_t *fx, int i, const char *appname, int want, double timeout_s);
/* Run sql on node i as postgres (blocking); the first value of the first row into out. */
int fx_psql(const fx_cluster_t *fx, int i, const char *sql, char *out, size_t outlen);

/* An event recorder to subscribe with pgr_cluster_subscribe(c, fx_events_cb, &rec). */
typedef struct fx_event {
    pgr_event_type_t type;
    char node_id[PGR_NODE_ID_MAX];
    pgr_node_state_t old_state, new_state;
    double at;
} fx_event_t;

typedef struct fx_events {
    fx_event_t ev[512];
    int n;
    int stats_events;
} fx_events_t;

void fx_events_cb(pgr_cluster_t *c, const pgr_event_t *ev, void *arg);
/* Count recorded events of type for node (NULL: any), optionally with new_state (-1: any). */
int fx_events_count(const fx_events_t *r, pgr_event_type_t type, const char *node, int new_state);

/* Shut c down (drain_ms), run until done, free it, close the loop; returns uv_loop_close(). */
int fx_shutdown(pgr_cluster_t *c, uv_loop_t *loop, int64_t drain_ms);

#endif

/* Health checking: one dedicated libpq connection per node runs the health query every
 * health.interval within health.timeout, and drives the node's state machine
 *   connecting → healthy → unhealthy → reconnecting → healthy   (+ removed)
 * with unhealthy_threshold consecutive failures and an exponential reconnect backoff with
 * jitter. The decisions are the pure functions pgr_health_step() and pgr_health_backoff_ms();
 * health.c only wires them to timers and the connection. */
#ifndef PGR_BACKEND_HEALTH_H
#define PGR_BACKEND_HEALTH_H

#include <uv.h>

#include "core/base.h"
#include "pgrouter/cluster.h"

struct pgr_node;

/* What happened to the checker. */
typedef enum pgr_health_event {
    PGR_HEV_CHECK_OK,     /* a check succeeded */
    PGR_HEV_CHECK_FAILED, /* a check failed (error, lost connection, timeout); the count given
                           * to pgr_health_step() already includes it */
    PGR_HEV_RETRY_DUE,    /* the backoff (or an immediate probe) timer fired */
    PGR_HEV_REMOVE,       /* the node is being removed */
} pgr_health_event_t;

/* What the checker does next. */
typedef enum pgr_health_action {
    PGR_HACT_NEXT_INTERVAL, /* check again one interval after the last check started */
    PGR_HACT_CHECK_NOW,     /* check again at once */
    PGR_HACT_BACKOFF,       /* wait out the next backoff step, then RETRY_DUE */
    PGR_HACT_STOP,          /* no more checks */
} pgr_health_action_t;

/* The state machine: the state after ev in state s, given the consecutive failures so far and
 * the threshold, and (in *action) what to do next. Pure. */
pgr_node_state_t pgr_health_step(pgr_node_state_t s, pgr_health_event_t ev, int failures,
                                 int threshold, pgr_health_action_t *action);

/* Backoff before reconnect attempt number step (0-based): initial * 2^step capped at max_ms,
 * moved by up to ±jitter of itself using rnd in [0, 1), and capped at max_ms again: the cap
 * is never passed. Never negative. Pure. */
int64_t pgr_health_backoff_ms(int step, int64_t initial_ms, int64_t max_ms, double jitter,
                              double rnd);

/* Is the move from told (the state last announced) to now a change worth a NODE_HEALTH event
 * and a log line? Not when nothing changed, nor when an unhealthy node starts a reconnect
 * attempt (RECONNECTING): its failure brings it back to UNHEALTHY, announced already, and its
 * success is announced as unhealthy -> healthy. Pure. */
bool pgr_health_is_change(pgr_node_state_t told, pgr_node_state_t now);

/* Parse "16/B374D848" into a 64-bit LSN; false if malformed. Pure. */
bool pgr_health_parse_lsn(const char *s, uint64_t *out);

/* The login of a node's health connection. Each field comes from the node's `health:` block,
 * else the global health.* keys, else the node's own user / dbname, else fallback (the cluster
 * options, "postgres" by default). The password goes with the user: the node's own password (or
 * fallback's) is used only while no health user is set at either level, so a pool password is
 * never sent on behalf of another role. Pure; the fields point into the arguments. */
typedef struct pgr_health_login {
    const char *user, *password, *dbname;
} pgr_health_login_t;
pgr_health_login_t pgr_health_login(const pgr_node_config_t *nc, const pgr_login_config_t *global,
                                    const pgr_health_login_t *fallback);

/* When msg (libpq's message for a failed connection) says the server refused the login itself —
 * the role, its password, pg_hba, the database — the config keys to set, as text ("health.user
 * and health.password", "health.dbname", ...); NULL for any other failure. Pure. */
const char *pgr_health_login_keys(const char *msg);

typedef struct pgr_health_checker {
    struct pgr_node *node;
    pgr_server_t *srv;          /* the dedicated connection, NULL between connections */
    bool srv_ready;             /* srv is CONNECTION_OK */
    bool in_check;
    uint64_t check_start_ns;
    uint64_t last_start_ns;     /* start of the last check, for the fixed cadence */
    uv_timer_t tick;            /* next check, backoff */
    uv_timer_t deadline;        /* the running check's timeout */
    int backoff_step;
    int64_t last_probe_ms;
    pgr_health_t rec;
    pgr_node_state_t told;      /* the state the last NODE_HEALTH event announced */
    char login_reported[256];   /* the login failure last logged; "" after a success */
    bool stopping;
    int pending;                /* handles and connection still closing */
    void (*stopped_cb)(struct pgr_health_checker *h, void *arg);
    void *stopped_arg;
} pgr_health_checker_t;

/* Begin checking node (state CONNECTING, first check at once). */
void pgr_health_start(pgr_health_checker_t *h, struct pgr_node *node);
/* Stop: close the connection and timers; cb runs when all are closed. State becomes REMOVED
 * (with a NODE_HEALTH event) when removed is true. */
void pgr_health_stop(pgr_health_checker_t *h, bool removed,
                     void (*cb)(pgr_health_checker_t *h, void *arg), void *arg);
/* An I/O error on a pooled connection of the node: check now if the node looks healthy. */
void pgr_health_poke(pgr_health_checker_t *h);
/* Check an unhealthy node now, at most once per second. */
void pgr_health_probe(pgr_health_checker_t *h);

#endif

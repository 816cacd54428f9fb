/* The admin console: the commands a session connected to the virtual database "pgrouter" may
 * run (SHOW NODES/POOLS/CLIENTS/SERVERS/STATS/CONFIG/VERSION/HELP, ADD/DRAIN/REMOVE/SET NODE,
 * PAUSE, RESUME, RELOAD, SHUTDOWN, EXPLAIN ROUTE), parsed here and answered from the runtime and
 * the cluster API. Sessions sit below ops and reach it only through rt->admin_execute. */
#ifndef PGR_OPS_ADMIN_H
#define PGR_OPS_ADMIN_H

#include "core/base.h"
#include "core/runtime.h"
#include "pgrouter/cluster.h"
#include "protocol/writer.h"

#define PGR_ADMIN_VERB_MAP(X)                      \
    X(EMPTY, "")                                   \
    X(SHOW_NODES, "SHOW NODES")                    \
    X(SHOW_POOLS, "SHOW POOLS")                    \
    X(SHOW_CLIENTS, "SHOW CLIENTS")                \
    X(SHOW_SERVERS, "SHOW SERVERS")                \
    X(SHOW_STATS, "SHOW STATS")                    \
    X(SHOW_CONFIG, "SHOW CONFIG")                  \
    X(SHOW_VERSION, "SHOW VERSION")                \
    X(SHOW_HELP, "SHOW HELP")                      \
    X(ADD_NODE, "ADD NODE")                        \
    X(DRAIN_NODE, "DRAIN NODE")                    \
    X(REMOVE_NODE, "REMOVE NODE")                  \
    X(SET_NODE, "SET NODE")                        \
    X(PAUSE, "PAUSE")                              \
    X(RESUME, "RESUME")                            \
    X(RELOAD, "RELOAD")                            \
    X(SHUTDOWN, "SHUTDOWN")                        \
    X(EXPLAIN_ROUTE, "EXPLAIN ROUTE")              \
    X(LISTEN, "LISTEN")                            \
    X(UNLISTEN, "UNLISTEN")

typedef enum pgr_admin_verb {
#define PGR_ADMIN_VERB_ENUM(name, text) PGR_ADMIN_##name,
    PGR_ADMIN_VERB_MAP(PGR_ADMIN_VERB_ENUM)
#undef PGR_ADMIN_VERB_ENUM
} pgr_admin_verb_t;

/* The command's name as in the map ("SHOW NODES"); also its CommandComplete tag. */
const char *pgr_admin_verb_name(pgr_admin_verb_t v);

/* One parsed command. Node ids are taken as written (case kept; "double quotes" allowed). */
typedef struct pgr_admin_cmd {
    pgr_admin_verb_t verb;
    char node[PGR_NODE_ID_MAX];  /* ADD / DRAIN / REMOVE / SET NODE */
    char *conninfo;              /* ADD NODE, unquoted; owned (pgr_admin_cmd_free) */
    bool has_role, has_weight;   /* ADD NODE (optional), SET NODE (at least one) */
    pgr_role_t role;
    int weight;                  /* 0..1000000, as in the config */
    bool wait_for_clients;       /* SHUTDOWN WAIT_FOR_CLIENTS (or WAIT) */
    const char *rest;            /* EXPLAIN ROUTE: the statement, pointing into sql */
    size_t rest_len;
    char channel[64];            /* LISTEN */
} pgr_admin_cmd_t;

/* Why a command was refused: SQLSTATE, message, and a usage hint (static, or NULL). */
typedef struct pgr_admin_err {
    char sqlstate[6];
    char msg[256];
    const char *hint;
} pgr_admin_err_t;

/* Parse sql[0..len) (any bytes: NULs and invalid UTF-8 are refused, never read past len):
 * keywords case-insensitive, -- and block comments skipped, one optional trailing ';'.
 * Returns 0 with *cmd filled (free it with pgr_admin_cmd_free), PGR_ENOMEM, or PGR_EINVAL with
 * *err set (42601 for a malformed or unrecognized command; *cmd then needs no free). */
int pgr_admin_parse(const char *sql, size_t len, pgr_admin_cmd_t *cmd, pgr_admin_err_t *err)
    PGR_MUSTCHECK;
void pgr_admin_cmd_free(pgr_admin_cmd_t *cmd);

/* Execute one admin command (simple protocol; sql is the whole Query text). Appends to out the
 * reply messages: RowDescription + DataRow* + CommandComplete; or CommandComplete alone, maybe
 * after a NoticeResponse that says what a command started; or EmptyQueryResponse for an empty
 * query; or one ErrorResponse (severity ERROR; 42601 malformed, 42704 unknown node, 0A000 not
 * supported, 42710 duplicate node, 22023 bad node settings, 55000 not possible now). Never
 * ReadyForQuery: the session adds it. Returns 0, or PGR_ENOMEM (or out's other sticky error).
 *
 * Commands that finish later answer at once and say so in a NOTICE: DRAIN NODE / REMOVE NODE
 * (the node takes no new work now and is removed when drained, up to shutdown.drain_timeout),
 * SHUTDOWN (raises SIGTERM on this process: the daemon's graceful shutdown). */
int pgr_admin_execute(pgr_runtime_t *rt, const char *sql, size_t len, pgr_writer_t *out,
                      pgr_admin_session_t *sess);
/* Node events for every admin session that listens (LISTEN pgrouter_events): one
 * NotificationResponse each on channel "pgrouter_events" (sender pid: pgrouter's), queued per
 * session and delivered between its commands (session/notify.h). Subscribes to rt->cluster;
 * 0 or an error. The payloads (pgr_admin_event_json), one JSON object each:
 *   {"event": "node_added", "node": "pg4", "host": "10.0.0.4", "port": 5432}
 *   {"event": "node_removed", "node": "pg4"}
 *   {"event": "node_health", "node": "pg2", "from": "healthy", "to": "unhealthy",
 *    "error": "..."}            (error only when a failure caused it; one per real change)
 *   {"event": "node_connected", "node": "pg2"}     (its health-check connection is up)
 *   {"event": "node_disconnected", "node": "pg2", "error": "..."}   (it was lost or closed)
 *   {"event": "pool_stats", "pools": [{"node": "pg1", "total": 3, "idle": 2, "active": 1,
 *    "connecting": 0, "waiting": 0, "max": 20, "acquired": 17, "timed_out": 0,
 *    "connect_failures": 0}, ...]}   (every health.interval, every node)
 *   {"event": "events_dropped", "count": 12}   (the session's queue overflowed) */
int pgr_admin_events_start(pgr_runtime_t *rt);
/* The JSON payload of ev (caller frees); NULL for an unknown type or out of memory. c (may be
 * NULL) is asked for an added node's settings. */
char *pgr_admin_event_json(pgr_cluster_t *c, const pgr_event_t *ev);

/* Install the hook: rt->admin_execute = pgr_admin_execute. */
void pgr_admin_install(pgr_runtime_t *rt);

#endif

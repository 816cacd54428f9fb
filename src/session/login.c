/* A client's login after authentication, and sessions waiting for a node's first health
 * result (see login.h). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "session/cancel.h"
#include "session/link.h"
#include "session/login.h"
#include "session/reply.h"


/* Of those, the ones every login to one database of one server gets alike (unless a role has
 * its own ALTER ROLE ... SET): noted per (node, database) at each login through a server. */
static const char *const db_params[] = {
    "server_version", "server_encoding", "DateStyle", "IntervalStyle", "TimeZone",
    "integer_datetimes", "standard_conforming_strings",
};

#define MAX_NODES PGR_CLUSTER_MAX_NODES

/* ---- a login through a server --------------------------------------------------------------- */

/* Map a libpq connection failure to the node's own SQLSTATE where its text tells. */
static const char *
connect_sqlstate(const char *msg)
{
    if (msg == NULL)
        return "08006";
    if (strstr(msg, "does not exist") && strstr(msg, "database"))
        return "3D000";
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied"))
        return "28P01";
    if (strstr(msg, "role") && strstr(msg, "does not exist"))
        return "28000";
    if (strstr(msg, "too many") || strstr(msg, "limit"))
        return "53300";
    return "08006";
}

/* Keep what this login's server connection reported at its own start for the database, so a
 * later login with no node reachable can tell the same. */
static void
note_login_params(pgr_client_t *cl)
{
    char key[64];

    for (size_t i = 0; i < PGR_ARRAY_LEN(db_params); i++) {
        const char *v = pgr_server_parameter(cl->srv, db_params[i]), *old;
        snprintf(key, sizeof(key), PGR_NOTE_PARAM "%s", db_params[i]);
        old = pgr_cluster_note_get(cl->rt->cluster, cl->node_id, cl->database, key);
        if (v && (old == NULL || strcmp(old, v) != 0))
            (void)pgr_cluster_note_set(cl->rt->cluster, cl->node_id, cl->database, key, v);
    }
}

/* ParameterStatus for every reported setting (the tracked ones as the server has them now that
 * the login preamble applied the client's), BackendKeyData, ReadyForQuery. */
static void
send_login_params(pgr_client_t *cl)
{
    const pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
    pgr_writer_t w;

    pgr_writer_init_grow(&w);
    for (size_t i = 0; i < PGR_N_REPORTED_PARAMS; i++) {
        const char *name = pgr_reported_params[i], *value = NULL;
        int k = pgr_params_index(name);
        if (k >= 0 && st && st->params.v[k])
            value = st->params.v[k];
        else
            value = pgr_server_parameter(cl->srv, name);
        if (k >= 0 && value && !cl->want.v[k] && pgr_params_set(&cl->want, k, value) != 0)
            w.err = PGR_ENOMEM;
        if (value)
            pgr_be_write_param(&w, name, value);
    }
    pgr_be_write_keydata(&w, cl->cancel_pid, cl->cancel_key);
    pgr_be_write_ready(&w, 'I');
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    note_login_params(cl);
}

/* The login is complete: the session is IDLE (transaction mode) or keeps its connection
 * (session mode), and whatever the client pipelined behind its password is a first
 * statement. */
static void
logged_in(pgr_client_t *cl)
{
    uv_timer_stop(&cl->timer);
    if (cl->srv == NULL || cl->rt->cfg->pool.mode != PGR_POOL_SESSION)
        pgr_link_detach(cl, false);
    else
        pgr_client_set_state(cl, PGR_CLIENT_LINKED);
    pgr_conn_flush(&cl->conn);
    pgr_client_input(cl);
}

int
pgr_login_node(pgr_client_t *cl, char *msg, size_t cap)
{
    pgr_route_req_t req = { .cls = PGR_CLASS_WRITE };

    /* Session mode keeps this connection: it must be the primary. In transaction mode any
     * healthy node can tell the server's settings, so a down primary does not stop logins. */
    pgr_router_route(cl->rt->router, &req, &cl->last_route);
    if (cl->last_route.kind != PGR_ROUTE_NODE && cl->rt->cfg->pool.mode == PGR_POOL_TRANSACTION) {
        req.cls = PGR_CLASS_READ;
        pgr_router_route(cl->rt->router, &req, &cl->last_route);
    }
    if (cl->last_route.kind != PGR_ROUTE_NODE) {
        snprintf(msg, cap, "%s", cl->last_route.reason);
        return PGR_EUNHEALTHY;
    }
    snprintf(cl->node_id_buf, sizeof(cl->node_id_buf), "%s", cl->last_route.node_id);
    cl->node_id = cl->node_id_buf;
    return 0;
}

void
pgr_client_login_done(pgr_client_t *cl, const char *sqlstate, const char *message)
{
    if (sqlstate) {
        pgr_client_send_error(cl, "FATAL", sqlstate, NULL, "%s", message);
        return;
    }
    send_login_params(cl);
    logged_in(cl);
}

/* ---- a login without a server ------------------------------------------------------------- */

/* What a login to the client's database reported last on any node, else what any node's
 * health connection reported; NULL when nothing is known. */
static const char *
known_param(pgr_client_t *cl, const pgr_node_info_t *nodes, size_t n, const char *name)
{
    char key[64];
    const char *v;

    snprintf(key, sizeof(key), PGR_NOTE_PARAM "%s", name);
    for (size_t i = 0; i < n; i++)
        if ((v = pgr_cluster_note_get(cl->rt->cluster, nodes[i].id, cl->database, key)))
            return v;
    for (size_t i = 0; i < n; i++)
        if ((v = pgr_cluster_note_get(cl->rt->cluster, nodes[i].id, "", key)))
            return v;
    return NULL;
}

/* ParameterStatus for what is known, BackendKeyData, ReadyForQuery. What the client set itself
 * (application_name, client_encoding) and session_authorization are certain; the database's
 * settings come from the notes; the rest (a role's is_superuser, a node's read-only state, a
 * setting never seen) waits for pgr_login_report_later. */
static int
send_known_params(pgr_client_t *cl)
{
    pgr_node_info_t *nodes = calloc(MAX_NODES, sizeof(*nodes));
    size_t n = nodes ? pgr_cluster_all_nodes(cl->rt->cluster, nodes, MAX_NODES) : 0;
    pgr_writer_t w;
    int rc;

    if (nodes == NULL)
        return PGR_ENOMEM;
    if (n > MAX_NODES)
        n = MAX_NODES;
    pgr_writer_init_grow(&w);
    cl->unreported = 0;
    for (size_t i = 0; i < PGR_N_REPORTED_PARAMS; i++) {
        const char *name = pgr_reported_params[i], *value = NULL;
        int k = pgr_params_index(name);
        bool db_wide = false;
        for (size_t j = 0; j < PGR_ARRAY_LEN(db_params) && !db_wide; j++)
            db_wide = strcmp(db_params[j], name) == 0;
        if (k >= 0 && cl->want.v[k])
            value = cl->want.v[k]; /* the client's own application_name, client_encoding */
        else if (strcmp(name, "session_authorization") == 0)
            value = cl->user;
        else if (db_wide || strcmp(name, "client_encoding") == 0)
            value = known_param(cl, nodes, n, name);
        if (value == NULL) {
            cl->unreported |= 1u << i;
            continue;
        }
        if (k >= 0 && !cl->want.v[k] && pgr_params_set(&cl->want, k, value) != 0)
            w.err = PGR_ENOMEM;
        pgr_be_write_param(&w, name, value);
    }
    pgr_be_write_keydata(&w, cl->cancel_pid, cl->cancel_key);
    pgr_be_write_ready(&w, 'I');
    rc = w.err;
    if (rc == 0)
        pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    free(nodes);
    return rc;
}

/* No node can take the login, but the client was authenticated here: it logs in, and each of
 * its statements gets the router's 08006 naming the nodes until one is back. */
static void
login_without_server(pgr_client_t *cl, const char *why)
{
    if (pgr_cancel_register(cl->rt, cl) != 0 || send_known_params(cl) != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return;
    }
    /* The nodes' own trouble is logged by their health checks, once: not again per client. */
    pgr_info("client", "client %llu (%s): user \"%s\" logged in to \"%s\" with no node "
             "reachable; its statements fail until one is back", (unsigned long long)cl->id,
             pgr_conn_peer(&cl->conn), cl->user, cl->database);
    pgr_debug("client", "client %llu: %s", (unsigned long long)cl->id, why);
    logged_in(cl);
}

/* ---- picking the node --------------------------------------------------------------------- */

/* A failed connection that says the node cannot be reached (refused, timed out, starting up,
 * removed), as opposed to the node refusing this login (a database or role it does not know,
 * a password, its client limit): the former may log in without a server. */
static bool
unreachable(int status, const char *msg)
{
    if (status == PGR_EREMOVED)
        return true;
    if (status != PGR_ECONNECT || strcmp(connect_sqlstate(msg), "08006") != 0)
        return false;
    return strstr(msg, "FATAL:  ") == NULL || strstr(msg, "the database system is") != NULL;
}

static void login_route(pgr_client_t *cl);

const char *
pgr_client_node_fatal(const char *errmsg, char *msg, size_t cap)
{
    char raw[512];
    snprintf(raw, sizeof(raw), "%s", errmsg ? errmsg : "connection failed");
    for (size_t n = strlen(raw); n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == ' '); n--)
        raw[n - 1] = '\0';
    const char *fatal = strstr(raw, "FATAL:  ");
    snprintf(msg, cap, "%s", fatal ? fatal + 8 : raw);
    return connect_sqlstate(raw);
}

static void
login_acquired(pgr_client_t *cl, int status, pgr_server_t *srv, const char *errmsg)
{
    if (status != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", errmsg ? errmsg : pgr_strerror(status));
        for (size_t n = strlen(msg); n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '); n--)
            msg[n - 1] = '\0';
        if (unreachable(status, msg)) {
            login_without_server(cl, msg);
            return;
        }
        const char *fatal = strstr(msg, "FATAL:  ");
        pgr_client_send_error(cl, "FATAL", connect_sqlstate(msg), NULL, "%s",
                              fatal ? fatal + 8 : msg);
        return;
    }
    if (pgr_cancel_register(cl->rt, cl) != 0) {
        pgr_cluster_release(srv, PGR_RELEASE_CLEAN);
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return;
    }
    pgr_link_attach(cl, srv, true);
}

static void
login_route(pgr_client_t *cl)
{
    char msg[512];

    if (pgr_login_node(cl, msg, sizeof(msg)) == 0) {
        pgr_link_acquire(cl, login_acquired);
        return;
    }
    if (cl->last_route.pending && pgr_login_await(cl))
        return; /* a node is still connecting: its first health result decides */
    login_without_server(cl, msg);
}

void
pgr_login_begin(pgr_client_t *cl)
{
    login_route(cl);
}

/* ---- waiting for a first health result ---------------------------------------------------- */

/* The wait ended (a node's health changed, or the deadline passed): dispatch again what was
 * waiting. pgr_login_await, called again on the way, keeps the deadline the wait began with. */
static void
resume(pgr_client_t *cl)
{
    cl->await_resume = cl->await_deadline;
    cl->await_deadline = 0;
    uv_timer_stop(&cl->wait_timer);
    if (cl->state == PGR_CLIENT_LOGIN && cl->srv == NULL && cl->acq == NULL) {
        login_route(cl);
    } else if (cl->state == PGR_CLIENT_IDLE && !cl->admin) {
        pgr_client_input(cl);
        if (cl->state != PGR_CLIENT_CLOSING)
            pgr_conn_flush(&cl->conn);
    }
    cl->await_resume = 0;
}

bool
pgr_login_cancel(pgr_client_t *cl)
{
    if (cl->await_deadline == 0 || cl->state != PGR_CLIENT_IDLE)
        return false;
    cl->await_deadline = 0;
    uv_timer_stop(&cl->wait_timer);
    cl->rt->stats.cancels_forwarded++;
    pgr_reply_error(cl, "57014", "canceling statement due to user request");
    if (cl->state == PGR_CLIENT_CLOSING)
        return true;
    pgr_client_input(cl); /* what the client sent after it */
    if (cl->state != PGR_CLIENT_CLOSING)
        pgr_conn_flush(&cl->conn);
    return true;
}

static void
wait_cb(uv_timer_t *t)
{
    resume(t->data);
}

bool
pgr_login_await(pgr_client_t *cl)
{
    uint64_t now = uv_now(cl->rt->loop);
    uint64_t deadline = cl->await_resume   ? cl->await_resume
                        : cl->await_deadline ? cl->await_deadline
                        : now + (uint64_t)cl->rt->cfg->pool.connect_timeout_ms;

    cl->await_resume = 0;
    if (now >= deadline) {
        cl->await_deadline = 0;
        return false;
    }
    if (cl->await_deadline != deadline) {
        cl->await_deadline = deadline;
        uv_timer_start(&cl->wait_timer, wait_cb, deadline - now, 0);
    }
    return true;
}

/* A node's health changed: every waiting session looks again, on the next loop turn (never
 * from inside the cluster's own callback). */
static void
event_cb(pgr_cluster_t *c, const pgr_event_t *ev, void *arg)
{
    pgr_runtime_t *rt = arg;
    pgr_list_t *pos;

    (void)c;
    if (ev->type != PGR_EVENT_NODE_HEALTH && ev->type != PGR_EVENT_NODE_ADDED &&
        ev->type != PGR_EVENT_NODE_REMOVED)
        return;
    pgr_list_foreach(pos, &rt->clients)
    {
        pgr_client_t *cl = pgr_container_of(pos, pgr_client_t, link);
        if (cl->await_deadline != 0 && cl->state != PGR_CLIENT_CLOSING)
            uv_timer_start(&cl->wait_timer, wait_cb, 0, 0);
    }
}

int
pgr_login_events_start(pgr_runtime_t *rt)
{
    return pgr_cluster_subscribe(rt->cluster, event_cb, rt);
}

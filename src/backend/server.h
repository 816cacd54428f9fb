/* One server connection: a libpq PGconn connected with PQconnectStartParams/PQconnectPoll under a
 * uv_poll_t, async queries (PQsendQuery* / PQconsumeInput / PQgetResult), the idle watch, and
 * raw byte I/O for the relay (plain, or TLS through PQsslStruct: server.c includes
 * <openssl/ssl.h> for SSL_read/SSL_write/SSL_pending on libpq's own SSL object).
 * server.c, pool.c and health.c are the only libpq users; server.c is the only one that calls
 * PQ* functions directly.
 *
 * Ownership: the owner (a pool or a health checker) creates a server with pgr_server_start()
 * and ends it with pgr_server_close(); the memory is freed after the close callbacks of its
 * handles have run, and then closed_cb fires. Between the two, exactly one "mode" drives its
 * socket: connecting, idle watch, an async query, or the borrower's pgr_server_watch().
 *
 * Cancel: libpq 15 keeps the cancel key to itself (PGcancel is opaque, PQcancel blocks), so
 * server.c turns on PQtrace into a memory stream while connecting, reads "BackendKeyData <pid>
 * <key>" from it, wipes and frees the trace at CONNECTION_OK; cancel.c then sends the
 * CancelRequest on its own non-blocking socket, bounded by a timer.
 *
 * Caveat: PQconnectStartParams resolves a host *name* synchronously (libpq's getaddrinfo); use
 * addresses in node configs where a DNS stall on the loop matters. */
#ifndef PGR_BACKEND_SERVER_H
#define PGR_BACKEND_SERVER_H

#include <stdio.h>
#include <libpq-fe.h>
#include <uv.h>

#include "core/base.h"
#include "pgrouter/cluster.h"
#include "core/list.h"

struct pgr_node;
struct pgr_pool;

/* Which code drives the socket now. Only server.c changes it. */
#define PGR_SERVER_MODE_MAP(X) \
    X(CONNECTING, "connecting") \
    X(IDLE, "idle")             \
    X(QUERY, "query")           \
    X(LENT, "lent")             \
    X(DEAD, "dead")

typedef enum pgr_server_mode {
#define PGR_SERVER_MODE_ENUM(name, text) PGR_SRV_##name,
    PGR_SERVER_MODE_MAP(PGR_SERVER_MODE_ENUM)
#undef PGR_SERVER_MODE_ENUM
} pgr_server_mode_t;

/* A result built from PGresults, owned by whoever holds it; pgr_qresult_clear() frees it.
 * pub's pointers all point into mem (one allocation). */
typedef struct pgr_qresult {
    pgr_result_t pub;
    void *mem;
} pgr_qresult_t;

typedef void (*pgr_server_connect_cb)(pgr_server_t *srv, int status, const char *errmsg,
                                      void *arg);
/* res is the server's; the callee may take it over by copying *res and setting res->mem = NULL. */
typedef void (*pgr_server_query_cb)(pgr_server_t *srv, pgr_qresult_t *res, void *arg);
/* The connection failed while idle (EOF, an error, a FATAL from the server). */
typedef void (*pgr_server_lost_cb)(pgr_server_t *srv, const char *errmsg, void *arg);
typedef void (*pgr_server_closed_cb)(pgr_server_t *srv, void *arg);
typedef void (*pgr_server_io_cb)(pgr_server_t *srv, int status, int events, void *arg);

struct pgr_server {
    pgr_list_t link;            /* in the owner's list for pool_state */
    struct pgr_pool *pool;      /* owning pool, or NULL (health connection, or detached) */
    struct pgr_node *node;      /* for I/O error reports and the node id; may be NULL */
    pgr_list_t *cancels;        /* where pgr_server_cancel() registers its requests */
    uv_loop_t *loop;
    PGconn *conn;
    pgr_server_mode_t mode;
    int pool_state;             /* the pool's state enum; only pool.c touches it */

    uv_poll_t *poll;            /* heap: replaced when PQsocket changes during connect */
    int poll_fd;
    int poll_events;            /* what srv->poll was last started with (UV_READABLE...) */
    uv_timer_t timer;           /* connect timeout */
    bool timer_closed;
    int pending_closes;         /* handles whose close callback has not run */
    bool closing;
    pgr_server_closed_cb closed_cb;
    void *closed_arg;

    /* connecting */
    pgr_server_connect_cb connect_cb;
    void *connect_arg;
    int64_t connect_timeout_ms;
    FILE *trace;                /* PQtrace during connect, to read BackendKeyData */
    char *trace_buf;
    size_t trace_len;

    /* query */
    pgr_server_query_cb query_cb;
    void *query_arg;
    PGresult *keep;             /* the result reported: the first error, else the last one */
    uint64_t query_start_ns;
    bool flushing;

    /* idle */
    pgr_server_lost_cb lost_cb;
    void *lost_arg;

    /* lent */
    pgr_server_io_cb io_cb;
    bool io_paused;             /* watch(false, false): io_cb gets errors only (lazy stop) */
    void *io_arg;
    int dead_status;            /* why the connection was closed under its borrower */
    int abort_status;           /* pgr_server_abort: the status it ends with when its grace
                                   is over (0: none running) */

    void *data;                 /* the borrower's, see pgr_server_set_data() */
    void (*data_free)(void *data);

    uint32_t be_pid, be_key;
    bool have_key;
    char cancel_host[256];      /* numeric address or Unix socket directory, for cancels */
    int cancel_port;
    uint64_t idle_since_ms;
};

/* Start connecting with libpq keywords/values (NULL-terminated); cb runs once with 0 when the
 * connection is CONNECTION_OK, or with PGR_ECONNECT / PGR_ETIMEDOUT (after connect_timeout_ms,
 * <= 0: none) and libpq's message. On a synchronous failure returns PGR_ECONNECT with the message
 * in err and no server. */
int pgr_server_start(uv_loop_t *loop, const char *const *keywords, const char *const *values,
                     int64_t connect_timeout_ms, pgr_server_connect_cb cb, void *arg,
                     pgr_server_t **out, char *err, size_t errlen) PGR_MUSTCHECK;

/* Close: PQfinish, no further callbacks of any mode; closed_cb (may be NULL) runs when the memory
 * is about to be freed. Safe in any mode, once. */
void pgr_server_close(pgr_server_t *srv, pgr_server_closed_cb cb, void *arg);

/* Start an async query on an idle connection; cb runs once with the result (or an error). */
int pgr_server_query(pgr_server_t *srv, const char *sql, int n_params,
                     const char *const *params, pgr_server_query_cb cb, void *arg) PGR_MUSTCHECK;

/* Put the connection in idle mode: watch it for EOF/errors; cb runs once if it is lost. */
void pgr_server_idle(pgr_server_t *srv, pgr_server_lost_cb cb, void *arg);
/* Hand the connection to a borrower (mode LENT, no watch until pgr_server_watch). */
void pgr_server_lend(pgr_server_t *srv);
/* Close the PGconn and the handles under a borrower and tell it through its io callback with
 * status; the memory stays until the borrower releases it (pgr_server_close then frees it). */
void pgr_server_kill(pgr_server_t *srv, int status);
/* The node was marked unhealthy: end what uses the connection. An async query ends now through
 * its callback with status and msg (SQLSTATE 08006). A lent one is killed under its borrower
 * (pgr_server_kill, status; its backend sent a cancel) PGR_SERVER_ABORT_GRACE_MS later, unless
 * it was given back or ended meanwhile: the node's last words (a crash's WARNING, a shutdown's
 * FATAL), which often trail the health check, reach the client first; what its socket holds
 * already is given to the borrower now (io_cb READABLE). True when a callback ran — srv may
 * be gone, or back in its pool; false when nothing happened now (idle, connecting, dead: the
 * owner closes those; or a lent one whose grace runs). */
bool pgr_server_abort(pgr_server_t *srv, int status, const char *msg);
/* How long a lent connection lives on once its node is marked unhealthy (see above). */
#define PGR_SERVER_ABORT_GRACE_MS 200
/* Every handle of srv has finished closing (a killed server waiting for its release). */
static inline bool
pgr_server_handles_closed(const pgr_server_t *srv)
{
    return srv->pending_closes == 0 && srv->timer_closed && !srv->poll;
}
/* CONNECTION_OK and not killed. */
bool pgr_server_usable(const pgr_server_t *srv);

/* Free the borrower's data (pgr_server_set_data), if any. */
void pgr_server_drop_data(pgr_server_t *srv);

/* Convert/clear results. */
void pgr_qresult_clear(pgr_qresult_t *q);
/* An error result of ours: status, SQLSTATE and a formatted message. */
void pgr_qresult_error(pgr_qresult_t *q, int status, const char *sqlstate, const char *fmt, ...)
    PGR_PRINTF(4, 5);

/* Parse a conninfo string into the fields of node (strings malloc'd); only the keys named in
 * pgrouter/cluster.h are accepted. Returns PGR_EINVAL with a message on a bad one. */
int pgr_server_parse_conninfo(const char *conninfo, pgr_node_config_t *node, char *err,
                              size_t errlen);

/* The text of a mode, for logs. */
const char *pgr_server_mode_name(pgr_server_mode_t m);

#endif

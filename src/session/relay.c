/* The byte relay between a client and one pooled server connection.
 *
 * Client → server: complete frames at the front of the client's input buffer are accounted for
 * (Query / Sync / FunctionCall expect a ReadyForQuery; other extended-protocol messages leave the
 * server mid-exchange) and written to the server straight from that buffer:
 *
 *   conn input: [ accounted, not yet written (fwd) | complete frames not yet seen | partial ]
 *
 * While a write is incomplete the client is not read, so the buffer does not move under a TLS
 * write that must be retried with the same bytes.
 *
 * Server → client: bytes are read straight into the client's output buffer and scanned in place
 * for message boundaries; nothing is copied or rewritten. */
#include <string.h>

#include "core/log.h"
#include "protocol/reader.h"
#include "session/relay.h"

#define READ_CHUNK      (64 * 1024)
#define READ_BUDGET     (256 * 1024) /* per wakeup, so one server cannot starve the loop */
#define CLIENT_OUT_HIGH (512 * 1024) /* stop reading the server above this much unsent output */
#define CLIENT_IN_HIGH  (1024 * 1024) /* stop reading a client that is waiting for a server */

static void server_io_cb(pgr_server_t *srv, int status, int events, void *arg);

/* ---- choosing a node and acquiring -------------------------------------------------------- */

/* Until the router exists every statement goes to the node that reports itself primary, else to
 * the first healthy node, else to the first node (whose pool then names the failure). */
static int
choose_node(pgr_client_t *cl)
{
    pgr_health_t h[64];
    size_t n = pgr_cluster_all_health(cl->rt->cluster, h, PGR_ARRAY_LEN(h));
    const char *pick = NULL;

    if (n > PGR_ARRAY_LEN(h))
        n = PGR_ARRAY_LEN(h);
    for (size_t i = 0; i < n && !pick; i++)
        if (h[i].state == PGR_NODE_HEALTHY && h[i].role == PGR_ROLE_PRIMARY)
            pick = h[i].node_id;
    for (size_t i = 0; i < n && !pick; i++)
        if (h[i].state == PGR_NODE_HEALTHY)
            pick = h[i].node_id;
    if (!pick && n > 0)
        pick = h[0].node_id;
    if (!pick)
        return PGR_ENOENT;
    snprintf(cl->node_id_buf, sizeof(cl->node_id_buf), "%s", pick);
    cl->node_id = cl->node_id_buf;
    return 0;
}

static void
acquire_cb(pgr_acquire_t *req, int status, pgr_server_t *srv, const char *errmsg, void *arg)
{
    pgr_client_t *cl = arg;
    pgr_relay_acquired_cb cb = cl->acquired;

    (void)req;
    cl->acq = NULL;
    cl->acquired = NULL;
    cb(cl, status, srv, errmsg);
}

void
pgr_relay_acquire(pgr_client_t *cl, pgr_relay_acquired_cb cb)
{
    const pgr_user_config_t *u = pgr_config_find_user(cl->rt->cfg, cl->user);
    char msg[256];
    int rc;

    pgr_assert(cl->acq == NULL && cl->srv == NULL);
    rc = choose_node(cl);
    if (rc == 0) {
        cl->acquired = cb;
        rc = pgr_cluster_acquire(cl->rt->cluster, cl->node_id, cl->user, cl->database,
                                 u ? u->password : NULL, acquire_cb, cl, &cl->acq);
        if (rc == 0)
            return;
        cl->acquired = NULL;
    }
    snprintf(msg, sizeof(msg), "no server connection for node \"%s\": %s",
             cl->node_id ? cl->node_id : "(none)", pgr_strerror(rc));
    cb(cl, rc, NULL, msg);
}

/* ---- attach / detach ----------------------------------------------------------------------- */

static bool
at_boundary(const pgr_client_t *cl)
{
    return cl->scan.hdr_len == 0 && cl->scan.remaining == 0;
}

/* The server connection is at a transaction boundary with nothing in flight either way. */
static bool
server_clean(const pgr_client_t *cl)
{
    return at_boundary(cl) && cl->pending_syncs == 0 && !cl->unsynced && cl->txn == 'I' &&
           cl->fwd == 0 && !cl->srv_write_blocked;
}

static void
watch(pgr_client_t *cl)
{
    int rc = pgr_server_watch(cl->srv, !cl->srv_read_paused, cl->srv_write_blocked, server_io_cb,
                              cl);
    if (rc != 0)
        pgr_warn("relay", "client %llu: cannot watch server of node %s: %s",
                 (unsigned long long)cl->id, cl->node_id, pgr_strerror(rc));
}

void
pgr_relay_attach(pgr_client_t *cl, pgr_server_t *srv)
{
    cl->srv = srv;
    cl->pending_syncs = 0;
    cl->unsynced = false;
    cl->srv_read_paused = false;
    cl->srv_write_blocked = false;
    cl->txn = 'I';
    memset(&cl->scan, 0, sizeof(cl->scan.hdr_len) + sizeof(cl->scan.hdr));
    cl->scan.hdr_len = 0;
    cl->scan.remaining = 0;
    cl->state = PGR_CLIENT_LINKED;
    watch(cl);
}

void
pgr_relay_detach(pgr_client_t *cl, bool closing)
{
    if (cl->acq) {
        pgr_cluster_acquire_cancel(cl->acq);
        cl->acq = NULL;
        cl->acquired = NULL;
    }
    if (cl->srv) {
        pgr_release_t how = server_clean(cl) ? PGR_RELEASE_CLEAN : PGR_RELEASE_CLOSE;
        if (how == PGR_RELEASE_CLEAN && !closing)
            cl->rt->stats.transactions++;
        pgr_cluster_release(cl->srv, how);
        cl->srv = NULL;
    }
    if (cl->fwd) {
        pgr_iobuf_consume(&cl->conn.in, cl->fwd);
        cl->fwd = 0;
    }
    cl->srv_write_blocked = false;
    cl->srv_read_paused = false;
    if (!closing && cl->state != PGR_CLIENT_CLOSING)
        cl->state = PGR_CLIENT_IDLE;
}

/* The server connection failed under the session. At a message boundary outside a transaction
 * the client gets an ERROR per outstanding ReadyForQuery and may go on; otherwise the stream it
 * sees cannot be repaired and the session ends. */
static void
server_failed(pgr_client_t *cl, int err)
{
    char node[PGR_NODE_ID_MAX];
    bool recoverable = at_boundary(cl) && cl->txn == 'I' && !cl->pinned &&
                       cl->rt->cfg->pool.mode == PGR_POOL_TRANSACTION;
    uint32_t owed = cl->pending_syncs;

    snprintf(node, sizeof(node), "%s", cl->node_id ? cl->node_id : "?");
    pgr_warn("relay", "client %llu: server connection to node %s failed: %s",
             (unsigned long long)cl->id, node, pgr_strerror(err));
    cl->pending_syncs = 0;
    cl->unsynced = true; /* forces a close on release */
    pgr_relay_detach(cl, false);
    if (!recoverable) {
        pgr_client_send_error(cl, "FATAL", "08006", NULL,
                              "server connection to node \"%s\" was lost: %s", node,
                              pgr_strerror(err));
        return;
    }
    cl->unsynced = false;
    cl->txn = 'I';
    if (owed == 0)
        return;
    pgr_client_send_error(cl, "ERROR", "08006", NULL,
                          "server connection to node \"%s\" was lost: %s", node,
                          pgr_strerror(err));
    for (uint32_t i = 0; i < owed; i++)
        pgr_client_send_ready(cl, 'I');
    pgr_conn_flush(&cl->conn);
}

/* ---- server → client ----------------------------------------------------------------------- */

static void
message_done(pgr_client_t *cl)
{
    pgr_scan_t *s = &cl->scan;

    if (s->type == 'Z' && s->collect && s->body_len == 1) {
        cl->txn = s->body[0];
        if (cl->pending_syncs > 0)
            cl->pending_syncs--;
    }
}

/* Walk n new bytes of server output, tracking message boundaries. */
static void
scan(pgr_client_t *cl, const uint8_t *p, size_t n)
{
    pgr_scan_t *s = &cl->scan;

    while (n > 0) {
        if (s->hdr_len < 5) {
            size_t take = 5 - s->hdr_len;
            if (take > n)
                take = n;
            memcpy(s->hdr + s->hdr_len, p, take);
            s->hdr_len += (uint8_t)take;
            p += take;
            n -= take;
            if (s->hdr_len < 5)
                return;
            uint32_t len = pgr_be32(s->hdr + 1);
            s->type = s->hdr[0];
            /* The server is trusted to frame correctly; a length below 4 cannot be walked. */
            s->remaining = len >= 4 ? len - 4 : 0;
            s->body_len = 0;
            s->collect = (s->type == 'Z' || s->type == 'S') && s->remaining <= sizeof(s->body);
            if (s->remaining == 0) {
                message_done(cl);
                s->hdr_len = 0;
            }
            continue;
        }
        size_t take = s->remaining < n ? s->remaining : n;
        if (s->collect) {
            memcpy(s->body + s->body_len, p, take);
            s->body_len += (uint16_t)take;
        }
        p += take;
        n -= take;
        s->remaining -= (uint32_t)take;
        if (s->remaining == 0) {
            message_done(cl);
            s->hdr_len = 0;
        }
    }
}

/* After server output was handled: give the connection back at a transaction boundary. */
static void
maybe_release(pgr_client_t *cl)
{
    if (cl->srv == NULL || cl->pinned || cl->rt->cfg->pool.mode != PGR_POOL_TRANSACTION)
        return;
    if (!server_clean(cl) || pgr_server_pending(cl->srv) > 0)
        return;
    pgr_relay_detach(cl, false);
    if (cl->rt->shutting_down) {
        pgr_client_send_error(cl, "FATAL", "57P01", NULL,
                              "terminating connection due to administrator command");
        return;
    }
    /* The client may have pipelined its next transaction already. */
    if (pgr_iobuf_len(&cl->conn.in) > 0)
        pgr_relay_client_input(cl);
}

static void
server_readable(pgr_client_t *cl)
{
    size_t budget = READ_BUDGET;

    while (budget > 0 && cl->srv) {
        if (pgr_conn_out_pending(&cl->conn) > CLIENT_OUT_HIGH) {
            cl->srv_read_paused = true;
            watch(cl);
            break;
        }
        uint8_t *p = pgr_conn_out_reserve(&cl->conn, READ_CHUNK);
        if (p == NULL) {
            pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
            return;
        }
        ssize_t n = pgr_server_read(cl->srv, p, READ_CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            pgr_conn_flush(&cl->conn);
            server_failed(cl, (int)n);
            return;
        }
        scan(cl, p, (size_t)n);
        pgr_conn_out_commit(&cl->conn, (size_t)n);
        cl->rt->stats.bytes_out += (uint64_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
    }
    pgr_conn_flush(&cl->conn);
    maybe_release(cl);
}

void
pgr_relay_client_drained(pgr_client_t *cl)
{
    if (cl->srv && cl->srv_read_paused) {
        cl->srv_read_paused = false;
        watch(cl);
        server_readable(cl);
    }
}

/* ---- client → server ----------------------------------------------------------------------- */

static void
write_forward(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;

    while (cl->fwd > 0 && cl->srv) {
        ssize_t n = pgr_server_write(cl->srv, pgr_iobuf_data(in), cl->fwd);
        if (n < 0) {
            server_failed(cl, (int)n);
            return;
        }
        if (n == 0) {
            if (!cl->srv_write_blocked) {
                cl->srv_write_blocked = true;
                pgr_conn_read_stop(&cl->conn);
                watch(cl);
            }
            return;
        }
        pgr_iobuf_consume(in, (size_t)n);
        cl->fwd -= (size_t)n;
        cl->rt->stats.bytes_in += (uint64_t)n;
    }
    if (cl->srv_write_blocked) {
        cl->srv_write_blocked = false;
        pgr_conn_read_start(&cl->conn);
        watch(cl);
    }
}

static void
relay_acquired(pgr_client_t *cl, int status, pgr_server_t *srv, const char *errmsg)
{
    if (status != 0) {
        const char *sqlstate = status == PGR_ETIMEDOUT ? "53300"
                               : status == PGR_ESHUTDOWN ? "57P01"
                                                         : "08006";
        pgr_client_send_error(cl, "ERROR", sqlstate, NULL, "%s",
                              errmsg ? errmsg : pgr_strerror(status));
        /* The statement that asked is answered; drop it and what belongs to it, up to and
         * including the next Query or Sync, as a server would after an error. */
        pgr_iobuf_t *in = &cl->conn.in;
        pgr_frame_t f;
        while (pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL,
                              &f) == PGR_FRAME_OK) {
            pgr_iobuf_consume(in, f.len);
            if (f.type == 'Q' || f.type == 'S' || f.type == 'F') {
                pgr_client_send_ready(cl, 'I');
                break;
            }
        }
        cl->state = PGR_CLIENT_IDLE;
        pgr_conn_read_start(&cl->conn);
        pgr_conn_flush(&cl->conn);
        if (pgr_iobuf_len(in) > 0)
            pgr_relay_client_input(cl);
        return;
    }
    pgr_relay_attach(cl, srv);
    pgr_conn_read_start(&cl->conn);
    pgr_relay_client_input(cl);
}

void
pgr_relay_client_input(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;

    for (;;) {
        if (cl->state == PGR_CLIENT_WAITING || cl->state == PGR_CLIENT_CLOSING ||
            cl->state == PGR_CLIENT_LOGIN)
            return;
        if (cl->srv_write_blocked)
            return;
        int rc = pgr_frame_next(pgr_iobuf_data(in) + cl->fwd, pgr_iobuf_len(in) - cl->fwd,
                                PGR_PHASE_FRONTEND, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE)
            break;
        if (rc == PGR_FRAME_BAD) {
            cl->rt->stats.protocol_errors++;
            pgr_client_send_error(cl, "FATAL", f.sqlstate ? f.sqlstate : "08P01", NULL, "%s",
                                  f.reason ? f.reason : "invalid message");
            return;
        }
        if (f.type == 'X') {
            if (cl->fwd > 0)
                break; /* write what comes before it first */
            pgr_iobuf_consume(in, f.len);
            pgr_client_close(cl, "client terminated");
            return;
        }
        if (cl->srv == NULL) {
            if (cl->rt->shutting_down) {
                pgr_client_send_error(cl, "FATAL", "57P01", NULL,
                                      "terminating connection due to administrator command");
                return;
            }
            cl->state = PGR_CLIENT_WAITING;
            if (pgr_iobuf_len(in) > CLIENT_IN_HIGH)
                pgr_conn_read_stop(&cl->conn);
            pgr_relay_acquire(cl, relay_acquired);
            return;
        }
        switch (f.type) {
        case 'Q':
        case 'S':
        case 'F':
            cl->pending_syncs++;
            cl->unsynced = false;
            cl->rt->stats.queries++;
            break;
        case 'P':
        case 'B':
        case 'D':
        case 'E':
        case 'C':
            cl->unsynced = true;
            break;
        default: /* Flush, CopyData, CopyDone, CopyFail */
            break;
        }
        cl->fwd += f.len;
    }
    write_forward(cl);
}

/* ---- server events ------------------------------------------------------------------------- */

static void
server_io_cb(pgr_server_t *srv, int status, int events, void *arg)
{
    pgr_client_t *cl = arg;

    (void)srv;
    if (status < 0) {
        server_failed(cl, status);
        return;
    }
    if (events & UV_WRITABLE) {
        write_forward(cl);
        if (cl->srv && !cl->srv_write_blocked)
            pgr_relay_client_input(cl);
    }
    if (cl->srv && (events & UV_READABLE))
        server_readable(cl);
}

bool
pgr_relay_busy(const pgr_client_t *cl)
{
    if (cl->state == PGR_CLIENT_WAITING)
        return false;
    return cl->srv != NULL && !server_clean(cl);
}

void
pgr_relay_cancel(pgr_client_t *cl)
{
    if (cl->srv == NULL || (cl->pending_syncs == 0 && !cl->unsynced)) {
        cl->rt->stats.cancels_ignored++;
        return;
    }
    cl->rt->stats.cancels_forwarded++;
    if (pgr_server_cancel(cl->srv, 5000, NULL, NULL) != 0)
        pgr_warn("relay", "client %llu: cancel to node %s failed", (unsigned long long)cl->id,
                 cl->node_id);
}

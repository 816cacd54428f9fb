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
 * Messages that must change on the way (named statements get pgrouter's names in transaction
 * mode) and the preamble sent when a client lands on a connection (session/state.h) go through
 * to_srv instead, which is written before fwd; while to_srv holds bytes, later frames are copied
 * behind them so the order holds.
 *
 * Server → client: bytes are read straight into the client's output buffer and scanned in place
 * for message boundaries; replies to our preamble are cut out of it there (the one case where
 * bytes move), everything else goes through untouched. */
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "route/classify.h"
#include "session/dispatch.h"
#include "session/login.h"
#include "session/multi.h"
#include "session/relay.h"

#define READ_CHUNK      (64 * 1024)
#define READ_BUDGET     (256 * 1024) /* per wakeup, so one server cannot starve the loop */
#define CLIENT_IN_HIGH  (1024 * 1024) /* stop reading a client that is waiting for a server */

static void server_io_cb(pgr_server_t *srv, int status, int events, void *arg);

/* ---- acquiring ------------------------------------------------------------------------- */

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

    pgr_assert(cl->acq == NULL && cl->srv == NULL && cl->node_id != NULL);
    rc = 0;
    {
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
           cl->fwd == 0 && pgr_iobuf_len(&cl->to_srv) == 0 && cl->swallow == 0 &&
           !cl->srv_write_blocked;
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

/* The record of what srv has now, made from its login parameters the first time. */
pgr_srv_state_t *
pgr_relay_server_state(pgr_server_t *srv)
{
    pgr_srv_state_t *st = pgr_server_get_data(srv);

    if (st)
        return st;
    if ((st = pgr_srv_state_new()) == NULL)
        return NULL;
    for (int i = 0; i < PGR_N_PARAMS; i++)
        if (pgr_params_set(&st->params, i, pgr_server_parameter(srv, pgr_params_name(i))) != 0) {
            pgr_srv_state_free(st);
            return NULL;
        }
    pgr_server_set_data(srv, st, pgr_srv_state_free);
    return st;
}

static bool
streq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int
pgr_relay_own_unit(pgr_client_t *cl, uint64_t key)
{
    if (cl->n_units == cl->cap_units) {
        size_t cap = cl->cap_units ? cl->cap_units * 2 : 8;
        uint64_t *u = realloc(cl->units, cap * sizeof(*u));
        if (u == NULL)
            return PGR_ENOMEM;
        cl->units = u;
        cl->cap_units = cap;
    }
    cl->units[cl->n_units++] = key;
    cl->swallow++;
    cl->seg_sent++;
    return 0;
}

/* ---- Parse / Close replies ------------------------------------------------------------------ */

static int
expect_push(pgr_client_t *cl, uint8_t type, uint64_t key, bool ours)
{
    if (cl->expect_head + cl->expect_len == cl->expect_cap) {
        if (cl->expect_head > 0) {
            memmove(cl->expect, cl->expect + cl->expect_head,
                    cl->expect_len * sizeof(*cl->expect));
            cl->expect_head = 0;
        } else {
            size_t cap = cl->expect_cap ? cl->expect_cap * 2 : 16;
            pgr_expect_t *e = realloc(cl->expect, cap * sizeof(*e));
            if (e == NULL)
                return PGR_ENOMEM;
            cl->expect = e;
            cl->expect_cap = cap;
        }
    }
    cl->expect[cl->expect_head + cl->expect_len++] =
        (pgr_expect_t){.key = key, .seg = cl->seg_sent, .type = type, .ours = ours};
    return 0;
}

/* The oldest reply still to come, after dropping those of segments an error ended. */
static pgr_expect_t *
expect_front(pgr_client_t *cl)
{
    while (cl->expect_len > 0 && cl->expect[cl->expect_head].seg < cl->seg_done) {
        cl->expect_head++;
        cl->expect_len--;
    }
    if (cl->expect_len == 0) {
        cl->expect_head = 0;
        return NULL;
    }
    return &cl->expect[cl->expect_head];
}

static void
expect_pop(pgr_client_t *cl)
{
    if (expect_front(cl) != NULL) {
        cl->expect_head++;
        cl->expect_len--;
    }
}

/* An ErrorResponse in the current segment: the server skips to the Sync, so no Parse of the
 * segment still waiting for its reply made a statement. */
static void
expect_error(pgr_client_t *cl)
{
    pgr_srv_state_t *st = cl->srv ? pgr_server_get_data(cl->srv) : NULL;
    pgr_expect_t *e;

    while ((e = expect_front(cl)) != NULL && e->seg == cl->seg_done) {
        if (e->key && st)
            pgr_srv_state_forget(st, e->key);
        expect_pop(cl);
    }
}

/* The ReadyForQuery of our oldest unit arrived: a statement it failed to prepare is not there. */
static void
own_unit_done(pgr_client_t *cl)
{
    uint64_t key = cl->units_done < cl->n_units ? cl->units[cl->units_done++] : 0;
    pgr_srv_state_t *st = cl->srv ? pgr_server_get_data(cl->srv) : NULL;

    if (cl->unit_failed && key && st)
        pgr_srv_state_forget(st, key);
    cl->unit_failed = false;
    if (cl->units_done == cl->n_units)
        cl->units_done = cl->n_units = 0;
    if (cl->swallow > 0)
        cl->swallow--;
}

/* Queue in to_srv what makes srv fit the client: SETs for settings that differ (RESET ALL first
 * when its startup settings differ from the connection's) and, in transaction mode, Parse for
 * every statement of the client's that srv lacks — each Parse its own unit, so one that fails
 * (an object missing on this node) does not take the others with it. Each unit ends in a
 * ReadyForQuery that the scanner swallows. Returns PGR_ENOMEM on failure. */
bool
pgr_relay_put_settings(const pgr_client_t *cl, pgr_srv_state_t *st, pgr_writer_t *w)
{
    bool reset = !streq(st->extras, cl->extras);
    size_t start = w->len, mark;

    pgr_writer_begin(w, 'Q');
    mark = w->len;
    if (reset) {
        pgr_writer_put_bytes(w, "RESET ALL;", 10);
        if (cl->extras)
            pgr_writer_put_bytes(w, cl->extras, strlen(cl->extras));
        free(st->extras);
        st->extras = cl->extras ? strdup(cl->extras) : NULL;
        if (cl->extras && !st->extras)
            w->err = PGR_ENOMEM;
    }
    for (int i = 0; i < PGR_N_PARAMS; i++) {
        const char *want = cl->want.v[i];
        if (want && (reset || !streq(want, st->params.v[i])))
            pgr_state_put_set(w, pgr_params_name(i), want);
    }
    if (w->len == mark) {
        w->len = start; /* nothing to set: no Query (the open message is dropped) */
        w->start = SIZE_MAX;
        return false;
    }
    pgr_writer_put_u8(w, 0);
    pgr_writer_finish(w);
    return true;
}

/* The settings part of what makes srv fit the client. Its prepared statements are prepared on
 * demand, right before the first Bind or Describe that needs one (prepare_on_demand). */
static int
build_preamble(pgr_client_t *cl, pgr_srv_state_t *st)
{
    pgr_writer_t w;

    pgr_writer_init_grow(&w);
    if (pgr_relay_put_settings(cl, st, &w) && pgr_relay_own_unit(cl, 0) != 0)
        w.err = PGR_ENOMEM;
    int rc = w.err;
    if (rc == 0 && w.len > 0)
        rc = pgr_iobuf_append(&cl->to_srv, w.buf, w.len);
    pgr_writer_free(&w);
    return rc;
}

static void write_forward(pgr_client_t *cl);

void
pgr_relay_attach(pgr_client_t *cl, pgr_server_t *srv, bool login)
{
    pgr_srv_state_t *st;

    cl->srv = srv;
    cl->pending_syncs = 0;
    cl->unsynced = false;
    cl->srv_read_paused = false;
    cl->srv_write_blocked = false;
    cl->txn = 'I';
    cl->swallow = 0;
    cl->n_units = cl->units_done = 0;
    cl->unit_failed = false;
    cl->expect_head = cl->expect_len = 0;
    cl->seg_sent = cl->seg_done = 0;
    cl->login_preamble = login;
    cl->preamble_sqlstate[0] = '\0';
    memset(&cl->scan, 0, offsetof(pgr_scan_t, body));
    if (login)
        cl->state = PGR_CLIENT_LOGIN;
    else
        cl->state = PGR_CLIENT_LINKED;
    pgr_router_link(cl->rt->router, cl->node_id);
    if ((st = pgr_relay_server_state(srv)) == NULL ||
        (!login && pgr_login_report_later(cl, srv, st) != 0) || build_preamble(cl, st) != 0 ||
        (!login && pgr_dispatch_release_held(cl) != 0)) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return;
    }
    watch(cl);
    if (cl->swallow > 0) {
        write_forward(cl);
        return;
    }
    if (login)
        pgr_client_login_done(cl, NULL, NULL);
}

void
pgr_relay_detach(pgr_client_t *cl, bool closing)
{
    if (cl->bcast && closing)
        pgr_multi_close(cl);
    if (cl->acq) {
        pgr_cluster_acquire_cancel(cl->acq);
        cl->acq = NULL;
        cl->acquired = NULL;
    }
    if (cl->srv) {
        /* A pinned connection carries state the next client must not see: closed. */
        pgr_release_t how = server_clean(cl) && !cl->pinned ? PGR_RELEASE_CLEAN
                                                            : PGR_RELEASE_CLOSE;
        /* The client left while its statement runs: stop it, since a backend busy without
         * writing does not notice that its connection was closed. */
        if (closing && how == PGR_RELEASE_CLOSE && cl->pending_syncs > 0)
            (void)pgr_server_cancel(cl->srv, 2000, NULL, NULL);
        if (how == PGR_RELEASE_CLEAN && !closing)
            cl->rt->stats.transactions++;
        pgr_router_unlink(cl->rt->router, cl->node_id);
        pgr_cluster_release(cl->srv, how);
        cl->srv = NULL;
    }
    if (cl->fwd) {
        pgr_iobuf_consume(&cl->conn.in, cl->fwd);
        cl->fwd = 0;
    }
    pgr_iobuf_consume(&cl->to_srv, pgr_iobuf_len(&cl->to_srv));
    pgr_iobuf_trim(&cl->to_srv);
    cl->swallow = 0;
    cl->n_units = cl->units_done = 0;
    cl->unit_failed = false;
    cl->expect_head = cl->expect_len = 0;
    cl->seg_sent = cl->seg_done = 0;
    cl->ryw_capture = false;
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
    if (cl->state == PGR_CLIENT_LOGIN)
        recoverable = false;
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

/* A ParameterStatus: the server has a new value, and so does the client (it either saw the
 * message or asked for the value in our preamble). */
static void
note_parameter(pgr_client_t *cl, const pgr_scan_t *s)
{
    pgr_be_param_t ps;
    int k;

    if (pgr_be_param_decode((const uint8_t *)s->body, s->body_len, &ps) != 0 ||
        (k = pgr_params_index(ps.name)) < 0)
        return;
    pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
    if ((st && pgr_params_set(&st->params, k, ps.value) != 0) ||
        pgr_params_set(&cl->want, k, ps.value) != 0)
        pgr_warn("relay", "client %llu: out of memory tracking %s", (unsigned long long)cl->id,
                 ps.name);
}

static void
note_preamble_error(pgr_client_t *cl, const pgr_scan_t *s)
{
    pgr_be_notice_t e;

    if (cl->preamble_sqlstate[0])
        return;
    if (!s->collect || pgr_be_notice_decode((const uint8_t *)s->body, s->body_len, &e) != 0) {
        snprintf(cl->preamble_sqlstate, sizeof(cl->preamble_sqlstate), "08P01");
        snprintf(cl->preamble_error, sizeof(cl->preamble_error), "error applying session state");
        return;
    }
    snprintf(cl->preamble_sqlstate, sizeof(cl->preamble_sqlstate), "%s",
             e.sqlstate ? e.sqlstate : "XX000");
    snprintf(cl->preamble_error, sizeof(cl->preamble_error), "%s", e.message ? e.message : "");
    pgr_warn("relay", "client %llu: applying its session state on node %s failed: %s %s",
             (unsigned long long)cl->id, cl->node_id, cl->preamble_sqlstate, cl->preamble_error);
}

/* The reply to our pg_current_wal_insert_lsn() after a write: one text column. The insert
 * position, not pg_current_wal_lsn(): with synchronous_commit off the commit record may not be
 * written out yet, and the write position would be behind it. */
static void
note_commit_lsn(pgr_client_t *cl, const pgr_scan_t *s)
{
    pgr_be_datarow_t row;
    pgr_value_iter_t it;
    pgr_value_t v;
    char text[64];

    if (pgr_be_datarow_decode((const uint8_t *)s->body, s->body_len, &row) != 0)
        return;
    pgr_be_datarow_iter(&row, &it);
    if (!pgr_value_next(&it, &v) || v.len <= 0 || (size_t)v.len >= sizeof(text))
        return;
    memcpy(text, v.data, (size_t)v.len);
    text[v.len] = '\0';
    uint64_t lsn = pgr_lsn_parse(text);
    if (lsn > cl->ryw_lsn)
        cl->ryw_lsn = lsn;
}

static void
message_done(pgr_client_t *cl)
{
    pgr_scan_t *s = &cl->scan;

    switch (s->type) {
    case '1':
    case '3':
        if (!s->drop || s->ours)
            expect_pop(cl);
        break;
    case 'Z':
        cl->seg_done++;
        if (s->drop) {
            own_unit_done(cl);
        } else if (s->collect && s->body_len == 1) {
            cl->txn = s->body[0];
            if (cl->pending_syncs > 0)
                cl->pending_syncs--;
        }
        break;
    case 'S':
        if (s->collect)
            note_parameter(cl, s);
        break;
    case 'E':
        if (s->drop) {
            cl->unit_failed = true;
            note_preamble_error(cl, s);
        } else if (cl->expect_len > 0) {
            expect_error(cl);
        }
        break;
    case 'D':
        if (s->drop && cl->ryw_capture && s->collect)
            note_commit_lsn(cl, s);
        break;
    default:
        break;
    }
}

/* Walk n new bytes of server output in place, tracking message boundaries and cutting out the
 * replies to our preamble. Returns how many bytes remain for the client. */
static size_t
scan(pgr_client_t *cl, uint8_t *p, size_t n)
{
    pgr_scan_t *s = &cl->scan;
    size_t r = 0, w = 0;

    while (r < n) {
        size_t take;
        bool header_done = false;

        if (s->hdr_len == 0) {
            pgr_expect_t *e;
            s->drop = cl->swallow > 0;
            s->ours = false;
            /* The first byte is the type: a reply to our own Parse / Close is cut whole. */
            if (!s->drop && cl->expect_len > 0 && (p[r] == '1' || p[r] == '3') &&
                (e = expect_front(cl)) != NULL && e->ours && e->type == p[r])
                s->drop = s->ours = true;
        }
        if (s->hdr_len < 5) {
            take = 5 - s->hdr_len;
            if (take > n - r)
                take = n - r;
            memcpy(s->hdr + s->hdr_len, p + r, take);
            s->hdr_len += (uint8_t)take;
            header_done = s->hdr_len == 5;
        } else {
            take = s->remaining < n - r ? s->remaining : n - r;
            if (s->collect) {
                memcpy(s->body + s->body_len, p + r, take);
                s->body_len += (uint16_t)take;
            }
            s->remaining -= (uint32_t)take;
        }
        if (!s->drop) {
            if (w != r)
                memmove(p + w, p + r, take);
            w += take;
        }
        r += take;
        if (header_done) {
            uint32_t len = pgr_be32(s->hdr + 1);
            s->type = s->hdr[0];
            /* The server is trusted to frame correctly; a length below 4 cannot be walked. */
            s->remaining = len >= 4 ? len - 4 : 0;
            s->body_len = 0;
            s->collect = (s->type == 'Z' || s->type == 'S' ||
                          (s->drop && (s->type == 'E' || s->type == 'D'))) &&
                         s->remaining <= sizeof(s->body);
        }
        if (s->hdr_len == 5 && s->remaining == 0) {
            message_done(cl);
            s->hdr_len = 0;
        }
    }
    return w;
}

/* After server output was handled: give the connection back at a transaction boundary. */
static void
maybe_release(pgr_client_t *cl)
{
    if (cl->srv == NULL || cl->pinned || cl->rt->cfg->pool.mode != PGR_POOL_TRANSACTION)
        return;
    if (!server_clean(cl) || pgr_server_pending(cl->srv) > 0)
        return;
    if (!cl->txn_read && !cl->ryw_capture &&
        cl->rt->cfg->routing.read_your_writes == PGR_RYW_SESSION) {
        /* Read-your-writes: learn where the primary's WAL stands now that the write committed;
         * reads go only to replicas that have replayed that far. */
        uint8_t q[64];
        pgr_writer_t w;
        pgr_writer_init_fixed(&w, q, sizeof(q));
        pgr_fe_write_query(&w, "SELECT pg_current_wal_insert_lsn()");
        cl->ryw_capture = true;
        cl->txn_read = true;
        if (w.err || pgr_iobuf_append(&cl->to_srv, w.buf, w.len) != 0 ||
            pgr_relay_own_unit(cl, 0) != 0) {
            pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
            return;
        }
        write_forward(cl);
        return;
    }
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
        if (pgr_conn_out_pending(&cl->conn) > PGR_CLIENT_OUT_HIGH) {
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
        size_t keep = scan(cl, p, (size_t)n);
        pgr_conn_out_commit(&cl->conn, keep);
        cl->rt->stats.bytes_out += keep;
        budget -= (size_t)n < budget ? (size_t)n : budget;
        if (cl->state == PGR_CLIENT_LOGIN && cl->swallow == 0) {
            pgr_client_login_done(cl, cl->preamble_sqlstate[0] ? cl->preamble_sqlstate : NULL,
                                  cl->preamble_error);
            return;
        }
        /* A short read took what the socket had: the next read would only say EAGAIN (the
         * watch is level-triggered, so anything that comes meanwhile is not missed). */
        if ((size_t)n < READ_CHUNK && cl->srv && pgr_server_pending(cl->srv) == 0)
            break;
    }
    pgr_conn_flush(&cl->conn);
    maybe_release(cl);
}

void
pgr_relay_client_drained(pgr_client_t *cl)
{
    if (cl->state == PGR_CLIENT_BROADCAST) {
        pgr_multi_drained(cl);
        return;
    }
    if (cl->srv && cl->srv_read_paused) {
        cl->srv_read_paused = false;
        watch(cl);
        server_readable(cl);
    }
}

/* ---- client → server ----------------------------------------------------------------------- */

/* Write to_srv, then the accounted bytes of the client's input, until the server would block. */
static void
write_forward(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;

    while (cl->srv && (pgr_iobuf_len(&cl->to_srv) > 0 || cl->fwd > 0)) {
        bool queued = pgr_iobuf_len(&cl->to_srv) > 0;
        ssize_t n = queued ? pgr_server_write(cl->srv, pgr_iobuf_data(&cl->to_srv),
                                              pgr_iobuf_len(&cl->to_srv))
                           : pgr_server_write(cl->srv, pgr_iobuf_data(in), cl->fwd);
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
        if (queued) {
            pgr_iobuf_consume(&cl->to_srv, (size_t)n);
        } else {
            pgr_iobuf_consume(in, (size_t)n);
            cl->fwd -= (size_t)n;
        }
        cl->rt->stats.bytes_in += (uint64_t)n;
    }
    if (cl->srv_write_blocked) {
        cl->srv_write_blocked = false;
        if (cl->state != PGR_CLIENT_LOGIN)
            pgr_conn_read_start(&cl->conn);
        watch(cl);
    }
}

/* Move the frame at the front of the unaccounted input (len bytes, or replaced by the len2
 * bytes at repl) behind everything queued for the server. Keeps the order: once to_srv is used,
 * the accounted input bytes move into it first. */
static int
queue_copy(pgr_client_t *cl, size_t len, const void *repl, size_t len2)
{
    pgr_iobuf_t *in = &cl->conn.in;
    int rc = 0;

    if (cl->fwd > 0) {
        if ((rc = pgr_iobuf_append(&cl->to_srv, pgr_iobuf_data(in), cl->fwd)) != 0)
            return rc;
        pgr_iobuf_consume(in, cl->fwd);
        cl->fwd = 0;
    }
    rc = repl ? pgr_iobuf_append(&cl->to_srv, repl, len2)
              : pgr_iobuf_append(&cl->to_srv, pgr_iobuf_data(in), len);
    if (rc == 0)
        pgr_iobuf_consume(in, len);
    return rc;
}

static void
pin(pgr_client_t *cl, const char *reason)
{
    if (cl->pinned || cl->rt->cfg->pool.mode != PGR_POOL_TRANSACTION)
        return;
    cl->pinned = true;
    cl->pin_reason = reason;
    cl->rt->stats.pinned++;
    pgr_info("relay", "client %llu pinned to its server connection on node %s: %s",
             (unsigned long long)cl->id, cl->node_id, reason);
}

/* "DEALLOCATE [PREPARE] name" / "DEALLOCATE ALL" in a simple query: the name is the client's,
 * so it is translated; ALL also empties the connection's record. Returns a replacement query
 * (in buf) or NULL to send the text unchanged. */
static const char *
deallocate(pgr_client_t *cl, const char *sql, char *buf, size_t cap)
{
    char word[16], name[128], tail[8];
    int n = 0;

    if (!cl->rewrite || sscanf(sql, " %15s %n", word, &n) != 1 || strcasecmp(word, "DEALLOCATE"))
        return NULL;
    sql += n;
    if (sscanf(sql, " %15s %n", word, &n) == 1 && strcasecmp(word, "PREPARE") == 0)
        sql += n;
    if (sscanf(sql, " %127[^; \t\n] %7s", name, tail) != 1 &&
        !(sscanf(sql, " %127[^; \t\n] %7s", name, tail) == 2 && strcmp(tail, ";") == 0))
        return NULL;
    if (strcasecmp(name, "ALL") == 0) {
        pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
        if (st)
            st->n_stmts = 0;
        pgr_stmts_free(&cl->stmts);
        return NULL;
    }
    if (name[0] == '"') { /* a quoted identifier */
        size_t l = strlen(name);
        if (l < 2 || name[l - 1] != '"')
            return NULL;
        memmove(name, name + 1, l - 2);
        name[l - 2] = '\0';
    }
    char sname[48];
    pgr_stmt_t *sm = pgr_stmts_find(&cl->stmts, name);
    if (sm == NULL)
        return NULL;
    pgr_stmt_server_name(sname, sizeof(sname), cl->id, sm->seq);
    pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
    if (st)
        pgr_srv_state_forget(st, cl->id << 32 | sm->seq);
    pgr_stmts_remove(&cl->stmts, name);
    snprintf(buf, cap, "DEALLOCATE %s", sname);
    return buf;
}

/* A statement on its way: pin the session when it makes state that cannot move, and tell its
 * class. */
/* A session-level SET or RESET of a setting the server does not report: pgrouter cannot see
 * its value, so it keeps the client's own statement and replays it on every server connection
 * the client lands on (as it does the startup settings). Returns false when it cannot (inside a
 * transaction, where a rollback could undo it, or over the size cap): the caller pins. */
static bool
carry_setting(pgr_client_t *cl, const char *sql, size_t len, const pgr_stmt_info_t *st)
{
    size_t have = cl->extras ? strlen(cl->extras) : 0;
    char *n;

    if (cl->txn != 'I' || cl->held_begin || st->text_offset + st->text_length > len ||
        have + st->text_length + 2 > 16384)
        return false;
    if ((n = realloc(cl->extras, have + st->text_length + 2)) == NULL)
        return false;
    memcpy(n + have, sql + st->text_offset, st->text_length);
    n[have + st->text_length] = ';';
    n[have + st->text_length + 1] = '\0';
    cl->extras = n;
    /* The server runs it now, so it has what the client has. */
    pgr_srv_state_t *sst = pgr_server_get_data(cl->srv);
    if (sst) {
        free(sst->extras);
        sst->extras = strdup(n);
    }
    return true;
}

/* A statement on its way: carry or pin the session state it makes, and tell its class. */
static int
note_statement(pgr_client_t *cl, const char *sql, size_t len, pgr_stmt_class_t *cls)
{
    const pgr_classification_t *c;
    int rc = pgr_classify(cl->rt->classifier, sql, len, &c);

    if (rc != 0)
        return rc;
    for (int i = 0; i < c->n_stmts && !cl->pinned; i++) {
        const pgr_stmt_info_t *st = &c->stmts[i];
        const char *text = sql + st->text_offset;
        bool in_text = st->text_offset + st->text_length <= len;
        if (in_text && st->cls == PGR_CLASS_SET && st->text_length >= 7 &&
            strncasecmp(text, "DISCARD", 7) == 0) {
            pin(cl, "DISCARD");
            continue;
        }
        bool session_set = in_text && st->cls == PGR_CLASS_SET && !st->set_local &&
                           st->pgrvar == PGR_PGRVAR_NONE && !st->read_only_txn &&
                           !pgr_state_is_set_transaction(text, st->text_length) &&
                           (!st->pins || st->session_set);
        /* A SET of a reported setting moves with the client (see session/state.h). */
        if (session_set && pgr_state_set_is_tracked(text, st->text_length))
            continue;
        if (session_set && cl->rewrite) {
            if (!carry_setting(cl, sql, len, st))
                pin(cl, "SET inside a transaction");
            continue;
        }
        if (st->pins)
            pin(cl, st->pin_reason);
    }
    if (cls)
        *cls = c->cls;
    return 0;
}

/* Record on srv's ledger that the client's statement sm is prepared there, closing the least
 * recently prepared one when the connection holds too many (its CloseComplete is ours). */
static void
ledger_add(pgr_client_t *cl, pgr_srv_state_t *st, uint64_t key, pgr_writer_t *w)
{
    uint64_t evicted;
    char name[48];

    if (!pgr_srv_state_add(st, key, &evicted))
        return;
    pgr_stmt_key_name(name, sizeof(name), evicted);
    pgr_fe_write_close(w, 'S', name);
    if (expect_push(cl, '3', 0, true) != 0)
        w->err = PGR_ENOMEM;
}

/* Before a Bind or Describe of the client's statement sm: prepare it on srv when srv lacks it,
 * in the same segment (no Sync of ours), its ParseComplete cut out of the stream. Should the
 * Parse fail there, the server's error is the client's and the Bind is skipped, as a server
 * skips to Sync after an error. */
static void
prepare_on_demand(pgr_client_t *cl, const pgr_stmt_t *sm, pgr_writer_t *w)
{
    pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
    uint64_t key = cl->id << 32 | sm->seq;
    char name[48];

    if (st == NULL || sm->cls == PGR_STMT_LOCAL || pgr_srv_state_has(st, key))
        return;
    pgr_stmt_server_name(name, sizeof(name), cl->id, sm->seq);
    pgr_writer_begin(w, 'P');
    pgr_writer_put_cstr(w, name);
    pgr_writer_put_bytes(w, sm->rest, sm->rest_len);
    pgr_writer_finish(w);
    if (expect_push(cl, '1', key, true) != 0)
        w->err = PGR_ENOMEM;
    ledger_add(cl, st, key, w);
}

/* The client's named statement of a Bind or Describe, in transaction mode; NULL otherwise. */
static pgr_stmt_t *
client_stmt(pgr_client_t *cl, const char *name)
{
    if (!cl->rewrite || name[0] == '\0')
        return NULL;
    return pgr_stmts_find(&cl->stmts, name);
}

/* Account for one client frame on the way to srv, rewriting it when its names must change.
 * Returns 0, or a PGR_E* code (then the session is ended by the caller). */
static int
forward_frame(pgr_client_t *cl, const pgr_frame_t *f)
{
    char sname[48], qbuf[80];
    pgr_writer_t w;
    pgr_stmt_t *sm;
    int rc = 0;
    bool rewritten = false;

    pgr_writer_init_grow(&w);
    switch (f->type) {
    case 'Q': {
        pgr_fe_query_t q;
        cl->pending_syncs++;
        cl->seg_sent++;
        cl->unsynced = false;
        cl->rt->stats.queries++;
        if (pgr_fe_query_decode(f->body, f->body_len, &q) != 0)
            break; /* the server answers a malformed query */
        if ((rc = note_statement(cl, q.sql, q.len, NULL)) != 0)
            break;
        const char *repl = deallocate(cl, q.sql, qbuf, sizeof(qbuf));
        if (repl) {
            pgr_fe_write_query(&w, repl);
            rewritten = true;
        }
        break;
    }
    case 'P': {
        pgr_fe_parse_t m;
        cl->unsynced = true;
        if (pgr_fe_parse_decode(f->body, f->body_len, &m) != 0) {
            rc = cl->rewrite ? expect_push(cl, '1', 0, false) : 0;
            break;
        }
        if (!cl->rewrite || m.name[0] == '\0') {
            /* The unnamed statement runs at its Bind: what it makes is noted now. */
            pgr_stmt_class_t cls;
            if ((rc = note_statement(cl, m.query, strlen(m.query), &cls)) != 0)
                break;
            if (m.name[0] == '\0')
                cl->unnamed_cls = cls;
            if (!cl->rewrite)
                break;
            /* Drivers deallocate through the extended protocol too (psycopg). */
            const char *repl = deallocate(cl, m.query, qbuf, sizeof(qbuf));
            if (repl) {
                m.query = repl;
                pgr_fe_write_parse_msg(&w, &m);
                rewritten = true;
            }
            rc = expect_push(cl, '1', 0, false);
            break;
        }
        /* A named statement is noted at each Bind (it may never run, or run often). */
        const pgr_classification_t *c;
        if ((rc = pgr_classify(cl->rt->classifier, m.query, strlen(m.query), &c)) != 0)
            break;
        size_t nl = strlen(m.name) + 1;
        sm = pgr_stmts_add(&cl->stmts, m.name, f->body + nl, f->body_len - nl);
        if (sm == NULL) {
            rc = PGR_ELIMIT;
            break;
        }
        sm->cls = c->cls;
        uint64_t key = cl->id << 32 | sm->seq;
        pgr_stmt_server_name(sname, sizeof(sname), cl->id, sm->seq);
        m.name = sname;
        pgr_fe_write_parse_msg(&w, &m);
        if ((rc = expect_push(cl, '1', key, false)) != 0)
            break;
        pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
        if (st)
            ledger_add(cl, st, key, &w);
        rewritten = true;
        break;
    }
    case 'B': {
        pgr_fe_bind_t m;
        cl->unsynced = true;
        if (pgr_fe_bind_decode(f->body, f->body_len, &m) != 0 ||
            (sm = client_stmt(cl, m.statement)) == NULL)
            break;
        const char *sql = (const char *)sm->rest;
        if ((rc = note_statement(cl, sql, strnlen(sql, sm->rest_len), NULL)) != 0)
            break;
        prepare_on_demand(cl, sm, &w);
        pgr_stmt_server_name(sname, sizeof(sname), cl->id, sm->seq);
        m.statement = sname;
        pgr_fe_write_bind_msg(&w, &m);
        rewritten = true;
        break;
    }
    case 'D':
    case 'C': {
        pgr_fe_target_t m;
        cl->unsynced = true;
        if (f->type == 'C' && cl->rewrite && (rc = expect_push(cl, '3', 0, false)) != 0)
            break;
        if ((f->type == 'D' ? pgr_fe_describe_decode(f->body, f->body_len, &m)
                            : pgr_fe_close_decode(f->body, f->body_len, &m)) != 0 ||
            m.kind != 'S' || (sm = client_stmt(cl, m.name)) == NULL)
            break;
        pgr_stmt_server_name(sname, sizeof(sname), cl->id, sm->seq);
        if (f->type == 'D') {
            prepare_on_demand(cl, sm, &w);
            pgr_fe_write_describe(&w, 'S', sname);
        } else {
            pgr_fe_write_close(&w, 'S', sname);
            pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
            if (st)
                pgr_srv_state_forget(st, cl->id << 32 | sm->seq);
            pgr_stmts_remove(&cl->stmts, m.name);
        }
        rewritten = true;
        break;
    }
    case 'E':
        cl->unsynced = true;
        break;
    case 'S':
    case 'F':
        cl->pending_syncs++;
        cl->seg_sent++;
        cl->unsynced = false;
        cl->rt->stats.queries++;
        break;
    default: /* Flush, CopyData, CopyDone, CopyFail */
        break;
    }
    if (rc == 0 && w.err)
        rc = w.err;
    if (rc == 0) {
        if (rewritten)
            rc = queue_copy(cl, f->len, w.buf, w.len);
        else if (pgr_iobuf_len(&cl->to_srv) > 0)
            rc = queue_copy(cl, f->len, NULL, 0);
        else
            cl->fwd += f->len;
    }
    pgr_writer_free(&w);
    return rc;
}

static void
relay_acquired(pgr_client_t *cl, int status, pgr_server_t *srv, const char *errmsg)
{
    if (status != 0) {
        const char *sqlstate = status == PGR_ETIMEDOUT ? "53300"
                               : status == PGR_ESHUTDOWN ? "57P01"
                                                         : "08006";
        cl->state = PGR_CLIENT_IDLE;
        pgr_dispatch_fail(cl, sqlstate, errmsg ? errmsg : pgr_strerror(status));
        pgr_conn_read_start(&cl->conn);
        pgr_conn_flush(&cl->conn);
        if (pgr_iobuf_len(&cl->conn.in) > 0)
            pgr_relay_client_input(cl);
        return;
    }
    pgr_relay_attach(cl, srv, false);
    if (cl->state != PGR_CLIENT_LINKED)
        return;
    pgr_conn_read_start(&cl->conn);
    pgr_relay_client_input(cl);
}

void
pgr_relay_client_input(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;

    if (cl->state == PGR_CLIENT_BROADCAST) {
        pgr_multi_client_input(cl);
        return;
    }
    for (;;) {
        if (cl->state == PGR_CLIENT_WAITING || cl->state == PGR_CLIENT_CLOSING ||
            cl->state == PGR_CLIENT_LOGIN || cl->state == PGR_CLIENT_BROADCAST)
            return;
        if (cl->srv_write_blocked)
            return;
        int rc = pgr_frame_next(pgr_iobuf_data(in) + cl->fwd, pgr_iobuf_len(in) - cl->fwd,
                                PGR_PHASE_FRONTEND, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE)
            break;
        if (rc == PGR_FRAME_BAD) {
            pgr_client_bad_frame(cl, &f, "invalid message");
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
            switch (pgr_dispatch_begin(cl, &f)) {
            case PGR_DISPATCH_ANSWERED:
                continue;
            case PGR_DISPATCH_ROUTE:
                if (cl->state == PGR_CLIENT_BROADCAST)
                    return;
                break;
            case PGR_DISPATCH_WAIT:
            case PGR_DISPATCH_CLOSED:
            default:
                return;
            }
            cl->state = PGR_CLIENT_WAITING;
            if (pgr_iobuf_len(in) > CLIENT_IN_HIGH)
                pgr_conn_read_stop(&cl->conn);
            pgr_relay_acquire(cl, relay_acquired);
            return;
        }
        if ((f.type == 'Q' || f.type == 'P' || f.type == 'B' || f.type == 'D') && cl->fwd == 0 &&
            pgr_iobuf_len(&cl->to_srv) == 0 && cl->pending_syncs == 0 && cl->swallow == 0 &&
            !cl->unsynced) {
            pgr_dispatch_t d = pgr_dispatch_local(cl, &f);
            if (d == PGR_DISPATCH_ANSWERED && cl->state != PGR_CLIENT_CLOSING)
                continue;
            if (d != PGR_DISPATCH_ROUTE)
                break;
        }
        if ((rc = forward_frame(cl, &f)) != 0) {
            pgr_client_send_error(cl, "FATAL", rc == PGR_ELIMIT ? "54000" : "53200", NULL,
                                  rc == PGR_ELIMIT ? "too many prepared statements (limit %d)"
                                                   : "out of memory relaying a message",
                                  PGR_STMTS_MAX);
            return;
        }
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
    if (cl->state == PGR_CLIENT_BROADCAST)
        return true;
    return cl->srv != NULL && !server_clean(cl);
}

void
pgr_relay_cancel(pgr_client_t *cl)
{
    if (cl->state == PGR_CLIENT_BROADCAST) {
        cl->rt->stats.cancels_forwarded++;
        pgr_multi_cancel(cl);
        return;
    }
    if (cl->srv == NULL || (cl->pending_syncs == 0 && !cl->unsynced)) {
        cl->rt->stats.cancels_ignored++;
        return;
    }
    cl->rt->stats.cancels_forwarded++;
    if (pgr_server_cancel(cl->srv, 5000, NULL, NULL) != 0)
        pgr_warn("relay", "client %llu: cancel to node %s failed", (unsigned long long)cl->id,
                 cl->node_id);
}

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
#include "session/carry.h"
#include "session/dispatch.h"
#include "session/link.h"
#include "session/multi.h"
#include "session/pgrvar.h"
#include "session/relay.h"
#include "session/timeout.h"
#include "session/reply.h"

#define READ_CHUNK      (64 * 1024)
#define READ_BUDGET     (256 * 1024) /* per wakeup, so one server cannot starve the loop */
#define CLIENT_IN_HIGH  (1024 * 1024) /* stop reading a client that is waiting for a server */

static void server_io_cb(pgr_server_t *srv, int status, int events, void *arg);

void
pgr_relay_watch(pgr_client_t *cl)
{
    int rc = pgr_server_watch(cl->srv, !cl->srv_read_paused, cl->srv_write_blocked, server_io_cb,
                              cl);
    if (rc != 0)
        pgr_warn("relay", "client %llu: cannot watch server of node %s: %s",
                 (unsigned long long)cl->id, cl->node_id, pgr_strerror(rc));
}

/* ---- Parse / Close replies ------------------------------------------------------------------ */

static int
expect_push_seg(pgr_client_t *cl, uint32_t seg, uint8_t type, uint64_t key, bool ours)
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
        (pgr_expect_t){.key = key, .seg = seg, .type = type, .ours = ours};
    return 0;
}

/* A reply in the segment being sent. */
static int
expect_push(pgr_client_t *cl, uint8_t type, uint64_t key, bool ours)
{
    return expect_push_seg(cl, cl->seg_sent, type, key, ours);
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

/* The server connection failed under the session (err), or its server broke the protocol
 * (violation says how; the connection is closed all the same). At a message boundary outside a
 * transaction the client gets an ERROR per outstanding ReadyForQuery and may go on; otherwise
 * the stream it sees cannot be repaired and the session ends: with the server's own word on why
 * when it sent one (already relayed, untouched), as a direct connection would, else with
 * pgrouter's. */
static void
server_failed(pgr_client_t *cl, int err, const char *violation)
{
    char node[PGR_NODE_ID_MAX], why[160];
    bool recoverable = pgr_link_at_boundary(cl) && cl->txn == 'I' && !cl->pinned &&
                       cl->rt->cfg->pool.mode == PGR_POOL_TRANSACTION;
    bool told = cl->srv_ended && violation == NULL;
    /* Part of a message already went to the client: nothing can follow it that the client
     * would read as a message (an error there would be taken as the rest of the row, maybe
     * as row data), so the session ends as with a server that dies mid-message. */
    bool mid_message = !pgr_link_at_boundary(cl);
    uint32_t owed = cl->pending_syncs;
    const char *sqlstate = violation ? "08P01" : "08006";

    snprintf(node, sizeof(node), "%s", cl->node_id ? cl->node_id : "?");
    if (cl->state == PGR_CLIENT_LOGIN)
        recoverable = false;
    if (violation) {
        pgr_warn_rl("relay", "client %llu: node %s broke the protocol, its server connection "
                    "is closed: %s", (unsigned long long)cl->id, node, violation);
        snprintf(why, sizeof(why), "invalid reply from node \"%s\": %s", node, violation);
    } else {
        pgr_warn_rl("relay", "client %llu: server connection to node %s failed: %s",
                    (unsigned long long)cl->id, node, pgr_strerror(err));
        snprintf(why, sizeof(why), "server connection to node \"%s\" was lost: %s", node,
                 pgr_strerror(err));
    }
    cl->pending_syncs = 0;
    cl->unsynced = true; /* forces a close on release */
    pgr_link_detach(cl, false);
    pgr_timeout_update(cl);
    if (mid_message) {
        pgr_info("client", "client %llu (%s): closed: its server connection to node %s ended "
                 "in the middle of a message", (unsigned long long)cl->id,
                 pgr_conn_peer(&cl->conn), node);
        pgr_client_close(cl, "server connection lost mid-message");
        return;
    }
    if (!recoverable && told) {
        pgr_info("client", "client %llu (%s): its session ended by node %s",
                 (unsigned long long)cl->id, pgr_conn_peer(&cl->conn), node);
        pgr_client_close(cl, "the server ended the session");
        return;
    }
    if (!recoverable) {
        pgr_client_send_error(cl, "FATAL", sqlstate, NULL, "%s", why);
        return;
    }
    cl->unsynced = false;
    cl->txn = 'I';
    if (owed == 0)
        return;
    pgr_client_send_error(cl, "ERROR", sqlstate, NULL, "%s", why);
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

/* An ErrorResponse or NoticeResponse relayed to the client: one that ends the session (FATAL,
 * PANIC, or a notice of class 57 "operator intervention", as a crash or an immediate shutdown
 * sends) is the client's reason when the connection then closes. */
static void
note_goodbye(pgr_client_t *cl, const pgr_scan_t *s)
{
    pgr_be_notice_t e;

    if (!s->collect || pgr_be_notice_decode((const uint8_t *)s->body, s->body_len, &e) != 0)
        return;
    if (s->type == 'E' && e.severity &&
        (strcmp(e.severity, "FATAL") == 0 || strcmp(e.severity, "PANIC") == 0))
        cl->srv_ended = true;
    if (s->type == 'N' && e.sqlstate && strncmp(e.sqlstate, "57", 2) == 0)
        cl->srv_ended = true;
}

static void
message_done(pgr_client_t *cl)
{
    pgr_scan_t *s = &cl->scan;

    switch (s->type) {
    case '1':
    case '3':
    case 'C': {
        pgr_expect_t *e;
        if ((!s->drop || s->ours) && cl->expect_len > 0 && (e = expect_front(cl)) != NULL &&
            e->type == s->type)
            expect_pop(cl);
        break;
    }
    case 'Z':
        if (cl->n_changes > 0)
            pgr_carry_segment_end(cl, cl->seg_done, cl->seg_failed);
        cl->seg_failed = false;
        cl->seg_done++;
        if (s->drop) {
            pgr_link_unit_done(cl);
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
            break;
        }
        cl->seg_failed = true;
        note_goodbye(cl, s);
        if (cl->expect_len > 0)
            expect_error(cl);
        break;
    case 'N':
        if (!s->drop)
            note_goodbye(cl, s);
        break;
    case 'D':
        if (s->drop && cl->ryw_capture && s->collect)
            note_commit_lsn(cl, s);
        break;
    default:
        break;
    }
}

/* The server broke the protocol in the message being scanned. What of that message is in this
 * read (from at) is not forwarded, nor anything after it; when it all is, the client's stream
 * stays at a message boundary. Returns the bytes kept for the client. */
static size_t
scan_bad(pgr_client_t *cl, size_t w, size_t at, bool started_here)
{
    pgr_scan_t *s = &cl->scan;

    s->bad = true;
    if (!started_here)
        return w;
    s->hdr_len = 0;
    s->remaining = 0;
    return at;
}

/* Walk n new bytes of server output in place, tracking message boundaries, checking each
 * message and cutting out the replies to our preamble. Returns how many bytes remain for the
 * client; after a protocol violation (s->bad) the rest of the read is dropped. */
static size_t
scan(pgr_client_t *cl, uint8_t *p, size_t n)
{
    pgr_scan_t *s = &cl->scan;
    size_t r = 0, w = 0, at = 0;
    bool started_here = false; /* the current message's first byte is in this read, at w = at */

    while (r < n) {
        size_t take;
        bool header_done = false;

        if (s->hdr_len == 0) {
            pgr_expect_t *e;
            at = w;
            started_here = true;
            const pgr_unit_t *u = cl->swallow > 0 ? &cl->units[cl->units_done] : NULL;
            s->drop = u && u->seg == cl->seg_done && !(u->report && p[r] == 'S');
            s->ours = false;
            /* The first byte is the type: a reply to our own Parse / Close is cut whole. */
            if (!s->drop && cl->expect_len > 0 && (p[r] == '1' || p[r] == '3' || p[r] == 'C') &&
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
            if (pgr_becheck_feed(&s->check, p + r, take) != 0)
                return scan_bad(cl, w, at, started_here);
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
            pgr_frame_t f;
            if (pgr_frame_next(s->hdr, 5, PGR_PHASE_BACKEND, NULL, &f) == PGR_FRAME_BAD) {
                snprintf(s->check.reason, sizeof(s->check.reason), "%s (type 0x%02x)",
                         f.reason, s->hdr[0]);
                return scan_bad(cl, w, at, started_here);
            }
            uint32_t len = pgr_be32(s->hdr + 1);
            s->type = s->hdr[0];
            s->remaining = len - 4;
            s->body_len = 0;
            if (pgr_becheck_begin(&s->check, s->type, s->remaining) != 0)
                return scan_bad(cl, w, at, started_here);
            s->collect = (s->type == 'Z' || s->type == 'S' || s->type == 'E' ||
                          s->type == 'N' || (s->drop && s->type == 'D')) &&
                         s->remaining <= sizeof(s->body);
        }
        if (s->hdr_len == 5 && s->remaining == 0) {
            message_done(cl);
            s->hdr_len = 0;
        }
    }
    return w;
}

static void
server_readable(pgr_client_t *cl)
{
    size_t budget = READ_BUDGET;

    while (budget > 0 && cl->srv) {
        if (pgr_conn_out_pending(&cl->conn) > PGR_CLIENT_OUT_HIGH) {
            cl->srv_read_paused = true;
            pgr_relay_watch(cl);
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
            server_failed(cl, (int)n, NULL);
            return;
        }
        size_t keep = scan(cl, p, (size_t)n);
        pgr_conn_out_commit(&cl->conn, keep);
        cl->rt->stats.bytes_out += keep;
        if (cl->scan.bad) {
            pgr_conn_flush(&cl->conn);
            server_failed(cl, PGR_EPROTO, cl->scan.check.reason);
            return;
        }
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
    pgr_link_maybe_release(cl);
    pgr_timeout_update(cl);
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
        pgr_relay_watch(cl);
        server_readable(cl);
    }
}

/* ---- client → server ----------------------------------------------------------------------- */

/* Write to_srv, then the accounted bytes of the client's input, until the server would block. */
void
pgr_relay_write(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;

    while (cl->srv && (pgr_iobuf_len(&cl->to_srv) > 0 || cl->fwd > 0)) {
        bool queued = pgr_iobuf_len(&cl->to_srv) > 0;
        ssize_t n = queued ? pgr_server_write(cl->srv, pgr_iobuf_data(&cl->to_srv),
                                              pgr_iobuf_len(&cl->to_srv))
                           : pgr_server_write(cl->srv, pgr_iobuf_data(in), cl->fwd);
        if (n < 0) {
            server_failed(cl, (int)n, NULL);
            return;
        }
        if (n == 0) {
            if (!cl->srv_write_blocked) {
                cl->srv_write_blocked = true;
                pgr_conn_read_stop(&cl->conn);
                pgr_relay_watch(cl);
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
        pgr_relay_watch(cl);
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

    if (st == NULL || sm->cls == PGR_STMT_LOCAL)
        return;
    if (pgr_srv_state_has(st, key)) {
        pgr_srv_state_touch(st, key);
        return;
    }
    pgr_stmt_server_name(name, sizeof(name), cl->id, sm->seq);
    pgr_writer_begin(w, 'P');
    pgr_writer_put_cstr(w, name);
    pgr_writer_put_bytes(w, sm->rest, sm->rest_len);
    pgr_writer_finish(w);
    if (expect_push(cl, '1', key, true) != 0)
        w->err = PGR_ENOMEM;
    ledger_add(cl, st, key, w);
}

/* Before a Bind or Describe of the unnamed statement on a server connection that has not seen
 * the client's last unnamed Parse (it was made on another, in an earlier transaction): the same
 * Parse goes first, its ParseComplete cut. True when w got it. */
static bool
prepare_unnamed(pgr_client_t *cl, pgr_writer_t *w)
{
    if (!cl->rewrite || cl->unnamed_here || cl->unnamed_parse == NULL)
        return false;
    pgr_writer_begin(w, 'P');
    pgr_writer_put_bytes(w, cl->unnamed_parse, cl->unnamed_parse_len);
    pgr_writer_finish(w);
    if (expect_push(cl, '1', 0, true) != 0)
        w->err = PGR_ENOMEM;
    cl->unnamed_here = true;
    return true;
}

/* The client's named statement of a Bind or Describe, in transaction mode; NULL otherwise. */
static pgr_stmt_t *
client_stmt(pgr_client_t *cl, const char *name)
{
    if (!cl->rewrite || name[0] == '\0')
        return NULL;
    return pgr_stmts_find(&cl->stmts, name);
}

/* A simple Query on its way (segment seg): DEALLOCATE gets pgrouter's names; a RESET gets the
 * client's startup values appended, each of whose CommandCompletes is cut from the reply. The
 * replacement Query, if any, is written to w. */
static int
rewrite_query(pgr_client_t *cl, const pgr_fe_query_t *q, uint32_t seg, char *qbuf, size_t cap,
              pgr_writer_t *w)
{
    const pgr_classification_t *c;
    pgr_writer_t restore;
    int n_client = 0, rc;

    bool alone = false;

    pgr_writer_init_grow(&restore);
    if ((rc = pgr_carry_query(cl, q->sql, q->len, seg, &restore, &n_client, &alone)) != 0)
        goto out;
    const char *repl = pgr_carry_deallocate(cl, q->sql, qbuf, cap);
    if (repl) {
        pgr_fe_write_query(w, repl);
        goto out;
    }
    if (restore.err || restore.len == 0 || n_client == 0)
        goto out;
    if (alone) {
        /* DISCARD ALL runs alone (not in a transaction block): the restore follows as a unit
         * of ours, whose ParameterStatus the client sees. */
        pgr_writer_begin(w, 'Q');
        pgr_writer_put_bytes(w, q->sql, q->len);
        pgr_writer_put_u8(w, 0);
        pgr_writer_finish(w);
        pgr_writer_begin(w, 'Q');
        pgr_writer_put_bytes(w, restore.buf, restore.len);
        pgr_writer_put_u8(w, 0);
        pgr_writer_finish(w);
        rc = pgr_link_own_unit(cl, 0, true);
        goto out;
    }
    if ((rc = pgr_classify(cl->rt->classifier, (const char *)restore.buf, restore.len, &c)) != 0)
        goto out;
    for (int i = 0; i < n_client + c->n_stmts && rc == 0; i++)
        rc = expect_push_seg(cl, seg, 'C', 0, i >= n_client);
    if (rc != 0)
        goto out;
    /* A newline ends a trailing -- comment of the client's. */
    pgr_writer_begin(w, 'Q');
    pgr_writer_put_bytes(w, q->sql, q->len);
    pgr_writer_put_bytes(w, "\n;", 2);
    pgr_writer_put_bytes(w, restore.buf, restore.len);
    pgr_writer_put_u8(w, 0);
    pgr_writer_finish(w);
out:
    pgr_writer_free(&restore);
    return rc;
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

    cl->last_request_ms = uv_now(cl->rt->loop);
    pgr_writer_init_grow(&w);
    switch (f->type) {
    case 'Q': {
        pgr_fe_query_t q;
        uint32_t seg = cl->seg_sent++;
        cl->pending_syncs++;
        cl->unsynced = false;
        cl->rt->stats.queries++;
        /* A simple Query destroys the unnamed statement, here and on any server. */
        free(cl->unnamed_parse);
        cl->unnamed_parse = NULL;
        cl->unnamed_here = false;
        if (pgr_fe_query_decode(f->body, f->body_len, &q) != 0)
            break; /* the server answers a malformed query */
        rc = rewrite_query(cl, &q, seg, qbuf, sizeof(qbuf), &w);
        rewritten = rc == 0 && w.len > 0;
        break;
    }
    case 'P': {
        pgr_fe_parse_t m;
        cl->unsynced = true;
        if (pgr_fe_parse_decode(f->body, f->body_len, &m) != 0) {
            rc = cl->rewrite ? expect_push(cl, '1', 0, false) : 0;
            break;
        }
        if (m.name[0] == '\0' && cl->rewrite) {
            uint8_t *copy = malloc(f->body_len);
            if (copy == NULL) {
                rc = PGR_ENOMEM;
                break;
            }
            memcpy(copy, f->body, f->body_len);
            free(cl->unnamed_parse);
            cl->unnamed_parse = copy;
            cl->unnamed_parse_len = f->body_len;
            cl->unnamed_here = true;
        }
        if (!cl->rewrite || m.name[0] == '\0') {
            /* The unnamed statement runs at its Bind: what it makes is noted now. */
            pgr_stmt_class_t cls = PGR_CLASS_WRITE;
            if ((rc = pgr_carry_statement(cl, m.query, strlen(m.query), cl->seg_sent, &cls)) !=
                0)
                break;
            if (m.name[0] == '\0')
                cl->unnamed_cls = cls;
            if (!cl->rewrite)
                break;
            /* Drivers deallocate through the extended protocol too (psycopg). */
            const char *repl = pgr_carry_deallocate(cl, m.query, qbuf, sizeof(qbuf));
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
        sm->plain = pgr_carry_is_plain(c);
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
        if (pgr_fe_bind_decode(f->body, f->body_len, &m) != 0)
            break;
        if (m.statement[0] == '\0') {
            if (prepare_unnamed(cl, &w)) {
                pgr_fe_write_bind_msg(&w, &m);
                rewritten = true;
            }
            break;
        }
        if ((sm = client_stmt(cl, m.statement)) == NULL)
            break;
        const char *sql = (const char *)sm->rest;
        if (sm->plain)
            pgr_carry_plain_bind(cl, sm->cls);
        else if ((rc = pgr_carry_statement(cl, sql, strnlen(sql, sm->rest_len), cl->seg_sent,
                                           NULL)) != 0)
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
            m.kind != 'S')
            break;
        if (m.name[0] == '\0' && f->type == 'D') {
            if (prepare_unnamed(cl, &w)) {
                pgr_fe_write_describe(&w, 'S', "");
                rewritten = true;
            }
            break;
        }
        if ((sm = client_stmt(cl, m.name)) == NULL)
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
                               : status == PGR_ECANCELED ? "57014"
                                                         : "08006";
        pgr_client_set_state(cl, PGR_CLIENT_IDLE);
        pgr_reply_error(cl, sqlstate, errmsg ? errmsg : pgr_strerror(status));
        pgr_conn_read_start(&cl->conn);
        pgr_conn_flush(&cl->conn);
        if (pgr_iobuf_len(&cl->conn.in) > 0)
            pgr_relay_client_input(cl);
        return;
    }
    pgr_link_attach(cl, srv, false);
    if (cl->state != PGR_CLIENT_LINKED)
        return;
    pgr_conn_read_start(&cl->conn);
    pgr_relay_client_input(cl);
    pgr_timeout_update(cl);
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
            pgr_client_set_state(cl, PGR_CLIENT_WAITING);
            if (pgr_iobuf_len(in) > CLIENT_IN_HIGH)
                pgr_conn_read_stop(&cl->conn);
            pgr_link_acquire(cl, relay_acquired);
            return;
        }
        if ((f.type == 'Q' || f.type == 'P' || f.type == 'B' || f.type == 'D') && cl->fwd == 0 &&
            pgr_iobuf_len(&cl->to_srv) == 0 && cl->pending_syncs == 0 && cl->swallow == 0 &&
            !cl->unsynced) {
            pgr_dispatch_t d = pgr_pgrvar_local(cl, &f);
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
    pgr_relay_write(cl);
}

/* ---- server events ------------------------------------------------------------------------- */

static void
server_io_cb(pgr_server_t *srv, int status, int events, void *arg)
{
    pgr_client_t *cl = arg;

    (void)srv;
    if (status < 0) {
        server_failed(cl, status, NULL);
        return;
    }
    if (events & UV_WRITABLE) {
        pgr_relay_write(cl);
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
    return cl->srv != NULL && !pgr_link_clean(cl);
}

void
pgr_relay_cancel(pgr_client_t *cl)
{
    if (cl->state == PGR_CLIENT_WAITING && cl->acq) {
        /* Its statement waits for a server connection: the wait ends, and the statement,
         * still in the input, is skipped to its Query or Sync, as a server skips a canceled
         * one. It never reaches a server. */
        pgr_info_rl("relay", "client %llu: canceled while waiting for a server connection",
                 (unsigned long long)cl->id);
        pgr_cluster_acquire_cancel(cl->acq);
        cl->acq = NULL;
        cl->acquired = NULL;
        relay_acquired(cl, PGR_ECANCELED, NULL, "canceling statement due to user request");
        return;
    }
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

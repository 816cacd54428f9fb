/* Broadcast fan-out (see broadcast.h).
 *
 * Per node:  out  — the batch, waiting to be written;  in — what the node sent, framed from the
 * front into complete messages and fed to the merge while it wants them. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "fanout/broadcast.h"
#include "net/iobuf.h"
#include "protocol/backend.h"
#include "protocol/becheck.h"
#include "protocol/frame.h"
#include "protocol/writer.h"

#define READ_CHUNK  (64 * 1024)
#define READ_BUDGET (256 * 1024)
#define NODE_IN_MAX ((size_t)1 << 30)
#define ADDR_MAX    300 /* "host:port" of a node, for the merge's messages */

typedef struct bnode {
    struct pgr_bcast *b;
    int idx;
    char id[PGR_NODE_ID_MAX];
    pgr_acquire_t *acq;
    pgr_server_t *srv;
    pgr_iobuf_t out, in;
    pgr_becheck_t check;  /* every message of srv's stream, before the merge decodes it */
    bool failed;          /* out for the rest of the broadcast */
    char down[96];        /* not healthy when the broadcast began: reported, never tried */
    char last_words[200]; /* a 57xxx notice (shutdown, crash) the node sent before it went */
    char last_state[6];
    char fail_state[6];   /* why it failed, for every later batch of the broadcast */
    char fail_msg[512];
    bool finished;        /* ReadyForQuery of the current batch seen */
    int swallow;          /* preamble units (cbs.prepare) still to answer: not for the merge */
    int unit;             /* the preamble unit being answered */
    int n_units;
    uint64_t *unit_keys;
    bool unit_error;      /* the preamble unit being answered failed */
    char gate_state[6];   /* a PGR_BCAST_UNIT_GATE unit's error: the node's failure */
    char gate_msg[300];
    bool probing;         /* the last preamble unit asks the database's collation */
    char probe[160];      /* its answer so far: "provider:name" */
    bool write_blocked;
    bool watching_read;
    char status;          /* last ReadyForQuery status */
    uint64_t started_us, latency_us;
} bnode_t;

struct pgr_bcast {
    pgr_cluster_t *cluster;
    pgr_bcast_opts_t opts;
    char *user, *database, *password;
    pgr_bcast_cbs_t cbs;
    void *arg;
    int n;
    bnode_t *nodes;
    pgr_merge_t *merge;
    pgr_writer_t w;       /* merged output not yet handed to the client */
    uv_timer_t *timer;    /* batch timeout (allocated: closes asynchronously) */
    uv_timer_t *kick;     /* finishes from the loop a batch no node is left to run */
    bool running;         /* a batch is in flight */
    bool paused;          /* client output over the high-water mark */
    bool in_feed;         /* re-entrancy guard */
    uint8_t *batch;       /* the batch, for nodes whose connection is still being acquired */
    size_t batch_len;
    bool compares;        /* the batch's merge compares values: the collation matters */
};

/* The database's default collation, asked once per (node, database) — kept as a cluster note
 * "collation" = "provider:name" — before the first batch whose merge compares values. Through
 * to_jsonb so that a server without datlocprovider (before 15: libc only) answers NULL
 * instead of failing inside the client's transaction. */
#define COLL_NOTE  "collation"
#define COLL_PROBE "SELECT d.datcollate, pg_catalog.to_jsonb(d) ->> 'datlocprovider' " \
                   "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()"


static void node_io_cb(pgr_server_t *srv, int status, int events, void *arg);
static void pump(pgr_bcast_t *b);

static uint64_t
now_us(void)
{
    return uv_hrtime() / 1000;
}

/* ---- output ---------------------------------------------------------------------------- */

/* Hand merged bytes to the client. Returns false when the broadcast was freed meanwhile. */
static void
flush_output(pgr_bcast_t *b)
{
    if (b->w.err) {
        pgr_error("broadcast", "cannot encode merged output: %s", pgr_strerror(b->w.err));
        pgr_writer_reset(&b->w);
        return;
    }
    if (b->w.len == 0)
        return;
    if (b->cbs.output(b->arg, b->w.buf, b->w.len) != 0)
        pgr_warn("broadcast", "client output refused merged bytes");
    pgr_writer_reset(&b->w);
    if (b->opts.client_high && b->cbs.client_pending(b->arg) > b->opts.client_high)
        b->paused = true;
}

/* ---- node failures and release ---------------------------------------------------------- */

/* Does node nd have replies to take now: its preamble's, or what the merge wants? */
static bool
node_wants(const bnode_t *nd)
{
    return nd->swallow > 0 || pgr_merge_wants(nd->b->merge, nd->idx);
}

static void
watch(bnode_t *nd)
{
    pgr_bcast_t *b = nd->b;
    bool want_read = !nd->failed && !nd->finished && !b->paused && node_wants(nd);

    if (nd->srv == NULL)
        return;
    nd->watching_read = want_read;
    pgr_server_watch(nd->srv, want_read, nd->write_blocked, node_io_cb, nd);
}

static void
release(bnode_t *nd, bool force_close)
{
    if (nd->acq) {
        pgr_cluster_acquire_cancel(nd->acq);
        nd->acq = NULL;
    }
    if (nd->srv) {
        uint8_t st = 0;
        /* Clean only if the merge saw its ReadyForQuery 'I' in protocol order and nothing of
         * it is left unread either way. */
        bool clean = !force_close && !nd->failed && nd->finished && nd->status == 'I' &&
                     nd->b->merge && pgr_merge_node_synced(nd->b->merge, nd->idx, &st) &&
                     st == 'I' && pgr_iobuf_len(&nd->in) == 0 && pgr_iobuf_len(&nd->out) == 0 &&
                     pgr_server_pending(nd->srv) == 0;
        pgr_server_watch(nd->srv, false, false, node_io_cb, nd);
        pgr_cluster_release(nd->srv, clean ? PGR_RELEASE_CLEAN : PGR_RELEASE_CLOSE);
        nd->srv = NULL;
    }
}

static void
node_failed(bnode_t *nd, const char *sqlstate, const char *fmt, const char *detail)
{
    pgr_bcast_t *b = nd->b;
    char msg[512];

    if (nd->failed)
        return;
    snprintf(msg, sizeof(msg), fmt, nd->id, detail ? detail : "");
    if (nd->last_words[0] && strcmp(sqlstate, "08006") == 0) {
        /* The node said why before it went: that is the failure the client hears of. */
        snprintf(msg, sizeof(msg), "%s", nd->last_words);
        sqlstate = nd->last_state;
    }
    nd->failed = true;
    snprintf(nd->fail_state, sizeof(nd->fail_state), "%s", sqlstate);
    snprintf(nd->fail_msg, sizeof(nd->fail_msg), "%s", msg);
    nd->latency_us = now_us() - nd->started_us;
    release(nd, true);
    if (b->merge && b->running)
        pgr_merge_fail(b->merge, nd->idx, sqlstate, msg, &b->w);
}

/* Fail node nd in the current batch before it was tried (down, unreachable, or gone in an
 * earlier batch of this broadcast): the merge must hear of every node of every batch. */
static void
fail_before(bnode_t *nd, const char *sqlstate, const char *msg)
{
    nd->failed = true;
    if (nd->fail_msg[0] == '\0') {
        snprintf(nd->fail_state, sizeof(nd->fail_state), "%.5s", sqlstate);
        snprintf(nd->fail_msg, sizeof(nd->fail_msg), "%.*s", (int)sizeof(nd->fail_msg) - 1, msg);
    }
    pgr_merge_fail(nd->b->merge, nd->idx, sqlstate, msg, &nd->b->w);
}

/* ---- batch completion ------------------------------------------------------------------- */

static void
timer_close_cb(uv_handle_t *h)
{
    free(h);
}

static void
stop_timer(pgr_bcast_t *b)
{
    if (b->timer) {
        uv_timer_stop(b->timer);
        uv_close((uv_handle_t *)b->timer, timer_close_cb);
        b->timer = NULL;
    }
    if (b->kick) {
        uv_timer_stop(b->kick);
        uv_close((uv_handle_t *)b->kick, timer_close_cb);
        b->kick = NULL;
    }
}

/* After any progress: output to the client, and the end of the batch. */
static void
progress(pgr_bcast_t *b)
{
    flush_output(b);
    if (!b->running || !pgr_merge_done(b->merge))
        return;
    b->running = false;
    stop_timer(b);
    char status = 'I';
    for (int i = 0; i < b->n; i++) {
        bnode_t *nd = &b->nodes[i];
        if (nd->failed)
            continue;
        if (nd->status == 'E')
            status = 'E';
        else if (nd->status == 'T' && status != 'E')
            status = 'T';
    }
    b->cbs.done(b->arg, status); /* may free b */
}

/* ---- reading and framing ---------------------------------------------------------------- */

/* Tell the merge node nd's collation from a note "provider:name" (NULL: not known). Only
 * for a connection whose values come in UTF-8: the merge compares the bytes it gets. */
static void
tell_collation(bnode_t *nd, const char *note)
{
    pgr_bcast_t *b = nd->b;
    const char *enc = nd->srv ? pgr_server_parameter(nd->srv, "client_encoding") : NULL;
    if (note == NULL || note[0] == '\0' || note[1] != ':' || enc == NULL ||
        strcmp(enc, "UTF8") != 0)
        note = NULL;
    if (b->merge && pgr_merge_node_collation(b->merge, nd->idx, note ? note + 2 : NULL,
                                             note ? note[0] : 0) != 0)
        pgr_warn("broadcast", "node %s: no memory for its collation", nd->id);
}

/* The reply to the collation probe (COLL_PROBE), the last preamble unit. */
static void
probe_reply(bnode_t *nd, const pgr_frame_t *f)
{
    pgr_bcast_t *b = nd->b;
    pgr_be_datarow_t d;
    pgr_value_iter_t it;
    pgr_value_t coll, prov;

    if (f->type == 'D' && pgr_be_datarow_decode(f->body, f->body_len, &d) == 0 && d.ncols == 2) {
        pgr_be_datarow_iter(&d, &it);
        if (pgr_value_next(&it, &coll) && pgr_value_next(&it, &prov) && coll.len > 0 &&
            (size_t)coll.len < sizeof(nd->probe) - 2 && prov.len <= 1)
            /* NULL provider: a server before 15, libc only */
            snprintf(nd->probe, sizeof(nd->probe), "%c:%.*s",
                     prov.len == 1 ? (char)prov.data[0] : 'c', (int)coll.len,
                     (const char *)coll.data);
    } else if (f->type == 'Z') {
        if (!nd->unit_error && nd->probe[0]) {
            if (pgr_cluster_note_set(b->cluster, nd->id, b->database ? b->database : "",
                                     COLL_NOTE, nd->probe) != 0)
                pgr_warn("broadcast", "node %s: cannot keep its collation", nd->id);
            tell_collation(nd, nd->probe);
        }
        nd->probing = false;
    }
}

/* A reply to the preamble (cbs.prepare, then the collation probe): taken here, never
 * merged. */
static void
preamble_reply(bnode_t *nd, const pgr_frame_t *f)
{
    pgr_bcast_t *b = nd->b;
    pgr_be_notice_t e;

    if (nd->probing && nd->unit == nd->n_units)
        probe_reply(nd, f);
    bool gate = nd->unit < nd->n_units && nd->unit_keys &&
                nd->unit_keys[nd->unit] == PGR_BCAST_UNIT_GATE;
    if (f->type == 'E') {
        nd->unit_error = true;
        if (pgr_be_notice_decode(f->body, f->body_len, &e) != 0)
            e.sqlstate = e.message = NULL;
        if (gate) {
            snprintf(nd->gate_state, sizeof(nd->gate_state), "%.5s",
                     e.sqlstate ? e.sqlstate : "XX000");
            snprintf(nd->gate_msg, sizeof(nd->gate_msg), "%s", e.message ? e.message : "");
        } else {
            pgr_info_rl("broadcast", "preparing the connection to node %s: %s %s", nd->id,
                        e.sqlstate ? e.sqlstate : "", e.message ? e.message : "");
        }
    } else if (f->type == 'Z') {
        bool gate_failed = gate && nd->unit_error;
        if (nd->unit_error && !gate && nd->unit < nd->n_units && b->cbs.unit_failed && nd->srv)
            b->cbs.unit_failed(b->arg, nd->srv, nd->unit_keys[nd->unit]);
        nd->unit_error = false;
        nd->unit++;
        nd->swallow--;
        if (gate_failed)  /* the message is the node's own, without its id: "%.0s" skips it */
            node_failed(nd, nd->gate_state, "%.0s%s", nd->gate_msg);
    }
}

/* Node nd broke the protocol: it is out of the broadcast, its connection closed. */
static void
node_broke(bnode_t *nd, const char *why)
{
    pgr_warn_rl("broadcast", "node %s broke the protocol, its server connection is closed: %s",
                nd->id, why);
    node_failed(nd, "08P01", "node %s sent an invalid message: %s", why);
}

/* Feed node i's complete messages to the merge while it wants them. */
static void
feed(bnode_t *nd)
{
    pgr_bcast_t *b = nd->b;
    pgr_frame_t f;

    while (!nd->failed && node_wants(nd)) {
        int rc = pgr_frame_next(pgr_iobuf_data(&nd->in), pgr_iobuf_len(&nd->in),
                                PGR_PHASE_BACKEND, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE)
            return;
        if (rc == PGR_FRAME_BAD) {
            char why[96];
            snprintf(why, sizeof(why), "%s (type 0x%02x)", f.reason, f.type);
            node_broke(nd, why);
            return;
        }
        if (pgr_becheck_begin(&nd->check, f.type, (uint32_t)f.body_len) != 0 ||
            pgr_becheck_feed(&nd->check, f.body, f.body_len) != 0) {
            node_broke(nd, nd->check.reason);
            return;
        }
        if (f.type == 'S' && b->cbs.parameter && nd->srv) {
            pgr_be_param_t ps;
            if (pgr_be_param_decode(f.body, f.body_len, &ps) == 0)
                b->cbs.parameter(b->arg, nd->srv, ps.name, ps.value);
        }
        if (nd->swallow > 0) {
            preamble_reply(nd, &f);
            pgr_iobuf_consume(&nd->in, f.len);
            continue;
        }
        if (f.type == 'N') {
            /* A node about to go away (57P01 shutdown, 57P02 crash, ...) warns first; keep it
             * as the reason of the failure that follows instead of a second warning. */
            pgr_be_notice_t n;
            if (pgr_be_notice_decode(f.body, f.body_len, &n) == 0 && n.sqlstate &&
                strncmp(n.sqlstate, "57", 2) == 0) {
                snprintf(nd->last_words, sizeof(nd->last_words), "%s",
                         n.message ? n.message : "terminating connection");
                snprintf(nd->last_state, sizeof(nd->last_state), "%s", n.sqlstate);
                pgr_iobuf_consume(&nd->in, f.len);
                continue;
            }
        }
        if (f.type == 'Z' && f.body_len == 1) {
            nd->status = (char)f.body[0];
            nd->finished = true;
            nd->latency_us = now_us() - nd->started_us;
        }
        rc = pgr_merge_feed(b->merge, nd->idx, f.type, f.body, f.body_len, &b->w);
        pgr_iobuf_consume(&nd->in, f.len);
        if (rc != 0) {
            node_failed(nd, "XX000", "node %s: merge failed: %s", pgr_strerror(rc));
            return;
        }
        if (nd->finished)
            return;
    }
}

static void
node_readable(bnode_t *nd)
{
    size_t budget = READ_BUDGET;

    while (budget > 0 && nd->srv && !nd->failed) {
        uint8_t *p = pgr_iobuf_reserve(&nd->in, READ_CHUNK);
        if (p == NULL) {
            node_failed(nd, "54000", "node %s: reply too large to merge%s", NULL);
            return;
        }
        ssize_t n = pgr_server_read(nd->srv, p, READ_CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            node_failed(nd, "08006", "connection to node %s was lost: %s", pgr_strerror((int)n));
            return;
        }
        pgr_iobuf_commit(&nd->in, (size_t)n);
        budget -= (size_t)n < budget ? (size_t)n : budget;
        /* Frame and feed as we go, so a node's buffer holds at most what the merge does not
         * want yet plus one read. */
        feed(nd);
        if (!node_wants(nd) || nd->finished)
            break;
    }
}

/* Feed every node what it has buffered, and set every watch, until nothing moves. */
static void
pump(pgr_bcast_t *b)
{
    if (b->in_feed)
        return;
    b->in_feed = true;
    /* Until a whole round consumes nothing: in an ordered merge a round may move one row per
     * node (each waits with one buffered row), so the number of rounds is not bounded by n;
     * every round but the last consumes at least one byte. */
    for (;;) {
        uint64_t before = 0, after = 0;
        for (int i = 0; i < b->n; i++)
            before += pgr_iobuf_len(&b->nodes[i].in);
        for (int i = 0; i < b->n && b->running; i++)
            if (!b->nodes[i].failed)
                feed(&b->nodes[i]);
        for (int i = 0; i < b->n; i++)
            after += pgr_iobuf_len(&b->nodes[i].in);
        if (after == before)
            break;
    }
    b->in_feed = false;
    for (int i = 0; i < b->n; i++)
        watch(&b->nodes[i]);
}

/* ---- writing ---------------------------------------------------------------------------- */

static void
write_out(bnode_t *nd)
{
    while (nd->srv && pgr_iobuf_len(&nd->out) > 0) {
        ssize_t n = pgr_server_write(nd->srv, pgr_iobuf_data(&nd->out), pgr_iobuf_len(&nd->out));
        if (n < 0) {
            node_failed(nd, "08006", "connection to node %s was lost: %s", pgr_strerror((int)n));
            return;
        }
        if (n == 0) {
            nd->write_blocked = true;
            return;
        }
        pgr_iobuf_consume(&nd->out, (size_t)n);
    }
    nd->write_blocked = false;
}

static void
node_io_cb(pgr_server_t *srv, int status, int events, void *arg)
{
    bnode_t *nd = arg;
    pgr_bcast_t *b = nd->b;

    (void)srv;
    if (status < 0) {
        node_failed(nd, "08006", "connection to node %s was lost: %s", pgr_strerror(status));
    } else {
        if (events & UV_WRITABLE)
            write_out(nd);
        if ((events & UV_READABLE) && nd->srv)
            node_readable(nd);
    }
    pump(b);
    progress(b); /* may free b: nothing after */
}

/* Queue the batch for node nd's connection, behind what the connection needs first. */
static int
queue_batch(bnode_t *nd, bool fresh)
{
    pgr_bcast_t *b = nd->b;
    pgr_writer_t w;
    int rc = 0;

    free(nd->unit_keys);
    nd->unit_keys = NULL;
    nd->n_units = nd->unit = nd->swallow = 0;
    nd->unit_error = false;
    if (b->cbs.prepare) {
        pgr_writer_init_grow(&w);
        rc = b->cbs.prepare(b->arg, nd->srv, fresh, &w, &nd->unit_keys, &nd->n_units);
        if (rc == 0 && w.err)
            rc = w.err;
        if (rc == 0 && w.len > 0)
            rc = pgr_iobuf_append(&nd->out, w.buf, w.len);
        pgr_writer_free(&w);
        if (rc != 0)
            return rc;
        nd->swallow = nd->n_units;
    }
    nd->probing = false;
    nd->probe[0] = '\0';
    if (b->compares) {
        const char *note = pgr_cluster_note_get(b->cluster, nd->id,
                                                b->database ? b->database : "", COLL_NOTE);
        if (note != NULL) {
            tell_collation(nd, note);
        } else {
            pgr_writer_init_grow(&w);
            pgr_writer_begin(&w, 'Q');
            pgr_writer_put_cstr(&w, COLL_PROBE);
            rc = pgr_writer_finish(&w);
            if (rc == 0)
                rc = pgr_iobuf_append(&nd->out, w.buf, w.len);
            pgr_writer_free(&w);
            if (rc != 0)
                return rc;
            nd->probing = true;
            nd->swallow++;
        }
    }
    return pgr_iobuf_append(&nd->out, b->batch, b->batch_len);
}

static void
acquired_cb(pgr_acquire_t *req, int status, pgr_server_t *srv, const char *errmsg, void *arg)
{
    bnode_t *nd = arg;
    pgr_bcast_t *b = nd->b;

    (void)req;
    nd->acq = NULL;
    if (status != 0) {
        node_failed(nd, status == PGR_ETIMEDOUT ? "53300" : "08006", "node %s: %s",
                    errmsg ? errmsg : pgr_strerror(status));
    } else {
        nd->srv = srv;
        pgr_becheck_init(&nd->check);
        if (queue_batch(nd, true) != 0) {
            node_failed(nd, "53200", "node %s: out of memory%s", NULL);
        } else {
            write_out(nd);
            watch(nd);
        }
    }
    pump(b);
    progress(b);
}

/* Has node nd's ReadyForQuery arrived (fed or still buffered behind the merge)? */
static bool
answered(const bnode_t *nd)
{
    const uint8_t *p = pgr_iobuf_data(&nd->in);
    size_t len = pgr_iobuf_len(&nd->in), off = 0;
    pgr_frame_t f;

    int preamble = nd->swallow; /* ReadyForQuery messages that answer the preamble */

    if (nd->finished)
        return true;
    while (pgr_frame_next(p + off, len - off, PGR_PHASE_BACKEND, NULL, &f) == PGR_FRAME_OK) {
        if (f.type == 'Z' && preamble-- <= 0)
            return true;
        off += f.len;
    }
    return false;
}

static void
kick_cb(uv_timer_t *t)
{
    pgr_bcast_t *b = t->data;

    pump(b);
    progress(b); /* may free b */
}

static void
timeout_cb(uv_timer_t *t)
{
    pgr_bcast_t *b = t->data;
    char ms[32];

    snprintf(ms, sizeof(ms), "%lld ms", (long long)b->opts.timeout_ms);
    for (int i = 0; i < b->n; i++) {
        bnode_t *nd = &b->nodes[i];
        if (nd->failed || answered(nd))
            continue;
        if (nd->srv)
            pgr_server_cancel(nd->srv, 2000, NULL, NULL);
        node_failed(nd, "57014", "node %s did not answer within broadcast.timeout (%s)", ms);
    }
    pump(b);
    progress(b);
}

/* ---- public ----------------------------------------------------------------------------- */

int
pgr_bcast_new(pgr_cluster_t *c, const char *const *node_ids, int n, const pgr_bcast_opts_t *opts,
              const pgr_bcast_cbs_t *cbs, void *arg, pgr_bcast_t **out)
{
    pgr_bcast_t *b;

    if (n <= 0)
        return PGR_EINVAL;
    if ((b = calloc(1, sizeof(*b))) == NULL)
        return PGR_ENOMEM;
    b->nodes = calloc((size_t)n, sizeof(*b->nodes));
    b->user = opts->user ? strdup(opts->user) : NULL;
    b->database = opts->database ? strdup(opts->database) : NULL;
    b->password = opts->password ? strdup(opts->password) : NULL;
    if (b->nodes == NULL || (opts->user && !b->user) || (opts->database && !b->database) ||
        (opts->password && !b->password)) {
        free(b->nodes);
        free(b->user);
        free(b->database);
        free(b->password);
        free(b);
        return PGR_ENOMEM;
    }
    b->cluster = c;
    b->opts = *opts;
    b->cbs = *cbs;
    b->arg = arg;
    b->n = n;
    pgr_writer_init_grow(&b->w);
    for (int i = 0; i < n; i++) {
        bnode_t *nd = &b->nodes[i];
        nd->b = b;
        nd->idx = i;
        nd->status = 'I';
        snprintf(nd->id, sizeof(nd->id), "%s", node_ids[i]);
        pgr_iobuf_init(&nd->out, 0);
        pgr_iobuf_init(&nd->in, NODE_IN_MAX);
    }
    *out = b;
    return 0;
}

int
pgr_bcast_send(pgr_bcast_t *b, const uint8_t *msgs, size_t len, const pgr_merge_plan_t *plan,
               pgr_merge_policy_t policy, bool node_column)
{
    int rc;

    if (b->running)
        return PGR_EINVAL;
    /* The merge's node names and addresses, for its per-node messages: it copies them. */
    pgr_merge_node_t *mn = calloc((size_t)b->n, sizeof(*mn) + ADDR_MAX);
    if (mn == NULL)
        return PGR_ENOMEM;
    char *addrs = (char *)(mn + b->n);
    for (int i = 0; i < b->n; i++) {
        pgr_node_info_t info;
        char *addr = addrs + (size_t)i * ADDR_MAX;
        mn[i].id = b->nodes[i].id;
        if (pgr_cluster_get_node(b->cluster, b->nodes[i].id, &info) == 0)
            snprintf(addr, ADDR_MAX, "%s:%d", info.host, info.port);
        else
            snprintf(addr, ADDR_MAX, "?");
        mn[i].addr = addr;
    }
    pgr_merge_free(b->merge);
    b->merge = NULL;
    rc = pgr_merge_new(plan, b->n, mn, policy, node_column, &b->merge);
    free(mn);
    if (rc != 0)
        return rc;
    if (b->opts.merge_memory > 0)
        pgr_merge_set_memory(b->merge, b->opts.merge_memory);
    b->compares = pgr_merge_plan_compares(plan);
    free(b->batch);
    if ((b->batch = malloc(len ? len : 1)) == NULL)
        return PGR_ENOMEM;
    memcpy(b->batch, msgs, len);
    b->batch_len = len;
    b->running = true;
    b->paused = false;
    if (b->opts.timeout_ms > 0) {
        stop_timer(b);
        if ((b->timer = malloc(sizeof(*b->timer))) == NULL)
            return PGR_ENOMEM;
        uv_timer_init(pgr_cluster_loop(b->cluster), b->timer);
        b->timer->data = b;
        uv_timer_start(b->timer, timeout_cb, (uint64_t)b->opts.timeout_ms, 0);
    }
    for (int i = 0; i < b->n; i++) {
        bnode_t *nd = &b->nodes[i];
        nd->finished = false;
        nd->started_us = now_us();
        nd->latency_us = 0;
        if (nd->failed) {
            /* Out since an earlier batch of this broadcast (a transaction goes on without
             * it): said again in every batch, never silently left out. */
            char msg[sizeof(nd->fail_msg) + sizeof(nd->id) + 40];
            snprintf(msg, sizeof(msg), "node %s left this broadcast earlier: %s", nd->id,
                     nd->fail_msg);
            fail_before(nd, nd->fail_state[0] ? nd->fail_state : "08006", msg);
            continue;
        }
        if (nd->down[0]) {
            char msg[PGR_NODE_ID_MAX + sizeof(nd->down) + 16];
            snprintf(msg, sizeof(msg), "node %s is %s", nd->id, nd->down);
            fail_before(nd, "08006", msg);
            continue;
        }
        if (nd->srv) {
            if ((rc = queue_batch(nd, false)) != 0)
                return rc;
            write_out(nd);
            watch(nd);
        } else if (nd->acq == NULL) {
            rc = pgr_cluster_acquire(b->cluster, nd->id, b->user, b->database, b->password,
                                     acquired_cb, nd, &nd->acq);
            if (rc != 0) {
                /* The merge hears of it at once; the callbacks follow from the loop. */
                char msg[PGR_NODE_ID_MAX + 64];
                snprintf(msg, sizeof(msg), "node %s could not be reached: %s", nd->id,
                         pgr_strerror(rc));
                fail_before(nd, "08006", msg);
            }
        }
    }
    /* No node is left to answer (every one failed at once): the batch ends from the loop,
     * never inside this call. */
    if (pgr_merge_done(b->merge) || b->w.len > 0) {
        if (b->kick == NULL) {
            if ((b->kick = malloc(sizeof(*b->kick))) == NULL)
                return PGR_ENOMEM;
            uv_timer_init(pgr_cluster_loop(b->cluster), b->kick);
            b->kick->data = b;
        }
        uv_timer_start(b->kick, kick_cb, 0, 0);
    }
    return 0;
}

void
pgr_bcast_mark_down(pgr_bcast_t *b, int i, const char *state)
{
    snprintf(b->nodes[i].down, sizeof(b->nodes[i].down), "%s", state);
}

void
pgr_bcast_resume(pgr_bcast_t *b)
{
    if (!b->paused)
        return;
    b->paused = false;
    pump(b);
    progress(b);
}

void
pgr_bcast_cancel(pgr_bcast_t *b)
{
    for (int i = 0; i < b->n; i++) {
        bnode_t *nd = &b->nodes[i];
        if (nd->srv && !nd->failed && !nd->finished)
            pgr_server_cancel(nd->srv, 2000, NULL, NULL);
    }
}

bool
pgr_bcast_running(const pgr_bcast_t *b)
{
    return b->running;
}

void
pgr_bcast_free(pgr_bcast_t *b)
{
    if (b == NULL)
        return;
    stop_timer(b);
    /* Freed mid-batch (the client went away): a node still running the statement is told to
     * stop — closing its connection alone would not, a backend busy without writing does not
     * notice a closed socket. */
    if (b->running)
        pgr_bcast_cancel(b);
    for (int i = 0; i < b->n; i++) {
        release(&b->nodes[i], b->running);
        pgr_iobuf_free(&b->nodes[i].in);
        pgr_iobuf_free(&b->nodes[i].out);
        free(b->nodes[i].unit_keys);
    }
    free(b->batch);
    pgr_merge_free(b->merge);
    pgr_writer_free(&b->w);
    free(b->nodes);
    free(b->user);
    free(b->database);
    if (b->password) {
        memset(b->password, 0, strlen(b->password));
        free(b->password);
    }
    free(b);
}

int
pgr_bcast_n_nodes(const pgr_bcast_t *b)
{
    return b->n;
}

void
pgr_bcast_result(const pgr_bcast_t *b, int i, pgr_bcast_result_t *out)
{
    const bnode_t *nd = &b->nodes[i];

    memset(out, 0, sizeof(*out));
    out->node_id = nd->id;
    out->latency_us = (int64_t)nd->latency_us;
    if (b->merge)
        pgr_merge_node_result(b->merge, i, &out->ok, &out->rows, &out->sqlstate, &out->message);
}

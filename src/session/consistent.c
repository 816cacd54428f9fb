/* Consistent broadcast reads (see consistent.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/broadcast.h"
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"
#include "session/consistent.h"
#include "session/reply.h"

/* The insert position, not pg_current_wal_lsn(): with synchronous_commit off a commit
 * record may not be written yet when the client hears of its commit (relay.c's read-your-
 * writes takes the same one). */
#define PROBE_SQL "SELECT pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text"

/* WAL page geometry (PostgreSQL's defaults, XLOG_BLCKSZ and the page headers). */
#define WAL_PAGE       8192
#define WAL_SHORT_PHD  24
#define WAL_LONG_PHD   40

bool
pgr_consistent_needed(pgr_client_t *cl, const pgr_route_t *route, char *primary, size_t cap)
{
    pgr_health_t *h;
    bool replica = false;

    primary[0] = '\0';
    if (!cl->bcast_lsn || !route->read || cl->bcast_wait[0])
        return false;
    if ((h = calloc(PGR_CLUSTER_MAX_NODES, sizeof(*h))) == NULL)
        return true; /* out of memory: "no healthy primary" fails the read, nothing runs */
    size_t n = pgr_cluster_all_health(cl->rt->cluster, h, PGR_CLUSTER_MAX_NODES);
    if (n > PGR_CLUSTER_MAX_NODES)
        n = PGR_CLUSTER_MAX_NODES;
    for (size_t i = 0; i < n; i++) {
        if (h[i].state == PGR_NODE_REMOVED ||
            (route->role != PGR_ROLE_AUTO && h[i].role != route->role))
            continue;
        replica |= h[i].role == PGR_ROLE_REPLICA;
        if (h[i].role == PGR_ROLE_PRIMARY && h[i].state == PGR_NODE_HEALTHY && !primary[0])
            snprintf(primary, cap, "%s", h[i].node_id);
    }
    if (!primary[0]) {
        /* The primary may lie outside the broadcast's nodes (route->role): look again. */
        for (size_t i = 0; i < n && !primary[0]; i++)
            if (h[i].role == PGR_ROLE_PRIMARY && h[i].state == PGR_NODE_HEALTHY)
                snprintf(primary, cap, "%s", h[i].node_id);
    }
    free(h);
    return replica;
}

/* "16/B374D848" (hex, a slash, hex; each half at most 8 digits) into *lsn. */
static bool
lsn_parse(const uint8_t *p, int32_t len, uint64_t *lsn)
{
    uint64_t half[2] = { 0, 0 };
    int slash = 0, digits = 0;

    for (int32_t i = 0; i < len; i++) {
        char c = (char)p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (c == '/' && digits > 0 && slash == 0) {
            slash = 1;
            digits = 0;
        } else if (d >= 0 && digits < 8) {
            half[slash] = half[slash] << 4 | (uint64_t)d;
            digits++;
        } else {
            return false;
        }
    }
    *lsn = half[0] << 32 | half[1];
    return slash == 1 && digits > 0;
}

/* The position a replica must replay to. The insert position just past a page header (where
 * the next record would begin) is the end of the last record minus that header: no record
 * ends inside a header, so a replica that replayed to the page boundary has it all — and it
 * would never reach the position itself on an idle primary. */
static uint64_t
lsn_target(uint64_t lsn)
{
    uint64_t off = lsn % WAL_PAGE;
    if (off == WAL_SHORT_PHD || off == WAL_LONG_PHD)
        return lsn - off;
    return lsn;
}

/* The probe's reply, one single-node result: its value, or its error. */
static int
probe_out_cb(void *arg, const uint8_t *p, size_t n)
{
    pgr_client_t *cl = arg;
    size_t off = 0;
    pgr_frame_t f;

    while (pgr_frame_next(p + off, n - off, PGR_PHASE_BACKEND, NULL, &f) == PGR_FRAME_OK) {
        off += f.len;
        if (f.type == 'D') {
            pgr_be_datarow_t d;
            pgr_value_iter_t it;
            pgr_value_t v;
            if (pgr_be_datarow_decode(f.body, f.body_len, &d) == 0 && d.ncols == 1) {
                pgr_be_datarow_iter(&d, &it);
                uint64_t lsn;
                if (pgr_value_next(&it, &v) && v.len > 0 && lsn_parse(v.data, v.len, &lsn)) {
                    lsn = lsn_target(lsn);
                    snprintf(cl->bcast_wait, sizeof(cl->bcast_wait), "%X/%X",
                             (unsigned)(lsn >> 32), (unsigned)lsn);
                }
            }
        } else if (f.type == 'E') {
            pgr_be_notice_t e;
            if (pgr_be_notice_decode(f.body, f.body_len, &e) == 0)
                snprintf(cl->bcast_probe_err, sizeof(cl->bcast_probe_err), "%s %s",
                         e.sqlstate ? e.sqlstate : "", e.message ? e.message : "");
        }
    }
    return 0;
}

static size_t
probe_pending_cb(void *arg)
{
    (void)arg;
    return 0;
}

static void
probe_done_cb(void *arg, char status)
{
    pgr_client_t *cl = arg;
    char msg[300];

    pgr_bcast_free(cl->bcast);
    cl->bcast = NULL;
    pgr_client_set_state(cl, PGR_CLIENT_IDLE);
    if (cl->rt->shutting_down) {
        pgr_client_send_error(cl, "FATAL", "57P01", NULL,
                              "terminating connection due to administrator command");
        return;
    }
    if (status != 'I')
        cl->bcast_wait[0] = '\0'; /* not a clean answer: do not trust it */
    if (!cl->bcast_wait[0]) {
        snprintf(msg, sizeof(msg),
                 "pgrouter.broadcast_consistency: cannot take the primary's WAL position: %s",
                 cl->bcast_probe_err[0] ? cl->bcast_probe_err : "no answer");
        pgr_reply_error(cl, "08006", msg);
    }
    /* With the position, the input is dispatched again and its broadcast starts. */
    pgr_conn_read_start(&cl->conn);
    if (pgr_iobuf_len(&cl->conn.in) > 0)
        pgr_client_input(cl);
}

int
pgr_consistent_probe(pgr_client_t *cl, const char *primary)
{
    static const pgr_bcast_cbs_t cbs = { probe_out_cb, probe_pending_cb, probe_done_cb, NULL,
                                         NULL, NULL };
    const pgr_user_config_t *u = pgr_config_find_user(cl->rt->cfg, cl->user);
    pgr_bcast_opts_t opts = {
        .user = cl->user,
        .database = cl->database,
        .password = u ? u->password : NULL,
        .timeout_ms = cl->rt->cfg->broadcast.timeout_ms,
    };
    const char *ids[1] = { primary };
    pgr_writer_t w;
    int rc;

    cl->bcast_wait[0] = '\0';
    cl->bcast_probe_err[0] = '\0';
    if ((rc = pgr_bcast_new(cl->rt->cluster, ids, 1, &opts, &cbs, cl, &cl->bcast)) != 0)
        return rc;
    pgr_writer_init_grow(&w);
    pgr_fe_write_query(&w, PROBE_SQL);
    rc = w.err ? w.err : pgr_bcast_send(cl->bcast, w.buf, w.len, NULL, PGR_MERGE_FAIL, false);
    pgr_writer_free(&w);
    if (rc != 0) {
        pgr_bcast_free(cl->bcast);
        cl->bcast = NULL;
        return rc;
    }
    pgr_client_set_state(cl, PGR_CLIENT_BROADCAST);
    return 0;
}

bool
pgr_consistent_put_wait(const pgr_client_t *cl, pgr_writer_t *w)
{
    char sql[1024];
    int64_t t = cl->rt->cfg->broadcast.timeout_ms;

    if (!cl->bcast_wait[0])
        return false;
    /* A little inside broadcast.timeout, so that the node's own reason is what the client
     * hears rather than the timeout's. On a primary (not in recovery) it returns at once. */
    t = t > 200 ? t - 100 : t > 1 ? t / 2 : 1;
    snprintf(sql, sizeof(sql),
             "DO $pgrouter$ DECLARE deadline timestamptz := pg_catalog.clock_timestamp() + "
             "interval '%lld milliseconds'; BEGIN "
             "IF pg_catalog.pg_is_in_recovery() THEN "
             "WHILE COALESCE(pg_catalog.pg_last_wal_replay_lsn(), '0/0'::pg_catalog.pg_lsn) "
             "OPERATOR(pg_catalog.<) '%s'::pg_catalog.pg_lsn LOOP "
             "IF pg_catalog.clock_timestamp() > deadline THEN "
             "RAISE EXCEPTION USING ERRCODE = '57014', MESSAGE = pg_catalog.format("
             "'replica has not replayed the primary''s WAL up to %%s within "
             "broadcast.timeout (replayed up to %%s)', '%s', "
             "pg_catalog.pg_last_wal_replay_lsn()); END IF; "
             "PERFORM pg_catalog.pg_sleep(0.002); END LOOP; END IF; END $pgrouter$",
             (long long)t, cl->bcast_wait, cl->bcast_wait);
    pgr_fe_write_query(w, sql);
    return true;
}

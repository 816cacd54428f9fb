/* The outcome of a session's last broadcast, per node, for SHOW pgrouter.last_broadcast. */
#include <stdio.h>
#include <string.h>

#include "fanout/broadcast.h"
#include "protocol/backend.h"
#include "session/lastbcast.h"

typedef struct pgr_multi_result {
    char node_id[PGR_NODE_ID_MAX];
    bool ok;
    uint64_t rows;
    char sqlstate[6];
    char message[200];
    int64_t latency_us;
} pgr_multi_result_t;

void
pgr_lastbcast_keep(pgr_client_t *cl, const struct pgr_bcast *b)
{
    int n = pgr_bcast_n_nodes(b);
    pgr_multi_result_t *r = calloc((size_t)n, sizeof(*r));

    if (r == NULL)
        return;
    for (int i = 0; i < n; i++) {
        pgr_bcast_result_t br;
        pgr_bcast_result(b, i, &br);
        snprintf(r[i].node_id, sizeof(r[i].node_id), "%s", br.node_id);
        r[i].ok = br.ok;
        r[i].rows = br.rows;
        snprintf(r[i].sqlstate, sizeof(r[i].sqlstate), "%s", br.sqlstate ? br.sqlstate : "");
        snprintf(r[i].message, sizeof(r[i].message), "%s", br.message ? br.message : "");
        r[i].latency_us = br.latency_us;
    }
    pgr_lastbcast_free(cl);
    cl->last_bcast = r;
    cl->n_last_bcast = n;
}

void
pgr_lastbcast_free(pgr_client_t *cl)
{
    free(cl->last_bcast);
    cl->last_bcast = NULL;
    cl->n_last_bcast = 0;
}

void
pgr_lastbcast_show(pgr_client_t *cl, pgr_writer_t *w)
{
    static const struct { const char *name; int32_t oid; } cols[] = {
        { "node", 25 }, { "ok", 16 }, { "rows", 20 }, { "sqlstate", 25 }, { "message", 25 },
        { "latency_ms", 701 },
    };
    pgr_be_field_t f[6];
    char rows[32], lat[32];

    for (int i = 0; i < 6; i++)
        f[i] = (pgr_be_field_t){ .name = cols[i].name, .type_oid = cols[i].oid, .typlen = -1,
                                 .typmod = -1 };
    pgr_be_write_rowdesc(w, 6, f);
    for (int i = 0; i < cl->n_last_bcast; i++) {
        const pgr_multi_result_t *r = &cl->last_bcast[i];
        snprintf(rows, sizeof(rows), "%llu", (unsigned long long)r->rows);
        snprintf(lat, sizeof(lat), "%.3f", (double)r->latency_us / 1000.0);
        pgr_value_t v[6] = {
            { (const uint8_t *)r->node_id, (int32_t)strlen(r->node_id) },
            { (const uint8_t *)(r->ok ? "t" : "f"), 1 },
            { (const uint8_t *)rows, (int32_t)strlen(rows) },
            { r->sqlstate[0] ? (const uint8_t *)r->sqlstate : NULL, r->sqlstate[0] ? 5 : -1 },
            { r->message[0] ? (const uint8_t *)r->message : NULL,
              r->message[0] ? (int32_t)strlen(r->message) : -1 },
            { (const uint8_t *)lat, (int32_t)strlen(lat) },
        };
        pgr_be_write_datarow(w, 6, v);
    }
    pgr_be_write_complete(w, "SHOW");
}

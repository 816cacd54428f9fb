/* The outcome of a session's last broadcast on each node — ok, rows, SQLSTATE and message,
 * latency — kept when the broadcast ends (session/multi) and shown by SHOW
 * pgrouter.last_broadcast (session/pgrvar). */
#ifndef PGR_SESSION_LASTBCAST_H
#define PGR_SESSION_LASTBCAST_H

#include "session/client.h"

struct pgr_bcast;

/* Keep b's per-node results as the session's last broadcast (the previous ones are dropped;
 * out of memory keeps nothing). */
void pgr_lastbcast_keep(pgr_client_t *cl, const struct pgr_bcast *b);
/* SHOW pgrouter.last_broadcast into w: node, ok, rows, sqlstate, message, latency_ms. */
void pgr_lastbcast_show(pgr_client_t *cl, pgr_writer_t *w);
void pgr_lastbcast_free(pgr_client_t *cl);

#endif

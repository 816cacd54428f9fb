/* Consistent broadcast reads (SET pgrouter.broadcast_consistency = 'lsn'): before a broadcast
 * read, the primary's current WAL position (pg_current_wal_insert_lsn()) is taken on a connection of
 * the client's own pool; then every node connection of the broadcast first waits, on the
 * server, until it has replayed past that position (a replica; a primary passes at once), up
 * to broadcast.timeout, so the merged result holds everything committed before the read. */
#ifndef PGR_SESSION_CONSISTENT_H
#define PGR_SESSION_CONSISTENT_H

#include "session/client.h"

/* Does the broadcast of route need the primary's position first? (The setting is on, it is a
 * read, no position is taken yet, and a replica takes part.) *primary gets the healthy
 * primary's id, or "" when there is none. */
bool pgr_consistent_needed(pgr_client_t *cl, const pgr_route_t *route, char *primary,
                           size_t cap);

/* Take the primary's position on a connection of node primary: the client is in state
 * BROADCAST meanwhile (cl->bcast is the probe). When it is known, cl->bcast_wait holds it and
 * the client's input is dispatched again (the broadcast then starts with it); when it cannot
 * be taken, the statement fails with the reason. 0, or PGR_ENOMEM (nothing started). */
int pgr_consistent_probe(pgr_client_t *cl, const char *primary);

/* The wait for cl->bcast_wait, as one Query for a fresh node connection's preamble (a
 * PGR_BCAST_UNIT_GATE unit: its failure is the node's). Nothing when no position is set;
 * returns whether it wrote one. */
bool pgr_consistent_put_wait(const pgr_client_t *cl, pgr_writer_t *w);

#endif

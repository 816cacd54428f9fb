/* Carrying a client's session state over the server connections it lands on: what each
 * statement it runs does to its session — a SET that moves with it (replayed from cl->extras),
 * a RESET that returns to the client's own startup values (not the server connection's), state
 * that cannot move (pins, recorded on the connection's ledger), DEALLOCATE under pgrouter's
 * names. A change takes effect when the server confirms it: at the end of its segment (the
 * ReadyForQuery that follows), and only if the segment had no error. */
#ifndef PGR_SESSION_CARRY_H
#define PGR_SESSION_CARRY_H

#include "route/classify.h"
#include "session/client.h"

/* A simple Query on its way to the server (segment seg). restore gets the SQL (statements
 * ending in ';') that must run right after it to give the client its own startup values back
 * after a RESET, RESET ALL or DISCARD ALL — the caller appends it to the query and cuts out its
 * CommandCompletes (*n_client: how many the client's own statements give) — unless *alone:
 * then it must run as a query of its own after the client's (DISCARD ALL). 0 or PGR_E*. */
int pgr_carry_query(pgr_client_t *cl, const char *sql, size_t len, uint32_t seg,
                    pgr_writer_t *restore, int *n_client, bool *alone);

/* A statement that runs through the extended protocol (the unnamed Parse, or a Bind of a named
 * statement) in segment seg; *cls (may be NULL) gets its class. 0 or PGR_E*. */
int pgr_carry_statement(pgr_client_t *cl, const char *sql, size_t len, uint32_t seg,
                        pgr_stmt_class_t *cls);

/* Nothing in c that running it would make carry note beyond the write mark (no pin, no SET,
 * RESET or BEGIN, no parse error): a named statement whose text this is may skip
 * pgr_carry_statement at each Bind for pgr_carry_plain_bind. */
bool pgr_carry_is_plain(const pgr_classification_t *c);
/* The Bind of a plain statement of class cls. */
void pgr_carry_plain_bind(pgr_client_t *cl, int cls);

/* "DEALLOCATE [PREPARE] name" / "DEALLOCATE ALL": the name is the client's, so it is
 * translated; ALL also empties the connection's record. Returns a replacement query (in buf)
 * or NULL to send the text unchanged. Transaction mode only. */
const char *pgr_carry_deallocate(pgr_client_t *cl, const char *sql, char *buf, size_t cap);

/* The server ended segment seg (its ReadyForQuery): its changes take effect, or are dropped
 * when it failed. */
void pgr_carry_segment_end(pgr_client_t *cl, uint32_t seg, bool failed);

/* The server connection goes away: changes not confirmed are dropped. */
void pgr_carry_forget(pgr_client_t *cl);

#endif

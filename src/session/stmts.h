/* Prepared statements: one module for the relay (session/relay.c, carry.c) and for broadcast
 * (session/multi.c) alike.
 *
 * A client's named statements are recorded here by the client's name, each with a sequence
 * number from the client's one counter. On a server connection a statement lives under one name
 * derived from its key, (client id << 32 | kind | seq):
 *
 *   "pgr_<client>_<seq>"   the client's text, as the relay sends it;
 *   "pgr_<client>_b<seq>"  broadcast's variant, the merge plan's rewrite of the same statement
 *                          (LIMIT n+m), kept apart so the two texts never meet under one name.
 *
 * Both are prepared lazily, on the first Bind or Describe that needs them on that connection;
 * the connection's ledger (session/state.h) records the keys it holds, least recently used
 * first, and closes the oldest beyond PGR_SERVER_STMTS_MAX. Lookups are hashed: by name here,
 * by key in the ledger, by sequence number for a broadcast's preamble. */
#ifndef PGR_SESSION_STMTS_H
#define PGR_SESSION_STMTS_H

#include "core/base.h"
#include "core/u64map.h"

/* A client's named prepared statement. */
typedef struct pgr_stmt {
    char *name;         /* the client's name */
    uint32_t seq;       /* its server names are derived from (client id, seq) */
    uint8_t *rest;      /* the Parse body after the name: query\0, int16 n, n x int32 */
    size_t rest_len;
    int cls;            /* its route/classify class (pgr_stmt_class_t), or PGR_STMT_LOCAL */
    bool plain;         /* nothing for session/carry to note when it runs (no pin, SET, RESET,
                           BEGIN): a Bind of it skips the classifier */
} pgr_stmt_t;

/* A statement pgrouter answers itself (a pgrouter.* SHOW / SET): never sent to a server. */
#define PGR_STMT_LOCAL (-1)

typedef struct pgr_stmts {
    pgr_stmt_t *v;
    size_t n, cap;
    uint32_t next_seq;
    pgr_u64map_t by_name; /* hash of the name -> index in v */
    pgr_u64map_t by_seq;  /* seq -> index in v */
    bool collided;        /* two names share a hash: misses fall back to a scan */
} pgr_stmts_t;

#define PGR_STMTS_MAX 10000 /* per client */
#define PGR_SERVER_STMTS_MAX 2000 /* per server connection; the oldest are closed beyond */

pgr_stmt_t *pgr_stmts_find(pgr_stmts_t *s, const char *name);
/* The statement with sequence number seq, or NULL (a replaced or removed one is gone). */
pgr_stmt_t *pgr_stmts_by_seq(pgr_stmts_t *s, uint32_t seq);
/* Record (or replace) name with a new sequence number. NULL when out of memory or over the cap. */
pgr_stmt_t *pgr_stmts_add(pgr_stmts_t *s, const char *name, const uint8_t *rest, size_t rest_len);
void pgr_stmts_remove(pgr_stmts_t *s, const char *name);
void pgr_stmts_free(pgr_stmts_t *s);

/* The kind of a statement's server copy. */
typedef enum pgr_stmt_kind {
    PGR_STMT_RELAY,     /* the client's text */
    PGR_STMT_BROADCAST, /* broadcast's rewrite of it */
} pgr_stmt_kind_t;

#define PGR_STMT_BCAST_BIT 0x80000000u /* a broadcast variant's mark in a key's low word */

/* The ledger key of a client's statement on a server connection. */
static inline uint64_t
pgr_stmt_key(uint64_t client_id, uint32_t seq, pgr_stmt_kind_t kind)
{
    return client_id << 32 | (kind == PGR_STMT_BROADCAST ? PGR_STMT_BCAST_BIT : 0) | seq;
}

/* The server name of a key, into buf (at least 48 bytes): the only place names are made. */
void pgr_stmt_key_name(char *buf, size_t cap, uint64_t key);

/* The relay's name for a statement: pgr_stmt_key_name of its PGR_STMT_RELAY key. */
void pgr_stmt_server_name(char *buf, size_t cap, uint64_t client_id, uint32_t seq);

/* A small set of sequence numbers (the statements one broadcast batch parses or needs). */
typedef struct pgr_stmt_seqs {
    uint32_t *v;
    size_t n, cap;
} pgr_stmt_seqs_t;

/* Add seq unless present: 0 or PGR_ENOMEM. */
int pgr_stmt_seqs_add(pgr_stmt_seqs_t *v, uint32_t seq);
bool pgr_stmt_seqs_has(const pgr_stmt_seqs_t *v, uint32_t seq);
void pgr_stmt_seqs_free(pgr_stmt_seqs_t *v);

#endif

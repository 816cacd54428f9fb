/* Routing hints in a statement's leading comments: a block comment reading `pgrouter: primary`,
 * `pgrouter: replica`, `pgrouter: broadcast` or `pgrouter: node=ID` (or the same in a `--` line
 * comment). Pure text scanning; no parser, no allocation. */
#ifndef PGR_ROUTE_HINT_H
#define PGR_ROUTE_HINT_H

#include "core/base.h"

typedef enum {
    PGR_HINT_NONE,
    PGR_HINT_PRIMARY,
    PGR_HINT_REPLICA,
    PGR_HINT_NODE,
    PGR_HINT_BROADCAST,
} pgr_hint_kind_t;

/* Longest node id a hint accepts (the config's rule: [A-Za-z0-9_-]{1,63}). */
#define PGR_HINT_NODE_MAX 63

typedef struct pgr_hint {
    pgr_hint_kind_t kind;
    char node[PGR_HINT_NODE_MAX + 1]; /* PGR_HINT_NODE: the id, as written */
    bool error;                       /* a malformed or conflicting hint; kind is NONE */
    char error_msg[160];              /* why, naming the comment's text */
} pgr_hint_t;

/* Scan the comments before the first token of sql[0..len) (whitespace, `--` line comments and
 * block comments, which nest, as PostgreSQL's lexer reads them). A comment whose text starts
 * with `pgrouter` and a colon (any case, any spaces) is a hint; one that does not is ignored.
 * The hint words are primary, replica, broadcast and node=ID; anything else after the colon is
 * an error. Several hint comments may lead a statement: repeating the same hint is allowed,
 * two different hints are an error (neither wins). Scanning stops at the first token, so a
 * comment after it is never a hint. Never fails; *out is always fully set. */
void pgr_hint_parse(const char *sql, size_t len, pgr_hint_t *out);

/* "none", "primary", "replica", "node", "broadcast". */
const char *pgr_hint_kind_name(pgr_hint_kind_t k);

#endif

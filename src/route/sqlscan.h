/* A lexical pre-scan of SQL text, before the parser sees it: an upper bound on how deep the
 * parse tree can be. libpg_query's protobuf output (protobuf-c packing) costs time quadratic in
 * the tree's depth: a left-deep chain of 20,000 operators (40 KB) takes 1.5 s, 100,000 takes
 * half a minute, on the one loop thread. The classifier refuses to parse text whose bound is
 * over its limit (and routes it as a write). Pure; no allocation. */
#ifndef PGR_ROUTE_SQLSCAN_H
#define PGR_ROUTE_SQLSCAN_H

#include "core/base.h"

/* An upper bound on the nesting of sql[0..len), in tree levels, counted as the parser builds
 * them: every operator, keyword and opening bracket may add a level to the chain it is in;
 * a comma, AND or OR (which the parser flattens into lists) and ';' start a new chain; a
 * bracketed part adds its own depth to the chain it sits in. Strings, quoted identifiers,
 * dollar quotes and comments are skipped. Identifiers count like keywords (the scan cannot
 * tell them apart), so the bound is loose for long word runs, never low for operator chains.
 * Stops counting at cap and returns cap (the caller only needs to know "too deep"). */
size_t pgr_sqlscan_depth(const char *sql, size_t len, size_t cap);

#endif

/* What the classifier knows about functions by name: which write (a built-in list plus the
 * configured routing.write_functions), which take session-level locks, which aggregate. Pure
 * string matching; no parser. */
#ifndef PGR_ROUTE_FUNCS_H
#define PGR_ROUTE_FUNCS_H

#include "core/base.h"

typedef struct pgr_funcs pgr_funcs_t;

/* The configured writing functions: "name" (any schema) or "schema.name" (that schema, or an
 * unqualified call, which the search path may resolve to it). Copied. Returns 0, PGR_EINVAL
 * (NULL, empty, or an empty part around the last dot) or PGR_ENOMEM. */
int pgr_funcs_new(const char *const *names, size_t n, pgr_funcs_t **out) PGR_MUSTCHECK;
void pgr_funcs_free(pgr_funcs_t *f);

/* A call of schema.name (schema NULL when unqualified) writes, takes locks, or needs the
 * primary: a built-in (matched by name whatever the schema, so pg_catalog.nextval and a
 * look-alike in another schema both count: the safe side) or a configured one. f may be NULL. */
bool pgr_funcs_writes(const pgr_funcs_t *f, const char *schema, const char *name);

/* pg_advisory_lock[_shared] and pg_try_advisory_lock[_shared]: locks that outlive the
 * transaction (the _xact_ ones do not). */
bool pgr_funcs_session_lock(const char *name);

/* A built-in aggregate of PostgreSQL 15 (count, sum, ...). */
bool pgr_funcs_aggregate(const char *name);

#endif

/* The YAML front end of the config loader: libyaml events -> a small tree of scalars, mappings
 * and sequences that remembers where each node was written, plus the error list every config
 * message goes through. Anchors and aliases are refused here; schema checks live in
 * config_schema.c and config_check.c. */
#ifndef PGR_CORE_CONFIG_YAML_H
#define PGR_CORE_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base.h"
#include "pgrouter/config.h"

typedef enum { PGR_YNODE_SCALAR, PGR_YNODE_MAP, PGR_YNODE_SEQ } pgr_ynode_kind_t;

/* One node of a parsed document. A MAP holds 2*k kids, key (always a SCALAR) then value; a SEQ
 * holds its items in order. line/col are 1-based and point at the node's first character.
 * `alias` marks the placeholder left where an alias stood (already reported: skip it). */
typedef struct pgr_ynode {
    pgr_ynode_kind_t kind;
    int line, col;
    char *str;   /* SCALAR: the text, NUL-terminated */
    bool plain;  /* SCALAR: written without quotes (so `null` and `~` mean null) */
    bool alias;
    struct pgr_ynode **kids;
    size_t n, cap; /* kids in use, allocated (grown by doubling: loading is linear) */
} pgr_ynode_t;

/* One load's context: the name used in messages and the error list. nomem latches an
 * allocation failure; every message past it is dropped and the load returns PGR_ENOMEM. */
typedef struct pgr_config_ctx {
    const char *name;
    pgr_config_errors_t *errs;
    bool nomem;
} pgr_config_ctx_t;

/* Parse yaml[0..len) into *root (a single document). Returns 0, or PGR_ECONFIG after recording
 * the syntax error, the anchors/aliases found, or an empty/multi-document stream; PGR_ENOMEM.
 * *root may be set (and must be freed) even when anchors were reported, so the schema check
 * can still report the rest. */
int pgr_config_yaml_parse(pgr_config_ctx_t *ctx, const char *yaml, size_t len, pgr_ynode_t **root);
void pgr_config_yaml_free(pgr_ynode_t *node);

/* Record "NAME:LINE:COL: PATH: <fmt>" (PATH and its ": " are left out when path is NULL;
 * LINE:COL when line is 0, for errors about the whole file). */
void pgr_config_err(pgr_config_ctx_t *ctx, int line, int col, const char *path, const char *fmt, ...)
    PGR_PRINTF(5, 6);

/* Append msg (taken over) to errs; 0 or PGR_ENOMEM (msg is then the caller's). Every writer
 * of an error list goes through here: the list's capacity is implied by its count. */
int pgr_config_errors_push(pgr_config_errors_t *errs, char *msg);

/* How a value is shown after "got": a scalar as "text" (escaped, cut at 60 characters), `null`,
 * `a mapping` or `a sequence` (`an empty ...` when empty). Never used for secrets. */
const char *pgr_config_got(const pgr_ynode_t *v, char *buf, size_t len);

/* Is v a null scalar (plain empty, ~, null)? */
bool pgr_config_is_null(const pgr_ynode_t *v);

#endif

/* Function knowledge for the classifier (see funcs.h): sorted built-in tables searched with
 * bsearch, a few prefixes, and the configured list. */
#include <string.h>

#include "route/funcs.h"

/* Functions that write, take locks, change state only the primary has, or fail on a hot
 * standby. Sorted (strcmp) for bsearch. */
static const char *const write_funcs[] = {
    "brin_desummarize_range",
    "brin_summarize_new_values",
    "brin_summarize_range",
    "currval",                  /* session state of an earlier nextval: on the primary */
    "dblink_exec",
    "gin_clean_pending_list",
    "lastval",                  /* idem */
    "lo_creat",
    "lo_create",
    "lo_from_bytea",
    "lo_import",
    "lo_open",
    "lo_put",
    "lo_truncate",
    "lo_truncate64",
    "lo_unlink",
    "lo_write",
    "lowrite",
    "nextval",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_cancel_backend",
    "pg_copy_logical_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_create_restore_point",
    "pg_current_wal_flush_lsn", /* these three fail during recovery */
    "pg_current_wal_insert_lsn",
    "pg_current_wal_lsn",
    "pg_current_xact_id",
    "pg_drop_replication_slot",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_write",
    "pg_import_system_collations",
    "pg_logical_emit_message",
    "pg_logical_slot_get_binary_changes",
    "pg_logical_slot_get_changes",
    "pg_notify",
    "pg_reload_conf",
    "pg_replication_slot_advance",
    "pg_rotate_logfile",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_switch_wal",
    "pg_switch_xlog",
    "pg_terminate_backend",
    "pg_truncate_visibility_map",
    "set_config",
    "setval",
    "txid_current",
};

/* Every function whose name starts so writes. */
static const char *const write_prefixes[] = {
    "pg_advisory_",             /* locks, xact or not, and unlocks: all on the primary */
    "pg_try_advisory_",
    "pg_replication_origin_",
    "pg_stat_reset",
};

/* Aggregates of PostgreSQL 15 (the classifier also takes any call with *, DISTINCT, ORDER BY,
 * FILTER or WITHIN GROUP as one). Sorted. A user-defined aggregate is not known. */
static const char *const aggregates[] = {
    "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "corr",
    "count", "covar_pop", "covar_samp", "every", "json_agg", "json_object_agg",
    "jsonb_agg", "jsonb_object_agg", "max", "min", "mode", "percentile_cont",
    "percentile_disc", "range_agg", "range_intersect_agg", "regr_avgx", "regr_avgy",
    "regr_count", "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy",
    "regr_syy", "stddev", "stddev_pop", "stddev_samp", "string_agg", "sum", "var_pop",
    "var_samp", "variance", "xmlagg",
};

typedef struct user_func {
    char *schema;               /* NULL: any schema */
    char *name;
} user_func_t;

struct pgr_funcs {
    size_t n;
    user_func_t f[];
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
in_table(const char *name, const char *const *table, size_t n)
{
    return bsearch(&name, table, n, sizeof(table[0]), cmp_str) != NULL;
}

int
pgr_funcs_new(const char *const *names, size_t n, pgr_funcs_t **out)
{
    pgr_funcs_t *fs = calloc(1, sizeof(*fs) + n * sizeof(fs->f[0]));
    int rc = PGR_ENOMEM;
    *out = NULL;
    if (fs == NULL)
        return PGR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s = names[i];
        if (s == NULL || s[0] == '\0') {
            rc = PGR_EINVAL;
            goto fail;
        }
        const char *dot = strrchr(s, '.');
        user_func_t *u = &fs->f[fs->n++];
        if (dot != NULL && (dot == s || dot[1] == '\0')) {
            rc = PGR_EINVAL;
            goto fail;
        }
        u->schema = dot ? strndup(s, (size_t)(dot - s)) : NULL;
        u->name = strdup(dot ? dot + 1 : s);
        if (u->name == NULL || (dot && u->schema == NULL))
            goto fail;
    }
    *out = fs;
    return 0;
fail:
    pgr_funcs_free(fs);
    return rc;
}

void
pgr_funcs_free(pgr_funcs_t *fs)
{
    if (fs == NULL)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->f[i].schema);
        free(fs->f[i].name);
    }
    free(fs);
}

bool
pgr_funcs_writes(const pgr_funcs_t *fs, const char *schema, const char *name)
{
    if (in_table(name, write_funcs, PGR_ARRAY_LEN(write_funcs)))
        return true;
    for (size_t i = 0; i < PGR_ARRAY_LEN(write_prefixes); i++)
        if (strncmp(name, write_prefixes[i], strlen(write_prefixes[i])) == 0)
            return true;
    /* pg_create_physical_replication_slot, pg_create_logical_replication_slot */
    size_t n = strlen(name), k = strlen("_replication_slot");
    if (strncmp(name, "pg_create_", 10) == 0 && n > 10 + k &&
        strcmp(name + n - k, "_replication_slot") == 0)
        return true;
    for (size_t i = 0; fs != NULL && i < fs->n; i++) {
        const user_func_t *u = &fs->f[i];
        if (strcmp(u->name, name) == 0 &&
            (u->schema == NULL || schema == NULL || strcmp(u->schema, schema) == 0))
            return true;
    }
    return false;
}

bool
pgr_funcs_session_lock(const char *name)
{
    return strcmp(name, "pg_advisory_lock") == 0 ||
           strcmp(name, "pg_advisory_lock_shared") == 0 ||
           strcmp(name, "pg_try_advisory_lock") == 0 ||
           strcmp(name, "pg_try_advisory_lock_shared") == 0;
}

bool
pgr_funcs_aggregate(const char *name)
{
    return in_table(name, aggregates, PGR_ARRAY_LEN(aggregates));
}

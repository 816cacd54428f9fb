/* The statement classifier: splits a query string into statements with PostgreSQL 15's own
 * parser (libpg_query; classify_pgq.h lists its only users), gives each a class (read, write,
 * DDL, transaction control, setting, utility) and the facts routing needs (READ ONLY, SET LOCAL,
 * pgrouter.* settings, pinning, LIMIT/ORDER BY), reads hints from leading comments, and caches
 * the result in a bounded LRU (qcache.c) by the full text, or by shape (the text with its
 * constants taken out, route/sqlscan.h) when the result cannot depend on the constants. */
#ifndef PGR_ROUTE_CLASSIFY_H
#define PGR_ROUTE_CLASSIFY_H

#include "core/base.h"
#include "route/hint.h"
#include "route/mergeplan.h"

typedef enum {
    PGR_CLASS_READ,      /* SELECT/VALUES/TABLE without locking clause, data-modifying CTE,
                            SELECT INTO, or a writing function; SHOW; EXPLAIN without ANALYZE
                            (EXPLAIN ANALYZE takes the class of its statement); COPY ... TO
                            STDOUT of a table or of a read */
    PGR_CLASS_WRITE,     /* INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM/COPY TO a server file
                            or program/SELECT FOR UPDATE, SHARE, .../SELECT INTO/a SELECT with a
                            data-modifying CTE or a writing function, and anything that does
                            not parse */
    PGR_CLASS_DDL,       /* CREATE/ALTER/DROP/GRANT/REVOKE/COMMENT/SECURITY LABEL/REFRESH/... */
    PGR_CLASS_BEGIN,     /* BEGIN / START TRANSACTION (read_only_txn etc. below) */
    PGR_CLASS_COMMIT,    /* COMMIT / END / COMMIT PREPARED / PREPARE TRANSACTION */
    PGR_CLASS_ROLLBACK,  /* ROLLBACK / ABORT / ROLLBACK PREPARED */
    PGR_CLASS_SAVEPOINT, /* SAVEPOINT / RELEASE / ROLLBACK TO */
    PGR_CLASS_SET,       /* SET / RESET / SET LOCAL / SET TRANSACTION / SET SESSION
                            CHARACTERISTICS / SET CONSTRAINTS / DISCARD */
    PGR_CLASS_UTILITY,   /* everything else (VACUUM, ANALYZE, CLUSTER, REINDEX, LISTEN, UNLISTEN,
                            NOTIFY, LOCK, CHECKPOINT, LOAD, DO, CALL, PREPARE/EXECUTE/DEALLOCATE,
                            DECLARE/FETCH/MOVE/CLOSE) */
} pgr_stmt_class_t;

/* "read", "write", "ddl", "begin", "commit", "rollback", "savepoint", "set", "utility". */
const char *pgr_stmt_class_name(pgr_stmt_class_t c);

typedef enum {
    PGR_ISO_DEFAULT,     /* not given */
    PGR_ISO_READ_UNCOMMITTED,
    PGR_ISO_READ_COMMITTED,
    PGR_ISO_REPEATABLE_READ,
    PGR_ISO_SERIALIZABLE,
} pgr_isolation_t;

typedef enum { PGR_PGRVAR_NONE, PGR_PGRVAR_SET, PGR_PGRVAR_RESET, PGR_PGRVAR_SHOW } pgr_pgrvar_t;

typedef struct pgr_stmt_info {
    pgr_stmt_class_t cls;
    uint32_t text_offset;      /* the statement's bytes in the string: text_offset and */
    uint32_t text_length;      /* text_length (from its first token, no trailing ';') */
    /* Why a SELECT-like statement is not a read, or why a statement is a write in a way its
     * keyword does not show ("calls nextval", "FOR UPDATE", "data-modifying WITH",
     * "SELECT INTO", "EXPLAIN ANALYZE"); empty otherwise. */
    char why[48];
    /* Transaction options: BEGIN/START TRANSACTION, SET TRANSACTION and SET SESSION
     * CHARACTERISTICS AS TRANSACTION. */
    bool read_only_txn;        /* READ ONLY */
    bool read_write_txn;       /* READ WRITE given explicitly */
    bool deferrable;           /* DEFERRABLE */
    pgr_isolation_t isolation;
    bool chain;                /* COMMIT/ROLLBACK AND CHAIN */
    /* The CommandComplete tag PostgreSQL gives the statement, for those pgrouter may answer
     * itself: transaction control ("BEGIN", "START TRANSACTION", "COMMIT" for COMMIT and END,
     * "ROLLBACK" for ROLLBACK and ABORT, "PREPARE TRANSACTION", "COMMIT PREPARED", "ROLLBACK
     * PREPARED", "SAVEPOINT", "RELEASE", and "ROLLBACK" for ROLLBACK TO) and pgrouter.*
     * settings ("SET", also for SET ... TO DEFAULT; "RESET"; "SHOW"). NULL for any other
     * statement. Static text. */
    const char *tag;
    bool txn_plain;            /* a plain BEGIN/START, COMMIT/END or ROLLBACK/ABORT (not
                                  PREPARE TRANSACTION, ... PREPARED, a savepoint) */
    bool set_local;            /* SET LOCAL (also SET LOCAL pgrouter.x) */
    /* SET / RESET / SHOW of a "pgrouter.*" variable (answered by pgrouter itself). SET x TO
     * DEFAULT counts as RESET. RESET ALL and DISCARD ALL are not reported here. */
    pgr_pgrvar_t pgrvar;
    char pgrvar_name[64];      /* e.g. "pgrouter.route" (lower case) */
    char pgrvar_value[128];    /* SET value as text, unquoted ('node:pg2', 'auto', on); a list
                                  is joined with ", " */
    bool pgrvar_bad;           /* the name or value did not fit, or the value is not a plain
                                  constant: the router should refuse the SET */
    /* Creates state that cannot move to another server connection: LISTEN, PREPARE (SQL),
     * DECLARE ... WITH HOLD, CREATE TEMP TABLE/VIEW/SEQUENCE/TABLE AS, SELECT INTO TEMP,
     * SET ROLE / SESSION AUTHORIZATION, session-level SET of any setting (not LOCAL, not
     * TRANSACTION, not pgrouter.*, not TO DEFAULT), SET SESSION CHARACTERISTICS, LOAD,
     * pg_advisory_lock* and pg_try_advisory_lock* (not the _xact_ ones), set_config(..., false)
     * (or a third argument that is not the constant true). */
    bool pins;
    const char *pin_reason;    /* static text when pins, else NULL */
    /* A session-level SET of an ordinary setting: not LOCAL, not TRANSACTION or SESSION
     * CHARACTERISTICS, not ROLE or SESSION AUTHORIZATION, not pgrouter.*, not RESET or TO
     * DEFAULT. Such a statement pins for that reason alone (pin_reason "session-level SET"),
     * which a session that can carry the setting to its next server connection may lift. */
    bool session_set;
    /* For broadcast merges (top-level SELECT/VALUES/TABLE only; false / -1 otherwise). */
    bool has_order_by, has_limit, has_group_by, has_aggregates, has_distinct, is_set_op;
    bool limit_with_ties;      /* FETCH FIRST n ROWS WITH TIES */
    int64_t limit, offset;     /* -1 when absent or not an integer constant */
} pgr_stmt_info_t;

typedef struct pgr_classification {
    int n_stmts;               /* statements in the string (0 for an empty query) */
    pgr_stmt_info_t *stmts;    /* n_stmts entries (NULL when 0) */
    /* Of the whole string: for one statement, its class; for several, READ if every one is
     * READ, WRITE if any is WRITE/DDL/UTILITY, the common class if all have the same one
     * (e.g. all SET), else WRITE. An empty string is READ. WRITE if the text does not parse. */
    pgr_stmt_class_t cls;
    bool pins;                 /* some statement pins; pin_reason is the first one's reason */
    const char *pin_reason;
    bool parse_error;          /* the text did not parse (cls is WRITE, n_stmts 0) */
    char error[160];           /* the parser's message when parse_error */
    int error_cursor;          /* 1-based character position of the error, 0 when unknown */
    pgr_hint_kind_t hint;      /* from the leading comments (hint.h) */
    char hint_node[64];        /* PGR_HINT_NODE: the node id */
    bool hint_error;           /* a malformed pgrouter hint comment: hint_error_msg says why */
    char hint_error_msg[160];
} pgr_classification_t;

typedef struct pgr_classify_stats {
    uint64_t hits, misses, evictions;
    uint64_t uncached;         /* misses whose result was too large to keep */
    size_t entries, bytes;     /* now in the cache (bytes: every entry's allocation) */
    size_t max_entries, max_bytes;
} pgr_classify_stats_t;

typedef struct pgr_classifier pgr_classifier_t;

/* Longer statements are not parsed: they are WRITE with parse_error ("not parsed: ..."). */
#define PGR_CLASSIFY_MAX_PARSE (1024 * 1024)

/* Statements whose depth bound (route/sqlscan.h) is over this, or with brackets nested more
 * than 511 deep, are not parsed either: the parser's output costs time quadratic in depth.
 * About 1,500 levels of a left-deep chain (~30 ms to classify, the worst case). */
#define PGR_CLASSIFY_MAX_DEPTH 3000

/* Average bytes per entry the default byte budget allows (max_bytes = cache_size * this). */
#define PGR_CLASSIFY_BYTES_PER_ENTRY 2048

/* cache_size entries (LRU keyed by the full text: a repeated statement costs one hash lookup
 * and no parse; or by shape: a SELECT/INSERT/UPDATE/DELETE seen before with other constants
 * costs a scan and a second lookup; 0 disables the cache), with a byte budget of cache_size *
 * PGR_CLASSIFY_BYTES_PER_ENTRY (see pgr_classifier_set_max_bytes). write_functions are extra
 * function names (lower case; "name" matches a call of name in any schema, "schema.name" a
 * call of schema.name or of an unqualified name) that make a SELECT a write, besides the
 * built-in list; the strings are copied. Returns 0, PGR_EINVAL (a NULL or empty name) or
 * PGR_ENOMEM. Not thread-safe: one classifier per loop thread. */
int pgr_classifier_new(size_t cache_size, const char *const *write_functions, size_t n,
                       pgr_classifier_t **out) PGR_MUSTCHECK;
/* Frees the classifier and its cache. NULL is a no-op. libpg_query's own per-thread memory
 * stays (other classifiers on the thread use it): see pgr_classify_shutdown. */
void pgr_classifier_free(pgr_classifier_t *c);
/* At exit: release libpg_query's per-thread memory (pg_query_exit) on the calling thread.
 * libpg_query cannot start again on that thread, so a later pgr_classify there that misses
 * the cache fails with PGR_ESHUTDOWN. Safe to call more than once, or with no parse done. */
void pgr_classify_shutdown(void);
/* Change the byte budget (0 means the default); entries are evicted at once to fit. One
 * result larger than the budget, or than 16 KiB and an eighth of it, is never cached (it is
 * still returned). */
void pgr_classifier_set_max_bytes(pgr_classifier_t *c, size_t max_bytes);

/* Classify sql[0..len) (len excludes any NUL; a NUL inside is a parse error). *out points into
 * the cache or the classifier's scratch space and stays valid until the next call on this
 * classifier (or its free). Returns 0, PGR_ENOMEM, or PGR_ESHUTDOWN after
 * pgr_classify_shutdown (then *out is NULL). Parse errors are not failures: they give
 * parse_error with cls WRITE. */
int pgr_classify(pgr_classifier_t *c, const char *sql, size_t len,
                 const pgr_classification_t **out) PGR_MUSTCHECK;

/* Counters: hits, misses, evictions, entries, bytes. Each pgr_classify call is one hit or one
 * miss; a text whose shape's results depend on constants takes two entries (its shape's, saying
 * so, and its own). */
void pgr_classifier_stats(const pgr_classifier_t *c, pgr_classify_stats_t *st);

/* The merge plan of a broadcast statement (one SELECT), parsing sql[0..len) afresh (not
 * cached: only broadcasts ask; classify_plan.c). Returns 0 with *plan filled: plan->unsupported
 * (static text) when the rows can only be concatenated ("GROUP BY", "DISTINCT", "window
 * function", "several statements", "ORDER BY an expression not in the select list", "does not
 * parse", ...); n_keys 0 and no aggregate for a SELECT with neither, and for any statement that
 * is not a SELECT. *rewritten is NULL, or (caller frees) the statement each node must run
 * instead: LIMIT n OFFSET m becomes LIMIT n+m with no OFFSET (the merge skips m and stops after
 * n), deparsed from the modified tree, so comments (hints) are dropped. PGR_ENOMEM on failure
 * (then *rewritten is NULL). Not after pgr_classify_shutdown on the calling thread. */
int pgr_classify_merge_plan(const char *sql, size_t len, pgr_merge_plan_t *plan,
                            char **rewritten) PGR_MUSTCHECK;

#endif

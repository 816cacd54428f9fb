/* Session state that must follow a client from one server connection to the next: the reported
 * settings it has (client_encoding, DateStyle, TimeZone, application_name, ...), the settings
 * from its startup packet, and its named prepared statements. And the matching record of what
 * one server connection has now, kept with the connection while it sits in the pool.
 *
 * When a client lands on a server connection, the relay sends a preamble built here — SETs for
 * the settings that differ (values quoted, never spliced) and Parse for each of the client's
 * statements the connection lacks, under pgrouter's own names — and swallows its replies. Named
 * statements (session/stmts.h) are renamed on the way to the server (transaction mode only).
 * State that cannot be carried (LISTEN, session advisory locks, temp tables, WITH HOLD cursors,
 * SQL-level PREPARE, SET ROLE / SESSION AUTHORIZATION, SETs of unreported settings) pins the
 * client to its server connection instead (route/classify tells which statements do). */
#ifndef PGR_SESSION_STATE_H
#define PGR_SESSION_STATE_H

#include "core/base.h"
#include "core/u64map.h"
#include "protocol/writer.h"
#include "session/stmts.h"

/* The reported settings pgrouter carries across server connections. */
#define PGR_TRACKED_PARAMS(X)                  \
    X(APPLICATION_NAME, "application_name")    \
    X(CLIENT_ENCODING, "client_encoding")      \
    X(DATESTYLE, "DateStyle")                  \
    X(INTERVALSTYLE, "IntervalStyle")          \
    X(TIMEZONE, "TimeZone")                    \
    X(STANDARD_CONFORMING_STRINGS, "standard_conforming_strings")

enum {
#define PGR_TRACKED_ENUM(name, text) PGR_PARAM_##name,
    PGR_TRACKED_PARAMS(PGR_TRACKED_ENUM)
#undef PGR_TRACKED_ENUM
    PGR_N_PARAMS
};

/* The GUC_REPORT parameters a PostgreSQL 15 server reports at login, in its order (a login
 * answered without a server tells what it knows of them, session/login, and the rest when the
 * session first lands on a server, session/link). */
#define PGR_N_REPORTED_PARAMS 13
extern const char *const pgr_reported_params[PGR_N_REPORTED_PARAMS];

typedef struct pgr_params {
    char *v[PGR_N_PARAMS]; /* NULL: unknown */
} pgr_params_t;

/* Index of a tracked parameter (case-insensitive), or -1. */
int pgr_params_index(const char *name);
const char *pgr_params_name(int i);
/* Set value i (copied; NULL clears). PGR_ENOMEM on failure. */
int pgr_params_set(pgr_params_t *p, int i, const char *value);
void pgr_params_free(pgr_params_t *p);

/* The ledger of one server connection: what it carries beyond a fresh connection. Owned by the
 * connection (pool) while it is idle, and dropped when a reset (DISCARD ALL) undoes it. Whoever
 * gives the connection back asks pgr_srv_state_release() how: the decision comes from here
 * alone, so a client's state can only reach another client through what this record says is
 * safe to keep (settings the next client's preamble overwrites, statements under pgrouter's
 * names). */
typedef struct pgr_srv_state {
    pgr_params_t params;
    char *extras;       /* the startup-setting SETs applied to it, or NULL */
    /* (client id << 32 | seq) of the statements prepared on it, least recently used first:
     * a doubly linked list over lru[], indexed by by_key. */
    struct pgr_lru_ent *lru;
    size_t n_stmts, cap_lru;
    uint32_t head, tail, free_ent;
    pgr_u64map_t by_key;
    const char *pin;    /* state only a reset undoes (a temp table, SET ROLE, LISTEN, an
                           advisory lock, a WITH HOLD cursor, SQL PREPARE, ...): static text of
                           the first such reason, or NULL */
    const char *keep_out; /* state not even DISCARD ALL undoes (a placeholder setting made by
                             set_config() or SET of a dotted name, LOAD): static text, or NULL */
    uint64_t last_client; /* the client that ran statements on it last */
    bool sequences;     /* a statement that may set currval()/lastval() ran (any non-read) */
} pgr_srv_state_t;

/* How a server connection goes back. */
typedef enum pgr_ledger_release {
    PGR_LEDGER_KEEP,  /* back to the pool as it is */
    PGR_LEDGER_RESET, /* DISCARD ALL first (the ledger is dropped with it) */
    PGR_LEDGER_CLOSE, /* closed: in the middle of something, or carrying what a reset keeps */
} pgr_ledger_release_t;

/* The decision for a connection whose ledger is st (NULL: nothing recorded, a fresh
 * connection), at_boundary when ReadyForQuery 'I' was seen with nothing in flight either way,
 * in session mode or not. *why gets a static reason for a reset or a close. */
pgr_ledger_release_t pgr_srv_state_release(const pgr_srv_state_t *st, bool at_boundary,
                                           bool session_mode, const char **why);
/* Record that statement text (one statement, classified as pinning with reason, or a session
 * SET) made state on the connection. */
void pgr_srv_state_note_pin(pgr_srv_state_t *st, const char *reason, const char *sql,
                            size_t len);

pgr_srv_state_t *pgr_srv_state_new(void);
void pgr_srv_state_free(void *st);
bool pgr_srv_state_has(const pgr_srv_state_t *st, uint64_t key);
/* key was used: it becomes the most recently used. */
void pgr_srv_state_touch(pgr_srv_state_t *st, uint64_t key);
/* Record key as the most recently used; if the connection then holds more than
 * PGR_SERVER_STMTS_MAX, *evicted gets the least recently used key (to be closed) and true is
 * returned. */
bool pgr_srv_state_add(pgr_srv_state_t *st, uint64_t key, uint64_t *evicted);
void pgr_srv_state_forget(pgr_srv_state_t *st, uint64_t key);
/* DEALLOCATE ALL / DISCARD ALL: none is left. */
void pgr_srv_state_forget_all(pgr_srv_state_t *st);

/* The SQL that applies a client's startup settings (other than user, database, replication,
 * application_name and client_encoding), each as "SET name TO 'value';", from its startup
 * parameters (name\0value\0 ... \0) including `options` (-c name=value, --name=value). NULL
 * when there is none; *err gets a message for a malformed options string. Caller frees. */
char *pgr_state_startup_extras(const char *params, size_t len, const char **err);

/* The same for the one setting name (case-insensitive), or NULL when the client did not start
 * with it. Caller frees. */
char *pgr_state_startup_setting(const char *params, size_t len, const char *name);

/* A statement that returns settings to their reset values: RESET name, SET [SESSION] name
 * {TO | =} DEFAULT (PGR_RESET_ONE, the lower-cased or unquoted name in name), RESET ALL
 * (PGR_RESET_ALL) or DISCARD ALL (PGR_RESET_DISCARD_ALL); else PGR_RESET_NONE. */
typedef enum { PGR_RESET_NONE, PGR_RESET_ONE, PGR_RESET_ALL, PGR_RESET_DISCARD_ALL } pgr_reset_t;
pgr_reset_t pgr_state_reset_kind(const char *sql, size_t len, char *name, size_t cap);

/* Append "SET name TO 'value';" with value quoted as a literal. */
void pgr_state_put_set(pgr_writer_t *w, const char *name, const char *value);

/* Is this statement (one, from the classifier's offsets) a session-level SET of a setting the
 * server reports (ParameterStatus tells its new value, so it moves with the client)? */
bool pgr_state_set_is_tracked(const char *sql, size_t len);

/* SET TRANSACTION ...: transaction-scoped, nothing to carry. */
bool pgr_state_is_set_transaction(const char *sql, size_t len);

#endif

/* The validated configuration: a YAML file (libyaml) turned into one immutable snapshot.
 * A reload builds a new snapshot and swaps the pointer; nothing mutates a loaded one.
 * Durations are in milliseconds, sizes in bytes. Every string is owned by the snapshot and
 * freed with pgr_config_free(). */
#ifndef PGROUTER_CONFIG_H
#define PGROUTER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum { PGR_TLS_DISABLE, PGR_TLS_ALLOW, PGR_TLS_PREFER, PGR_TLS_REQUIRE } pgr_tls_mode_t;
/* PGR_AUTH_PASSWORD (cleartext) is only ever chosen by an auth.hba_file line. */
typedef enum {
    PGR_AUTH_TRUST,
    PGR_AUTH_MD5,
    PGR_AUTH_SCRAM,
    PGR_AUTH_PASSTHROUGH,
    PGR_AUTH_PASSWORD,
} pgr_auth_method_t;
/* auth.passthrough_allow_plain: where a pass-through password may come without TLS. */
typedef enum { PGR_PLAIN_OFF, PGR_PLAIN_LOOPBACK } pgr_plain_t;
typedef enum { PGR_POOL_TRANSACTION, PGR_POOL_SESSION } pgr_pool_mode_t;
typedef enum { PGR_ROLE_AUTO, PGR_ROLE_PRIMARY, PGR_ROLE_REPLICA } pgr_role_t;
typedef enum { PGR_READS_REPLICAS, PGR_READS_PRIMARY, PGR_READS_ANY } pgr_reads_t;
typedef enum { PGR_BALANCE_LEAST_BUSY, PGR_BALANCE_ROUND_ROBIN, PGR_BALANCE_RANDOM } pgr_balance_t;
typedef enum { PGR_RYW_OFF, PGR_RYW_SESSION } pgr_ryw_t;
typedef enum { PGR_ONERR_AUTO, PGR_ONERR_WARN, PGR_ONERR_FAIL } pgr_on_node_error_t;

/* Pool limits. In a node's `pool:` block a field left unset is -1 and inherits the global. */
typedef struct pgr_pool_config {
    pgr_pool_mode_t mode;
    int max_size;
    int min_idle;
    int64_t idle_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t acquire_timeout_ms;
    /* Global only (the top-level `pool:` block; a node's block does not take them); 0: off.
     * query_timeout: a statement out on a server connection this long (since the client's
     * last message) ends the session. idle_transaction_timeout: a session idle inside a
     * transaction this long is ended, its server connection rolled back and returned. */
    int64_t query_timeout_ms;
    int64_t idle_transaction_timeout_ms;
} pgr_pool_config_t;

/* auth.query's default, as PgBouncer's auth_query: the secret is the second column. */
#define PGR_AUTH_QUERY_DEFAULT "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"

typedef struct pgr_user_config {
    char *name;
    char *password;       /* plaintext, or NULL when only a verifier is given */
    char *scram_verifier; /* "SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>", or NULL */
    char *md5;            /* "md5<hex>" as in pg_authid, or NULL */
} pgr_user_config_t;

/* The login of a node's health-check connection (health.user/password/dbname, or a node's
 * `health:` block). NULL fields are unset. Each field is taken from the node's block, else the
 * global keys, else the node's own user/dbname (its password only while no health user is set
 * at either level), else "postgres" / no password / "postgres". */
typedef struct pgr_login_config {
    char *user;
    char *password; /* from password or password_env */
    char *dbname;
} pgr_login_config_t;

/* The most nodes one pgrouter routes among: the config, RELOAD and ADD NODE refuse more, with
 * an error naming the limit. The router, broadcast and health views size their per-statement
 * arrays by it. */
#define PGR_CLUSTER_MAX_NODES 64

typedef struct pgr_node_config {
    char *id;
    char *host;
    int port;
    char *dbname;   /* NULL: the client's database */
    char *user;     /* NULL: the client's user */
    char *password; /* NULL: the client's password from auth.users */
    pgr_role_t role;
    int weight;     /* >= 0; 0 takes no balanced reads */
    struct {
        char *mode; /* libpq sslmode; NULL: "prefer", or "verify-full" when ca is set */
        char *ca, *cert, *key;
    } ssl;
    pgr_pool_config_t pool; /* -1 / unset fields inherit pgr_config_t.pool */
    pgr_login_config_t health; /* `health:` block; NULL fields inherit pgr_config_t.health */
    int line, col;          /* where the node was defined, for messages */
} pgr_node_config_t;

/* One entry of `peers:`: where the instance `id` takes the CancelRequests for its sessions.
 * host is a numeric IPv4/IPv6 address or, starting with '/', the directory of the Unix socket
 * host/.s.PGSQL.port. The entry whose id is the process's own is the address it listens on
 * besides listen: (so every instance can read the same file). */
#define PGR_INSTANCE_MAX 1023
typedef struct pgr_peer_config {
    int id;
    char *host;
    int port;
    int line, col;
} pgr_peer_config_t;

typedef struct pgr_config {
    char *path;
    struct {
        char **hosts; /* one or more addresses: "127.0.0.1", "::1", "*" */
        size_t n_hosts;
        int port;
        int max_clients;
        char *unix_socket_dir; /* NULL: no Unix socket */
        bool reuseport;        /* SO_REUSEPORT on the TCP sockets: processes share the port */
    } listen;
    struct {
        int id;   /* 0..PGR_INSTANCE_MAX, encoded in every cancel key this process gives out */
        bool cli; /* set by --instance: reloads keep it whatever the file says */
    } instance;
    pgr_peer_config_t *peers; /* the instances of a group, this one's own entry allowed */
    size_t n_peers;
    struct {
        uint64_t max_message_size;
        int64_t login_timeout_ms;
    } limits;
    struct {
        pgr_tls_mode_t mode;
        char *cert, *key;
    } tls;
    struct {
        pgr_auth_method_t method;
        pgr_user_config_t *users;
        size_t n_users;
        char *hba_file;      /* as resolved (relative to the config file's directory), or NULL */
        struct pgr_hba *hba; /* its rules (core/hba), loaded with the snapshot; NULL: no file */
        pgr_plain_t passthrough_allow_plain; /* off: TLS required for a cleartext password */
        char *query;            /* auth.query: the lookup, $1 the user name */
        char *query_user;       /* NULL: no auth query */
        char *query_password;   /* from query_password or query_password_env */
        char *query_dbname;     /* NULL: the client's database */
        int64_t query_cache_ttl_ms; /* 0: every login asks */
    } auth;
    struct {
        char **users;
        size_t n_users;
        char *http; /* "host:port" or NULL */
        int reserved_connections; /* console logins accepted beyond listen.max_clients */
    } admin;
    pgr_pool_config_t pool;
    struct {
        int64_t interval_ms;
        int64_t timeout_ms;
        int unhealthy_threshold;
        int64_t backoff_initial_ms;
        int64_t backoff_max_ms;
        double backoff_jitter; /* 0..1 */
        pgr_login_config_t login; /* user/password/dbname keys; NULL: unset */
    } health;
    struct {
        pgr_reads_t reads;
        pgr_balance_t balance;
        int64_t max_replica_lag_ms;
        pgr_ryw_t read_your_writes;
        char **write_functions;
        size_t n_write_functions;
        size_t classify_cache_size;
    } routing;
    struct {
        pgr_on_node_error_t on_node_error;
        bool node_column;
        int64_t timeout_ms;
        uint64_t merge_memory;   /* the most a GROUP BY merge holds (bytes) */
    } broadcast;
    struct {
        int64_t drain_timeout_ms;
    } shutdown;
    struct {
        char *level;  /* debug | info | warning | error */
        bool json;
        char *file;   /* NULL: stderr */
    } log;
    pgr_node_config_t *nodes;
    size_t n_nodes;
} pgr_config_t;

/* One validation error: "file:line:col: key.path: expected ..., got ...". */
typedef struct pgr_config_errors {
    char **msgs;
    size_t n;
} pgr_config_errors_t;

/* Load and validate path. On success returns 0 and *out owns a new snapshot. On failure returns
 * PGR_ECONFIG (or PGR_ENOMEM / PGR_EIO) and errs (if not NULL) holds every message found; the
 * caller frees it with pgr_config_errors_free(). */
int pgr_config_load(const char *path, pgr_config_t **out, pgr_config_errors_t *errs);
/* The same from a buffer; name is used in messages in place of a file name. */
int pgr_config_load_string(const char *name, const char *yaml, size_t len, pgr_config_t **out,
                           pgr_config_errors_t *errs);
/* A config with every default and no nodes (for tests and for building configs in code). */
pgr_config_t *pgr_config_new_default(void);
void pgr_config_free(pgr_config_t *cfg);
void pgr_config_errors_free(pgr_config_errors_t *errs);

/* The effective pool limits of a node: its own overrides over the global ones. */
pgr_pool_config_t pgr_config_node_pool(const pgr_config_t *cfg, const pgr_node_config_t *node);
const pgr_node_config_t *pgr_config_find_node(const pgr_config_t *cfg, const char *id);
const pgr_user_config_t *pgr_config_find_user(const pgr_config_t *cfg, const char *name);

const char *pgr_role_name(pgr_role_t role);
/* The peers entry with this id, or NULL. */
const pgr_peer_config_t *pgr_config_find_peer(const pgr_config_t *cfg, int id);

#endif

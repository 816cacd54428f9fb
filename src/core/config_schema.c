/* The config schema: the table of every key (type, range, where its value goes in
 * pgr_config_t) and the walkers of the keys a table cannot describe: the users, nodes and peers
 * lists and the password_env keys, whose values are read from the environment. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include "core/config_int.h"

/* String bounds, in bytes (every other string: PGR_CONFIG_STR_MAX, a path's). */
#define NAME_MAX_LEN 63    /* ids, role and database names: PostgreSQL's NAMEDATALEN - 1 */
#define HOST_MAX_LEN 255   /* a DNS name's limit; pgr_node_info_t.host holds 255 */
#define SECRET_MAX_LEN 1024 /* passwords, their hashes and verifiers */
#define ENV_MAX_LEN 255    /* the name of an environment variable */
#define DAY_MS PGR_DAY_MS

/* ---- the schema ---- */

typedef pgr_config_field_t field_t;
#define F(k, t, o, ...) { .key = k, .type = t, .off = o, __VA_ARGS__ }
typedef pgr_config_walker_t walker_t;

static const char *const tls_modes[] = { "disable", "allow", "prefer", "require", NULL };
static const char *const auth_methods[] = { "trust", "md5", "scram-sha-256", "passthrough",
                                            NULL };
static const char *const plain_names[] = { "off", "loopback", NULL };
static const char *const pool_modes[] = { "transaction", "session", NULL };
static const char *const roles[] = { "auto", "primary", "replica", NULL };
static const char *const reads_names[] = { "replicas", "primary", "any", NULL };
static const char *const balances[] = { "least-busy", "round-robin", "random", NULL };
static const char *const ryw_names[] = { "off", "session", NULL };
static const char *const onerr_names[] = { "auto", "warn", "fail", NULL };
static const char *const log_levels[] = { "debug", "info", "warning", "error", NULL };
static const char *const sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca",
                                        "verify-full", NULL };

#define C(m) offsetof(pgr_config_t, m)
#define N(m) offsetof(pgr_node_config_t, m)
#define U(m) offsetof(pgr_user_config_t, m)

/* A user or node as parsed, with the keys that do not survive into the snapshot. Offsets into
 * `u`/`n` are offsets into the wrapper, since it is the first member. */
typedef struct { pgr_user_config_t u; char *password_env; } user_tmp_t;
typedef struct {
    pgr_node_config_t n;
    char *password_env;
    char *health_password_env;
} node_tmp_t;

static void walk_users(walker_t *w, const pgr_ynode_t *v, const char *path, void *base);
static void walk_nodes(walker_t *w, const pgr_ynode_t *v, const char *path, void *base);
static void walk_peers(walker_t *w, const pgr_ynode_t *v, const char *path, void *base);
static void walk_health_password_env(walker_t *w, const pgr_ynode_t *v, const char *path,
                                     void *base);
static void walk_query_password_env(walker_t *w, const pgr_ynode_t *v, const char *path,
                                    void *base);

static const field_t listen_fields[] = {
    F("host", F_HOSTS, C(listen.hosts), .off_n = C(listen.n_hosts), .max = HOST_MAX_LEN,
      .required = true),
    F("port", F_INT, C(listen.port), .min = 1, .max = 65535, .required = true),
    F("max_clients", F_INT, C(listen.max_clients), .min = 1, .max = 1000000),
    F("unix_socket_dir", F_STR_NULL, C(listen.unix_socket_dir)),
    F("reuseport", F_BOOL, C(listen.reuseport)),
    { .key = NULL },
};
static const field_t instance_fields[] = {
    F("id", F_INT, C(instance.id), .min = 0, .max = PGR_INSTANCE_MAX),
    { .key = NULL },
};
#define P(m) offsetof(pgr_peer_config_t, m)
static const field_t peer_fields[] = {
    F("id", F_INT, P(id), .min = 0, .max = PGR_INSTANCE_MAX, .required = true),
    F("host", F_STR, P(host), .max = HOST_MAX_LEN, .required = true),
    F("port", F_INT, P(port), .min = 1, .max = 65535, .required = true),
    { .key = NULL },
};
#undef P
static const field_t limits_fields[] = {
    F("max_message_size", F_SIZE, C(limits.max_message_size), .min = 1024, .max = INT64_C(1) << 30),
    F("login_timeout", F_DUR, C(limits.login_timeout_ms), .min = 1, .max = DAY_MS),
    { .key = NULL },
};
static const field_t tls_fields[] = {
    F("mode", F_ENUM, C(tls.mode), .names = tls_modes),
    F("cert", F_STR_NULL, C(tls.cert)),
    F("key", F_STR_NULL, C(tls.key)),
    { .key = NULL },
};
static const field_t auth_fields[] = {
    F("method", F_ENUM, C(auth.method), .names = auth_methods),
    F("users", F_CUSTOM, 0, .fn = walk_users),
    F("hba_file", F_STR_NULL, C(auth.hba_file)),
    F("passthrough_allow_plain", F_ENUM, C(auth.passthrough_allow_plain), .names = plain_names),
    F("query", F_STR, C(auth.query)),
    F("query_user", F_STR_NULL, C(auth.query_user)),
    F("query_password", F_STR, C(auth.query_password)),
    F("query_password_env", F_CUSTOM, 0, .fn = walk_query_password_env),
    F("query_dbname", F_STR_NULL, C(auth.query_dbname)),
    F("query_cache_ttl", F_DUR, C(auth.query_cache_ttl_ms), .min = 0, .max = DAY_MS),
    { .key = NULL },
};
static const field_t user_fields[] = {
    F("name", F_STR, U(name), .max = NAME_MAX_LEN, .required = true),
    F("password", F_STR, U(password), .max = SECRET_MAX_LEN, .secret = true),
    F("password_env", F_STR, offsetof(user_tmp_t, password_env), .max = ENV_MAX_LEN),
    F("scram", F_STR, U(scram_verifier), .max = SECRET_MAX_LEN, .secret = true),
    F("md5", F_STR, U(md5), .max = SECRET_MAX_LEN, .secret = true),
    { .key = NULL },
};
static const field_t admin_fields[] = {
    F("users", F_STRLIST, C(admin.users), .off_n = C(admin.n_users), .max = NAME_MAX_LEN),
    F("http", F_HOSTPORT, C(admin.http), .max = HOST_MAX_LEN), /* the host part */
    F("reserved_connections", F_INT, C(admin.reserved_connections), .min = 0, .max = 1000),
    { .key = NULL },
};
#define POOL_FIELDS(P)                                                                             \
    F("mode", F_ENUM, P(pool.mode), .names = pool_modes),                                          \
    F("max_size", F_INT, P(pool.max_size), .min = 1, .max = 10000),                                \
    F("min_idle", F_INT, P(pool.min_idle), .min = 0, .max = 10000),                                \
    F("idle_timeout", F_DUR, P(pool.idle_timeout_ms), .min = 0, .max = DAY_MS),                    \
    F("connect_timeout", F_DUR, P(pool.connect_timeout_ms), .min = 1, .max = DAY_MS),              \
    F("acquire_timeout", F_DUR, P(pool.acquire_timeout_ms), .min = 1, .max = DAY_MS),              \
    { .key = NULL }
/* The session timeouts are the global block's only: they bound clients, not a node's pool. */
static const field_t pool_fields[] = {
    F("query_timeout", F_DUR, C(pool.query_timeout_ms), .min = 0, .max = DAY_MS),
    F("idle_transaction_timeout", F_DUR, C(pool.idle_transaction_timeout_ms), .min = 0,
      .max = DAY_MS),
    POOL_FIELDS(C)
};
static const field_t node_pool_fields[] = { POOL_FIELDS(N) };
static const field_t backoff_fields[] = {
    F("initial", F_DUR, C(health.backoff_initial_ms), .min = 1, .max = DAY_MS),
    F("max", F_DUR, C(health.backoff_max_ms), .min = 1, .max = DAY_MS),
    F("jitter", F_FRAC, C(health.backoff_jitter)),
    { .key = NULL },
};
static const field_t health_fields[] = {
    F("interval", F_DUR, C(health.interval_ms), .min = 1, .max = DAY_MS),
    F("timeout", F_DUR, C(health.timeout_ms), .min = 1, .max = DAY_MS),
    F("unhealthy_threshold", F_INT, C(health.unhealthy_threshold), .min = 1, .max = 1000),
    F("backoff", F_MAP, 0, .sub = backoff_fields),
    F("user", F_STR_NULL, C(health.login.user), .max = NAME_MAX_LEN),
    F("password", F_STR, C(health.login.password), .max = SECRET_MAX_LEN, .secret = true),
    F("password_env", F_CUSTOM, 0, .fn = walk_health_password_env),
    F("dbname", F_STR_NULL, C(health.login.dbname), .max = NAME_MAX_LEN),
    { .key = NULL },
};
static const field_t routing_fields[] = {
    F("reads", F_ENUM, C(routing.reads), .names = reads_names),
    F("balance", F_ENUM, C(routing.balance), .names = balances),
    F("max_replica_lag", F_DUR, C(routing.max_replica_lag_ms), .min = 0, .max = DAY_MS),
    F("read_your_writes", F_ENUM, C(routing.read_your_writes), .names = ryw_names),
    F("write_functions", F_STRLIST, C(routing.write_functions),
      .off_n = C(routing.n_write_functions), .max = 2 * NAME_MAX_LEN + 1), /* schema.name */
    F("classify_cache_size", F_COUNT, C(routing.classify_cache_size), .min = 0, .max = 10000000),
    { .key = NULL },
};
static const field_t broadcast_fields[] = {
    F("on_node_error", F_ENUM, C(broadcast.on_node_error), .names = onerr_names),
    F("node_column", F_BOOL, C(broadcast.node_column)),
    F("timeout", F_DUR, C(broadcast.timeout_ms), .min = 1, .max = DAY_MS),
    F("merge_memory", F_SIZE, C(broadcast.merge_memory), .min = 1024, .max = INT64_C(1) << 40),
    { .key = NULL },
};
static const field_t shutdown_fields[] = {
    F("drain_timeout", F_DUR, C(shutdown.drain_timeout_ms), .min = 0, .max = DAY_MS),
    { .key = NULL },
};
static const field_t log_fields[] = {
    F("level", F_ENUM_STR, C(log.level), .names = log_levels),
    F("json", F_BOOL, C(log.json)),
    F("file", F_STR_NULL, C(log.file)),
    { .key = NULL },
};
static const field_t ssl_fields[] = {
    F("mode", F_ENUM_STR, N(ssl.mode), .names = sslmodes),
    F("ca", F_STR_NULL, N(ssl.ca)),
    F("cert", F_STR_NULL, N(ssl.cert)),
    F("key", F_STR_NULL, N(ssl.key)),
    { .key = NULL },
};
static const field_t node_health_fields[] = {
    F("user", F_STR_NULL, N(health.user), .max = NAME_MAX_LEN),
    F("password", F_STR, N(health.password), .max = SECRET_MAX_LEN, .secret = true),
    F("password_env", F_STR, offsetof(node_tmp_t, health_password_env), .max = ENV_MAX_LEN),
    F("dbname", F_STR_NULL, N(health.dbname), .max = NAME_MAX_LEN),
    { .key = NULL },
};
static const field_t node_fields[] = {
    F("id", F_STR, N(id), .max = NAME_MAX_LEN, .required = true),
    F("host", F_STR, N(host), .max = HOST_MAX_LEN, .required = true),
    F("port", F_INT, N(port), .min = 1, .max = 65535, .required = true),
    F("dbname", F_STR_NULL, N(dbname), .max = NAME_MAX_LEN),
    F("user", F_STR_NULL, N(user), .max = NAME_MAX_LEN),
    F("password", F_STR, N(password), .max = SECRET_MAX_LEN, .secret = true),
    F("password_env", F_STR, offsetof(node_tmp_t, password_env), .max = ENV_MAX_LEN),
    F("role", F_ENUM, N(role), .names = roles),
    F("weight", F_INT, N(weight), .min = 0, .max = 1000000),
    F("ssl", F_MAP, 0, .sub = ssl_fields),
    F("pool", F_MAP, 0, .sub = node_pool_fields),
    F("health", F_MAP, 0, .sub = node_health_fields),
    { .key = NULL },
};
static const field_t root_fields[] = {
    F("listen", F_MAP, 0, .sub = listen_fields, .required = true),
    F("limits", F_MAP, 0, .sub = limits_fields),
    F("tls", F_MAP, 0, .sub = tls_fields),
    F("auth", F_MAP, 0, .sub = auth_fields),
    F("admin", F_MAP, 0, .sub = admin_fields),
    F("pool", F_MAP, 0, .sub = pool_fields),
    F("health", F_MAP, 0, .sub = health_fields),
    F("routing", F_MAP, 0, .sub = routing_fields),
    F("broadcast", F_MAP, 0, .sub = broadcast_fields),
    F("shutdown", F_MAP, 0, .sub = shutdown_fields),
    F("log", F_MAP, 0, .sub = log_fields),
    F("nodes", F_CUSTOM, 0, .fn = walk_nodes, .required = true),
    F("instance", F_MAP, 0, .sub = instance_fields),
    F("peers", F_CUSTOM, 0, .fn = walk_peers),
    { .key = NULL },
};

/* password_env -> the variable's value in *password. */
static void
resolve_env(walker_t *w, const pgr_ynode_t *map, const char *path, const char *var, char **password)
{
    char sub[512];
    const char *val;

    if (!var)
        return;
    pgr_config_set_path(sub, sizeof(sub), path, "password_env");
    val = getenv(var);
    if (!val || !val[0]) {
        pgr_config_bad(w, pgr_config_map_get(map, "password_env"), sub,
            "the name of a set, non-empty environment variable");
        return;
    }
    if (strlen(val) > SECRET_MAX_LEN) {
        const pgr_ynode_t *at = pgr_config_map_get(map, "password_env");
        pgr_config_err(w->ctx, at->line, at->col, sub,
                       "expected a variable holding at most %d bytes, got %zu bytes (not shown)",
                       SECRET_MAX_LEN, strlen(val));
        return;
    }
    free(*password); /* only set when password was given too: already an error */
    *password = pgr_config_strdup(w, val);
}

/* A password_env key whose variable's value goes straight into *slot (the snapshot keeps no
 * variable names). Naming the password as well is an error (config_check.c). */
static void
walk_env_into(walker_t *w, const pgr_ynode_t *v, const char *path, char **slot)
{
    const char *val;

    if (v->kind != PGR_YNODE_SCALAR || pgr_config_is_null(v) || !v->str[0]) {
        pgr_config_bad(w, v, path, "a non-empty string");
        return;
    }
    if (pgr_config_too_long(w, v, path, "a variable name", ENV_MAX_LEN, false))
        return;
    val = getenv(v->str);
    if (!val || !val[0]) {
        pgr_config_bad(w, v, path, "the name of a set, non-empty environment variable");
        return;
    }
    if (strlen(val) > SECRET_MAX_LEN) {
        pgr_config_err(w->ctx, v->line, v->col, path,
                       "expected a variable holding at most %d bytes, got %zu bytes (not shown)",
                       SECRET_MAX_LEN, strlen(val));
        return;
    }
    pgr_config_free_secret(*slot);
    *slot = pgr_config_strdup(w, val);
}

/* health.password_env -> health.login.password */
static void
walk_health_password_env(walker_t *w, const pgr_ynode_t *v, const char *path, void *base)
{
    (void)base;
    walk_env_into(w, v, path, &w->cfg->health.login.password);
}

/* auth.query_password_env -> auth.query_password */
static void
walk_query_password_env(walker_t *w, const pgr_ynode_t *v, const char *path, void *base)
{
    (void)base;
    walk_env_into(w, v, path, &w->cfg->auth.query_password);
}

static bool
is_b64(const char *s, size_t len)
{
    if (len == 0 || len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool pad_ok = i >= len - 2 && c == '=' && (i == len - 1 || s[len - 1] == '=');
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || pad_ok))
            return false;
    }
    return true;
}

/* "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", both keys 32 bytes in base64. */
static bool
scram_shape_ok(const char *s)
{
    static const char prefix[] = "SCRAM-SHA-256$";
    const char *p = s + sizeof(prefix) - 1, *colon, *dollar, *colon2;
    uint64_t iter;

    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
        return false;
    if (!(colon = strchr(p, ':')) || !(dollar = strchr(colon, '$')) ||
        !(colon2 = strchr(dollar, ':')))
        return false;
    if (!pgr_config_parse_uint(p, (size_t)(colon - p), INT32_MAX, &iter) || iter == 0)
        return false;
    return is_b64(colon + 1, (size_t)(dollar - colon - 1)) &&
           (colon2 - dollar - 1) == 44 && is_b64(dollar + 1, 44) &&
           strlen(colon2 + 1) == 44 && is_b64(colon2 + 1, 44);
}

static bool
md5_shape_ok(const char *s)
{
    if (strncmp(s, "md5", 3) != 0 || strlen(s) != 35)
        return false;
    for (size_t i = 3; i < 35; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void
walk_users(walker_t *w, const pgr_ynode_t *v, const char *path, void *base)
{
    pgr_config_t *cfg = w->cfg;
    pgr_config_strset_t names = { 0 };
    char item[512], sub[512];

    if (v->kind != PGR_YNODE_SEQ) {
        pgr_config_bad(w, v, path, "a list of users");
        return;
    }
    if (!(cfg->auth.users = calloc(v->n ? v->n : 1, sizeof(*cfg->auth.users)))) {
        w->ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const pgr_ynode_t *m = v->kids[i];
        user_tmp_t t = { 0 };
        const char *which[3] = { "password", "password_env", "scram" };
        int have = 0;
        char got[64] = "";

        pgr_config_bufprintf(item, sizeof(item), "%s[%zu]", path, i);
        pgr_config_walk_map(w, m, item, user_fields, &t); /* an alias placeholder leaves t empty */
        if (m->kind == PGR_YNODE_MAP) {
            for (int k = 0; k < 3; k++) {
                if (pgr_config_map_get(m, which[k])) {
                    pgr_config_bufprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
                             have ? " and " : "", which[k]);
                    have++;
                }
            }
            if (have != 1)
                pgr_config_err(w->ctx, m->line, m->col, item,
                               "expected exactly one of password, password_env, scram, got %s",
                               have ? got : "none");
            resolve_env(w, m, item, t.password_env, &t.u.password);
            if (t.u.scram_verifier && !scram_shape_ok(t.u.scram_verifier)) {
                pgr_config_set_path(sub, sizeof(sub), item, "scram");
                const pgr_ynode_t *sv = pgr_config_map_get(m, "scram");
                pgr_config_err(w->ctx, sv->line, sv->col, sub,
                               "expected \"SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:"
                               "<ServerKey>\" in base64, got a malformed value (not shown)");
            }
            if (t.u.md5 && !md5_shape_ok(t.u.md5)) {
                pgr_config_set_path(sub, sizeof(sub), item, "md5");
                const pgr_ynode_t *mv = pgr_config_map_get(m, "md5");
                pgr_config_err(w->ctx, mv->line, mv->col, sub,
                               "expected \"md5\" and 32 lowercase hex digits, got a malformed "
                               "value (not shown)");
            }
            if (t.u.name && pgr_config_strset_add(w, &names, t.u.name, i, NULL)) {
                pgr_config_set_path(sub, sizeof(sub), item, "name");
                pgr_config_bad(w, pgr_config_map_get(m, "name"), sub,
                               "a user name not used before");
            }
        }
        free(t.password_env);
        cfg->auth.users[cfg->auth.n_users++] = t.u;
    }
    pgr_config_strset_free(&names);
}

static bool
id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static void
walk_nodes(walker_t *w, const pgr_ynode_t *v, const char *path, void *base)
{
    pgr_config_t *cfg = w->cfg;
    pgr_config_strset_t ids = { 0 };
    char item[512], sub[512];

    if (v->kind != PGR_YNODE_SEQ || v->n == 0) {
        pgr_config_bad(w, v, path, "a non-empty list of nodes");
        return;
    }
    if (v->n > PGR_CLUSTER_MAX_NODES) {
        const pgr_ynode_t *extra = v->kids[PGR_CLUSTER_MAX_NODES];
        pgr_config_bufprintf(item, sizeof(item), "%s[%d]", path, PGR_CLUSTER_MAX_NODES);
        pgr_config_err(w->ctx, extra->line, extra->col, item,
                       "expected at most %d nodes, got %zu", PGR_CLUSTER_MAX_NODES, v->n);
        return;
    }
    if (!(cfg->nodes = calloc(v->n, sizeof(*cfg->nodes)))) {
        w->ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const pgr_ynode_t *m = v->kids[i];
        node_tmp_t t = { 0 };

        pgr_config_bufprintf(item, sizeof(item), "%s[%zu]", path, i);
        t.n.role = PGR_ROLE_AUTO;
        t.n.weight = 1;
        t.n.pool = (pgr_pool_config_t){ PGR_POOL_MODE_UNSET, -1, -1, -1, -1, -1, 0, 0 };
        t.n.line = m->line;
        t.n.col = m->col;
        pgr_config_walk_map(w, m, item, node_fields, &t);
        if (m->kind == PGR_YNODE_MAP) {
            if (pgr_config_map_get(m, "password") && pgr_config_map_get(m, "password_env"))
                pgr_config_err(w->ctx, m->line, m->col, item,
                               "expected at most one of password, password_env, got both");
            resolve_env(w, m, item, t.password_env, &t.n.password);
            const pgr_ynode_t *hm = pgr_config_map_get(m, "health");
            if (hm && hm->kind == PGR_YNODE_MAP) {
                pgr_config_set_path(sub, sizeof(sub), item, "health");
                if (pgr_config_map_get(hm, "password") && pgr_config_map_get(hm, "password_env"))
                    pgr_config_err(w->ctx, hm->line, hm->col, sub,
                                   "expected at most one of password, password_env, got both");
                resolve_env(w, hm, sub, t.health_password_env, &t.n.health.password);
            }
            pgr_config_set_path(sub, sizeof(sub), item, "id");
            if (t.n.id && !id_ok(t.n.id)) {
                pgr_config_bad(w, pgr_config_map_get(m, "id"), sub,
                               "an id of 1-63 letters, digits, '_' or '-'");
            } else if (t.n.id) {
                size_t j;
                if (pgr_config_strset_add(w, &ids, t.n.id, i, &j)) {
                    char exp[128];
                    pgr_config_bufprintf(exp, sizeof(exp), "a unique node id (nodes[%zu] has it)",
                                         j);
                    pgr_config_bad(w, pgr_config_map_get(m, "id"), sub, exp);
                }
            }
            if (t.n.ssl.cert && !t.n.ssl.key)
                pgr_config_err(w->ctx, m->line, m->col, item,
                               "expected ssl.key with ssl.cert, got only ssl.cert");
            if (t.n.ssl.key && !t.n.ssl.cert)
                pgr_config_err(w->ctx, m->line, m->col, item,
                               "expected ssl.cert with ssl.key, got only ssl.key");
        }
        free(t.password_env);
        free(t.health_password_env);
        cfg->nodes[cfg->n_nodes++] = t.n;
    }
    pgr_config_strset_free(&ids);
}

/* peers: a list of {id, host, port}; ids unique; host a numeric address or an absolute Unix
 * socket directory whose socket path fits in sun_path. */
static void
walk_peers(walker_t *w, const pgr_ynode_t *v, const char *path, void *base)
{
    pgr_config_t *cfg = w->cfg;
    int first[PGR_INSTANCE_MAX + 1];
    char item[512], sub[512];

    (void)base;
    if (v->kind != PGR_YNODE_SEQ) {
        pgr_config_bad(w, v, path, "a list of peers {id, host, port}");
        return;
    }
    if (!(cfg->peers = calloc(v->n ? v->n : 1, sizeof(*cfg->peers)))) {
        w->ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i <= PGR_INSTANCE_MAX; i++)
        first[i] = -1;
    for (size_t i = 0; i < v->n; i++) {
        const pgr_ynode_t *m = v->kids[i];
        pgr_peer_config_t pc = { .id = -1, .line = m->line, .col = m->col };
        unsigned char addr[sizeof(struct in6_addr)];
        char exp[128];

        pgr_config_bufprintf(item, sizeof(item), "%s[%zu]", path, i);
        pgr_config_walk_map(w, m, item, peer_fields, &pc);
        if (pc.id >= 0 && pc.id <= PGR_INSTANCE_MAX) {
            if (first[pc.id] >= 0) {
                pgr_config_set_path(sub, sizeof(sub), item, "id");
                pgr_config_bufprintf(exp, sizeof(exp), "a unique instance id (peers[%d] has it)",
                                     first[pc.id]);
                pgr_config_bad(w, pgr_config_map_get(m, "id"), sub, exp);
            } else {
                first[pc.id] = (int)i;
            }
        }
        if (pc.host && pc.host[0] == '/') {
            size_t cap = sizeof(((struct sockaddr_un *)0)->sun_path);
            if (strlen(pc.host) + sizeof("/.s.PGSQL.65535") > cap) {
                pgr_config_set_path(sub, sizeof(sub), item, "host");
                pgr_config_bad(w, pgr_config_map_get(m, "host"), sub,
                               "a socket directory short enough for <dir>/.s.PGSQL.<port> to fit "
                               "a Unix socket path (107 bytes)");
            }
        } else if (pc.host && inet_pton(AF_INET, pc.host, addr) != 1 &&
                   inet_pton(AF_INET6, pc.host, addr) != 1) {
            pgr_config_set_path(sub, sizeof(sub), item, "host");
            pgr_config_bad(w, pgr_config_map_get(m, "host"), sub,
                           "a numeric IPv4 or IPv6 address, or a Unix socket directory "
                           "starting with '/'");
        }
        cfg->peers[cfg->n_peers++] = pc;
    }
}

void
pgr_config_walk_root(pgr_config_walker_t *w, const pgr_ynode_t *root)
{
    pgr_config_walk_map(w, root, "", root_fields, w->cfg);
}

const char *
pgr_config_auth_method_name(pgr_auth_method_t method)
{
    return (unsigned)method < PGR_ARRAY_LEN(auth_methods) - 1 ? auth_methods[method]
                                                               : "unknown";
}

PGR_API const char *
pgr_role_name(pgr_role_t role)
{
    return (unsigned)role < PGR_ARRAY_LEN(roles) - 1 ? roles[role] : "unknown";
}

/* The admin console's SHOW commands and EXPLAIN ROUTE: result sets in text format, one
 * RowDescription, a DataRow per line, CommandComplete. Numbers go out as int8 / float8 columns
 * (still text format) so drivers hand them over as numbers. */
#include <stdio.h>
#include <string.h>

#include "ops/admin_show.h"
#include "ops/report.h"
#include "protocol/backend.h"
#include "session/client.h"

enum { OID_BOOL = 16, OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701, OID_TIMESTAMPTZ = 1184 };

typedef struct {
    const char *name;
    int32_t oid;
} col_t;

/* A result set being written: RowDescription at begin, DataRows, CommandComplete at end. */
typedef struct {
    pgr_writer_t *w;
    int ncols;
    uint64_t nrows;
} rows_t;

static void
rows_begin(rows_t *r, pgr_writer_t *w, const col_t *cols, int n)
{
    pgr_be_field_t f[32];
    pgr_assert(n > 0 && n <= (int)PGR_ARRAY_LEN(f));
    for (int i = 0; i < n; i++) {
        f[i] = (pgr_be_field_t){ .name = cols[i].name, .type_oid = cols[i].oid,
                                 .typlen = cols[i].oid == OID_TEXT ? -1
                                           : cols[i].oid == OID_BOOL ? 1 : 8,
                                 .typmod = -1, .format = 0 };
    }
    pgr_be_write_rowdesc(w, n, f);
    r->w = w;
    r->ncols = n;
    r->nrows = 0;
}

/* One row of ncols text values; NULL is SQL NULL. A value that is not valid UTF-8 (a node's
 * error text in another encoding, say) goes out with '?' for each bad byte. */
static void
rows_add(rows_t *r, const char *const *vals)
{
    pgr_value_t v[32];
    char *fixed[32] = { 0 };
    for (int i = 0; i < r->ncols; i++) {
        const char *s = vals[i];
        size_t n = s ? strlen(s) : 0;
        if (s && !pgr_report_utf8_valid(s, n)) {
            if (!(fixed[i] = strdup(s))) {
                pgr_writer_fail(r->w, PGR_ENOMEM);
                goto done;
            }
            pgr_report_utf8_sanitize(fixed[i]);
            s = fixed[i];
        }
        v[i].data = (const uint8_t *)s;
        v[i].len = s ? (int32_t)n : -1;
    }
    pgr_be_write_datarow(r->w, r->ncols, v);
    r->nrows++;
done:
    for (int i = 0; i < r->ncols; i++)
        free(fixed[i]);
}

static void
rows_end(rows_t *r, const char *tag)
{
    pgr_be_write_complete(r->w, tag);
}

/* Small numeric formatters into caller buffers. */
static const char *
fmt_i64(char *buf, size_t cap, long long v)
{
    snprintf(buf, cap, "%lld", v);
    return buf;
}

static const char *
fmt_u64(char *buf, size_t cap, unsigned long long v)
{
    snprintf(buf, cap, "%llu", v);
    return buf;
}

static const char *
fmt_ms(char *buf, size_t cap, long long ms)
{
    snprintf(buf, cap, "%lldms", ms);
    return buf;
}

/* ---- SHOW NODES / POOLS ------------------------------------------------------------------- */

static void
show_nodes(pgr_runtime_t *rt, pgr_writer_t *out)
{
    static const col_t cols[] = {
        { "id", OID_TEXT },          { "host", OID_TEXT },           { "port", OID_INT8 },
        { "role_configured", OID_TEXT }, { "role_reported", OID_TEXT }, { "state", OID_TEXT },
        { "weight", OID_INT8 },      { "latency_ms", OID_FLOAT8 },   { "lag_s", OID_FLOAT8 },
        { "lsn", OID_TEXT },         { "consecutive_failures", OID_INT8 },
        { "last_error", OID_TEXT },  { "last_error_at", OID_TIMESTAMPTZ },
    };
    pgr_report_nodes_t nodes;
    rows_t r;

    if (pgr_report_nodes(rt, &nodes) != 0) {
        pgr_writer_fail(out, PGR_ENOMEM);
        return;
    }
    rows_begin(&r, out, cols, (int)PGR_ARRAY_LEN(cols));
    for (size_t i = 0; i < nodes.n; i++) {
        const pgr_report_node_t *n = &nodes.v[i];
        const pgr_health_t *h = &n->health;
        char port[16], weight[16], lat[32], lag[32], lsn[32], fails[16], at[40];
        /* Role, latency, lag and LSN only while healthy: else unknown (NULL), not the values
         * of the last good check. */
        bool now = pgr_report_health_current(n);
        bool failed = n->has_health && h->last_error[0];
        snprintf(lat, sizeof(lat), "%.3f", (double)h->latency_us / 1000.0);
        snprintf(lag, sizeof(lag), "%.3f", h->lag_s);
        pgr_report_lsn(h->lsn, lsn, sizeof(lsn));
        pgr_report_time(h->last_error_ms, at, sizeof(at));
        const char *vals[] = {
            n->info.id,
            n->info.host,
            fmt_i64(port, sizeof(port), n->info.port),
            pgr_role_name(n->info.role),
            now && h->role != PGR_ROLE_AUTO ? pgr_role_name(h->role) : NULL,
            n->has_health ? pgr_node_state_name(h->state) : NULL,
            fmt_i64(weight, sizeof(weight), n->info.weight),
            now && h->latency_us > 0 ? lat : NULL,
            now && h->role == PGR_ROLE_REPLICA ? lag : now ? "0.000" : NULL,
            now && h->lsn ? lsn : NULL,
            fmt_i64(fails, sizeof(fails), h->consecutive_failures),
            failed ? h->last_error : NULL,
            failed && h->last_error_ms > 0 ? at : NULL,
        };
        rows_add(&r, vals);
    }
    rows_end(&r, "SHOW");
    pgr_report_nodes_free(&nodes);
}

static void
show_pools(pgr_runtime_t *rt, pgr_writer_t *out)
{
    static const col_t cols[] = {
        { "node", OID_TEXT },       { "total", OID_INT8 },     { "idle", OID_INT8 },
        { "active", OID_INT8 },     { "connecting", OID_INT8 }, { "waiting", OID_INT8 },
        { "max", OID_INT8 },        { "acquired", OID_INT8 },  { "timed_out", OID_INT8 },
        { "connect_failures", OID_INT8 },
    };
    pgr_report_nodes_t nodes;
    rows_t r;

    if (pgr_report_nodes(rt, &nodes) != 0) {
        pgr_writer_fail(out, PGR_ENOMEM);
        return;
    }
    rows_begin(&r, out, cols, (int)PGR_ARRAY_LEN(cols));
    for (size_t i = 0; i < nodes.n; i++) {
        const pgr_pool_stats_t *p = &nodes.v[i].pool;
        char b[9][24];
        const char *vals[] = {
            nodes.v[i].info.id,
            fmt_i64(b[0], sizeof(b[0]), p->total),
            fmt_i64(b[1], sizeof(b[1]), p->idle),
            fmt_i64(b[2], sizeof(b[2]), p->active),
            fmt_i64(b[3], sizeof(b[3]), p->connecting),
            fmt_i64(b[4], sizeof(b[4]), p->waiting),
            fmt_i64(b[5], sizeof(b[5]), p->max),
            fmt_u64(b[6], sizeof(b[6]), p->acquired),
            fmt_u64(b[7], sizeof(b[7]), p->timed_out),
            fmt_u64(b[8], sizeof(b[8]), p->connect_failures),
        };
        rows_add(&r, vals);
    }
    rows_end(&r, "SHOW");
    pgr_report_nodes_free(&nodes);
}

/* ---- SHOW CLIENTS / SERVERS --------------------------------------------------------------- */

/* The node a session is on or waiting for, or NULL when it has none. */
static const char *
client_node(const pgr_client_t *cl)
{
    if (cl->srv)
        return pgr_server_node_id(cl->srv);
    if (cl->state == PGR_CLIENT_WAITING || cl->state == PGR_CLIENT_LOGIN)
        return cl->node_id;
    return NULL;
}

static void
show_clients(pgr_runtime_t *rt, pgr_writer_t *out)
{
    static const col_t cols[] = {
        { "id", OID_INT8 },     { "user", OID_TEXT },   { "database", OID_TEXT },
        { "peer", OID_TEXT },   { "state", OID_TEXT },  { "node", OID_TEXT },
        { "pinned", OID_TEXT }, { "application_name", OID_TEXT }, { "tls", OID_TEXT },
    };
    rows_t r;
    pgr_list_t *pos;

    rows_begin(&r, out, cols, (int)PGR_ARRAY_LEN(cols));
    pgr_list_foreach(pos, &rt->clients) {
        const pgr_client_t *cl = pgr_container_of(pos, pgr_client_t, link);
        char id[24];
        const char *vals[] = {
            fmt_u64(id, sizeof(id), cl->id),
            cl->user,
            cl->database,
            pgr_conn_peer(&cl->conn),
            pgr_client_state_name(cl->state),
            client_node(cl),
            cl->pinned ? (cl->pin_reason ? cl->pin_reason : "yes") : NULL,
            /* The value it SET last, else the one from its startup packet. */
            cl->want.v[PGR_PARAM_APPLICATION_NAME] ? cl->want.v[PGR_PARAM_APPLICATION_NAME]
                                                   : cl->application_name,
            /* "TLSv1.3"; NULL in the clear, "" while the handshake runs */
            pgr_conn_tls_version(&cl->conn),
        };
        rows_add(&r, vals);
    }
    rows_end(&r, "SHOW");
}

/* Server connections lent to sessions (the cluster API exposes no iterator over idle ones:
 * SHOW POOLS counts those). */
static void
show_servers(pgr_runtime_t *rt, pgr_writer_t *out)
{
    static const col_t cols[] = {
        { "node", OID_TEXT },     { "backend_pid", OID_INT8 }, { "client_id", OID_INT8 },
        { "user", OID_TEXT },     { "database", OID_TEXT },    { "state", OID_TEXT },
        { "pinned", OID_TEXT },   { "server_version", OID_TEXT },
    };
    rows_t r;
    pgr_list_t *pos;

    rows_begin(&r, out, cols, (int)PGR_ARRAY_LEN(cols));
    pgr_list_foreach(pos, &rt->clients) {
        const pgr_client_t *cl = pgr_container_of(pos, pgr_client_t, link);
        char pid[16], id[24];
        uint32_t bpid, key;
        if (!cl->srv)
            continue;
        bool has_pid = pgr_server_backend_key(cl->srv, &bpid, &key) == 0;
        const char *vals[] = {
            pgr_server_node_id(cl->srv),
            has_pid ? fmt_i64(pid, sizeof(pid), (long long)bpid) : NULL,
            fmt_u64(id, sizeof(id), cl->id),
            cl->user,
            cl->database,
            cl->state == PGR_CLIENT_LOGIN ? "login" : cl->pinned ? "pinned" : "active",
            cl->pinned ? (cl->pin_reason ? cl->pin_reason : "yes") : NULL,
            pgr_server_parameter(cl->srv, "server_version"),
        };
        rows_add(&r, vals);
    }
    rows_end(&r, "SHOW");
}

/* ---- SHOW STATS / CONFIG / VERSION / HELP ------------------------------------------------- */

static void
show_stats(pgr_runtime_t *rt, pgr_writer_t *out)
{
    static const col_t cols[] = {
        { "clients", OID_INT8 },
#define PGR_STATS_COL(name, help) { #name, OID_INT8 },
        PGR_REPORT_STATS(PGR_STATS_COL)
#undef PGR_STATS_COL
    };
    char b[PGR_ARRAY_LEN(cols)][24];
    const char *vals[PGR_ARRAY_LEN(cols)];
    size_t i = 0;
    rows_t r;

    vals[i] = fmt_u64(b[i], sizeof(b[i]), rt->n_clients);
    i++;
#define PGR_STATS_VAL(name, help) \
    vals[i] = fmt_u64(b[i], sizeof(b[i]), rt->stats.name); \
    i++;
    PGR_REPORT_STATS(PGR_STATS_VAL)
#undef PGR_STATS_VAL
    rows_begin(&r, out, cols, (int)PGR_ARRAY_LEN(cols));
    rows_add(&r, vals);
    rows_end(&r, "SHOW");
}

/* "a,b,c" from n strings into buf (truncated to cap). */
static const char *
join(char *buf, size_t cap, char *const *v, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "", v[i]);
    return buf;
}

static const char *
enum_name(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "unknown";
}
#define ENUM_NAME(names, v) enum_name(names, PGR_ARRAY_LEN(names), (int)(v))

/* The main settings of the running snapshot; never a password or a secret's value. */
/* "1=127.0.0.1:6433,2=/run/pgr2:6432" into buf (cut short when it does not fit); NULL if none. */
static const char *
join_peers(char *buf, size_t cap, const pgr_config_t *c)
{
    size_t n = 0;

    if (c->n_peers == 0)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < c->n_peers && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%d=%s:%d", i ? "," : "", c->peers[i].id,
                         c->peers[i].host, c->peers[i].port);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return buf;
}

static void
show_config(pgr_runtime_t *rt, pgr_writer_t *out)
{
    static const col_t cols[] = { { "key", OID_TEXT }, { "value", OID_TEXT } };
    static const char *const tls[] = { "disable", "allow", "prefer", "require" };
    static const char *const auth[] = { "trust", "md5", "scram-sha-256", "passthrough" };
    static const char *const plain[] = { "off", "loopback" };
    static const char *const mode[] = { "transaction", "session" };
    static const char *const reads[] = { "replicas", "primary", "any" };
    static const char *const balance[] = { "least-busy", "round-robin", "random" };
    static const char *const ryw[] = { "off", "session" };
    static const char *const onerr[] = { "auto", "warn", "fail" };
    const pgr_config_t *c = rt->cfg;
    rows_t r;

    if (c == NULL) {
        pgr_be_write_error(out, false, "ERROR", "55000", "no configuration loaded", NULL, NULL);
        return;
    }
    char hosts[256], users[512], admins[512], wf[512], peers[1024], b[24][32];
    char **user_names = calloc(c->auth.n_users ? c->auth.n_users : 1, sizeof(char *));
    if (!user_names) {
        pgr_writer_fail(out, PGR_ENOMEM);
        return;
    }
    for (size_t i = 0; i < c->auth.n_users; i++)
        user_names[i] = c->auth.users[i].name;
    const struct { const char *key, *val; } kv[] = {
        { "config_file", c->path },
        { "listen.hosts", join(hosts, sizeof(hosts), c->listen.hosts, c->listen.n_hosts) },
        { "listen.port", fmt_i64(b[0], 32, c->listen.port) },
        { "listen.max_clients", fmt_i64(b[1], 32, c->listen.max_clients) },
        { "listen.unix_socket_dir", c->listen.unix_socket_dir },
        { "listen.reuseport", c->listen.reuseport ? "true" : "false" },
        { "instance.id", fmt_i64(b[19], 32, c->instance.id) },
        { "peers", join_peers(peers, sizeof(peers), c) },
        { "limits.max_message_size", fmt_u64(b[2], 32, c->limits.max_message_size) },
        { "limits.login_timeout", fmt_ms(b[3], 32, c->limits.login_timeout_ms) },
        { "tls.mode", ENUM_NAME(tls, c->tls.mode) },
        { "tls.cert", c->tls.cert },
        { "auth.method", ENUM_NAME(auth, c->auth.method) },
        { "auth.users", join(users, sizeof(users), user_names, c->auth.n_users) },
        { "auth.hba_file", c->auth.hba_file },
        { "auth.passthrough_allow_plain", ENUM_NAME(plain, c->auth.passthrough_allow_plain) },
        { "auth.query", c->auth.query_user ? c->auth.query : NULL },
        { "auth.query_user", c->auth.query_user },
        { "auth.query_dbname", c->auth.query_dbname },
        { "auth.query_cache_ttl", fmt_ms(b[18], 32, c->auth.query_cache_ttl_ms) },
        { "admin.users", join(admins, sizeof(admins), c->admin.users, c->admin.n_users) },
        { "admin.http", c->admin.http },
        { "admin.reserved_connections", fmt_i64(b[20], 32, c->admin.reserved_connections) },
        { "pool.mode", ENUM_NAME(mode, c->pool.mode) },
        { "pool.max_size", fmt_i64(b[4], 32, c->pool.max_size) },
        { "pool.min_idle", fmt_i64(b[5], 32, c->pool.min_idle) },
        { "pool.idle_timeout", fmt_ms(b[6], 32, c->pool.idle_timeout_ms) },
        { "pool.connect_timeout", fmt_ms(b[7], 32, c->pool.connect_timeout_ms) },
        { "pool.acquire_timeout", fmt_ms(b[8], 32, c->pool.acquire_timeout_ms) },
        { "pool.query_timeout", fmt_ms(b[21], 32, c->pool.query_timeout_ms) },
        { "pool.idle_transaction_timeout",
          fmt_ms(b[22], 32, c->pool.idle_transaction_timeout_ms) },
        { "health.interval", fmt_ms(b[9], 32, c->health.interval_ms) },
        { "health.timeout", fmt_ms(b[10], 32, c->health.timeout_ms) },
        { "health.unhealthy_threshold", fmt_i64(b[11], 32, c->health.unhealthy_threshold) },
        { "health.backoff.initial", fmt_ms(b[12], 32, c->health.backoff_initial_ms) },
        { "health.backoff.max", fmt_ms(b[13], 32, c->health.backoff_max_ms) },
        { "health.user", c->health.login.user },
        { "health.dbname", c->health.login.dbname },
        { "routing.reads", ENUM_NAME(reads, c->routing.reads) },
        { "routing.balance", ENUM_NAME(balance, c->routing.balance) },
        { "routing.max_replica_lag", fmt_ms(b[14], 32, c->routing.max_replica_lag_ms) },
        { "routing.read_your_writes", ENUM_NAME(ryw, c->routing.read_your_writes) },
        { "routing.write_functions",
          join(wf, sizeof(wf), c->routing.write_functions, c->routing.n_write_functions) },
        { "broadcast.on_node_error", ENUM_NAME(onerr, c->broadcast.on_node_error) },
        { "broadcast.node_column", c->broadcast.node_column ? "true" : "false" },
        { "broadcast.timeout", fmt_ms(b[15], 32, c->broadcast.timeout_ms) },
        { "broadcast.merge_memory", fmt_u64(b[23], 32, c->broadcast.merge_memory) },
        { "shutdown.drain_timeout", fmt_ms(b[16], 32, c->shutdown.drain_timeout_ms) },
        { "log.level", c->log.level },
        { "log.json", c->log.json ? "true" : "false" },
        { "log.file", c->log.file },
        { "nodes (at start)", fmt_u64(b[17], 32, c->n_nodes) },
    };
    rows_begin(&r, out, cols, 2);
    for (size_t i = 0; i < PGR_ARRAY_LEN(kv); i++) {
        const char *vals[] = { kv[i].key, kv[i].val };
        rows_add(&r, vals);
    }
    rows_end(&r, "SHOW");
    free(user_names);
}

static void
show_version(pgr_writer_t *out)
{
    static const col_t cols[] = { { "version", OID_TEXT } };
    const char *vals[] = { "pgrouter " PGR_VERSION };
    rows_t r;
    rows_begin(&r, out, cols, 1);
    rows_add(&r, vals);
    rows_end(&r, "SHOW");
}

static void
show_help(pgr_writer_t *out)
{
    static const col_t cols[] = { { "command", OID_TEXT }, { "description", OID_TEXT } };
    static const char *const help[][2] = {
        { "SHOW NODES", "nodes: configured and reported role, health, latency, lag, LSN, "
                        "last error and when" },
        { "SHOW POOLS", "per node: server connections by state, waiters, counters" },
        { "SHOW CLIENTS", "client sessions: user, database, peer, state, node, pinning" },
        { "SHOW SERVERS", "server connections lent to sessions (idle ones: SHOW POOLS)" },
        { "SHOW STATS", "counters since start" },
        { "SHOW CONFIG", "the main settings (no secrets)" },
        { "SHOW VERSION", "pgrouter's version" },
        { "ADD NODE id 'conninfo' [ROLE r] [WEIGHT w]",
          "add a node; conninfo keys: host port dbname user password sslmode sslrootcert "
          "sslcert sslkey" },
        { "DRAIN NODE id", "stop new work on a node, then remove it when drained" },
        { "REMOVE NODE id", "the same: the node is removed after its drain" },
        { "SET NODE id WEIGHT w | ROLE r", "change a node's weight or configured role" },
        { "PAUSE", "stop accepting new connections (they wait in the backlog)" },
        { "RESUME", "accept new connections again" },
        { "SHUTDOWN [WAIT_FOR_CLIENTS]", "graceful shutdown (as SIGTERM)" },
        { "RELOAD", "re-read the config file: nodes added, removed, changed live (also SIGHUP)" },
        { "EXPLAIN ROUTE <sql>", "where a statement would go and why" },
    };
    rows_t r;
    rows_begin(&r, out, cols, 2);
    for (size_t i = 0; i < PGR_ARRAY_LEN(help); i++) {
        const char *vals[] = { help[i][0], help[i][1] };
        rows_add(&r, vals);
    }
    rows_end(&r, "SHOW");
}

/* ---- EXPLAIN ROUTE ------------------------------------------------------------------------ */

static void
explain_route(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out)
{
    static const col_t cols[] = { { "route", OID_TEXT } };
    char buf[2048];
    rows_t r;

    if (rt->explain_route == NULL) {
        /* TODO(router): the lead installs rt->explain_route with the router; until then the
         * console cannot answer this. */
        pgr_be_write_error(out, false, "ERROR", "0A000", "EXPLAIN ROUTE needs the router", NULL,
                           "the router is not installed in this build");
        return;
    }
    buf[0] = '\0';
    rt->explain_route(rt, cmd->rest, cmd->rest_len, buf, sizeof(buf));
    buf[sizeof(buf) - 1] = '\0';
    rows_begin(&r, out, cols, 1);
    /* One row per line of the router's answer. */
    for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        if ((nl = strchr(line, '\n')) != NULL)
            *nl = '\0';
        const char *vals[] = { line };
        rows_add(&r, vals);
    }
    rows_end(&r, "EXPLAIN");
}

void
pgr_admin_show(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out)
{
    switch (cmd->verb) {
    case PGR_ADMIN_SHOW_NODES: show_nodes(rt, out); break;
    case PGR_ADMIN_SHOW_POOLS: show_pools(rt, out); break;
    case PGR_ADMIN_SHOW_CLIENTS: show_clients(rt, out); break;
    case PGR_ADMIN_SHOW_SERVERS: show_servers(rt, out); break;
    case PGR_ADMIN_SHOW_STATS: show_stats(rt, out); break;
    case PGR_ADMIN_SHOW_CONFIG: show_config(rt, out); break;
    case PGR_ADMIN_SHOW_VERSION: show_version(out); break;
    case PGR_ADMIN_SHOW_HELP: show_help(out); break;
    case PGR_ADMIN_EXPLAIN_ROUTE: explain_route(rt, cmd, out); break;
    default: pgr_assert(!"pgr_admin_show: not a row-returning verb");
    }
}

/* Configuration reload: the difference between two snapshots (see reload.h). */
#include <string.h>

#include "core/reload.h"

static bool
str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
list_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

static bool
pool_eq(const pgr_pool_config_t *a, const pgr_pool_config_t *b)
{
    return a->mode == b->mode && a->max_size == b->max_size && a->min_idle == b->min_idle &&
           a->idle_timeout_ms == b->idle_timeout_ms &&
           a->connect_timeout_ms == b->connect_timeout_ms &&
           a->acquire_timeout_ms == b->acquire_timeout_ms;
}

static bool
login_eq(const pgr_login_config_t *a, const pgr_login_config_t *b)
{
    return str_eq(a->user, b->user) && str_eq(a->password, b->password) &&
           str_eq(a->dbname, b->dbname);
}

/* Everything a node's connections (pooled and health check) are made from. */
static bool
conn_eq(const pgr_node_config_t *a, const pgr_node_config_t *b)
{
    return str_eq(a->host, b->host) && a->port == b->port && str_eq(a->dbname, b->dbname) &&
           str_eq(a->user, b->user) && str_eq(a->password, b->password) &&
           str_eq(a->ssl.mode, b->ssl.mode) && str_eq(a->ssl.ca, b->ssl.ca) &&
           str_eq(a->ssl.cert, b->ssl.cert) && str_eq(a->ssl.key, b->ssl.key) &&
           pool_eq(&a->pool, &b->pool) && login_eq(&a->health, &b->health);
}

static const pgr_node_config_t *
find(const pgr_config_t *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_nodes; i++)
        if (strcmp(cfg->nodes[i].id, id) == 0)
            return &cfg->nodes[i];
    return NULL;
}

static void
push(pgr_reload_plan_t *p, pgr_reload_op_t op, const pgr_node_config_t *node)
{
    p->actions[p->n_actions++] = (pgr_reload_action_t){ op, node };
}

static void
restart(pgr_reload_plan_t *p, const char *what)
{
    if (p->n_restart < PGR_RELOAD_MAX_RESTART)
        p->restart[p->n_restart++] = what;
}

int
pgr_reload_diff(const pgr_config_t *old, const pgr_config_t *new, pgr_reload_plan_t *out)
{
    memset(out, 0, sizeof(*out));
    /* At most: every old node removed and every new one added, plus weight and role each. */
    size_t cap = old->n_nodes + 3 * new->n_nodes;
    if (cap > 0 && (out->actions = calloc(cap, sizeof(*out->actions))) == NULL)
        return PGR_ENOMEM;
    for (size_t i = 0; i < old->n_nodes; i++)
        if (find(new, old->nodes[i].id) == NULL)
            push(out, PGR_RELOAD_REMOVE, &old->nodes[i]);
    for (size_t i = 0; i < new->n_nodes; i++) {
        const pgr_node_config_t *n = &new->nodes[i];
        const pgr_node_config_t *o = find(old, n->id);
        if (o == NULL)
            continue;
        if (!conn_eq(o, n)) {
            push(out, PGR_RELOAD_REPLACE, n);
            continue;
        }
        if (o->weight != n->weight)
            push(out, PGR_RELOAD_WEIGHT, n);
        if (o->role != n->role)
            push(out, PGR_RELOAD_ROLE, n);
    }
    for (size_t i = 0; i < new->n_nodes; i++)
        if (find(old, new->nodes[i].id) == NULL)
            push(out, PGR_RELOAD_ADD, &new->nodes[i]);

    out->router = old->routing.reads != new->routing.reads ||
                  old->routing.balance != new->routing.balance ||
                  old->routing.max_replica_lag_ms != new->routing.max_replica_lag_ms;
    out->classifier = old->routing.classify_cache_size != new->routing.classify_cache_size ||
                      !list_eq(old->routing.write_functions, old->routing.n_write_functions,
                               new->routing.write_functions, new->routing.n_write_functions);
    out->log = !str_eq(old->log.level, new->log.level) || old->log.json != new->log.json ||
               !str_eq(old->log.file, new->log.file);

    if (!list_eq(old->listen.hosts, old->listen.n_hosts, new->listen.hosts,
                 new->listen.n_hosts) ||
        old->listen.port != new->listen.port ||
        !str_eq(old->listen.unix_socket_dir, new->listen.unix_socket_dir) ||
        old->listen.reuseport != new->listen.reuseport)
        restart(out, "listen");
    /* The id is in every cancel key given out, and the own peers entry is a listening socket. */
    if (!old->instance.cli && old->instance.id != new->instance.id)
        restart(out, "instance.id");
    const pgr_peer_config_t *op = pgr_config_find_peer(old, old->instance.id);
    const pgr_peer_config_t *np = pgr_config_find_peer(new, old->instance.id);
    if (!op != !np || (op && (op->port != np->port || strcmp(op->host, np->host) != 0)))
        restart(out, "peers (this instance's own address)");
    if (old->tls.mode != new->tls.mode || !str_eq(old->tls.cert, new->tls.cert) ||
        !str_eq(old->tls.key, new->tls.key))
        restart(out, "tls");
    if (!str_eq(old->admin.http, new->admin.http))
        restart(out, "admin.http");
    if (!pool_eq(&old->pool, &new->pool))
        restart(out, "pool");
    if (old->health.interval_ms != new->health.interval_ms ||
        old->health.timeout_ms != new->health.timeout_ms ||
        old->health.unhealthy_threshold != new->health.unhealthy_threshold ||
        old->health.backoff_initial_ms != new->health.backoff_initial_ms ||
        old->health.backoff_max_ms != new->health.backoff_max_ms ||
        old->health.backoff_jitter != new->health.backoff_jitter ||
        !login_eq(&old->health.login, &new->health.login))
        restart(out, "health");
    if (old->limits.max_message_size != new->limits.max_message_size)
        restart(out, "limits.max_message_size");
    return 0;
}

void
pgr_reload_plan_free(pgr_reload_plan_t *p)
{
    free(p->actions);
    memset(p, 0, sizeof(*p));
}

const char *
pgr_reload_op_name(pgr_reload_op_t op)
{
    switch (op) {
    case PGR_RELOAD_ADD:
        return "add";
    case PGR_RELOAD_REMOVE:
        return "remove";
    case PGR_RELOAD_REPLACE:
        return "replace";
    case PGR_RELOAD_WEIGHT:
        return "weight";
    case PGR_RELOAD_ROLE:
        return "role";
    }
    return "?";
}

/* *dst = a copy of src (NULL stays NULL); the old *dst is freed. false when out of memory. */
static bool
copy_str(char **dst, const char *src)
{
    char *c = NULL;

    if (src && (c = strdup(src)) == NULL)
        return false;
    free(*dst);
    *dst = c;
    return true;
}

int
pgr_reload_keep(const pgr_config_t *old, pgr_config_t *new)
{
    char **hosts = old->listen.n_hosts ? calloc(old->listen.n_hosts, sizeof(*hosts)) : NULL;

    if (old->listen.n_hosts && hosts == NULL)
        return PGR_ENOMEM;
    for (size_t i = 0; i < old->listen.n_hosts; i++)
        if ((hosts[i] = strdup(old->listen.hosts[i])) == NULL) {
            for (size_t j = 0; j < i; j++)
                free(hosts[j]);
            free(hosts);
            return PGR_ENOMEM;
        }
    for (size_t i = 0; i < new->listen.n_hosts; i++)
        free(new->listen.hosts[i]);
    free(new->listen.hosts);
    new->listen.hosts = hosts;
    new->listen.n_hosts = old->listen.n_hosts;
    new->listen.port = old->listen.port;
    new->listen.reuseport = old->listen.reuseport;
    new->instance = old->instance;
    /* This instance's own peers entry is a listening socket: the running address stays. */
    const pgr_peer_config_t *op = pgr_config_find_peer(old, old->instance.id);
    for (size_t i = 0; op && i < new->n_peers; i++) {
        pgr_peer_config_t *np = &new->peers[i];
        if (np->id == op->id && np->host) {
            if (!copy_str(&np->host, op->host))
                return PGR_ENOMEM;
            np->port = op->port;
        }
    }
    if (!copy_str(&new->listen.unix_socket_dir, old->listen.unix_socket_dir) ||
        !copy_str(&new->tls.cert, old->tls.cert) || !copy_str(&new->tls.key, old->tls.key) ||
        !copy_str(&new->admin.http, old->admin.http))
        return PGR_ENOMEM;
    new->tls.mode = old->tls.mode;
    /* The session timeouts bound clients, not pools: the new file's apply at once. */
    int64_t query_timeout = new->pool.query_timeout_ms;
    int64_t idle_txn_timeout = new->pool.idle_transaction_timeout_ms;
    new->pool = old->pool;
    new->pool.query_timeout_ms = query_timeout;
    new->pool.idle_transaction_timeout_ms = idle_txn_timeout;
    pgr_login_config_t login = new->health.login; /* new's own strings, freed below */
    new->health.login = (pgr_login_config_t){ 0 };
    if (!copy_str(&new->health.login.user, old->health.login.user) ||
        !copy_str(&new->health.login.password, old->health.login.password) ||
        !copy_str(&new->health.login.dbname, old->health.login.dbname)) {
        free(new->health.login.user);
        free(new->health.login.password);
        new->health.login = login;
        return PGR_ENOMEM;
    }
    if (login.password)
        explicit_bzero(login.password, strlen(login.password));
    free(login.user);
    free(login.password);
    free(login.dbname);
    login = new->health.login;
    new->health = old->health;
    new->health.login = login;
    new->limits.max_message_size = old->limits.max_message_size;
    return 0;
}

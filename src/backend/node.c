/* Nodes: validation, creation, connection parameters, removal with drain, events. */
#include <stdio.h>
#include <string.h>

#include "backend/node.h"
#include "backend/parallel.h"
#include "backend/server.h"
#include "core/log.h"

static const char *const ssl_modes[] = { "disable", "allow", "prefer", "require", "verify-ca",
                                         "verify-full" };

int
pgr_node_validate(const struct pgr_cluster *c, const pgr_node_config_t *nc, char *err,
                  size_t errlen)
{
    if (!nc->id || !nc->id[0] || strlen(nc->id) >= PGR_NODE_ID_MAX) {
        snprintf(err, errlen, "node id must be 1-%d bytes", PGR_NODE_ID_MAX - 1);
        return PGR_EINVAL;
    }
    for (const char *p = nc->id; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '\'' || *p == '"' || *p == '\\') {
            snprintf(err, errlen, "node id \"%s\": no spaces, quotes or backslashes allowed",
                     nc->id);
            return PGR_EINVAL;
        }
    }
    if (c->n_nodes >= PGR_CLUSTER_MAX_NODES) {
        snprintf(err, errlen, "pgrouter routes among at most %d nodes",
                 PGR_CLUSTER_MAX_NODES);
        return PGR_ELIMIT;
    }
    if (pgr_node_find(c, nc->id)) {
        snprintf(err, errlen, "node \"%s\" already exists", nc->id);
        return PGR_EEXIST;
    }
    if (!nc->host || !nc->host[0]) {
        snprintf(err, errlen, "node %s: host is required", nc->id);
        return PGR_EINVAL;
    }
    if (nc->port < 1 || nc->port > 65535) {
        snprintf(err, errlen, "node %s: port must be 1-65535, got %d", nc->id, nc->port);
        return PGR_EINVAL;
    }
    if (nc->weight < 0) {
        snprintf(err, errlen, "node %s: weight must be >= 0, got %d", nc->id, nc->weight);
        return PGR_EINVAL;
    }
    if (nc->ssl.mode) {
        bool ok = false;
        for (size_t i = 0; i < PGR_ARRAY_LEN(ssl_modes); i++)
            ok = ok || strcmp(nc->ssl.mode, ssl_modes[i]) == 0;
        if (!ok) {
            snprintf(err, errlen,
                     "node %s: ssl mode must be one of disable, allow, prefer, require, "
                     "verify-ca, verify-full; got \"%s\"", nc->id, nc->ssl.mode);
            return PGR_EINVAL;
        }
    }
    return 0;
}

pgr_node_t *
pgr_node_find(const struct pgr_cluster *c, const char *id)
{
    pgr_list_t *pos;
    pgr_list_foreach(pos, &c->nodes) {
        pgr_node_t *n = pgr_container_of(pos, pgr_node_t, link);
        if (strcmp(n->cfg.id, id) == 0)
            return n;
    }
    return NULL;
}

static void
free_cfg(pgr_node_config_t *nc)
{
    if (nc->password)
        explicit_bzero(nc->password, strlen(nc->password));
    free(nc->id);
    free(nc->host);
    free(nc->dbname);
    free(nc->user);
    free(nc->password);
    free(nc->ssl.mode);
    free(nc->ssl.ca);
    free(nc->ssl.cert);
    free(nc->ssl.key);
    if (nc->health.password)
        explicit_bzero(nc->health.password, strlen(nc->health.password));
    free(nc->health.user);
    free(nc->health.password);
    free(nc->health.dbname);
}

static int
dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : PGR_ENOMEM;
}

static int
copy_cfg(pgr_node_config_t *dst, const pgr_node_config_t *src)
{
    *dst = *src;
    int rc = dup_str(&dst->id, src->id) | dup_str(&dst->host, src->host) |
             dup_str(&dst->dbname, src->dbname) | dup_str(&dst->user, src->user) |
             dup_str(&dst->password, src->password) | dup_str(&dst->ssl.mode, src->ssl.mode) |
             dup_str(&dst->ssl.ca, src->ssl.ca) | dup_str(&dst->ssl.cert, src->ssl.cert) |
             dup_str(&dst->ssl.key, src->ssl.key) |
             dup_str(&dst->health.user, src->health.user) |
             dup_str(&dst->health.password, src->health.password) |
             dup_str(&dst->health.dbname, src->health.dbname);
    if (rc != 0) {
        free_cfg(dst);
        return PGR_ENOMEM;
    }
    return 0;
}

/* The node's pool limits: its own (>= 0) over the global ones. */
static pgr_pool_config_t
effective_pool(const pgr_pool_config_t *g, const pgr_pool_config_t *n)
{
    pgr_pool_config_t r = *g;
    if ((int)n->mode >= 0)
        r.mode = n->mode;
    if (n->max_size >= 0)
        r.max_size = n->max_size;
    if (n->min_idle >= 0)
        r.min_idle = n->min_idle;
    if (n->idle_timeout_ms >= 0)
        r.idle_timeout_ms = n->idle_timeout_ms;
    if (n->connect_timeout_ms >= 0)
        r.connect_timeout_ms = n->connect_timeout_ms;
    if (n->acquire_timeout_ms >= 0)
        r.acquire_timeout_ms = n->acquire_timeout_ms;
    if (r.max_size < 1)
        r.max_size = 1;
    if (r.min_idle > r.max_size)
        r.min_idle = r.max_size;
    return r;
}

int
pgr_node_add(struct pgr_cluster *c, const pgr_node_config_t *nc, pgr_node_t **out, char *err,
             size_t errlen)
{
    pgr_pool_t *pool;
    int rc = pgr_node_validate(c, nc, err, errlen);
    if (rc != 0)
        return rc;
    pgr_node_t *node = calloc(1, sizeof(*node));
    if (!node || copy_cfg(&node->cfg, nc) != 0) {
        free(node);
        snprintf(err, errlen, "out of memory");
        return PGR_ENOMEM;
    }
    node->cluster = c;
    node->pool_cfg = effective_pool(&c->pool, &nc->pool);
    pgr_list_init(&node->pools);
    pgr_list_push_back(&c->nodes, &node->link);
    c->n_nodes++;
    pgr_health_start(&node->health, node);
    /* The library's own pool, so min_idle connections open at once. */
    if (pgr_node_pool(node, c->user, c->dbname, c->password, &pool) != 0)
        pgr_warn("node", "node %s: could not create its default pool", node->cfg.id);
    pgr_info("node", "node %s added (%s:%d)", node->cfg.id, node->cfg.host, node->cfg.port);
    pgr_event_t ev = { .type = PGR_EVENT_NODE_ADDED, .node_id = node->cfg.id,
                       .new_state = node->health.rec.state };
    pgr_cluster_emit(c, &ev);
    if (out)
        *out = node;
    return 0;
}

int
pgr_node_pool(pgr_node_t *node, const char *user, const char *dbname, const char *password,
              pgr_pool_t **out)
{
    const char *u = node->cfg.user ? node->cfg.user : user;
    const char *d = node->cfg.dbname ? node->cfg.dbname : dbname;
    const char *pw = node->cfg.password ? node->cfg.password
                     : password             ? password
                     : node->cfg.user       ? NULL
                                            : pgr_cluster_user_password(node->cluster, u);
    return pgr_node_pool_as(node, u, d, pw, out);
}

int
pgr_node_pool_as(pgr_node_t *node, const char *u, const char *d, const char *pw,
                 pgr_pool_t **out)
{
    if (!u || !d)
        return PGR_EINVAL;
    pgr_pool_t *p = pgr_pool_find(node, u, d);
    if (p) {
        if (!p->password && pw && (p->password = strdup(pw)) == NULL)
            return PGR_ENOMEM;
        *out = p;
        return 0;
    }
    return pgr_pool_new(node, u, d, pw, out);
}

static void
add_kv(const char **kw, const char **val, int *n, const char *k, const char *v)
{
    if (!v)
        return;
    kw[*n] = k;
    val[*n] = v;
    (*n)++;
}

int
pgr_node_connect(pgr_node_t *node, const char *user, const char *dbname, const char *password,
                 int64_t timeout_ms, pgr_server_connect_cb cb, void *arg, pgr_server_t **out,
                 char *err, size_t errlen)
{
    const pgr_node_config_t *nc = &node->cfg;
    return pgr_node_connect_as(node, nc->user ? nc->user : user,
                               nc->dbname ? nc->dbname : dbname,
                               nc->password ? nc->password : password, timeout_ms, cb, arg, out,
                               err, errlen);
}

int
pgr_node_connect_as(pgr_node_t *node, const char *user, const char *dbname,
                    const char *password, int64_t timeout_ms, pgr_server_connect_cb cb, void *arg,
                    pgr_server_t **out, char *err, size_t errlen)
{
    const pgr_node_config_t *nc = &node->cfg;
    const char *kw[16], *val[16];
    char port[16];
    int n = 0;

#define KV(k, v) add_kv(kw, val, &n, (k), (v))
    snprintf(port, sizeof(port), "%d", nc->port);
    KV("host", nc->host);
    KV("port", port);
    KV("dbname", dbname);
    KV("user", user);
    KV("password", password);
    KV("sslmode", nc->ssl.mode ? nc->ssl.mode : nc->ssl.ca ? "verify-full" : "prefer");
    KV("sslrootcert", nc->ssl.ca);
    KV("sslcert", nc->ssl.cert);
    KV("sslkey", nc->ssl.key);
    KV("application_name", node->cluster->appname);
#undef KV
    kw[n] = val[n] = NULL;
    int rc = pgr_server_start(node->cluster->loop, kw, val, timeout_ms, cb, arg, out, err, errlen);
    if (rc != 0)
        return rc;
    (*out)->node = node;
    (*out)->cancels = &node->cluster->cancels;
    return 0;
}

void
pgr_node_report_io_error(pgr_node_t *node)
{
    pgr_health_poke(&node->health);
}

void
pgr_node_down(pgr_node_t *node, const char *why)
{
    pgr_list_t *pos, *tmp;
    pgr_list_foreach_safe(pos, tmp, &node->pools) {
        pgr_pool_node_down(pgr_container_of(pos, pgr_pool_t, link), why);
    }
}

void
pgr_node_stats(const pgr_node_t *node, pgr_pool_stats_t *out)
{
    pgr_list_t *pos;
    memset(out, 0, sizeof(*out));
    snprintf(out->node_id, sizeof(out->node_id), "%s", node->cfg.id);
    out->max = node->pool_cfg.max_size;
    pgr_list_foreach(pos, &node->pools) {
        pgr_pool_stats_add(pgr_container_of(pos, pgr_pool_t, link), out);
    }
}

int
pgr_node_busy(const pgr_node_t *node)
{
    pgr_list_t *pos;
    int n = node->n_ops;
    pgr_list_foreach(pos, &node->pools) {
        n += pgr_pool_busy(pgr_container_of(pos, pgr_pool_t, link));
    }
    return n;
}

void
pgr_node_notes_free(pgr_node_t *node)
{
    while (node->notes) {
        pgr_node_note_t *nt = node->notes;
        node->notes = nt->next;
        free(nt->database);
        free(nt->key);
        free(nt->value);
        free(nt);
    }
    node->n_notes = 0;
}

/* ---- removal ------------------------------------------------------------------------------ */

static void
maybe_gone(pgr_node_t *node)
{
    if (node->closing_parts > 0)
        return;
    struct pgr_cluster *c = node->cluster;
    int status = node->health.rec.state == PGR_NODE_REMOVED ? PGR_EREMOVED : PGR_ESHUTDOWN;
    pgr_list_remove(&node->link);
    if (status == PGR_EREMOVED) {
        pgr_info("node", "node %s removed", node->cfg.id);
        pgr_event_t ev = { .type = PGR_EVENT_NODE_REMOVED, .node_id = node->cfg.id,
                           .old_state = PGR_NODE_REMOVED, .new_state = PGR_NODE_REMOVED };
        pgr_cluster_emit(c, &ev);
    }
    if (node->remove_cb)
        node->remove_cb(c, 0, node->remove_arg);
    pgr_node_notes_free(node);
    free_cfg(&node->cfg);
    free(node);
}

static void
part_closed(pgr_node_t *node)
{
    node->closing_parts--;
    maybe_gone(node);
}

static void
pool_closed(pgr_pool_t *p, void *arg)
{
    part_closed(arg);
}

static void
health_stopped(pgr_health_checker_t *h, void *arg)
{
    part_closed(arg);
}

static void
drain_timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

void
pgr_node_force(pgr_node_t *node, int status)
{
    pgr_list_t *pos, *tmp;
    pgr_parallel_abort_node(node, status); /* their connections go back first */
    pgr_list_foreach_safe(pos, tmp, &node->pools) {
        pgr_pool_t *p = pgr_container_of(pos, pgr_pool_t, link);
        if (p->closing)
            continue;
        node->closing_parts++;
        pgr_pool_close(p, status, pool_closed, node);
    }
    if (node->drain_timer_open) {
        node->drain_timer_open = false;
        node->closing_parts++;
        uv_close((uv_handle_t *)&node->drain_timer, drain_timer_closed);
    }
}

static void
drain_tick(uv_timer_t *t)
{
    pgr_node_t *node = t->data;
    int busy = pgr_node_busy(node);
    if (busy > 0 && uv_now(t->loop) < node->drain_deadline)
        return;
    if (busy > 0)
        pgr_warn("node", "node %s: drain timeout, closing %d busy connection(s)", node->cfg.id,
                 busy);
    node->closing_parts--; /* the drain itself is over */
    pgr_node_force(node, node->health.rec.state == PGR_NODE_REMOVED ? PGR_EREMOVED
                                                                    : PGR_ESHUTDOWN);
    maybe_gone(node);
}

void
pgr_node_remove(pgr_node_t *node, int64_t drain_ms, int status, pgr_done_cb cb, void *arg)
{
    struct pgr_cluster *c = node->cluster;
    pgr_list_t *pos;

    node->removing = true;
    node->remove_cb = cb;
    node->remove_arg = arg;
    pgr_list_remove(&node->link);
    pgr_list_push_back(&c->dying, &node->link);
    c->n_nodes--;
    pgr_list_foreach(pos, &node->pools) {
        pgr_pool_fail_waiters(pgr_container_of(pos, pgr_pool_t, link), status);
    }
    node->closing_parts++; /* health */
    pgr_health_stop(&node->health, status == PGR_EREMOVED, health_stopped, node);
    node->closing_parts++; /* the drain, until drain_tick forces */
    uv_timer_init(c->loop, &node->drain_timer);
    node->drain_timer.data = node;
    node->drain_timer_open = true;
    node->drain_deadline = uv_now(c->loop) + (uint64_t)(drain_ms > 0 ? drain_ms : 0);
    uv_timer_start(&node->drain_timer, drain_tick, 0, 10);
}

/* ---- events ------------------------------------------------------------------------------- */

void
pgr_cluster_emit(struct pgr_cluster *c, const pgr_event_t *ev)
{
    for (size_t i = 0; i < c->n_listeners; i++)
        c->listeners[i].cb(c, ev, c->listeners[i].arg);
}

double
pgr_cluster_rand(struct pgr_cluster *c)
{
    uint64_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->rng = x;
    return (double)(x >> 11) / (double)(1ull << 53);
}

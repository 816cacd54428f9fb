/* The public facade of the node cluster library (include/pgrouter/cluster.h): creation,
 * lookups, queries, acquire/release, events, stats, add/remove and shutdown over node.c,
 * pool.c, health.c and parallel.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/node.h"
#include "backend/cancel.h"
#include "backend/parallel.h"
#include "backend/pool.h"
#include "backend/server.h"
#include "core/log.h"

enum { RUNNING, DRAINING, CLOSING, STOPPED };

static const char *const state_names[] = {
#define PGR_NODE_STATE_TEXT(name, text) text,
    PGR_NODE_STATE_MAP(PGR_NODE_STATE_TEXT)
#undef PGR_NODE_STATE_TEXT
};

PGR_API const char *
pgr_node_state_name(pgr_node_state_t s)
{
    return (unsigned)s < PGR_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

PGR_API const char *
pgr_result_value(const pgr_result_t *r, int row, int col)
{
    if (!r->ok || row < 0 || col < 0 || row >= r->n_rows || col >= r->n_fields)
        return NULL;
    return r->values[(size_t)row * (size_t)r->n_fields + (size_t)col];
}

/* POOL_STATS with every node's counters (none skipped, however many nodes there are). */
static void
stats_tick(uv_timer_t *t)
{
    pgr_cluster_t *c = t->data;
    pgr_pool_stats_t few[PGR_CLUSTER_MAX_NODES], *stats = few;
    size_t n = pgr_cluster_all_pool_stats(c, NULL, 0);

    if (n > PGR_ARRAY_LEN(few) && (stats = calloc(n, sizeof(*stats))) == NULL)
        return; /* out of memory: this interval's event is skipped */
    size_t cap = n > PGR_ARRAY_LEN(few) ? n : PGR_ARRAY_LEN(few);
    n = pgr_cluster_all_pool_stats(c, stats, cap);
    if (n > cap)
        n = cap;
    pgr_event_t ev = { .type = PGR_EVENT_POOL_STATS, .stats = stats, .n_stats = n };
    pgr_cluster_emit(c, &ev);
    if (stats != few)
        free(stats);
}

static char *
dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

/* *dst = a copy of src (NULL stays NULL); false when out of memory. */
static bool
dup_null(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static void
free_login(pgr_login_config_t *l)
{
    if (l->password)
        explicit_bzero(l->password, strlen(l->password));
    free(l->user);
    free(l->password);
    free(l->dbname);
    *l = (pgr_login_config_t){ 0 };
}

PGR_API int
pgr_cluster_new(uv_loop_t *loop, const pgr_config_t *cfg, const pgr_cluster_options_t *opts,
                pgr_cluster_t **out, char *err, size_t errlen)
{
    pgr_cluster_options_t none = { 0 };
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    *out = NULL;
    if (!opts)
        opts = &none;
    pgr_cluster_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return PGR_ENOMEM;
    }
    c->loop = loop;
    c->pool = cfg->pool;
    c->health.interval_ms = cfg->health.interval_ms > 0 ? cfg->health.interval_ms : 1000;
    c->health.timeout_ms = cfg->health.timeout_ms > 0 ? cfg->health.timeout_ms : 1000;
    c->health.unhealthy_threshold = cfg->health.unhealthy_threshold;
    c->health.backoff_initial_ms = cfg->health.backoff_initial_ms > 0
                                       ? cfg->health.backoff_initial_ms : 1000;
    c->health.backoff_max_ms = cfg->health.backoff_max_ms > 0 ? cfg->health.backoff_max_ms
                                                               : 30000;
    c->health.backoff_jitter = cfg->health.backoff_jitter;
    c->drain_timeout_ms = cfg->shutdown.drain_timeout_ms;
    c->user = dup_or(opts->user, "postgres");
    c->dbname = dup_or(opts->dbname, "postgres");
    c->appname = dup_or(opts->application_name, "pgrouter");
    c->password = opts->password ? strdup(opts->password) : NULL;
    pgr_list_init(&c->nodes);
    pgr_list_init(&c->dying);
    pgr_list_init(&c->ops);
    pgr_list_init(&c->cancels);
    pgr_list_init(&c->orphans);
    c->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
    if (c->rng == 0)
        c->rng = 88172645463325252ull;
    const pgr_login_config_t *hl = &cfg->health.login;
    if (!c->user || !c->dbname || !c->appname || (opts->password && !c->password) ||
        !dup_null(&c->health.login.user, hl->user) ||
        !dup_null(&c->health.login.password, hl->password) ||
        !dup_null(&c->health.login.dbname, hl->dbname)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* Validate every node before anything starts, so a bad config leaves nothing running. */
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        if (pgr_node_validate(c, &cfg->nodes[i], err, errlen) != 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->nodes[i].id, cfg->nodes[j].id) == 0) {
                snprintf(err, errlen, "node \"%s\" is defined twice", cfg->nodes[i].id);
                goto fail;
            }
        }
    }
    uv_timer_init(loop, &c->stats_timer);
    uv_timer_init(loop, &c->stop_timer);
    c->stats_timer.data = c->stop_timer.data = c;
    uv_timer_start(&c->stats_timer, stats_tick, (uint64_t)c->health.interval_ms,
                   (uint64_t)c->health.interval_ms);
    for (size_t i = 0; i < cfg->n_nodes; i++)
        if (pgr_node_add(c, &cfg->nodes[i], NULL, err, errlen) != 0)
            pgr_error("cluster", "%s", err); /* only out of memory gets here */
    *out = c;
    return 0;

fail:
    free_login(&c->health.login);
    free(c->user);
    free(c->dbname);
    free(c->appname);
    free(c->password);
    free(c);
    return PGR_ECONFIG;
}

PGR_API void
pgr_cluster_free(pgr_cluster_t *c)
{
    pgr_list_t *pos, *tmp;
    if (!c)
        return;
    pgr_assert(c->stop_phase == STOPPED);
    pgr_list_foreach_safe(pos, tmp, &c->orphans) {
        pgr_server_t *srv = pgr_container_of(pos, pgr_server_t, link);
        pgr_list_remove(&srv->link);
        pgr_server_close(srv, NULL, NULL); /* its handles are closed: frees at once */
    }
    if (c->password)
        explicit_bzero(c->password, strlen(c->password));
    while (c->creds) {
        pgr_user_cred_t *cr = c->creds;
        c->creds = cr->next;
        explicit_bzero(cr->password, strlen(cr->password));
        free(cr->password);
        free(cr->user);
        free(cr);
    }
    free_login(&c->health.login);
    free(c->user);
    free(c->dbname);
    free(c->appname);
    free(c->password);
    free(c);
}

/* ---- passwords verified for users --------------------------------------------------------- */

const char *
pgr_cluster_user_password(const pgr_cluster_t *c, const char *user)
{
    for (const pgr_user_cred_t *cr = c->creds; cr; cr = cr->next)
        if (strcmp(cr->user, user) == 0)
            return cr->password;
    return NULL;
}

/* *dst = a copy of src, the old value wiped; false when out of memory (nothing changed). */
static bool
replace_secret(char **dst, const char *src)
{
    char *n = strdup(src);
    if (!n)
        return false;
    if (*dst) {
        explicit_bzero(*dst, strlen(*dst));
        free(*dst);
    }
    *dst = n;
    return true;
}

PGR_API int
pgr_cluster_set_user_password(pgr_cluster_t *c, const char *user, const char *password)
{
    pgr_user_cred_t *cr = c->creds;
    pgr_list_t *npos, *ppos;

    while (cr && strcmp(cr->user, user) != 0)
        cr = cr->next;
    if (!cr) {
        cr = calloc(1, sizeof(*cr));
        if (!cr || !(cr->user = strdup(user))) {
            free(cr);
            return PGR_ENOMEM;
        }
        cr->next = c->creds;
        c->creds = cr;
    }
    if (!replace_secret(&cr->password, password))
        return PGR_ENOMEM;
    /* The user's pools on nodes that log in as the client connect with it from now on. */
    pgr_list_foreach(npos, &c->nodes) {
        pgr_node_t *node = pgr_container_of(npos, pgr_node_t, link);
        if (node->cfg.user || node->cfg.password)
            continue;
        pgr_list_foreach(ppos, &node->pools) {
            pgr_pool_t *p = pgr_container_of(ppos, pgr_pool_t, link);
            if (strcmp(p->user, user) == 0 && !replace_secret(&p->password, password))
                return PGR_ENOMEM;
        }
    }
    return 0;
}

PGR_API uv_loop_t *
pgr_cluster_loop(pgr_cluster_t *c)
{
    return c->loop;
}

PGR_API bool
pgr_cluster_is_running(const pgr_cluster_t *c)
{
    return c->stop_phase == RUNNING;
}

/* ---- lookups ------------------------------------------------------------------------------ */

PGR_API bool
pgr_cluster_has_node(const pgr_cluster_t *c, const char *id)
{
    return pgr_node_find(c, id) != NULL;
}

/* ---- notes -------------------------------------------------------------------------------- */

static pgr_node_note_t **
note_find(pgr_node_t *n, const char *database, const char *key)
{
    for (pgr_node_note_t **pp = &n->notes; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->database, database) == 0 && strcmp((*pp)->key, key) == 0)
            return pp;
    return NULL;
}

PGR_API int
pgr_cluster_note_set(pgr_cluster_t *c, const char *id, const char *database, const char *key,
                     const char *value)
{
    pgr_node_t *n = pgr_node_find(c, id);
    pgr_node_note_t *nt = NULL, **pp;
    if (n == NULL)
        return PGR_ENOENT;
    if ((nt = calloc(1, sizeof(*nt))) == NULL || (nt->database = strdup(database)) == NULL ||
        (nt->key = strdup(key)) == NULL || (nt->value = strdup(value)) == NULL)
        goto fail;
    if ((pp = note_find(n, database, key)) != NULL) {
        pgr_node_note_t *old = *pp;
        *pp = old->next;
        n->n_notes--;
        free(old->database);
        free(old->key);
        free(old->value);
        free(old);
    }
    nt->next = n->notes;
    n->notes = nt;
    if (++n->n_notes > PGR_NODE_MAX_NOTES) {
        /* drop the oldest */
        for (pp = &n->notes; (*pp)->next; pp = &(*pp)->next)
            ;
        pgr_node_note_t *old = *pp;
        *pp = NULL;
        n->n_notes--;
        free(old->database);
        free(old->key);
        free(old->value);
        free(old);
    }
    return 0;
fail:
    if (nt) {
        free(nt->database);
        free(nt->key);
        free(nt->value);
        free(nt);
    }
    return PGR_ENOMEM;
}

PGR_API const char *
pgr_cluster_note_get(const pgr_cluster_t *c, const char *id, const char *database,
                     const char *key)
{
    pgr_node_t *n = pgr_node_find(c, id);
    pgr_node_note_t **pp = n ? note_find(n, database, key) : NULL;
    return pp ? (*pp)->value : NULL;
}

static void
node_info(const pgr_node_t *n, pgr_node_info_t *out)
{
    size_t l;

    memset(out, 0, sizeof(*out)); /* the strings are cut to fit, NUL-terminated by it */
    l = strlen(n->cfg.id);
    memcpy(out->id, n->cfg.id, l < sizeof(out->id) ? l : sizeof(out->id) - 1);
    l = strlen(n->cfg.host);
    memcpy(out->host, n->cfg.host, l < sizeof(out->host) ? l : sizeof(out->host) - 1);
    out->port = n->cfg.port;
    out->role = n->cfg.role;
    out->weight = n->cfg.weight;
}

PGR_API int
pgr_cluster_get_node(const pgr_cluster_t *c, const char *id, pgr_node_info_t *out)
{
    const pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    node_info(n, out);
    return 0;
}

PGR_API size_t
pgr_cluster_all_nodes(const pgr_cluster_t *c, pgr_node_info_t *out, size_t cap)
{
    size_t i = 0;
    pgr_list_t *pos;
    pgr_list_foreach(pos, &c->nodes) {
        if (i < cap)
            node_info(pgr_container_of(pos, pgr_node_t, link), &out[i]);
        i++;
    }
    return i;
}

PGR_API int
pgr_cluster_get_health(const pgr_cluster_t *c, const char *id, pgr_health_t *out)
{
    const pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    *out = n->health.rec;
    return 0;
}

PGR_API size_t
pgr_cluster_all_health(const pgr_cluster_t *c, pgr_health_t *out, size_t cap)
{
    size_t i = 0;
    pgr_list_t *pos;
    pgr_list_foreach(pos, &c->nodes) {
        if (i < cap)
            out[i] = pgr_container_of(pos, pgr_node_t, link)->health.rec;
        i++;
    }
    return i;
}

PGR_API size_t
pgr_cluster_healthy_nodes(const pgr_cluster_t *c, const char **ids, size_t cap)
{
    size_t i = 0;
    pgr_list_t *pos;
    pgr_list_foreach(pos, &c->nodes) {
        const pgr_node_t *n = pgr_container_of(pos, pgr_node_t, link);
        if (n->health.rec.state != PGR_NODE_HEALTHY)
            continue;
        if (i < cap)
            ids[i] = n->cfg.id;
        i++;
    }
    return i;
}

PGR_API int
pgr_cluster_probe(pgr_cluster_t *c, const char *id)
{
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    pgr_health_probe(&n->health);
    return 0;
}

PGR_API int
pgr_cluster_pool_stats(const pgr_cluster_t *c, const char *id, pgr_pool_stats_t *out)
{
    const pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    pgr_node_stats(n, out);
    return 0;
}

PGR_API size_t
pgr_cluster_all_pool_stats(const pgr_cluster_t *c, pgr_pool_stats_t *out, size_t cap)
{
    size_t i = 0;
    pgr_list_t *pos;
    pgr_list_foreach(pos, &c->nodes) {
        if (i < cap)
            pgr_node_stats(pgr_container_of(pos, pgr_node_t, link), &out[i]);
        i++;
    }
    return i;
}

/* ---- nodes at runtime --------------------------------------------------------------------- */

PGR_API int
pgr_cluster_add_node(pgr_cluster_t *c, const pgr_node_config_t *node, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (c->stop_phase != RUNNING) {
        snprintf(err, errlen, "the cluster is shutting down");
        return PGR_ESHUTDOWN;
    }
    return pgr_node_add(c, node, NULL, err, errlen);
}

PGR_API int
pgr_cluster_add_node_conninfo(pgr_cluster_t *c, const char *id, const char *conninfo, char *err,
                              size_t errlen)
{
    pgr_node_config_t nc;
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    memset(&nc, 0, sizeof(nc));
    nc.id = (char *)id;
    nc.role = PGR_ROLE_AUTO;
    nc.weight = 1;
    nc.pool = (pgr_pool_config_t){ .mode = (pgr_pool_mode_t)-1, .max_size = -1, .min_idle = -1,
                                   .idle_timeout_ms = -1, .connect_timeout_ms = -1,
                                   .acquire_timeout_ms = -1 };
    int rc = pgr_server_parse_conninfo(conninfo, &nc, err, errlen);
    if (rc == 0 && (!nc.host || nc.port == 0)) {
        snprintf(err, errlen, "invalid conninfo for node %s: host and port are required",
                 id ? id : "?");
        rc = PGR_EINVAL;
    }
    if (rc == 0)
        rc = pgr_cluster_add_node(c, &nc, err, errlen);
    if (nc.password)
        explicit_bzero(nc.password, strlen(nc.password));
    free(nc.host);
    free(nc.dbname);
    free(nc.user);
    free(nc.password);
    free(nc.ssl.mode);
    free(nc.ssl.ca);
    free(nc.ssl.cert);
    free(nc.ssl.key);
    return rc;
}

PGR_API int
pgr_cluster_set_node_weight(pgr_cluster_t *c, const char *id, int weight)
{
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    if (weight < 0 || weight > 1000000)
        return PGR_EINVAL;
    n->cfg.weight = weight;
    return 0;
}

PGR_API int
pgr_cluster_set_node_role(pgr_cluster_t *c, const char *id, pgr_role_t role)
{
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    if (role != PGR_ROLE_AUTO && role != PGR_ROLE_PRIMARY && role != PGR_ROLE_REPLICA)
        return PGR_EINVAL;
    n->cfg.role = role;
    return 0;
}

PGR_API int
pgr_cluster_remove_node(pgr_cluster_t *c, const char *id, int64_t drain_timeout_ms,
                        pgr_done_cb cb, void *arg)
{
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    pgr_info("cluster", "removing node %s", id);
    pgr_node_remove(n, drain_timeout_ms < 0 ? c->drain_timeout_ms : drain_timeout_ms,
                    PGR_EREMOVED, cb, arg);
    return 0;
}

/* ---- shutdown ----------------------------------------------------------------------------- */

static void
own_handle_closed(uv_handle_t *h)
{
    pgr_cluster_t *c = h->data;
    if (--c->pending == 0) {
        c->stop_phase = STOPPED;
        pgr_info("cluster", "shut down");
        if (c->stop_cb)
            c->stop_cb(c, 0, c->stop_arg);
    }
}

static bool
orphans_closed(const pgr_cluster_t *c)
{
    pgr_list_t *pos;
    pgr_list_foreach(pos, &c->orphans) {
        if (!pgr_server_handles_closed(pgr_container_of(pos, pgr_server_t, link)))
            return false;
    }
    return true;
}

/* Polls until every node is gone (each drains and closes itself), then aborts leftover
 * cancels and closes the cluster's own timers. */
static void
stop_tick(uv_timer_t *t)
{
    pgr_cluster_t *c = t->data;
    if (c->stop_phase != DRAINING || !pgr_list_empty(&c->dying) || !pgr_list_empty(&c->ops) ||
        !orphans_closed(c))
        return;
    if (!pgr_list_empty(&c->cancels)) {
        pgr_cancel_abort_all(&c->cancels);
        return;
    }
    c->stop_phase = CLOSING;
    c->pending = 2;
    uv_close((uv_handle_t *)&c->stats_timer, own_handle_closed);
    uv_close((uv_handle_t *)&c->stop_timer, own_handle_closed);
}

PGR_API int
pgr_cluster_shutdown(pgr_cluster_t *c, int64_t drain_timeout_ms, pgr_done_cb cb, void *arg)
{
    pgr_list_t *pos, *tmp;
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    int64_t drain = drain_timeout_ms < 0 ? c->drain_timeout_ms : drain_timeout_ms;
    pgr_info("cluster", "shutting down (drain timeout %lld ms)", (long long)drain);
    c->stop_phase = DRAINING;
    c->stop_cb = cb;
    c->stop_arg = arg;
    uv_timer_stop(&c->stats_timer);
    pgr_list_foreach_safe(pos, tmp, &c->nodes) {
        pgr_node_remove(pgr_container_of(pos, pgr_node_t, link), drain, PGR_ESHUTDOWN, NULL,
                        NULL);
    }
    uv_timer_start(&c->stop_timer, stop_tick, 0, 10);
    return 0;
}

/* ---- queries ------------------------------------------------------------------------------ */

PGR_API int
pgr_cluster_query(pgr_cluster_t *c, const char *id, const char *sql, int n_params,
                  const char *const *params, int64_t timeout_ms, pgr_query_cb cb, void *arg)
{
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    return pgr_parallel_run(c, &n, 1, sql, n_params, params, timeout_ms, cb, NULL, arg);
}

PGR_API int
pgr_cluster_query_as(pgr_cluster_t *c, const char *id, const char *user, const char *dbname,
                     const char *password, const char *sql, int n_params,
                     const char *const *params, int64_t timeout_ms, pgr_query_cb cb, void *arg)
{
    pgr_parallel_login_t login = { .user = user, .dbname = dbname, .password = password };
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    return pgr_parallel_run_as(c, &n, 1, &login, sql, n_params, params, timeout_ms, cb, NULL,
                               arg);
}

PGR_API int
pgr_cluster_check_login(pgr_cluster_t *c, const char *id, const char *user, const char *dbname,
                        const char *password, int64_t timeout_ms, pgr_query_cb cb, void *arg)
{
    pgr_parallel_login_t login = { .user = user, .dbname = dbname, .password = password,
                                   .check = true };
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    return pgr_parallel_run_as(c, &n, 1, &login, NULL, 0, NULL, timeout_ms, cb, NULL, arg);
}

static int
query_many(pgr_cluster_t *c, bool healthy_only, const char *sql, int n_params,
           const char *const *params, int64_t timeout_ms, pgr_query_all_cb cb, void *arg)
{
    pgr_list_t *pos;
    size_t n = 0;
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    pgr_node_t **nodes = calloc(c->n_nodes ? c->n_nodes : 1, sizeof(*nodes));
    if (!nodes)
        return PGR_ENOMEM;
    pgr_list_foreach(pos, &c->nodes) {
        pgr_node_t *node = pgr_container_of(pos, pgr_node_t, link);
        if (!healthy_only || node->health.rec.state == PGR_NODE_HEALTHY)
            nodes[n++] = node;
    }
    int rc = n == 0 ? (healthy_only ? PGR_EUNHEALTHY : PGR_ENOENT)
                    : pgr_parallel_run(c, nodes, n, sql, n_params, params, timeout_ms, NULL, cb,
                                       arg);
    free(nodes);
    return rc;
}

PGR_API int
pgr_cluster_query_all(pgr_cluster_t *c, const char *sql, int n_params, const char *const *params,
                      int64_t timeout_ms, pgr_query_all_cb cb, void *arg)
{
    return query_many(c, false, sql, n_params, params, timeout_ms, cb, arg);
}

PGR_API int
pgr_cluster_query_healthy(pgr_cluster_t *c, const char *sql, int n_params,
                          const char *const *params, int64_t timeout_ms, pgr_query_all_cb cb,
                          void *arg)
{
    return query_many(c, true, sql, n_params, params, timeout_ms, cb, arg);
}

/* ---- events ------------------------------------------------------------------------------- */

PGR_API int
pgr_cluster_subscribe(pgr_cluster_t *c, pgr_event_cb cb, void *arg)
{
    if (!cb)
        return PGR_EINVAL;
    if (c->n_listeners == PGR_CLUSTER_MAX_LISTENERS)
        return PGR_ELIMIT;
    c->listeners[c->n_listeners].cb = cb;
    c->listeners[c->n_listeners].arg = arg;
    c->n_listeners++;
    return 0;
}

PGR_API int
pgr_cluster_unsubscribe(pgr_cluster_t *c, pgr_event_cb cb, void *arg)
{
    for (size_t i = 0; i < c->n_listeners; i++) {
        if (c->listeners[i].cb == cb && c->listeners[i].arg == arg) {
            memmove(&c->listeners[i], &c->listeners[i + 1],
                    (c->n_listeners - i - 1) * sizeof(c->listeners[0]));
            c->n_listeners--;
            return 0;
        }
    }
    return PGR_ENOENT;
}

/* ---- lending connections ------------------------------------------------------------------ */

PGR_API int
pgr_cluster_acquire(pgr_cluster_t *c, const char *id, const char *user, const char *database,
                    const char *password, pgr_acquire_cb cb, void *arg, pgr_acquire_t **req_out)
{
    pgr_pool_t *pool;
    if (req_out)
        *req_out = NULL;
    if (c->stop_phase != RUNNING)
        return PGR_ESHUTDOWN;
    pgr_node_t *n = pgr_node_find(c, id);
    if (!n)
        return PGR_ENOENT;
    int rc = pgr_node_pool(n, user, database, password, &pool);
    if (rc != 0)
        return rc;
    return pgr_pool_acquire(pool, cb, arg, req_out);
}

PGR_API void
pgr_cluster_acquire_cancel(pgr_acquire_t *req)
{
    pgr_pool_acquire_cancel(req);
}

PGR_API void
pgr_cluster_release(pgr_server_t *srv, pgr_release_t how)
{
    pgr_pool_release(srv, how);
}

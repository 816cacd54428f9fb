/* The config loader's API: the defaults, a load from a file or a string (parse, walk the
 * schema, cross-check; config_schema.c, config_check.c), the free, and lookups in a snapshot.
 * Every problem found is reported, not only the first; no secret value ever goes into a
 * message. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/config_int.h"
#include "core/hba.h"

#define MAX_FILE_SIZE (16u << 20)

/* ---- the API ---- */

PGR_API pgr_config_t *
pgr_config_new_default(void)
{
    pgr_config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    cfg->listen.max_clients = 10000;
    cfg->limits.max_message_size = 1ull << 30;
    cfg->limits.login_timeout_ms = 60000;
    cfg->tls.mode = PGR_TLS_PREFER;
    cfg->auth.method = PGR_AUTH_SCRAM;
    cfg->admin.reserved_connections = 3;
    cfg->auth.query_cache_ttl_ms = 60000;
    if (!(cfg->auth.query = strdup(PGR_AUTH_QUERY_DEFAULT))) {
        free(cfg);
        return NULL;
    }
    cfg->pool = (pgr_pool_config_t){ PGR_POOL_TRANSACTION, 20, 0, 60000, 5000, 10000, 0, 0 };
    cfg->health.interval_ms = 1000;
    cfg->health.timeout_ms = 1000;
    cfg->health.unhealthy_threshold = 2;
    cfg->health.backoff_initial_ms = 1000;
    cfg->health.backoff_max_ms = 30000;
    cfg->health.backoff_jitter = 0.2;
    cfg->routing.reads = PGR_READS_REPLICAS;
    cfg->routing.balance = PGR_BALANCE_LEAST_BUSY;
    cfg->routing.max_replica_lag_ms = 10000;
    cfg->routing.read_your_writes = PGR_RYW_OFF;
    cfg->routing.classify_cache_size = 10000;
    cfg->broadcast.on_node_error = PGR_ONERR_AUTO;
    cfg->broadcast.node_column = false;
    cfg->broadcast.timeout_ms = 30000;
    cfg->broadcast.merge_memory = 64ull << 20;
    cfg->shutdown.drain_timeout_ms = 30000;
    cfg->log.json = false;
    if (!(cfg->log.level = strdup("info"))) {
        free(cfg->auth.query);
        free(cfg);
        return NULL;
    }
    return cfg;
}

static void
free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Passwords are wiped before their memory goes back to the allocator. */
void
pgr_config_free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

PGR_API void
pgr_config_free(pgr_config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free_list(cfg->listen.hosts, cfg->listen.n_hosts);
    free(cfg->listen.unix_socket_dir);
    free(cfg->tls.cert);
    free(cfg->tls.key);
    free(cfg->health.login.user);
    pgr_config_free_secret(cfg->health.login.password);
    free(cfg->health.login.dbname);
    for (size_t i = 0; i < cfg->auth.n_users; i++) {
        pgr_user_config_t *u = &cfg->auth.users[i];
        free(u->name);
        pgr_config_free_secret(u->password);
        pgr_config_free_secret(u->scram_verifier);
        pgr_config_free_secret(u->md5);
    }
    free(cfg->auth.users);
    free(cfg->auth.hba_file);
    pgr_hba_free(cfg->auth.hba);
    free(cfg->auth.query);
    free(cfg->auth.query_user);
    pgr_config_free_secret(cfg->auth.query_password);
    free(cfg->auth.query_dbname);
    free_list(cfg->admin.users, cfg->admin.n_users);
    free(cfg->admin.http);
    free_list(cfg->routing.write_functions, cfg->routing.n_write_functions);
    free(cfg->log.level);
    free(cfg->log.file);
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        pgr_node_config_t *n = &cfg->nodes[i];
        free(n->id);
        free(n->host);
        free(n->dbname);
        free(n->user);
        pgr_config_free_secret(n->password);
        free(n->ssl.mode);
        free(n->ssl.ca);
        free(n->ssl.cert);
        free(n->ssl.key);
        free(n->health.user);
        pgr_config_free_secret(n->health.password);
        free(n->health.dbname);
    }
    free(cfg->nodes);
    for (size_t i = 0; i < cfg->n_peers; i++)
        free(cfg->peers[i].host);
    free(cfg->peers);
    free(cfg);
}

PGR_API void
pgr_config_errors_free(pgr_config_errors_t *errs)
{
    if (!errs)
        return;
    free_list(errs->msgs, errs->n);
    errs->msgs = NULL;
    errs->n = 0;
}

PGR_API int
pgr_config_load_string(const char *name, const char *yaml, size_t len, pgr_config_t **out,
                       pgr_config_errors_t *errs)
{
    pgr_config_errors_t local = { 0 };
    pgr_config_ctx_t ctx = { .name = name, .errs = errs ? errs : &local };
    pgr_config_t *cfg = NULL;
    pgr_ynode_t *root = NULL;
    pgr_config_walker_t w = { .ctx = &ctx };
    int rc;

    *out = NULL;
    if (errs)
        *errs = (pgr_config_errors_t){ 0 };
    rc = pgr_config_yaml_parse(&ctx, yaml, len, &root);
    if (!root)
        goto done;
    if (!(cfg = pgr_config_new_default())) {
        ctx.nomem = true;
        goto done;
    }
    w.cfg = cfg;
    pgr_config_walk_root(&w, root);
    if (!ctx.nomem)
        pgr_config_cross_check(&w, root); /* also after other errors: a bad value keeps its default */
    if (!ctx.nomem)
        pgr_config_load_hba(&w, root, name);
    if (!ctx.nomem && ctx.errs->n == 0 && !(cfg->path = strdup(name)))
        ctx.nomem = true;
done:
    pgr_config_yaml_free(root);
    if (ctx.nomem)
        rc = PGR_ENOMEM;
    else if (ctx.errs->n > 0)
        rc = PGR_ECONFIG;
    else if (rc == 0)
        *out = cfg;
    if (*out == NULL)
        pgr_config_free(cfg);
    pgr_config_errors_free(&local);
    return rc;
}

PGR_API int
pgr_config_load(const char *path, pgr_config_t **out, pgr_config_errors_t *errs)
{
    pgr_config_errors_t local = { 0 };
    pgr_config_ctx_t ctx = { .name = path, .errs = errs ? errs : &local };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int rc = PGR_EIO;

    *out = NULL;
    if (errs)
        *errs = (pgr_config_errors_t){ 0 };
    if (!(f = fopen(path, "r")))
        goto io_fail;
    if (!(buf = malloc(MAX_FILE_SIZE + 1))) {
        rc = PGR_ENOMEM;
        goto fail;
    }
    len = fread(buf, 1, MAX_FILE_SIZE + 1, f);
    if (ferror(f))
        goto io_fail;
    if (len > MAX_FILE_SIZE) {
        pgr_config_err(&ctx, 1, 1, NULL, "expected a file of at most 16MB, got a larger one");
        rc = PGR_ECONFIG;
        goto fail;
    }
    fclose(f);
    f = NULL;
    rc = pgr_config_load_string(path, buf, len, out, errs);
    free(buf);
    return rc;
io_fail:
    pgr_config_err(&ctx, 0, 0, NULL, "cannot read the file: %s", strerror(errno));
    rc = PGR_EIO;
fail:
    if (f)
        fclose(f);
    free(buf);
    pgr_config_errors_free(&local);
    return rc;
}

PGR_API pgr_pool_config_t
pgr_config_node_pool(const pgr_config_t *cfg, const pgr_node_config_t *node)
{
    pgr_pool_config_t p = cfg->pool;
    const pgr_pool_config_t *o = &node->pool;
    if (o->mode != PGR_POOL_MODE_UNSET)
        p.mode = o->mode;
    if (o->max_size >= 0)
        p.max_size = o->max_size;
    if (o->min_idle >= 0)
        p.min_idle = o->min_idle;
    if (o->idle_timeout_ms >= 0)
        p.idle_timeout_ms = o->idle_timeout_ms;
    if (o->connect_timeout_ms >= 0)
        p.connect_timeout_ms = o->connect_timeout_ms;
    if (o->acquire_timeout_ms >= 0)
        p.acquire_timeout_ms = o->acquire_timeout_ms;
    return p;
}

PGR_API const pgr_node_config_t *
pgr_config_find_node(const pgr_config_t *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_nodes; i++)
        if (cfg->nodes[i].id && strcmp(cfg->nodes[i].id, id) == 0)
            return &cfg->nodes[i];
    return NULL;
}

PGR_API const pgr_user_config_t *
pgr_config_find_user(const pgr_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->auth.n_users; i++)
        if (cfg->auth.users[i].name && strcmp(cfg->auth.users[i].name, name) == 0)
            return &cfg->auth.users[i];
    return NULL;
}

PGR_API const pgr_peer_config_t *
pgr_config_find_peer(const pgr_config_t *cfg, int id)
{
    for (size_t i = 0; i < cfg->n_peers; i++)
        if (cfg->peers[i].id == id && cfg->peers[i].host)
            return &cfg->peers[i];
    return NULL;
}

/* The config loader's checks after the walk: the rules that tie one key to another (a pool's
 * min_idle to its max_size, TLS cert to key, an auth query to its method, ...), and
 * auth.hba_file, read and parsed into the snapshot. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/config_int.h"
#include "core/hba.h"

/* ---- cross-field rules ---- */

static const pgr_ynode_t *
lookup(const pgr_ynode_t *root, const char *a, const char *b, const char *c)
{
    const pgr_ynode_t *n = pgr_config_map_get(root, a);
    if (n && b)
        n = pgr_config_map_get(n, b);
    if (n && c)
        n = pgr_config_map_get(n, c);
    return n;
}

void
pgr_config_cross_check(pgr_config_walker_t *w, const pgr_ynode_t *root)
{
    pgr_config_t *cfg = w->cfg;
    const pgr_ynode_t *at;
    char exp[160], a[32];

    if (cfg->pool.min_idle > cfg->pool.max_size && (at = lookup(root, "pool", "min_idle", NULL))) {
        pgr_config_bufprintf(exp, sizeof(exp), "at most pool.max_size (%d)", cfg->pool.max_size);
        pgr_config_bad(w, at, "pool.min_idle", exp);
    }
    if (cfg->health.backoff_initial_ms > cfg->health.backoff_max_ms &&
        (at = lookup(root, "health", "backoff", "initial"))) {
        pgr_config_fmt_dur(a, sizeof(a), cfg->health.backoff_max_ms);
        pgr_config_bufprintf(exp, sizeof(exp), "at most health.backoff.max (%s)", a);
        pgr_config_bad(w, at, "health.backoff.initial", exp);
    }
    if (lookup(root, "health", "password", NULL) && lookup(root, "health", "password_env", NULL) &&
        (at = pgr_config_map_get(root, "health")))
        pgr_config_err(w->ctx, at->line, at->col, "health",
                       "expected at most one of password, password_env, got both");
    if (cfg->tls.mode == PGR_TLS_REQUIRE && (!cfg->tls.cert || !cfg->tls.key) &&
        (at = pgr_config_map_get(root, "tls")))
        pgr_config_err(w->ctx, at->line, at->col, "tls",
                       "expected cert and key with mode require, got %s",
                       cfg->tls.cert ? "no key" : cfg->tls.key ? "no cert" : "neither");
    else if (!cfg->tls.cert != !cfg->tls.key && (at = pgr_config_map_get(root, "tls")))
        pgr_config_err(w->ctx, at->line, at->col, "tls",
                       "expected cert and key together, got only %s",
                       cfg->tls.cert ? "cert" : "key");

    /* A node's effective pool: blame its own min_idle, else its own max_size; when it set
     * neither, the global check above already spoke. */
    const pgr_ynode_t *node_list = pgr_config_map_get(root, "nodes");
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        const pgr_node_config_t *nd = &cfg->nodes[i];
        pgr_pool_config_t p = pgr_config_node_pool(cfg, nd);
        const pgr_ynode_t *nn = node_list->kids[i];
        bool own_min = nd->pool.min_idle >= 0;
        char path[64];
        if (p.min_idle <= p.max_size || (!own_min && nd->pool.max_size < 0))
            continue;
        pgr_config_bufprintf(path, sizeof(path), "nodes[%zu].pool.%s", i,
                             own_min ? "min_idle" : "max_size");
        if (own_min)
            pgr_config_bufprintf(exp, sizeof(exp), "at most the node's pool max_size (%d)",
                                 p.max_size);
        else
            pgr_config_bufprintf(exp, sizeof(exp), "at least pool.min_idle (%d)", p.min_idle);
        if ((at = lookup(nn, "pool", own_min ? "min_idle" : "max_size", NULL)))
            pgr_config_bad(w, at, path, exp);
    }

    /* With reuseport every instance holds listen.port; a peer's own address must be its alone. */
    const pgr_ynode_t *peer_list = pgr_config_map_get(root, "peers");
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const pgr_peer_config_t *pc = &cfg->peers[i];
        char path[64];
        if (!pc->host || pc->host[0] == '/' || pc->port != cfg->listen.port ||
            !(at = lookup(peer_list->kids[i], "port", NULL, NULL)))
            continue;
        pgr_config_bufprintf(path, sizeof(path), "peers[%zu].port", i);
        pgr_config_bufprintf(exp, sizeof(exp), "a port other than listen.port (%d): a peer "
                             "address belongs to one instance", cfg->listen.port);
        pgr_config_bad(w, at, path, exp);
    }

    const pgr_ynode_t *user_list = lookup(root, "auth", "users", NULL);
    pgr_config_strset_t user_names = { 0 };
    for (size_t i = 0; i < cfg->auth.n_users; i++) {
        const pgr_user_config_t *u = &cfg->auth.users[i];
        const pgr_ynode_t *un = user_list->kids[i];
        if (u->name)
            pgr_config_strset_add(w, &user_names, u->name, i, NULL);
        char path[64];
        pgr_config_bufprintf(path, sizeof(path), "auth.users[%zu]", i);
        if (cfg->auth.method == PGR_AUTH_MD5 && u->scram_verifier && !u->md5)
            pgr_config_err(w->ctx, un->line, un->col, path,
                           "expected password, password_env or md5 with auth.method md5, got "
                           "only a scram verifier");
    }
    if (lookup(root, "auth", "query_password", NULL) &&
        lookup(root, "auth", "query_password_env", NULL) && (at = pgr_config_map_get(root, "auth")))
        pgr_config_err(w->ctx, at->line, at->col, "auth",
                       "expected at most one of query_password, query_password_env, got both");
    if (!cfg->auth.query_user && (at = lookup(root, "auth", "query_password", NULL)))
        pgr_config_err(w->ctx, at->line, at->col, "auth.query_password",
                       "expected auth.query_user with a query password, got none");
    if (!cfg->auth.query_user && (at = lookup(root, "auth", "query_password_env", NULL)))
        pgr_config_err(w->ctx, at->line, at->col, "auth.query_password_env",
                       "expected auth.query_user with a query password, got none");
    if (cfg->auth.query_user && cfg->auth.method != PGR_AUTH_SCRAM &&
        cfg->auth.method != PGR_AUTH_MD5 && (at = lookup(root, "auth", "query_user", NULL))) {
        pgr_config_bufprintf(exp, sizeof(exp),
                             "auth.method scram-sha-256 or md5 with an auth query, not %s",
                             pgr_config_auth_method_name(cfg->auth.method));
        pgr_config_bad(w, at, "auth.query_user", exp);
    }
    if (cfg->auth.query && !strstr(cfg->auth.query, "$1") &&
        (at = lookup(root, "auth", "query", NULL)))
        pgr_config_bad(w, at, "auth.query", "a query with the parameter $1 (the user name)");
    /* With users kept in the database, an admin need not be listed in auth.users. */
    bool db_users = cfg->auth.method == PGR_AUTH_PASSTHROUGH || cfg->auth.query_user;
    if (cfg->auth.method != PGR_AUTH_TRUST && !db_users) {
        const pgr_ynode_t *list = lookup(root, "admin", "users", NULL);
        for (size_t i = 0; list && list->kind == PGR_YNODE_SEQ && i < list->n; i++) {
            const pgr_ynode_t *it = list->kids[i];
            char path[64];
            if (it->kind != PGR_YNODE_SCALAR || it->alias ||
                pgr_config_strset_has(&user_names, it->str))
                continue;
            pgr_config_bufprintf(path, sizeof(path), "admin.users[%zu]", i);
            pgr_config_bad(w, it, path, "a user listed in auth.users");
        }
    }
    pgr_config_strset_free(&user_names);
}

/* ---- auth.hba_file ---- */

#define MAX_HBA_SIZE (1u << 20)

void
pgr_config_load_hba(pgr_config_walker_t *w, const pgr_ynode_t *root, const char *name)
{
    pgr_config_t *cfg = w->cfg;
    const pgr_ynode_t *at = lookup(root, "auth", "hba_file", NULL);
    const char *slash = strrchr(name, '/');
    char *path = NULL, *buf = NULL;
    FILE *f = NULL;
    size_t len;

    if (!cfg->auth.hba_file || !at)
        return;
    if (cfg->auth.hba_file[0] == '/' || slash == NULL)
        path = strdup(cfg->auth.hba_file);
    else if (asprintf(&path, "%.*s/%s", (int)(slash - name), name, cfg->auth.hba_file) < 0)
        path = NULL;
    if (path == NULL || (buf = malloc(MAX_HBA_SIZE + 1)) == NULL) {
        w->ctx->nomem = true;
        goto done;
    }
    if ((f = fopen(path, "r")) == NULL || (len = fread(buf, 1, MAX_HBA_SIZE + 1, f), ferror(f))) {
        pgr_config_err(w->ctx, at->line, at->col, "auth.hba_file",
                       "expected a readable file, got \"%s\": %s", path, strerror(errno));
        goto done;
    }
    if (len > MAX_HBA_SIZE) {
        pgr_config_err(w->ctx, at->line, at->col, "auth.hba_file",
                       "expected a file of at most 1MB, got \"%s\", a larger one", path);
        goto done;
    }
    if (pgr_hba_parse(path, buf, len, &cfg->auth.hba, w->ctx->errs) == PGR_ENOMEM)
        w->ctx->nomem = true;
    free(cfg->auth.hba_file);
    cfg->auth.hba_file = path;
    path = NULL;
done:
    if (f)
        fclose(f);
    free(buf);
    free(path);
}

/* Configuration reload, carried out (see reload.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/reload.h"
#include "ops/reload.h"
#include "pgrouter/cluster.h"
#include "protocol/backend.h"
#include "route/classify.h"
#include "route/router.h"
#include "session/dbauth.h"

/* A node being replaced: added again (from the new snapshot, which lives until exit) once the
 * old one of that id is gone. */
typedef struct replace {
    pgr_runtime_t *rt;
    const pgr_node_config_t *node;
} replace_t;

static void PGR_PRINTF(2, 3)
tell(pgr_writer_t *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pgr_info("reload", "%s", msg);
    if (out)
        pgr_be_write_error(out, true, "NOTICE", "00000", msg, NULL, NULL);
}

static void
replaced_cb(pgr_cluster_t *c, int status, void *arg)
{
    replace_t *r = arg;
    char err[256] = "";

    if (status == 0 && pgr_cluster_is_running(c) &&
        pgr_cluster_add_node(c, r->node, err, sizeof(err)) != 0)
        pgr_warn("reload", "node %s could not be added back with its new settings: %s",
                 r->node->id, err);
    else if (status == 0)
        pgr_info("reload", "node %s is back with its new settings", r->node->id);
    free(r);
}

static void
apply_node(pgr_runtime_t *rt, const pgr_reload_action_t *a, pgr_writer_t *out)
{
    pgr_cluster_t *c = rt->cluster;
    const char *id = a->node->id;
    char err[256] = "";
    replace_t *r;

    switch (a->op) {
    case PGR_RELOAD_ADD:
        if (pgr_cluster_add_node(c, a->node, err, sizeof(err)) != 0)
            tell(out, "node %s could not be added: %s", id, err);
        else
            tell(out, "node %s added (%s:%d)", id, a->node->host, a->node->port);
        break;
    case PGR_RELOAD_REMOVE:
        if (pgr_cluster_remove_node(c, id, -1, NULL, NULL) == 0)
            tell(out, "node %s removed: it takes no new work; running work may finish for up "
                 "to shutdown.drain_timeout", id);
        break;
    case PGR_RELOAD_REPLACE:
        if ((r = malloc(sizeof(*r))) == NULL) {
            tell(out, "node %s: out of memory replacing it", id);
            break;
        }
        *r = (replace_t){ rt, a->node };
        if (pgr_cluster_remove_node(c, id, -1, replaced_cb, r) != 0) {
            free(r);
            if (pgr_cluster_add_node(c, a->node, err, sizeof(err)) != 0)
                tell(out, "node %s could not be added: %s", id, err);
            break;
        }
        tell(out, "node %s changed its connection settings: drained and added again with them",
             id);
        break;
    case PGR_RELOAD_WEIGHT:
        if (pgr_cluster_set_node_weight(c, id, a->node->weight) == 0)
            tell(out, "node %s weight is now %d", id, a->node->weight);
        break;
    case PGR_RELOAD_ROLE:
        if (pgr_cluster_set_node_role(c, id, a->node->role) == 0)
            tell(out, "node %s role is now %s", id,
                 a->node->role == PGR_ROLE_PRIMARY   ? "primary"
                 : a->node->role == PGR_ROLE_REPLICA ? "replica"
                                                     : "auto");
        break;
    }
}

static void
load_failed(const pgr_config_t *cur, int rc, pgr_config_errors_t *errs, pgr_writer_t *out)
{
    char detail[1024] = "";
    size_t used = 0;

    for (size_t i = 0; i < errs->n && i < 5 && used < sizeof(detail) - 1; i++) {
        pgr_error("reload", "%s", errs->msgs[i]);
        used += (size_t)snprintf(detail + used, sizeof(detail) - used, "%s%s", i ? "\n" : "",
                                 errs->msgs[i]);
    }
    if (errs->n == 0) {
        snprintf(detail, sizeof(detail), "%s: %s", cur->path, pgr_strerror(rc));
        pgr_error("reload", "%s", detail);
    }
    if (out)
        pgr_be_write_error(out, false, "ERROR", "F0000",
                           "configuration file not reloaded: the running configuration is kept",
                           detail, NULL);
}

int
pgr_reload_run(pgr_runtime_t *rt, pgr_writer_t *out)
{
    pgr_config_t *cur = rt->cfg, *next = NULL;
    pgr_config_errors_t errs = { 0 };
    pgr_reload_plan_t plan;
    int rc;

    if (cur->path == NULL) {
        if (out)
            pgr_be_write_error(out, false, "ERROR", "55000",
                               "RELOAD: the configuration was not read from a file", NULL, NULL);
        return PGR_EINVAL;
    }
    pgr_info("reload", "reloading %s", cur->path);
    if ((rc = pgr_config_load(cur->path, &next, &errs)) != 0) {
        load_failed(cur, rc, &errs, out);
        pgr_config_errors_free(&errs);
        return rc;
    }
    pgr_config_t **retired = realloc(rt->retired, (rt->n_retired + 1) * sizeof(*retired));
    if (retired == NULL || pgr_reload_diff(cur, next, &plan) != 0) {
        if (retired)
            rt->retired = retired;
        pgr_config_free(next);
        if (out)
            pgr_be_write_error(out, false, "ERROR", "53200", "out of memory", NULL, NULL);
        return PGR_ENOMEM;
    }
    rt->retired = retired;
    if ((rc = pgr_reload_keep(cur, next)) != 0) {
        pgr_reload_plan_free(&plan);
        pgr_config_free(next);
        if (out)
            pgr_be_write_error(out, false, "ERROR", "53200", "out of memory", NULL, NULL);
        return rc;
    }

    /* The parts rebuilt from the new snapshot, before the swap (a failure keeps the old). */
    if (plan.classifier) {
        pgr_classifier_t *cls;
        if (pgr_classifier_new(next->routing.classify_cache_size,
                               (const char *const *)next->routing.write_functions,
                               next->routing.n_write_functions, &cls) == 0) {
            /* A classification handed out by the old one may still be in use further up this
             * call: it is freed at the next reload or at exit. */
            pgr_classifier_free(rt->old_classifier);
            rt->old_classifier = rt->classifier;
            rt->classifier = cls;
            tell(out, "statement classifier rebuilt (routing.write_functions, "
                 "routing.classify_cache_size)");
        } else {
            tell(out, "routing.write_functions / classify_cache_size not applied: out of memory");
        }
    }
    if (plan.log && pgr_log_apply_config(next) != 0)
        tell(out, "log settings not applied (level %s, file %s)", next->log.level,
             next->log.file ? next->log.file : "stderr");
    if (plan.router) {
        pgr_router_set_config(rt->router, next);
        tell(out, "routing policy updated (routing.reads, balance, max_replica_lag)");
    }
    for (size_t i = 0; i < plan.n_restart; i++)
        tell(out, "%s changed in the file: it takes effect at the next restart", plan.restart[i]);

    rt->retired[rt->n_retired++] = cur;
    rt->cfg = next;
    pgr_dbauth_clear(rt->dbauth); /* the auth query, its user or database may have changed */
    if (rt->cluster)
        for (size_t i = 0; i < plan.n_actions; i++)
            apply_node(rt, &plan.actions[i], out);
    pgr_info("reload", "configuration reloaded: %zu node change%s", plan.n_actions,
             plan.n_actions == 1 ? "" : "s");
    pgr_reload_plan_free(&plan);
    if (out)
        pgr_be_write_complete(out, "RELOAD");
    return 0;
}

void
pgr_reload_release(pgr_runtime_t *rt, const pgr_config_t *keep)
{
    for (size_t i = 0; i < rt->n_retired; i++)
        if (rt->retired[i] != keep)
            pgr_config_free(rt->retired[i]);
    free(rt->retired);
    rt->retired = NULL;
    rt->n_retired = 0;
}

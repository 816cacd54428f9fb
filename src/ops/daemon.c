/* The running server: builds the runtime from a config snapshot (cluster, listener, sessions),
 * handles signals, runs the loop, and shuts down without losing a running transaction.
 *
 *   SIGTERM: graceful — stop accepting, idle sessions get 57P01, running transactions may finish
 *            for up to shutdown.drain_timeout, then everything left is closed.
 *   SIGINT:  fast — the same with no drain time.
 *   SIGHUP:  reload the configuration file (ops/reload.h). */
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/runtime.h"
#include "net/listener.h"
#include "net/tls.h"
#include "ops/admin.h"
#include "ops/daemon.h"
#include "ops/http.h"
#include "ops/reload.h"
#include "pgrouter/cluster.h"
#include "route/classify.h"
#include "route/router.h"
#include "session/auth.h"
#include "session/dbauth.h"
#include "session/cancel.h"
#include "session/client.h"
#include "session/login.h"

typedef struct daemon {
    pgr_runtime_t rt;
    pgr_auth_secret_t secret;
    uv_signal_t sigterm, sigint, sighup;
    pgr_http_t *http;         /* admin.http: /healthz, /status, /metrics; NULL when not set */
    uv_timer_t drain_timer;   /* checks every 100 ms whether the sessions are gone */
    uv_timer_t log_timer;     /* every second: the counts of rate-limited log lines */
    uint64_t drain_deadline;  /* loop time (ms) after which sessions are closed by force */
    bool stopping;
    int exit_code;
} daemon_t;

static void
close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

static void
cluster_down_cb(pgr_cluster_t *c, int status, void *arg)
{
    daemon_t *d = arg;

    (void)c;
    (void)status;
    pgr_info("main", "all node pools closed");
    /* HTTP stays up through the drain (/healthz answers 503 "shutting down") and goes last. */
    pgr_http_close(d->http);
    d->http = NULL;
    uv_close((uv_handle_t *)&d->sigterm, close_cb_noop);
    uv_close((uv_handle_t *)&d->sigint, close_cb_noop);
    uv_close((uv_handle_t *)&d->sighup, close_cb_noop);
    uv_close((uv_handle_t *)&d->drain_timer, close_cb_noop);
    uv_close((uv_handle_t *)&d->log_timer, close_cb_noop);
}

static void
log_tick_cb(uv_timer_t *t)
{
    (void)t;
    pgr_log_limit_flush(pgr_log_now_ms(), false);
}

static void
drain_tick_cb(uv_timer_t *t)
{
    daemon_t *d = t->data;
    pgr_runtime_t *rt = &d->rt;

    if (rt->n_clients > 0 && uv_now(rt->loop) < d->drain_deadline)
        return;
    if (rt->n_clients > 0) {
        pgr_warn("main", "drain timeout: closing %zu sessions still running", rt->n_clients);
        pgr_client_close_all(rt, "terminating connection due to administrator command", true);
    }
    uv_timer_stop(t);
    pgr_cluster_shutdown(rt->cluster, 0, cluster_down_cb, d);
}

static void
listener_closed_cb(pgr_listener_t *l, void *arg)
{
    (void)l;
    (void)arg;
}

static void
begin_shutdown(daemon_t *d, int64_t drain_ms, const char *how)
{
    pgr_runtime_t *rt = &d->rt;

    if (d->stopping) {
        /* A second signal: stop waiting. */
        d->drain_deadline = uv_now(rt->loop);
        return;
    }
    d->stopping = true;
    rt->shutting_down = true;
    pgr_info("main", "%s shutdown: %zu sessions, drain up to %lld ms", how, rt->n_clients,
             (long long)drain_ms);
    if (rt->listener) {
        pgr_listener_close(rt->listener, listener_closed_cb);
        rt->listener = NULL;
    }
    pgr_client_close_all(rt, "terminating connection due to administrator command", false);
    pgr_cancel_peers_abort(rt);
    d->drain_deadline = uv_now(rt->loop) + (uint64_t)(drain_ms > 0 ? drain_ms : 0);
    uv_timer_start(&d->drain_timer, drain_tick_cb, 0, 100);
}

static void
signal_cb(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;

    if (signum == SIGHUP) {
        pgr_info("main", "SIGHUP received: reloading the configuration");
        if (!d->stopping)
            (void)pgr_reload_run(&d->rt, NULL); /* what happened is logged */
        return;
    }
    begin_shutdown(d, signum == SIGTERM ? d->rt.cfg->shutdown.drain_timeout_ms : 0,
                   signum == SIGTERM ? "graceful" : "fast");
}

/* EXPLAIN ROUTE <sql>: the class, the hint and the decision, without running anything. */
static void
explain_route(pgr_runtime_t *rt, const char *sql, size_t len, char *out, size_t cap)
{
    const pgr_classification_t *c;
    pgr_route_t r;
    char why[512];

    if (pgr_classify(rt->classifier, sql, len, &c) != 0) {
        snprintf(out, cap, "error: out of memory");
        return;
    }
    if (c->hint_error) {
        snprintf(out, cap, "error 42601: %s", c->hint_error_msg);
        return;
    }
    pgr_route_req_t req = { .cls = c->cls, .hint = c->hint, .hint_node = c->hint_node };
    if (c->n_stmts == 1 && c->stmts[0].cls == PGR_CLASS_BEGIN)
        req.read_only_txn = c->stmts[0].read_only_txn;
    pgr_router_route(rt->router, &req, &r);
    snprintf(out, cap, "%s%s%s: %s%s%s", pgr_route_kind_name(r.kind),
             r.kind == PGR_ROUTE_NODE ? " " : "", r.kind == PGR_ROUTE_NODE ? r.node_id : "",
             r.kind == PGR_ROUTE_ERROR ? r.sqlstate : "", r.kind == PGR_ROUTE_ERROR ? " " : "",
             pgr_route_reason(&r, why, sizeof(why)));
    size_t l = strlen(out);
    snprintf(out + l, cap - l, " [class %s%s%s]", pgr_stmt_class_name(c->cls),
             c->parse_error ? ", does not parse: " : "", c->parse_error ? c->error : "");
}

/* PostgreSQL refuses a server key that group or others can access; pgrouter warns. A key it
 * cannot stat was already refused by pgr_tls_ctx_new. */
static void
warn_if_key_exposed(const char *key_file)
{
    struct stat st;

    if (stat(key_file, &st) == 0 && (st.st_mode & 077) != 0)
        pgr_warn("main", "tls.key \"%s\" can be read by group or others (mode %04o): "
                 "make it 0600 and owned by the user pgrouter runs as",
                 key_file, (unsigned)(st.st_mode & 07777));
}

static void
accept_cb(pgr_listener_t *l, uv_stream_t *server, void *arg)
{
    (void)l;
    pgr_client_accept(arg, server);
}

int
pgr_daemon_run(pgr_config_t *cfg)
{
    daemon_t *d = calloc(1, sizeof(*d));
    uv_loop_t loop;
    char err[512] = "";
    int rc;

    if (d == NULL)
        return 1;
    if ((rc = uv_loop_init(&loop)) != 0) {
        pgr_error("main", "uv_loop_init: %s", uv_strerror(rc));
        free(d);
        return 1;
    }
    pgr_runtime_t *rt = &d->rt;
    rt->loop = &loop;
    rt->cfg = cfg;
    pgr_list_init(&rt->clients);
    bool derives = false;
    for (size_t i = 0; i < cfg->auth.n_users; i++)
        derives |= cfg->auth.users[i].password && !cfg->auth.users[i].scram_verifier;
    if ((rc = pgr_auth_secret_init(&d->secret, derives)) != 0) {
        pgr_error("main", "cannot initialise the auth secret: %s", pgr_strerror(rc));
        goto fail;
    }
    rt->auth_secret = &d->secret;
    if ((rt->dbauth = pgr_dbauth_new()) == NULL) {
        pgr_error("main", "out of memory");
        goto fail;
    }
    if (cfg->tls.mode != PGR_TLS_DISABLE && cfg->tls.cert != NULL) {
        if ((rc = pgr_tls_ctx_new(cfg->tls.cert, cfg->tls.key, &rt->tls, err, sizeof(err))) != 0) {
            pgr_error("main", "cannot set up TLS: %s", err);
            goto fail;
        }
        warn_if_key_exposed(cfg->tls.key);
    }

    if ((rc = pgr_cluster_new(&loop, cfg, NULL, &rt->cluster, err, sizeof(err))) != 0) {
        pgr_error("main", "cannot start the cluster: %s", err);
        goto fail;
    }
    if ((rc = pgr_classifier_new(cfg->routing.classify_cache_size,
                                 (const char *const *)cfg->routing.write_functions,
                                 cfg->routing.n_write_functions, &rt->classifier)) != 0 ||
        (rc = pgr_router_new(rt->cluster, cfg, &rt->router)) != 0) {
        pgr_error("main", "cannot start the router: %s", pgr_strerror(rc));
        pgr_cluster_shutdown(rt->cluster, 0, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto fail;
    }
    rt->explain_route = explain_route;
    pgr_admin_install(rt);
    if ((rc = pgr_admin_events_start(rt)) != 0)
        pgr_warn("main", "LISTEN pgrouter_events will not get node events: %s", pgr_strerror(rc));
    if ((rc = pgr_login_events_start(rt)) != 0)
        pgr_warn("main", "sessions waiting for a node's first health check will wait out "
                 "pool.connect_timeout: %s", pgr_strerror(rc));
    if ((rc = pgr_listener_start(&loop, cfg, accept_cb, rt, &rt->listener)) != 0) {
        pgr_error("main", "cannot listen: %s", pgr_strerror(rc));
        pgr_cluster_shutdown(rt->cluster, 0, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto fail;
    }
    if (cfg->admin.http && (rc = pgr_http_start(rt, &d->http)) != 0) {
        /* pgr_http_start logged the address and the reason. */
        pgr_listener_close(rt->listener, NULL);
        rt->listener = NULL;
        pgr_cluster_shutdown(rt->cluster, 0, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto fail;
    }
    uv_signal_init(&loop, &d->sigterm);
    uv_signal_init(&loop, &d->sigint);
    uv_signal_init(&loop, &d->sighup);
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&d->sigint, signal_cb, SIGINT);
    uv_signal_start(&d->sighup, signal_cb, SIGHUP);
    uv_timer_init(&loop, &d->drain_timer);
    d->drain_timer.data = d;
    uv_timer_init(&loop, &d->log_timer);
    uv_timer_start(&d->log_timer, log_tick_cb, 1000, 1000);

    pgr_info("main", "pgrouter %s listening on port %d with %zu nodes", PGR_VERSION,
             pgr_listener_port(rt->listener), cfg->n_nodes);
    uv_run(&loop, UV_RUN_DEFAULT);
    pgr_log_limit_flush(pgr_log_now_ms(), true);
    pgr_info("main", "stopped");
    d->exit_code = 0;
    goto done;
fail:
    d->exit_code = 1;
done:
    if (rt->cluster)
        pgr_cluster_free(rt->cluster);
    pgr_router_free(rt->router);
    pgr_classifier_free(rt->classifier);
    pgr_classifier_free(rt->old_classifier);
    pgr_reload_release(rt, cfg);
    if (rt->cfg != cfg)
        pgr_config_free(rt->cfg);
    pgr_cancel_map_free(rt);
    uv_run(&loop, UV_RUN_NOWAIT);
    pgr_tls_ctx_free(rt->tls); /* after the loop's last close callbacks freed the sessions */
    pgr_dbauth_free(rt->dbauth);
    if (uv_loop_close(&loop) != 0)
        pgr_warn("main", "event loop closed with handles still open");
    rc = d->exit_code;
    free(d);
    return rc;
}

/* Batches of per-node statements: acquire, send, collect, time out, deliver together. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend/parallel.h"
#include "backend/node.h"
#include "backend/pool.h"
#include "backend/server.h"
#include "core/log.h"

typedef struct batch batch_t;

/* One node's part. Its timer is closed when the part ends; the batch is freed when every part's
 * timer is closed and the results were delivered. */
typedef struct op {
    pgr_list_t link;        /* in cluster->ops while running */
    batch_t *b;
    size_t idx;
    pgr_node_t *node;       /* NULL once ended */
    pgr_acquire_t *req;     /* while waiting for a connection */
    pgr_server_t *srv;      /* while the statement runs (a check: while it connects) */
    uv_timer_t timer;       /* the timeout, or a 0 ms deferral of a synchronous failure */
    uint64_t start_ns;
    int sync_status;
    char sync_msg[256];
    bool ended;
} op_t;

struct batch {
    struct pgr_cluster *c;
    size_t n, remaining;
    int open_timers;
    bool delivered;
    char *sql;
    char *user, *dbname, *password; /* run_as; NULL user: the default login */
    bool check;
    int n_params;
    char **params;
    int64_t timeout_ms;
    pgr_query_cb one_cb;
    pgr_query_all_cb all_cb;
    void *arg;
    char (*ids)[PGR_NODE_ID_MAX];
    pgr_qresult_t *res;
    op_t *ops;
};

const char *
pgr_parallel_sqlstate(int status)
{
    switch (status) {
    case 0:
        return "00000";
    case PGR_ETIMEDOUT:
        return "57014";
    case PGR_ESHUTDOWN:
        return "57P01";
    case PGR_ENOMEM:
        return "53200";
    case PGR_ELIMIT:
        return "53300";
    default:
        return "08006";
    }
}

static void
batch_free(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        pgr_qresult_clear(&b->res[i]);
    for (int i = 0; i < b->n_params; i++)
        free(b->params[i]);
    free(b->params);
    free(b->sql);
    if (b->password)
        explicit_bzero(b->password, strlen(b->password));
    free(b->password);
    free(b->user);
    free(b->dbname);
    free(b->ids);
    free(b->res);
    free(b->ops);
    free(b);
}

static void
timer_closed(uv_handle_t *h)
{
    op_t *op = h->data;
    batch_t *b = op->b;
    if (--b->open_timers == 0 && b->delivered)
        batch_free(b);
}

static void
deliver(batch_t *b)
{
    pgr_result_t *out = calloc(b->n, sizeof(*out));
    for (size_t i = 0; i < b->n; i++) {
        b->res[i].pub.node_id = b->ids[i];
        if (out)
            out[i] = b->res[i].pub;
    }
    if (b->one_cb)
        b->one_cb(b->c, &b->res[0].pub, b->arg);
    else if (out)
        b->all_cb(b->c, out, b->n, b->arg);
    else
        pgr_error("parallel", "out of memory delivering %zu results", b->n);
    free(out);
    b->delivered = true;
    if (b->open_timers == 0)
        batch_free(b);
}

/* End op: its result is in b->res[op->idx]. */
static void
end(op_t *op)
{
    batch_t *b = op->b;
    if (op->ended)
        return;
    op->ended = true;
    b->res[op->idx].pub.duration_us = (int64_t)((uv_hrtime() - op->start_ns) / 1000);
    pgr_list_remove(&op->link);
    op->node->n_ops--;
    op->node = NULL;
    uv_close((uv_handle_t *)&op->timer, timer_closed);
    if (--b->remaining == 0)
        deliver(b);
}

static void
end_error(op_t *op, int status, const char *sqlstate, const char *msg)
{
    pgr_qresult_error(&op->b->res[op->idx], status, sqlstate, "%s", msg);
    end(op);
}

/* Stop whatever op is doing: withdraw its acquire, or cancel its statement on the node and
 * close its connection. */
static void
stop_work(op_t *op)
{
    if (op->req) {
        pgr_pool_acquire_cancel(op->req);
        op->req = NULL;
    }
    if (op->srv && op->b->check) {
        pgr_server_close(op->srv, NULL, NULL);
        op->srv = NULL;
    } else if (op->srv) {
        (void)pgr_server_cancel(op->srv, 5000, NULL, NULL);
        pgr_pool_release(op->srv, PGR_RELEASE_CLOSE);
        op->srv = NULL;
    }
}

static void
on_timer(uv_timer_t *t)
{
    op_t *op = t->data;
    char msg[320];
    if (op->sync_status) {
        end_error(op, op->sync_status, pgr_parallel_sqlstate(op->sync_status), op->sync_msg);
        return;
    }
    bool waiting = op->req != NULL;
    stop_work(op);
    snprintf(msg, sizeof(msg), "node %s: %s timed out after %lld ms", op->b->ids[op->idx],
             op->b->check ? "connecting" : waiting ? "waiting for a connection" : "statement",
             (long long)op->b->timeout_ms);
    if (op->b->check) {
        end_error(op, PGR_ETIMEDOUT, "08006", msg);
        return;
    }
    end_error(op, PGR_ETIMEDOUT, waiting ? "53300" : "57014", msg);
}

static void
on_result(pgr_server_t *srv, pgr_qresult_t *q, void *arg)
{
    op_t *op = arg;
    op->srv = NULL;
    /* A node's own error leaves the connection ready for the next statement. */
    pgr_pool_release(srv, q->pub.status == 0 || q->pub.status == PGR_EQUERY ? PGR_RELEASE_CLEAN
                                                                             : PGR_RELEASE_CLOSE);
    pgr_qresult_t *slot = &op->b->res[op->idx];
    pgr_qresult_clear(slot);
    *slot = *q;
    q->mem = NULL;
    end(op);
}

static void
on_acquired(pgr_acquire_t *req, int status, pgr_server_t *srv, const char *errmsg, void *arg)
{
    op_t *op = arg;
    batch_t *b = op->b;
    op->req = NULL;
    if (status != 0) {
        end_error(op, status, status == PGR_ETIMEDOUT ? "53300" : pgr_parallel_sqlstate(status),
                  errmsg);
        return;
    }
    int rc = pgr_server_query(srv, b->sql, b->n_params, (const char *const *)b->params, on_result,
                              op);
    if (rc != 0) {
        char msg[256];
        pgr_pool_release(srv, PGR_RELEASE_CLOSE);
        snprintf(msg, sizeof(msg), "node %s: could not send the statement: %s", b->ids[op->idx],
                 pgr_strerror(rc));
        end_error(op, rc, "08006", msg);
        return;
    }
    op->srv = srv;
}

/* A check's connection is up or failed: close it, report which. */
static void
on_checked(pgr_server_t *srv, int status, const char *errmsg, void *arg)
{
    op_t *op = arg;
    op->srv = NULL;
    pgr_server_close(srv, NULL, NULL);
    if (status != 0) {
        end_error(op, status, "08006", errmsg ? errmsg : pgr_strerror(status));
        return;
    }
    pgr_qresult_t *slot = &op->b->res[op->idx];
    slot->pub.status = 0;
    slot->pub.ok = true;
    memcpy(slot->pub.sqlstate, "00000", 6);
    end(op);
}

static void
start(op_t *op, pgr_node_t *node)
{
    batch_t *b = op->b;
    struct pgr_cluster *c = b->c;
    const char *dbname = node->cfg.dbname ? node->cfg.dbname : b->dbname;
    pgr_pool_t *pool;
    char err[256];
    int rc;

    if (b->check) {
        err[0] = '\0';
        rc = pgr_node_connect_as(node, b->user, dbname, b->password, b->timeout_ms, on_checked,
                                 op, &op->srv, err, sizeof(err));
    } else {
        rc = b->user ? pgr_node_pool_as(node, b->user, dbname, b->password, &pool)
                     : pgr_node_pool(node, c->user, c->dbname, c->password, &pool);
        if (rc == 0)
            rc = pgr_pool_acquire(pool, on_acquired, op, &op->req);
        snprintf(err, sizeof(err), "%s", pgr_strerror(rc));
    }
    if (rc != 0) {
        op->sync_status = rc;
        snprintf(op->sync_msg, sizeof(op->sync_msg), "node %s: %s", node->cfg.id,
                 err[0] ? err : pgr_strerror(rc));
        uv_timer_start(&op->timer, on_timer, 0, 0);
    } else if (op->b->timeout_ms >= 0) {
        uv_timer_start(&op->timer, on_timer, (uint64_t)op->b->timeout_ms, 0);
    }
}

int
pgr_parallel_run(struct pgr_cluster *c, pgr_node_t **nodes, size_t n, const char *sql,
                 int n_params, const char *const *params, int64_t timeout_ms,
                 pgr_query_cb one_cb, pgr_query_all_cb all_cb, void *arg)
{
    return pgr_parallel_run_as(c, nodes, n, NULL, sql, n_params, params, timeout_ms, one_cb,
                               all_cb, arg);
}

int
pgr_parallel_run_as(struct pgr_cluster *c, pgr_node_t **nodes, size_t n,
                    const pgr_parallel_login_t *login, const char *sql, int n_params,
                    const char *const *params, int64_t timeout_ms, pgr_query_cb one_cb,
                    pgr_query_all_cb all_cb, void *arg)
{
    if (n == 0 || n_params < 0 || (one_cb && n != 1) || !!one_cb == !!all_cb ||
        (login && !login->user))
        return PGR_EINVAL;
    batch_t *b = calloc(1, sizeof(*b));
    if (!b)
        return PGR_ENOMEM;
    if (login) {
        b->check = login->check;
        b->user = strdup(login->user);
        b->dbname = login->dbname ? strdup(login->dbname) : NULL;
        b->password = login->password ? strdup(login->password) : NULL;
        if (!b->user || (login->dbname && !b->dbname) || (login->password && !b->password))
            goto fail;
    }
    b->c = c;
    b->n = b->remaining = n;
    b->timeout_ms = timeout_ms;
    b->one_cb = one_cb;
    b->all_cb = all_cb;
    b->arg = arg;
    b->sql = strdup(sql ? sql : "");
    b->ids = calloc(n, sizeof(*b->ids));
    b->res = calloc(n, sizeof(*b->res));
    b->ops = calloc(n, sizeof(*b->ops));
    b->params = n_params ? calloc((size_t)n_params, sizeof(char *)) : NULL;
    if (!b->sql || !b->ids || !b->res || !b->ops || (n_params && !b->params))
        goto fail;
    for (int i = 0; i < n_params; i++) {
        b->n_params = i + 1;
        if (params[i] && !(b->params[i] = strdup(params[i])))
            goto fail;
    }
    b->n_params = n_params;
    uv_update_time(c->loop); /* timeouts count from now, not from the cached loop time */
    for (size_t i = 0; i < n; i++) {
        op_t *op = &b->ops[i];
        op->b = b;
        op->idx = i;
        op->node = nodes[i];
        op->start_ns = uv_hrtime();
        snprintf(b->ids[i], sizeof(b->ids[i]), "%s", nodes[i]->cfg.id);
        uv_timer_init(c->loop, &op->timer);
        op->timer.data = op;
        b->open_timers++;
        nodes[i]->n_ops++;
        pgr_list_init(&op->link);
        pgr_list_push_back(&c->ops, &op->link);
        start(op, nodes[i]);
    }
    return 0;

fail:
    batch_free(b);
    return PGR_ENOMEM;
}

void
pgr_parallel_abort_node(pgr_node_t *node, int status)
{
    pgr_list_t *pos, *tmp;
    char msg[160];
    /* Ending an op may deliver a batch and run user code; restart the walk after each. */
again:
    pgr_list_foreach_safe(pos, tmp, &node->cluster->ops) {
        op_t *op = pgr_container_of(pos, op_t, link);
        if (op->node != node)
            continue;
        stop_work(op);
        snprintf(msg, sizeof(msg), "node %s: %s", node->cfg.id,
                 status == PGR_EREMOVED ? "the node was removed" : "the cluster is shutting down");
        end_error(op, status, pgr_parallel_sqlstate(status), msg);
        goto again;
    }
}

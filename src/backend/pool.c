/* Per (node, user, database) pools: state lists, the FIFO of waiters, acquire/release, limits,
 * idle reaping and min_idle, and closing. */
#include <stdio.h>
#include <string.h>

#include "backend/pool.h"
#include "backend/node.h"
#include "core/log.h"

#define NOT_POOLED (-1)

static void dispatch(pgr_pool_t *p);
static void wait_expired(uv_timer_t *t);

/* Move srv to state st (NOT_POOLED: off every list), keeping the counts true. */
static void
set_state(pgr_pool_t *p, pgr_server_t *srv, int st)
{
    if (srv->pool_state != NOT_POOLED) {
        pgr_list_remove(&srv->link);
        p->counts[srv->pool_state]--;
    }
    srv->pool_state = st;
    if (st != NOT_POOLED) {
        pgr_list_push_back(&p->lists[st], &srv->link);
        p->counts[st]++;
    }
}

static int
total(const pgr_pool_t *p)
{
    int n = 0;
    for (int i = 0; i < PGR_PS__COUNT; i++)
        n += p->counts[i];
    return n;
}

static void
maybe_free(pgr_pool_t *p)
{
    if (!p->closing || p->pending > 0 || total(p) > 0)
        return;
    pgr_list_remove(&p->link);
    if (p->closed_cb)
        p->closed_cb(p, p->closed_arg);
    free(p->user);
    free(p->dbname);
    if (p->password) {
        explicit_bzero(p->password, strlen(p->password));
        free(p->password);
    }
    free(p);
}

static void
handle_closed(uv_handle_t *h)
{
    pgr_pool_t *p = h->data;
    p->pending--;
    maybe_free(p);
}

static void
server_closed(pgr_server_t *srv, void *arg)
{
    pgr_pool_t *p = arg;
    p->pending--;
    maybe_free(p);
}

static void
close_server(pgr_pool_t *p, pgr_server_t *srv)
{
    set_state(p, srv, NOT_POOLED);
    srv->pool = NULL;
    p->pending++;
    pgr_server_close(srv, server_closed, p);
}

static void
kicked(uv_timer_t *t)
{
    dispatch(t->data);
}

/* Dispatch from the next loop iteration (acquire and release must not call back inline). */
static void
schedule(pgr_pool_t *p)
{
    if (!p->closing)
        uv_timer_start(&p->kick, kicked, 0, 0);
}

/* ---- waiters ------------------------------------------------------------------------------ */

static void
fail_head(pgr_pool_t *p, int status, const char *msg)
{
    pgr_acquire_t *req = pgr_container_of(pgr_list_first(&p->waiters), pgr_acquire_t, link);
    pgr_list_remove(&req->link);
    p->n_waiters--;
    req->cb(req, status, NULL, msg, req->arg);
    free(req);
}

static void
arm_wait_timer(pgr_pool_t *p)
{
    pgr_list_t *first = pgr_list_first(&p->waiters);
    if (p->closing)
        return;
    if (!first) {
        uv_timer_stop(&p->wait_timer);
        return;
    }
    pgr_acquire_t *req = pgr_container_of(first, pgr_acquire_t, link);
    if (req->deadline_ms == 0)
        return;
    uint64_t now = uv_now(p->node->cluster->loop);
    uint64_t delay = req->deadline_ms > now ? req->deadline_ms - now : 0;
    uv_timer_start(&p->wait_timer, wait_expired, delay, 0);
}

static void
wait_expired(uv_timer_t *t)
{
    pgr_pool_t *p = t->data;
    uint64_t now = uv_now(t->loop);
    pgr_list_t *first;
    char msg[512];

    while ((first = pgr_list_first(&p->waiters)) != NULL) {
        pgr_acquire_t *req = pgr_container_of(first, pgr_acquire_t, link);
        if (req->deadline_ms == 0 || req->deadline_ms > now)
            break;
        p->timed_out++;
        snprintf(msg, sizeof(msg),
                 "node %s: no server connection for user \"%s\", database \"%s\" within "
                 "acquire_timeout %lld ms (pool max_size %d, %d in use)",
                 p->node->cfg.id, p->user, p->dbname, (long long)p->cfg.acquire_timeout_ms,
                 p->cfg.max_size, p->counts[PGR_PS_ACTIVE] + p->counts[PGR_PS_RESET]);
        fail_head(p, PGR_ETIMEDOUT, msg);
    }
    arm_wait_timer(p);
}

/* ---- connections -------------------------------------------------------------------------- */

static void
idle_lost(pgr_server_t *srv, const char *msg, void *arg)
{
    pgr_pool_t *p = arg;
    pgr_debug("pool", "node %s: idle connection lost: %s", p->node->cfg.id, msg);
    close_server(p, srv);
}

static void
make_idle(pgr_pool_t *p, pgr_server_t *srv)
{
    set_state(p, srv, PGR_PS_IDLE);
    srv->idle_since_ms = uv_now(p->node->cluster->loop);
    pgr_server_idle(srv, idle_lost, p);
    if (!pgr_server_usable(srv))
        close_server(p, srv);
}

static void
connected(pgr_server_t *srv, int status, const char *errmsg, void *arg)
{
    pgr_pool_t *p = arg;
    char msg[640];

    if (status == 0 && !p->closing) {
        make_idle(p, srv);
        dispatch(p);
        return;
    }
    close_server(p, srv);
    if (status == 0)
        return;
    p->connect_failures++;
    pgr_debug("pool", "node %s: connect failed: %s", p->node->cfg.id, errmsg);
    /* A waiter with no other connection on its way learns now rather than at its timeout. */
    if (p->n_waiters > p->counts[PGR_PS_CONNECTING]) {
        snprintf(msg, sizeof(msg), "node %s: %s", p->node->cfg.id, errmsg);
        fail_head(p, status == PGR_ETIMEDOUT ? PGR_ECONNECT : status, msg);
        arm_wait_timer(p);
    }
}

static void
start_connect(pgr_pool_t *p)
{
    pgr_server_t *srv;
    char err[512], msg[640];
    int rc = pgr_node_connect(p->node, p->user, p->dbname, p->password,
                              p->cfg.connect_timeout_ms, connected, p, &srv, err, sizeof(err));
    if (rc != 0) {
        p->connect_failures++;
        if (p->n_waiters > p->counts[PGR_PS_CONNECTING]) {
            snprintf(msg, sizeof(msg), "node %s: %s", p->node->cfg.id, err);
            fail_head(p, PGR_ECONNECT, msg);
        }
        return;
    }
    srv->pool = p;
    srv->pool_state = NOT_POOLED;
    set_state(p, srv, PGR_PS_CONNECTING);
}

/* Open connections for waiters that have none coming, and up to min_idle while the node is
 * healthy, within max_size. */
static void
grow(pgr_pool_t *p)
{
    if (p->closing || p->node->removing)
        return;
    int want = p->n_waiters - p->counts[PGR_PS_CONNECTING];
    if (p->node->health.rec.state == PGR_NODE_HEALTHY) {
        int idle_short = p->cfg.min_idle - p->counts[PGR_PS_IDLE] - p->counts[PGR_PS_CONNECTING];
        if (idle_short > want)
            want = idle_short;
    }
    for (int n = total(p); want > 0 && n < p->cfg.max_size; want--, n++)
        start_connect(p);
}

/* Hand idle connections to waiters, oldest waiter first; then grow. The connection given is
 * the one idle for the shortest time (LIFO, as PgBouncer): its backend process is the one most
 * likely still on a CPU and in cache, and the least used ones age at the front of the list,
 * where idle_timeout reaps them. Runs only from callbacks. */
static void
dispatch(pgr_pool_t *p)
{
    pgr_list_t *w, *s;
    while (!p->closing && (w = pgr_list_first(&p->waiters)) != NULL &&
           (s = pgr_list_last(&p->lists[PGR_PS_IDLE])) != NULL) {
        pgr_server_t *srv = pgr_container_of(s, pgr_server_t, link);
        if (!pgr_server_usable(srv)) {
            close_server(p, srv);
            continue;
        }
        pgr_acquire_t *req = pgr_container_of(w, pgr_acquire_t, link);
        pgr_list_remove(&req->link);
        p->n_waiters--;
        set_state(p, srv, PGR_PS_ACTIVE);
        pgr_server_lend(srv);
        p->acquired++;
        req->cb(req, 0, srv, NULL, req->arg);
        free(req);
    }
    grow(p);
    arm_wait_timer(p);
}

static void
reset_done(pgr_server_t *srv, pgr_qresult_t *res, void *arg)
{
    pgr_pool_t *p = arg;
    if (!res->pub.ok || p->closing || !pgr_server_usable(srv)) {
        close_server(p, srv);
        schedule(p);
        return;
    }
    pgr_server_drop_data(srv); /* DISCARD ALL dropped what the data described */
    make_idle(p, srv);
    dispatch(p);
}

/* The ROLLBACK of a connection given back inside a transaction: then DISCARD ALL, as RESET. */
static void
rollback_done(pgr_server_t *srv, pgr_qresult_t *res, void *arg)
{
    pgr_pool_t *p = arg;
    if (!res->pub.ok || p->closing || !pgr_server_usable(srv) ||
        pgr_server_query(srv, "DISCARD ALL", 0, NULL, reset_done, p) != 0) {
        close_server(p, srv);
        schedule(p);
    }
}

/* Idle connections past idle_timeout (beyond min_idle) are closed; min_idle is topped up. */
static void
maintain(uv_timer_t *t)
{
    pgr_pool_t *p = t->data;
    uint64_t now = uv_now(t->loop);
    pgr_list_t *first;

    if (p->closing)
        return;
    while (p->cfg.idle_timeout_ms > 0 && p->counts[PGR_PS_IDLE] > p->cfg.min_idle &&
           (first = pgr_list_first(&p->lists[PGR_PS_IDLE])) != NULL) {
        pgr_server_t *srv = pgr_container_of(first, pgr_server_t, link);
        if (srv->idle_since_ms + (uint64_t)p->cfg.idle_timeout_ms > now)
            break;
        pgr_debug("pool", "node %s: closing a connection idle for %lld ms", p->node->cfg.id,
                  (long long)(now - srv->idle_since_ms));
        close_server(p, srv);
    }
    grow(p);
}

/* ---- API ---------------------------------------------------------------------------------- */

int
pgr_pool_new(pgr_node_t *node, const char *user, const char *dbname, const char *password,
             pgr_pool_t **out)
{
    uv_loop_t *loop = node->cluster->loop;
    pgr_pool_t *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (!p)
        return PGR_ENOMEM;
    p->user = strdup(user);
    p->dbname = strdup(dbname);
    p->password = password ? strdup(password) : NULL;
    if (!p->user || !p->dbname || (password && !p->password)) {
        free(p->user);
        free(p->dbname);
        free(p->password);
        free(p);
        return PGR_ENOMEM;
    }
    p->node = node;
    p->cfg = node->pool_cfg;
    for (int i = 0; i < PGR_PS__COUNT; i++)
        pgr_list_init(&p->lists[i]);
    pgr_list_init(&p->waiters);
    uv_timer_init(loop, &p->kick);
    uv_timer_init(loop, &p->wait_timer);
    uv_timer_init(loop, &p->maint);
    p->kick.data = p->wait_timer.data = p->maint.data = p;
    int64_t period = p->cfg.idle_timeout_ms > 0 ? p->cfg.idle_timeout_ms / 2 : 1000;
    if (period < 50)
        period = 50;
    if (period > 1000)
        period = 1000;
    uv_timer_start(&p->maint, maintain, (uint64_t)period, (uint64_t)period);
    pgr_list_push_back(&node->pools, &p->link);
    if (p->cfg.min_idle > 0)
        schedule(p);
    *out = p;
    return 0;
}

pgr_pool_t *
pgr_pool_find(pgr_node_t *node, const char *user, const char *dbname)
{
    pgr_list_t *pos;
    pgr_list_foreach(pos, &node->pools) {
        pgr_pool_t *p = pgr_container_of(pos, pgr_pool_t, link);
        if (!p->closing && strcmp(p->user, user) == 0 && strcmp(p->dbname, dbname) == 0)
            return p;
    }
    return NULL;
}

int
pgr_pool_acquire(pgr_pool_t *pool, pgr_acquire_cb cb, void *arg, pgr_acquire_t **out)
{
    if (out)
        *out = NULL;
    if (pool->closing || pool->node->removing)
        return pool->node->removing ? PGR_EREMOVED : PGR_ESHUTDOWN;
    pgr_acquire_t *req = calloc(1, sizeof(*req));
    if (!req)
        return PGR_ENOMEM;
    req->pool = pool;
    req->cb = cb;
    req->arg = arg;
    if (pool->cfg.acquire_timeout_ms > 0) {
        uv_loop_t *loop = pool->node->cluster->loop;
        uv_update_time(loop); /* the cached loop time may be old: never wait less than asked */
        req->deadline_ms = uv_now(loop) + (uint64_t)pool->cfg.acquire_timeout_ms;
    }
    pgr_list_push_back(&pool->waiters, &req->link);
    pool->n_waiters++;
    schedule(pool);
    if (out)
        *out = req;
    return 0;
}

void
pgr_pool_acquire_cancel(pgr_acquire_t *req)
{
    pgr_pool_t *p = req->pool;
    pgr_list_remove(&req->link);
    p->n_waiters--;
    free(req);
    arm_wait_timer(p);
}

void
pgr_pool_release(pgr_server_t *srv, pgr_release_t how)
{
    pgr_pool_t *p = srv->pool;
    if (!p) { /* killed under its borrower when its pool closed: an orphan */
        pgr_list_remove(&srv->link);
        pgr_server_close(srv, NULL, NULL);
        return;
    }
    pgr_node_state_t st = p->node->health.rec.state;
    /* A node marked unhealthy keeps no connection (pgr_pool_node_down): one given back during
     * its grace is closed too. */
    if (how == PGR_RELEASE_CLOSE || p->closing || !pgr_server_usable(srv) ||
        st == PGR_NODE_UNHEALTHY || st == PGR_NODE_RECONNECTING) {
        close_server(p, srv);
        schedule(p);
        return;
    }
    if (how == PGR_RELEASE_ROLLBACK) {
        set_state(p, srv, PGR_PS_RESET);
        if (pgr_server_query(srv, "ROLLBACK", 0, NULL, rollback_done, p) != 0) {
            close_server(p, srv);
            schedule(p);
        }
        return;
    }
    if (p->cfg.mode == PGR_POOL_SESSION || how == PGR_RELEASE_RESET) {
        set_state(p, srv, PGR_PS_RESET);
        if (pgr_server_query(srv, "DISCARD ALL", 0, NULL, reset_done, p) != 0) {
            close_server(p, srv);
            schedule(p);
        }
        return;
    }
    make_idle(p, srv);
    schedule(p);
}

void
pgr_pool_fail_waiters(pgr_pool_t *p, int status)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "node %s: %s", p->node->cfg.id,
             status == PGR_EREMOVED ? "the node is being removed" : "the cluster is shutting down");
    while (pgr_list_first(&p->waiters))
        fail_head(p, status, msg);
    uv_timer_stop(&p->wait_timer);
}

/* Close every connection not lent out: idle, connecting, being reset. */
static void
close_unlent(pgr_pool_t *p)
{
    static const int unlent[] = { PGR_PS_IDLE, PGR_PS_CONNECTING, PGR_PS_RESET };
    pgr_list_t *first;

    for (size_t i = 0; i < PGR_ARRAY_LEN(unlent); i++)
        while ((first = pgr_list_first(&p->lists[unlent[i]])) != NULL)
            close_server(p, pgr_container_of(first, pgr_server_t, link));
}

void
pgr_pool_node_down(pgr_pool_t *p, const char *why)
{
    pgr_list_t *pos;
    char msg[512];
    bool again = true;

    if (p->closing)
        return;
    snprintf(msg, sizeof(msg), "node \"%s\" is unhealthy: %s", p->node->cfg.id, why ? why : "");
    while (pgr_list_first(&p->waiters))
        fail_head(p, PGR_EUNHEALTHY, msg);
    uv_timer_stop(&p->wait_timer);
    close_unlent(p);
    /* A borrower told may release its connection (or another's) at once: look again from the
     * front after each. An abort does something at most once per connection, so this ends. */
    while (again) {
        again = false;
        pgr_list_foreach(pos, &p->lists[PGR_PS_ACTIVE]) {
            if (pgr_server_abort(pgr_container_of(pos, pgr_server_t, link), PGR_EUNHEALTHY, msg)) {
                again = true;
                break;
            }
        }
    }
    close_unlent(p); /* what a borrower gave back meanwhile */
}

int
pgr_pool_busy(const pgr_pool_t *p)
{
    return p->counts[PGR_PS_ACTIVE] + p->counts[PGR_PS_RESET] + p->n_waiters;
}

void
pgr_pool_close(pgr_pool_t *p, int status, void (*cb)(pgr_pool_t *p, void *arg), void *arg)
{
    pgr_list_t *first;
    if (p->closing)
        return;
    pgr_pool_fail_waiters(p, status);
    p->closing = true;
    p->closed_cb = cb;
    p->closed_arg = arg;
    /* Lent connections become orphans: killed now, freed when their borrower releases them. */
    while ((first = pgr_list_first(&p->lists[PGR_PS_ACTIVE])) != NULL) {
        pgr_server_t *srv = pgr_container_of(first, pgr_server_t, link);
        set_state(p, srv, NOT_POOLED);
        srv->pool = NULL;
        pgr_list_push_back(&p->node->cluster->orphans, &srv->link);
        pgr_server_kill(srv, status);
    }
    for (int st = 0; st < PGR_PS__COUNT; st++)
        while ((first = pgr_list_first(&p->lists[st])) != NULL)
            close_server(p, pgr_container_of(first, pgr_server_t, link));
    p->pending += 3;
    uv_close((uv_handle_t *)&p->kick, handle_closed);
    uv_close((uv_handle_t *)&p->wait_timer, handle_closed);
    uv_close((uv_handle_t *)&p->maint, handle_closed);
}

void
pgr_pool_stats_add(const pgr_pool_t *p, pgr_pool_stats_t *acc)
{
    acc->total += total(p);
    acc->idle += p->counts[PGR_PS_IDLE];
    acc->active += p->counts[PGR_PS_ACTIVE] + p->counts[PGR_PS_RESET];
    acc->connecting += p->counts[PGR_PS_CONNECTING];
    acc->waiting += p->n_waiters;
    acc->acquired += p->acquired;
    acc->timed_out += p->timed_out;
    acc->connect_failures += p->connect_failures;
}

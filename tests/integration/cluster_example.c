/* The cluster library end to end: two real nodes (tests/cluster.sh via the fixture), a cluster
 * from a config, events, health, one query, a query on every node, pool stats, a lent
 * connection with raw protocol bytes, and a graceful shutdown that leaves the loop empty.
 *
 *   build-dir/tests/integration/cluster_example     (PGR_SRCDIR=<repo> to find cluster.sh)
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pgrouter/cluster.h"
#include "cluster_fixture.h"

static void
on_event(pgr_cluster_t *c, const pgr_event_t *ev, void *arg)
{
    (void)c;
    (void)arg;
    if (ev->type == PGR_EVENT_NODE_HEALTH)
        printf("event: node %s %s -> %s\n", ev->node_id, pgr_node_state_name(ev->old_state),
               pgr_node_state_name(ev->new_state));
    else if (ev->type == PGR_EVENT_NODE_CONNECTED)
        printf("event: node %s connected\n", ev->node_id);
}

static void
on_one(pgr_cluster_t *c, const pgr_result_t *r, void *arg)
{
    (void)c;
    printf("query on %s: %s (%s) in %lld us\n", r->node_id,
           r->ok ? pgr_result_value(r, 0, 0) : r->message, r->ok ? r->command_tag : r->sqlstate,
           (long long)r->duration_us);
    *(bool *)arg = true;
}

static void
on_all(pgr_cluster_t *c, const pgr_result_t *res, size_t n, void *arg)
{
    for (size_t i = 0; i < n; i++)
        on_one(c, &res[i], arg);
}

static void
on_acquired(pgr_acquire_t *req, int status, pgr_server_t *srv, const char *errmsg, void *arg)
{
    (void)req;
    *(pgr_server_t **)arg = srv;
    if (status != 0)
        printf("acquire failed: %s\n", errmsg);
}

static void
on_readable(pgr_server_t *srv, int status, int events, void *arg)
{
    (void)srv;
    (void)events;
    *(int *)arg = status < 0 ? -1 : 1;
}

static void
on_shutdown(pgr_cluster_t *c, int status, void *arg)
{
    (void)c;
    printf("shutdown finished: %s\n", pgr_strerror(status));
    *(bool *)arg = true;
}

int
main(void)
{
    fx_cluster_t fx;
    uv_loop_t loop;
    pgr_cluster_t *c;
    char err[256];
    bool done = false;
    int ok = 1;

    fx_start(&fx, 2, 0);
    uv_loop_init(&loop);

    /* 1. A config (normally from YAML) with the two nodes; the cluster copies it. */
    pgr_config_t *cfg = fx_config(&fx, 2);
    pgr_cluster_options_t opts = { .user = "postgres", .dbname = "app" };
    if (pgr_cluster_new(&loop, cfg, &opts, &c, err, sizeof(err)) != 0) {
        printf("pgr_cluster_new: %s\n", err);
        return 1;
    }
    pgr_config_free(cfg);
    pgr_cluster_subscribe(c, on_event, NULL);

    /* 2. Wait until both nodes are healthy. */
    double end = fx_now() + 5;
    const char *ids[4];
    while (pgr_cluster_healthy_nodes(c, ids, 4) < 2 && fx_now() < end)
        uv_run(&loop, UV_RUN_ONCE);
    pgr_health_t h[2];
    pgr_cluster_all_health(c, h, 2);
    for (int i = 0; i < 2; i++)
        printf("health %s: %s, role %s, latency %lld us\n", h[i].node_id,
               pgr_node_state_name(h[i].state), h[i].role == PGR_ROLE_REPLICA ? "replica" : "primary",
               (long long)h[i].latency_us);
    ok &= h[0].state == PGR_NODE_HEALTHY && h[1].state == PGR_NODE_HEALTHY;

    /* 3. One statement on one node, then the same on every node at once. */
    const char *params[] = { "42" };
    pgr_cluster_query(c, "pg1", "SELECT $1::int * 2", 1, params, 5000, on_one, &done);
    ok &= fx_run_until(&loop, &done, 5);
    done = false;
    pgr_cluster_query_all(c, "SELECT current_setting('port')", 0, NULL, 5000, on_all, &done);
    ok &= fx_run_until(&loop, &done, 5);

    /* 4. Borrow a pooled connection and speak the protocol on it, as the relay does. */
    pgr_server_t *srv = NULL;
    pgr_cluster_acquire(c, "pg2", "app", "app", "app", on_acquired, &srv, NULL);
    end = fx_now() + 5;
    while (!srv && fx_now() < end)
        uv_run(&loop, UV_RUN_ONCE);
    if (srv) {
        const char sql[] = "SELECT 'raw bytes'";
        unsigned char msg[64];
        uint32_t len = htonl(4 + sizeof(sql));
        msg[0] = 'Q';
        memcpy(msg + 1, &len, 4);
        memcpy(msg + 5, sql, sizeof(sql));
        ssize_t n = pgr_server_write(srv, msg, 5 + sizeof(sql));
        int ready = 0;
        pgr_server_watch(srv, true, false, on_readable, &ready);
        while (!ready)
            uv_run(&loop, UV_RUN_ONCE);
        pgr_server_watch(srv, false, false, on_readable, &ready);
        unsigned char in[512];
        ssize_t got = 0, r;
        end = fx_now() + 5;
        while ((got == 0 || in[got - 6] != 'Z') && fx_now() < end) {
            r = pgr_server_read(srv, in + got, sizeof(in) - (size_t)got);
            if (r < 0)
                break;
            got += r;
        }
        printf("raw: wrote %zd bytes, read %zd bytes, server_version %s\n", n, got,
               pgr_server_parameter(srv, "server_version"));
        ok &= got > 6 && in[got - 6] == 'Z' && in[got - 1] == 'I';
        pgr_cluster_release(srv, PGR_RELEASE_CLEAN); /* ReadyForQuery 'I' seen: back to idle */
    } else {
        ok = 0;
    }

    pgr_pool_stats_t st[2];
    pgr_cluster_all_pool_stats(c, st, 2);
    for (int i = 0; i < 2; i++)
        printf("pool %s: total %d idle %d active %d waiting %d acquired %llu\n", st[i].node_id,
               st[i].total, st[i].idle, st[i].active, st[i].waiting,
               (unsigned long long)st[i].acquired);

    /* 5. Graceful shutdown; then the loop has nothing left. */
    done = false;
    pgr_cluster_shutdown(c, 5000, on_shutdown, &done);
    ok &= fx_run_until(&loop, &done, 10);
    pgr_cluster_free(c);
    int lc = uv_loop_close(&loop);
    printf("uv_loop_close: %d\n", lc);
    ok &= lc == 0;
    fx_stop(&fx);
    return ok ? 0 : 1;
}

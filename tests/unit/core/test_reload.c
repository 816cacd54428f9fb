/* Configuration reload: the plan that the difference of two snapshots gives, and what a reload
 * keeps from the running snapshot. */
#include <stdio.h>
#include <string.h>

#include "core/reload.h"
#include "../harness.h"

static pgr_config_t *
load(const char *yaml)
{
    pgr_config_t *cfg = NULL;
    pgr_config_errors_t errs = { 0 };

    if (pgr_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "# %s\n", errs.msgs[i]);
        pgr_config_errors_free(&errs);
        return NULL;
    }
    return cfg;
}

/* The plan as "op:id op:id ..." */
static void
actions(const pgr_reload_plan_t *p, char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < p->n_actions && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s:%s", i ? " " : "",
                                 pgr_reload_op_name(p->actions[i].op), p->actions[i].node->id);
}

#define BASE "listen: {host: 127.0.0.1, port: 6432}\n"

TEST(nodes_added_removed_replaced_and_changed)
{
    pgr_config_t *a = load(BASE "nodes:\n"
                                "  - {id: pg1, host: h1, port: 5432}\n"
                                "  - {id: pg2, host: h2, port: 5432, weight: 1}\n"
                                "  - {id: pg3, host: h3, port: 5432}\n"
                                "  - {id: pg4, host: h4, port: 5432, role: replica}\n");
    pgr_config_t *b = load(BASE "nodes:\n"
                                "  - {id: pg5, host: h5, port: 5432}\n"
                                "  - {id: pg2, host: h2, port: 5432, weight: 7}\n"
                                "  - {id: pg3, host: h3, port: 5433}\n"
                                "  - {id: pg4, host: h4, port: 5432, role: primary, weight: 1}\n");
    pgr_reload_plan_t p;
    char buf[256];

    CHECK(a && b);
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    actions(&p, buf, sizeof(buf));
    CHECK_STR(buf, "remove:pg1 weight:pg2 replace:pg3 role:pg4 add:pg5");
    /* The nodes point into the snapshot that has them. */
    CHECK(p.actions[0].node == &a->nodes[0]);
    CHECK(p.actions[2].node == &b->nodes[2] && p.actions[2].node->port == 5433);
    CHECK_INT((int)p.n_restart, 0);
    CHECK(!p.router && !p.classifier && !p.log);
    pgr_reload_plan_free(&p);
    pgr_config_free(a);
    pgr_config_free(b);
}

TEST(same_file_changes_nothing)
{
    const char *y = BASE "routing: {reads: any, write_functions: [f]}\n"
                         "nodes:\n  - {id: pg1, host: h1, port: 5432, pool: {max_size: 3}}\n";
    pgr_config_t *a = load(y), *b = load(y);
    pgr_reload_plan_t p;

    CHECK(a && b);
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    CHECK_INT((int)p.n_actions, 0);
    CHECK_INT((int)p.n_restart, 0);
    CHECK(!p.router && !p.classifier && !p.log);
    pgr_reload_plan_free(&p);
    pgr_config_free(a);
    pgr_config_free(b);
}

TEST(node_pool_block_and_password_replace_the_node)
{
    pgr_config_t *a = load(BASE "nodes:\n"
                                "  - {id: pg1, host: h1, port: 5432, pool: {max_size: 3}}\n"
                                "  - {id: pg2, host: h2, port: 5432, password: x}\n");
    pgr_config_t *b = load(BASE "nodes:\n"
                                "  - {id: pg1, host: h1, port: 5432, pool: {max_size: 4}}\n"
                                "  - {id: pg2, host: h2, port: 5432, password: y}\n");
    pgr_reload_plan_t p;
    char buf[256];

    CHECK(a && b);
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    actions(&p, buf, sizeof(buf));
    CHECK_STR(buf, "replace:pg1 replace:pg2");
    pgr_reload_plan_free(&p);
    pgr_config_free(a);
    pgr_config_free(b);
}

/* A node's own health: block is part of its connection settings; the global health login is a
 * start-time setting like the rest of health: (named for a restart, kept by a deep copy). */
TEST(health_login_changes)
{
    pgr_config_t *a = load(BASE "health: {user: hc, password: one}\n"
                                "nodes:\n"
                                "  - {id: pg1, host: h1, port: 5432, health: {user: x}}\n"
                                "  - {id: pg2, host: h2, port: 5432}\n"
                                "  - {id: pg3, host: h3, port: 5432, health: {dbname: d}}\n");
    pgr_config_t *b = load(BASE "health: {user: hc, password: two, dbname: postgres}\n"
                                "nodes:\n"
                                "  - {id: pg1, host: h1, port: 5432, health: {user: y}}\n"
                                "  - {id: pg2, host: h2, port: 5432}\n"
                                "  - {id: pg3, host: h3, port: 5432, health: {dbname: d}}\n");
    pgr_reload_plan_t p;
    char buf[256];

    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    actions(&p, buf, sizeof(buf));
    CHECK_STR(buf, "replace:pg1");
    CHECK_INT((int)p.n_restart, 1);
    CHECK_STR(p.restart[0], "health");
    pgr_reload_plan_free(&p);

    CHECK_INT(pgr_reload_keep(a, b), 0);
    CHECK_STR(b->health.login.user, "hc");
    CHECK_STR(b->health.login.password, "one");
    CHECK(b->health.login.password != a->health.login.password);
    CHECK(b->health.login.dbname == NULL);
    CHECK_STR(b->nodes[0].health.user, "y"); /* a node's block is not kept: it was replaced */
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    CHECK_INT((int)p.n_restart, 0);
    pgr_reload_plan_free(&p);
    pgr_config_free(a);
    pgr_config_free(b);
}

TEST(refreshed_parts_and_restart_settings)
{
    pgr_config_t *a = load(BASE "nodes:\n  - {id: pg1, host: h1, port: 5432}\n");
    pgr_config_t *b = load("listen: {host: 127.0.0.2, port: 7000}\n"
                           "pool: {mode: session, max_size: 3, query_timeout: 2s,\n"
                           "       idle_transaction_timeout: 3s}\n"
                           "health: {interval: 5s}\n"
                           "admin: {http: '127.0.0.1:9000'}\n"
                           "routing: {reads: primary, write_functions: [f], "
                           "classify_cache_size: 10}\n"
                           "log: {level: debug}\n"
                           "broadcast: {on_node_error: fail}\n"
                           "nodes:\n  - {id: pg1, host: h1, port: 5432}\n");
    pgr_reload_plan_t p;

    CHECK(a && b);
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    CHECK_INT((int)p.n_actions, 0);
    CHECK(p.router && p.classifier && p.log);
    CHECK_INT((int)p.n_restart, 4);
    CHECK_STR(p.restart[0], "listen");
    CHECK_STR(p.restart[1], "admin.http");
    CHECK_STR(p.restart[2], "pool");
    CHECK_STR(p.restart[3], "health");
    pgr_reload_plan_free(&p);

    /* Kept: the old values, deep-copied; the rest is the new file's. */
    CHECK_INT(pgr_reload_keep(a, b), 0);
    CHECK_INT((int)b->listen.n_hosts, 1);
    CHECK_STR(b->listen.hosts[0], "127.0.0.1");
    CHECK(b->listen.hosts[0] != a->listen.hosts[0]);
    CHECK_INT(b->listen.port, 6432);
    CHECK(b->admin.http == NULL);
    CHECK_INT((int)b->pool.mode, (int)PGR_POOL_TRANSACTION);
    CHECK(b->pool.max_size == a->pool.max_size);
    CHECK_INT(b->pool.query_timeout_ms, 2000); /* not kept: applied at once */
    CHECK_INT(b->pool.idle_transaction_timeout_ms, 3000);
    CHECK(b->health.interval_ms == a->health.interval_ms);
    CHECK_INT((int)b->broadcast.on_node_error, (int)PGR_ONERR_FAIL);
    CHECK_INT((int)b->routing.reads, (int)PGR_READS_PRIMARY);
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    CHECK_INT((int)p.n_restart, 0);
    pgr_reload_plan_free(&p);
    pgr_config_free(a);
    pgr_config_free(b); /* no double free: the kept values are b's own copies */
}

/* instance.id, listen.reuseport and the instance's own peers entry are bound at start; the
 * other peers are read when a cancel needs them. --instance (cli) wins over any file. */
TEST(instance_and_peers)
{
    pgr_config_t *a = load(BASE "instance: {id: 2}\n"
                           "peers:\n  - {id: 2, host: /tmp/a, port: 6432}\n"
                           "  - {id: 3, host: 127.0.0.1, port: 6500}\n"
                           "nodes:\n  - {id: pg1, host: h1, port: 5432}\n");
    const char *next = "listen: {host: 127.0.0.1, port: 6432, reuseport: true}\n"
                       "instance: {id: 5}\n"
                       "peers:\n  - {id: 3, host: 127.0.0.1, port: 6501}\n"
                       "  - {id: 2, host: 127.0.0.1, port: 7000}\n"
                       "nodes:\n  - {id: pg1, host: h1, port: 5432}\n";
    pgr_config_t *b = load(next), *c = load(next);
    pgr_reload_plan_t p;

    CHECK(a && b && c);
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    CHECK_INT((int)p.n_restart, 3);
    CHECK_STR(p.restart[0], "listen");
    CHECK_STR(p.restart[1], "instance.id");
    CHECK_STR(p.restart[2], "peers (this instance's own address)");
    pgr_reload_plan_free(&p);
    CHECK_INT(pgr_reload_keep(a, b), 0);
    CHECK_INT(b->instance.id, 2);
    CHECK(!b->listen.reuseport);
    const pgr_peer_config_t *own = pgr_config_find_peer(b, 2);
    CHECK(own && strcmp(own->host, "/tmp/a") == 0 && own->port == 6432);
    const pgr_peer_config_t *other = pgr_config_find_peer(b, 3);
    CHECK(other && other->port == 6501); /* the others take effect */
    CHECK_INT(pgr_reload_diff(a, b, &p), 0);
    CHECK_INT((int)p.n_restart, 0);
    pgr_reload_plan_free(&p);

    /* Started with --instance 2: a file saying 5 is not a change to report. */
    a->instance.cli = true;
    CHECK_INT(pgr_reload_diff(a, c, &p), 0);
    CHECK_INT((int)p.n_restart, 2);
    CHECK_STR(p.restart[0], "listen");
    CHECK_STR(p.restart[1], "peers (this instance's own address)");
    pgr_reload_plan_free(&p);
    CHECK_INT(pgr_reload_keep(a, c), 0);
    CHECK(c->instance.id == 2 && c->instance.cli);
    pgr_config_free(a);
    pgr_config_free(b);
    pgr_config_free(c);
}

int
main(void)
{
    return RUN(nodes_added_removed_replaced_and_changed, same_file_changes_nothing,
               node_pool_block_and_password_replace_the_node, health_login_changes,
               refreshed_parts_and_restart_settings, instance_and_peers);
}

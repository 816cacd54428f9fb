/* The integration fixture: real nodes via tests/cluster.sh, with a watchdog. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* A TAP diagnostic: "# " in front of each line of the text (libpq's messages span lines). */
static void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (const char *p = buf; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("# %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
}

#include "cluster_fixture.h"

static fx_cluster_t *fx_live;

static const char *
script(void)
{
    static char path[512];
    const char *src = getenv("PGR_SRCDIR");
    snprintf(path, sizeof(path), "%s/tests/cluster.sh", src ? src : ".");
    return path;
}

double
fx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
at_exit_stop(void)
{
    if (fx_live)
        fx_stop(fx_live);
}

/* The watchdog: waits for EOF on the pipe (the test died) and stops the cluster; a byte on the
 * pipe first means the test stopped it itself. */
static int
spawn_watchdog(const char *dir, int *wfd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char c;
        setsid();
        close(p[1]);
        for (int fd = 3; fd < 256; fd++)
            if (fd != p[0])
                close(fd);
        ssize_t n;
        while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        if (n == 1)
            _exit(0);
        execl("/bin/bash", "bash", script(), "stop", "--dir", dir, (char *)NULL);
        _exit(1);
    }
    close(p[0]);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    *wfd = p[1];
    return pid;
}

void
fx_start(fx_cluster_t *fx, int n, int replicas)
{
    char cmd[1024], line[512];
    memset(fx, 0, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/pgr-cluster-test.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        printf("Bail out! mkdtemp failed\n");
        exit(1);
    }
    fx->watchdog_pid = spawn_watchdog(fx->dir, &fx->watchdog_fd);
    fx_live = fx;
    atexit(at_exit_stop);
    snprintf(cmd, sizeof(cmd), "bash '%s' start %d --replicas %d --dir '%s' 2>&1", script(), n,
             replicas, fx->dir);
    FILE *f = popen(cmd, "r");
    if (!f) {
        printf("Bail out! cannot run %s\n", cmd);
        exit(1);
    }
    while (fgets(line, sizeof(line), f)) {
        fx_node_t nd;
        if (fx->n < FX_MAX_NODES &&
            sscanf(line, "node %15s port %d role %15s", nd.id, &nd.port, nd.role) == 3)
            fx->nodes[fx->n++] = nd;
        else
            diag("cluster.sh: %s", line);
    }
    int rc = pclose(f);
    if (rc != 0 || fx->n != n) {
        printf("Bail out! cluster.sh start %d failed (rc %d, %d nodes)\n", n, rc, fx->n);
        exit(1);
    }
}

void
fx_stop(fx_cluster_t *fx)
{
    char cmd[1024];
    if (!fx->dir[0])
        return;
    snprintf(cmd, sizeof(cmd), "bash '%s' stop --dir '%s' >/dev/null 2>&1", script(), fx->dir);
    if (system(cmd) != 0)
        printf("# cluster.sh stop failed\n");
    if (fx->watchdog_fd > 0) {
        ssize_t w = write(fx->watchdog_fd, "x", 1);
        (void)w;
        close(fx->watchdog_fd);
        fx->watchdog_fd = -1;
        waitpid(fx->watchdog_pid, NULL, 0);
    }
    fx->dir[0] = '\0';
    fx_live = NULL;
}

void
fx_begin(fx_cluster_t *fx, uv_loop_t *loop, pgr_cluster_t **c, fx_events_t *ev,
         const fx_setup_t *setup)
{
    char err[256] = "";

    fx_start(fx, setup->nodes, setup->replicas);
    uv_loop_init(loop);
    pgr_config_t *cfg = fx_config(fx, setup->configured);
    if (setup->tune)
        setup->tune(cfg);
    int rc = pgr_cluster_new(loop, cfg, fx_options(), c, err, sizeof(err));
    pgr_config_free(cfg); /* the cluster keeps its own copy */
    if (rc != 0) {
        printf("Bail out! pgr_cluster_new: %s\n", err);
        exit(1);
    }
    pgr_cluster_subscribe(*c, fx_events_cb, ev);
}

int
fx_node(fx_cluster_t *fx, const char *verb, const char *id)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash '%s' %s %s --dir '%s' >/dev/null 2>&1", script(), verb, id,
             fx->dir);
    return system(cmd);
}

void
fx_node_config(const fx_cluster_t *fx, int i, pgr_node_config_t *nc)
{
    memset(nc, 0, sizeof(*nc));
    nc->id = (char *)fx->nodes[i].id;
    nc->host = "127.0.0.1";
    nc->port = fx->nodes[i].port;
    nc->role = PGR_ROLE_AUTO;
    nc->weight = 1;
    nc->pool = (pgr_pool_config_t){ .mode = (pgr_pool_mode_t)-1, .max_size = -1, .min_idle = -1,
                                    .idle_timeout_ms = -1, .connect_timeout_ms = -1,
                                    .acquire_timeout_ms = -1 };
}

pgr_config_t *
fx_config(const fx_cluster_t *fx, int n)
{
    pgr_config_t *cfg = pgr_config_new_default();
    if (!cfg) {
        printf("Bail out! pgr_config_new_default failed\n");
        exit(1);
    }
    /* The nodes array is ours; the snapshot's strings are not touched, so build it so that
     * pgr_config_free() can free it: every string strdup'd. */
    cfg->nodes = calloc((size_t)n, sizeof(*cfg->nodes));
    cfg->n_nodes = (size_t)n;
    for (int i = 0; i < n; i++) {
        fx_node_config(fx, i, &cfg->nodes[i]);
        cfg->nodes[i].id = strdup(fx->nodes[i].id);
        cfg->nodes[i].host = strdup("127.0.0.1");
    }
    return cfg;
}

const pgr_cluster_options_t *
fx_options(void)
{
    static const pgr_cluster_options_t o = { .user = "postgres", .dbname = "app" };
    return &o;
}

static void
tick(uv_timer_t *t)
{
    (void)t;
}

static void
closed_noop(uv_handle_t *h)
{
    (void)h;
}

bool
fx_run_until_pred(uv_loop_t *loop, bool (*pred)(void *), void *arg, double timeout_s)
{
    uv_timer_t t;
    double end = fx_now() + timeout_s;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    while (!pred(arg) && fx_now() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, closed_noop);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(arg);
}

static bool
flag_set(void *arg)
{
    return *(const bool *)arg;
}

bool
fx_run_until(uv_loop_t *loop, const bool *flag, double timeout_s)
{
    return fx_run_until_pred(loop, flag_set, (void *)flag, timeout_s);
}

static bool
never(void *arg)
{
    (void)arg;
    return false;
}

void
fx_run_for(uv_loop_t *loop, double seconds)
{
    fx_run_until_pred(loop, never, NULL, seconds);
}

static PGconn *
admin_conn(const fx_cluster_t *fx, int i)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", fx->nodes[i].port);
    const char *kw[] = { "host", "port", "user", "dbname", "application_name", "connect_timeout",
                         NULL };
    const char *val[] = { "127.0.0.1", port, "postgres", "app", "pgr_test", "5", NULL };
    PGconn *c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        diag("admin connection to %s failed: %s", fx->nodes[i].id, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

int
fx_psql(const fx_cluster_t *fx, int i, const char *sql, char *out, size_t outlen)
{
    PGconn *c = admin_conn(fx, i);
    if (!c)
        return -1;
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK ? 0
                                                                                          : -1;
    if (rc != 0)
        diag("%s: %s", sql, PQresultErrorMessage(r));
    if (out && outlen)
        snprintf(out, outlen, "%s",
                 rc == 0 && PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return rc;
}

int
fx_count_conns(const fx_cluster_t *fx, int i, const char *appname)
{
    char sql[256], out[32];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'", appname);
    if (fx_psql(fx, i, sql, out, sizeof(out)) != 0)
        return -1;
    return atoi(out);
}

int
fx_wait_conns(const fx_cluster_t *fx, int i, const char *appname, int want, double timeout_s)
{
    double end = fx_now() + timeout_s;
    int n;
    while ((n = fx_count_conns(fx, i, appname)) != want && fx_now() < end)
        usleep(50 * 1000);
    return n;
}

void
fx_events_cb(pgr_cluster_t *c, const pgr_event_t *ev, void *arg)
{
    fx_events_t *r = arg;
    (void)c;
    if (ev->type == PGR_EVENT_POOL_STATS)
        r->stats_events++;
    if (r->n >= (int)(sizeof(r->ev) / sizeof(r->ev[0])))
        return;
    fx_event_t *e = &r->ev[r->n++];
    e->type = ev->type;
    snprintf(e->node_id, sizeof(e->node_id), "%s", ev->node_id ? ev->node_id : "");
    e->old_state = ev->old_state;
    e->new_state = ev->new_state;
    e->at = fx_now();
}

int
fx_events_count(const fx_events_t *r, pgr_event_type_t type, const char *node, int new_state)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        const fx_event_t *e = &r->ev[i];
        if (e->type == type && (!node || strcmp(e->node_id, node) == 0) &&
            (new_state < 0 || (int)e->new_state == new_state))
            n++;
    }
    return n;
}

static void
shutdown_done(pgr_cluster_t *c, int status, void *arg)
{
    (void)c;
    (void)status;
    *(bool *)arg = true;
}

int
fx_shutdown(pgr_cluster_t *c, uv_loop_t *loop, int64_t drain_ms)
{
    bool done = false;
    if (pgr_cluster_shutdown(c, drain_ms, shutdown_done, &done) != 0)
        return -1000;
    if (!fx_run_until(loop, &done, 30)) {
        printf("# shutdown did not finish\n");
        return -1001;
    }
    pgr_cluster_free(c);
    uv_run(loop, UV_RUN_NOWAIT);
    return uv_loop_close(loop);
}

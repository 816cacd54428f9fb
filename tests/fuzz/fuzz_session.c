/* libFuzzer driver: the client session (session/client and what it calls: startup parsing,
 * hba, the auth exchanges, the login with no node reachable, the dispatcher's own answers and
 * errors) fed the bytes a client sends, as OSS-Fuzz feeds PostgreSQL's backend through a fake
 * pq_getbyte.
 *
 * The transport is a real Unix socket on the real loop: a uv_pipe_t listener whose connections
 * go to pgr_client_accept, as the daemon's listener does. The driver connects a plain socket to
 * it, writes the input in the slices the input chooses, and after each slice runs the loop with
 * UV_RUN_NOWAIT until it goes quiet, reading and discarding what pgrouter answers. Nothing
 * blocks or sleeps once the first input runs: both nodes are Unix-socket paths that do not
 * exist, so every connection to them fails at once, and the start waits until both are marked
 * unhealthy (their next checks are an hour away; a probe a session asks for fails at once).
 * The runtime is built once, as ops/daemon.c builds it, and kept; each input's session is
 * closed and freed before the input ends: the driver's EOF must close it (a session still open
 * then is a bug: abort).
 *
 * Input: records, each one length byte n and then n bytes, written to the socket as one slice
 * (the last record may be short). n = 0 only lets the loop run again.
 *
 * Config: auth.method scram-sha-256 with an hba file choosing per user: trusty trust,
 * clear password (cleartext), md5u md5, app scram-sha-256, nobody reject; every password is
 * "secret". Nobody may use the admin console: its ADD NODE, SET NODE, RELOAD and SHUTDOWN would
 * reach real ports or change what later inputs meet (fuzz_admin covers its parser). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "core/runtime.h"
#include "ops/admin.h"
#include "pgrouter/cluster.h"
#include "route/classify.h"
#include "route/router.h"
#include "session/auth.h"
#include "session/client.h"
#include "session/dbauth.h"
#include "session/login.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SETTLE_MAX 64      /* loop iterations after one slice, at most */
#define CLOSE_MAX 256      /* loop iterations for a session to close after EOF, at most */

static struct {
    uv_loop_t loop;
    pgr_runtime_t rt;
    pgr_auth_secret_t secret;
    uv_pipe_t listener;
    char dir[64];
    struct sockaddr_un addr;
} F;

static void
die(const char *what)
{
    fprintf(stderr, "fuzz_session: %s\n", what);
    abort();
}

static void
connection_cb(uv_stream_t *server, int status)
{
    if (status == 0)
        pgr_client_accept(&F.rt, server);
}

static void
explain_route(pgr_runtime_t *rt, const char *sql, size_t len, char *out, size_t cap)
{
    (void)rt;
    (void)sql;
    (void)len;
    snprintf(out, cap, "fuzz");
}

/* At exit (libFuzzer's -runs / -max_total_time end with exit()): the socket and its
 * directory go, so CI runs leave nothing in /tmp. */
static void
remove_dir(void)
{
    unlink(F.addr.sun_path);
    rmdir(F.dir);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write the hba file");
}

/* Both nodes unhealthy (their sockets do not exist), within 5 s of loop time. */
static void
wait_unhealthy(void)
{
    static const char *const ids[] = { "pg1", "pg2" };

    for (int i = 0; i < 5000; i++) {
        int down = 0;
        for (size_t k = 0; k < PGR_ARRAY_LEN(ids); k++) {
            pgr_health_t h;
            if (pgr_cluster_get_health(F.rt.cluster, ids[k], &h) == 0 &&
                h.state == PGR_NODE_UNHEALTHY)
                down++;
        }
        if (down == (int)PGR_ARRAY_LEN(ids))
            return;
        uv_run(&F.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    die("the nodes were not marked unhealthy");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char hba[128], yaml[2048], err[256] = "";
    pgr_config_errors_t errs = { 0 };
    pgr_config_t *cfg = NULL;

    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    snprintf(F.dir, sizeof(F.dir), "/tmp/pgr-fuzz-session-XXXXXX");
    if (mkdtemp(F.dir) == NULL)
        die("mkdtemp");
    snprintf(hba, sizeof(hba), "%s/hba.conf", F.dir);
    write_file(hba, "local all trusty trust\n"
                    "local all clear password\n"
                    "local all md5u md5\n"
                    "local all app scram-sha-256\n"
                    "local all nobody reject\n");
    snprintf(yaml, sizeof(yaml),
             "listen: {host: 127.0.0.1, port: 6432}\n"
             "tls: {mode: disable}\n"
             "auth:\n"
             "  method: scram-sha-256\n"
             "  users:\n"
             "    - {name: app, password: secret}\n"
             "    - {name: trusty, password: secret}\n"
             "    - {name: clear, password: secret}\n"
             "    - {name: md5u, password: secret}\n"
             "  hba_file: %s\n"
             "admin: {users: []}\n"
             "pool: {mode: transaction, connect_timeout: 1s, acquire_timeout: 1s}\n"
             "health: {interval: 1h, timeout: 1s, unhealthy_threshold: 1,\n"
             "         backoff: {initial: 1h, max: 1h, jitter: 0}}\n"
             "log: {level: error}\n"
             "nodes:\n"
             "  - {id: pg1, host: %s/none, port: 5432, role: primary, ssl: {mode: disable}}\n"
             "  - {id: pg2, host: %s/none, port: 5433, role: replica, ssl: {mode: disable}}\n",
             hba, F.dir, F.dir);
    if (pgr_config_load_string("fuzz.yaml", yaml, strlen(yaml), &cfg, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        die("the config does not load");
    }
    pgr_config_errors_free(&errs);
    /* Quiet: a line per input would slow the run. FUZZ_SESSION_LOG=1 shows the sessions. */
    pgr_log_setup(getenv("FUZZ_SESSION_LOG") ? PGR_LOG_DEBUG : PGR_LOG_FATAL, 0, stderr);

    if (uv_loop_init(&F.loop) != 0)
        die("uv_loop_init");
    pgr_runtime_t *rt = &F.rt;
    rt->loop = &F.loop;
    rt->cfg = cfg;
    pgr_list_init(&rt->clients);
    if (pgr_auth_secret_init(&F.secret, true) != 0)
        die("pgr_auth_secret_init");
    rt->auth_secret = &F.secret;
    if ((rt->dbauth = pgr_dbauth_new()) == NULL)
        die("pgr_dbauth_new");
    if (pgr_cluster_new(&F.loop, cfg, NULL, &rt->cluster, err, sizeof(err)) != 0)
        die(err);
    if (pgr_classifier_new(cfg->routing.classify_cache_size,
                           (const char *const *)cfg->routing.write_functions,
                           cfg->routing.n_write_functions, &rt->classifier) != 0 ||
        pgr_router_new(rt->cluster, cfg, &rt->router) != 0)
        die("the router");
    rt->explain_route = explain_route;
    pgr_admin_install(rt);
    if (pgr_admin_events_start(rt) != 0 || pgr_login_events_start(rt) != 0)
        die("events");

    F.addr.sun_family = AF_UNIX;
    snprintf(F.addr.sun_path, sizeof(F.addr.sun_path), "%s/s", F.dir);
    if (uv_pipe_init(&F.loop, &F.listener, 0) != 0 ||
        uv_pipe_bind(&F.listener, F.addr.sun_path) != 0 ||
        uv_listen((uv_stream_t *)&F.listener, 16, connection_cb) != 0)
        die("the listener");
    atexit(remove_dir);
    unlink(hba); /* read by the config load */
    wait_unhealthy();
    return 0;
}

/* Read and drop what pgrouter sent; true if anything came (or the peer closed). */
static bool
drain(int fd, bool *eof)
{
    uint8_t buf[16384];
    bool got = false;

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            got = true;
            continue;
        }
        if (n == 0 && !*eof) {
            *eof = true;
            got = true;
        }
        return got;
    }
}

/* Run the loop until two iterations in a row bring no output, at most SETTLE_MAX. */
static void
settle(int fd, bool *eof)
{
    int quiet = 0;

    for (int i = 0; i < SETTLE_MAX && quiet < 2; i++) {
        uv_run(&F.loop, UV_RUN_NOWAIT);
        quiet = drain(fd, eof) ? 0 : quiet + 1;
    }
}

/* Write one slice; false when pgrouter no longer takes input (closed, or not reading). */
static bool
put(int fd, const uint8_t *p, size_t n, bool *eof)
{
    for (int tries = 0; n > 0 && tries < SETTLE_MAX; tries++) {
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false;
        settle(fd, eof);
    }
    return n == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t accepted = F.rt.stats.clients_accepted;
    bool eof = false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&F.addr, sizeof(F.addr)) != 0)
        die("connect");
    for (int i = 0; i < CLOSE_MAX && F.rt.stats.clients_accepted == accepted; i++)
        uv_run(&F.loop, UV_RUN_NOWAIT);
    if (F.rt.stats.clients_accepted == accepted || F.rt.n_clients != 1)
        die("the session was not accepted");

    size_t off = 0;
    while (off < size && !eof) {
        size_t n = data[off++];
        if (n > size - off)
            n = size - off;
        if (!put(fd, data + off, n, &eof))
            break;
        off += n;
        settle(fd, &eof);
    }

    /* The client goes away; the session must close and free itself. */
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < CLOSE_MAX && F.rt.n_clients > 0; i++) {
        uv_run(&F.loop, UV_RUN_NOWAIT);
        drain(fd, &eof);
    }
    close(fd);
    if (F.rt.n_clients > 0)
        die("a session did not close after its client's EOF");
    /* The close callbacks that free it. */
    for (int i = 0; i < 4; i++)
        uv_run(&F.loop, UV_RUN_NOWAIT);
    return 0;
}

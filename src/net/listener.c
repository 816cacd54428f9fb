/* listener: open the configured listening sockets, hand waiting connections to the session,
 * pause and resume, and back off for PGR_LISTEN_EMFILE_PAUSE_MS when file descriptors run out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "core/log.h"
#include "net/listener.h"

/* One listening socket. held: libuv has accepted a connection on it that accept_cb has not
 * taken yet (we are paused or out of fds); libuv stops watching the socket meanwhile, so further
 * clients wait in the kernel backlog rather than being accepted and dropped. */
typedef struct lsock {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    pgr_listener_t *l;
    bool held;
    bool dead;  /* closed early (an optional address the host lacks) */
    bool owns_file; /* a Unix socket we created: name is its path, unlinked at close */
    char name[120];
} lsock_t;

struct pgr_listener {
    uv_loop_t *loop;
    pgr_listener_accept_cb accept_cb;
    void *arg;
    pgr_listener_close_cb close_cb;
    uv_timer_t timer;        /* EMFILE back-off and deferred resume */
    lsock_t *socks;          /* fixed array: handles inside must not move */
    size_t n_socks, max_socks;
    size_t open_handles;     /* initialised handles whose close callback has not run */
    int port;                /* bound TCP port; 0 until known */
    bool has_tcp;
    char *unix_path;         /* set once we created the socket file */
    bool paused, in_emfile, closing;
    pgr_listener_stats_t stats;
};

static void handle_close_cb(uv_handle_t *h);
static void timer_cb(uv_timer_t *t);

/* ---- accepting -------------------------------------------------------------------------- */

/* Whether one more descriptor can be opened; an accept would fail with EMFILE/ENFILE if not. */
static bool
fd_headroom(lsock_t *s)
{
    uv_os_fd_t fd;
    int probe;

    if (uv_fileno(&s->h.handle, &fd) != 0)
        return true;
    probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (probe < 0)
        return !(errno == EMFILE || errno == ENFILE);
    close(probe);
    return true;
}

static void
emfile_begin(pgr_listener_t *l, lsock_t *s)
{
    if (!l->in_emfile) {
        l->in_emfile = true;
        l->stats.emfile_pauses++;
        pgr_warn("listener", "out of file descriptors: accepts on %s wait %d ms at a time "
                 "until some are free", s->name, PGR_LISTEN_EMFILE_PAUSE_MS);
    }
    if (!uv_is_active((uv_handle_t *)&l->timer))
        uv_timer_start(&l->timer, timer_cb, PGR_LISTEN_EMFILE_PAUSE_MS, 0);
}

/* Hand s's waiting connection to accept_cb unless paused or out of descriptors. */
static void
dispatch(pgr_listener_t *l, lsock_t *s)
{
    if (l->paused || l->closing || !s->held)
        return;
    if (!fd_headroom(s)) {
        emfile_begin(l, s);
        return;
    }
    s->held = false;
    l->stats.accepted++;
    l->accept_cb(l, &s->h.stream, l->arg);
}

static void
connection_cb(uv_stream_t *server, int status)
{
    lsock_t *s = pgr_container_of(server, lsock_t, h.stream);
    pgr_listener_t *l = s->l;

    if (status < 0) {
        /* libuv absorbs EAGAIN, ECONNABORTED and (with its spare descriptor) EMFILE itself. */
        pgr_warn_rl("listener", "accept on %s: %s", s->name, uv_strerror(status));
        return;
    }
    s->held = true;
    dispatch(l, s);
}

static void
timer_cb(uv_timer_t *t)
{
    pgr_listener_t *l = t->data;
    bool waiting = false;

    for (size_t i = 0; i < l->n_socks; i++) {
        if (l->paused || l->closing)
            return;
        dispatch(l, &l->socks[i]);
        waiting |= l->socks[i].held;
    }
    if (!waiting && l->in_emfile && !l->closing) {
        l->in_emfile = false;
        pgr_info("listener", "file descriptors available again: accepting");
    }
}

void
pgr_listener_pause(pgr_listener_t *l)
{
    l->paused = true;
}

void
pgr_listener_resume(pgr_listener_t *l)
{
    if (!l->paused || l->closing)
        return;
    l->paused = false;
    /* Connections held while paused are handed out from the loop, not from inside resume. */
    if (!uv_is_active((uv_handle_t *)&l->timer))
        uv_timer_start(&l->timer, timer_cb, 0, 0);
}

/* ---- opening ---------------------------------------------------------------------------- */

static int
map_uv_err(int rc)
{
    switch (rc) {
    case UV_EADDRINUSE:
        return PGR_EBUSY;
    case UV_EADDRNOTAVAIL:
    case UV_EAFNOSUPPORT:
    case UV_EINVAL:
        return PGR_EINVAL;
    case UV_ENOMEM:
        return PGR_ENOMEM;
    default:
        return PGR_EIO;
    }
}

/* A new slot with an initialised-later handle; counted in open_handles by the caller once the
 * uv_*_init succeeded. */
static lsock_t *
new_sock(pgr_listener_t *l)
{
    lsock_t *s;

    pgr_assert(l->n_socks < l->max_socks);
    s = &l->socks[l->n_socks];
    memset(s, 0, sizeof(*s));
    s->l = l;
    return s;
}

/* SO_REUSEPORT on s's socket, before the bind: processes that all set it share the address and
 * the kernel spreads new connections over them. */
static int
set_reuseport(lsock_t *s)
{
    uv_os_fd_t fd;
    int one = 1;

    if (uv_fileno(&s->h.handle, &fd) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        pgr_error("listener", "cannot set SO_REUSEPORT on %s: %s", s->name, strerror(errno));
        return PGR_EIO;
    }
    return 0;
}

/* Listen on one numeric address and port (the listen: port, or a peers entry's). optional: an
 * address family or address the host lacks is skipped with a warning (the IPv6 half of "*" and
 * "localhost"). reuseport: share the address with other processes (listen.reuseport). */
static int
open_tcp(pgr_listener_t *l, const char *addr, int port, const char *cfg_host, bool optional,
         bool reuseport)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    bool v6 = strchr(addr, ':') != NULL;
    bool main_port = port == l->port;
    lsock_t *s;
    int rc;

    memset(&ss, 0, sizeof(ss));
    rc = v6 ? uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss)
            : uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss);
    if (rc != 0) {
        pgr_error("listener", "listen.hosts: \"%s\" is not a numeric IPv4 or IPv6 address, "
                  "\"*\" or \"localhost\"", cfg_host);
        return PGR_EINVAL;
    }
    s = new_sock(l);
    snprintf(s->name, sizeof(s->name), v6 ? "[%s]:%d" : "%s:%d", addr, port);
    /* With the family given, libuv creates the socket now, so options can precede the bind. */
    rc = uv_tcp_init_ex(l->loop, &s->h.tcp, v6 ? AF_INET6 : AF_INET);
    if (rc != 0 && optional && rc == UV_EAFNOSUPPORT) {
        pgr_warn("listener", "not listening on %s (from \"%s\"): %s", s->name, cfg_host,
                 uv_strerror(rc));
        return 0; /* the slot stays free: n_socks was not advanced */
    }
    if (rc != 0)
        return map_uv_err(rc);
    s->h.handle.data = l;
    l->n_socks++;
    l->open_handles++;
    if (reuseport && (rc = set_reuseport(s)) != 0)
        return rc;
    /* libuv sets SO_REUSEADDR; IPv6 sockets are v6-only so "*" can also bind 0.0.0.0. */
    rc = uv_tcp_bind(&s->h.tcp, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0)
        rc = uv_listen(&s->h.stream, PGR_LISTEN_BACKLOG, connection_cb);
    if (rc != 0) {
        if (optional && (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL)) {
            pgr_warn("listener", "not listening on %s (from \"%s\"): %s", s->name, cfg_host,
                     uv_strerror(rc));
            s->dead = true;
            uv_close(&s->h.handle, handle_close_cb);
            return 0;
        }
        pgr_error("listener", "cannot listen on %s: %s", s->name, uv_strerror(rc));
        return map_uv_err(rc);
    }
    if (main_port && l->port == 0) {
        if (uv_tcp_getsockname(&s->h.tcp, (struct sockaddr *)&ss, &len) == 0)
            l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
        snprintf(s->name, sizeof(s->name), v6 ? "[%s]:%d" : "%s:%d", addr, l->port);
    }
    l->has_tcp = true;
    pgr_info("listener", "listening on %s", s->name);
    return 0;
}

static int
open_host(pgr_listener_t *l, const char *host, bool reuseport)
{
    int rc;

    if (strcmp(host, "*") == 0) {
        rc = open_tcp(l, "0.0.0.0", l->port, host, false, reuseport);
        return rc ? rc : open_tcp(l, "::", l->port, host, true, reuseport);
    }
    if (strcmp(host, "localhost") == 0) {
        rc = open_tcp(l, "127.0.0.1", l->port, host, false, reuseport);
        return rc ? rc : open_tcp(l, "::1", l->port, host, true, reuseport);
    }
    return open_tcp(l, host, l->port, host, false, reuseport);
}

/* A socket file already at path: remove it only if nothing accepts connections on it. */
static int
clear_stale_socket(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        pgr_error("listener", "cannot listen on %s: the path exists and is not a socket", path);
        return PGR_EEXIST;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pgr_error("listener", "cannot probe %s: %s", path, strerror(errno));
        return PGR_EIO;
    }
    /* A non-blocking connect on a Unix socket answers at once: refused means stale. */
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc != 0 && errno == ECONNREFUSED) {
        close(fd);
        if (unlink(path) != 0 && errno != ENOENT) {
            pgr_error("listener", "cannot remove stale socket %s: %s", path, strerror(errno));
            return PGR_EIO;
        }
        pgr_info("listener", "removed stale socket %s", path);
        return 0;
    }
    close(fd);
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
        pgr_error("listener", "cannot listen on %s: another server is listening on it", path);
        return PGR_EBUSY;
    }
    return 0; /* vanished meanwhile, or unreadable: let bind report it */
}

/* The Unix socket dir/.s.PGSQL.port (listen.unix_socket_dir, or this instance's peers entry;
 * key names the setting in messages). */
static int
open_unix(pgr_listener_t *l, const char *dir, int port, const char *key)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int n, rc;
    lsock_t *s;

    n = snprintf(path, sizeof(path), "%s/.s.PGSQL.%d", dir, port);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        pgr_error("listener", "%s: \"%s/.s.PGSQL.%d\" is longer than the %zu bytes a Unix "
                  "socket path may have", key, dir, port, sizeof(path) - 1);
        return PGR_EINVAL;
    }
    rc = clear_stale_socket(path);
    if (rc != 0)
        return rc;
    s = new_sock(l);
    snprintf(s->name, sizeof(s->name), "%s", path);
    rc = uv_pipe_init(l->loop, &s->h.pipe, 0);
    if (rc != 0)
        return map_uv_err(rc);
    s->h.handle.data = l;
    l->n_socks++;
    l->open_handles++;
    rc = uv_pipe_bind(&s->h.pipe, path);
    if (rc != 0) {
        pgr_error("listener", "cannot listen on %s: %s", path, uv_strerror(rc));
        return map_uv_err(rc);
    }
    s->owns_file = true;
    if (l->unix_path == NULL && (l->unix_path = strdup(path)) == NULL)
        return PGR_ENOMEM;
    if (chmod(path, 0777) != 0) {
        pgr_error("listener", "cannot chmod 0777 %s: %s", path, strerror(errno));
        return PGR_EIO;
    }
    rc = uv_listen(&s->h.stream, PGR_LISTEN_BACKLOG, connection_cb);
    if (rc != 0) {
        pgr_error("listener", "cannot listen on %s: %s", path, uv_strerror(rc));
        return map_uv_err(rc);
    }
    pgr_info("listener", "listening on %s", path);
    return 0;
}

int
pgr_listener_start(uv_loop_t *loop, const pgr_config_t *cfg, pgr_listener_accept_cb accept_cb,
                   void *arg, pgr_listener_t **out)
{
    pgr_listener_t *l;
    int rc;

    *out = NULL;
    if (cfg->listen.port < 0 || cfg->listen.port > 65535)
        return PGR_EINVAL;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return PGR_ENOMEM;
    l->loop = loop;
    l->accept_cb = accept_cb;
    l->arg = arg;
    l->port = cfg->listen.port;
    l->max_socks = 2 * cfg->listen.n_hosts + 2;
    l->socks = calloc(l->max_socks, sizeof(*l->socks));
    if (l->socks == NULL) {
        free(l);
        return PGR_ENOMEM;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    l->open_handles = 1;

    for (size_t i = 0; i < cfg->listen.n_hosts; i++) {
        rc = open_host(l, cfg->listen.hosts[i], cfg->listen.reuseport);
        if (rc != 0)
            goto fail;
    }
    if (cfg->listen.unix_socket_dir != NULL) {
        if (l->port == 0) {
            pgr_error("listener", "listen.port 0 needs a TCP host to choose the Unix socket name");
            rc = PGR_EINVAL;
            goto fail;
        }
        rc = open_unix(l, cfg->listen.unix_socket_dir, l->port, "listen.unix_socket_dir");
        if (rc != 0)
            goto fail;
    }
    /* This instance's own peers entry: the address its peers forward cancels to, never shared. */
    const pgr_peer_config_t *own = pgr_config_find_peer(cfg, cfg->instance.id);
    if (own != NULL) {
        if (own->host[0] == '/')
            rc = open_unix(l, own->host, own->port, "peers");
        else
            rc = open_tcp(l, own->host, own->port, own->host, false, false);
        if (rc != 0)
            goto fail;
    }
    if (pgr_listener_stats(l).n_sockets == 0) {
        pgr_error("listener", "no listening socket: listen.hosts is empty and no unix_socket_dir");
        rc = PGR_EINVAL;
        goto fail;
    }
    *out = l;
    return 0;

fail:
    /* Every handle closes on the loop; the last close frees l without calling anyone. */
    pgr_listener_close(l, NULL);
    return rc;
}

/* ---- closing ---------------------------------------------------------------------------- */

static void
handle_close_cb(uv_handle_t *h)
{
    pgr_listener_t *l = h->data;

    pgr_assert(l->open_handles > 0);
    if (--l->open_handles > 0 || !l->closing)
        return;
    if (l->close_cb != NULL)
        l->close_cb(l, l->arg);
    free(l->unix_path);
    free(l->socks);
    free(l);
}

void
pgr_listener_close(pgr_listener_t *l, pgr_listener_close_cb cb)
{
    if (l->closing)
        return;
    l->closing = true;
    l->close_cb = cb;
    for (size_t i = 0; i < l->n_socks; i++) {
        lsock_t *s = &l->socks[i];
        if (s->owns_file && unlink(s->name) != 0 && errno != ENOENT)
            pgr_warn("listener", "cannot remove %s: %s", s->name, strerror(errno));
    }
    for (size_t i = 0; i < l->n_socks; i++) {
        if (!uv_is_closing(&l->socks[i].h.handle))
            uv_close(&l->socks[i].h.handle, handle_close_cb);
    }
    uv_close((uv_handle_t *)&l->timer, handle_close_cb);
}

int
pgr_listener_port(const pgr_listener_t *l)
{
    return l->has_tcp ? l->port : -1;
}

const char *
pgr_listener_unix_path(const pgr_listener_t *l)
{
    return l->unix_path;
}

pgr_listener_stats_t
pgr_listener_stats(const pgr_listener_t *l)
{
    pgr_listener_stats_t st = l->stats;

    st.n_sockets = 0;
    for (size_t i = 0; i < l->n_socks; i++)
        st.n_sockets += !l->socks[i].dead;
    return st;
}

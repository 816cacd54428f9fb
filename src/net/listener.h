/* listener: the listening sockets from `listen:` (TCP on every host, IPv4 and IPv6, plus the
 * Unix socket <unix_socket_dir>/.s.PGSQL.<port>), with pause/resume and an EMFILE back-off
 * that delays accepts instead of dropping or spinning. Accepting the connection itself is
 * the session's, through pgr_conn_accept(). */
#ifndef PGR_NET_LISTENER_H
#define PGR_NET_LISTENER_H

#include <uv.h>

#include "core/base.h"
#include "pgrouter/config.h"

typedef struct pgr_listener pgr_listener_t;

/* A connection is waiting on server. The callee must call pgr_conn_accept(server, ...) once
 * before returning (to refuse a client, accept it and close it): until it does, libuv keeps
 * that socket's accepts stopped. Never called while paused or after pgr_listener_close(). */
typedef void (*pgr_listener_accept_cb)(pgr_listener_t *l, uv_stream_t *server, void *arg);
/* Every handle is closed and the Unix socket file removed; l is freed right after. */
typedef void (*pgr_listener_close_cb)(pgr_listener_t *l, void *arg);

#define PGR_LISTEN_BACKLOG 511
/* How long accepts pause when the process or system is out of file descriptors. */
#define PGR_LISTEN_EMFILE_PAUSE_MS 100

/* Open every cfg->listen.hosts entry on cfg->listen.port: a numeric IPv4 or IPv6 address,
 * "*" (0.0.0.0 and ::) or "localhost" (127.0.0.1 and ::1); an IPv6 wildcard or loopback the
 * host cannot provide is skipped with a warning. Port 0 lets the kernel choose for the first
 * socket and reuses that port for the rest (tests). With listen.unix_socket_dir, also the
 * Unix socket, mode 0777; a stale socket file is removed only if nothing answers on it.
 * listen.reuseport sets SO_REUSEPORT on the listen: TCP sockets (processes share the port).
 * The peers entry whose id is cfg->instance.id is one more socket, TCP or Unix, never shared:
 * the address where the instance's peers send it the cancels for its sessions.
 * Returns 0 with *out set, or PGR_EBUSY (address in use), PGR_EINVAL (bad address, path
 * too long), PGR_EEXIST (path taken by a non-socket), PGR_EIO, PGR_ENOMEM - each logged with
 * the address. On failure nothing stays open (handles finish closing on the loop). cfg is
 * read during the call only. */
int pgr_listener_start(uv_loop_t *loop, const pgr_config_t *cfg, pgr_listener_accept_cb accept_cb,
                       void *arg, pgr_listener_t **out) PGR_MUSTCHECK;

/* Stop handing out connections (they wait in the kernel backlog) / hand them out again.
 * resume calls accept_cb from the loop, not from inside itself. */
void pgr_listener_pause(pgr_listener_t *l);
void pgr_listener_resume(pgr_listener_t *l);

/* Close every handle, unlink the Unix socket; cb (may be NULL) once all are closed, then l is
 * freed. No accept_cb after this call. */
void pgr_listener_close(pgr_listener_t *l, pgr_listener_close_cb cb);

/* The TCP port actually bound (the configured one, or the kernel's choice for port 0), or -1
 * when only a Unix socket is open. */
int pgr_listener_port(const pgr_listener_t *l);
/* The first Unix socket path (listen.unix_socket_dir's, else the own peers entry's), or NULL. */
const char *pgr_listener_unix_path(const pgr_listener_t *l);

typedef struct pgr_listener_stats {
    uint64_t accepted;      /* connections handed to accept_cb */
    uint64_t emfile_pauses; /* bursts of fd exhaustion (one log line each) */
    size_t n_sockets;       /* listening sockets open */
} pgr_listener_stats_t;
pgr_listener_stats_t pgr_listener_stats(const pgr_listener_t *l);

#endif

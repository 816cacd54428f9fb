/* http: a tiny HTTP/1.1 server for monitoring, on admin.http ("host:port") and the runtime's
 * loop: GET /healthz (200 "ok" when at least one node is healthy, else 503), GET /status (JSON:
 * nodes with health and pools, counters), GET /metrics (Prometheus text format 0.0.4). Anything
 * else is 404 (405 for a method other than GET/HEAD). One request per connection (the reply
 * carries Connection: close); a request head over PGR_HTTP_MAX_REQUEST bytes gets 431, one not
 * complete within PGR_HTTP_READ_TIMEOUT_MS gets 408; at most PGR_HTTP_MAX_CONNS connections at
 * once (more are closed at accept). */
#ifndef PGR_OPS_HTTP_H
#define PGR_OPS_HTTP_H

#include "core/base.h"
#include "core/runtime.h"

#define PGR_HTTP_MAX_REQUEST 8192
#define PGR_HTTP_READ_TIMEOUT_MS 5000
#define PGR_HTTP_MAX_CONNS 64

typedef struct pgr_http pgr_http_t;

/* Listen on rt->cfg->admin.http: "ipv4:port", "[ipv6]:port", "localhost:port" (127.0.0.1) or
 * "*:port" (every IPv4 address); port 0 lets the kernel choose (tests). The server lives on
 * rt->loop and reads rt (cluster, clients, counters) while answering. Returns 0 with *out set,
 * PGR_EINVAL (bad address, logged), PGR_EBUSY (address in use, logged), PGR_EIO or
 * PGR_ENOMEM; on failure nothing stays open once the loop has run (handles finish closing). */
int pgr_http_start(pgr_runtime_t *rt, pgr_http_t **out) PGR_MUSTCHECK;
/* The TCP port bound. */
int pgr_http_port(const pgr_http_t *h);
/* Close the listener and every open connection (a reply being written is dropped); h is freed
 * once every handle has closed, so the loop can end. No callback: nothing waits on it. */
void pgr_http_close(pgr_http_t *h);

/* ---- the parts, for tests ----------------------------------------------------------------- */

/* Is buf[0..len) a complete request head (ending in an empty line)? 1 with the method and the
 * path (query string removed) copied, NUL-terminated; 0 when more bytes are needed;
 * PGR_EPROTO when it is not an HTTP/1.x request line or a part does not fit its buffer. */
int pgr_http_parse_request(const char *buf, size_t len, char *method, size_t method_cap,
                           char *path, size_t path_cap);

typedef struct pgr_http_reply {
    int status;                /* 200, 404, 405, 503, ... */
    const char *content_type;  /* static */
    char *body;                /* malloc'd (free it), NUL-terminated */
    size_t body_len;
} pgr_http_reply_t;

/* Answer method + path from rt. 0 with *reply filled, or PGR_ENOMEM. */
int pgr_http_respond(pgr_runtime_t *rt, const char *method, const char *path,
                     pgr_http_reply_t *reply) PGR_MUSTCHECK;

#endif

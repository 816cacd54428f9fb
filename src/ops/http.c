/* The monitoring HTTP server (see http.h): request parsing, the three pages, and the libuv
 * plumbing — one listener, one small object per connection with its socket and its timer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "ops/http.h"
#include "ops/report.h"

/* ---- request parsing ---------------------------------------------------------------------- */

int
pgr_http_parse_request(const char *buf, size_t len, char *method, size_t method_cap, char *path,
                       size_t path_cap)
{
    const char *eol = memchr(buf, '\n', len);

    /* Reject a bad request line as soon as it is complete, without waiting for the rest. */
    if (eol && memchr(buf, ' ', (size_t)(eol - buf)) == NULL)
        return PGR_EPROTO;
    /* The head ends with an empty line (CRLF CRLF; a bare LF LF from lax clients too). */
    if (!memmem(buf, len, "\r\n\r\n", 4) && !memmem(buf, len, "\n\n", 2))
        return 0;
    /* METHOD SP target SP HTTP/1.x */
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp1)
        return PGR_EPROTO;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (!sp2)
        return PGR_EPROTO;
    const char *ver = sp2 + 1;
    size_t vlen = (size_t)(eol - ver);
    if (vlen >= 1 && ver[vlen - 1] == '\r')
        vlen--;
    if (vlen != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1'))
        return PGR_EPROTO;
    size_t mlen = (size_t)(sp1 - buf), plen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', plen);
    if (q)
        plen = (size_t)(q - target);
    if (mlen == 0 || mlen >= method_cap || plen == 0 || plen >= path_cap)
        return PGR_EPROTO;
    for (size_t i = 0; i < mlen; i++)
        if (buf[i] < 'A' || buf[i] > 'Z')
            return PGR_EPROTO;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7f)
            return PGR_EPROTO;
    memcpy(method, buf, mlen);
    method[mlen] = '\0';
    memcpy(path, target, plen);
    path[plen] = '\0';
    return 1;
}

/* ---- pages -------------------------------------------------------------------------------- */

static const char *
role_reported(const pgr_report_node_t *n)
{
    return !pgr_report_health_current(n) || n->health.role == PGR_ROLE_AUTO
               ? NULL : pgr_role_name(n->health.role);
}

/* A number in its shortest exact form, or null. */
static void
json_opt_num(FILE *f, bool known, double v)
{
    char buf[40];
    if (!known) {
        fputs("null", f);
        return;
    }
    pgr_report_double(v, buf, sizeof(buf));
    fputs(buf, f);
}

static void
json_opt_str(FILE *f, const char *s)
{
    if (s)
        pgr_report_json_str(f, s);
    else
        fputs("null", f);
}

static void
page_status(pgr_runtime_t *rt, const pgr_report_nodes_t *nodes, FILE *f)
{
    fprintf(f, "{\"version\":\"%s\",\"shutting_down\":%s,\"clients\":%zu,\"healthy_nodes\":%zu,"
            "\"nodes\":[", PGR_VERSION, rt->shutting_down ? "true" : "false", rt->n_clients,
            nodes->n_healthy);
    for (size_t i = 0; i < nodes->n; i++) {
        const pgr_report_node_t *n = &nodes->v[i];
        const pgr_health_t *h = &n->health;
        const pgr_pool_stats_t *p = &n->pool;
        char lsn[32];
        pgr_report_lsn(h->lsn, lsn, sizeof(lsn));
        fputs(i ? ",{\"id\":" : "{\"id\":", f);
        pgr_report_json_str(f, n->info.id);
        fputs(",\"host\":", f);
        pgr_report_json_str(f, n->info.host);
        fprintf(f, ",\"port\":%d,\"role_configured\":\"%s\",\"role_reported\":", n->info.port,
                pgr_role_name(n->info.role));
        json_opt_str(f, role_reported(n));
        /* Role, latency, lag and LSN only while healthy; else unknown (null). */
        bool now = pgr_report_health_current(n);
        char at[40];
        pgr_report_time(h->last_error_ms, at, sizeof(at));
        fprintf(f, ",\"state\":\"%s\",\"healthy\":%s,\"weight\":%d,\"latency_ms\":",
                n->has_health ? pgr_node_state_name(h->state) : "unknown",
                n->has_health && h->state == PGR_NODE_HEALTHY ? "true" : "false",
                n->info.weight);
        json_opt_num(f, now, (double)h->latency_us / 1000.0);
        fputs(",\"lag_s\":", f);
        json_opt_num(f, now, h->lag_s);
        fputs(",\"lsn\":", f);
        json_opt_str(f, now && h->lsn ? lsn : NULL);
        fprintf(f, ",\"consecutive_failures\":%d,\"checks\":%llu,\"failures\":%llu,"
                "\"last_error\":", h->consecutive_failures, (unsigned long long)h->checks,
                (unsigned long long)h->failures);
        json_opt_str(f, h->last_error[0] ? h->last_error : NULL);
        fputs(",\"last_error_at\":", f);
        json_opt_str(f, h->last_error[0] && h->last_error_ms > 0 ? at : NULL);
        fprintf(f, ",\"pool\":{\"total\":%d,\"idle\":%d,\"active\":%d,\"connecting\":%d,"
                "\"waiting\":%d,\"max\":%d,\"acquired\":%llu,\"timed_out\":%llu,"
                "\"connect_failures\":%llu}}", p->total, p->idle, p->active, p->connecting,
                p->waiting, p->max, (unsigned long long)p->acquired,
                (unsigned long long)p->timed_out, (unsigned long long)p->connect_failures);
    }
    fputs("],\"stats\":{", f);
    const char *sep = "";
#define PGR_STATS_JSON(name, help)                                                            \
    fprintf(f, "%s\"" #name "\":%llu", sep, (unsigned long long)rt->stats.name);             \
    sep = ",";
    PGR_REPORT_STATS(PGR_STATS_JSON)
#undef PGR_STATS_JSON
    fputs("}}\n", f);
}

/* One metric family: # HELP, # TYPE, then one sample per node from a field of the report. */
typedef enum { F_UP, F_LATENCY, F_LAG, F_FAILS, F_CHECKS, F_CHECK_FAILURES, F_WEIGHT, F_TOTAL,
               F_IDLE, F_ACTIVE, F_CONNECTING, F_WAITING, F_MAX, F_ACQUIRED, F_TIMED_OUT,
               F_CONNECT_FAILURES } node_field_t;

static double
node_value(const pgr_report_node_t *n, node_field_t fld)
{
    const pgr_health_t *h = &n->health;
    const pgr_pool_stats_t *p = &n->pool;
    switch (fld) {
    case F_UP: return n->has_health && h->state == PGR_NODE_HEALTHY ? 1 : 0;
    case F_LATENCY: return (double)h->latency_us / 1e6;
    case F_LAG: return h->lag_s;
    case F_FAILS: return h->consecutive_failures;
    case F_CHECKS: return (double)h->checks;
    case F_CHECK_FAILURES: return (double)h->failures;
    case F_WEIGHT: return n->info.weight;
    case F_TOTAL: return p->total;
    case F_IDLE: return p->idle;
    case F_ACTIVE: return p->active;
    case F_CONNECTING: return p->connecting;
    case F_WAITING: return p->waiting;
    case F_MAX: return p->max;
    case F_ACQUIRED: return (double)p->acquired;
    case F_TIMED_OUT: return (double)p->timed_out;
    case F_CONNECT_FAILURES: return (double)p->connect_failures;
    }
    return 0;
}

static void
page_metrics(pgr_runtime_t *rt, const pgr_report_nodes_t *nodes, FILE *f)
{
    static const struct {
        const char *name, *type, *help;
        node_field_t fld;
    } fams[] = {
        { "node_up", "gauge", "1 when the node is healthy, else 0", F_UP },
        { "node_latency_seconds", "gauge",
          "round trip of the last health check (healthy nodes only)", F_LATENCY },
        { "node_lag_seconds", "gauge", "replication lag a replica reports (healthy nodes only)",
          F_LAG },
        { "node_consecutive_failures", "gauge", "health checks failed in a row", F_FAILS },
        { "node_health_checks_total", "counter", "health checks run", F_CHECKS },
        { "node_health_check_failures_total", "counter", "health checks failed",
          F_CHECK_FAILURES },
        { "node_weight", "gauge", "configured balancing weight", F_WEIGHT },
        { "pool_connections", "gauge", "server connections open (all states)", F_TOTAL },
        { "pool_idle", "gauge", "server connections idle in the pool", F_IDLE },
        { "pool_active", "gauge", "server connections lent to sessions", F_ACTIVE },
        { "pool_connecting", "gauge", "server connections being opened", F_CONNECTING },
        { "pool_waiting", "gauge", "sessions waiting for a server connection", F_WAITING },
        { "pool_max", "gauge", "pool.max_size per (user, database) pool", F_MAX },
        { "pool_acquired_total", "counter", "server connections handed to sessions",
          F_ACQUIRED },
        { "pool_timed_out_total", "counter", "acquires that hit pool.acquire_timeout",
          F_TIMED_OUT },
        { "pool_connect_failures_total", "counter", "failed server connection attempts",
          F_CONNECT_FAILURES },
    };

    fprintf(f, "# HELP pgrouter_clients client sessions open\n# TYPE pgrouter_clients gauge\n"
            "pgrouter_clients %zu\n", rt->n_clients);
    fprintf(f, "# HELP pgrouter_shutting_down 1 while pgrouter shuts down\n"
            "# TYPE pgrouter_shutting_down gauge\npgrouter_shutting_down %d\n",
            rt->shutting_down ? 1 : 0);
    fprintf(f, "# HELP pgrouter_nodes nodes known to the cluster\n# TYPE pgrouter_nodes gauge\n"
            "pgrouter_nodes %zu\n", nodes->n);
    fprintf(f, "# HELP pgrouter_nodes_healthy nodes now healthy\n"
            "# TYPE pgrouter_nodes_healthy gauge\npgrouter_nodes_healthy %zu\n",
            nodes->n_healthy);
    for (size_t k = 0; k < PGR_ARRAY_LEN(fams); k++) {
        fprintf(f, "# HELP pgrouter_%s %s\n# TYPE pgrouter_%s %s\n", fams[k].name,
                fams[k].help, fams[k].name, fams[k].type);
        for (size_t i = 0; i < nodes->n; i++) {
            char v[40];
            /* Latency and lag describe a node only while it is healthy: no sample else. */
            if ((fams[k].fld == F_LATENCY || fams[k].fld == F_LAG) &&
                !pgr_report_health_current(&nodes->v[i]))
                continue;
            pgr_report_double(node_value(&nodes->v[i], fams[k].fld), v, sizeof(v));
            fprintf(f, "pgrouter_%s{node=\"", fams[k].name);
            pgr_report_label(f, nodes->v[i].info.id);
            fprintf(f, "\"} %s\n", v);
        }
    }
#define PGR_STATS_PROM(name, help)                                                            \
    fprintf(f, "# HELP pgrouter_" #name "_total " help "\n# TYPE pgrouter_" #name            \
            "_total counter\npgrouter_" #name "_total %llu\n",                                \
            (unsigned long long)rt->stats.name);
    PGR_REPORT_STATS(PGR_STATS_PROM)
#undef PGR_STATS_PROM
}

int
pgr_http_respond(pgr_runtime_t *rt, const char *method, const char *path,
                 pgr_http_reply_t *reply)
{
    pgr_report_nodes_t nodes;
    char *body = NULL;
    size_t len = 0;
    FILE *f;

    memset(reply, 0, sizeof(*reply));
    reply->content_type = "text/plain; charset=utf-8";
    if (pgr_report_nodes(rt, &nodes) != 0)
        return PGR_ENOMEM;
    if (!(f = open_memstream(&body, &len))) {
        pgr_report_nodes_free(&nodes);
        return PGR_ENOMEM;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!get) {
        reply->status = 405;
        fputs("method not allowed: use GET\n", f);
    } else if (strcmp(path, "/healthz") == 0) {
        reply->status = nodes.n_healthy > 0 && !rt->shutting_down ? 200 : 503;
        fputs(rt->shutting_down ? "shutting down\n" : nodes.n_healthy > 0 ? "ok\n"
                                                                          : "no healthy node\n",
              f);
    } else if (strcmp(path, "/status") == 0) {
        reply->status = 200;
        reply->content_type = "application/json";
        page_status(rt, &nodes, f);
    } else if (strcmp(path, "/metrics") == 0) {
        reply->status = 200;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        page_metrics(rt, &nodes, f);
    } else {
        reply->status = 404;
        fputs("not found: try /healthz, /status or /metrics\n", f);
    }
    pgr_report_nodes_free(&nodes);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed || !body) {
        free(body);
        return PGR_ENOMEM;
    }
    reply->body = body;
    reply->body_len = len;
    return 0;
}

/* ---- the server --------------------------------------------------------------------------- */

struct pgr_http {
    pgr_runtime_t *rt;
    uv_tcp_t tcp;
    pgr_list_t conns;          /* hconn_t */
    size_t n_conns;
    int port;
    bool closing;
    bool tcp_open;             /* the listener's close callback has not run */
};

typedef enum { H_READING, H_WRITING, H_DRAINING, H_CLOSING } hstate_t;

/* One connection. Freed when both handles have closed (handles == 0). The reply buffer lives
 * until then, which covers the write's lifetime. */
typedef struct hconn {
    pgr_list_t link;           /* in srv->conns */
    pgr_http_t *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;          /* read timeout, then the drain's limit */
    uv_write_t wr;
    uv_shutdown_t sd;
    int handles;
    hstate_t state;
    char *out;
    size_t in_len;
    char in[PGR_HTTP_MAX_REQUEST];
} hconn_t;

static void server_maybe_free(pgr_http_t *srv);

static void
hconn_handle_closed(uv_handle_t *h)
{
    hconn_t *c = h->data;
    if (--c->handles > 0)
        return;
    pgr_http_t *srv = c->srv;
    pgr_list_remove(&c->link);
    srv->n_conns--;
    free(c->out);
    free(c);
    server_maybe_free(srv);
}

static void
hconn_close(hconn_t *c)
{
    if (c->state == H_CLOSING)
        return;
    c->state = H_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, hconn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, hconn_handle_closed);
}

static const char *
status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void drain_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void
drain_timeout_cb(uv_timer_t *t)
{
    hconn_close(t->data);
}

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
    hconn_t *c = req->data;
    if (c->state != H_DRAINING)
        return; /* closed meanwhile */
    if (status != 0) {
        hconn_close(c);
        return;
    }
    /* Our FIN is out. Read whatever the peer still sends until its EOF (closing with unread
     * bytes would send a RST, which may destroy the reply in flight), for at most 1 s. */
    c->in_len = 0;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, drain_read_cb) != 0)
        hconn_close(c);
}

static void
write_cb(uv_write_t *req, int status)
{
    hconn_t *c = req->data;
    if (c->state != H_WRITING)
        return;
    if (status != 0) {
        hconn_close(c);
        return;
    }
    c->state = H_DRAINING;
    c->sd.data = c;
    uv_timer_start(&c->timer, drain_timeout_cb, 1000, 0);
    if (uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, shutdown_cb) != 0)
        hconn_close(c);
}

/* Send the reply (head, and the body unless head_only) and close after it. */
static void
send_reply(hconn_t *c, int status, const char *content_type, const char *body, size_t body_len,
           bool head_only)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    int n = asprintf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%.*s", status,
                     status_text(status), content_type, body_len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     head_only ? 0 : (int)body_len, body);
    if (n < 0) {
        c->out = NULL;
        hconn_close(c);
        return;
    }
    uv_buf_t b = uv_buf_init(c->out, (unsigned)n);
    c->state = H_WRITING;
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0)
        hconn_close(c);
}

static void
send_plain(hconn_t *c, int status, const char *text)
{
    send_reply(c, status, "text/plain; charset=utf-8", text, strlen(text), false);
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    hconn_t *c = h->data;
    (void)suggested;
    if (c->state == H_DRAINING)
        *buf = uv_buf_init(c->in, sizeof(c->in)); /* discarded */
    else
        *buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void
drain_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n < 0)
        hconn_close(s->data);
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    hconn_t *c = s->data;
    char method[16], path[256];
    (void)buf;

    if (c->state != H_READING)
        return;
    if (n < 0) {
        hconn_close(c); /* EOF or error before a whole request: nobody to answer */
        return;
    }
    c->in_len += (size_t)n;
    int rc = pgr_http_parse_request(c->in, c->in_len, method, sizeof(method), path,
                                    sizeof(path));
    if (rc == 0 && c->in_len == sizeof(c->in)) {
        send_plain(c, 431, "request head too large\n");
        return;
    }
    if (rc == 0)
        return;
    if (rc < 0) {
        send_plain(c, 400, "bad request\n");
        return;
    }
    pgr_http_reply_t reply;
    if (pgr_http_respond(c->srv->rt, method, path, &reply) != 0) {
        send_plain(c, 500, "out of memory\n");
        return;
    }
    send_reply(c, reply.status, reply.content_type, reply.body, reply.body_len,
               strcmp(method, "HEAD") == 0);
    free(reply.body);
}

static void
read_timeout_cb(uv_timer_t *t)
{
    hconn_t *c = t->data;
    if (c->state == H_READING)
        send_plain(c, 408, "request timeout\n");
}

static void
accept_cb(uv_stream_t *server, int status)
{
    pgr_http_t *srv = server->data;
    if (status != 0 || srv->closing)
        return;
    hconn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        pgr_warn("http", "out of memory: connection left in the backlog");
        return;
    }
    c->srv = srv;
    c->tcp.data = c->timer.data = c;
    uv_tcp_init(srv->rt->loop, &c->tcp);
    uv_timer_init(srv->rt->loop, &c->timer);
    c->handles = 2;
    pgr_list_push_back(&srv->conns, &c->link);
    srv->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || srv->n_conns > PGR_HTTP_MAX_CONNS) {
        hconn_close(c);
        return;
    }
    c->state = H_READING;
    uv_timer_start(&c->timer, read_timeout_cb, PGR_HTTP_READ_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        hconn_close(c);
}

static void
server_maybe_free(pgr_http_t *srv)
{
    if (srv->closing && !srv->tcp_open && srv->n_conns == 0)
        free(srv);
}

static void
server_closed_cb(uv_handle_t *h)
{
    pgr_http_t *srv = h->data;
    srv->tcp_open = false;
    server_maybe_free(srv);
}

/* "host:port" → a socket address. */
static int
parse_addr(const char *hostport, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = hostport ? strrchr(hostport, ':') : NULL;
    char *end;
    if (!colon || (size_t)(colon - hostport) >= sizeof(host))
        return PGR_EINVAL;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return PGR_EINVAL;
    size_t hl = (size_t)(colon - hostport);
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0
                                                                                : PGR_EINVAL;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0 : PGR_EINVAL;
}

int
pgr_http_start(pgr_runtime_t *rt, pgr_http_t **out)
{
    const char *where = rt->cfg ? rt->cfg->admin.http : NULL;
    struct sockaddr_storage ss;
    int rc;

    *out = NULL;
    memset(&ss, 0, sizeof(ss));
    if (parse_addr(where, &ss) != 0) {
        pgr_error("http", "admin.http: expected host:port, got \"%s\"", where ? where : "");
        return PGR_EINVAL;
    }
    pgr_http_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return PGR_ENOMEM;
    srv->rt = rt;
    pgr_list_init(&srv->conns);
    uv_tcp_init(rt->loop, &srv->tcp);
    srv->tcp.data = srv;
    srv->tcp_open = true;
    if ((rc = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&srv->tcp, 128, accept_cb)) != 0) {
        pgr_error("http", "cannot listen on %s: %s", where, uv_strerror(rc));
        srv->closing = true;
        uv_close((uv_handle_t *)&srv->tcp, server_closed_cb);
        return rc == UV_EADDRINUSE ? PGR_EBUSY : rc == UV_EINVAL || rc == UV_EADDRNOTAVAIL
                                                     ? PGR_EINVAL : PGR_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &blen) == 0)
        srv->port = ntohs(bound.ss_family == AF_INET6
                              ? ((struct sockaddr_in6 *)&bound)->sin6_port
                              : ((struct sockaddr_in *)&bound)->sin_port);
    pgr_info("http", "serving /healthz, /status and /metrics on %s (port %d)", where, srv->port);
    *out = srv;
    return 0;
}

int
pgr_http_port(const pgr_http_t *h)
{
    return h->port;
}

void
pgr_http_close(pgr_http_t *h)
{
    pgr_list_t *pos, *tmp;
    if (!h || h->closing)
        return;
    h->closing = true;
    uv_close((uv_handle_t *)&h->tcp, server_closed_cb);
    pgr_list_foreach_safe(pos, tmp, &h->conns)
        hconn_close(pgr_container_of(pos, hconn_t, link));
}

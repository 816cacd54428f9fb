/* ops/http: request parsing, the three pages from a runtime with a real (unreachable) cluster,
 * and the server itself over loopback: replies, Connection: close, 400/404/405/408/431, and
 * pgr_http_close() leaving no handle behind. */
#include "ops/http.h"
#include "ops/report.h"
#include "../harness.h"
#include "ops_support.h"

TEST(parse_request)
{
    char m[16], p[64];
    static const struct { const char *req; int rc; const char *method, *path; } cases[] = {
        { "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1, "GET", "/healthz" },
        { "GET /metrics?x=1 HTTP/1.0\r\n\r\n", 1, "GET", "/metrics" },
        { "HEAD /status HTTP/1.1\n\n", 1, "HEAD", "/status" },
        { "GET /healthz HTTP/1.1\r\nHost: x\r\n", 0, NULL, NULL },
        { "GET /heal", 0, NULL, NULL },
        { "", 0, NULL, NULL },
        { "garbage\r\n", PGR_EPROTO, NULL, NULL },
        { "GET /x HTTP/2.0\r\n\r\n", PGR_EPROTO, NULL, NULL },
        { "GET /x\r\n\r\n", PGR_EPROTO, NULL, NULL },
        { "get /x HTTP/1.1\r\n\r\n", PGR_EPROTO, NULL, NULL },
        { " /x HTTP/1.1\r\n\r\n", PGR_EPROTO, NULL, NULL },
        { "GET  HTTP/1.1\r\n\r\n", PGR_EPROTO, NULL, NULL },
        { "VERYLONGMETHODNAME /x HTTP/1.1\r\n\r\n", PGR_EPROTO, NULL, NULL },
        { "GET /0123456789012345678901234567890123456789012345678901234567890123456789 "
          "HTTP/1.1\r\n\r\n", PGR_EPROTO, NULL, NULL },
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        int rc = pgr_http_parse_request(cases[i].req, strlen(cases[i].req), m, sizeof(m), p,
                                        sizeof(p));
        if (rc != cases[i].rc)
            printf("# case %zu: %s\n", i, cases[i].req);
        CHECK_INT(rc, cases[i].rc);
        if (rc == 1) {
            CHECK_STR(m, cases[i].method);
            CHECK_STR(p, cases[i].path);
        }
    }
    /* Random bytes never crash it, and a positive answer always has both parts. */
    uint64_t x = 88172645463325252ull;
    char buf[256];
    for (int it = 0; it < 100000; it++) {
        size_t n = (size_t)(x % sizeof(buf));
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = "GET /HTP1.\r\n ?x\0"[x % 16];
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (pgr_http_parse_request(buf, n, m, sizeof(m), p, sizeof(p)) == 1)
            CHECK(m[0] && p[0] == '/' ? 1 : p[0] != '\0');
    }
}

TEST(report_formatters)
{
    char b[32];
    char *s = NULL;
    size_t n = 0;
    pgr_report_lsn(((uint64_t)0x16 << 32) | 0xB374D848u, b, sizeof(b));
    CHECK_STR(b, "16/B374D848");
    pgr_report_lsn(0, b, sizeof(b));
    CHECK_STR(b, "0/0");
    FILE *f = open_memstream(&s, &n);
    pgr_report_json_str(f, "a\"b\\c\nd\x01" "e\xc3\xa9" "f\xff" "g");
    fputc(' ', f);
    pgr_report_label(f, "x\"y\\z\nw");
    fclose(f);
    CHECK_STR(s, "\"a\\\"b\\\\c\\nd\\u0001e\xc3\xa9" "f\\ufffdg\" x\\\"y\\\\z\\nw");
    free(s);
    CHECK(pgr_report_utf8_valid("abc\xc3\xa9", 5));
    CHECK(!pgr_report_utf8_valid("abc\xc3", 4));
    CHECK(!pgr_report_utf8_valid("\xed\xa0\x80", 3));  /* a surrogate */
    CHECK(!pgr_report_utf8_valid("\xc0\xaf", 2));      /* overlong */
    CHECK(!pgr_report_utf8_valid("a\0b", 3));

    /* Numbers: the shortest text that reads back as the same double, never %.17g's tail. */
    static const struct { double v; const char *want; } nums[] = {
        { 0.000277, "0.000277" }, { 0.014745, "0.014745" }, { 0.1, "0.1" }, { 3, "3" },
        { 0, "0" }, { 1e-7, "1e-07" }, { 123456789012, "123456789012" }, { -2.5, "-2.5" },
        { 1.0 / 3.0, "0.3333333333333333" }, { 18446744073709551615.0, "1.8446744073709552e+19" },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        pgr_report_double(nums[i].v, b, sizeof(b));
        CHECK_STR(b, nums[i].want);
        CHECK(strtod(b, NULL) == nums[i].v);
    }
    /* Random doubles round-trip, in at most 17 digits. */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 10000; i++) {
        double d;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(&d, &x, sizeof(d));
        if (d != d || d - d != 0)
            continue; /* NaN, infinities */
        pgr_report_double(d, b, sizeof(b));
        CHECK(strtod(b, NULL) == d);
    }
    pgr_report_double(0.0 / 0.0, b, sizeof(b));
    CHECK_STR(b, "NaN");
    pgr_report_double(-1.0 / 0.0, b, sizeof(b));
    CHECK_STR(b, "-Inf");
    pgr_report_time(INT64_C(1796414625969), b, sizeof(b));
    CHECK_STR(b, "2026-12-04 20:03:45.969+00");
}

static pgr_http_reply_t
get(pgr_runtime_t *rt, const char *method, const char *path)
{
    pgr_http_reply_t r;
    if (pgr_http_respond(rt, method, path, &r) != 0) {
        memset(&r, 0, sizeof(r));
        r.body = strdup("(respond failed)");
    }
    return r;
}

TEST(pages)
{
    ops_env_t e;
    char err[256];
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    rt->stats.queries = 42;
    rt->stats.clients_accepted = 7;
    rt->n_clients = 2;
    /* A UTF-8 id (label and JSON escaping of quotes are checked in report_formatters: node
     * ids cannot hold quotes or backslashes). */
    CHECK_INT(pgr_cluster_add_node_conninfo(rt->cluster, "n\xc5\x93ud", "host=127.0.0.1 port=3",
                                            err, sizeof(err)), 0);

    pgr_http_reply_t r = get(rt, "GET", "/healthz");
    CHECK_INT(r.status, 503);
    CHECK_STR(r.body, "no healthy node\n");
    free(r.body);

    r = get(rt, "GET", "/status");
    CHECK_INT(r.status, 200);
    CHECK_STR(r.content_type, "application/json");
    static const char status_head[] =
        "{\"version\":\"" PGR_VERSION "\",\"shutting_down\":false,\"clients\":2,"
        "\"healthy_nodes\":0,\"nodes\":[{\"id\":\"pg1\",\"host\":\"127.0.0.1\",\"port\":1,"
        "\"role_configured\":\"primary\",\"role_reported\":null,\"state\":\"connecting\","
        "\"healthy\":false,\"weight\":2,\"latency_ms\":null,\"lag_s\":null,\"lsn\":null,"
        "\"consecutive_failures\":0,";
    CHECK(strncmp(r.body, status_head, sizeof(status_head) - 1) == 0);
    CHECK(strstr(r.body, "{\"id\":\"n\xc5\x93ud\",") != NULL);
    CHECK(strstr(r.body, "\"pool\":{\"total\":") != NULL);
    CHECK(strstr(r.body, "\"stats\":{\"clients_accepted\":7,") != NULL);
    CHECK(strstr(r.body, "\"queries\":42,") != NULL);
    CHECK(strstr(r.body, "node-secret") == NULL);
    CHECK(r.body_len == strlen(r.body) && r.body[r.body_len - 1] == '\n');
    free(r.body);

    r = get(rt, "GET", "/metrics");
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.content_type, "version=0.0.4") != NULL);
    CHECK(strstr(r.body, "# TYPE pgrouter_clients gauge\npgrouter_clients 2\n") != NULL);
    CHECK(strstr(r.body, "# TYPE pgrouter_node_up gauge\npgrouter_node_up{node=\"pg1\"} 0\n"
                         "pgrouter_node_up{node=\"pg2\"} 0\n"
                         "pgrouter_node_up{node=\"n\xc5\x93ud\"} 0\n") != NULL);
    CHECK(strstr(r.body, "pgrouter_pool_idle{node=\"pg2\"} 0\n") != NULL);
    CHECK(strstr(r.body, "# TYPE pgrouter_pool_acquired_total counter\n") != NULL);
    CHECK(strstr(r.body, "# TYPE pgrouter_queries_total counter\npgrouter_queries_total 42\n"));
    CHECK(strstr(r.body, "pgrouter_clients_accepted_total 7\n") != NULL);
    CHECK(strstr(r.body, "pgrouter_nodes 3\n") != NULL);
    /* No node is healthy: no latency or lag sample (not the last good check's). */
    CHECK(strstr(r.body, "pgrouter_node_latency_seconds{") == NULL);
    CHECK(strstr(r.body, "pgrouter_node_lag_seconds{") == NULL);
    CHECK(strstr(r.body, "# TYPE pgrouter_node_latency_seconds gauge\n") != NULL);
    /* Each family's HELP and TYPE appear once. */
    char *first = strstr(r.body, "# TYPE pgrouter_node_up ");
    CHECK(first && strstr(first + 1, "# TYPE pgrouter_node_up ") == NULL);
    free(r.body);

    r = get(rt, "GET", "/nope");
    CHECK_INT(r.status, 404);
    free(r.body);
    r = get(rt, "POST", "/healthz");
    CHECK_INT(r.status, 405);
    free(r.body);

    rt->shutting_down = true;
    r = get(rt, "GET", "/healthz");
    CHECK_INT(r.status, 503);
    CHECK_STR(r.body, "shutting down\n");
    free(r.body);
    rt->shutting_down = false;
    rt->n_clients = 0;
    ops_env_free(&e);
}

/* ---- over loopback ------------------------------------------------------------------------ */

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    const char *req;
    size_t req_len;
    char resp[16384];
    size_t resp_len;
    bool done;
} client_t;

static void
c_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    client_t *c = h->data;
    (void)s;
    *b = uv_buf_init(c->resp + c->resp_len, (unsigned)(sizeof(c->resp) - 1 - c->resp_len));
}

static void
c_closed(uv_handle_t *h)
{
    ((client_t *)h->data)->done = true;
}

static void
c_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    client_t *c = s->data;
    (void)b;
    if (n > 0) {
        c->resp_len += (size_t)n;
        c->resp[c->resp_len] = '\0';
    } else if (n < 0) {
        uv_close((uv_handle_t *)&c->tcp, c_closed);
    }
}

static void
c_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void
c_connected(uv_connect_t *req, int status)
{
    client_t *c = req->data;
    if (status != 0) {
        uv_close((uv_handle_t *)&c->tcp, c_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, c_alloc, c_read);
    if (c->req_len) {
        uv_buf_t b = uv_buf_init((char *)c->req, (unsigned)c->req_len);
        uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, c_written);
    }
}

/* Send req (may be partial or empty) to port and collect the reply until the server closes. */
static void
exchange(uv_loop_t *loop, int port, client_t *c, const char *req, size_t len)
{
    struct sockaddr_in a;
    memset(c, 0, sizeof(*c));
    c->req = req;
    c->req_len = len;
    c->tcp.data = c->conn.data = c;
    uv_tcp_init(loop, &c->tcp);
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_connect(&c->conn, &c->tcp, (struct sockaddr *)&a, c_connected);
    for (int i = 0; i < 100000 && !c->done; i++)
        uv_run(loop, UV_RUN_ONCE);
}

TEST(server_loopback)
{
    ops_env_t e;
    pgr_http_t *h = NULL;
    client_t c;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    free(rt->cfg->admin.http);
    rt->cfg->admin.http = strdup("127.0.0.1:0");
    CHECK_INT(pgr_http_start(rt, &h), 0);
    if (!h) {
        ops_env_free(&e);
        return;
    }
    int port = pgr_http_port(h);
    CHECK(port > 0);

    const char *req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    CHECK(strstr(c.resp, "\r\nConnection: close\r\n") != NULL);
    CHECK(strstr(c.resp, "\r\nContent-Length: 16\r\n") != NULL);
    CHECK(strstr(c.resp, "\r\n\r\nno healthy node\n") != NULL);

    req = "GET /metrics HTTP/1.1\r\n\r\n";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(c.resp, "pgrouter_node_up{node=\"pg2\"} 0\n") != NULL);

    req = "HEAD /status HTTP/1.1\r\n\r\n";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(c.resp, "Content-Type: application/json\r\n") != NULL);
    CHECK(c.resp_len > 4 && strcmp(c.resp + c.resp_len - 4, "\r\n\r\n") == 0); /* no body */

    req = "DELETE /status HTTP/1.1\r\n\r\n";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    CHECK(strstr(c.resp, "\r\nAllow: GET, HEAD\r\n") != NULL);

    req = "GET /x HTTP/1.1\r\n\r\n";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 404 ", 13) == 0);

    req = "\x16\x03\x01 binary\r\n\r\n";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 400 ", 13) == 0);

    /* A head that never ends within 8 KiB. */
    static char big[9000];
    memcpy(big, "GET /metrics HTTP/1.1\r\n", 23);
    for (size_t i = 23; i < sizeof(big); i++)
        big[i] = i % 80 == 79 ? '\n' : 'x';
    exchange(&e.loop, port, &c, big, sizeof(big));
    CHECK(strncmp(c.resp, "HTTP/1.1 431 ", 13) == 0);

    /* A request that stops half way: 408 after the read timeout. */
    uint64_t t0 = uv_now(&e.loop);
    req = "GET /metr";
    exchange(&e.loop, port, &c, req, strlen(req));
    CHECK(strncmp(c.resp, "HTTP/1.1 408 ", 13) == 0);
    CHECK(uv_now(&e.loop) - t0 >= PGR_HTTP_READ_TIMEOUT_MS - 10);

    /* Close with a connection open: every handle goes, the client sees EOF. */
    client_t idle;
    memset(&idle, 0, sizeof(idle));
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    idle.tcp.data = idle.conn.data = &idle;
    uv_tcp_init(&e.loop, &idle.tcp);
    uv_tcp_connect(&idle.conn, &idle.tcp, (struct sockaddr *)&a, c_connected);
    for (int i = 0; i < 20; i++)
        uv_run(&e.loop, UV_RUN_NOWAIT);
    pgr_http_close(h);
    for (int i = 0; i < 100000 && !idle.done; i++)
        uv_run(&e.loop, UV_RUN_ONCE);
    CHECK(idle.done);
    CHECK_INT(idle.resp_len, 0);
    ops_env_free(&e); /* fails the test if a handle was left open */
}

TEST(start_errors)
{
    ops_env_t e;
    pgr_http_t *h = NULL, *h2 = NULL;
    OPS_ENV(e);
    pgr_runtime_t *rt = &e.rt;
    static const char *const bad[] = { "nohost", "127.0.0.1:", "127.0.0.1:x", "1.2.3:80",
                                       "[::1:80", "127.0.0.1:70000" };
    for (size_t i = 0; i < PGR_ARRAY_LEN(bad); i++) {
        free(rt->cfg->admin.http);
        rt->cfg->admin.http = strdup(bad[i]);
        CHECK_INT(pgr_http_start(rt, &h), PGR_EINVAL);
        CHECK(h == NULL);
    }
    free(rt->cfg->admin.http);
    rt->cfg->admin.http = strdup("127.0.0.1:0");
    CHECK_INT(pgr_http_start(rt, &h), 0);
    char where[64];
    snprintf(where, sizeof(where), "127.0.0.1:%d", h ? pgr_http_port(h) : 1);
    free(rt->cfg->admin.http);
    rt->cfg->admin.http = strdup(where);
    CHECK_INT(pgr_http_start(rt, &h2), PGR_EBUSY);
    CHECK(h2 == NULL);
    pgr_http_close(h);
    ops_env_free(&e);
}

int
main(void)
{
    return RUN(parse_request, report_formatters, pages, server_loopback, start_errors);
}

/* net/conn with TLS: a pgr_conn on a real loopback socket as the TLS server, and a blocking
 * OpenSSL client in a thread. Echo through write and reserve/commit with backpressure,
 * close_after_flush ending with close_notify, the input cap, start_tls refused with input
 * buffered, a handshake that fails, and the context from a mismatched key. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/conn.h"
#include "net/tls.h"
#include "../harness.h"

enum { MODE_ECHO, MODE_CLOSE_AFTER, MODE_HOLD, MODE_PLAIN_FIRST };

#define ECHO_HIGH   ((size_t)32 * 1024)
#define ECHO_CHUNK  ((size_t)64 * 1024)
#define ECHO_ROUNDS 32
#define CLOSE_BYTES ((size_t)200 * 1000)

static char dir[64];
static char cert_path[128], key_path[128], other_key_path[128];

typedef struct fixture {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_timer_t tick;
    pgr_tls_ctx_t *ctx;
    int port;
    int mode;
    pgr_conn_t c;
    bool accepted;
    int closes, reason;
    int start_rc;             /* MODE_PLAIN_FIRST: what pgr_conn_start_tls said */
    char version[16];         /* pgr_conn_tls_version at the first on_read */
    int read_stops, drains;
    size_t peak_out;
    bool wrote;
    atomic_bool client_done;
    void (*client)(struct fixture *f);
    int client_failures;      /* checks failed in the client thread */
    size_t client_got;
    bool client_clean_close;
} fixture_t;

static void
on_read(pgr_conn_t *c, void *arg)
{
    fixture_t *f = arg;
    size_t n = pgr_iobuf_len(&c->in);

    if (f->version[0] == '\0' && pgr_conn_tls_version(c) != NULL)
        snprintf(f->version, sizeof(f->version), "%s", pgr_conn_tls_version(c));
    switch (f->mode) {
    case MODE_ECHO: {
        /* Alternate the two output paths so both are encrypted in order. */
        size_t half = n / 2;
        uint8_t *p = pgr_conn_out_reserve(c, half > 0 ? half : 1);
        if (p == NULL) {
            pgr_conn_close(c, PGR_ENOMEM);
            return;
        }
        memcpy(p, pgr_iobuf_data(&c->in), half);
        pgr_conn_out_commit(c, half);
        if (pgr_conn_write(c, pgr_iobuf_data(&c->in) + half, n - half) != 0)
            return;
        pgr_iobuf_consume(&c->in, n);
        pgr_conn_flush(c);
        if (pgr_conn_out_pending(c) > f->peak_out)
            f->peak_out = pgr_conn_out_pending(c);
        if (pgr_conn_out_pending(c) > ECHO_HIGH) {
            f->read_stops++;
            pgr_conn_read_stop(c);
        }
        break;
    }
    case MODE_CLOSE_AFTER:
        pgr_iobuf_consume(&c->in, n);
        if (!f->wrote) {
            uint8_t *p = pgr_conn_out_reserve(c, CLOSE_BYTES);
            CHECK(p != NULL);
            for (size_t i = 0; p && i < CLOSE_BYTES; i++)
                p[i] = (uint8_t)(i * 7);
            pgr_conn_out_commit(c, p ? CLOSE_BYTES : 0);
            f->wrote = true;
            pgr_conn_close_after_flush(c, 0);
        }
        break;
    case MODE_HOLD:
        break; /* never consumes: the input cap must end it */
    case MODE_PLAIN_FIRST:
        f->start_rc = pgr_conn_start_tls(c, f->ctx);
        pgr_conn_close(c, PGR_EPROTO);
        break;
    }
}

static void
on_drain(pgr_conn_t *c, void *arg)
{
    fixture_t *f = arg;

    f->drains++;
    pgr_conn_read_start(c);
}

static void
on_close(pgr_conn_t *c, void *arg, int reason)
{
    fixture_t *f = arg;

    (void)c;
    f->closes++;
    f->reason = reason;
}

static const pgr_conn_cbs_t cbs = { on_read, on_drain, on_close };

static void
accept_cb(uv_stream_t *server, int status)
{
    fixture_t *f = server->data;

    CHECK_INT(status, 0);
    CHECK(!f->accepted);
    f->accepted = true;
    if (pgr_conn_accept(server, &f->c, &cbs, f) != 0)
        return;
    pgr_conn_set_limits(&f->c, f->mode == MODE_HOLD ? 64 * 1024 : 0, 0, 0);
    /* With the client's small receive buffer, output backs up into the conn. */
    int small = 4096;
    (void)uv_send_buffer_size(&f->c.h.handle, &small);
    if (f->mode != MODE_PLAIN_FIRST)
        CHECK_INT(pgr_conn_start_tls(&f->c, f->ctx), 0);
}

static void
tick_cb(uv_timer_t *t)
{
    fixture_t *f = t->data;

    if (atomic_load(&f->client_done) && f->closes > 0)
        uv_stop(&f->loop);
}

/* ---- the client thread ---- */

static int
client_socket(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 8 * 1024;
    struct timeval tv = { .tv_sec = 10 };

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    /* A small receive buffer makes the server's output back up (read_stop / on_drain). */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A verified TLS client on fd, or NULL. */
static SSL *
client_tls(int fd)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;

    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, cert_path, NULL) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds a reference */
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static bool
ssl_read_exact(SSL *ssl, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = SSL_read(ssl, buf + got, (int)(n - got));
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void
client_echo(fixture_t *f)
{
    int fd = client_socket(f->port);
    SSL *ssl = fd >= 0 ? client_tls(fd) : NULL;
    static uint8_t out[ECHO_CHUNK], back[ECHO_CHUNK];

    if (ssl == NULL) {
        f->client_failures++;
        goto done;
    }
    for (int round = 0; round < ECHO_ROUNDS; round++) {
        for (size_t i = 0; i < sizeof(out); i++)
            out[i] = (uint8_t)(i * 31 + (size_t)round);
        if (SSL_write(ssl, out, (int)sizeof(out)) != (int)sizeof(out) ||
            !ssl_read_exact(ssl, back, sizeof(back)) || memcmp(out, back, sizeof(out)) != 0) {
            f->client_failures++;
            break;
        }
        f->client_got += sizeof(back);
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
done:
    if (fd >= 0)
        close(fd);
}

static void
client_close_after(fixture_t *f)
{
    int fd = client_socket(f->port);
    SSL *ssl = fd >= 0 ? client_tls(fd) : NULL;
    uint8_t buf[16384];
    int r;

    if (ssl == NULL) {
        f->client_failures++;
        goto done;
    }
    if (SSL_write(ssl, "go", 2) != 2)
        f->client_failures++;
    while ((r = SSL_read(ssl, buf, sizeof(buf))) > 0) {
        for (int i = 0; i < r; i++)
            if (buf[i] != (uint8_t)((f->client_got + (size_t)i) * 7))
                f->client_failures++;
        f->client_got += (size_t)r;
    }
    /* 0 with ZERO_RETURN: the server sent close_notify, not just a TCP FIN. */
    f->client_clean_close = r == 0 && SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN;
    SSL_free(ssl);
done:
    if (fd >= 0)
        close(fd);
}

static void
client_flood(fixture_t *f)
{
    int fd = client_socket(f->port);
    SSL *ssl = fd >= 0 ? client_tls(fd) : NULL;
    static uint8_t junk[256 * 1024];

    if (ssl != NULL) {
        (void)SSL_write(ssl, junk, (int)sizeof(junk)); /* fails once the server closes */
        SSL_free(ssl);
    } else {
        f->client_failures++;
    }
    if (fd >= 0)
        close(fd);
}

static void
client_plain(fixture_t *f)
{
    int fd = client_socket(f->port);
    char b;

    if (fd < 0 || write(fd, "hello", 5) != 5)
        f->client_failures++;
    if (fd >= 0 && read(fd, &b, 1) != 0) /* the server closes without a byte */
        f->client_failures++;
    if (fd >= 0)
        close(fd);
}

static void
client_garbage(fixture_t *f)
{
    int fd = client_socket(f->port);
    char b;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n";

    if (fd < 0 || write(fd, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
        f->client_failures++;
    while (fd >= 0 && read(fd, &b, 1) > 0)
        ; /* an alert, then EOF */
    if (fd >= 0)
        close(fd);
}

static void *
client_main(void *arg)
{
    fixture_t *f = arg;

    f->client(f);
    ERR_clear_error();
    atomic_store(&f->client_done, true);
    return NULL;
}

/* Run one server conn in mode against one client; false when setup failed. */
static bool
run(fixture_t *f, int mode, void (*client)(fixture_t *))
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char err[256] = "";
    pthread_t th;

    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->client = client;
    atomic_init(&f->client_done, false);
    if (pgr_tls_ctx_new(cert_path, key_path, &f->ctx, err, sizeof(err)) != 0) {
        printf("# %s\n", err);
        return false;
    }
    uv_loop_init(&f->loop);
    uv_tcp_init(&f->loop, &f->server);
    f->server.data = f;
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_tcp_bind(&f->server, (struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&f->server, 4, accept_cb) != 0 ||
        uv_tcp_getsockname(&f->server, (struct sockaddr *)&ss, &len) != 0)
        return false;
    f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_timer_init(&f->loop, &f->tick);
    f->tick.data = f;
    uv_timer_start(&f->tick, tick_cb, 10, 10);
    pthread_create(&th, NULL, client_main, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_close((uv_handle_t *)&f->server, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&f->loop), 0);
    pgr_tls_ctx_free(f->ctx);
    return true;
}

static fixture_t F;

TEST(echo_both_output_paths_with_backpressure)
{
    CHECK(run(&F, MODE_ECHO, client_echo));
    CHECK_INT(F.client_failures, 0);
    CHECK_INT(F.client_got, ECHO_CHUNK * ECHO_ROUNDS);
    CHECK_STR(F.version, "TLSv1.3");
    CHECK_INT(F.closes, 1);
    CHECK_INT(F.reason, PGR_ECLOSED); /* the client's close_notify */
    /* The output backed up past the mark and on_drain resumed reading each time. */
    CHECK(F.read_stops > 0);
    CHECK(F.drains >= F.read_stops);
    /* What waits is bounded by what one wakeup reads, not by the stream. */
    CHECK(F.peak_out < 4 * PGR_CONN_READ_BUDGET);
}

TEST(close_after_flush_sends_everything_then_close_notify)
{
    CHECK(run(&F, MODE_CLOSE_AFTER, client_close_after));
    CHECK_INT(F.client_failures, 0);
    CHECK_INT(F.client_got, CLOSE_BYTES);
    CHECK(F.client_clean_close);
    CHECK_INT(F.closes, 1);
    CHECK_INT(F.reason, 0);
}

TEST(input_cap_counts_plaintext)
{
    CHECK(run(&F, MODE_HOLD, client_flood));
    CHECK_INT(F.closes, 1);
    CHECK_INT(F.reason, PGR_ELIMIT);
}

TEST(start_tls_refused_with_input_buffered)
{
    CHECK(run(&F, MODE_PLAIN_FIRST, client_plain));
    CHECK_INT(F.client_failures, 0);
    CHECK_INT(F.start_rc, PGR_EBUSY);
    CHECK(F.c.tls == NULL);
    CHECK_INT(F.reason, PGR_EPROTO);
}

TEST(failed_handshake_closes_with_eio)
{
    CHECK(run(&F, MODE_ECHO, client_garbage));
    CHECK_INT(F.client_failures, 0);
    CHECK_INT(F.closes, 1);
    CHECK_INT(F.reason, PGR_EIO);
    CHECK_STR(F.version, "");
}

TEST(context_refuses_a_mismatched_key)
{
    pgr_tls_ctx_t *ctx = NULL;
    char err[256] = "";

    CHECK_INT(pgr_tls_ctx_new(cert_path, other_key_path, &ctx, err, sizeof(err)), PGR_ECONFIG);
    CHECK(ctx == NULL);
    CHECK(strstr(err, "does not match") != NULL);
    CHECK_INT(pgr_tls_ctx_new("/nonexistent/x.crt", key_path, &ctx, err, sizeof(err)),
              PGR_ECONFIG);
    CHECK(strstr(err, "/nonexistent/x.crt") != NULL);
}

int
main(void)
{
    char cmd[512];
    int rc;

    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "/tmp/pgr-conn-tls-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(cert_path, sizeof(cert_path), "%s/server.crt", dir);
    snprintf(key_path, sizeof(key_path), "%s/server.key", dir);
    snprintf(other_key_path, sizeof(other_key_path), "%s/other.key", dir);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout server.key -out server.crt -days 1 -subj /CN=127.0.0.1 "
             ">/dev/null 2>&1 && openssl genpkey -algorithm EC "
             "-pkeyopt ec_paramgen_curve:prime256v1 -out other.key >/dev/null 2>&1", dir);
    if (system(cmd) != 0) {
        printf("Bail out! openssl could not make a test certificate\n");
        return 1;
    }
    rc = RUN(echo_both_output_paths_with_backpressure,
             close_after_flush_sends_everything_then_close_notify, input_cap_counts_plaintext,
             start_tls_refused_with_input_buffered, failed_handshake_closes_with_eio,
             context_refuses_a_mismatched_key);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)system(cmd);
    return rc;
}

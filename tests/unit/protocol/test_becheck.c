/* Streaming checks of backend bodies: each case fed whole, then split at every byte and fed
 * byte by byte, gives the same answer. */
#include <string.h>

#include "protocol/becheck.h"
#include "protocol/reader.h"
#include "../harness.h"

/* Feed msgs (type, length, body, ...) to a fresh checker in pieces of at most step bytes;
 * 0, or PGR_EPROTO with the reason copied to why. */
static int
run(const uint8_t *msgs, size_t len, size_t step, char *why, size_t whylen)
{
    pgr_becheck_t c;
    size_t off = 0;

    pgr_becheck_init(&c);
    while (off + 5 <= len) {
        uint32_t n = pgr_be32(msgs + off + 1) - 4;
        const uint8_t *body = msgs + off + 5;
        if (pgr_becheck_begin(&c, msgs[off], n) != 0)
            break;
        for (uint32_t k = 0; k < n && c.err == 0; k += (uint32_t)step)
            pgr_becheck_feed(&c, body + k, n - k < step ? n - k : step);
        if (c.err)
            break;
        off += 5 + n;
    }
    snprintf(why, whylen, "%s", c.err ? c.reason : "");
    return c.err;
}

static void
expect(const uint8_t *msgs, size_t len, const char *reason)
{
    char why[128];
    for (size_t step = 1; step <= len + 1; step++) {
        int rc = run(msgs, len, step, why, sizeof(why));
        CHECK_INT(rc, reason ? PGR_EPROTO : 0);
        if (reason)
            CHECK(strstr(why, reason) != NULL);
        if (reason ? !strstr(why, reason) : rc != 0)
            fprintf(stderr, "# step %zu: got \"%s\", want \"%s\"\n", step, why, reason);
    }
}

/* A stream of messages built from their bodies: M(&s, 'D', "body") appends one. */
typedef struct {
    uint8_t b[512];
    size_t len;
} stream_t;

static stream_t *
add(stream_t *s, uint8_t type, const char *body, size_t n)
{
    uint32_t len = (uint32_t)n + 4;
    s->b[s->len] = type;
    s->b[s->len + 1] = (uint8_t)(len >> 24);
    s->b[s->len + 2] = (uint8_t)(len >> 16);
    s->b[s->len + 3] = (uint8_t)(len >> 8);
    s->b[s->len + 4] = (uint8_t)len;
    memcpy(s->b + s->len + 5, body, n);
    s->len += 5 + n;
    return s;
}

#define M(s, type, body) add(s, type, body, sizeof(body) - 1)
/* T: 2 text columns "a", "b" */
#define FIELD(n) n "\0\0\0\0\0\0\0\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0"
#define ROWDESC2 "\0\x02" FIELD("a") FIELD("b")

static void
expect_stream(stream_t *s, const char *reason)
{
    expect(s->b, s->len, reason);
    s->len = 0;
}

TEST(valid_replies_pass)
{
    stream_t s = {0};
    M(&s, 'T', ROWDESC2);
    M(&s, 'D', "\0\x02\0\0\0\x01" "1\xff\xff\xff\xff");
    M(&s, 'C', "SELECT 1\0");
    M(&s, 'Z', "I");
    expect_stream(&s, NULL);
    /* a notice and a parameter change between rows; an empty row after no RowDescription */
    M(&s, 'T', ROWDESC2);
    M(&s, 'N', "SNOTICE\0C00000\0Mhi\0\0");
    M(&s, 'S', "a\0b\0");
    M(&s, 'D', "\0\x02\0\0\0\0\0\0\0\0");
    M(&s, 'C', "SELECT 1\0");
    M(&s, 'D', "\0\0");
    expect_stream(&s, NULL);
    M(&s, 'E', "SERROR\0C42P01\0Mno such\0\0");
    expect_stream(&s, NULL);
    /* after a BindComplete the next rows answer another statement: no count to compare */
    M(&s, 'T', ROWDESC2);
    M(&s, '2', "");
    M(&s, 'D', "\0\0");
    expect_stream(&s, NULL);
}

TEST(malformed_datarows)
{
    stream_t s = {0};
    M(M(&s, 'T', ROWDESC2), 'D', "\0\x03\0\0\0\x01" "1\0\0\0\x01" "2\0\0\0\x01" "3");
    expect_stream(&s, "DataRow has 3 fields, its RowDescription 2");
    M(&s, 'D', "\0\x01\xff\xff\xff\xfe");
    expect_stream(&s, "DataRow field length -2");
    M(&s, 'D', "\0\x01\0\0\0\x64short");
    expect_stream(&s, "field length 100 past the end");
    M(&s, 'D', "\0\x02\0\0\0\x01x");
    expect_stream(&s, "DataRow ends before its fields do");
    M(&s, 'D', "\0\x01\0\0\0\0yy");
    expect_stream(&s, "DataRow has bytes after its end");
    M(&s, 'D', "\0");
    expect_stream(&s, "DataRow ends before its fields do");
    M(&s, 'D', "\x80\0");
    expect_stream(&s, "DataRow field count -32768");
    M(&s, 'T', "");
    expect_stream(&s, "RowDescription without its field count");
}

TEST(malformed_notices_and_parameters)
{
    stream_t s = {0};
    M(&s, 'E', "SERROR\0Mno code\0\0");
    expect_stream(&s, "ErrorResponse without a SQLSTATE");
    M(&s, 'E', "SERROR\0C42P01\0Mabc\0");
    expect_stream(&s, "ErrorResponse not terminated");
    M(&s, 'N', "SNOTICE\0Mx");
    expect_stream(&s, "NoticeResponse not terminated");
    M(&s, 'E', "SERROR\0C42P01\0\0zz");
    expect_stream(&s, "ErrorResponse has bytes after its end");
    M(&s, 'S', "application_name\0");
    expect_stream(&s, "ParameterStatus not terminated");
    M(&s, 'S', "application_name\0nonul");
    expect_stream(&s, "ParameterStatus not terminated");
    M(&s, 'S', "a\0b\0c");
    expect_stream(&s, "ParameterStatus has bytes after its end");
}

TEST(failure_sticks)
{
    pgr_becheck_t c;
    pgr_becheck_init(&c);
    CHECK_INT(pgr_becheck_begin(&c, 'E', 0), PGR_EPROTO);
    CHECK_INT(pgr_becheck_begin(&c, 'Z', 1), PGR_EPROTO);
    CHECK_INT(pgr_becheck_feed(&c, (const uint8_t *)"I", 1), PGR_EPROTO);
    CHECK(strstr(c.reason, "ErrorResponse not terminated") != NULL);
    /* more bytes than the length announced */
    pgr_becheck_init(&c);
    CHECK_INT(pgr_becheck_begin(&c, 'Z', 1), 0);
    CHECK_INT(pgr_becheck_feed(&c, (const uint8_t *)"II", 2), PGR_EPROTO);
}

int
main(void)
{
    return RUN(valid_replies_pass, malformed_datarows, malformed_notices_and_parameters,
               failure_sticks);
}

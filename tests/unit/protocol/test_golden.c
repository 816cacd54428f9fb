/* Golden traces: each conversation (built with the encoders) is framed message by message and
 * rendered in libpq's trace format, then compared with tests/unit/protocol/golden/NAME.trace.
 * PGR_GOLDEN_UPDATE=1 rewrites the files instead (review the diff before committing it). */
#include "protocol/frame.h"
#include "protocol/trace.h"
#include "convo.h"
#include "../harness.h"

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap + 1);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Renders conversation c, one line per message, into a malloc'd string. */
static char *
render(const convo_t *c)
{
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    pgr_trace_t t;
    pgr_trace_init(&t);
    for (int i = 0; i < c->n; i++) {
        const convo_msg_t *m = &c->msgs[i];
        pgr_phase_t phase = m->startup ? PGR_PHASE_STARTUP
                            : m->dir == 'F' ? PGR_PHASE_FRONTEND : PGR_PHASE_BACKEND;
        pgr_frame_t f;
        CHECK_INT(pgr_frame_next(c->w.buf + m->off, m->len, phase, NULL, &f), PGR_FRAME_OK);
        char line[1024];
        size_t n = pgr_trace_frame(&t, m->dir == 'B' ? PGR_PHASE_BACKEND : PGR_PHASE_FRONTEND,
                                   &f, line, sizeof(line));
        CHECK(n < sizeof(line));
        CHECK(len + n + 2 < cap);
        if (len + n + 2 >= cap)
            break;
        memcpy(text + len, line, n);
        len += n;
        text[len++] = '\n';
    }
    text[len] = '\0';
    return text;
}

static void
check_golden(const char *name)
{
    convo_t c;
    char path[1024];
    const char *src = getenv("PGR_SRCDIR");
    snprintf(path, sizeof(path), "%s/tests/unit/protocol/golden/%s.trace", src ? src : ".", name);
    CHECK_INT(convo_build(&c, name), 0);
    char *got = render(&c);
    const char *update = getenv("PGR_GOLDEN_UPDATE");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fputs(got, f);
            fclose(f);
        }
    }
    size_t wlen = 0;
    char *want = read_file(path, &wlen);
    if (want == NULL)
        printf("# cannot read %s\n", path);
    CHECK(want != NULL);
    if (want) {
        /* report the first differing line */
        const char *g = got, *w = want;
        int line = 1;
        while (*g && *g == *w) {
            if (*g == '\n')
                line++;
            g++;
            w++;
        }
        if (*g != *w) {
            printf("# %s.trace differs at line %d\n", name, line);
            CHECK_STR(got, want);
        }
    }
    free(want);
    free(got);
    convo_free(&c);
}

TEST(simple_query) { check_golden("simple_query"); }
TEST(extended_pipeline) { check_golden("extended_pipeline"); }
TEST(copy_in) { check_golden("copy_in"); }
TEST(copy_out) { check_golden("copy_out"); }
TEST(error_in_pipeline) { check_golden("error_in_pipeline"); }
TEST(scram_exchange) { check_golden("scram_exchange"); }
TEST(misc) { check_golden("misc"); }

TEST(truncated_output)
{
    /* a small buffer gets a NUL-terminated prefix; the return value is the full length */
    pgr_frame_t f;
    pgr_trace_t t;
    char small[8];
    const uint8_t q[] = "Q\0\0\0\x0eSELECT 1;";
    pgr_trace_init(&t);
    CHECK_INT(pgr_frame_next(q, sizeof(q), PGR_PHASE_FRONTEND, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(pgr_trace_frame(&t, PGR_PHASE_FRONTEND, &f, small, sizeof(small)),
              strlen("F\t14\tQuery\t \"SELECT 1;\""));
    CHECK_STR(small, "F\t14\tQu");
    char big[64];
    pgr_trace_frame(&t, PGR_PHASE_FRONTEND, &f, big, sizeof(big));
    CHECK_STR(big, "F\t14\tQuery\t \"SELECT 1;\"");
}

int
main(void)
{
    return RUN(simple_query, extended_pipeline, copy_in, copy_out, error_in_pipeline,
               scram_exchange, misc, truncated_output);
}

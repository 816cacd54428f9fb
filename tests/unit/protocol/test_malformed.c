/* Malformed input: a table of hostile frames, each asserting BAD (with its SQLSTATE) or the exact
 * decode error, and every valid message of every conversation truncated at every byte. */
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"
#include "protocol/trace.h"
#include "convo.h"
#include "msgs.h"
#include "../harness.h"

enum { FE = PGR_PHASE_FRONTEND, BE = PGR_PHASE_BACKEND, SU = PGR_PHASE_STARTUP };

typedef struct {
    const char *name;
    int phase;
    const char *bytes;
    size_t len;
    int p_kind;
    const char *sqlstate; /* non-NULL: pgr_frame_next must say BAD with this SQLSTATE */
    int err;              /* else: the frame is OK and decoding fails with exactly this */
} mcase_t;

#define IN(s) s, sizeof(s) - 1
#define BAD(st) st, 0
#define ERR(e) NULL, e

static const mcase_t cases[] = {
    /* lengths below the minimum, huge, negative, above caps */
    {"length 3", FE, IN("Q\0\0\0\3"), 0, BAD("08P01")},
    {"length 0", FE, IN("P\0\0\0\0"), 0, BAD("08P01")},
    {"length 0x7FFFFFFF", FE, IN("Q\x7f\xff\xff\xff"), 0, BAD("08P01")},
    {"length 0xFFFFFFFF", FE, IN("B\xff\xff\xff\xff"), 0, BAD("08P01")},
    {"length 0x80000000", FE, IN("d\x80\0\0\0"), 0, BAD("08P01")},
    {"query above 1 GiB", FE, IN("Q\x40\0\0\x01"), 0, BAD("08P01")},
    {"execute above 10,000", FE, IN("E\0\0\x27\x11"), 0, BAD("08P01")},
    {"describe 0x7FFFFFFF", FE, IN("D\x7f\xff\xff\xff"), 0, BAD("08P01")},
    {"sync with a body", FE, IN("S\0\0\0\5x"), 0, BAD("08P01")},
    {"terminate length 3", FE, IN("X\0\0\0\3"), 0, BAD("08P01")},
    {"password above 65,535", FE, IN("p\0\1\0\0"), 0, BAD("08P01")},
    {"backend length 0xFFFFFFFF", BE, IN("D\xff\xff\xff\xff"), 0, BAD("08P01")},
    {"backend length 2", BE, IN("T\0\0\0\2"), 0, BAD("08P01")},
    {"ReadyForQuery length 4", BE, IN("Z\0\0\0\4"), 0, BAD("08P01")},
    {"BackendKeyData length 16", BE, IN("K\0\0\0\x10"), 0, BAD("08P01")},
    {"CopyDone with a body", BE, IN("c\0\0\0\5x"), 0, BAD("08P01")},
    /* unknown types */
    {"frontend type Z", FE, IN("Z\0\0\0\5I"), 0, BAD("08P01")},
    {"frontend type NUL", FE, IN("\0\0\0\0\4"), 0, BAD("08P01")},
    {"frontend type 0xFF", FE, IN("\xff"), 0, BAD("08P01")},
    {"backend type Q", BE, IN("Q\0\0\0\5x"), 0, BAD("08P01")},
    {"backend type p", BE, IN("p"), 0, BAD("08P01")},
    /* startup forms */
    {"startup length 7", SU, IN("\0\0\0\7\0\3\0"), 0, BAD("08P01")},
    {"startup length 0", SU, IN("\0\0\0\0"), 0, BAD("08P01")},
    {"startup length 10,001", SU, IN("\0\0\x27\x11"), 0, BAD("08P01")},
    {"startup length 0xFFFFFFFF", SU, IN("\xff\xff\xff\xff"), 0, BAD("08P01")},
    {"startup protocol 2.0", SU, IN("\0\0\0\x09\0\2\0\0\0"), 0, BAD("0A000")},
    {"startup protocol 4.0", SU, IN("\0\0\0\x09\0\4\0\0\0"), 0, BAD("0A000")},
    {"unknown 1234.5681 request", SU, IN("\0\0\0\x08\x04\xd2\x16\x31"), 0, BAD("0A000")},
    {"SSLRequest length 12", SU, IN("\0\0\0\x0c\x04\xd2\x16\x2f"), 0, BAD("08P01")},
    {"GSSENCRequest length 9", SU, IN("\0\0\0\x09\x04\xd2\x16\x30"), 0, BAD("08P01")},
    {"CancelRequest length 12", SU, IN("\0\0\0\x0c\x04\xd2\x16\x2e\0\0\0\1"), 0, BAD("08P01")},
    {"CancelRequest length 20", SU, IN("\0\0\0\x14\x04\xd2\x16\x2e"), 0, BAD("08P01")},
    {"startup without terminator", SU, IN("\0\0\0\x10\0\3\0\0user\0bob"), 0, BAD("08P01")},
    /* decode errors: from here on the bytes are the type byte (none for startup forms) and the
     * body; the test inserts the right length word */
    {"startup name without value", SU, IN("\0\3\0\0user\0\0"), 0, ERR(PGR_ENOTERM)},
    {"startup bytes after terminator", SU, IN("\0\3\0\0u\0b\0\0x\0"), 0, ERR(PGR_ETRAILING)},
    /* missing NULs, trailing bytes */
    {"query without NUL", FE, IN("QSELECT 1"), 0, ERR(PGR_ENOTERM)},
    {"query with trailing byte", FE, IN("Qa\0b"), 0, ERR(PGR_ETRAILING)},
    {"close without NUL", FE, IN("CSab"), 0, ERR(PGR_ENOTERM)},
    {"copyfail without NUL", FE, IN("fno"), 0, ERR(PGR_ENOTERM)},
    {"password without NUL", FE, IN("ppw"), MSG_P_PASSWORD, ERR(PGR_ENOTERM)},
    {"ParameterStatus without value", BE, IN("Sab\0"), 0, ERR(PGR_ENOTERM)},
    {"notify without payload", BE, IN("A\0\0\0\1ch\0"), 0, ERR(PGR_ENOTERM)},
    {"error field without NUL", BE, IN("EMabc"), 0, ERR(PGR_ENOTERM)},
    {"error without terminator", BE, IN("EMabc\0"), 0, ERR(PGR_ETRUNC)},
    /* bad values */
    {"describe kind X", FE, IN("DX\0"), 0, ERR(PGR_EPROTO)},
    {"execute without max_rows", FE, IN("E\0"), 0, ERR(PGR_ETRUNC)},
    {"ReadyForQuery status X", BE, IN("ZX"), 0, ERR(PGR_EPROTO)},
    {"auth code 99", BE, IN("R\0\0\0\x63"), 0, ERR(PGR_EPROTO)},
    {"auth ok with trailing bytes", BE, IN("R\0\0\0\0\0\0\0\0"), 0, ERR(PGR_ETRAILING)},
    {"auth md5 with 2-byte salt", BE, IN("R\0\0\0\5ab"), 0, ERR(PGR_ETRUNC)},
    {"auth SASL without mechanisms", BE, IN("R\0\0\0\x0a\0"), 0, ERR(PGR_EPROTO)},
    {"auth SASL list not ended", BE, IN("R\0\0\0\x0aSCRAM"), 0, ERR(PGR_ENOTERM)},
    {"copy response format 2", BE, IN("G\2\0\0"), 0, ERR(PGR_EPROTO)},
    /* field counts that lie */
    {"parse count lies", FE, IN("P\0q\0\0\5\0\0\0\x17"), 0, ERR(PGR_ETRUNC)},
    {"parse count negative", FE, IN("P\0q\0\xff\xff"), 0, ERR(PGR_EPROTO)},
    {"bind param count lies", FE, IN("B\0\0\0\0\0\3\0\0\0\1x\0\0"), 0, ERR(PGR_ETRUNC)},
    {"bind format count lies", FE, IN("B\0\0\x7f\xff"), 0, ERR(PGR_ETRUNC)},
    {"bind format count negative", FE, IN("B\0\0\xff\xff"), 0, ERR(PGR_EPROTO)},
    {"bind 2 formats for 1 param", FE, IN("B\0\0\0\2\0\0\0\1\0\1\0\0\0\1x\0\0"), 0,
     ERR(PGR_EPROTO)},
    {"bind result formats missing", FE, IN("B\0\0\0\0\0\0"), 0, ERR(PGR_ETRUNC)},
    {"funccall arg count lies", FE, IN("F\0\0\0\1\0\0\0\x09\0\0\0\0"), 0, ERR(PGR_ETRUNC)},
    {"rowdesc count lies", BE,
     IN("T\0\2a\0" "\0\0\0\0" "\0\0" "\0\0\0\x17" "\0\4" "\xff\xff\xff\xff" "\0\0"), 0,
     ERR(PGR_ENOTERM)},
    {"rowdesc count 0x7FFF, no fields", BE, IN("T\x7f\xff"), 0, ERR(PGR_ENOTERM)},
    {"rowdesc count negative", BE, IN("T\xff\xff"), 0, ERR(PGR_EPROTO)},
    {"rowdesc field cut short", BE, IN("T\0\1a\0\0\0\0\0"), 0, ERR(PGR_ETRUNC)},
    {"datarow count lies", BE, IN("D\0\5\0\0\0\1x"), 0, ERR(PGR_ETRUNC)},
    {"datarow count negative", BE, IN("D\xff\xff"), 0, ERR(PGR_EPROTO)},
    {"paramdesc count lies", BE, IN("t\0\2\0\0\0\x17"), 0, ERR(PGR_ETRUNC)},
    {"copy response count lies", BE, IN("H\0\0\3\0\0"), 0, ERR(PGR_ETRUNC)},
    {"negotiate count lies", BE, IN("v\0\0\0\0\0\0\0\2_pq_.a\0"), 0, ERR(PGR_ENOTERM)},
    {"negotiate count negative", BE, IN("v\0\0\0\0\xff\xff\xff\xff"), 0, ERR(PGR_EPROTO)},
    /* column lengths of -2 or past the end */
    {"datarow column length -2", BE, IN("D\0\1\xff\xff\xff\xfe"), 0, ERR(PGR_EPROTO)},
    {"datarow column past the end", BE, IN("D\0\1\0\0\0\x64x"), 0, ERR(PGR_ETRUNC)},
    {"datarow column 0x7FFFFFFF", BE, IN("D\0\1\x7f\xff\xff\xffx"), 0, ERR(PGR_ETRUNC)},
    {"bind param length -2", FE, IN("B\0\0\0\0\0\1\xff\xff\xff\xfe\0\0"), 0, ERR(PGR_EPROTO)},
    {"bind param past the end", FE, IN("B\0\0\0\0\0\1\0\0\0\x09xy\0\0"), 0, ERR(PGR_ETRUNC)},
    {"funccall arg length -2", FE, IN("F\0\0\0\1\0\0\0\1\xff\xff\xff\xfe\0\0"), 0,
     ERR(PGR_EPROTO)},
    {"funcresult length -2", BE, IN("V\xff\xff\xff\xfe"), 0, ERR(PGR_EPROTO)},
    {"funcresult past the end", BE, IN("V\0\0\0\3x"), 0, ERR(PGR_ETRUNC)},
    {"SASL initial length -2", FE, IN("pM\0\xff\xff\xff\xfe"), MSG_P_SASL_INITIAL, ERR(PGR_EPROTO)},
    {"SASL initial past the end", FE, IN("pM\0\0\0\0\x10x"), MSG_P_SASL_INITIAL, ERR(PGR_ETRUNC)},
};

TEST(malformed_table)
{
    int n = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const mcase_t *c = &cases[i];
        pgr_frame_t f;
        int before = t_failed_checks;
        uint8_t buf[256];
        size_t len = c->len;
        memcpy(buf, c->bytes, c->len);
        if (c->sqlstate == NULL) { /* insert the length word */
            size_t at = c->phase == SU ? 0 : 1;
            uint32_t wl = (uint32_t)(c->len - at + 4);
            memmove(buf + at + 4, buf + at, c->len - at);
            buf[at] = (uint8_t)(wl >> 24);
            buf[at + 1] = (uint8_t)(wl >> 16);
            buf[at + 2] = (uint8_t)(wl >> 8);
            buf[at + 3] = (uint8_t)wl;
            len += 4;
        }
        int rc = pgr_frame_next(buf, len, c->phase, NULL, &f);
        if (c->sqlstate) {
            CHECK_INT(rc, PGR_FRAME_BAD);
            CHECK_STR(f.sqlstate, c->sqlstate);
            CHECK(f.reason != NULL && f.reason[0] != '\0');
        } else {
            CHECK_INT(rc, PGR_FRAME_OK);
            CHECK_INT(f.len, len);
            if (rc == PGR_FRAME_OK) {
                pgr_phase_t dir = c->phase == BE ? PGR_PHASE_BACKEND : PGR_PHASE_FRONTEND;
                CHECK_INT(msgs_decode(dir, &f, c->p_kind, NULL), c->err);
                /* the trace renders a malformed message without reading past it */
                pgr_trace_t t;
                char line[256];
                pgr_trace_init(&t);
                pgr_trace_frame(&t, dir, &f, line, sizeof(line));
                CHECK(line[0] == 'F' || line[0] == 'B');
            }
        }
        if (t_failed_checks != before)
            printf("#   in case \"%s\"\n", c->name);
        n++;
    }
    CHECK(n >= 40);
}

TEST(cancel_code_checked)
{
    /* the framer knows a CancelRequest by its code; the decoder checks it again */
    pgr_fe_cancel_t c;
    CHECK_INT(pgr_fe_cancel_decode((const uint8_t *)"\x04\xd2\x16\x2f\0\0\0\1\0\0\0\2", 12, &c),
              PGR_EPROTO);
    CHECK_INT(pgr_fe_cancel_decode((const uint8_t *)"\x04\xd2\x16\x2e\0\0\0\1\0\0\0\2", 12, &c),
              0);
    CHECK_INT(c.pid, 1);
    CHECK_INT(c.key, 2);
}

/* Types whose every prefix is still a valid body (pure payloads). */
static bool
prefix_may_decode(const pgr_frame_t *f, char dir, int p_kind, size_t cut)
{
    if (f->type == 'd')
        return true;
    if (dir == 'F' && f->type == 'p' && p_kind == MSG_P_SASL_RESPONSE)
        return true;
    if (dir == 'B' && f->type == 'R' && cut >= 4) {
        uint32_t code = pgr_be32(f->body);
        return code == PGR_AUTHREQ_SASL_CONT || code == PGR_AUTHREQ_SASL_FINAL ||
               code == PGR_AUTHREQ_GSS_CONT;
    }
    return f->startup == PGR_STARTUP_SSL || f->startup == PGR_STARTUP_GSSENC;
}

TEST(truncated_at_every_byte)
{
    int checked = 0;
    for (int k = 0; convo_names[k]; k++) {
        convo_t c;
        CHECK_INT(convo_build(&c, convo_names[k]), 0);
        int p_kind = MSG_P_PASSWORD;
        for (int i = 0; i < c.n; i++) {
            const convo_msg_t *m = &c.msgs[i];
            const uint8_t *msg = c.w.buf + m->off;
            pgr_phase_t phase = m->startup ? PGR_PHASE_STARTUP
                                : m->dir == 'F' ? PGR_PHASE_FRONTEND : PGR_PHASE_BACKEND;
            pgr_phase_t dir = m->dir == 'B' ? PGR_PHASE_BACKEND : PGR_PHASE_FRONTEND;
            pgr_frame_t full, f;
            CHECK_INT(pgr_frame_next(msg, m->len, phase, NULL, &full), PGR_FRAME_OK);
            if (m->dir == 'B' && full.type == 'R') {
                uint32_t code = pgr_be32(full.body);
                p_kind = code == PGR_AUTHREQ_SASL        ? MSG_P_SASL_INITIAL
                         : code == PGR_AUTHREQ_SASL_CONT ? MSG_P_SASL_RESPONSE
                                                         : MSG_P_PASSWORD;
            }
            /* 1: every prefix of the stream is NEED_MORE, asking for more than is there */
            for (size_t cut = 0; cut < m->len; cut++) {
                int rc = pgr_frame_next(msg, cut, phase, NULL, &f);
                CHECK_INT(rc, PGR_FRAME_NEED_MORE);
                CHECK(f.need > cut && f.need <= m->len);
                checked++;
            }
            /* 2: every prefix of the body, framed as if complete, fails to decode (bar pure
             * payloads), and never reads past the cut (ASan: each prefix is its own copy) */
            for (size_t cut = 0; cut < full.body_len; cut++) {
                uint8_t *copy = malloc(cut ? cut : 1);
                memcpy(copy, full.body, cut);
                f = full;
                f.body = copy;
                f.body_len = cut;
                int rc = msgs_decode(dir, &f, p_kind, NULL);
                if (!prefix_may_decode(&full, m->dir, p_kind, cut)) {
                    if (rc == 0)
                        printf("#   %s message %d cut at %zu decoded\n", c.name, i, cut);
                    CHECK(rc != 0);
                }
                pgr_trace_t t;
                char line[512];
                pgr_trace_init(&t);
                t.last_auth = p_kind == MSG_P_SASL_INITIAL    ? PGR_AUTHREQ_SASL
                              : p_kind == MSG_P_SASL_RESPONSE ? PGR_AUTHREQ_SASL_CONT : -1;
                pgr_trace_frame(&t, dir, &f, line, sizeof(line));
                free(copy);
                checked++;
            }
        }
        convo_free(&c);
    }
    CHECK(checked > 1000);
}

int
main(void)
{
    return RUN(malformed_table, cancel_code_checked, truncated_at_every_byte);
}

/* libFuzzer driver: the round-trip property. The first input byte picks the direction (and the
 * body kind of a 'p' message); the rest is one message. If it frames and decodes, encoding the
 * decoded struct must give a message that frames and decodes to the same struct: checked as
 * encode(decode(m2)) == m2 for m2 = encode(decode(m1)), and m2 == m1 wherever the encoding is
 * canonical (everything but ErrorResponse/NoticeResponse, whose unknown or repeated fields are
 * dropped, and startup packets with over 255 parameters). Then: the encoders that take plain
 * arrays (what pgrouter itself calls) give the same bytes as the _msg encoders msgs_decode uses,
 * and a fixed buffer one byte short fails with PGR_ELIMIT while an exact one gives m2 again. */
#include <stdlib.h>
#include <string.h>

#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"
#include "../unit/protocol/msgs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int16_t *
i16s(pgr_i16s_t a)
{
    int16_t *v = malloc(sizeof(*v) * (size_t)(a.count + 1));
    for (int i = 0; v && i < a.count; i++)
        v[i] = pgr_i16s_at(a, i);
    return v;
}

static uint32_t *
i32s(pgr_i32s_t a)
{
    uint32_t *v = malloc(sizeof(*v) * (size_t)(a.count + 1));
    for (int i = 0; v && i < a.count; i++)
        v[i] = (uint32_t)pgr_i32s_at(a, i);
    return v;
}

/* The values of a Bind or FunctionCall, as the array encoders take them. */
static pgr_value_t *
values(pgr_value_iter_t *it, int n)
{
    pgr_value_t *v = malloc(sizeof(*v) * (size_t)(n + 1));
    for (int i = 0; v && i < n; i++)
        if (!pgr_value_next(it, &v[i]))
            abort();
    return v;
}

/* Encodes the message of f (canonical: m2) again with the array encoder of its type, if it has
 * one, into w. Returns 1 when it wrote, 0 when the type has no such encoder. */
static int
encode_arrays(pgr_phase_t phase, const pgr_frame_t *f, int p_kind, pgr_writer_t *w)
{
    const uint8_t *b = f->body;
    size_t n = f->body_len;
    void *a1 = NULL, *a2 = NULL, *a3 = NULL;
    int wrote = 1;
    if (phase == PGR_PHASE_STARTUP) {
        return 0;
    } else if (phase == PGR_PHASE_FRONTEND && f->type == 'P') {
        pgr_fe_parse_t m;
        if (pgr_fe_parse_decode(b, n, &m) != 0 || !(a1 = i32s(m.param_types)))
            abort();
        if (pgr_fe_write_parse(w, m.name, m.query, m.param_types.count, a1) != 0)
            abort();
    } else if (phase == PGR_PHASE_FRONTEND && f->type == 'B') {
        pgr_fe_bind_t m;
        pgr_value_iter_t it;
        if (pgr_fe_bind_decode(b, n, &m) != 0)
            abort();
        pgr_fe_bind_params(&m, &it);
        a1 = i16s(m.param_formats);
        a2 = values(&it, m.nparams);
        a3 = i16s(m.result_formats);
        if (!a1 || !a2 || !a3 ||
            pgr_fe_write_bind(w, m.portal, m.statement, m.param_formats.count, a1, m.nparams, a2,
                              m.result_formats.count, a3) != 0)
            abort();
    } else if (phase == PGR_PHASE_FRONTEND && f->type == 'F') {
        pgr_fe_funccall_t m;
        pgr_value_iter_t it;
        if (pgr_fe_funccall_decode(b, n, &m) != 0)
            abort();
        pgr_fe_funccall_args(&m, &it);
        a1 = i16s(m.arg_formats);
        a2 = values(&it, m.nargs);
        if (!a1 || !a2 ||
            pgr_fe_write_funccall(w, m.fn_oid, m.arg_formats.count, a1, m.nargs, a2,
                                  m.result_format) != 0)
            abort();
    } else if (phase == PGR_PHASE_BACKEND && f->type == 't') {
        pgr_be_paramdesc_t m;
        if (pgr_be_paramdesc_decode(b, n, &m) != 0 || !(a1 = i32s(m.types)))
            abort();
        if (pgr_be_write_paramdesc(w, m.types.count, a1) != 0)
            abort();
    } else if (phase == PGR_PHASE_BACKEND && (f->type == 'G' || f->type == 'H' || f->type == 'W')) {
        pgr_be_copyresp_t m;
        if (pgr_be_copyresp_decode(b, n, &m) != 0 || !(a1 = i16s(m.column_formats)))
            abort();
        if (pgr_be_write_copyresp(w, f->type, m.format, m.column_formats.count, a1) != 0)
            abort();
    } else if (phase == PGR_PHASE_BACKEND && (f->type == 'v' || f->type == 'R')) {
        pgr_be_negotiate_t v;
        pgr_be_auth_t r;
        pgr_reader_t it;
        int k = 0, count;
        if (f->type == 'v') {
            if (pgr_be_negotiate_decode(b, n, &v) != 0)
                abort();
            count = v.noptions;
            pgr_be_negotiate_options(&v, &it);
        } else {
            if (pgr_be_auth_decode(b, n, &r) != 0)
                abort();
            if (r.code != PGR_AUTHREQ_SASL) {
                if (r.code == PGR_AUTHREQ_SASL_CONT || r.code == PGR_AUTHREQ_MD5)
                    return pgr_be_write_auth(w, r.code, r.data, r.len) == 0 ? 1 : (abort(), 0);
                return 0;
            }
            count = r.nmechanisms;
            pgr_be_auth_mechanisms(&r, &it);
        }
        const char **names = a1 = malloc(sizeof(*names) * (size_t)(count + 1));
        if (names == NULL)
            abort();
        for (const char *s; k < count && (s = f->type == 'v' ? pgr_be_negotiate_option_next(&it)
                                                             : pgr_be_auth_mechanism_next(&it)); )
            names[k++] = s;
        if (k != count)
            abort();
        if ((f->type == 'v' ? pgr_be_write_negotiate(w, v.newest_minor, count, names)
                            : pgr_be_write_auth_sasl(w, names, count)) != 0)
            abort();
    } else {
        wrote = 0;
    }
    (void)p_kind;
    free(a1);
    free(a2);
    free(a3);
    return wrote;
}

/* A fixed buffer one byte short of m fails with PGR_ELIMIT; one of m's size gives m. */
static void
fixed_writer(pgr_phase_t dir, const pgr_frame_t *f, int p_kind, const uint8_t *m, size_t len)
{
    uint8_t *buf = malloc(len);
    pgr_writer_t w;
    if (buf == NULL)
        return;
    pgr_writer_init_fixed(&w, buf, len - 1);
    if (msgs_decode(dir, f, p_kind, &w) != PGR_ELIMIT)
        abort();
    pgr_writer_init_fixed(&w, buf, len);
    if (msgs_decode(dir, f, p_kind, &w) != 0 || w.len != len || memcmp(buf, m, len) != 0)
        abort();
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    pgr_phase_t phase = data[0] % 3 == 0 ? PGR_PHASE_STARTUP
                        : data[0] % 3 == 1 ? PGR_PHASE_FRONTEND : PGR_PHASE_BACKEND;
    pgr_phase_t dir = phase == PGR_PHASE_BACKEND ? PGR_PHASE_BACKEND : PGR_PHASE_FRONTEND;
    int p_kind = (data[0] / 3) % 3;
    pgr_frame_limits_t lim;
    pgr_frame_limits_default(&lim);
    lim.max_message_size = 1 << 20;
    data++;
    size--;

    pgr_frame_t f1, f2, f3;
    if (pgr_frame_next(data, size, phase, &lim, &f1) != PGR_FRAME_OK)
        return 0;
    pgr_writer_t w2, w3;
    pgr_writer_init_grow(&w2);
    pgr_writer_init_grow(&w3);
    if (msgs_decode(dir, &f1, p_kind, &w2) != 0)
        goto done;
    if (w2.len == 0)
        goto done; /* startup with too many parameters to re-encode here */
    if (pgr_frame_next(w2.buf, w2.len, phase, &lim, &f2) != PGR_FRAME_OK || f2.len != w2.len)
        abort();
    if (msgs_decode(dir, &f2, p_kind, &w3) != 0)
        abort();
    if (w3.len != w2.len || memcmp(w3.buf, w2.buf, w2.len) != 0)
        abort();
    if (pgr_frame_next(w3.buf, w3.len, phase, &lim, &f3) != PGR_FRAME_OK)
        abort();
    bool canonical = !(phase != PGR_PHASE_STARTUP && (f1.type == 'E' || f1.type == 'N'));
    if (canonical && (w2.len != f1.len || memcmp(w2.buf, data, f1.len) != 0))
        abort();
    pgr_writer_reset(&w3);
    if (encode_arrays(phase, &f2, p_kind, &w3) &&
        (w3.len != w2.len || memcmp(w3.buf, w2.buf, w2.len) != 0))
        abort();
    fixed_writer(dir, &f2, p_kind, w2.buf, w2.len);
done:
    pgr_writer_free(&w2);
    pgr_writer_free(&w3);
    return 0;
}

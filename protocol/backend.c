/* Backend messages: decoders, encoders, ErrorResponse building, RowDescription equality
 * (see backend.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "protocol/backend.h"

/* Reads an int16 count that must be ≥ 0. */
static int
read_count(pgr_reader_t *r)
{
    int16_t n = pgr_reader_i16(r);
    if (n < 0) {
        pgr_reader_fail(r, PGR_EPROTO);
        return 0;
    }
    return n;
}

static void
put_count(pgr_writer_t *w, int n)
{
    if (n < 0 || n > INT16_MAX)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_i16(w, (int16_t)n);
}

/* ---- Authentication ---- */

int
pgr_be_auth_decode(const uint8_t *body, size_t len, pgr_be_auth_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->code = pgr_reader_i32(&r);
    out->nmechanisms = 0;
    out->data = r.p;
    out->len = 0;
    switch (out->code) {
    case PGR_AUTHREQ_OK: case PGR_AUTHREQ_KRB5: case PGR_AUTHREQ_CLEARTEXT: case PGR_AUTHREQ_SCM:
    case PGR_AUTHREQ_GSS: case PGR_AUTHREQ_SSPI:
        break;
    case PGR_AUTHREQ_MD5:
        out->data = pgr_reader_bytes(&r, 4);
        out->len = 4;
        break;
    case PGR_AUTHREQ_SASL: {
        /* name\0 ... name\0 \0, at least one name */
        const uint8_t *start = r.p;
        size_t n;
        while (pgr_reader_cstr(&r, &n) && n > 0)
            out->nmechanisms++;
        if (!r.err && out->nmechanisms == 0)
            pgr_reader_fail(&r, PGR_EPROTO);
        out->data = start;
        out->len = r.err ? 0 : (size_t)(r.p - start);
        break;
    }
    case PGR_AUTHREQ_GSS_CONT: case PGR_AUTHREQ_SASL_CONT: case PGR_AUTHREQ_SASL_FINAL:
        out->data = pgr_reader_rest(&r, &out->len);
        break;
    default:
        pgr_reader_fail(&r, PGR_EPROTO);
        break;
    }
    return pgr_reader_end(&r);
}

void
pgr_be_auth_mechanisms(const pgr_be_auth_t *m, pgr_reader_t *it)
{
    pgr_reader_init(it, m->data, m->code == PGR_AUTHREQ_SASL ? m->len : 0);
}

const char *
pgr_be_auth_mechanism_next(pgr_reader_t *it)
{
    size_t n;
    const char *s = pgr_reader_cstr(it, &n);
    return s && n > 0 ? s : NULL;
}

int
pgr_be_write_auth(pgr_writer_t *w, int32_t code, const void *data, size_t len)
{
    pgr_writer_begin(w, 'R');
    pgr_writer_put_i32(w, code);
    if (code == PGR_AUTHREQ_MD5 && len != 4)
        pgr_writer_fail(w, PGR_EINVAL);
    if (code == PGR_AUTHREQ_SASL)
        pgr_writer_fail(w, PGR_EINVAL); /* use pgr_be_write_auth_sasl */
    pgr_writer_put_bytes(w, data, len);
    return pgr_writer_finish(w);
}

int
pgr_be_write_auth_sasl(pgr_writer_t *w, const char *const *mechanisms, int n)
{
    pgr_writer_begin(w, 'R');
    pgr_writer_put_i32(w, PGR_AUTHREQ_SASL);
    if (n <= 0)
        pgr_writer_fail(w, PGR_EINVAL);
    for (int i = 0; i < n; i++) {
        if (mechanisms[i] == NULL || mechanisms[i][0] == '\0')
            pgr_writer_fail(w, PGR_EINVAL);
        pgr_writer_put_cstr(w, mechanisms[i]);
    }
    pgr_writer_put_u8(w, 0);
    return pgr_writer_finish(w);
}

int
pgr_be_write_auth_msg(pgr_writer_t *w, const pgr_be_auth_t *m)
{
    if (m->code != PGR_AUTHREQ_SASL)
        return pgr_be_write_auth(w, m->code, m->data, m->len);
    pgr_writer_begin(w, 'R');
    pgr_writer_put_i32(w, PGR_AUTHREQ_SASL);
    pgr_reader_t it;
    const char *mech;
    pgr_be_auth_mechanisms(m, &it);
    while ((mech = pgr_be_auth_mechanism_next(&it)) != NULL)
        pgr_writer_put_cstr(w, mech);
    pgr_writer_put_u8(w, 0);
    return pgr_writer_finish(w);
}

/* ---- small fixed messages ---- */

int
pgr_be_keydata_decode(const uint8_t *body, size_t len, pgr_be_keydata_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->pid = pgr_reader_i32(&r);
    out->key = pgr_reader_i32(&r);
    return pgr_reader_end(&r);
}

int
pgr_be_write_keydata(pgr_writer_t *w, int32_t pid, int32_t key)
{
    pgr_writer_begin(w, 'K');
    pgr_writer_put_i32(w, pid);
    pgr_writer_put_i32(w, key);
    return pgr_writer_finish(w);
}

int
pgr_be_param_decode(const uint8_t *body, size_t len, pgr_be_param_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->name = pgr_reader_cstr(&r, NULL);
    out->value = pgr_reader_cstr(&r, NULL);
    return pgr_reader_end(&r);
}

int
pgr_be_write_param(pgr_writer_t *w, const char *name, const char *value)
{
    pgr_writer_begin(w, 'S');
    pgr_writer_put_cstr(w, name);
    pgr_writer_put_cstr(w, value);
    return pgr_writer_finish(w);
}

static bool
valid_status(uint8_t s)
{
    return s == 'I' || s == 'T' || s == 'E';
}

int
pgr_be_ready_decode(const uint8_t *body, size_t len, pgr_be_ready_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->status = pgr_reader_u8(&r);
    if (!r.err && !valid_status(out->status))
        pgr_reader_fail(&r, PGR_EPROTO);
    return pgr_reader_end(&r);
}

int
pgr_be_write_ready(pgr_writer_t *w, uint8_t status)
{
    pgr_writer_begin(w, 'Z');
    if (!valid_status(status))
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_u8(w, status);
    return pgr_writer_finish(w);
}

/* ---- RowDescription ---- */

static void
read_field(pgr_reader_t *r, pgr_be_field_t *f)
{
    f->name = pgr_reader_cstr(r, NULL);
    f->table_oid = pgr_reader_i32(r);
    f->column = pgr_reader_i16(r);
    f->type_oid = pgr_reader_i32(r);
    f->typlen = pgr_reader_i16(r);
    f->typmod = pgr_reader_i32(r);
    f->format = pgr_reader_i16(r);
}

int
pgr_be_rowdesc_decode(const uint8_t *body, size_t len, pgr_be_rowdesc_t *out)
{
    pgr_reader_t r;
    pgr_be_field_t f;
    pgr_reader_init(&r, body, len);
    out->nfields = read_count(&r);
    out->fields = r.p;
    /* Each field is at least 19 bytes; the loop stops at the first failure, so a count that
     * lies costs at most the bytes present. */
    for (int i = 0; i < out->nfields && !r.err; i++)
        read_field(&r, &f);
    out->fields_len = r.err ? 0 : (size_t)(r.p - out->fields);
    return pgr_reader_end(&r);
}

void
pgr_be_rowdesc_iter(const pgr_be_rowdesc_t *m, pgr_be_rowdesc_iter_t *it)
{
    pgr_reader_init(&it->r, m->fields, m->fields_len);
    it->remaining = m->nfields;
}

bool
pgr_be_rowdesc_next(pgr_be_rowdesc_iter_t *it, pgr_be_field_t *f)
{
    if (it->remaining <= 0)
        return false;
    it->remaining--;
    read_field(&it->r, f);
    if (it->r.err) {
        it->remaining = 0;
        return false;
    }
    return true;
}

static void
put_field(pgr_writer_t *w, const pgr_be_field_t *f)
{
    pgr_writer_put_cstr(w, f->name);
    pgr_writer_put_i32(w, f->table_oid);
    pgr_writer_put_i16(w, f->column);
    pgr_writer_put_i32(w, f->type_oid);
    pgr_writer_put_i16(w, f->typlen);
    pgr_writer_put_i32(w, f->typmod);
    pgr_writer_put_i16(w, f->format);
}

int
pgr_be_write_rowdesc(pgr_writer_t *w, int n, const pgr_be_field_t *fields)
{
    pgr_writer_begin(w, 'T');
    put_count(w, n);
    for (int i = 0; i < n; i++)
        put_field(w, &fields[i]);
    return pgr_writer_finish(w);
}

int
pgr_be_write_rowdesc_msg(pgr_writer_t *w, const pgr_be_rowdesc_t *m)
{
    pgr_be_rowdesc_iter_t it;
    pgr_be_field_t f;
    pgr_writer_begin(w, 'T');
    put_count(w, m->nfields);
    pgr_be_rowdesc_iter(m, &it);
    while (pgr_be_rowdesc_next(&it, &f))
        put_field(w, &f);
    return pgr_writer_finish(w);
}

bool
pgr_be_rowdesc_equal(const pgr_be_rowdesc_t *a, const pgr_be_rowdesc_t *b,
                     pgr_rowdesc_diff_t *diff)
{
    pgr_rowdesc_diff_t local;
    if (diff == NULL)
        diff = &local;
    diff->kind = PGR_ROWDESC_EQUAL;
    diff->column = -1;
    diff->text[0] = '\0';
    if (a->nfields != b->nfields) {
        diff->kind = PGR_ROWDESC_COUNT;
        snprintf(diff->text, sizeof(diff->text), "column count %d vs %d", a->nfields,
                 b->nfields);
        return false;
    }
    pgr_be_rowdesc_iter_t ia, ib;
    pgr_be_field_t fa, fb;
    pgr_be_rowdesc_iter(a, &ia);
    pgr_be_rowdesc_iter(b, &ib);
    for (int i = 0; pgr_be_rowdesc_next(&ia, &fa) && pgr_be_rowdesc_next(&ib, &fb); i++) {
        diff->column = i;
        if (strcmp(fa.name, fb.name) != 0) {
            diff->kind = PGR_ROWDESC_NAME;
            snprintf(diff->text, sizeof(diff->text), "column %d: name \"%.64s\" vs \"%.64s\"",
                     i + 1, fa.name, fb.name);
            return false;
        }
        if (fa.type_oid != fb.type_oid) {
            diff->kind = PGR_ROWDESC_TYPE;
            snprintf(diff->text, sizeof(diff->text),
                     "column %d (\"%.64s\"): type OID %u vs %u", i + 1, fa.name,
                     (unsigned)fa.type_oid, (unsigned)fb.type_oid);
            return false;
        }
        if (fa.format != fb.format) {
            diff->kind = PGR_ROWDESC_FORMAT;
            snprintf(diff->text, sizeof(diff->text), "column %d (\"%.64s\"): format %d vs %d",
                     i + 1, fa.name, fa.format, fb.format);
            return false;
        }
    }
    diff->column = -1;
    return true;
}

/* ---- DataRow ---- */

int
pgr_be_datarow_decode(const uint8_t *body, size_t len, pgr_be_datarow_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->ncols = read_count(&r);
    out->cols = r.p;
    for (int i = 0; i < out->ncols && !r.err; i++) {
        int32_t n = pgr_reader_i32(&r);
        if (n < -1)
            pgr_reader_fail(&r, PGR_EPROTO);
        else if (n > 0)
            pgr_reader_bytes(&r, (size_t)n);
    }
    out->cols_len = r.err ? 0 : (size_t)(r.p - out->cols);
    return pgr_reader_end(&r);
}

void
pgr_be_datarow_iter(const pgr_be_datarow_t *m, pgr_value_iter_t *it)
{
    pgr_reader_init(&it->r, m->cols, m->cols_len);
    it->remaining = m->ncols;
}

int
pgr_be_write_datarow(pgr_writer_t *w, int n, const pgr_value_t *cols)
{
    pgr_writer_begin(w, 'D');
    put_count(w, n);
    for (int i = 0; i < n; i++)
        pgr_writer_put_value(w, cols[i].data, cols[i].len);
    return pgr_writer_finish(w);
}

int
pgr_be_write_datarow_msg(pgr_writer_t *w, const pgr_be_datarow_t *m)
{
    pgr_value_iter_t it;
    pgr_value_t v;
    pgr_writer_begin(w, 'D');
    put_count(w, m->ncols);
    pgr_be_datarow_iter(m, &it);
    while (pgr_value_next(&it, &v))
        pgr_writer_put_value(w, v.data, v.len);
    return pgr_writer_finish(w);
}

int
pgr_be_complete_decode(const uint8_t *body, size_t len, pgr_be_complete_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->tag = pgr_reader_cstr(&r, NULL);
    return pgr_reader_end(&r);
}

int
pgr_be_write_complete(pgr_writer_t *w, const char *tag)
{
    pgr_writer_begin(w, 'C');
    pgr_writer_put_cstr(w, tag);
    return pgr_writer_finish(w);
}

/* ---- ErrorResponse / NoticeResponse ---- */

/* Field codes in the order pgr_be_notice_t declares them (and the encoder writes them). */
#define NOTICE_FIELD(code, member) {code, offsetof(pgr_be_notice_t, member)}
static const struct {
    uint8_t code;
    size_t offset;
} notice_fields[] = {
    NOTICE_FIELD('S', severity),     NOTICE_FIELD('V', severity_nl),
    NOTICE_FIELD('C', sqlstate),     NOTICE_FIELD('M', message),
    NOTICE_FIELD('D', detail),       NOTICE_FIELD('H', hint),
    NOTICE_FIELD('P', position),     NOTICE_FIELD('p', internal_position),
    NOTICE_FIELD('q', internal_query), NOTICE_FIELD('W', where),
    NOTICE_FIELD('s', schema),       NOTICE_FIELD('t', table),
    NOTICE_FIELD('c', column),       NOTICE_FIELD('d', datatype),
    NOTICE_FIELD('n', constraint),   NOTICE_FIELD('F', file),
    NOTICE_FIELD('L', line),         NOTICE_FIELD('R', routine),
};
#define NNOTICE_FIELDS (sizeof(notice_fields) / sizeof(notice_fields[0]))

static const char **
notice_field(pgr_be_notice_t *m, size_t i)
{
    return (const char **)((char *)m + notice_fields[i].offset);
}

static const char **
notice_slot(pgr_be_notice_t *m, uint8_t code)
{
    for (size_t i = 0; i < NNOTICE_FIELDS; i++)
        if (notice_fields[i].code == code)
            return notice_field(m, i);
    return NULL;
}

int
pgr_be_notice_decode(const uint8_t *body, size_t len, pgr_be_notice_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    memset(out, 0, sizeof(*out));
    for (;;) {
        uint8_t code = pgr_reader_u8(&r);
        if (r.err || code == 0)
            break;
        const char *value = pgr_reader_cstr(&r, NULL);
        const char **slot = notice_slot(out, code);
        if (slot && value)
            *slot = value;
    }
    return pgr_reader_end(&r);
}

int
pgr_be_write_notice_msg(pgr_writer_t *w, bool is_notice, const pgr_be_notice_t *m)
{
    pgr_be_notice_t copy = *m;
    pgr_writer_begin(w, is_notice ? 'N' : 'E');
    for (size_t i = 0; i < NNOTICE_FIELDS; i++) {
        const char *value = *notice_field(&copy, i);
        if (value == NULL)
            continue;
        pgr_writer_put_u8(w, notice_fields[i].code);
        pgr_writer_put_cstr(w, value);
    }
    pgr_writer_put_u8(w, 0);
    return pgr_writer_finish(w);
}

int
pgr_be_write_error(pgr_writer_t *w, bool is_notice, const char *severity, const char *sqlstate,
                   const char *message, const char *detail, const char *hint)
{
    pgr_be_notice_t m = {0};
    if (severity == NULL || sqlstate == NULL || strlen(sqlstate) != 5 || message == NULL) {
        pgr_writer_fail(w, PGR_EINVAL);
        return w->err;
    }
    m.severity = m.severity_nl = severity;
    m.sqlstate = sqlstate;
    m.message = message;
    m.detail = detail;
    m.hint = hint;
    return pgr_be_write_notice_msg(w, is_notice, &m);
}

/* ---- ParameterDescription, Copy*Response ---- */

int
pgr_be_paramdesc_decode(const uint8_t *body, size_t len, pgr_be_paramdesc_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    int n = read_count(&r);
    out->types.raw = pgr_reader_bytes(&r, 4 * (size_t)n);
    out->types.count = n;
    return pgr_reader_end(&r);
}

int
pgr_be_write_paramdesc(pgr_writer_t *w, int n, const uint32_t *types)
{
    pgr_writer_begin(w, 't');
    put_count(w, n);
    for (int i = 0; i < n; i++)
        pgr_writer_put_i32(w, (int32_t)types[i]);
    return pgr_writer_finish(w);
}

int
pgr_be_write_paramdesc_msg(pgr_writer_t *w, const pgr_be_paramdesc_t *m)
{
    pgr_writer_begin(w, 't');
    put_count(w, m->types.count);
    for (int i = 0; i < m->types.count; i++)
        pgr_writer_put_i32(w, pgr_i32s_at(m->types, i));
    return pgr_writer_finish(w);
}

int
pgr_be_copyresp_decode(const uint8_t *body, size_t len, pgr_be_copyresp_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->format = pgr_reader_u8(&r);
    if (!r.err && out->format > 1)
        pgr_reader_fail(&r, PGR_EPROTO);
    int n = read_count(&r);
    out->column_formats.raw = pgr_reader_bytes(&r, 2 * (size_t)n);
    out->column_formats.count = n;
    return pgr_reader_end(&r);
}

int
pgr_be_write_copyresp(pgr_writer_t *w, uint8_t type, uint8_t format, int n,
                      const int16_t *formats)
{
    pgr_writer_begin(w, type);
    if ((type != 'G' && type != 'H' && type != 'W') || format > 1)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_u8(w, format);
    put_count(w, n);
    for (int i = 0; i < n; i++)
        pgr_writer_put_i16(w, formats[i]);
    return pgr_writer_finish(w);
}

int
pgr_be_write_copyresp_msg(pgr_writer_t *w, uint8_t type, const pgr_be_copyresp_t *m)
{
    pgr_writer_begin(w, type);
    if ((type != 'G' && type != 'H' && type != 'W') || m->format > 1)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_u8(w, m->format);
    put_count(w, m->column_formats.count);
    for (int i = 0; i < m->column_formats.count; i++)
        pgr_writer_put_i16(w, pgr_i16s_at(m->column_formats, i));
    return pgr_writer_finish(w);
}

/* ---- NotificationResponse, NegotiateProtocolVersion, FunctionCallResponse ---- */

int
pgr_be_notify_decode(const uint8_t *body, size_t len, pgr_be_notify_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->pid = pgr_reader_i32(&r);
    out->channel = pgr_reader_cstr(&r, NULL);
    out->payload = pgr_reader_cstr(&r, NULL);
    return pgr_reader_end(&r);
}

int
pgr_be_write_notify(pgr_writer_t *w, int32_t pid, const char *channel, const char *payload)
{
    pgr_writer_begin(w, 'A');
    pgr_writer_put_i32(w, pid);
    pgr_writer_put_cstr(w, channel);
    pgr_writer_put_cstr(w, payload);
    return pgr_writer_finish(w);
}

int
pgr_be_negotiate_decode(const uint8_t *body, size_t len, pgr_be_negotiate_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->newest_minor = pgr_reader_i32(&r);
    int32_t n = pgr_reader_i32(&r);
    if (n < 0)
        pgr_reader_fail(&r, PGR_EPROTO);
    out->options = r.p;
    out->noptions = 0;
    for (int32_t i = 0; i < n && !r.err; i++)
        if (pgr_reader_cstr(&r, NULL))
            out->noptions++;
    out->options_len = r.err ? 0 : (size_t)(r.p - out->options);
    return pgr_reader_end(&r);
}

void
pgr_be_negotiate_options(const pgr_be_negotiate_t *m, pgr_reader_t *it)
{
    pgr_reader_init(it, m->options, m->options_len);
}

const char *
pgr_be_negotiate_option_next(pgr_reader_t *it)
{
    return pgr_reader_avail(it) ? pgr_reader_cstr(it, NULL) : NULL;
}

int
pgr_be_write_negotiate(pgr_writer_t *w, int32_t newest_minor, int n, const char *const *options)
{
    pgr_writer_begin(w, 'v');
    pgr_writer_put_i32(w, newest_minor);
    if (n < 0)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_i32(w, n);
    for (int i = 0; i < n; i++)
        pgr_writer_put_cstr(w, options[i]);
    return pgr_writer_finish(w);
}

int
pgr_be_write_negotiate_msg(pgr_writer_t *w, const pgr_be_negotiate_t *m)
{
    pgr_reader_t it;
    const char *opt;
    pgr_writer_begin(w, 'v');
    pgr_writer_put_i32(w, m->newest_minor);
    pgr_writer_put_i32(w, m->noptions);
    pgr_be_negotiate_options(m, &it);
    while ((opt = pgr_be_negotiate_option_next(&it)) != NULL)
        pgr_writer_put_cstr(w, opt);
    return pgr_writer_finish(w);
}

int
pgr_be_funcresult_decode(const uint8_t *body, size_t len, pgr_be_funcresult_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->result.len = pgr_reader_i32(&r);
    out->result.data = NULL;
    if (out->result.len < -1)
        pgr_reader_fail(&r, PGR_EPROTO);
    else if (out->result.len >= 0)
        out->result.data = pgr_reader_bytes(&r, (size_t)out->result.len);
    return pgr_reader_end(&r);
}

int
pgr_be_write_funcresult(pgr_writer_t *w, const void *data, int32_t len)
{
    pgr_writer_begin(w, 'V');
    pgr_writer_put_value(w, data, len);
    return pgr_writer_finish(w);
}

/* Frontend messages: decoders over a frame body and encoders over a writer (see frontend.h). */
#include <string.h>

#include "protocol/frame.h"
#include "protocol/frontend.h"

bool
pgr_value_next(pgr_value_iter_t *it, pgr_value_t *v)
{
    if (it->remaining <= 0)
        return false;
    it->remaining--;
    int32_t n = pgr_reader_i32(&it->r);
    v->len = n;
    v->data = n < 0 ? NULL : pgr_reader_bytes(&it->r, (size_t)n);
    if (it->r.err) { /* only on arrays no decoder validated */
        it->remaining = 0;
        return false;
    }
    return true;
}

int16_t
pgr_i16s_at(pgr_i16s_t a, int i)
{
    return i >= 0 && i < a.count ? (int16_t)pgr_be16(a.raw + 2 * (size_t)i) : 0;
}

int32_t
pgr_i32s_at(pgr_i32s_t a, int i)
{
    return i >= 0 && i < a.count ? (int32_t)pgr_be32(a.raw + 4 * (size_t)i) : 0;
}

/* An int16 count followed by count int16s; a negative count or one past the end fails. */
static pgr_i16s_t
read_i16s(pgr_reader_t *r)
{
    pgr_i16s_t a = {NULL, 0};
    int16_t n = pgr_reader_i16(r);
    if (n < 0) {
        pgr_reader_fail(r, PGR_EPROTO);
        return a;
    }
    a.raw = pgr_reader_bytes(r, 2 * (size_t)n);
    a.count = a.raw ? n : 0;
    return a;
}

/* count (already read) length-prefixed values; each length is -1 or 0..remaining. Returns the
 * start of the run and its byte length. Work is bounded by the bytes present, not the count. */
static const uint8_t *
read_values(pgr_reader_t *r, int count, size_t *len)
{
    const uint8_t *start = r->p;
    *len = 0;
    if (count < 0) {
        pgr_reader_fail(r, PGR_EPROTO);
        return NULL;
    }
    for (int i = 0; i < count && !r->err; i++) {
        int32_t n = pgr_reader_i32(r);
        if (n < -1)
            pgr_reader_fail(r, PGR_EPROTO);
        else if (n > 0)
            pgr_reader_bytes(r, (size_t)n);
    }
    if (r->err)
        return NULL;
    *len = (size_t)(r->p - start);
    return start;
}

static void
values_iter(pgr_value_iter_t *it, const uint8_t *raw, size_t len, int count)
{
    pgr_reader_init(&it->r, raw, len);
    it->remaining = count;
}

/* ---- startup forms ---- */

int
pgr_fe_startup_decode(const uint8_t *body, size_t len, pgr_fe_startup_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    memset(out, 0, sizeof(*out));
    uint32_t version = (uint32_t)pgr_reader_i32(&r);
    out->major = (uint16_t)(version >> 16);
    out->minor = (uint16_t)version;
    out->params = r.p;
    for (;;) {
        size_t n;
        const char *name = pgr_reader_cstr(&r, &n);
        if (name == NULL)
            return r.err;
        if (n == 0)
            break;
        const char *value = pgr_reader_cstr(&r, NULL);
        if (value == NULL)
            return r.err;
        out->nparams++;
        if (strcmp(name, "user") == 0)
            out->user = value;
        else if (strcmp(name, "database") == 0)
            out->database = value;
        else if (strcmp(name, "options") == 0)
            out->options = value;
        else if (strncmp(name, "_pq_.", 5) == 0)
            out->n_pq_options++;
    }
    out->params_len = (size_t)(r.p - out->params);
    return pgr_reader_end(&r);
}

void
pgr_fe_startup_params(const pgr_fe_startup_t *st, pgr_fe_param_iter_t *it)
{
    pgr_reader_init(&it->r, st->params, st->params_len);
}

bool
pgr_fe_startup_param_next(pgr_fe_param_iter_t *it, const char **name, const char **value)
{
    size_t n;
    *name = pgr_reader_cstr(&it->r, &n);
    if (*name == NULL || n == 0)
        return false;
    *value = pgr_reader_cstr(&it->r, NULL);
    return *value != NULL;
}

pgr_fe_version_t
pgr_fe_startup_version(const pgr_fe_startup_t *st)
{
    if (st->major != 3)
        return PGR_FE_VERSION_UNSUPPORTED;
    if (st->minor > 0 || st->n_pq_options > 0)
        return PGR_FE_VERSION_NEGOTIATE;
    return PGR_FE_VERSION_OK;
}

int
pgr_fe_startup_write_negotiate(pgr_writer_t *w, const pgr_fe_startup_t *st)
{
    pgr_fe_param_iter_t it;
    const char *name, *value;
    pgr_writer_begin(w, 'v');
    pgr_writer_put_i32(w, 0);
    pgr_writer_put_i32(w, st->n_pq_options);
    pgr_fe_startup_params(st, &it);
    while (pgr_fe_startup_param_next(&it, &name, &value))
        if (strncmp(name, "_pq_.", 5) == 0)
            pgr_writer_put_cstr(w, name);
    return pgr_writer_finish(w);
}

int
pgr_fe_write_startup(pgr_writer_t *w, uint16_t major, uint16_t minor, const char *const *names,
                     const char *const *values, int nparams)
{
    pgr_writer_begin(w, 0);
    pgr_writer_put_i32(w, (int32_t)((uint32_t)major << 16 | minor));
    for (int i = 0; i < nparams; i++) {
        if (names[i] == NULL || names[i][0] == '\0')
            pgr_writer_fail(w, PGR_EINVAL); /* an empty name would end the list */
        pgr_writer_put_cstr(w, names[i]);
        pgr_writer_put_cstr(w, values[i]);
    }
    pgr_writer_put_u8(w, 0);
    return pgr_writer_finish(w);
}

static int
write_code(pgr_writer_t *w, uint32_t code)
{
    pgr_writer_begin(w, 0);
    pgr_writer_put_i32(w, (int32_t)code);
    return pgr_writer_finish(w);
}

int
pgr_fe_write_sslrequest(pgr_writer_t *w)
{
    return write_code(w, PGR_SSL_CODE);
}

int
pgr_fe_write_gssencrequest(pgr_writer_t *w)
{
    return write_code(w, PGR_GSSENC_CODE);
}

int
pgr_fe_cancel_decode(const uint8_t *body, size_t len, pgr_fe_cancel_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    if ((uint32_t)pgr_reader_i32(&r) != PGR_CANCEL_CODE)
        pgr_reader_fail(&r, PGR_EPROTO);
    out->pid = pgr_reader_i32(&r);
    out->key = pgr_reader_i32(&r);
    return pgr_reader_end(&r);
}

int
pgr_fe_write_cancel(pgr_writer_t *w, int32_t pid, int32_t key)
{
    pgr_writer_begin(w, 0);
    pgr_writer_put_i32(w, (int32_t)PGR_CANCEL_CODE);
    pgr_writer_put_i32(w, pid);
    pgr_writer_put_i32(w, key);
    return pgr_writer_finish(w);
}

/* ---- typed messages ---- */

int
pgr_fe_query_decode(const uint8_t *body, size_t len, pgr_fe_query_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->sql = pgr_reader_cstr(&r, &out->len);
    return pgr_reader_end(&r);
}

int
pgr_fe_write_query(pgr_writer_t *w, const char *sql)
{
    pgr_writer_begin(w, 'Q');
    pgr_writer_put_cstr(w, sql);
    return pgr_writer_finish(w);
}

int
pgr_fe_parse_decode(const uint8_t *body, size_t len, pgr_fe_parse_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->name = pgr_reader_cstr(&r, NULL);
    out->query = pgr_reader_cstr(&r, NULL);
    int16_t n = pgr_reader_i16(&r);
    if (n < 0)
        pgr_reader_fail(&r, PGR_EPROTO);
    out->param_types.raw = pgr_reader_bytes(&r, 4 * (size_t)(n < 0 ? 0 : n));
    out->param_types.count = n;
    return pgr_reader_end(&r);
}

int
pgr_fe_write_parse(pgr_writer_t *w, const char *name, const char *query, int ntypes,
                   const uint32_t *types)
{
    pgr_writer_begin(w, 'P');
    pgr_writer_put_cstr(w, name);
    pgr_writer_put_cstr(w, query);
    if (ntypes < 0 || ntypes > INT16_MAX)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_i16(w, (int16_t)ntypes);
    for (int i = 0; i < ntypes; i++)
        pgr_writer_put_i32(w, (int32_t)types[i]);
    return pgr_writer_finish(w);
}

int
pgr_fe_write_parse_msg(pgr_writer_t *w, const pgr_fe_parse_t *m)
{
    pgr_writer_begin(w, 'P');
    pgr_writer_put_cstr(w, m->name);
    pgr_writer_put_cstr(w, m->query);
    pgr_writer_put_i16(w, (int16_t)m->param_types.count);
    for (int i = 0; i < m->param_types.count; i++)
        pgr_writer_put_i32(w, pgr_i32s_at(m->param_types, i));
    return pgr_writer_finish(w);
}

int
pgr_fe_bind_decode(const uint8_t *body, size_t len, pgr_fe_bind_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->portal = pgr_reader_cstr(&r, NULL);
    out->statement = pgr_reader_cstr(&r, NULL);
    out->param_formats = read_i16s(&r);
    out->nparams = pgr_reader_i16(&r);
    out->params = read_values(&r, out->nparams, &out->params_len);
    out->result_formats = read_i16s(&r);
    /* PostgreSQL: 0 formats, 1 format for all, or one per parameter. */
    if (!r.err && out->param_formats.count > 1 && out->param_formats.count != out->nparams)
        pgr_reader_fail(&r, PGR_EPROTO);
    return pgr_reader_end(&r);
}

void
pgr_fe_bind_params(const pgr_fe_bind_t *m, pgr_value_iter_t *it)
{
    values_iter(it, m->params, m->params_len, m->nparams);
}

static void
put_i16s(pgr_writer_t *w, int n, const int16_t *v)
{
    if (n < 0 || n > INT16_MAX)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_i16(w, (int16_t)n);
    for (int i = 0; i < n; i++)
        pgr_writer_put_i16(w, v[i]);
}

static void
put_i16s_raw(pgr_writer_t *w, pgr_i16s_t a)
{
    pgr_writer_put_i16(w, (int16_t)a.count);
    for (int i = 0; i < a.count; i++)
        pgr_writer_put_i16(w, pgr_i16s_at(a, i));
}

int
pgr_fe_write_bind(pgr_writer_t *w, const char *portal, const char *statement, int nformats,
                  const int16_t *formats, int nparams, const pgr_value_t *params,
                  int nresult_formats, const int16_t *result_formats)
{
    pgr_writer_begin(w, 'B');
    pgr_writer_put_cstr(w, portal);
    pgr_writer_put_cstr(w, statement);
    put_i16s(w, nformats, formats);
    if (nparams < 0 || nparams > INT16_MAX)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_i16(w, (int16_t)nparams);
    for (int i = 0; i < nparams; i++)
        pgr_writer_put_value(w, params[i].data, params[i].len);
    put_i16s(w, nresult_formats, result_formats);
    return pgr_writer_finish(w);
}

int
pgr_fe_write_bind_msg(pgr_writer_t *w, const pgr_fe_bind_t *m)
{
    pgr_value_iter_t it;
    pgr_value_t v;
    pgr_writer_begin(w, 'B');
    pgr_writer_put_cstr(w, m->portal);
    pgr_writer_put_cstr(w, m->statement);
    put_i16s_raw(w, m->param_formats);
    pgr_writer_put_i16(w, (int16_t)m->nparams);
    pgr_fe_bind_params(m, &it);
    while (pgr_value_next(&it, &v))
        pgr_writer_put_value(w, v.data, v.len);
    put_i16s_raw(w, m->result_formats);
    return pgr_writer_finish(w);
}

static int
target_decode(const uint8_t *body, size_t len, pgr_fe_target_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->kind = pgr_reader_u8(&r);
    out->name = pgr_reader_cstr(&r, NULL);
    if (!r.err && out->kind != 'S' && out->kind != 'P')
        pgr_reader_fail(&r, PGR_EPROTO);
    return pgr_reader_end(&r);
}

int
pgr_fe_describe_decode(const uint8_t *body, size_t len, pgr_fe_target_t *out)
{
    return target_decode(body, len, out);
}

int
pgr_fe_close_decode(const uint8_t *body, size_t len, pgr_fe_target_t *out)
{
    return target_decode(body, len, out);
}

static int
write_target(pgr_writer_t *w, uint8_t type, uint8_t kind, const char *name)
{
    pgr_writer_begin(w, type);
    if (kind != 'S' && kind != 'P')
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_u8(w, kind);
    pgr_writer_put_cstr(w, name);
    return pgr_writer_finish(w);
}

int
pgr_fe_write_describe(pgr_writer_t *w, uint8_t kind, const char *name)
{
    return write_target(w, 'D', kind, name);
}

int
pgr_fe_write_close(pgr_writer_t *w, uint8_t kind, const char *name)
{
    return write_target(w, 'C', kind, name);
}

int
pgr_fe_execute_decode(const uint8_t *body, size_t len, pgr_fe_execute_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->portal = pgr_reader_cstr(&r, NULL);
    out->max_rows = pgr_reader_i32(&r);
    return pgr_reader_end(&r);
}

int
pgr_fe_write_execute(pgr_writer_t *w, const char *portal, int32_t max_rows)
{
    pgr_writer_begin(w, 'E');
    pgr_writer_put_cstr(w, portal);
    pgr_writer_put_i32(w, max_rows);
    return pgr_writer_finish(w);
}

int
pgr_fe_empty_decode(const uint8_t *body, size_t len)
{
    (void)body;
    return len == 0 ? 0 : PGR_ETRAILING;
}

int
pgr_fe_write_empty(pgr_writer_t *w, uint8_t type)
{
    pgr_writer_begin(w, type);
    return pgr_writer_finish(w);
}

int
pgr_fe_copydata_decode(const uint8_t *body, size_t len, pgr_fe_copydata_t *out)
{
    out->data = body;
    out->len = len;
    return 0;
}

int
pgr_fe_write_copydata(pgr_writer_t *w, const void *data, size_t len)
{
    pgr_writer_begin(w, 'd');
    pgr_writer_put_bytes(w, data, len);
    return pgr_writer_finish(w);
}

int
pgr_fe_copyfail_decode(const uint8_t *body, size_t len, pgr_fe_copyfail_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->message = pgr_reader_cstr(&r, NULL);
    return pgr_reader_end(&r);
}

int
pgr_fe_write_copyfail(pgr_writer_t *w, const char *message)
{
    pgr_writer_begin(w, 'f');
    pgr_writer_put_cstr(w, message);
    return pgr_writer_finish(w);
}

int
pgr_fe_funccall_decode(const uint8_t *body, size_t len, pgr_fe_funccall_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->fn_oid = pgr_reader_i32(&r);
    out->arg_formats = read_i16s(&r);
    out->nargs = pgr_reader_i16(&r);
    out->args = read_values(&r, out->nargs, &out->args_len);
    out->result_format = pgr_reader_i16(&r);
    if (!r.err && out->arg_formats.count > 1 && out->arg_formats.count != out->nargs)
        pgr_reader_fail(&r, PGR_EPROTO);
    return pgr_reader_end(&r);
}

void
pgr_fe_funccall_args(const pgr_fe_funccall_t *m, pgr_value_iter_t *it)
{
    values_iter(it, m->args, m->args_len, m->nargs);
}

int
pgr_fe_write_funccall(pgr_writer_t *w, int32_t fn_oid, int nformats, const int16_t *formats,
                      int nargs, const pgr_value_t *args, int16_t result_format)
{
    pgr_writer_begin(w, 'F');
    pgr_writer_put_i32(w, fn_oid);
    put_i16s(w, nformats, formats);
    if (nargs < 0 || nargs > INT16_MAX)
        pgr_writer_fail(w, PGR_EINVAL);
    pgr_writer_put_i16(w, (int16_t)nargs);
    for (int i = 0; i < nargs; i++)
        pgr_writer_put_value(w, args[i].data, args[i].len);
    pgr_writer_put_i16(w, result_format);
    return pgr_writer_finish(w);
}

int
pgr_fe_write_funccall_msg(pgr_writer_t *w, const pgr_fe_funccall_t *m)
{
    pgr_value_iter_t it;
    pgr_value_t v;
    pgr_writer_begin(w, 'F');
    pgr_writer_put_i32(w, m->fn_oid);
    put_i16s_raw(w, m->arg_formats);
    pgr_writer_put_i16(w, (int16_t)m->nargs);
    pgr_fe_funccall_args(m, &it);
    while (pgr_value_next(&it, &v))
        pgr_writer_put_value(w, v.data, v.len);
    pgr_writer_put_i16(w, m->result_format);
    return pgr_writer_finish(w);
}

int
pgr_fe_password_decode(const uint8_t *body, size_t len, pgr_fe_password_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->password = pgr_reader_cstr(&r, NULL);
    return pgr_reader_end(&r);
}

int
pgr_fe_write_password(pgr_writer_t *w, const char *password)
{
    pgr_writer_begin(w, 'p');
    pgr_writer_put_cstr(w, password);
    return pgr_writer_finish(w);
}

int
pgr_fe_sasl_initial_decode(const uint8_t *body, size_t len, pgr_fe_sasl_initial_t *out)
{
    pgr_reader_t r;
    pgr_reader_init(&r, body, len);
    out->mechanism = pgr_reader_cstr(&r, NULL);
    out->len = pgr_reader_i32(&r);
    out->data = NULL;
    if (out->len < -1)
        pgr_reader_fail(&r, PGR_EPROTO);
    else if (out->len >= 0)
        out->data = pgr_reader_bytes(&r, (size_t)out->len);
    return pgr_reader_end(&r);
}

int
pgr_fe_write_sasl_initial(pgr_writer_t *w, const char *mechanism, const void *data, int32_t len)
{
    pgr_writer_begin(w, 'p');
    pgr_writer_put_cstr(w, mechanism);
    pgr_writer_put_value(w, data, len);
    return pgr_writer_finish(w);
}

int
pgr_fe_sasl_response_decode(const uint8_t *body, size_t len, pgr_fe_sasl_response_t *out)
{
    out->data = body;
    out->len = len;
    return 0;
}

int
pgr_fe_write_sasl_response(pgr_writer_t *w, const void *data, size_t len)
{
    pgr_writer_begin(w, 'p');
    pgr_writer_put_bytes(w, data, len);
    return pgr_writer_finish(w);
}

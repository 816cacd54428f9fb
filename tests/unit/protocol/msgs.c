/* msgs_decode(): one switch over every message type (see msgs.h). */
#include <string.h>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/tag.h"
#include "msgs.h"

/* Reads every value so sanitizers see each access. */
static unsigned
walk_values(pgr_value_iter_t *it)
{
    pgr_value_t v;
    unsigned sum = 0;
    while (pgr_value_next(it, &v))
        if (v.len > 0)
            sum += v.data[0] + v.data[v.len - 1];
    return sum;
}

static int
startup_msg(const pgr_frame_t *f, pgr_writer_t *w)
{
    int rc;
    switch (f->startup) {
    case PGR_STARTUP_MESSAGE: {
        pgr_fe_startup_t st;
        if ((rc = pgr_fe_startup_decode(f->body, f->body_len, &st)) != 0)
            return rc;
        const char *names[256], *values[256];
        int n = 0;
        pgr_fe_param_iter_t it;
        pgr_fe_startup_params(&st, &it);
        while (n < 256 && pgr_fe_startup_param_next(&it, &names[n], &values[n]))
            n++;
        if (n != st.nparams && n < 256)
            return PGR_EINVAL; /* the iterator disagrees with the decoder */
        if (pgr_fe_startup_version(&st) == PGR_FE_VERSION_NEGOTIATE) {
            pgr_writer_t nw;
            pgr_writer_init_grow(&nw);
            rc = pgr_fe_startup_write_negotiate(&nw, &st);
            pgr_writer_free(&nw);
            if (rc)
                return rc;
        }
        if (w == NULL || n >= 256)
            return 0;
        return pgr_fe_write_startup(w, st.major, st.minor, names, values, n);
    }
    case PGR_STARTUP_CANCEL: {
        pgr_fe_cancel_t m;
        if ((rc = pgr_fe_cancel_decode(f->body, f->body_len, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_cancel(w, m.pid, m.key) : 0;
    }
    case PGR_STARTUP_SSL:
        return w ? pgr_fe_write_sslrequest(w) : 0;
    case PGR_STARTUP_GSSENC:
        return w ? pgr_fe_write_gssencrequest(w) : 0;
    default:
        return PGR_EINVAL;
    }
}

static int
frontend_msg(const pgr_frame_t *f, int p_kind, pgr_writer_t *w)
{
    const uint8_t *b = f->body;
    size_t n = f->body_len;
    int rc;
    switch (f->type) {
    case 'Q': {
        pgr_fe_query_t m;
        if ((rc = pgr_fe_query_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_query(w, m.sql) : 0;
    }
    case 'P': {
        pgr_fe_parse_t m;
        if ((rc = pgr_fe_parse_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_parse_msg(w, &m) : 0;
    }
    case 'B': {
        pgr_fe_bind_t m;
        pgr_value_iter_t it;
        if ((rc = pgr_fe_bind_decode(b, n, &m)) != 0)
            return rc;
        pgr_fe_bind_params(&m, &it);
        (void)walk_values(&it);
        for (int i = 0; i < m.param_formats.count; i++)
            (void)pgr_i16s_at(m.param_formats, i);
        return w ? pgr_fe_write_bind_msg(w, &m) : 0;
    }
    case 'D':
    case 'C': {
        pgr_fe_target_t m;
        rc = f->type == 'D' ? pgr_fe_describe_decode(b, n, &m) : pgr_fe_close_decode(b, n, &m);
        if (rc)
            return rc;
        if (w == NULL)
            return 0;
        return f->type == 'D' ? pgr_fe_write_describe(w, m.kind, m.name)
                              : pgr_fe_write_close(w, m.kind, m.name);
    }
    case 'E': {
        pgr_fe_execute_t m;
        if ((rc = pgr_fe_execute_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_execute(w, m.portal, m.max_rows) : 0;
    }
    case 'S': case 'H': case 'X': case 'c':
        if ((rc = pgr_fe_empty_decode(b, n)) != 0)
            return rc;
        return w ? pgr_fe_write_empty(w, f->type) : 0;
    case 'd': {
        pgr_fe_copydata_t m;
        if ((rc = pgr_fe_copydata_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_copydata(w, m.data, m.len) : 0;
    }
    case 'f': {
        pgr_fe_copyfail_t m;
        if ((rc = pgr_fe_copyfail_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_copyfail(w, m.message) : 0;
    }
    case 'F': {
        pgr_fe_funccall_t m;
        pgr_value_iter_t it;
        if ((rc = pgr_fe_funccall_decode(b, n, &m)) != 0)
            return rc;
        pgr_fe_funccall_args(&m, &it);
        (void)walk_values(&it);
        return w ? pgr_fe_write_funccall_msg(w, &m) : 0;
    }
    case 'p':
        if (p_kind == MSG_P_SASL_INITIAL) {
            pgr_fe_sasl_initial_t m;
            if ((rc = pgr_fe_sasl_initial_decode(b, n, &m)) != 0)
                return rc;
            return w ? pgr_fe_write_sasl_initial(w, m.mechanism, m.data, m.len) : 0;
        } else if (p_kind == MSG_P_SASL_RESPONSE) {
            pgr_fe_sasl_response_t m;
            if ((rc = pgr_fe_sasl_response_decode(b, n, &m)) != 0)
                return rc;
            return w ? pgr_fe_write_sasl_response(w, m.data, m.len) : 0;
        } else {
            pgr_fe_password_t m;
            if ((rc = pgr_fe_password_decode(b, n, &m)) != 0)
                return rc;
            return w ? pgr_fe_write_password(w, m.password) : 0;
        }
    default:
        return PGR_EPROTO;
    }
}

static int
backend_msg(const pgr_frame_t *f, pgr_writer_t *w)
{
    const uint8_t *b = f->body;
    size_t n = f->body_len;
    int rc;
    switch (f->type) {
    case 'R': {
        pgr_be_auth_t m;
        if ((rc = pgr_be_auth_decode(b, n, &m)) != 0)
            return rc;
        pgr_reader_t it;
        int k = 0;
        pgr_be_auth_mechanisms(&m, &it);
        while (pgr_be_auth_mechanism_next(&it))
            k++;
        if (k != m.nmechanisms)
            return PGR_EINVAL;
        return w ? pgr_be_write_auth_msg(w, &m) : 0;
    }
    case 'K': {
        pgr_be_keydata_t m;
        if ((rc = pgr_be_keydata_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_keydata(w, m.pid, m.key) : 0;
    }
    case 'S': {
        pgr_be_param_t m;
        if ((rc = pgr_be_param_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_param(w, m.name, m.value) : 0;
    }
    case 'Z': {
        pgr_be_ready_t m;
        if ((rc = pgr_be_ready_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_ready(w, m.status) : 0;
    }
    case 'T': {
        pgr_be_rowdesc_t m;
        pgr_be_rowdesc_iter_t it;
        pgr_be_field_t fld;
        if ((rc = pgr_be_rowdesc_decode(b, n, &m)) != 0)
            return rc;
        int k = 0;
        pgr_be_rowdesc_iter(&m, &it);
        while (pgr_be_rowdesc_next(&it, &fld))
            k++;
        if (k != m.nfields)
            return PGR_EINVAL; /* the iterator disagrees with the decoder */
        pgr_rowdesc_diff_t d;
        if (!pgr_be_rowdesc_equal(&m, &m, &d))
            return PGR_EINVAL;
        return w ? pgr_be_write_rowdesc_msg(w, &m) : 0;
    }
    case 'D': {
        pgr_be_datarow_t m;
        pgr_value_iter_t it;
        if ((rc = pgr_be_datarow_decode(b, n, &m)) != 0)
            return rc;
        pgr_be_datarow_iter(&m, &it);
        (void)walk_values(&it);
        return w ? pgr_be_write_datarow_msg(w, &m) : 0;
    }
    case 'C': {
        pgr_be_complete_t m;
        pgr_tag_t t, sum;
        char buf[64];
        if ((rc = pgr_be_complete_decode(b, n, &m)) != 0)
            return rc;
        if (pgr_tag_parse(m.tag, &t) == 0) {
            sum = t;
            if (pgr_tag_sum(&sum, &t) == 0)
                (void)pgr_tag_format(&sum, buf, sizeof(buf));
        }
        return w ? pgr_be_write_complete(w, m.tag) : 0;
    }
    case 'E':
    case 'N': {
        pgr_be_notice_t m;
        if ((rc = pgr_be_notice_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_notice_msg(w, f->type == 'N', &m) : 0;
    }
    case 'I': case '1': case '2': case '3': case 'n': case 's': case 'c':
        if ((rc = pgr_fe_empty_decode(b, n)) != 0)
            return rc;
        return w ? pgr_fe_write_empty(w, f->type) : 0;
    case 'd': {
        pgr_fe_copydata_t m;
        if ((rc = pgr_fe_copydata_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_fe_write_copydata(w, m.data, m.len) : 0;
    }
    case 't': {
        pgr_be_paramdesc_t m;
        if ((rc = pgr_be_paramdesc_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_paramdesc_msg(w, &m) : 0;
    }
    case 'G': case 'H': case 'W': {
        pgr_be_copyresp_t m;
        if ((rc = pgr_be_copyresp_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_copyresp_msg(w, f->type, &m) : 0;
    }
    case 'A': {
        pgr_be_notify_t m;
        if ((rc = pgr_be_notify_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_notify(w, m.pid, m.channel, m.payload) : 0;
    }
    case 'v': {
        pgr_be_negotiate_t m;
        if ((rc = pgr_be_negotiate_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_negotiate_msg(w, &m) : 0;
    }
    case 'V': {
        pgr_be_funcresult_t m;
        if ((rc = pgr_be_funcresult_decode(b, n, &m)) != 0)
            return rc;
        return w ? pgr_be_write_funcresult(w, m.result.data, m.result.len) : 0;
    }
    default:
        return PGR_EPROTO;
    }
}

int
msgs_decode(pgr_phase_t dir, const pgr_frame_t *f, int p_kind, pgr_writer_t *w)
{
    if (f->startup != PGR_STARTUP_NONE)
        return startup_msg(f, w);
    return dir == PGR_PHASE_BACKEND ? backend_msg(f, w) : frontend_msg(f, p_kind, w);
}

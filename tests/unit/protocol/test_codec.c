/* Round trips: encode with the codec's writers, frame, decode, check every field; then the
 * generic property over every message of every conversation (decode → encode is the identity). */
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"
#include "convo.h"
#include "msgs.h"
#include "../harness.h"

#define PGR_ARRAY_LEN_T(a) (sizeof(a) / sizeof((a)[0]))

static pgr_writer_t w;
static pgr_frame_t f;

/* Frames the single message just written (w holds only it); false when it does not frame. */
static bool
frame(pgr_phase_t phase)
{
    return pgr_frame_next(w.buf, w.len, phase, NULL, &f) == PGR_FRAME_OK && f.len == w.len;
}

static void
fresh(void)
{
    pgr_writer_reset(&w);
}

TEST(startup_roundtrip)
{
    static const char *const names[] = {"user", "database", "options", "_pq_.x", "app"};
    static const char *const values[] = {"alice", "db", "-c x=1", "1", "psql"};
    fresh();
    CHECK_INT(pgr_fe_write_startup(&w, 3, 0, names, values, 5), 0);
    CHECK(frame(PGR_PHASE_STARTUP));
    CHECK_INT(f.startup, PGR_STARTUP_MESSAGE);
    pgr_fe_startup_t st;
    CHECK_INT(pgr_fe_startup_decode(f.body, f.body_len, &st), 0);
    CHECK_INT(st.major, 3);
    CHECK_INT(st.minor, 0);
    CHECK_STR(st.user, "alice");
    CHECK_STR(st.database, "db");
    CHECK_STR(st.options, "-c x=1");
    CHECK_INT(st.nparams, 5);
    CHECK_INT(st.n_pq_options, 1);
    pgr_fe_param_iter_t it;
    const char *n, *v;
    int i = 0;
    pgr_fe_startup_params(&st, &it);
    while (pgr_fe_startup_param_next(&it, &n, &v)) {
        CHECK_STR(n, names[i]);
        CHECK_STR(v, values[i]);
        i++;
    }
    CHECK_INT(i, 5);
    /* _pq_ options need NegotiateProtocolVersion naming them */
    CHECK_INT(pgr_fe_startup_version(&st), PGR_FE_VERSION_NEGOTIATE);
    pgr_writer_t nw;
    pgr_writer_init_grow(&nw);
    CHECK_INT(pgr_fe_startup_write_negotiate(&nw, &st), 0);
    pgr_frame_t nf;
    CHECK_INT(pgr_frame_next(nw.buf, nw.len, PGR_PHASE_BACKEND, NULL, &nf), PGR_FRAME_OK);
    pgr_be_negotiate_t ng;
    CHECK_INT(pgr_be_negotiate_decode(nf.body, nf.body_len, &ng), 0);
    CHECK_INT(ng.newest_minor, 0);
    CHECK_INT(ng.noptions, 1);
    pgr_reader_t oit;
    pgr_be_negotiate_options(&ng, &oit);
    CHECK_STR(pgr_be_negotiate_option_next(&oit), "_pq_.x");
    CHECK(pgr_be_negotiate_option_next(&oit) == NULL);
    pgr_writer_free(&nw);
    /* versions */
    fresh();
    CHECK_INT(pgr_fe_write_startup(&w, 3, 0, names, values, 2), 0);
    CHECK(frame(PGR_PHASE_STARTUP));
    CHECK_INT(pgr_fe_startup_decode(f.body, f.body_len, &st), 0);
    CHECK_INT(pgr_fe_startup_version(&st), PGR_FE_VERSION_OK);
    fresh();
    CHECK_INT(pgr_fe_write_startup(&w, 3, 2, names, values, 2), 0);
    CHECK(frame(PGR_PHASE_STARTUP));
    CHECK_INT(pgr_fe_startup_decode(f.body, f.body_len, &st), 0);
    CHECK_INT(st.minor, 2);
    CHECK_INT(pgr_fe_startup_version(&st), PGR_FE_VERSION_NEGOTIATE);
    /* another major is refused by the framer already, with 0A000 */
    fresh();
    CHECK_INT(pgr_fe_write_startup(&w, 2, 0, names, values, 2), 0);
    CHECK_INT(pgr_frame_next(w.buf, w.len, PGR_PHASE_STARTUP, NULL, &f), PGR_FRAME_BAD);
    CHECK_STR(f.sqlstate, "0A000");
    CHECK_STR(f.reason, "unsupported frontend protocol");
    CHECK_INT(pgr_fe_startup_decode(w.buf + 4, w.len - 4, &st), 0);
    CHECK_INT(pgr_fe_startup_version(&st), PGR_FE_VERSION_UNSUPPORTED);
}

TEST(query_parse_bind)
{
    fresh();
    CHECK_INT(pgr_fe_write_query(&w, "SELECT 1;"), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(f.len, 15); /* type, length word, 9 bytes and the NUL */
    pgr_fe_query_t q;
    CHECK_INT(pgr_fe_query_decode(f.body, f.body_len, &q), 0);
    CHECK_STR(q.sql, "SELECT 1;");
    CHECK_INT(q.len, 9);

    static const uint32_t types[] = {23, 25, 0};
    fresh();
    CHECK_INT(pgr_fe_write_parse(&w, "s1", "SELECT $1, $2, $3", 3, types), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    pgr_fe_parse_t p;
    CHECK_INT(pgr_fe_parse_decode(f.body, f.body_len, &p), 0);
    CHECK_STR(p.name, "s1");
    CHECK_STR(p.query, "SELECT $1, $2, $3");
    CHECK_INT(p.param_types.count, 3);
    CHECK_INT(pgr_i32s_at(p.param_types, 0), 23);
    CHECK_INT(pgr_i32s_at(p.param_types, 1), 25);
    CHECK_INT(pgr_i32s_at(p.param_types, 2), 0);
    CHECK_INT(pgr_i32s_at(p.param_types, 3), 0); /* out of range reads 0 */

    static const int16_t fmts[] = {0, 1, 0};
    static const int16_t rfmts[] = {1};
    pgr_value_t params[3] = {{(const uint8_t *)"abc", 3}, {NULL, -1}, {(const uint8_t *)"", 0}};
    fresh();
    CHECK_INT(pgr_fe_write_bind(&w, "portal", "s1", 3, fmts, 3, params, 1, rfmts), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    pgr_fe_bind_t b;
    CHECK_INT(pgr_fe_bind_decode(f.body, f.body_len, &b), 0);
    CHECK_STR(b.portal, "portal");
    CHECK_STR(b.statement, "s1");
    CHECK_INT(b.param_formats.count, 3);
    CHECK_INT(pgr_i16s_at(b.param_formats, 1), 1);
    CHECK_INT(b.nparams, 3);
    CHECK_INT(b.result_formats.count, 1);
    CHECK_INT(pgr_i16s_at(b.result_formats, 0), 1);
    pgr_value_iter_t it;
    pgr_value_t v;
    pgr_fe_bind_params(&b, &it);
    CHECK(pgr_value_next(&it, &v));
    CHECK_INT(v.len, 3);
    CHECK_MEM(v.data, "abc", 3);
    CHECK(v.data >= f.body && v.data < f.body + f.body_len); /* points into the input */
    CHECK(pgr_value_next(&it, &v));
    CHECK_INT(v.len, -1);
    CHECK(v.data == NULL);
    CHECK(pgr_value_next(&it, &v));
    CHECK_INT(v.len, 0);
    CHECK(v.data != NULL);
    CHECK(!pgr_value_next(&it, &v));
}

TEST(small_frontend_messages)
{
    pgr_fe_target_t t;
    fresh();
    CHECK_INT(pgr_fe_write_describe(&w, 'S', "s1"), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(f.type, 'D');
    CHECK_INT(pgr_fe_describe_decode(f.body, f.body_len, &t), 0);
    CHECK_INT(t.kind, 'S');
    CHECK_STR(t.name, "s1");
    fresh();
    CHECK_INT(pgr_fe_write_close(&w, 'P', ""), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(f.type, 'C');
    CHECK_INT(pgr_fe_close_decode(f.body, f.body_len, &t), 0);
    CHECK_INT(t.kind, 'P');
    CHECK_STR(t.name, "");
    CHECK_INT(pgr_fe_write_close(&w, 'X', ""), PGR_EINVAL);

    pgr_fe_execute_t e;
    fresh();
    CHECK_INT(pgr_fe_write_execute(&w, "p", 50), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_execute_decode(f.body, f.body_len, &e), 0);
    CHECK_STR(e.portal, "p");
    CHECK_INT(e.max_rows, 50);

    const uint8_t types[] = {'S', 'H', 'X', 'c'};
    for (size_t i = 0; i < sizeof(types); i++) {
        fresh();
        CHECK_INT(pgr_fe_write_empty(&w, types[i]), 0);
        CHECK(frame(PGR_PHASE_FRONTEND));
        CHECK_INT(f.type, types[i]);
        CHECK_INT(f.len, 5);
        CHECK_INT(pgr_fe_empty_decode(f.body, f.body_len), 0);
    }

    pgr_fe_copydata_t d;
    fresh();
    CHECK_INT(pgr_fe_write_copydata(&w, "a\tb\n", 4), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_copydata_decode(f.body, f.body_len, &d), 0);
    CHECK_INT(d.len, 4);
    CHECK_MEM(d.data, "a\tb\n", 4);
    pgr_fe_copyfail_t cf;
    fresh();
    CHECK_INT(pgr_fe_write_copyfail(&w, "nope"), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_copyfail_decode(f.body, f.body_len, &cf), 0);
    CHECK_STR(cf.message, "nope");
}

TEST(funccall_and_auth_responses)
{
    static const int16_t fmts[] = {1};
    pgr_value_t args[2] = {{(const uint8_t *)"\0\0\0\1", 4}, {NULL, -1}};
    fresh();
    CHECK_INT(pgr_fe_write_funccall(&w, 1598, 1, fmts, 2, args, 1), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    pgr_fe_funccall_t fc;
    CHECK_INT(pgr_fe_funccall_decode(f.body, f.body_len, &fc), 0);
    CHECK_INT(fc.fn_oid, 1598);
    CHECK_INT(fc.arg_formats.count, 1);
    CHECK_INT(fc.nargs, 2);
    CHECK_INT(fc.result_format, 1);
    pgr_value_iter_t it;
    pgr_value_t v;
    pgr_fe_funccall_args(&fc, &it);
    CHECK(pgr_value_next(&it, &v) && v.len == 4 && v.data[3] == 1);
    CHECK(pgr_value_next(&it, &v) && v.len == -1);
    CHECK(!pgr_value_next(&it, &v));

    pgr_fe_password_t pw;
    fresh();
    CHECK_INT(pgr_fe_write_password(&w, "secret"), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_password_decode(f.body, f.body_len, &pw), 0);
    CHECK_STR(pw.password, "secret");

    pgr_fe_sasl_initial_t si;
    fresh();
    CHECK_INT(pgr_fe_write_sasl_initial(&w, "SCRAM-SHA-256", "n,,n=,r=abc", 11), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_sasl_initial_decode(f.body, f.body_len, &si), 0);
    CHECK_STR(si.mechanism, "SCRAM-SHA-256");
    CHECK_INT(si.len, 11);
    CHECK_MEM(si.data, "n,,n=,r=abc", 11);
    fresh();
    CHECK_INT(pgr_fe_write_sasl_initial(&w, "SCRAM-SHA-256", NULL, -1), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_sasl_initial_decode(f.body, f.body_len, &si), 0);
    CHECK_INT(si.len, -1);
    CHECK(si.data == NULL);

    pgr_fe_sasl_response_t sr;
    fresh();
    CHECK_INT(pgr_fe_write_sasl_response(&w, "c=biws", 6), 0);
    CHECK(frame(PGR_PHASE_FRONTEND));
    CHECK_INT(pgr_fe_sasl_response_decode(f.body, f.body_len, &sr), 0);
    CHECK_INT(sr.len, 6);
    CHECK_MEM(sr.data, "c=biws", 6);
}

TEST(auth_requests)
{
    pgr_be_auth_t a;
    static const int32_t plain[] = {PGR_AUTHREQ_OK, PGR_AUTHREQ_CLEARTEXT, PGR_AUTHREQ_KRB5,
                                    PGR_AUTHREQ_SCM, PGR_AUTHREQ_GSS, PGR_AUTHREQ_SSPI};
    for (size_t i = 0; i < PGR_ARRAY_LEN_T(plain); i++) {
        fresh();
        CHECK_INT(pgr_be_write_auth(&w, plain[i], NULL, 0), 0);
        CHECK(frame(PGR_PHASE_BACKEND));
        CHECK_INT(pgr_be_auth_decode(f.body, f.body_len, &a), 0);
        CHECK_INT(a.code, plain[i]);
        CHECK_INT(a.len, 0);
    }
    fresh();
    CHECK_INT(pgr_be_write_auth(&w, PGR_AUTHREQ_MD5, "\x01\x02\x03\x04", 4), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_auth_decode(f.body, f.body_len, &a), 0);
    CHECK_INT(a.code, PGR_AUTHREQ_MD5);
    CHECK_INT(a.len, 4);
    CHECK_MEM(a.data, "\x01\x02\x03\x04", 4);
    CHECK_INT(pgr_be_write_auth(&w, PGR_AUTHREQ_MD5, "\x01", 1), PGR_EINVAL);

    static const char *const mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
    fresh();
    CHECK_INT(pgr_be_write_auth_sasl(&w, mechs, 2), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_auth_decode(f.body, f.body_len, &a), 0);
    CHECK_INT(a.code, PGR_AUTHREQ_SASL);
    CHECK_INT(a.nmechanisms, 2);
    pgr_reader_t it;
    pgr_be_auth_mechanisms(&a, &it);
    CHECK_STR(pgr_be_auth_mechanism_next(&it), "SCRAM-SHA-256-PLUS");
    CHECK_STR(pgr_be_auth_mechanism_next(&it), "SCRAM-SHA-256");
    CHECK(pgr_be_auth_mechanism_next(&it) == NULL);

    static const int32_t payload[] = {PGR_AUTHREQ_SASL_CONT, PGR_AUTHREQ_SASL_FINAL, PGR_AUTHREQ_GSS_CONT};
    for (size_t i = 0; i < PGR_ARRAY_LEN_T(payload); i++) {
        fresh();
        CHECK_INT(pgr_be_write_auth(&w, payload[i], "r=xyz,s=abc,i=4096", 18), 0);
        CHECK(frame(PGR_PHASE_BACKEND));
        CHECK_INT(pgr_be_auth_decode(f.body, f.body_len, &a), 0);
        CHECK_INT(a.code, payload[i]);
        CHECK_INT(a.len, 18);
        CHECK_MEM(a.data, "r=xyz,s=abc,i=4096", 18);
    }
}

TEST(backend_small_messages)
{
    pgr_be_keydata_t k;
    fresh();
    CHECK_INT(pgr_be_write_keydata(&w, 1234, -5), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_keydata_decode(f.body, f.body_len, &k), 0);
    CHECK_INT(k.pid, 1234);
    CHECK_INT(k.key, -5);

    pgr_be_param_t p;
    fresh();
    CHECK_INT(pgr_be_write_param(&w, "TimeZone", "UTC"), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_param_decode(f.body, f.body_len, &p), 0);
    CHECK_STR(p.name, "TimeZone");
    CHECK_STR(p.value, "UTC");

    pgr_be_ready_t r;
    const uint8_t st[] = {'I', 'T', 'E'};
    for (int i = 0; i < 3; i++) {
        fresh();
        CHECK_INT(pgr_be_write_ready(&w, st[i]), 0);
        CHECK(frame(PGR_PHASE_BACKEND));
        CHECK_INT(pgr_be_ready_decode(f.body, f.body_len, &r), 0);
        CHECK_INT(r.status, st[i]);
    }
    CHECK_INT(pgr_be_write_ready(&w, 'X'), PGR_EINVAL);

    pgr_be_complete_t c;
    fresh();
    CHECK_INT(pgr_be_write_complete(&w, "INSERT 0 5"), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_complete_decode(f.body, f.body_len, &c), 0);
    CHECK_STR(c.tag, "INSERT 0 5");

    const uint8_t empty[] = {'I', '1', '2', '3', 'n', 's', 'c'};
    for (size_t i = 0; i < sizeof(empty); i++) {
        fresh();
        CHECK_INT(pgr_fe_write_empty(&w, empty[i]), 0);
        CHECK(frame(PGR_PHASE_BACKEND));
        CHECK_INT(f.type, empty[i]);
        CHECK_INT(pgr_fe_empty_decode(f.body, f.body_len), 0);
    }

    pgr_be_notify_t n;
    fresh();
    CHECK_INT(pgr_be_write_notify(&w, 77, "chan", "hello"), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_notify_decode(f.body, f.body_len, &n), 0);
    CHECK_INT(n.pid, 77);
    CHECK_STR(n.channel, "chan");
    CHECK_STR(n.payload, "hello");

    pgr_be_funcresult_t fr;
    fresh();
    CHECK_INT(pgr_be_write_funcresult(&w, "\0\0\0\x2a", 4), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_funcresult_decode(f.body, f.body_len, &fr), 0);
    CHECK_INT(fr.result.len, 4);
    CHECK_INT(fr.result.data[3], 42);
    fresh();
    CHECK_INT(pgr_be_write_funcresult(&w, NULL, -1), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_funcresult_decode(f.body, f.body_len, &fr), 0);
    CHECK_INT(fr.result.len, -1);
    CHECK(fr.result.data == NULL);

    pgr_be_paramdesc_t pd;
    static const uint32_t types[] = {23, 4294967295u};
    fresh();
    CHECK_INT(pgr_be_write_paramdesc(&w, 2, types), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(pgr_be_paramdesc_decode(f.body, f.body_len, &pd), 0);
    CHECK_INT(pd.types.count, 2);
    CHECK_INT(pgr_i32s_at(pd.types, 0), 23);
    CHECK_INT((uint32_t)pgr_i32s_at(pd.types, 1), 4294967295u);

    pgr_be_copyresp_t cr;
    static const int16_t fmts[] = {1, 1, 1};
    const uint8_t ct[] = {'G', 'H', 'W'};
    for (int i = 0; i < 3; i++) {
        fresh();
        CHECK_INT(pgr_be_write_copyresp(&w, ct[i], 1, 3, fmts), 0);
        CHECK(frame(PGR_PHASE_BACKEND));
        CHECK_INT(f.type, ct[i]);
        CHECK_INT(pgr_be_copyresp_decode(f.body, f.body_len, &cr), 0);
        CHECK_INT(cr.format, 1);
        CHECK_INT(cr.column_formats.count, 3);
        CHECK_INT(pgr_i16s_at(cr.column_formats, 2), 1);
    }
}

TEST(rowdesc_datarow)
{
    pgr_be_field_t cols[2] = {{"id", 16384, 1, 23, 4, -1, 0}, {"name", 16384, 2, 25, -1, -1, 1}};
    fresh();
    CHECK_INT(pgr_be_write_rowdesc(&w, 2, cols), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    pgr_be_rowdesc_t rd;
    CHECK_INT(pgr_be_rowdesc_decode(f.body, f.body_len, &rd), 0);
    CHECK_INT(rd.nfields, 2);
    pgr_be_rowdesc_iter_t it;
    pgr_be_field_t fl;
    pgr_be_rowdesc_iter(&rd, &it);
    CHECK(pgr_be_rowdesc_next(&it, &fl));
    CHECK_STR(fl.name, "id");
    CHECK_INT(fl.table_oid, 16384);
    CHECK_INT(fl.column, 1);
    CHECK_INT(fl.type_oid, 23);
    CHECK_INT(fl.typlen, 4);
    CHECK_INT(fl.typmod, -1);
    CHECK_INT(fl.format, 0);
    CHECK(pgr_be_rowdesc_next(&it, &fl));
    CHECK_STR(fl.name, "name");
    CHECK_INT(fl.typlen, -1);
    CHECK_INT(fl.format, 1);
    CHECK(!pgr_be_rowdesc_next(&it, &fl));

    pgr_value_t row[3] = {{(const uint8_t *)"1", 1}, {NULL, -1}, {(const uint8_t *)"", 0}};
    fresh();
    CHECK_INT(pgr_be_write_datarow(&w, 3, row), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    pgr_be_datarow_t dr;
    CHECK_INT(pgr_be_datarow_decode(f.body, f.body_len, &dr), 0);
    CHECK_INT(dr.ncols, 3);
    pgr_value_iter_t vi;
    pgr_value_t v;
    pgr_be_datarow_iter(&dr, &vi);
    CHECK(pgr_value_next(&vi, &v) && v.len == 1 && v.data[0] == '1');
    CHECK(pgr_value_next(&vi, &v) && v.len == -1 && v.data == NULL);
    CHECK(pgr_value_next(&vi, &v) && v.len == 0);
    CHECK(!pgr_value_next(&vi, &v));
}

/* Decodes a RowDescription built from fields into *rd, backed by the writer wb. */
static void
make_rowdesc(pgr_writer_t *wb, int n, const pgr_be_field_t *fields, pgr_be_rowdesc_t *rd)
{
    pgr_frame_t fr;
    pgr_writer_init_grow(wb);
    CHECK_INT(pgr_be_write_rowdesc(wb, n, fields), 0);
    CHECK_INT(pgr_frame_next(wb->buf, wb->len, PGR_PHASE_BACKEND, NULL, &fr), PGR_FRAME_OK);
    CHECK_INT(pgr_be_rowdesc_decode(fr.body, fr.body_len, rd), 0);
}

TEST(rowdesc_equality)
{
    pgr_be_field_t a[2] = {{"id", 1, 1, 23, 4, -1, 0}, {"name", 1, 2, 25, -1, -1, 0}};
    pgr_be_field_t b[2] = {{"id", 2, 7, 23, 4, 5, 0}, {"name", 9, 2, 25, -1, -1, 0}};
    pgr_writer_t wa, wb;
    pgr_be_rowdesc_t ra, rb;
    pgr_rowdesc_diff_t d;
    make_rowdesc(&wa, 2, a, &ra);
    make_rowdesc(&wb, 2, b, &rb);
    CHECK(pgr_be_rowdesc_equal(&ra, &rb, &d)); /* table OID, attnum, typmod are not compared */
    CHECK_INT(d.kind, PGR_ROWDESC_EQUAL);
    CHECK_STR(d.text, "");
    pgr_writer_free(&wb);

    b[1].name = "nom";
    make_rowdesc(&wb, 2, b, &rb);
    CHECK(!pgr_be_rowdesc_equal(&ra, &rb, &d));
    CHECK_INT(d.kind, PGR_ROWDESC_NAME);
    CHECK_INT(d.column, 1);
    CHECK_STR(d.text, "column 2: name \"name\" vs \"nom\"");
    pgr_writer_free(&wb);

    b[1].name = "name";
    b[0].type_oid = 20;
    make_rowdesc(&wb, 2, b, &rb);
    CHECK(!pgr_be_rowdesc_equal(&ra, &rb, &d));
    CHECK_INT(d.kind, PGR_ROWDESC_TYPE);
    CHECK_INT(d.column, 0);
    CHECK_STR(d.text, "column 1 (\"id\"): type OID 23 vs 20");
    pgr_writer_free(&wb);

    b[0].type_oid = 23;
    b[1].format = 1;
    make_rowdesc(&wb, 2, b, &rb);
    CHECK(!pgr_be_rowdesc_equal(&ra, &rb, &d));
    CHECK_INT(d.kind, PGR_ROWDESC_FORMAT);
    CHECK_INT(d.column, 1);
    pgr_writer_free(&wb);

    make_rowdesc(&wb, 1, b, &rb);
    CHECK(!pgr_be_rowdesc_equal(&ra, &rb, NULL));
    CHECK(!pgr_be_rowdesc_equal(&ra, &rb, &d));
    CHECK_INT(d.kind, PGR_ROWDESC_COUNT);
    CHECK_INT(d.column, -1);
    CHECK_STR(d.text, "column count 2 vs 1");
    pgr_writer_free(&wb);
    pgr_writer_free(&wa);
}

TEST(error_notice)
{
    fresh();
    CHECK_INT(pgr_be_write_error(&w, false, "ERROR", "53300", "too many clients",
                                 "pool pg1/app/alice is full", NULL), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(f.type, 'E');
    pgr_be_notice_t e;
    CHECK_INT(pgr_be_notice_decode(f.body, f.body_len, &e), 0);
    CHECK_STR(e.severity, "ERROR");
    CHECK_STR(e.severity_nl, "ERROR");
    CHECK_STR(e.sqlstate, "53300");
    CHECK_STR(e.message, "too many clients");
    CHECK_STR(e.detail, "pool pg1/app/alice is full");
    CHECK(e.hint == NULL);
    CHECK(e.routine == NULL);
    CHECK_INT(pgr_be_write_error(&w, true, "WARNING", "0100", "x", NULL, NULL), PGR_EINVAL);

    pgr_be_notice_t all = {"S", "V", "C0000", "M", "D", "H", "1", "2", "q", "W", "s", "t", "c",
                           "d", "n", "F", "L", "R"};
    fresh();
    CHECK_INT(pgr_be_write_notice_msg(&w, true, &all), 0);
    CHECK(frame(PGR_PHASE_BACKEND));
    CHECK_INT(f.type, 'N');
    CHECK_INT(pgr_be_notice_decode(f.body, f.body_len, &e), 0);
    CHECK_STR(e.severity, "S");
    CHECK_STR(e.severity_nl, "V");
    CHECK_STR(e.sqlstate, "C0000");
    CHECK_STR(e.position, "1");
    CHECK_STR(e.internal_position, "2");
    CHECK_STR(e.internal_query, "q");
    CHECK_STR(e.where, "W");
    CHECK_STR(e.schema, "s");
    CHECK_STR(e.table, "t");
    CHECK_STR(e.column, "c");
    CHECK_STR(e.datatype, "d");
    CHECK_STR(e.constraint, "n");
    CHECK_STR(e.file, "F");
    CHECK_STR(e.line, "L");
    CHECK_STR(e.routine, "R");
    /* unknown field codes are skipped; a repeated code keeps the last value */
    const uint8_t odd[] = "Xzzz\0Mfirst\0Msecond\0\0";
    CHECK_INT(pgr_be_notice_decode(odd, sizeof(odd) - 1, &e), 0);
    CHECK_STR(e.message, "second");
}

/* Every message of every conversation: decode → encode gives back the same bytes. */
TEST(conversations_reencode)
{
    int checked = 0;
    for (int k = 0; convo_names[k]; k++) {
        convo_t c;
        CHECK_INT(convo_build(&c, convo_names[k]), 0);
        int p_kind = MSG_P_PASSWORD;
        for (int i = 0; i < c.n; i++) {
            const convo_msg_t *m = &c.msgs[i];
            pgr_phase_t phase = m->startup ? PGR_PHASE_STARTUP
                                : m->dir == 'F' ? PGR_PHASE_FRONTEND : PGR_PHASE_BACKEND;
            pgr_frame_t fr;
            CHECK_INT(pgr_frame_next(c.w.buf + m->off, m->len, phase, NULL, &fr), PGR_FRAME_OK);
            CHECK_INT(fr.len, m->len);
            if (m->dir == 'B' && fr.type == 'R') {
                pgr_be_auth_t a;
                CHECK_INT(pgr_be_auth_decode(fr.body, fr.body_len, &a), 0);
                p_kind = a.code == PGR_AUTHREQ_SASL        ? MSG_P_SASL_INITIAL
                         : a.code == PGR_AUTHREQ_SASL_CONT ? MSG_P_SASL_RESPONSE
                                                        : MSG_P_PASSWORD;
            }
            pgr_writer_reset(&w);
            int rc = msgs_decode(phase == PGR_PHASE_BACKEND ? phase : PGR_PHASE_FRONTEND, &fr,
                                 p_kind, &w);
            if (rc != 0)
                printf("# %s message %d: error %d\n", c.name, i, rc);
            CHECK_INT(rc, 0);
            CHECK_INT(w.len, m->len);
            CHECK(w.len == m->len && memcmp(w.buf, c.w.buf + m->off, m->len) == 0);
            checked++;
        }
        convo_free(&c);
    }
    CHECK(checked > 100);
}

int
main(void)
{
    pgr_writer_init_grow(&w);
    int rc = RUN(startup_roundtrip, query_parse_bind, small_frontend_messages,
                 funccall_and_auth_responses, auth_requests, backend_small_messages,
                 rowdesc_datarow, rowdesc_equality, error_notice, conversations_reencode);
    pgr_writer_free(&w);
    return rc;
}

/* The conversations behind the golden traces and the fuzz seeds (see convo.h). */
#include <string.h>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "convo.h"

const char *const convo_names[] = {
    "simple_query", "extended_pipeline", "copy_in", "copy_out", "error_in_pipeline",
    "scram_exchange", "misc", NULL,
};

/* Records everything written since the last mark as one message from dir. */
static void
mark(convo_t *c, char dir, int startup, int rc)
{
    if (rc && !c->err)
        c->err = rc;
    if (c->n == CONVO_MAX_MSGS) {
        c->err = PGR_ELIMIT;
        return;
    }
    c->msgs[c->n++] = (convo_msg_t){dir, startup, c->mark, c->w.len - c->mark};
    c->mark = c->w.len;
}

#define F(call) mark(c, 'F', 0, (call))
#define FS(call) mark(c, 'F', 1, (call))
#define B(call) mark(c, 'B', 0, (call))

static const pgr_be_field_t col_int = {"id", 16384, 1, 23, 4, -1, 0};
static const pgr_be_field_t col_text = {"name", 16384, 2, 25, -1, -1, 0};

static void
login(convo_t *c)
{
    static const char *const names[] = {"user", "database", "application_name"};
    static const char *const values[] = {"alice", "app", "psql"};
    FS(pgr_fe_write_startup(&c->w, 3, 0, names, values, 3));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_OK, NULL, 0));
    B(pgr_be_write_param(&c->w, "server_version", "15.18"));
    B(pgr_be_write_param(&c->w, "client_encoding", "UTF8"));
    B(pgr_be_write_keydata(&c->w, 4242, 0x5eed1234));
    B(pgr_be_write_ready(&c->w, 'I'));
}

static void
simple_query(convo_t *c)
{
    pgr_be_field_t cols[2] = {col_int, col_text};
    pgr_value_t row1[2] = {{(const uint8_t *)"1", 1}, {(const uint8_t *)"one", 3}};
    pgr_value_t row2[2] = {{(const uint8_t *)"2", 1}, {NULL, -1}};
    login(c);
    F(pgr_fe_write_query(&c->w, "SELECT id, name FROM t;"));
    B(pgr_be_write_rowdesc(&c->w, 2, cols));
    B(pgr_be_write_datarow(&c->w, 2, row1));
    B(pgr_be_write_datarow(&c->w, 2, row2));
    B(pgr_be_write_complete(&c->w, "SELECT 2"));
    B(pgr_be_write_ready(&c->w, 'I'));
    F(pgr_fe_write_query(&c->w, ""));
    B(pgr_fe_write_empty(&c->w, 'I'));
    B(pgr_be_write_ready(&c->w, 'I'));
    F(pgr_fe_write_empty(&c->w, 'X'));
}

static void
extended_pipeline(convo_t *c)
{
    static const uint32_t types[] = {23};
    static const int16_t fmt_text[] = {0};
    static const int16_t fmt_bin[] = {1};
    pgr_be_field_t cols[1] = {col_text};
    pgr_value_t p1[1] = {{(const uint8_t *)"42", 2}};
    pgr_value_t p2[1] = {{(const uint8_t *)"\x00\x00\x00\x07", 4}};
    pgr_value_t row[1] = {{(const uint8_t *)"forty-two", 9}};
    login(c);
    F(pgr_fe_write_parse(&c->w, "s1", "SELECT name FROM t WHERE id = $1", 1, types));
    F(pgr_fe_write_describe(&c->w, 'S', "s1"));
    F(pgr_fe_write_bind(&c->w, "", "s1", 1, fmt_text, 1, p1, 1, fmt_text));
    F(pgr_fe_write_execute(&c->w, "", 0));
    F(pgr_fe_write_bind(&c->w, "p2", "s1", 1, fmt_bin, 1, p2, 0, NULL));
    F(pgr_fe_write_execute(&c->w, "p2", 1));
    F(pgr_fe_write_close(&c->w, 'P', "p2"));
    F(pgr_fe_write_empty(&c->w, 'S'));
    B(pgr_fe_write_empty(&c->w, '1'));
    B(pgr_be_write_paramdesc(&c->w, 1, types));
    B(pgr_be_write_rowdesc(&c->w, 1, cols));
    B(pgr_fe_write_empty(&c->w, '2'));
    B(pgr_be_write_datarow(&c->w, 1, row));
    B(pgr_be_write_complete(&c->w, "SELECT 1"));
    B(pgr_fe_write_empty(&c->w, '2'));
    B(pgr_be_write_datarow(&c->w, 1, row));
    B(pgr_fe_write_empty(&c->w, 's'));
    B(pgr_fe_write_empty(&c->w, '3'));
    B(pgr_be_write_ready(&c->w, 'I'));
    F(pgr_fe_write_parse(&c->w, "", "UPDATE t SET name = 'x' WHERE id < 3", 0, NULL));
    F(pgr_fe_write_bind(&c->w, "", "", 0, NULL, 0, NULL, 0, NULL));
    F(pgr_fe_write_describe(&c->w, 'P', ""));
    F(pgr_fe_write_execute(&c->w, "", 0));
    F(pgr_fe_write_empty(&c->w, 'H'));
    B(pgr_fe_write_empty(&c->w, '1'));
    B(pgr_fe_write_empty(&c->w, '2'));
    B(pgr_fe_write_empty(&c->w, 'n'));
    B(pgr_be_write_complete(&c->w, "UPDATE 2"));
    F(pgr_fe_write_empty(&c->w, 'S'));
    B(pgr_be_write_ready(&c->w, 'I'));
}

static void
copy_in(convo_t *c)
{
    static const int16_t fmts[] = {0, 0};
    login(c);
    F(pgr_fe_write_query(&c->w, "COPY t FROM STDIN;"));
    B(pgr_be_write_copyresp(&c->w, 'G', 0, 2, fmts));
    F(pgr_fe_write_copydata(&c->w, "1\tone\n", 6));
    F(pgr_fe_write_copydata(&c->w, "2\ttwo\n", 6));
    F(pgr_fe_write_empty(&c->w, 'c'));
    B(pgr_be_write_complete(&c->w, "COPY 2"));
    B(pgr_be_write_ready(&c->w, 'I'));
    F(pgr_fe_write_query(&c->w, "COPY t FROM STDIN;"));
    B(pgr_be_write_copyresp(&c->w, 'G', 0, 2, fmts));
    F(pgr_fe_write_copydata(&c->w, "3\tthree\n", 8));
    F(pgr_fe_write_copyfail(&c->w, "client gave up"));
    B(pgr_be_write_error(&c->w, false, "ERROR", "57014", "COPY from stdin failed: client gave up",
                         NULL, NULL));
    B(pgr_be_write_ready(&c->w, 'I'));
}

static void
copy_out(convo_t *c)
{
    static const int16_t fmts[] = {0, 0};
    login(c);
    F(pgr_fe_write_query(&c->w, "COPY t TO STDOUT;"));
    B(pgr_be_write_copyresp(&c->w, 'H', 0, 2, fmts));
    B(pgr_fe_write_copydata(&c->w, "1\tone\n", 6));
    B(pgr_fe_write_copydata(&c->w, "2\t\\N\n", 5));
    B(pgr_fe_write_empty(&c->w, 'c'));
    B(pgr_be_write_complete(&c->w, "COPY 2"));
    B(pgr_be_write_ready(&c->w, 'I'));
}

static void
error_in_pipeline(convo_t *c)
{
    pgr_value_t p[1] = {{(const uint8_t *)"1", 1}};
    pgr_be_notice_t e = {
        .severity = "ERROR", .severity_nl = "ERROR", .sqlstate = "22012",
        .message = "division by zero", .file = "int.c", .line = "841", .routine = "int4div",
    };
    login(c);
    F(pgr_fe_write_parse(&c->w, "", "SELECT 1 / ($1::int - 1)", 0, NULL));
    F(pgr_fe_write_bind(&c->w, "", "", 0, NULL, 1, p, 0, NULL));
    F(pgr_fe_write_execute(&c->w, "", 0));
    F(pgr_fe_write_parse(&c->w, "", "SELECT 2", 0, NULL));
    F(pgr_fe_write_bind(&c->w, "", "", 0, NULL, 0, NULL, 0, NULL));
    F(pgr_fe_write_execute(&c->w, "", 0));
    F(pgr_fe_write_empty(&c->w, 'S'));
    B(pgr_fe_write_empty(&c->w, '1'));
    B(pgr_fe_write_empty(&c->w, '2'));
    B(pgr_be_write_notice_msg(&c->w, false, &e));
    B(pgr_be_write_ready(&c->w, 'I'));
    F(pgr_fe_write_query(&c->w, "BEGIN; SELECT 1/0;"));
    B(pgr_be_write_complete(&c->w, "BEGIN"));
    B(pgr_be_write_error(&c->w, false, "ERROR", "22012", "division by zero", NULL, NULL));
    B(pgr_be_write_ready(&c->w, 'E'));
    F(pgr_fe_write_query(&c->w, "ROLLBACK;"));
    B(pgr_be_write_error(&c->w, true, "WARNING", "01000", "node pg2 failed",
                         "pg2 (127.0.0.1:5433): connection refused", "check the node"));
    B(pgr_be_write_complete(&c->w, "ROLLBACK"));
    B(pgr_be_write_ready(&c->w, 'I'));
}

static void
scram_exchange(convo_t *c)
{
    static const char *const names[] = {"user", "database"};
    static const char *const values[] = {"bob", "app"};
    static const char *const mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
    static const char first[] = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
    static const char server_first[] =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    static const char final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    static const char server_final[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    FS(pgr_fe_write_sslrequest(&c->w));
    FS(pgr_fe_write_startup(&c->w, 3, 0, names, values, 2));
    B(pgr_be_write_auth_sasl(&c->w, mechs, 2));
    F(pgr_fe_write_sasl_initial(&c->w, "SCRAM-SHA-256", first, (int32_t)strlen(first)));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_SASL_CONT, server_first, strlen(server_first)));
    F(pgr_fe_write_sasl_response(&c->w, final, strlen(final)));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_SASL_FINAL, server_final, strlen(server_final)));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_OK, NULL, 0));
    B(pgr_be_write_param(&c->w, "is_superuser", "off"));
    B(pgr_be_write_keydata(&c->w, 777, -123456));
    B(pgr_be_write_ready(&c->w, 'I'));
    F(pgr_fe_write_empty(&c->w, 'X'));
}

/* Every message type not in the conversations above, in one (not necessarily sensible) run. */
static void
misc(convo_t *c)
{
    static const char *const names[] = {"user", "database", "_pq_.compression"};
    static const char *const values[] = {"carol", "app", "on"};
    static const char *const unknown[] = {"_pq_.compression"};
    static const int16_t fmts[] = {1};
    pgr_value_t args[2] = {{(const uint8_t *)"\x00\x00\x00\x01", 4}, {NULL, -1}};
    static const uint8_t salt[4] = {0x01, 0xfe, 'a', 0x00};
    FS(pgr_fe_write_cancel(&c->w, 4242, 0x5eed1234));
    FS(pgr_fe_write_gssencrequest(&c->w));
    FS(pgr_fe_write_startup(&c->w, 3, 1, names, values, 3));
    B(pgr_be_write_negotiate(&c->w, 0, 1, unknown));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_MD5, salt, 4));
    F(pgr_fe_write_password(&c->w, "md53b1a9c4b3ad6d5a6bbfd7e9e7a8f1c0a"));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_CLEARTEXT, NULL, 0));
    F(pgr_fe_write_password(&c->w, "secret"));
    B(pgr_be_write_auth(&c->w, PGR_AUTHREQ_OK, NULL, 0));
    B(pgr_be_write_ready(&c->w, 'T'));
    F(pgr_fe_write_funccall(&c->w, 1598, 1, fmts, 2, args, 1));
    B(pgr_be_write_funcresult(&c->w, "\x00\x00\x00\x2a", 4));
    B(pgr_be_write_ready(&c->w, 'T'));
    F(pgr_fe_write_funccall(&c->w, 1599, 0, NULL, 0, NULL, 0));
    B(pgr_be_write_funcresult(&c->w, NULL, -1));
    B(pgr_be_write_notify(&c->w, 4243, "events", "node pg2 healthy"));
    B(pgr_be_write_copyresp(&c->w, 'W', 1, 1, fmts));
    B(pgr_be_write_ready(&c->w, 'I'));
}

int
convo_build(convo_t *c, const char *name)
{
    memset(c, 0, sizeof(*c));
    c->name = name;
    pgr_writer_init_grow(&c->w);
    if (strcmp(name, "simple_query") == 0)
        simple_query(c);
    else if (strcmp(name, "extended_pipeline") == 0)
        extended_pipeline(c);
    else if (strcmp(name, "copy_in") == 0)
        copy_in(c);
    else if (strcmp(name, "copy_out") == 0)
        copy_out(c);
    else if (strcmp(name, "error_in_pipeline") == 0)
        error_in_pipeline(c);
    else if (strcmp(name, "scram_exchange") == 0)
        scram_exchange(c);
    else if (strcmp(name, "misc") == 0)
        misc(c);
    else
        c->err = PGR_ENOENT;
    return c->err;
}

void
convo_free(convo_t *c)
{
    pgr_writer_free(&c->w);
}

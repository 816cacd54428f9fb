/* Backend (server → client) messages of protocol 3.0: decoders pointing into the body (no
 * copies, no allocation), encoders over pgr_writer_t, and the helpers the router and the merger
 * need: ErrorResponse/NoticeResponse building, RowDescription equality. Decoders return 0 or a
 * PGR_E* code (PGR_ETRUNC, PGR_ENOTERM, PGR_ETRAILING, PGR_EPROTO); on failure *out is
 * unspecified. Field arrays are validated against the bytes present before any is returned. */
#ifndef PGR_PROTOCOL_BACKEND_H
#define PGR_PROTOCOL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/frontend.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

/* Authentication request codes ('R'). */
enum {
    PGR_AUTHREQ_OK = 0,
    PGR_AUTHREQ_KRB5 = 2,
    PGR_AUTHREQ_CLEARTEXT = 3,
    PGR_AUTHREQ_MD5 = 5,
    PGR_AUTHREQ_SCM = 6,
    PGR_AUTHREQ_GSS = 7,
    PGR_AUTHREQ_GSS_CONT = 8,
    PGR_AUTHREQ_SSPI = 9,
    PGR_AUTHREQ_SASL = 10,
    PGR_AUTHREQ_SASL_CONT = 11,
    PGR_AUTHREQ_SASL_FINAL = 12,
};

typedef struct {
    int32_t code;           /* PGR_AUTHREQ_* */
    const uint8_t *data;    /* MD5: the 4-byte salt; SASL: mechanism list (name\0...\0);
                               GSS_CONT / SASL_CONT / SASL_FINAL: payload; else empty */
    size_t len;
    int nmechanisms;        /* SASL only */
} pgr_be_auth_t;
int pgr_be_auth_decode(const uint8_t *body, size_t len, pgr_be_auth_t *out);
/* Next SASL mechanism name of a decoded AuthenticationSASL; NULL after the last. */
const char *pgr_be_auth_mechanism_next(pgr_reader_t *it);
void pgr_be_auth_mechanisms(const pgr_be_auth_t *m, pgr_reader_t *it);
/* Plain requests (OK, CLEARTEXT, KRB5, SCM, GSS, SSPI) and payload-carrying ones (MD5: 4 bytes,
 * GSS_CONT, SASL_CONT, SASL_FINAL). */
int pgr_be_write_auth(pgr_writer_t *w, int32_t code, const void *data, size_t len);
int pgr_be_write_auth_sasl(pgr_writer_t *w, const char *const *mechanisms, int n);
int pgr_be_write_auth_msg(pgr_writer_t *w, const pgr_be_auth_t *m);

typedef struct { int32_t pid; int32_t key; } pgr_be_keydata_t;                      /* 'K' */
int pgr_be_keydata_decode(const uint8_t *body, size_t len, pgr_be_keydata_t *out);
int pgr_be_write_keydata(pgr_writer_t *w, int32_t pid, int32_t key);

typedef struct { const char *name; const char *value; } pgr_be_param_t;             /* 'S' */
int pgr_be_param_decode(const uint8_t *body, size_t len, pgr_be_param_t *out);
int pgr_be_write_param(pgr_writer_t *w, const char *name, const char *value);

typedef struct { uint8_t status; } pgr_be_ready_t;           /* 'Z': 'I', 'T' or 'E' */
int pgr_be_ready_decode(const uint8_t *body, size_t len, pgr_be_ready_t *out);
int pgr_be_write_ready(pgr_writer_t *w, uint8_t status);

/* RowDescription 'T' */
typedef struct {
    const char *name;
    int32_t table_oid;
    int16_t column;
    int32_t type_oid;
    int16_t typlen;
    int32_t typmod;
    int16_t format;
} pgr_be_field_t;

typedef struct {
    int nfields;
    const uint8_t *fields; /* validated field records */
    size_t fields_len;
} pgr_be_rowdesc_t;

typedef struct { pgr_reader_t r; int remaining; } pgr_be_rowdesc_iter_t;

int pgr_be_rowdesc_decode(const uint8_t *body, size_t len, pgr_be_rowdesc_t *out);
void pgr_be_rowdesc_iter(const pgr_be_rowdesc_t *m, pgr_be_rowdesc_iter_t *it);
bool pgr_be_rowdesc_next(pgr_be_rowdesc_iter_t *it, pgr_be_field_t *f);
int pgr_be_write_rowdesc(pgr_writer_t *w, int n, const pgr_be_field_t *fields);
int pgr_be_write_rowdesc_msg(pgr_writer_t *w, const pgr_be_rowdesc_t *m);

/* How two RowDescriptions differ, first difference only. */
typedef enum {
    PGR_ROWDESC_EQUAL = 0,
    PGR_ROWDESC_COUNT,  /* column counts differ (column = -1) */
    PGR_ROWDESC_NAME,
    PGR_ROWDESC_TYPE,   /* type OID */
    PGR_ROWDESC_FORMAT,
} pgr_rowdesc_diff_kind_t;

typedef struct {
    pgr_rowdesc_diff_kind_t kind;
    int column;          /* 0-based; -1 for COUNT */
    char text[192];      /* e.g. `column 2: name "id" vs "uid"`; "" when equal */
} pgr_rowdesc_diff_t;

/* True when a and b agree in column count, names, type OIDs and formats (table OIDs, typlen,
 * typmod are not compared). diff (may be NULL) gets the first difference. */
bool pgr_be_rowdesc_equal(const pgr_be_rowdesc_t *a, const pgr_be_rowdesc_t *b,
                          pgr_rowdesc_diff_t *diff);

/* DataRow 'D': columns are read with pgr_value_next. */
typedef struct {
    int ncols;
    const uint8_t *cols;
    size_t cols_len;
} pgr_be_datarow_t;
int pgr_be_datarow_decode(const uint8_t *body, size_t len, pgr_be_datarow_t *out);
void pgr_be_datarow_iter(const pgr_be_datarow_t *m, pgr_value_iter_t *it);
int pgr_be_write_datarow(pgr_writer_t *w, int n, const pgr_value_t *cols);
int pgr_be_write_datarow_msg(pgr_writer_t *w, const pgr_be_datarow_t *m);

typedef struct { const char *tag; } pgr_be_complete_t;                              /* 'C' */
int pgr_be_complete_decode(const uint8_t *body, size_t len, pgr_be_complete_t *out);
int pgr_be_write_complete(pgr_writer_t *w, const char *tag);

/* ErrorResponse 'E' / NoticeResponse 'N'. Every field the protocol defines; NULL when absent.
 * Unknown field codes are skipped, as the protocol asks; a repeated code keeps the last. */
typedef struct {
    const char *severity;      /* S */
    const char *severity_nl;   /* V (not localized) */
    const char *sqlstate;      /* C */
    const char *message;       /* M */
    const char *detail;        /* D */
    const char *hint;          /* H */
    const char *position;      /* P */
    const char *internal_position; /* p */
    const char *internal_query;    /* q */
    const char *where;         /* W */
    const char *schema;        /* s */
    const char *table;         /* t */
    const char *column;        /* c */
    const char *datatype;      /* d */
    const char *constraint;    /* n */
    const char *file;          /* F */
    const char *line;          /* L */
    const char *routine;       /* R */
} pgr_be_notice_t;
int pgr_be_notice_decode(const uint8_t *body, size_t len, pgr_be_notice_t *out);
/* Writes every non-NULL field of m in the order above ('E' unless is_notice: 'N'). */
int pgr_be_write_notice_msg(pgr_writer_t *w, bool is_notice, const pgr_be_notice_t *m);
/* The common case: S and V = severity, C, M, and D / H when not NULL. */
int pgr_be_write_error(pgr_writer_t *w, bool is_notice, const char *severity,
                       const char *sqlstate, const char *message, const char *detail,
                       const char *hint);

/* ParameterDescription 't' */
typedef struct { pgr_i32s_t types; } pgr_be_paramdesc_t;
int pgr_be_paramdesc_decode(const uint8_t *body, size_t len, pgr_be_paramdesc_t *out);
int pgr_be_write_paramdesc(pgr_writer_t *w, int n, const uint32_t *types);
int pgr_be_write_paramdesc_msg(pgr_writer_t *w, const pgr_be_paramdesc_t *m);

/* CopyInResponse 'G', CopyOutResponse 'H', CopyBothResponse 'W' */
typedef struct { uint8_t format; pgr_i16s_t column_formats; } pgr_be_copyresp_t;
int pgr_be_copyresp_decode(const uint8_t *body, size_t len, pgr_be_copyresp_t *out);
int pgr_be_write_copyresp(pgr_writer_t *w, uint8_t type, uint8_t format, int n,
                          const int16_t *formats);
int pgr_be_write_copyresp_msg(pgr_writer_t *w, uint8_t type, const pgr_be_copyresp_t *m);

/* NotificationResponse 'A' */
typedef struct { int32_t pid; const char *channel; const char *payload; } pgr_be_notify_t;
int pgr_be_notify_decode(const uint8_t *body, size_t len, pgr_be_notify_t *out);
int pgr_be_write_notify(pgr_writer_t *w, int32_t pid, const char *channel, const char *payload);

/* NegotiateProtocolVersion 'v' (options read with pgr_be_negotiate_option_next) */
typedef struct {
    int32_t newest_minor;
    int noptions;
    const uint8_t *options;
    size_t options_len;
} pgr_be_negotiate_t;
int pgr_be_negotiate_decode(const uint8_t *body, size_t len, pgr_be_negotiate_t *out);
void pgr_be_negotiate_options(const pgr_be_negotiate_t *m, pgr_reader_t *it);
const char *pgr_be_negotiate_option_next(pgr_reader_t *it);
int pgr_be_write_negotiate(pgr_writer_t *w, int32_t newest_minor, int n,
                           const char *const *options);
int pgr_be_write_negotiate_msg(pgr_writer_t *w, const pgr_be_negotiate_t *m);

/* FunctionCallResponse 'V' */
typedef struct { pgr_value_t result; } pgr_be_funcresult_t;
int pgr_be_funcresult_decode(const uint8_t *body, size_t len, pgr_be_funcresult_t *out);
int pgr_be_write_funcresult(pgr_writer_t *w, const void *data, int32_t len);

/* CopyData 'd' and CopyDone 'c' from the server have the frontend's shape: use
 * pgr_fe_copydata_decode / pgr_fe_write_copydata and pgr_fe_empty_decode / pgr_fe_write_empty,
 * which also serve EmptyQueryResponse, ParseComplete, BindComplete, CloseComplete, NoData and
 * PortalSuspended. */

#endif

/* Frontend (client → server) messages of protocol 3.0: typed decoders whose string and byte
 * fields point into the message body (nothing is copied, nothing allocated), and encoders built
 * on pgr_writer_t. Decoders return 0 or a PGR_E* code (PGR_ETRUNC, PGR_ENOTERM, PGR_ETRAILING,
 * PGR_EPROTO for a bad value); on failure *out is unspecified.
 *
 * Arrays (format codes, parameter OIDs, parameter values) are validated by the decoder against
 * the bytes present — a count that lies is an error, never an allocation — and then read with an
 * accessor (fixed-size elements) or an iterator (variable-size values). */
#ifndef PGR_PROTOCOL_FRONTEND_H
#define PGR_PROTOCOL_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/reader.h"
#include "protocol/writer.h"

/* A length-prefixed value (Bind parameter, DataRow column, function argument). */
typedef struct {
    const uint8_t *data; /* NULL for SQL NULL */
    int32_t len;         /* -1 for SQL NULL */
} pgr_value_t;

/* Walks a validated run of length-prefixed values. */
typedef struct {
    pgr_reader_t r;
    int remaining;
} pgr_value_iter_t;

/* Next value into *v; false when none are left. Only valid on arrays a decoder accepted. */
bool pgr_value_next(pgr_value_iter_t *it, pgr_value_t *v);

/* An array of big-endian int16 (formats) or int32 (OIDs) inside a validated message. */
typedef struct { const uint8_t *raw; int count; } pgr_i16s_t;
typedef struct { const uint8_t *raw; int count; } pgr_i32s_t;

/* Element i (0 ≤ i < count, else 0). */
int16_t pgr_i16s_at(pgr_i16s_t a, int i);
int32_t pgr_i32s_at(pgr_i32s_t a, int i);

/* ---- startup forms (frame body: from the protocol code on) ---- */

typedef struct {
    uint16_t major, minor;
    const char *user;      /* NULL when absent */
    const char *database;  /* NULL when absent */
    const char *options;   /* NULL when absent */
    const uint8_t *params; /* name\0value\0 ... \0: for pgr_fe_startup_param_next */
    size_t params_len;
    int nparams;
    int n_pq_options;      /* parameters named "_pq_.*" (protocol options; none known) */
} pgr_fe_startup_t;

typedef struct {
    pgr_reader_t r;
} pgr_fe_param_iter_t;

int pgr_fe_startup_decode(const uint8_t *body, size_t len, pgr_fe_startup_t *out);
void pgr_fe_startup_params(const pgr_fe_startup_t *st, pgr_fe_param_iter_t *it);
/* Next (name, value) pair in packet order, including user/database/options. */
bool pgr_fe_startup_param_next(pgr_fe_param_iter_t *it, const char **name, const char **value);

/* What a server that speaks exactly 3.0 answers a decoded StartupMessage. */
typedef enum {
    PGR_FE_VERSION_OK,          /* 3.0 and no _pq_ options */
    PGR_FE_VERSION_NEGOTIATE,   /* 3.x, x > 0, or _pq_ options: send NegotiateProtocolVersion
                                   (pgr_fe_startup_write_negotiate) and go on with 3.0 */
    PGR_FE_VERSION_UNSUPPORTED, /* another major: ErrorResponse 0A000, close */
} pgr_fe_version_t;

pgr_fe_version_t pgr_fe_startup_version(const pgr_fe_startup_t *st);
/* Writes NegotiateProtocolVersion: newest minor 0 and every _pq_ option named in st. */
int pgr_fe_startup_write_negotiate(pgr_writer_t *w, const pgr_fe_startup_t *st);
/* Encodes a StartupMessage 3.0 with nparams (names[i], values[i]) pairs. */
int pgr_fe_write_startup(pgr_writer_t *w, uint16_t major, uint16_t minor, const char *const *names,
                         const char *const *values, int nparams);
int pgr_fe_write_sslrequest(pgr_writer_t *w);
int pgr_fe_write_gssencrequest(pgr_writer_t *w);

typedef struct {
    int32_t pid;
    int32_t key;
} pgr_fe_cancel_t;

int pgr_fe_cancel_decode(const uint8_t *body, size_t len, pgr_fe_cancel_t *out);
int pgr_fe_write_cancel(pgr_writer_t *w, int32_t pid, int32_t key);

/* ---- typed messages ---- */

typedef struct { const char *sql; size_t len; } pgr_fe_query_t;                     /* 'Q' */
int pgr_fe_query_decode(const uint8_t *body, size_t len, pgr_fe_query_t *out);
int pgr_fe_write_query(pgr_writer_t *w, const char *sql);

typedef struct {                                                                   /* 'P' */
    const char *name;
    const char *query;
    pgr_i32s_t param_types; /* OIDs, 0 = unspecified */
} pgr_fe_parse_t;
int pgr_fe_parse_decode(const uint8_t *body, size_t len, pgr_fe_parse_t *out);
int pgr_fe_write_parse(pgr_writer_t *w, const char *name, const char *query, int ntypes,
                       const uint32_t *types);
int pgr_fe_write_parse_msg(pgr_writer_t *w, const pgr_fe_parse_t *m);

typedef struct {                                                                   /* 'B' */
    const char *portal;
    const char *statement;
    pgr_i16s_t param_formats;
    int nparams;
    const uint8_t *params; /* nparams length-prefixed values */
    size_t params_len;
    pgr_i16s_t result_formats;
} pgr_fe_bind_t;
int pgr_fe_bind_decode(const uint8_t *body, size_t len, pgr_fe_bind_t *out);
void pgr_fe_bind_params(const pgr_fe_bind_t *m, pgr_value_iter_t *it);
int pgr_fe_write_bind(pgr_writer_t *w, const char *portal, const char *statement, int nformats,
                      const int16_t *formats, int nparams, const pgr_value_t *params,
                      int nresult_formats, const int16_t *result_formats);
int pgr_fe_write_bind_msg(pgr_writer_t *w, const pgr_fe_bind_t *m);

/* Describe 'D' / Close 'C': kind is 'S' (statement) or 'P' (portal). */
typedef struct { uint8_t kind; const char *name; } pgr_fe_target_t;
int pgr_fe_describe_decode(const uint8_t *body, size_t len, pgr_fe_target_t *out);
int pgr_fe_close_decode(const uint8_t *body, size_t len, pgr_fe_target_t *out);
int pgr_fe_write_describe(pgr_writer_t *w, uint8_t kind, const char *name);
int pgr_fe_write_close(pgr_writer_t *w, uint8_t kind, const char *name);

typedef struct { const char *portal; int32_t max_rows; } pgr_fe_execute_t;          /* 'E' */
int pgr_fe_execute_decode(const uint8_t *body, size_t len, pgr_fe_execute_t *out);
int pgr_fe_write_execute(pgr_writer_t *w, const char *portal, int32_t max_rows);

/* Messages without a body: Sync 'S', Flush 'H', Terminate 'X', CopyDone 'c' (both ways),
 * and the backend's empty ones. Decoding checks the body is empty. */
int pgr_fe_empty_decode(const uint8_t *body, size_t len);
int pgr_fe_write_empty(pgr_writer_t *w, uint8_t type);

typedef struct { const uint8_t *data; size_t len; } pgr_fe_copydata_t;              /* 'd' */
int pgr_fe_copydata_decode(const uint8_t *body, size_t len, pgr_fe_copydata_t *out);
int pgr_fe_write_copydata(pgr_writer_t *w, const void *data, size_t len);

typedef struct { const char *message; } pgr_fe_copyfail_t;                          /* 'f' */
int pgr_fe_copyfail_decode(const uint8_t *body, size_t len, pgr_fe_copyfail_t *out);
int pgr_fe_write_copyfail(pgr_writer_t *w, const char *message);

typedef struct {                                                                   /* 'F' */
    int32_t fn_oid;
    pgr_i16s_t arg_formats;
    int nargs;
    const uint8_t *args;
    size_t args_len;
    int16_t result_format;
} pgr_fe_funccall_t;
int pgr_fe_funccall_decode(const uint8_t *body, size_t len, pgr_fe_funccall_t *out);
void pgr_fe_funccall_args(const pgr_fe_funccall_t *m, pgr_value_iter_t *it);
int pgr_fe_write_funccall(pgr_writer_t *w, int32_t fn_oid, int nformats, const int16_t *formats,
                          int nargs, const pgr_value_t *args, int16_t result_format);
int pgr_fe_write_funccall_msg(pgr_writer_t *w, const pgr_fe_funccall_t *m);

/* 'p' carries one of three bodies; which one depends on the authentication request the server
 * sent last (the message itself does not say). */
typedef struct { const char *password; } pgr_fe_password_t;
int pgr_fe_password_decode(const uint8_t *body, size_t len, pgr_fe_password_t *out);
int pgr_fe_write_password(pgr_writer_t *w, const char *password);

typedef struct {
    const char *mechanism;
    const uint8_t *data; /* NULL when the client sent -1 (no initial response) */
    int32_t len;
} pgr_fe_sasl_initial_t;
int pgr_fe_sasl_initial_decode(const uint8_t *body, size_t len, pgr_fe_sasl_initial_t *out);
int pgr_fe_write_sasl_initial(pgr_writer_t *w, const char *mechanism, const void *data,
                              int32_t len);

/* SASLResponse (and GSSResponse): the whole body is the payload. */
typedef struct { const uint8_t *data; size_t len; } pgr_fe_sasl_response_t;
int pgr_fe_sasl_response_decode(const uint8_t *body, size_t len, pgr_fe_sasl_response_t *out);
int pgr_fe_write_sasl_response(pgr_writer_t *w, const void *data, size_t len);

#endif

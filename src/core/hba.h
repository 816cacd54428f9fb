/* core/hba: client access rules in pg_hba.conf syntax (auth.hba_file), for the lines that apply
 * to a proxy: `local`, `host`, `hostssl`, `hostnossl` (and `hostgssenc` / `hostnogssenc`, which
 * pgrouter, having no GSSAPI encryption, never / always matches on TCP). Pure: text in, rules
 * out; no I/O, no logging, no globals.
 *
 *   TYPE       DATABASE       USER        ADDRESS                  METHOD
 *   local      all            all                                  trust
 *   host       app,reports    alice,bob   10.0.0.0/8               scram-sha-256
 *   hostssl    all            all         192.168.1.0 255.255.255.0 md5
 *   host       all            all         ::1/128                  reject
 *
 * Tokens, quoting ("all" quoted is a database named all), comments and comma lists follow
 * PostgreSQL 15's tokenizer. Keywords: database `all`, `sameuser`, `replication` (matches no
 * pgrouter client: replication connections are not proxied); user `all`; address `all`.
 * Methods: trust, reject, md5, scram-sha-256, password and passthrough. Not supported, and an
 * error at load naming file:line:col: `samerole`/`samegroup`, `+role` groups, `@file` lists,
 * host names, `samehost`/`samenet`, the other methods (peer, ident, cert, ...) and method
 * options (key=value). As in PostgreSQL, the first line that matches the connection type, the
 * client address, the database and the user decides; no line matching means rejected. */
#ifndef PGR_CORE_HBA_H
#define PGR_CORE_HBA_H

#include "core/base.h"
#include "pgrouter/config.h"

typedef enum {
    PGR_HBA_TRUST,
    PGR_HBA_REJECT,
    PGR_HBA_MD5,
    PGR_HBA_SCRAM,
    PGR_HBA_PASSWORD,    /* cleartext password */
    PGR_HBA_PASSTHROUGH, /* auth.method passthrough's exchange */
} pgr_hba_method_t;

/* The connection being decided. addr is the client's IP address in network order (4 bytes
 * for family 4, 16 for family 6); unused when local. An IPv4-mapped IPv6 address should be
 * given as IPv4. */
typedef struct pgr_hba_client {
    bool local;     /* Unix socket */
    bool ssl;       /* TLS in use */
    int family;     /* 4 or 6 */
    uint8_t addr[16];
    const char *user, *database;
} pgr_hba_client_t;

typedef struct pgr_hba pgr_hba_t;

/* Parse text (len bytes; NUL bytes are an error). name is the file name used in messages.
 * 0 and *out (freed with pgr_hba_free; an empty file gives rules that reject everyone);
 * PGR_ECONFIG with one "name:line:col: message" appended to errs per problem (every line is
 * checked, not only up to the first error); PGR_ENOMEM. */
int pgr_hba_parse(const char *name, const char *text, size_t len, pgr_hba_t **out,
                  pgr_config_errors_t *errs) PGR_MUSTCHECK;
void pgr_hba_free(pgr_hba_t *h);

/* The first rule matching c: true with its method and line number, false when none does. */
bool pgr_hba_match(const pgr_hba_t *h, const pgr_hba_client_t *c, pgr_hba_method_t *method,
                   int *line);

size_t pgr_hba_count(const pgr_hba_t *h);
const char *pgr_hba_method_name(pgr_hba_method_t m);

#endif

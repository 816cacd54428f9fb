/* pg_hba.conf rules: PostgreSQL 15's tokenizer and line syntax, the subset a proxy can apply
 * (see hba.h). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/config_yaml.h"
#include "core/hba.h"

typedef enum { T_LOCAL, T_HOST, T_HOSTSSL, T_HOSTNOSSL, T_HOSTGSSENC, T_HOSTNOGSSENC } conn_t;

static const char *const conn_names[] = { "local", "host", "hostssl", "hostnossl",
                                          "hostgssenc", "hostnogssenc", NULL };
static const char *const method_names[] = { "trust", "reject", "md5", "scram-sha-256",
                                            "password", "passthrough", NULL };
/* PostgreSQL's other methods: known, but nothing a proxy can do. */
static const char *const other_methods[] = { "peer", "ident", "gss", "sspi", "pam", "ldap",
                                             "radius", "cert", "bsd", NULL };

typedef struct tok {
    char *s;
    bool quoted; /* began with '"': never a keyword */
    int col;
} tok_t;

/* One field: a comma list of tokens. */
typedef struct field {
    tok_t *v;
    size_t n, cap;
} field_t;

typedef struct rule {
    int line;
    conn_t conn;
    field_t dbs, users;
    bool any_addr;   /* address `all` (or a local line) */
    int family;      /* 4 or 6 */
    uint8_t addr[16], mask[16];
    pgr_hba_method_t method;
} rule_t;

struct pgr_hba {
    rule_t *v;
    size_t n, cap;
};

typedef struct parser {
    const char *name;
    pgr_config_errors_t *errs;
    bool nomem;
    int line;
} parser_t;

static void PGR_PRINTF(3, 4)
err(parser_t *p, int col, const char *fmt, ...)
{
    char msg[512], *full = NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->errs == NULL)
        return;
    if (asprintf(&full, "%s:%d:%d: %s", p->name, p->line, col, msg) < 0) {
        p->nomem = true;
        return;
    }
    if (pgr_config_errors_push(p->errs, full) != 0) {
        free(full);
        p->nomem = true;
    }
}

static void
field_free(field_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].s);
    free(f->v);
    *f = (field_t){ 0 };
}

static bool
field_push(field_t *f, char *s, bool quoted, int col)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        tok_t *v = realloc(f->v, cap * sizeof(*v));
        if (v == NULL)
            return false;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (tok_t){ s, quoted, col };
    return true;
}

/* ---- tokenizer -------------------------------------------------------------------------- */

/* As PostgreSQL's next_token(): skip blanks and commas, then read up to a blank or comma
 * outside quotes; '#' outside quotes ends the line; "" inside quotes is a literal quote.
 * Returns false at the end of the line. *comma: the token ended with a comma (the list goes
 * on). The token is copied without its quotes. */
static bool
next_token(parser_t *p, const char *line, size_t len, size_t *pos, char **out, bool *quoted,
           bool *comma, int *col)
{
    size_t i = *pos;
    bool in_quote = false, was_quote = false, saw_quote = false;
    char *buf;
    size_t n = 0;

    *comma = false;
    *quoted = false;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == ','))
        i++;
    *col = (int)i + 1;
    if ((buf = malloc(len - i + 1)) == NULL) {
        p->nomem = true;
        *pos = len;
        return false;
    }
    while (i < len && (in_quote || (line[i] != ' ' && line[i] != '\t'))) {
        char c = line[i];
        if (c == '#' && !in_quote) {
            i = len;
            break;
        }
        if (c == ',' && !in_quote) {
            *comma = true;
            i++;
            break;
        }
        if (c != '"' || was_quote)
            buf[n++] = c;
        if (in_quote && c == '"')
            was_quote = !was_quote;
        else
            was_quote = false;
        if (c == '"') {
            in_quote = !in_quote;
            saw_quote = true;
            if (n == 0)
                *quoted = true;
        }
        i++;
    }
    *pos = i;
    buf[n] = '\0';
    if (!saw_quote && n == 0) {
        free(buf);
        return false;
    }
    if (in_quote)
        err(p, *col, "unterminated quoted string");
    *out = buf;
    return true;
}

/* The next field (a comma list); false at the end of the line. */
static bool
next_field(parser_t *p, const char *line, size_t len, size_t *pos, field_t *f)
{
    bool comma, quoted;
    char *s;
    int col;

    *f = (field_t){ 0 };
    do {
        if (!next_token(p, line, len, pos, &s, &quoted, &comma, &col))
            break;
        if (!field_push(f, s, quoted, col)) {
            free(s);
            p->nomem = true;
            break;
        }
    } while (comma);
    return f->n > 0;
}

/* ---- one line --------------------------------------------------------------------------- */

static bool
is_kw(const tok_t *t, const char *kw)
{
    return !t->quoted && strcmp(t->s, kw) == 0;
}

static int
index_of(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static bool
single(parser_t *p, const field_t *f, const char *what)
{
    if (f->n > 1) {
        err(p, f->v[1].col, "multiple values specified for %s", what);
        return false;
    }
    return true;
}

/* Database and user lists: the keywords pgrouter cannot apply are errors here. */
static bool
check_list(parser_t *p, const field_t *f, bool users)
{
    bool ok = true;

    for (size_t i = 0; i < f->n; i++) {
        const tok_t *t = &f->v[i];
        if (!t->quoted && t->s[0] == '@' && t->s[1]) {
            err(p, t->col, "file inclusion (\"%s\") is not supported in pgrouter's hba file; "
                "list the names", t->s);
            ok = false;
        } else if (users && !t->quoted && t->s[0] == '+') {
            err(p, t->col, "role groups (\"%s\") are not supported in pgrouter's hba file: "
                "pgrouter does not know role membership; list the users", t->s);
            ok = false;
        } else if (!users && (is_kw(t, "samerole") || is_kw(t, "samegroup"))) {
            err(p, t->col, "\"%s\" is not supported in pgrouter's hba file: pgrouter does not "
                "know role membership", t->s);
            ok = false;
        }
    }
    return ok;
}

static bool
parse_ip(const char *s, int *family, uint8_t out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = 6;
        return true;
    }
    return false;
}

static bool
looks_numeric(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == ':' || (*s >= 'a' && *s <= 'f') ||
              (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

/* ADDRESS [NETMASK] of a host line into r; *pos moves past the netmask when there is one. */
static bool
parse_address(parser_t *p, const char *line, size_t len, size_t *pos, const field_t *f,
              rule_t *r)
{
    const tok_t *t = &f->v[0];
    char *slash;

    if (!single(p, f, "host address"))
        return false;
    if (is_kw(t, "all")) {
        r->any_addr = true;
        return true;
    }
    if (is_kw(t, "samehost") || is_kw(t, "samenet")) {
        err(p, t->col, "\"%s\" is not supported in pgrouter's hba file; give the addresses",
            t->s);
        return false;
    }
    if ((slash = strchr(t->s, '/')) != NULL) {
        char *end;
        *slash = '\0';
        if (!parse_ip(t->s, &r->family, r->addr)) {
            *slash = '/';
            err(p, t->col, "invalid IP address \"%s\"", t->s);
            return false;
        }
        *slash = '/';
        int max = r->family == 4 ? 32 : 128;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits < 0 || bits > max) {
            err(p, t->col, "invalid CIDR mask in address \"%s\"", t->s);
            return false;
        }
        memset(r->mask, 0, sizeof(r->mask));
        for (int b = 0; b < bits; b++)
            r->mask[b / 8] |= (uint8_t)(0x80u >> (b % 8));
        return true;
    }
    if (!parse_ip(t->s, &r->family, r->addr)) {
        if (looks_numeric(t->s))
            err(p, t->col, "invalid IP address \"%s\"", t->s);
        else
            err(p, t->col, "host names (\"%s\") are not supported in pgrouter's hba file; "
                "give an IP address with a CIDR mask", t->s);
        return false;
    }
    /* The netmask is the next field. */
    field_t m;
    int family = 0;
    bool ok = false;
    if (!next_field(p, line, len, pos, &m)) {
        err(p, (int)len + 1, "end-of-line before netmask specification (specify an address "
            "range in CIDR notation, or provide a separate netmask)");
        return false;
    }
    if (!single(p, &m, "netmask")) {
        /* reported */
    } else if (!parse_ip(m.v[0].s, &family, r->mask)) {
        err(p, m.v[0].col, "invalid IP mask \"%s\"", m.v[0].s);
    } else if (family != r->family) {
        err(p, m.v[0].col, "IP address and mask do not match");
    } else {
        ok = true;
    }
    field_free(&m);
    return ok;
}

static bool
parse_method(parser_t *p, const field_t *f, rule_t *r)
{
    const tok_t *t = &f->v[0];
    int m;

    if (!single(p, f, "authentication type"))
        return false;
    if ((m = index_of(method_names, t->s)) >= 0) {
        r->method = (pgr_hba_method_t)m;
        return true;
    }
    if (index_of(other_methods, t->s) >= 0)
        err(p, t->col, "authentication method \"%s\" is not supported by pgrouter (trust, "
            "reject, md5, scram-sha-256, password, passthrough)", t->s);
    else
        err(p, t->col, "invalid authentication method \"%s\"", t->s);
    return false;
}

/* One line: false with errors reported, or when it holds no rule (*empty). */
static bool
parse_line(parser_t *p, const char *line, size_t len, rule_t *r, bool *empty)
{
    size_t pos = 0;
    field_t f;
    int c;

    memset(r, 0, sizeof(*r));
    r->line = p->line;
    *empty = false;
    if (!next_field(p, line, len, &pos, &f)) {
        *empty = true;
        return false;
    }
    c = index_of(conn_names, f.v[0].s);
    if (c < 0)
        err(p, f.v[0].col, "invalid connection type \"%s\"", f.v[0].s);
    if (!single(p, &f, "connection type") || c < 0) {
        field_free(&f);
        return false;
    }
    field_free(&f);
    r->conn = (conn_t)c;
    if (!next_field(p, line, len, &pos, &r->dbs)) {
        err(p, (int)len + 1, "end-of-line before database specification");
        return false;
    }
    if (!next_field(p, line, len, &pos, &r->users)) {
        err(p, (int)len + 1, "end-of-line before role specification");
        return false;
    }
    bool ok = check_list(p, &r->dbs, false);
    ok = check_list(p, &r->users, true) && ok;
    if (r->conn == T_LOCAL) {
        r->any_addr = true;
    } else {
        if (!next_field(p, line, len, &pos, &f)) {
            err(p, (int)len + 1, "end-of-line before IP address specification");
            return false;
        }
        ok = parse_address(p, line, len, &pos, &f, r) && ok;
        field_free(&f);
        if (!ok)
            return false;
    }
    if (!next_field(p, line, len, &pos, &f)) {
        err(p, (int)len + 1, "end-of-line before authentication method");
        return false;
    }
    ok = parse_method(p, &f, r) && ok;
    field_free(&f);
    if (next_field(p, line, len, &pos, &f)) {
        err(p, f.v[0].col, "authentication options (\"%s\") are not supported in pgrouter's "
            "hba file", f.v[0].s);
        field_free(&f);
        ok = false;
    }
    return ok;
}

static void
rule_free(rule_t *r)
{
    field_free(&r->dbs);
    field_free(&r->users);
}

int
pgr_hba_parse(const char *name, const char *text, size_t len, pgr_hba_t **out,
              pgr_config_errors_t *errs)
{
    parser_t p = { .name = name, .errs = errs };
    pgr_hba_t *h = calloc(1, sizeof(*h));
    size_t start = 0, n_errs = errs ? errs->n : 0;
    bool bad = false;

    *out = NULL;
    if (h == NULL)
        return PGR_ENOMEM;
    while (start < len && !p.nomem) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - start;
        rule_t r;
        bool empty;

        p.line++;
        if (n > 0 && text[start + n - 1] == '\r')
            n--;
        if (memchr(text + start, '\0', n) != NULL) {
            err(&p, 1, "the line contains a NUL byte");
            bad = true;
        } else if (parse_line(&p, text + start, n, &r, &empty)) {
            if (h->n == h->cap) {
                size_t cap = h->cap ? h->cap * 2 : 16;
                rule_t *v = realloc(h->v, cap * sizeof(*v));
                if (v == NULL) {
                    rule_free(&r);
                    p.nomem = true;
                    break;
                }
                h->v = v;
                h->cap = cap;
            }
            h->v[h->n++] = r;
        } else if (!empty) {
            rule_free(&r);
            bad = true;
        }
        start = end + 1;
    }
    /* A line that was taken but reported a problem (an unterminated quote) fails the file too:
     * a file loads only without a word against it. */
    if (errs && errs->n > n_errs)
        bad = true;
    if (p.nomem || bad) {
        pgr_hba_free(h);
        return p.nomem ? PGR_ENOMEM : PGR_ECONFIG;
    }
    *out = h;
    return 0;
}

void
pgr_hba_free(pgr_hba_t *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        rule_free(&h->v[i]);
    free(h->v);
    free(h);
}

size_t
pgr_hba_count(const pgr_hba_t *h)
{
    return h ? h->n : 0;
}

const char *
pgr_hba_method_name(pgr_hba_method_t m)
{
    return (unsigned)m < PGR_ARRAY_LEN(method_names) - 1 ? method_names[m] : "unknown";
}

/* ---- matching --------------------------------------------------------------------------- */

static bool
match_db(const field_t *f, const char *db, const char *user)
{
    for (size_t i = 0; i < f->n; i++) {
        const tok_t *t = &f->v[i];
        if (is_kw(t, "all") || (is_kw(t, "sameuser") && strcmp(db, user) == 0))
            return true;
        if (is_kw(t, "replication") || is_kw(t, "sameuser"))
            continue; /* replication connections are not proxied */
        if (strcmp(t->s, db) == 0)
            return true;
    }
    return false;
}

static bool
match_user(const field_t *f, const char *user)
{
    for (size_t i = 0; i < f->n; i++)
        if (is_kw(&f->v[i], "all") || strcmp(f->v[i].s, user) == 0)
            return true;
    return false;
}

static bool
match_addr(const rule_t *r, const pgr_hba_client_t *c)
{
    size_t n = r->family == 4 ? 4 : 16;

    if (r->any_addr)
        return true;
    if (c->family != r->family)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((c->addr[i] & r->mask[i]) != (r->addr[i] & r->mask[i]))
            return false;
    return true;
}

bool
pgr_hba_match(const pgr_hba_t *h, const pgr_hba_client_t *c, pgr_hba_method_t *method, int *line)
{
    for (size_t i = 0; h && i < h->n; i++) {
        const rule_t *r = &h->v[i];
        switch (r->conn) {
        case T_LOCAL:
            if (!c->local)
                continue;
            break;
        case T_HOST:
        case T_HOSTNOGSSENC:
            if (c->local)
                continue;
            break;
        case T_HOSTSSL:
            if (c->local || !c->ssl)
                continue;
            break;
        case T_HOSTNOSSL:
            if (c->local || c->ssl)
                continue;
            break;
        case T_HOSTGSSENC:
            continue; /* no GSSAPI encryption here */
        }
        if (!match_addr(r, c) || !match_db(&r->dbs, c->database, c->user) ||
            !match_user(&r->users, c->user))
            continue;
        *method = r->method;
        *line = r->line;
        return true;
    }
    return false;
}

/* The admin console: command parser, dispatch, and the commands that change things (ADD /
 * DRAIN / REMOVE / SET NODE, PAUSE, RESUME, RELOAD, SHUTDOWN). The SHOW commands and EXPLAIN
 * ROUTE, which answer with rows, are in admin_show.c. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listener.h"
#include "ops/admin.h"
#include "ops/reload.h"
#include "ops/admin_show.h"
#include "ops/report.h"
#include "protocol/backend.h"

static const char *const verb_names[] = {
#define PGR_ADMIN_VERB_TEXT(name, text) text,
    PGR_ADMIN_VERB_MAP(PGR_ADMIN_VERB_TEXT)
#undef PGR_ADMIN_VERB_TEXT
};

const char *
pgr_admin_verb_name(pgr_admin_verb_t v)
{
    return (unsigned)v < PGR_ARRAY_LEN(verb_names) ? verb_names[v] : "unknown";
}

/* ---- lexer -------------------------------------------------------------------------------
 *
 * Tokens over sql[0..len): words (letters, digits, _ . - : $ and bytes >= 0x80), 'strings'
 * ('' is a quote), "quoted identifiers" ("" is a quote), ';', and any other single byte
 * (PUNCT, which no command accepts). Nothing is copied; a token is a span of the input. */

typedef enum { T_END, T_WORD, T_STRING, T_QIDENT, T_SEMI, T_PUNCT } tok_kind_t;

typedef struct {
    tok_kind_t kind;
    const char *s;  /* the token's bytes, quotes included */
    size_t len;
} tok_t;

typedef struct {
    const char *p, *end;
    pgr_admin_err_t *err;
    bool failed;
    bool nomem;     /* failed for want of memory, not for the input */
} lex_t;

static void PGR_PRINTF(3, 4)
lex_fail(lex_t *lx, const char *hint, const char *fmt, ...)
{
    va_list ap;
    if (lx->failed)
        return;
    lx->failed = true;
    memcpy(lx->err->sqlstate, "42601", 6);
    va_start(ap, fmt);
    vsnprintf(lx->err->msg, sizeof(lx->err->msg), fmt, ap);
    va_end(ap);
    lx->err->hint = hint;
}

static bool
word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == ':' || c == '$' || c >= 0x80;
}

/* Skip white space and comments (-- to end of line; nested block comments, as PostgreSQL). */
static void
skip_space(lex_t *lx)
{
    while (lx->p < lx->end) {
        unsigned char c = (unsigned char)*lx->p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '-' && lx->end - lx->p >= 2 && lx->p[1] == '-') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->end - lx->p >= 2 && lx->p[1] == '*') {
            int depth = 0;
            do {
                if (lx->end - lx->p >= 2 && lx->p[0] == '/' && lx->p[1] == '*') {
                    depth++;
                    lx->p += 2;
                } else if (lx->end - lx->p >= 2 && lx->p[0] == '*' && lx->p[1] == '/') {
                    depth--;
                    lx->p += 2;
                } else {
                    lx->p++;
                }
            } while (depth > 0 && lx->p < lx->end);
            if (depth > 0)
                lex_fail(lx, NULL, "unterminated /* comment");
        } else {
            return;
        }
    }
}

static tok_t
lex_next(lex_t *lx)
{
    tok_t t = { T_END, lx->p, 0 };

    skip_space(lx);
    t.s = lx->p;
    if (lx->failed || lx->p >= lx->end)
        return t;
    unsigned char c = (unsigned char)*lx->p;
    if (c == '\'' || c == '"') {
        const char *q = lx->p + 1;
        for (;;) {
            if (q >= lx->end) {
                lex_fail(lx, NULL, c == '\'' ? "unterminated quoted string"
                                             : "unterminated quoted identifier");
                t.kind = T_END;
                return t;
            }
            if ((unsigned char)*q == c) {
                if (q + 1 < lx->end && (unsigned char)q[1] == c) {
                    q += 2;
                    continue;
                }
                break;
            }
            q++;
        }
        t.kind = c == '\'' ? T_STRING : T_QIDENT;
        t.len = (size_t)(q + 1 - lx->p);
    } else if (c == ';') {
        t.kind = T_SEMI;
        t.len = 1;
    } else if (word_byte(c)) {
        const char *q = lx->p;
        /* A "--" inside a word still starts a comment, as in SQL. */
        while (q < lx->end && word_byte((unsigned char)*q) &&
               !(q[0] == '-' && q + 1 < lx->end && q[1] == '-'))
            q++;
        t.kind = T_WORD;
        t.len = (size_t)(q - lx->p);
    } else {
        t.kind = T_PUNCT;
        t.len = 1;
    }
    lx->p += t.len;
    return t;
}

static bool
tok_is(const tok_t *t, const char *kw)
{
    return t->kind == T_WORD && strlen(kw) == t->len && strncasecmp(t->s, kw, t->len) == 0;
}

/* Append up to max bytes of s[0..n) to buf[*o..cap) for a message: valid UTF-8 kept, control
 * characters and invalid bytes as '?', "..." when cut. Keeps room for the NUL and one more. */
static void
put_shown(char *buf, size_t cap, size_t *o, const char *s, size_t n, size_t max)
{
    size_t i = 0;
    while (i < n && i < max) {
        size_t k = pgr_report_utf8_seq(s + i, n - i);
        unsigned char c = (unsigned char)s[i];
        if (k == 0 || (k == 1 && (c < 0x20 || c == 0x7f)))
            k = 0;
        if (*o + (k ? k : 1) + 5 > cap)
            break;
        if (k == 0) {
            buf[(*o)++] = '?';
            i++;
        } else {
            memcpy(buf + *o, s + i, k);
            *o += k;
            i += k;
        }
    }
    if (i < n && *o + 5 <= cap) {
        memcpy(buf + *o, "...", 3);
        *o += 3;
    }
    buf[*o] = '\0';
}

/* Describe t for a message: `"word"` (at most 40 bytes, see put_shown) or "end of input". */
static const char *
tok_show(const tok_t *t, char *buf, size_t cap)
{
    size_t o = 0;
    if (t->kind == T_END)
        return "end of input";
    buf[o++] = '"';
    put_shown(buf, cap - 1, &o, t->s, t->len, 40);
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* The unquoted value of a string or quoted identifier (doubled quotes undone) into a new
 * string, or NULL when out of memory. */
static char *
tok_unquote(const tok_t *t)
{
    char *v = malloc(t->len);
    size_t o = 0;
    if (!v)
        return NULL;
    for (size_t i = 1; i + 1 < t->len; i++) {
        v[o++] = t->s[i];
        if (t->s[i] == t->s[0])
            i++; /* the second of a doubled quote */
    }
    v[o] = '\0';
    return v;
}

/* ---- parser ------------------------------------------------------------------------------ */

static const char usage_add[] = "ADD NODE id 'conninfo' [ROLE primary|replica|auto] [WEIGHT n]";
static const char usage_set[] = "SET NODE id WEIGHT n | ROLE primary|replica|auto";
static const char usage_show[] =
    "SHOW NODES | POOLS | CLIENTS | SERVERS | STATS | CONFIG | VERSION | HELP";

/* A node id: a word or a quoted identifier of 1..63 bytes of UTF-8, no control characters. */
static bool
parse_node_id(lex_t *lx, const char *what, const char *hint, char *out)
{
    char shown[64];
    tok_t t = lex_next(lx);
    if (t.kind != T_WORD && t.kind != T_QIDENT) {
        lex_fail(lx, hint, "syntax error in %s: expected a node id, got %s", what,
                 tok_show(&t, shown, sizeof(shown)));
        return false;
    }
    char *v = t.kind == T_QIDENT ? tok_unquote(&t) : strndup(t.s, t.len);
    if (!v) {
        lex_fail(lx, NULL, "out of memory");
        lx->nomem = true;
        return false;
    }
    /* strlen stops at an embedded NUL: compare with the token's length to catch one. */
    size_t n = strlen(v);
    bool ok = n >= 1 && n < PGR_NODE_ID_MAX && pgr_report_utf8_valid(v, n) &&
              memchr(t.s, 0, t.len) == NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)v[i] >= 0x20 && v[i] != 0x7f;
    if (ok)
        memcpy(out, v, n + 1);
    else
        lex_fail(lx, hint, "invalid node id %s: 1-%d bytes of UTF-8 expected",
                 tok_show(&t, shown, sizeof(shown)), PGR_NODE_ID_MAX - 1);
    free(v);
    return ok;
}

static bool
parse_role(lex_t *lx, const char *what, const char *hint, pgr_role_t *out)
{
    char shown[64];
    tok_t t = lex_next(lx);
    if (tok_is(&t, "primary"))
        *out = PGR_ROLE_PRIMARY;
    else if (tok_is(&t, "replica"))
        *out = PGR_ROLE_REPLICA;
    else if (tok_is(&t, "auto"))
        *out = PGR_ROLE_AUTO;
    else {
        lex_fail(lx, hint, "syntax error in %s: expected ROLE primary, replica or auto, got %s",
                 what, tok_show(&t, shown, sizeof(shown)));
        return false;
    }
    return true;
}

static bool
parse_weight(lex_t *lx, const char *what, const char *hint, int *out)
{
    char shown[64];
    tok_t t = lex_next(lx);
    long v = 0;
    bool ok = t.kind == T_WORD && t.len <= 7;
    for (size_t i = 0; ok && i < t.len; i++) {
        ok = t.s[i] >= '0' && t.s[i] <= '9';
        v = v * 10 + (t.s[i] - '0');
    }
    if (!ok || v > 1000000) {
        lex_fail(lx, hint, "syntax error in %s: expected WEIGHT 0-1000000, got %s", what,
                 tok_show(&t, shown, sizeof(shown)));
        return false;
    }
    *out = (int)v;
    return true;
}

/* ROLE r and WEIGHT w, in any order, each at most once, up to the end of the command. */
static void
parse_node_options(lex_t *lx, pgr_admin_cmd_t *cmd, const char *what, const char *hint)
{
    char shown[64];
    for (;;) {
        const char *save = lx->p;
        tok_t t = lex_next(lx);
        if (t.kind == T_END || t.kind == T_SEMI) {
            lx->p = save;
            return;
        }
        if (tok_is(&t, "role") && !cmd->has_role) {
            cmd->has_role = parse_role(lx, what, hint, &cmd->role);
        } else if (tok_is(&t, "weight") && !cmd->has_weight) {
            cmd->has_weight = parse_weight(lx, what, hint, &cmd->weight);
        } else {
            lex_fail(lx, hint, "syntax error in %s at %s", what,
                     tok_show(&t, shown, sizeof(shown)));
        }
        if (lx->failed)
            return;
    }
}

/* The end: nothing, or one ';' and nothing. */
static void
parse_end(lex_t *lx, const char *what, const char *hint)
{
    char shown[64];
    tok_t t = lex_next(lx);
    if (t.kind == T_SEMI)
        t = lex_next(lx);
    if (t.kind == T_END || lx->failed)
        return;
    lex_fail(lx, hint, "syntax error in %s at %s (one command per query)", what,
             tok_show(&t, shown, sizeof(shown)));
}

/* The first two words of the input, for "unrecognized admin command". */
static void
first_words(const char *sql, size_t len, char *buf, size_t cap)
{
    pgr_admin_err_t dummy;
    lex_t lx = { sql, sql + len, &dummy, false, false };
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < 2; i++) {
        tok_t t = lex_next(&lx);
        if (t.kind == T_END || t.kind == T_SEMI)
            break;
        if (i > 0 && o + 2 < cap)
            buf[o++] = ' ';
        put_shown(buf, cap, &o, t.s, t.len, 40);
    }
}

int
pgr_admin_parse(const char *sql, size_t len, pgr_admin_cmd_t *cmd, pgr_admin_err_t *err)
{
    lex_t lx = { sql, sql + len, err, false, false };
    char shown[64];
    const char *what;

    memset(cmd, 0, sizeof(*cmd));
    memset(err, 0, sizeof(*err));
    tok_t t = lex_next(&lx);
    if (t.kind == T_SEMI) {
        /* ";" alone is an empty query, as in PostgreSQL. */
        const char *save = lx.p;
        if (lex_next(&lx).kind == T_END && !lx.failed)
            t.kind = T_END;
        lx.p = save;
    }
    if (t.kind == T_END && !lx.failed) {
        cmd->verb = PGR_ADMIN_EMPTY;
        return 0;
    }
    if (lx.failed)
        return PGR_EINVAL;
    if (tok_is(&t, "show")) {
        static const struct { const char *kw; pgr_admin_verb_t verb; } items[] = {
            { "nodes", PGR_ADMIN_SHOW_NODES },     { "pools", PGR_ADMIN_SHOW_POOLS },
            { "clients", PGR_ADMIN_SHOW_CLIENTS }, { "servers", PGR_ADMIN_SHOW_SERVERS },
            { "stats", PGR_ADMIN_SHOW_STATS },     { "config", PGR_ADMIN_SHOW_CONFIG },
            { "version", PGR_ADMIN_SHOW_VERSION }, { "help", PGR_ADMIN_SHOW_HELP },
        };
        tok_t item = lex_next(&lx);
        size_t i;
        for (i = 0; i < PGR_ARRAY_LEN(items) && !tok_is(&item, items[i].kw); i++)
            ;
        if (i == PGR_ARRAY_LEN(items))
            goto unrecognized;
        cmd->verb = items[i].verb;
        parse_end(&lx, pgr_admin_verb_name(cmd->verb), usage_show);
    } else if (tok_is(&t, "add") || tok_is(&t, "drain") || tok_is(&t, "remove")) {
        cmd->verb = tok_is(&t, "add") ? PGR_ADMIN_ADD_NODE : tok_is(&t, "drain")
                                      ? PGR_ADMIN_DRAIN_NODE : PGR_ADMIN_REMOVE_NODE;
        what = pgr_admin_verb_name(cmd->verb);
        const char *hint = cmd->verb == PGR_ADMIN_ADD_NODE ? usage_add
                           : cmd->verb == PGR_ADMIN_DRAIN_NODE ? "DRAIN NODE id" : "REMOVE NODE id";
        tok_t kw = lex_next(&lx);
        if (!tok_is(&kw, "node"))
            goto unrecognized;
        if (!parse_node_id(&lx, what, hint, cmd->node))
            goto fail;
        if (cmd->verb == PGR_ADMIN_ADD_NODE) {
            tok_t ci = lex_next(&lx);
            if (ci.kind != T_STRING) {
                lex_fail(&lx, hint, "syntax error in ADD NODE: expected a 'conninfo' string, "
                         "got %s", tok_show(&ci, shown, sizeof(shown)));
                goto fail;
            }
            if (memchr(ci.s, 0, ci.len) != NULL) {
                lex_fail(&lx, hint, "invalid conninfo: it contains a NUL byte");
                goto fail;
            }
            if (!(cmd->conninfo = tok_unquote(&ci)))
                return PGR_ENOMEM;
            parse_node_options(&lx, cmd, what, hint);
        }
        parse_end(&lx, what, hint);
    } else if (tok_is(&t, "set")) {
        tok_t kw = lex_next(&lx);
        if (!tok_is(&kw, "node"))
            goto unrecognized;
        cmd->verb = PGR_ADMIN_SET_NODE;
        if (!parse_node_id(&lx, "SET NODE", usage_set, cmd->node))
            goto fail;
        parse_node_options(&lx, cmd, "SET NODE", usage_set);
        if (!lx.failed && !cmd->has_role && !cmd->has_weight)
            lex_fail(&lx, usage_set, "syntax error in SET NODE: expected WEIGHT or ROLE");
        parse_end(&lx, "SET NODE", usage_set);
    } else if (tok_is(&t, "pause") || tok_is(&t, "resume") || tok_is(&t, "reload")) {
        cmd->verb = tok_is(&t, "pause") ? PGR_ADMIN_PAUSE : tok_is(&t, "resume")
                                        ? PGR_ADMIN_RESUME : PGR_ADMIN_RELOAD;
        parse_end(&lx, pgr_admin_verb_name(cmd->verb), NULL);
    } else if (tok_is(&t, "shutdown")) {
        cmd->verb = PGR_ADMIN_SHUTDOWN;
        const char *save = lx.p;
        tok_t opt = lex_next(&lx);
        if (tok_is(&opt, "wait_for_clients") || tok_is(&opt, "wait"))
            cmd->wait_for_clients = true;
        else
            lx.p = save;
        parse_end(&lx, "SHUTDOWN", "SHUTDOWN [WAIT_FOR_CLIENTS]");
    } else if (tok_is(&t, "explain")) {
        tok_t kw = lex_next(&lx);
        if (!tok_is(&kw, "route"))
            goto unrecognized;
        cmd->verb = PGR_ADMIN_EXPLAIN_ROUTE;
        /* Only white space: a leading comment may be a routing hint. */
        while (lx.p < lx.end && (*lx.p == ' ' || *lx.p == '\t' || *lx.p == '\n' || *lx.p == '\r'))
            lx.p++;
        const char *e = lx.end;
        while (e > lx.p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
            e--;
        if (lx.failed || e == lx.p) {
            lex_fail(&lx, "EXPLAIN ROUTE <statement>",
                     "syntax error in EXPLAIN ROUTE: expected a statement");
            goto fail;
        }
        cmd->rest = lx.p;
        cmd->rest_len = (size_t)(e - lx.p);
    } else if (tok_is(&t, "listen")) {
        cmd->verb = PGR_ADMIN_LISTEN;
        tok_t ch = lex_next(&lx);
        if (ch.kind != T_WORD || ch.len >= sizeof(cmd->channel)) {
            lex_fail(&lx, "LISTEN pgrouter_events", "syntax error in LISTEN: expected a channel, "
                     "got %s", tok_show(&ch, shown, sizeof(shown)));
            goto fail;
        }
        memcpy(cmd->channel, ch.s, ch.len);
        if (!pgr_report_utf8_valid(cmd->channel, ch.len)) {
            lex_fail(&lx, "LISTEN pgrouter_events", "syntax error in LISTEN: invalid channel "
                     "name %s", tok_show(&ch, shown, sizeof(shown)));
            goto fail;
        }
        parse_end(&lx, "LISTEN", "LISTEN pgrouter_events");
    } else if (tok_is(&t, "unlisten")) {
        cmd->verb = PGR_ADMIN_UNLISTEN;
        tok_t ch = lex_next(&lx);
        bool star = ch.kind == T_PUNCT && ch.len == 1 && ch.s[0] == '*';
        if ((ch.kind != T_WORD && !star) || ch.len >= sizeof(cmd->channel)) {
            lex_fail(&lx, "UNLISTEN pgrouter_events", "syntax error in UNLISTEN: expected a "
                     "channel or *, got %s", tok_show(&ch, shown, sizeof(shown)));
            goto fail;
        }
        memcpy(cmd->channel, ch.s, ch.len);
        if (!pgr_report_utf8_valid(cmd->channel, ch.len)) {
            lex_fail(&lx, "UNLISTEN pgrouter_events", "syntax error in UNLISTEN: invalid "
                     "channel name %s", tok_show(&ch, shown, sizeof(shown)));
            goto fail;
        }
        parse_end(&lx, "UNLISTEN", "UNLISTEN pgrouter_events");
    } else {
        goto unrecognized;
    }
    if (lx.failed)
        goto fail;
    return 0;

unrecognized:
    if (!lx.failed) {
        char words[100];
        first_words(sql, len, words, sizeof(words));
        lex_fail(&lx, "SHOW HELP lists the commands",
                 "unrecognized admin command \"%s\"", words);
    }
fail:
    pgr_admin_cmd_free(cmd);
    return lx.nomem ? PGR_ENOMEM : PGR_EINVAL;
}

void
pgr_admin_cmd_free(pgr_admin_cmd_t *cmd)
{
    free(cmd->conninfo);
    cmd->conninfo = NULL;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void PGR_PRINTF(4, 5)
reply_error(pgr_writer_t *out, const char *sqlstate, const char *hint, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pgr_be_write_error(out, false, "ERROR", sqlstate, msg, NULL, hint);
}

static void PGR_PRINTF(2, 3)
reply_notice(pgr_writer_t *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pgr_be_write_error(out, true, "NOTICE", "00000", msg, NULL, NULL);
}

/* ---- commands that change things ---------------------------------------------------------- */

static void
set_node_options(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd)
{
    /* The node exists (checked or just added, same loop turn): these cannot fail. */
    if (cmd->has_role)
        (void)pgr_cluster_set_node_role(rt->cluster, cmd->node, cmd->role);
    if (cmd->has_weight)
        (void)pgr_cluster_set_node_weight(rt->cluster, cmd->node, cmd->weight);
}

static void
add_node(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out)
{
    char err[512] = "";
    int rc = pgr_cluster_add_node_conninfo(rt->cluster, cmd->node, cmd->conninfo, err,
                                           sizeof(err));
    switch (rc) {
    case 0:
        set_node_options(rt, cmd);
        pgr_info("admin", "node %s added (role %s, weight %d)", cmd->node,
                 pgr_role_name(cmd->has_role ? cmd->role : PGR_ROLE_AUTO),
                 cmd->has_weight ? cmd->weight : 1);
        reply_notice(out, "node %s added: it takes work once its first health check passes",
                     cmd->node);
        pgr_be_write_complete(out, "ADD NODE");
        return;
    case PGR_EEXIST:
        reply_error(out, "42710", NULL, "node \"%s\" already exists", cmd->node);
        return;
    case PGR_ESHUTDOWN:
        reply_error(out, "57P01", NULL, "cannot add node \"%s\": pgrouter is shutting down",
                    cmd->node);
        return;
    case PGR_ELIMIT:
        reply_error(out, "54000", NULL, "cannot add node \"%s\": %s", cmd->node, err);
        return;
    case PGR_ENOMEM:
        pgr_writer_fail(out, PGR_ENOMEM);
        return;
    default:
        /* The cluster's messages name the bad key or value, never a password; they may echo
         * what was typed, so only valid UTF-8 goes out. */
        pgr_report_utf8_sanitize(err);
        reply_error(out, "22023", usage_add, "cannot add node \"%s\": %s", cmd->node, err);
        return;
    }
}

static void
remove_node(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out)
{
    int64_t drain = rt->cfg ? rt->cfg->shutdown.drain_timeout_ms : -1;
    const char *verb = pgr_admin_verb_name(cmd->verb);
    /* The cluster logs the removal and emits NODE_REMOVED when the node is gone. */
    int rc = pgr_cluster_remove_node(rt->cluster, cmd->node, drain, NULL, NULL);
    if (rc == PGR_ENOENT) {
        reply_error(out, "42704", "SHOW NODES lists them", "node \"%s\" does not exist",
                    cmd->node);
        return;
    }
    if (rc != 0) {
        reply_error(out, "57P01", NULL, "cannot remove node \"%s\": pgrouter is shutting down",
                    cmd->node);
        return;
    }
    pgr_info("admin", "%s %s: draining for up to %lld ms", verb, cmd->node, (long long)drain);
    reply_notice(out, "%s %s started: the node takes no new work now; running work may finish "
                 "for up to %lld ms (shutdown.drain_timeout), then its connections are closed "
                 "and it is removed", verb, cmd->node, (long long)drain);
    pgr_be_write_complete(out, verb);
}

static void
set_node(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out)
{
    if (!pgr_cluster_has_node(rt->cluster, cmd->node)) {
        reply_error(out, "42704", "SHOW NODES lists them", "node \"%s\" does not exist",
                    cmd->node);
        return;
    }
    set_node_options(rt, cmd);
    char weight[32] = "";
    if (cmd->has_weight)
        snprintf(weight, sizeof(weight), " weight %d", cmd->weight);
    pgr_info("admin", "SET NODE %s:%s%s%s", cmd->node, cmd->has_role ? " role " : "",
             cmd->has_role ? pgr_role_name(cmd->role) : "", weight);
    pgr_be_write_complete(out, "SET NODE");
}

static void
pause_resume(pgr_runtime_t *rt, bool pause, pgr_writer_t *out)
{
    if (rt->listener == NULL) {
        reply_error(out, "55000", NULL, "cannot %s: pgrouter is not accepting connections "
                    "(shutting down)", pause ? "pause" : "resume");
        return;
    }
    if (pause) {
        pgr_listener_pause(rt->listener);
        pgr_info("admin", "PAUSE: new connections wait in the listen backlog");
        reply_notice(out, "paused: new connections wait in the kernel's listen backlog until "
                     "RESUME; sessions already connected, this one included, go on as before");
        pgr_be_write_complete(out, "PAUSE");
    } else {
        pgr_listener_resume(rt->listener);
        pgr_info("admin", "RESUME: accepting connections");
        pgr_be_write_complete(out, "RESUME");
    }
}

static void
shutdown_cmd(pgr_runtime_t *rt, const pgr_admin_cmd_t *cmd, pgr_writer_t *out)
{
    long long drain = rt->cfg ? (long long)rt->cfg->shutdown.drain_timeout_ms : 0;
    if (rt->shutting_down) {
        /* A second SIGTERM would cut the drain short (the daemon's "stop waiting"). */
        reply_notice(out, "pgrouter is already shutting down");
        pgr_be_write_complete(out, "SHUTDOWN");
        return;
    }
    pgr_info("admin", "SHUTDOWN%s requested from the admin console",
             cmd->wait_for_clients ? " WAIT_FOR_CLIENTS" : "");
    /* The daemon's SIGTERM handler runs the graceful shutdown on a later loop turn, after this
     * reply has been queued. */
    if (kill(getpid(), SIGTERM) != 0) {
        reply_error(out, "58000", NULL, "cannot signal the pgrouter process: %s",
                    strerror(errno));
        return;
    }
    reply_notice(out, "graceful shutdown started: no new connections; running transactions may "
                 "finish for up to %lld ms (shutdown.drain_timeout); idle sessions, this one "
                 "included, are closed%s", drain,
                 cmd->wait_for_clients ? " (WAIT_FOR_CLIENTS does not wait longer than that)"
                                       : "");
    pgr_be_write_complete(out, "SHUTDOWN");
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/* LISTEN / UNLISTEN: channel names are case-folded like identifiers; only pgrouter_events
 * carries anything, as PostgreSQL accepts a LISTEN on a channel nobody notifies. */
static void
listen_cmd(const pgr_admin_cmd_t *cmd, pgr_admin_session_t *sess, pgr_writer_t *out)
{
    bool ours = strcasecmp(cmd->channel, "pgrouter_events") == 0;

    if (cmd->verb == PGR_ADMIN_LISTEN) {
        if (ours && sess)
            sess->listening = true;
        else
            reply_notice(out, "nothing is sent on channel \"%s\": pgrouter's events come on "
                         "pgrouter_events", cmd->channel);
    } else if ((ours || strcmp(cmd->channel, "*") == 0) && sess) {
        sess->listening = false;
    }
    pgr_be_write_complete(out, pgr_admin_verb_name(cmd->verb));
}

int
pgr_admin_execute(pgr_runtime_t *rt, const char *sql, size_t len, pgr_writer_t *out,
                  pgr_admin_session_t *sess)
{
    pgr_admin_cmd_t cmd;
    pgr_admin_err_t err;

    int rc = pgr_admin_parse(sql, len, &cmd, &err);
    if (rc == PGR_ENOMEM)
        return PGR_ENOMEM;
    if (rc != 0) {
        pgr_be_write_error(out, false, "ERROR", err.sqlstate, err.msg, NULL, err.hint);
        return out->err;
    }
    bool need_cluster = cmd.verb == PGR_ADMIN_ADD_NODE || cmd.verb == PGR_ADMIN_DRAIN_NODE ||
                        cmd.verb == PGR_ADMIN_REMOVE_NODE || cmd.verb == PGR_ADMIN_SET_NODE;
    if (need_cluster && rt->cluster == NULL) {
        reply_error(out, "55000", NULL, "%s: the node cluster is not running",
                    pgr_admin_verb_name(cmd.verb));
        goto done;
    }
    switch (cmd.verb) {
    case PGR_ADMIN_EMPTY:
        pgr_fe_write_empty(out, 'I'); /* EmptyQueryResponse, as PostgreSQL answers "" */
        break;
    case PGR_ADMIN_ADD_NODE:
        add_node(rt, &cmd, out);
        break;
    case PGR_ADMIN_DRAIN_NODE:
    case PGR_ADMIN_REMOVE_NODE:
        remove_node(rt, &cmd, out);
        break;
    case PGR_ADMIN_SET_NODE:
        set_node(rt, &cmd, out);
        break;
    case PGR_ADMIN_PAUSE:
    case PGR_ADMIN_RESUME:
        pause_resume(rt, cmd.verb == PGR_ADMIN_PAUSE, out);
        break;
    case PGR_ADMIN_RELOAD:
        if (rt->shutting_down)
            reply_error(out, "57P01", NULL, "RELOAD: pgrouter is shutting down");
        else if (pgr_reload_run(rt, out) == PGR_ENOMEM)
            return PGR_ENOMEM;
        break;
    case PGR_ADMIN_SHUTDOWN:
        shutdown_cmd(rt, &cmd, out);
        break;
    case PGR_ADMIN_LISTEN:
    case PGR_ADMIN_UNLISTEN:
        listen_cmd(&cmd, sess, out);
        break;
    default:
        /* SHOW * and EXPLAIN ROUTE answer with rows. */
        pgr_admin_show(rt, &cmd, out);
        break;
    }
done:
    pgr_admin_cmd_free(&cmd);
    return out->err;
}

void
pgr_admin_install(pgr_runtime_t *rt)
{
    rt->admin_execute = pgr_admin_execute;
}

/* libyaml events -> pgr_ynode_t tree with source marks; the config error list. The only file
 * that includes yaml.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "core/config_yaml.h"

#define MAX_DEPTH 64 /* deeper nesting than any real config: refused, not recursed into */

void
pgr_config_err(pgr_config_ctx_t *ctx, int line, int col, const char *path, const char *fmt, ...)
{
    char msg[1024], *full = NULL;
    va_list ap;
    int rc;

    if (ctx->nomem)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line <= 0)
        rc = asprintf(&full, "%s: %s", ctx->name, msg);
    else if (path)
        rc = asprintf(&full, "%s:%d:%d: %s: %s", ctx->name, line, col, path, msg);
    else
        rc = asprintf(&full, "%s:%d:%d: %s", ctx->name, line, col, msg);
    if (rc < 0 || pgr_config_errors_push(ctx->errs, full) != 0)
        goto fail;
    return;
fail:
    free(full);
    ctx->nomem = true;
}

int
pgr_config_errors_push(pgr_config_errors_t *errs, char *msg)
{
    /* The list doubles when its count reaches a power of two (the struct keeps no capacity),
     * so a file with many mistakes still loads in linear time. */
    size_t n = errs->n;
    if (n == 0 || (n & (n - 1)) == 0) {
        char **grown = realloc(errs->msgs, (n ? 2 * n : 1) * sizeof(*grown));
        if (!grown)
            return PGR_ENOMEM;
        errs->msgs = grown;
    }
    errs->msgs[errs->n++] = msg;
    return 0;
}

bool
pgr_config_is_null(const pgr_ynode_t *v)
{
    if (v->kind != PGR_YNODE_SCALAR || !v->plain)
        return false;
    return v->str[0] == '\0' || strcmp(v->str, "~") == 0 || strcasecmp(v->str, "null") == 0;
}

const char *
pgr_config_got(const pgr_ynode_t *v, char *buf, size_t len)
{
    size_t o = 0, i;

    if (v->kind == PGR_YNODE_MAP)
        return v->n ? "a mapping" : "an empty mapping";
    if (v->kind == PGR_YNODE_SEQ)
        return v->n ? "a sequence" : "an empty sequence";
    if (pgr_config_is_null(v))
        return "null";
    pgr_assert(len >= 80);
    buf[o++] = '"';
    for (i = 0; v->str[i] && i < 60; i++) {
        unsigned char c = (unsigned char)v->str[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else {
            buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    if (v->str[i]) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void
pgr_config_yaml_free(pgr_ynode_t *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++)
        pgr_config_yaml_free(node->kids[i]);
    free(node->kids);
    free(node->str);
    free(node);
}

/* The parser state of one load. */
typedef struct {
    pgr_config_ctx_t *ctx;
    yaml_parser_t parser;
    yaml_event_t ev; /* the current event, owned until the next next_event() */
    bool have_ev;
} ystate;

/* Fetch the next event into st->ev. 0, or PGR_ECONFIG after recording libyaml's syntax error. */
static int
next_event(ystate *st)
{
    if (st->have_ev)
        yaml_event_delete(&st->ev);
    st->have_ev = false;
    if (!yaml_parser_parse(&st->parser, &st->ev)) {
        yaml_parser_t *p = &st->parser;
        if (p->error == YAML_MEMORY_ERROR) {
            st->ctx->nomem = true;
            return PGR_ENOMEM;
        }
        pgr_config_err(st->ctx, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                       NULL, "YAML syntax error: %s%s%s",
                       p->problem ? p->problem : "unknown problem",
                       p->context ? " " : "", p->context ? p->context : "");
        return PGR_ECONFIG;
    }
    st->have_ev = true;
    return 0;
}

static pgr_ynode_t *
new_node(ystate *st, pgr_ynode_kind_t kind)
{
    pgr_ynode_t *n = calloc(1, sizeof(*n));
    if (!n) {
        st->ctx->nomem = true;
        return NULL;
    }
    n->kind = kind;
    n->line = (int)st->ev.start_mark.line + 1;
    n->col = (int)st->ev.start_mark.column + 1;
    return n;
}

static int
add_kid(ystate *st, pgr_ynode_t *parent, pgr_ynode_t *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? 2 * parent->cap : 4;
        pgr_ynode_t **grown = realloc(parent->kids, cap * sizeof(*grown));
        if (!grown) {
            pgr_config_yaml_free(kid);
            st->ctx->nomem = true;
            return PGR_ENOMEM;
        }
        parent->kids = grown;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

static void
refuse_anchor(ystate *st, const yaml_char_t *anchor)
{
    if (anchor)
        pgr_config_err(st->ctx, (int)st->ev.start_mark.line + 1,
                       (int)st->ev.start_mark.column + 1, NULL,
                       "expected no YAML anchors or aliases, got anchor \"&%s\"", (const char *)anchor);
}

/* Build the node that starts at the current event (a scalar, alias, sequence or mapping start).
 * On return *out is the node (NULL on failure) and the current event is its last one. */
static int
build(ystate *st, int depth, pgr_ynode_t **out)
{
    pgr_ynode_t *n = NULL, *kid = NULL;
    yaml_event_type_t end;
    int rc;

    *out = NULL;
    switch (st->ev.type) {
    case YAML_ALIAS_EVENT:
        pgr_config_err(st->ctx, (int)st->ev.start_mark.line + 1, (int)st->ev.start_mark.column + 1,
                       NULL, "expected no YAML anchors or aliases, got alias \"*%s\"",
                       (const char *)st->ev.data.alias.anchor);
        if (!(n = new_node(st, PGR_YNODE_SCALAR)) || !(n->str = strdup("")))
            goto nomem;
        n->alias = true;
        *out = n;
        return 0;
    case YAML_SCALAR_EVENT:
        refuse_anchor(st, st->ev.data.scalar.anchor);
        if (!(n = new_node(st, PGR_YNODE_SCALAR)))
            goto nomem;
        n->str = strndup((const char *)st->ev.data.scalar.value, st->ev.data.scalar.length);
        if (!n->str)
            goto nomem;
        n->plain = st->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        *out = n;
        return 0;
    case YAML_SEQUENCE_START_EVENT:
        refuse_anchor(st, st->ev.data.sequence_start.anchor);
        n = new_node(st, PGR_YNODE_SEQ);
        end = YAML_SEQUENCE_END_EVENT;
        break;
    case YAML_MAPPING_START_EVENT:
        refuse_anchor(st, st->ev.data.mapping_start.anchor);
        n = new_node(st, PGR_YNODE_MAP);
        end = YAML_MAPPING_END_EVENT;
        break;
    default:
        pgr_assert(!"unexpected YAML event");
        return PGR_ECONFIG;
    }
    if (!n)
        goto nomem;
    if (depth >= MAX_DEPTH) {
        pgr_config_err(st->ctx, n->line, n->col, NULL,
                       "expected at most %d levels of nesting, got more", MAX_DEPTH);
        rc = PGR_ECONFIG;
        goto fail;
    }
    for (;;) {
        if ((rc = next_event(st)) != 0)
            goto fail;
        if (st->ev.type == end)
            break;
        if ((rc = build(st, depth + 1, &kid)) != 0)
            goto fail;
        if (n->kind == PGR_YNODE_MAP && n->n % 2 == 0 && kid->kind != PGR_YNODE_SCALAR) {
            /* A key that is itself a mapping or sequence: report; the value follows and is
             * kept, so the key is turned into an empty scalar the schema walk skips. */
            pgr_config_err(st->ctx, kid->line, kid->col, NULL,
                           "expected a plain key, got %s", kid->kind == PGR_YNODE_MAP ?
                           "a mapping" : "a sequence");
            kid->alias = true;
        }
        if ((rc = add_kid(st, n, kid)) != 0)
            goto fail;
        kid = NULL;
    }
    *out = n;
    return 0;
nomem:
    rc = PGR_ENOMEM;
    st->ctx->nomem = true;
fail:
    pgr_config_yaml_free(n);
    return rc;
}

int
pgr_config_yaml_parse(pgr_config_ctx_t *ctx, const char *yaml, size_t len, pgr_ynode_t **root)
{
    ystate st = { .ctx = ctx };
    pgr_ynode_t *doc = NULL;
    size_t before = ctx->errs->n;
    int rc;

    *root = NULL;
    if (!yaml_parser_initialize(&st.parser)) {
        ctx->nomem = true;
        return PGR_ENOMEM;
    }
    yaml_parser_set_input_string(&st.parser, (const unsigned char *)yaml, len);
    if ((rc = next_event(&st)) != 0) /* STREAM-START */
        goto done;
    if ((rc = next_event(&st)) != 0)
        goto done;
    if (st.ev.type == YAML_STREAM_END_EVENT) {
        pgr_config_err(ctx, 1, 1, NULL, "expected a mapping at the top level, got an empty file");
        rc = PGR_ECONFIG;
        goto done;
    }
    /* DOCUMENT-START, then the root node */
    if ((rc = next_event(&st)) != 0 || (rc = build(&st, 0, &doc)) != 0)
        goto done;
    if ((rc = next_event(&st)) != 0) /* DOCUMENT-END */
        goto done;
    if ((rc = next_event(&st)) != 0)
        goto done;
    if (st.ev.type != YAML_STREAM_END_EVENT) {
        pgr_config_err(ctx, (int)st.ev.start_mark.line + 1, (int)st.ev.start_mark.column + 1, NULL,
                       "expected one YAML document, got a second one");
        rc = PGR_ECONFIG;
        goto done;
    }
    rc = 0;
done:
    if (st.have_ev)
        yaml_event_delete(&st.ev);
    yaml_parser_delete(&st.parser);
    if (ctx->nomem) {
        pgr_config_yaml_free(doc);
        return PGR_ENOMEM;
    }
    if (rc != 0 && doc) {
        pgr_config_yaml_free(doc);
        doc = NULL;
    }
    *root = doc;
    if (rc == 0 && ctx->errs->n > before)
        rc = PGR_ECONFIG; /* anchors or aliases: the tree is still there for the schema walk */
    return rc;
}

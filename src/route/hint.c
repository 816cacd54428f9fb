/* Routing hints in leading comments (see hint.h). The scanner mirrors PostgreSQL's lexer for
 * what may precede the first token: whitespace, `--` to end of line, and block comments that
 * nest. Only the text inside those comments is examined. */
#include <stdio.h>
#include <string.h>

#include "route/hint.h"

static const char *const kind_names[] = {
    [PGR_HINT_NONE] = "none",
    [PGR_HINT_PRIMARY] = "primary",
    [PGR_HINT_REPLICA] = "replica",
    [PGR_HINT_NODE] = "node",
    [PGR_HINT_BROADCAST] = "broadcast",
};

const char *
pgr_hint_kind_name(pgr_hint_kind_t k)
{
    if ((unsigned)k >= PGR_ARRAY_LEN(kind_names))
        return "unknown";
    return kind_names[k];
}

/* PostgreSQL's whitespace set (scan.l: space, tab, newline, CR, form feed, vertical tab). */
static bool
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool
is_id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

static char
lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* s[0..n) starts with the lower-case word w, case-insensitively. */
static bool
starts_ci(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n < wl)
        return false;
    for (size_t i = 0; i < wl; i++)
        if (lower(s[i]) != w[i])
            return false;
    return true;
}

static size_t
skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && is_space(s[i]))
        i++;
    return i;
}

/* Record an error naming the comment's text (trimmed, cut at 60 bytes, control bytes shown
 * as '?'). The first error wins. */
static void
set_error(pgr_hint_t *h, const char *what, const char *text, size_t n)
{
    char shown[64];
    size_t k = 0;
    if (h->error)
        return;
    while (n > 0 && is_space(text[n - 1]))
        n--;
    for (size_t i = 0; i < n && k < 60; i++)
        shown[k++] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
    shown[k] = '\0';
    snprintf(h->error_msg, sizeof(h->error_msg), "%s in routing hint \"%s%s\"", what, shown,
             n > 60 ? "..." : "");
    h->error = true;
}

/* Examine one comment's text t[0..n) (without its delimiters). Not starting with
 * `pgrouter` + optional spaces + ':' means not a hint: ignored. */
static void
one_comment(pgr_hint_t *h, const char *t, size_t n)
{
    size_t i = skip_space(t, n, 0);
    if (!starts_ci(t + i, n - i, "pgrouter"))
        return;
    size_t start = i;
    i = skip_space(t, n, i + 8);
    if (i >= n || t[i] != ':')
        return;
    i = skip_space(t, n, i + 1);

    pgr_hint_kind_t kind = PGR_HINT_NONE;
    char node[PGR_HINT_NODE_MAX + 1] = "";
    size_t w = i;
    while (w < n && ((t[w] >= 'a' && t[w] <= 'z') || (t[w] >= 'A' && t[w] <= 'Z')))
        w++;
    size_t wl = w - i;
    if (wl == 7 && starts_ci(t + i, wl, "primary"))
        kind = PGR_HINT_PRIMARY;
    else if (wl == 7 && starts_ci(t + i, wl, "replica"))
        kind = PGR_HINT_REPLICA;
    else if (wl == 9 && starts_ci(t + i, wl, "broadcast"))
        kind = PGR_HINT_BROADCAST;
    else if (wl == 4 && starts_ci(t + i, wl, "node")) {
        kind = PGR_HINT_NODE;
        w = skip_space(t, n, w);
        if (w >= n || t[w] != '=') {
            set_error(h, "expected node=ID", t + start, n - start);
            return;
        }
        w = skip_space(t, n, w + 1);
        size_t id = w;
        while (w < n && is_id_char(t[w]))
            w++;
        if (w == id) {
            set_error(h, "empty or invalid node id", t + start, n - start);
            return;
        }
        if (w - id > PGR_HINT_NODE_MAX) {
            set_error(h, "node id longer than 63 characters", t + start, n - start);
            return;
        }
        memcpy(node, t + id, w - id);
        node[w - id] = '\0';
    } else {
        set_error(h, "unknown hint (expected primary, replica, broadcast or node=ID)",
                  t + start, n - start);
        return;
    }
    w = skip_space(t, n, w);
    if (w != n) {
        set_error(h, kind == PGR_HINT_NODE ? "invalid node id" : "unexpected text",
                  t + start, n - start);
        return;
    }
    if (h->kind != PGR_HINT_NONE &&
        (h->kind != kind || (kind == PGR_HINT_NODE && strcmp(h->node, node) != 0))) {
        set_error(h, "conflicts with an earlier hint", t + start, n - start);
        return;
    }
    h->kind = kind;
    memcpy(h->node, node, sizeof(node));
}

void
pgr_hint_parse(const char *sql, size_t len, pgr_hint_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    for (;;) {
        i = skip_space(sql, len, i);
        if (len - i >= 2 && sql[i] == '-' && sql[i + 1] == '-') {
            size_t s = i + 2, e = s;
            while (e < len && sql[e] != '\n' && sql[e] != '\r')
                e++;
            one_comment(out, sql + s, e - s);
            i = e;
        } else if (len - i >= 2 && sql[i] == '/' && sql[i + 1] == '*') {
            size_t s = i + 2, e = s;
            int depth = 1;
            while (e < len) {
                if (len - e >= 2 && sql[e] == '/' && sql[e + 1] == '*') {
                    depth++;
                    e += 2;
                } else if (len - e >= 2 && sql[e] == '*' && sql[e + 1] == '/') {
                    if (--depth == 0)
                        break;
                    e += 2;
                } else {
                    e++;
                }
            }
            if (depth != 0)
                break;           /* unterminated: the parser reports it */
            one_comment(out, sql + s, e - s);
            i = e + 2;
        } else {
            break;
        }
    }
    if (out->error) {
        out->kind = PGR_HINT_NONE;
        out->node[0] = '\0';
    }
}

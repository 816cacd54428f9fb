/* The depth pre-scan (see sqlscan.h). One pass, a fixed stack of bracket levels; brackets
 * nested deeper than that are the parser's own error ("memory exhausted" past 10,000), and the
 * bound then simply saturates at the cap. */
#include <string.h>

#include "route/sqlscan.h"

/* Levels of brackets tracked. Past this the bound is reported as the cap. */
#define MAX_LEVELS 512

typedef struct level {
    size_t chain;       /* chain tokens since the last separator at this level */
    size_t best;        /* the deepest chain seen at this level, including children */
    size_t child;       /* the deepest bracketed part closed since the last separator */
    bool between;       /* a BETWEEN whose AND is not a separator */
} level_t;

static bool
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool
is_ident_start(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch >= 0x80;
}

static bool
is_ident_char(unsigned char ch)
{
    return is_ident_start(ch) || (ch >= '0' && ch <= '9') || ch == '$';
}

static bool
is_op_char(char ch)
{
    return strchr("+-*/<>=~!@#%^&|`?:", ch) != NULL && ch != '\0';
}

static bool
is_delim(char ch)
{
    return ch != '\0' && strchr("()[],;'\"$", ch) != NULL;
}

static bool
word_is(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (n != k)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != w[i])
            return false;
    }
    return true;
}

/* Skip a quoted run starting at s[i] == q (q is ' or "); a doubled quote is part of it.
 * backslash: E'' strings, where \x escapes the next byte. Returns the index after it. */
static size_t
skip_quoted(const char *s, size_t len, size_t i, char q, bool backslash)
{
    for (i++; i < len; i++) {
        if (backslash && s[i] == '\\') {
            i++;
        } else if (s[i] == q) {
            if (i + 1 < len && s[i + 1] == q)
                i++;
            else
                return i + 1;
        }
    }
    return len;
}

/* At s[i] == '$': a dollar quote $tag$...$tag$ (tag empty or an identifier without '$').
 * Returns the index after it, or i when this '$' does not open one ($1 is a parameter). */
static size_t
skip_dollar(const char *s, size_t len, size_t i)
{
    size_t t = i + 1;
    if (t < len && is_ident_start((unsigned char)s[t]))
        while (t < len && is_ident_char((unsigned char)s[t]) && s[t] != '$')
            t++;
    if (t >= len || s[t] != '$')
        return i;
    size_t taglen = t + 1 - i;          /* "$tag$" */
    for (size_t k = t + 1; k + taglen <= len; k++)
        if (s[k] == '$' && memcmp(s + k, s + i, taglen) == 0)
            return k + taglen;
    return len;
}

static size_t
add_sat(size_t a, size_t b, size_t cap)
{
    return a >= cap || b >= cap - a ? cap : a + b;
}

/* End the current chain at a level (a separator): its depth is the chain plus the deepest
 * bracketed part in it. */
static void
end_chain(level_t *l, size_t cap)
{
    size_t d = add_sat(l->chain, l->child, cap);
    if (d > l->best)
        l->best = d;
    l->chain = 0;
    l->child = 0;
}

size_t
pgr_sqlscan_depth(const char *s, size_t len, size_t cap)
{
    level_t lv[MAX_LEVELS];
    size_t top = 0, worst = 0;
    memset(&lv[0], 0, sizeof(lv[0]));
    size_t i = 0;
    while (i < len) {
        char ch = s[i];
        level_t *l = &lv[top];
        if (is_space(ch)) {
            i++;
        } else if (ch == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n' && s[i] != '\r')
                i++;
        } else if (ch == '/' && i + 1 < len && s[i + 1] == '*') {
            int depth = 1;
            for (i += 2; i < len && depth > 0;) {
                if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (i + 1 < len && s[i] == '*' && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
        } else if (ch == '\'') {
            i = skip_quoted(s, len, i, '\'', false);
            l->chain = add_sat(l->chain, 1, cap);
        } else if (ch == '"') {
            i = skip_quoted(s, len, i, '"', false);
            l->chain = add_sat(l->chain, 1, cap);
        } else if (ch == '$' && skip_dollar(s, len, i) != i) {
            i = skip_dollar(s, len, i);
            l->chain = add_sat(l->chain, 1, cap);
        } else if (ch == '(' || ch == '[') {
            l->chain = add_sat(l->chain, 1, cap);
            if (top + 1 >= MAX_LEVELS)
                return cap;
            top++;
            memset(&lv[top], 0, sizeof(lv[top]));
            i++;
        } else if (ch == ')' || ch == ']') {
            end_chain(l, cap);
            if (top > 0) {
                size_t d = add_sat(l->best, 1, cap);
                top--;
                if (d > lv[top].child)
                    lv[top].child = d;
            }
            i++;
        } else if (ch == ',' || ch == ';') {
            end_chain(l, cap);
            if (ch == ';' && top == 0 && l->best > worst) {
                worst = l->best;
                l->best = 0;
            }
            i++;
        } else if (is_ident_start((unsigned char)ch) ||
                   ((ch == 'e' || ch == 'E') && i + 1 < len && s[i + 1] == '\'')) {
            size_t w = i;
            if ((ch == 'e' || ch == 'E') && i + 1 < len && s[i + 1] == '\'') {
                i = skip_quoted(s, len, i + 1, '\'', true);
                l->chain = add_sat(l->chain, 1, cap);
                continue;
            }
            while (i < len && is_ident_char((unsigned char)s[i]))
                i++;
            if ((word_is(s + w, i - w, "and") && !l->between) || word_is(s + w, i - w, "or")) {
                end_chain(l, cap);
            } else {
                if (word_is(s + w, i - w, "and"))
                    l->between = false;
                else if (word_is(s + w, i - w, "between"))
                    l->between = true;
                l->chain = add_sat(l->chain, 1, cap);
            }
        } else if (is_op_char(ch)) {
            while (i < len && is_op_char(s[i]))
                i++;
            l->chain = add_sat(l->chain, 1, cap);
        } else {
            /* digits, '.', and anything else: one token's worth */
            size_t st = i;
            while (i < len && !is_space(s[i]) && !is_op_char(s[i]) && !is_delim(s[i]))
                i++;
            if (i == st)
                i++;                    /* a lone '$' (as in $1), a zero byte, ... */
            l->chain = add_sat(l->chain, 1, cap);
        }
        if (lv[top].chain >= cap)
            return cap;
    }
    /* unclosed brackets: fold them down as if closed */
    while (true) {
        end_chain(&lv[top], cap);
        if (top == 0)
            break;
        size_t d = add_sat(lv[top].best, 1, cap);
        top--;
        if (d > lv[top].child)
            lv[top].child = d;
    }
    return lv[0].best > worst ? lv[0].best : worst;
}

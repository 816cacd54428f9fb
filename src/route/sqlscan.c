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

/* ---- shapes (see sqlscan.h) -------------------------------------------------------------------
 *
 * One pass that copies the text into the key and replaces constants as it meets them. It
 * follows PostgreSQL 15's scan.l where token boundaries are decided: nested block comments,
 * line comments, '' with doubled quotes, E'' with backslash escapes, B''/X'' (which end at
 * the first quote), dollar quotes (which end at the first copy of the opening delimiter, as
 * the lexer's rescanning finds it), "" identifiers, $n parameters, numbers (digits, one '.',
 * an exponent), "..", identifiers with '$' in them. Anything it does not follow is refused. */

/* scan.l's whitespace in PostgreSQL 15 (no vertical tab). */
static bool
pg_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

/* Refused anywhere: control bytes other than whitespace (NUL, \v, and 0x01, the key's
 * placeholder mark). */
static bool
bad_byte(unsigned char ch)
{
    return ch < 0x20 && !pg_space(ch);
}

static bool
is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

typedef enum {
    PREV_OTHER,         /* the last token was none of these */
    PREV_KEEP_WORD,     /* LIMIT, OFFSET, FIRST or NEXT */
    PREV_FLOAT,         /* FLOAT */
    PREV_FLOAT_PAREN,   /* FLOAT ( */
} prev_t;

typedef struct shaper {
    const char *s;
    size_t len;
    char *key;
    size_t k;           /* bytes written to key */
    pgr_sqlshape_t *out;
    prev_t prev;
} shaper_t;

/* Copy s[from..to) into the key as written. False on a refused byte. */
static bool
copy_text(shaper_t *sh, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        unsigned char ch = (unsigned char)sh->s[i];
        if (bad_byte(ch))
            return false;
        sh->key[sh->k++] = (char)ch;
    }
    return true;
}

/* The constant s[start..end), whose body (the part a placeholder replaces) starts at body.
 * safe: the body may be replaced at all; number: LIMIT-like and FLOAT( rules apply. */
static bool
put_constant(shaper_t *sh, size_t start, size_t body, size_t end, char kind, bool safe)
{
    bool keep = !safe || sh->prev == PREV_KEEP_WORD ||
                (sh->prev == PREV_FLOAT_PAREN && (kind == 'i' || kind == 'f'));
    sh->prev = PREV_OTHER;
    if (keep) {
        if (sh->out->n_kept == PGR_SQLSCAN_MAX_KEPT)
            return false;
        sh->out->kept[sh->out->n_kept++] = (uint32_t)start;
        return copy_text(sh, start, end);
    }
    if (!copy_text(sh, start, body))
        return false;
    sh->key[sh->k++] = '\x01';
    sh->key[sh->k++] = kind;
    sh->out->n_replaced++;
    return true;
}

/* s[i] is the opening quote q: the index after the closing one, or 0 when there is none.
 * doubled: a doubled quote is part of the text; backslash: \x takes the next byte. */
static size_t
quoted_end(const char *s, size_t len, size_t i, char q, bool doubled, bool backslash)
{
    for (i++; i < len; i++) {
        if (backslash && s[i] == '\\') {
            i++;
        } else if (s[i] == q) {
            if (doubled && i + 1 < len && s[i + 1] == q)
                i++;
            else
                return i + 1;
        }
    }
    return 0;
}

/* After a quoted string ending at i: is the next thing past whitespace and line comments
 * another quote? PostgreSQL joins 'a'<newline>'b' into one string; refusing every such case
 * (newline or not) keeps the scan out of that. */
static bool
quote_follows(const char *s, size_t len, size_t i)
{
    while (i < len) {
        if (pg_space((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n' && s[i] != '\r')
                i++;
        } else {
            return s[i] == '\'';
        }
    }
    return false;
}

/* The body of an E'' string (between its quotes) holds no escape whose result the lexer checks
 * (octal and hex escapes may make invalid UTF-8; \u and \U may be invalid code points). */
static bool
e_body_safe(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != '\\')
            continue;
        char e = b[i + 1];
        if ((e >= '0' && e <= '7') || e == 'x' || e == 'X' || e == 'u' || e == 'U')
            return false;
        i++;
    }
    return true;
}

/* digits s[0..n) (no sign) as PostgreSQL's lexer reads them fit an int4: an ICONST. */
static bool
fits_int4(const char *s, size_t n)
{
    while (n > 1 && s[0] == '0') {
        s++;
        n--;
    }
    return n < 10 || (n == 10 && memcmp(s, "2147483647", 10) <= 0);
}

/* Statements whose results may not depend on their constants start with one of these. */
static bool
shaped_start(const char *s, size_t n)
{
    static const char *const words[] = {
        "select", "insert", "update", "delete", "with", "values", "table",
    };
    if (n > 0 && s[0] == '(')
        return true;
    size_t w = 0;
    while (w < n && is_ident_char((unsigned char)s[w]))
        w++;
    for (size_t i = 0; i < PGR_ARRAY_LEN(words); i++)
        if (word_is(s, w, words[i]))
            return true;
    return false;
}

/* A number at s[i] (a digit, or '.' and a digit): its end, or 0 when PostgreSQL 15 would not
 * read it as one plain constant token. *integer: digits only. */
static size_t
number_end(const char *s, size_t len, size_t i, bool *integer)
{
    size_t j = i;
    *integer = true;
    while (j < len && is_digit((unsigned char)s[j]))
        j++;
    if (j < len && s[j] == '.') {
        if (j + 1 < len && s[j + 1] == '.')
            return 0;                   /* "1.." is 1 then "..": not followed */
        *integer = false;
        j++;
        while (j < len && is_digit((unsigned char)s[j]))
            j++;
    }
    if (j < len && (s[j] == 'e' || s[j] == 'E')) {
        *integer = false;
        j++;
        if (j < len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= len || !is_digit((unsigned char)s[j]))
            return 0;
        while (j < len && is_digit((unsigned char)s[j]))
            j++;
    }
    if (j < len && (is_ident_char((unsigned char)s[j]) || s[j] == '.'))
        return 0;                       /* trailing junk, or "1.5.3" */
    return j;
}

/* Byte classes for the shape scan's dispatch (GNU range designators). */
enum {
    B_OTHER = 0, B_SPACE, B_BAD, B_IDENT, B_DIGIT, B_QUOTE, B_DQUOTE, B_DOLLAR, B_DOT, B_DASH,
    B_SLASH, B_SEMI,
};
static const unsigned char byte_class[256] = {
    [0x00 ... 0x08] = B_BAD, [0x0b] = B_BAD, [0x0e ... 0x1f] = B_BAD,     /* 0x0b: \v */
    [' '] = B_SPACE, ['\t'] = B_SPACE, ['\n'] = B_SPACE, ['\r'] = B_SPACE, ['\f'] = B_SPACE,
    ['a' ... 'z'] = B_IDENT, ['A' ... 'Z'] = B_IDENT, ['_'] = B_IDENT, [0x80 ... 0xff] = B_IDENT,
    ['0' ... '9'] = B_DIGIT,
    ['\''] = B_QUOTE, ['"'] = B_DQUOTE, ['$'] = B_DOLLAR, ['.'] = B_DOT, ['-'] = B_DASH,
    ['/'] = B_SLASH, [';'] = B_SEMI,
};

/* scan.l's ident_cont: letters, digits, '_', '$', bytes >= 0x80. */
static const bool ident_cont[256] = {
    ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true, ['_'] = true, ['$'] = true,
    [0x80 ... 0xff] = true,
};

/* The word s[0..n) is one the shape scan watches for: LIMIT, OFFSET, FIRST, NEXT (constants
 * after them are kept) or FLOAT. */
static prev_t
word_prev(const char *s, size_t n)
{
    switch (n) {
    case 4:
        return word_is(s, n, "next") ? PREV_KEEP_WORD : PREV_OTHER;
    case 5:
        return word_is(s, n, "limit") || word_is(s, n, "first") ? PREV_KEEP_WORD
               : word_is(s, n, "float") ? PREV_FLOAT : PREV_OTHER;
    case 6:
        return word_is(s, n, "offset") ? PREV_KEEP_WORD : PREV_OTHER;
    default:
        return PREV_OTHER;
    }
}

/* A constant with a one-letter prefix at s[i] (E'', B'', X'', N''): its end, 0 when
 * unterminated; *kind and *safe for put_constant. i + 1 < len and s[i + 1] is the quote. */
static size_t
prefixed_end(const char *s, size_t len, size_t i, char *kind, bool *safe)
{
    size_t j;
    *safe = true;
    switch (s[i]) {
    case 'e': case 'E':
        j = quoted_end(s, len, i + 1, '\'', true, true);
        *kind = 'e';
        *safe = j != 0 && e_body_safe(s + i + 2, j - 1 - (i + 2));
        return j;
    case 'b': case 'B': case 'x': case 'X': {
        const char *q = memchr(s + i + 2, '\'', len - (i + 2));   /* no doubled quotes */
        *kind = s[i] == 'b' || s[i] == 'B' ? 'b' : 'x';
        return q ? (size_t)(q - s) + 1 : 0;
    }
    default:                    /* n, N */
        *kind = 's';
        return quoted_end(s, len, i + 1, '\'', true, false);
    }
}

/* A dollar quote at s[i] == '$': its end, or 0 when this is not one or it is unterminated. */
static size_t
dollar_end(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && is_ident_start((unsigned char)s[j]))
        while (j < len && is_ident_char((unsigned char)s[j]) && s[j] != '$')
            j++;
    if (j >= len || s[j] != '$')
        return 0;
    size_t dl = j + 1 - i;      /* "$tag$" */
    for (size_t k = j + 1; k + dl <= len; k++) {
        const char *d = memchr(s + k, '$', len - dl + 1 - k);
        if (d == NULL)
            return 0;
        k = (size_t)(d - s);
        if (memcmp(s + k, s + i, dl) == 0)
            return k + dl;
    }
    return 0;
}

bool
pgr_sqlscan_shape(const char *sql, size_t len, char *key, pgr_sqlshape_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > PGR_SQLSCAN_SHAPE_MAX)
        return false;
    shaper_t sh = { .s = sql, .len = len, .key = key, .k = 1, .out = out };
    const char *s = sql;
    bool started = false, ended = false;
    size_t stmt_end = len, i = 0, j;
    key[0] = '\0';
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        unsigned cls = byte_class[ch];
        if (cls == B_SPACE) {
            key[sh.k++] = (char)ch;
            i++;
            continue;
        }
        if (cls == B_BAD)
            return false;
        if (cls == B_DASH && i + 1 < len && s[i + 1] == '-') {
            for (j = i; j < len && s[j] != '\n' && s[j] != '\r'; j++)
                ;
            if (!copy_text(&sh, i, j))
                return false;
            i = j;
            continue;
        }
        if (cls == B_SLASH && i + 1 < len && s[i + 1] == '*') {
            int depth = 1;
            for (j = i + 2; j < len && depth > 0;) {
                if (j + 1 < len && s[j] == '/' && s[j + 1] == '*') {
                    depth++;
                    j += 2;
                } else if (j + 1 < len && s[j] == '*' && s[j + 1] == '/') {
                    depth--;
                    j += 2;
                } else {
                    j++;
                }
            }
            if (depth > 0 || !copy_text(&sh, i, j))
                return false;
            i = j;
            continue;
        }
        /* a token */
        if (ended && cls != B_SEMI)
            return false;               /* a second statement */
        if (!started) {
            if (!shaped_start(s + i, len - i))
                return false;
            started = true;
        }
        char kind;
        bool safe;
        switch (cls) {
        case B_SEMI:
            if (!ended)
                stmt_end = i;
            ended = true;
            key[sh.k++] = ';';
            sh.prev = PREV_OTHER;
            i++;
            break;
        case B_QUOTE:
            j = quoted_end(s, len, i, '\'', true, false);
            if (j == 0 || quote_follows(s, len, j) || !put_constant(&sh, i, i, j, 's', true))
                return false;
            i = j;
            break;
        case B_DQUOTE:
            j = quoted_end(s, len, i, '"', true, false);
            if (j == 0 || !copy_text(&sh, i, j))
                return false;
            sh.prev = PREV_OTHER;
            i = j;
            break;
        case B_DOLLAR:
            j = i + 1;
            if (j < len && is_digit((unsigned char)s[j])) {         /* $n */
                while (j < len && is_digit((unsigned char)s[j]))
                    j++;
                memcpy(key + sh.k, s + i, j - i);
                sh.k += j - i;
                sh.prev = PREV_OTHER;
                i = j;
                break;
            }
            j = dollar_end(s, len, i);  /* a lone '$' is refused too */
            if (j == 0 || !put_constant(&sh, i, i, j, 'd', true))
                return false;
            i = j;
            break;
        case B_DOT:
            if (i + 1 < len && s[i + 1] == '.') {
                key[sh.k++] = '.';      /* "..": one token, so "..5" is not "." and ".5" */
                key[sh.k++] = '.';
                sh.prev = PREV_OTHER;
                i += 2;
                break;
            }
            if (!(i + 1 < len && is_digit((unsigned char)s[i + 1]))) {
                key[sh.k++] = '.';
                sh.prev = PREV_OTHER;
                i++;
                break;
            }
            /* .5: a number */
            /* fall through */
        case B_DIGIT: {
            bool integer;
            j = number_end(s, len, i, &integer);
            if (j == 0 || !put_constant(&sh, i, i, j, integer && fits_int4(s + i, j - i)
                                                           ? 'i' : 'f', true))
                return false;
            i = j;
            break;
        }
        case B_IDENT:
            if (i + 1 < len && s[i + 1] == '\'' && strchr("eEbBxXnN", ch) != NULL) {
                j = prefixed_end(s, len, i, &kind, &safe);
                if (j == 0 || quote_follows(s, len, j) ||
                    !put_constant(&sh, i, i + 1, j, kind, safe))
                    return false;
                i = j;
                break;
            }
            if ((ch == 'u' || ch == 'U') && i + 2 < len && s[i + 1] == '&' &&
                (s[i + 2] == '\'' || s[i + 2] == '"'))
                return false;
            for (j = i + 1; j < len && ident_cont[(unsigned char)s[j]]; j++)
                ;
            memcpy(key + sh.k, s + i, j - i);
            sh.k += j - i;
            sh.prev = word_prev(s + i, j - i);
            i = j;
            break;
        default:                        /* operators and punctuation, one byte at a time */
            key[sh.k++] = (char)ch;
            sh.prev = ch == '(' && sh.prev == PREV_FLOAT ? PREV_FLOAT_PAREN : PREV_OTHER;
            i++;
            break;
        }
    }
    if (!started || out->n_replaced == 0)
        return false;
    out->key_len = sh.k;
    out->stmt_offset = 0;
    out->stmt_length = (uint32_t)stmt_end;
    return true;
}

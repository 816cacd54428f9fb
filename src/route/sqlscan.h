/* Lexical scans of SQL text, before (or instead of) the parser: an upper bound on how deep the
 * parse tree can be, and a statement's shape (its text with the constants taken out), the
 * classifier's cache key for statements that differ only in constants. Pure; no allocation.
 *
 * Depth: libpg_query's protobuf output (protobuf-c packing) costs time quadratic in the tree's
 * depth: a left-deep chain of 20,000 operators (40 KB) takes 1.5 s, 100,000 takes half a
 * minute, on the one loop thread. The classifier refuses to parse text whose bound is over its
 * limit (and routes it as a write). */
#ifndef PGR_ROUTE_SQLSCAN_H
#define PGR_ROUTE_SQLSCAN_H

#include "core/base.h"

/* An upper bound on the nesting of sql[0..len), in tree levels, counted as the parser builds
 * them: every operator, keyword and opening bracket may add a level to the chain it is in;
 * a comma, AND or OR (which the parser flattens into lists) and ';' start a new chain; a
 * bracketed part adds its own depth to the chain it sits in. Strings, quoted identifiers,
 * dollar quotes and comments are skipped. Identifiers count like keywords (the scan cannot
 * tell them apart), so the bound is loose for long word runs, never low for operator chains.
 * Stops counting at cap and returns cap (the caller only needs to know "too deep"). */
size_t pgr_sqlscan_depth(const char *sql, size_t len, size_t cap);

/* Longest text that gets a shape; longer text is cached by its exact text only. */
#define PGR_SQLSCAN_SHAPE_MAX 8192
/* Bytes a shape key may take for text of len bytes (each constant's placeholder is two bytes,
 * and the key has a one-byte prefix). */
#define PGR_SQLSCAN_KEY_CAP(len) (2 * (size_t)(len) + 1)
/* Constants kept as written (see below) in one shape, at most. */
#define PGR_SQLSCAN_MAX_KEPT 8

typedef struct pgr_sqlshape {
    size_t key_len;             /* bytes of the key */
    size_t n_replaced;          /* constants replaced by a placeholder (at least one) */
    uint32_t stmt_offset;       /* the statement's bytes as libpg_query reports them: from 0, */
    uint32_t stmt_length;       /* up to its ';' (or the end of the text) */
    size_t n_kept;              /* constants kept as written, and where each starts */
    uint32_t kept[PGR_SQLSCAN_MAX_KEPT];
} pgr_sqlshape_t;

/* The shape of sql[0..len), for text that is one statement starting with SELECT, INSERT,
 * UPDATE, DELETE, WITH, VALUES, TABLE or '(' and holds at least one constant. The key, written
 * to key[0..PGR_SQLSCAN_KEY_CAP(len)), is a zero byte, then the text byte for byte with the body
 * of each constant replaced by a placeholder: byte 0x01 and a letter for its kind ('i' an
 * integer that fits int4, 'f' any other number, 's' a '' string, 'e' the quoted part of E'',
 * 'b' of B'', 'x' of X'', 'd' a dollar-quoted string; the E/B/X/N prefix stays as written).
 * Keywords, identifiers, operators, whitespace and comments (so hints) are kept exactly.
 *
 * The contract the classifier relies on: two texts with the same key differ only in the values
 * of replaced constants, each of the same kind, and PostgreSQL 15's lexer splits both into
 * the same tokens. So the scan mirrors scan.l for what decides token boundaries, and refuses
 * (returns false) where it does not follow the lexer exactly or a constant's value could
 * change what the parser does: control bytes other than space, tab, CR, LF and FF (so the key's
 * 0x01 bytes are only placeholders), an unterminated quote or comment, a quoted string followed
 * by another quote after only whitespace and line comments (PostgreSQL joins 'a'<newline>'b'
 * into one string), U&'' and U&"" (escapes checked by the lexer), a number run into a letter,
 * '$', '.' or a bad exponent (PostgreSQL 15 rejects "trailing junk"), a '$' that starts
 * neither a parameter nor a dollar quote, a ';' before the statement or a second statement
 * after it, text over PGR_SQLSCAN_SHAPE_MAX.
 *
 * Kept as written, not replaced: a constant right after LIMIT, OFFSET, FIRST or NEXT (the
 * classifier reports LIMIT and OFFSET values); a number right after "float(" (the grammar
 * checks that precision: of the error messages in libpg_query 15's gram.o, the only check of a
 * constant's value a SELECT, INSERT, UPDATE or DELETE can reach); the body of an E'' string
 * with an octal, hex or Unicode escape (the lexer checks what they produce). Their start
 * offsets are in out->kept, so the classifier can check that the constants its result depends
 * on are among them. */
bool pgr_sqlscan_shape(const char *sql, size_t len, char *key, pgr_sqlshape_t *out);

#endif

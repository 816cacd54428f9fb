/* numeric in PostgreSQL's binary wire format (numeric_send / numeric_recv), as the broadcast
 * merge needs it: exact comparison and exact addition of the values nodes send. Pure: no I/O.
 *
 * Layout (all big-endian):
 *   int16 ndigits | int16 weight | uint16 sign | int16 dscale | ndigits × int16 digit
 * The value is sum(digit[i] × 10000^(weight − i)); each digit is 0..9999. sign is 0x0000
 * (positive), 0x4000 (negative), 0xC000 NaN, 0xD000 +Infinity, 0xF000 -Infinity. dscale is the
 * number of decimal digits shown after the point (0..0x3FFF). PostgreSQL sends a canonical form:
 * no leading or trailing zero digits, zero as ndigits 0, weight 0, sign positive (dscale kept);
 * NaN as 0/0/0xC000/0 and ±Infinity with dscale 32 (numeric_send reads the special header's bits
 * as a short header's dscale). */
#ifndef PGR_FANOUT_NUMERIC_H
#define PGR_FANOUT_NUMERIC_H

#include "core/base.h"

#define PGR_NUMERIC_POS  0x0000
#define PGR_NUMERIC_NEG  0x4000
#define PGR_NUMERIC_NAN  0xC000
#define PGR_NUMERIC_PINF 0xD000
#define PGR_NUMERIC_NINF 0xF000

/* Compares two binary numerics by value (dscale and redundant zero digits do not matter; NaN
 * equals NaN and sorts above +Infinity, as in PostgreSQL): *cmp < 0, 0, > 0. Returns 0, or
 * PGR_EINVAL when either is malformed: a length other than 8 + 2 × ndigits, an unknown sign, a
 * dscale above 0x3FFF, a digit outside 0..9999 (*cmp is then untouched). */
int pgr_numeric_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                        int *cmp) PGR_MUSTCHECK;

/* a + b exactly, encoded as PostgreSQL sends the result of sum(numeric) over the two: dscale
 * the larger of the operands', canonical form; NaN absorbs everything, +Infinity + -Infinity
 * is NaN. *out is malloc'd (*outlen bytes; the caller frees it). Returns 0, PGR_EINVAL for a
 * malformed operand (as pgr_numeric_compare, and also a finite value with non-zero digits
 * beyond its dscale, which PostgreSQL never sends) or a result outside numeric's range (weight
 * beyond int16), PGR_ENOMEM. */
int pgr_numeric_add(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t **out,
                    size_t *outlen) PGR_MUSTCHECK;

#endif

/* session/saslprep: SASLprep (RFC 4013) of a SCRAM password, exactly as PostgreSQL's pg_saslprep
 * (src/common/saslprep.c) does it, so a verifier pgrouter derives from a password equals the one
 * PostgreSQL and libpq derive. The only module that uses libidn (RFC 3454's tables and its
 * SASLprep profile) and libunistring (UTF-8 and Unicode normalization). */
#ifndef PGR_SESSION_SASLPREP_H
#define PGR_SESSION_SASLPREP_H

#include "core/base.h"

/* Outcomes of pgr_saslprep besides 0; negative values are PGR_E* (only PGR_ENOMEM). */
enum {
    PGR_SASLPREP_OK = 0,
    PGR_SASLPREP_INVALID_UTF8 = 1, /* the input is not valid UTF-8 */
    PGR_SASLPREP_PROHIBITED = 2,   /* it fails the profile, or maps to the empty string */
};

/* Normalise in: pure ASCII is returned unchanged (as pg_saslprep, control characters too);
 * otherwise map non-ASCII spaces to U+0020 and drop the "commonly mapped to nothing" characters
 * (B.1); refuse, in that mapped string, prohibited characters (C.1.2-C.9), a bad bidirectional
 * string and code points unassigned in Unicode 3.2 (A.1), or an empty result; and return its
 * NFKC normalisation. On PGR_SASLPREP_OK *out is a malloc'd NUL-terminated string the caller
 * frees with pgr_saslprep_free; otherwise *out is NULL. */
int pgr_saslprep(const char *in, char **out) PGR_MUSTCHECK;

/* What PostgreSQL hashes for a SCRAM password: the SASLprep'd form, or the password's own bytes
 * when it is not valid UTF-8 or fails the profile (scram_build_secret's and libpq's fallback).
 * A malloc'd copy the caller wipes and frees (pgr_saslprep_free), or NULL when out of memory. */
char *pgr_saslprep_password(const char *password);

/* Wipe and free a string from this module; NULL is allowed. */
void pgr_saslprep_free(char *s);

#endif

/* session/saslprep: RFC 4013 SASLprep as PostgreSQL's pg_saslprep. libidn supplies the profile
 * (its stringprep_saslprep: the space and B.1 maps, the C.1.2-C.9 prohibitions, the bidi rule,
 * A.1). pg_saslprep differs from the RFC's order in one way that decides which passwords are
 * refused: it checks prohibited, unassigned and bidi characters on the mapped string *before*
 * normalisation, and returns the NFKC of that mapped string. So the libidn profile runs with its
 * NFKC step taken out, and the output is normalised by libunistring (current Unicode tables, as
 * PostgreSQL's own; libidn's NFKC is Unicode 3.2's). */
#include <string.h>

#include <stringprep.h>
#include <uninorm.h>
#include <unistr.h>

#include "net/tls.h"
#include "session/saslprep.h"

#define PROFILE_MAX 32 /* libidn 1.41's SASLprep profile has 18 steps */

static void
wipe_free(void *p, size_t n)
{
    if (p != NULL) {
        pgr_crypto_wipe(p, n);
        free(p);
    }
}

void
pgr_saslprep_free(char *s)
{
    if (s != NULL)
        wipe_free(s, strlen(s));
}

static bool
is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s & 0x80)
            return false;
    return true;
}

/* libidn's SASLprep profile without its NFKC step, zero-terminated. */
static void
profile_without_nfkc(Stringprep_profile prof[PROFILE_MAX])
{
    size_t n = 0;
    bool seen_nfkc = false;

    memset(prof, 0, PROFILE_MAX * sizeof(*prof));
    for (size_t i = 0; stringprep_saslprep[i].operation != 0; i++) {
        pgr_assert(n + 1 < PROFILE_MAX);
        if (stringprep_saslprep[i].operation == STRINGPREP_NFKC)
            seen_nfkc = true;
        else
            prof[n++] = stringprep_saslprep[i];
    }
    pgr_assert(seen_nfkc);
}

int
pgr_saslprep(const char *in, char **out)
{
    Stringprep_profile prof[PROFILE_MAX];
    uint32_t *u = NULL, *nf = NULL;
    uint8_t *u8 = NULL;
    size_t n = strlen(in), ulen = 0, ucap = 0, nlen = 0, u8len = 0;
    int rc;

    *out = NULL;
    if (is_ascii(in)) {
        *out = strdup(in);
        return *out != NULL ? PGR_SASLPREP_OK : PGR_ENOMEM;
    }
    if (u8_check((const uint8_t *)in, n) != NULL)
        return PGR_SASLPREP_INVALID_UTF8;
    /* libidn's map step wants one slot beyond the string even when nothing grows. */
    ucap = n + 1;
    u = malloc(ucap * sizeof(*u));
    if (u == NULL)
        return PGR_ENOMEM;
    ulen = ucap;
    if (u8_to_u32((const uint8_t *)in, n, u, &ulen) != u) {
        rc = PGR_ENOMEM; /* cannot happen: n code points at most, and n + 1 slots */
        goto done;
    }

    /* 1) Map, 3) prohibit, 4) bidi, and no code point unassigned in Unicode 3.2. */
    profile_without_nfkc(prof);
    rc = stringprep_4i(u, &ulen, ucap, STRINGPREP_NO_UNASSIGNED, prof);
    if (rc == STRINGPREP_MALLOC_ERROR) {
        rc = PGR_ENOMEM;
        goto done;
    }
    if (rc != STRINGPREP_OK || ulen == 0) { /* pg_saslprep: "don't allow empty password" */
        rc = PGR_SASLPREP_PROHIBITED;
        goto done;
    }
    /* 2) Normalise: the output. */
    nf = u32_normalize(UNINORM_NFKC, u, ulen, NULL, &nlen);
    u8 = nf != NULL ? u32_to_u8(nf, nlen, NULL, &u8len) : NULL;
    if (u8 == NULL || (*out = malloc(u8len + 1)) == NULL) {
        rc = PGR_ENOMEM;
        goto done;
    }
    memcpy(*out, u8, u8len);
    (*out)[u8len] = '\0';
    rc = PGR_SASLPREP_OK;

done:
    wipe_free(u, ucap * sizeof(*u));
    wipe_free(nf, nlen * sizeof(*nf));
    wipe_free(u8, u8len);
    return rc;
}

char *
pgr_saslprep_password(const char *password)
{
    char *out = NULL;
    int rc = pgr_saslprep(password, &out);
    if (rc == PGR_SASLPREP_OK)
        return out;
    if (rc < 0)
        return NULL;
    return strdup(password);
}

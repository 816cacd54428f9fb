/* Inside the auth module, shared by its two files and by no other module: auth.c (the
 * exchange) calls what auth_secret.c (the auth secret, verifiers, cancel keys) provides. Other
 * modules use session/auth.h. */
#ifndef PGR_SESSION_AUTH_INT_H
#define PGR_SESSION_AUTH_INT_H

#include "session/auth.h"

/* The salt an unknown user (and a plaintext-password user) is served: HMAC(s->key, username),
 * cut to PGR_SCRAM_SALT_LEN bytes. 0, or the crypto error. For auth.c's SCRAM begin. */
int pgr_auth_derived_salt(const pgr_auth_secret_t *s, const char *username,
                          uint8_t salt[PGR_SCRAM_SALT_LEN]) PGR_MUSTCHECK;

#endif

/* session/auth: one client's authentication exchange (trust, md5, SCRAM-SHA-256 server side),
 * SCRAM verifiers as pg_authid stores them, and random cancel keys. It never frames or parses
 * protocol messages: the session decodes PasswordMessage / SASLInitialResponse / SASLResponse,
 * calls in here with the pieces, and frames each pgr_auth_out_t as an Authentication ('R')
 * message. No secret is ever logged. */
#ifndef PGR_SESSION_AUTH_H
#define PGR_SESSION_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "core/base.h"
#include "net/tls.h"
#include "pgrouter/config.h"

#define PGR_SCRAM_ITERATIONS    4096 /* PostgreSQL's default scram_iterations */
#define PGR_SCRAM_SALT_LEN      16   /* PostgreSQL's SCRAM_DEFAULT_SALT_LEN */
#define PGR_SCRAM_SALT_MAX      64   /* longest salt accepted in a verifier */
#define PGR_SCRAM_VERIFIER_MAX  256  /* room for any formatted verifier, with its NUL */

/* The longest SASLInitialResponse / SASLResponse PostgreSQL reads, its length word included
 * (PG_MAX_SASL_MESSAGE_LENGTH): a client nonce of up to 940 bytes fits in client-final. */
#define PGR_SASL_MESSAGE_MAX    1024

/* Authentication request codes (the int32 after 'R'). */
#define PGR_AUTH_REQ_OK            0
#define PGR_AUTH_REQ_PASSWORD      3  /* AuthenticationCleartextPassword */
#define PGR_AUTH_REQ_MD5           5
#define PGR_AUTH_REQ_SASL          10
#define PGR_AUTH_REQ_SASL_CONTINUE 11
#define PGR_AUTH_REQ_SASL_FINAL    12

/* Results of the exchange calls; negative PGR_E* codes mean an environment failure (no memory,
 * the random generator failed): the session ends the connection with an internal error. */
enum {
    PGR_AUTH_OK = 0,       /* authenticated: send out (see pgr_auth_out_t), then AuthenticationOk */
    PGR_AUTH_CONTINUE = 1, /* send out and wait for the client's next message */
    PGR_AUTH_FAIL = 2,     /* send an ErrorResponse (FATAL) with a->sqlstate / message / detail */
    PGR_AUTH_VERIFY = 3,   /* passthrough: check pgr_auth_cleartext() elsewhere (a node login),
                            * then call pgr_auth_verified */
};

/* Which message the exchange waits for: the session decodes the client's 'p' message as that. */
typedef enum {
    PGR_AUTH_EXPECT_NONE,
    PGR_AUTH_EXPECT_PASSWORD,     /* PasswordMessage: pgr_auth_password (md5 or cleartext) */
    PGR_AUTH_EXPECT_SASL_INITIAL, /* SASLInitialResponse: pgr_auth_sasl_initial */
    PGR_AUTH_EXPECT_SASL,         /* SASLResponse: pgr_auth_sasl_response */
} pgr_auth_expect_t;

/* One Authentication message for the session to frame: 'R', int32 length, int32 code, data.
 * data points into the exchange object and stays valid until its next call, reset or free.
 * On PGR_AUTH_OK, code is PGR_AUTH_REQ_OK (trust, md5: send just this) or
 * PGR_AUTH_REQ_SASL_FINAL (send it, then an AuthenticationOk with no data).
 * On PGR_AUTH_FAIL code is -1: nothing to send but the error. */
typedef struct pgr_auth_out {
    int32_t code;
    const uint8_t *data;
    size_t len;
} pgr_auth_out_t;

/* The process's auth secret: keys the mock salt of unknown users (as PostgreSQL's
 * scram_mock_salt keys it with its mock_auth_nonce) and the salt used for users configured with
 * a plaintext password, so both look alike to a client. Made once at startup and kept across
 * reloads (a new key would change every derived salt). */
typedef struct pgr_auth_secret {
    uint8_t key[PGR_SHA256_LEN];
    /* Set when some configured user has a plaintext password and no verifier: a SCRAM login for
     * such a user costs one PBKDF2 (iterations rounds) to derive its keys, and with this flag an
     * unknown user's mock exchange spends the same, so the two take the same time. */
    bool mock_derives;
} pgr_auth_secret_t;

/* A random key. 0, or PGR_EIO when the random generator fails. */
int pgr_auth_secret_init(pgr_auth_secret_t *s, bool mock_derives) PGR_MUSTCHECK;

/* A SCRAM-SHA-256 verifier: "SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>". */
typedef struct pgr_scram_verifier {
    int iterations;
    size_t salt_len;
    uint8_t salt[PGR_SCRAM_SALT_MAX];
    uint8_t stored_key[PGR_SHA256_LEN];
    uint8_t server_key[PGR_SHA256_LEN];
} pgr_scram_verifier_t;

/* Parse s as pg_authid stores it. 0, or PGR_EINVAL when it is not a well-formed verifier
 * (iterations must be 1..INT_MAX, salt 1..PGR_SCRAM_SALT_MAX bytes, each key exactly 32 bytes,
 * strict base64). *v is wiped on failure. */
int pgr_auth_verifier_parse(const char *s, pgr_scram_verifier_t *v) PGR_MUSTCHECK;
/* Format v into buf (cap >= PGR_SCRAM_VERIFIER_MAX is always enough). Returns the length, or
 * PGR_EINVAL when it does not fit or v is invalid. */
int pgr_auth_verifier_format(const pgr_scram_verifier_t *v, char *buf, size_t cap) PGR_MUSTCHECK;
/* Derive a verifier from a password, as PostgreSQL's scram_build_secret: the password is
 * SASLprep-normalised first (session/saslprep; its own bytes when it is not valid UTF-8 or fails
 * the profile). salt NULL draws a random PGR_SCRAM_SALT_LEN-byte salt. 0, PGR_EINVAL (bad salt
 * length or iterations), PGR_ENOMEM or PGR_EIO. */
int pgr_auth_make_verifier(const char *password, const uint8_t *salt, size_t salt_len,
                           int iterations, pgr_scram_verifier_t *v) PGR_MUSTCHECK;

/* The verifier pgr_auth_begin derives for a user configured with a plaintext password: the
 * password, the salt HMAC(secret, username) and PGR_SCRAM_ITERATIONS. It costs one PBKDF2 (a few
 * ms). Whoever loads the config may compute it once per user and store it as the user's
 * scram_verifier: logins then skip the PBKDF2, clients see the same salt, and the secret can be
 * made with mock_derives false. 0, or PGR_EIO. */
int pgr_auth_user_verifier(const pgr_auth_secret_t *secret, const char *username,
                           const char *password, pgr_scram_verifier_t *v) PGR_MUSTCHECK;

/* A fresh BackendKeyData pair for a client (DESIGN.md "Cancel"): *pid in 1..INT32_MAX and *key
 * any 32 bits, both from the CSPRNG, never a backend's. 0, or PGR_EIO. */
int pgr_auth_new_cancel_key(int32_t *pid, int32_t *key) PGR_MUSTCHECK;

#define PGR_AUTH_STATE_MAP(X) \
    X(EMPTY)        /* zeroed, reset or freed: only begin may be called */ \
    X(WAIT_MD5)     /* sent AuthenticationMD5Password */ \
    X(WAIT_PASSWORD) /* sent AuthenticationCleartextPassword (password, passthrough) */ \
    X(VERIFY)       /* have the cleartext password: the session is checking it */ \
    X(WAIT_INITIAL) /* sent AuthenticationSASL */ \
    X(WAIT_FIRST)   /* SASLInitialResponse had no data: the next SASLResponse is client-first */ \
    X(WAIT_FINAL)   /* sent SASLContinue (server-first), waiting for client-final */ \
    X(DONE)         /* authenticated */ \
    X(FAILED)       /* failed: sqlstate / message / detail say why */

typedef enum {
#define PGR_AUTH_STATE_ENUM(name) PGR_AUTH_ST_##name,
    PGR_AUTH_STATE_MAP(PGR_AUTH_STATE_ENUM)
#undef PGR_AUTH_STATE_ENUM
} pgr_auth_state_t;

/* One client's exchange. Embedded in the client session; a zero-filled object is EMPTY. It owns
 * every buffer it points to; pgr_auth_free (or reset) wipes and frees them. Fields below the
 * line are private; read the outcome with the const fields above it. */
typedef struct pgr_auth {
    pgr_auth_state_t step;       /* read-only: where the exchange is (pgr_auth_state_name()
                                    prints it); not a session state: cl->state is client.c's */
    const char *sqlstate;        /* after PGR_AUTH_FAIL: "28P01", "08P01", "0A000" */
    char *message;               /* after PGR_AUTH_FAIL: the primary message, never a secret */
    char *detail;                /* after PGR_AUTH_FAIL: detail or NULL */
    /* ---- private ---- */
    pgr_auth_method_t method;    /* the method in effect (md5 may have fallen back to SCRAM) */
    char *username;
    bool doomed;                 /* unknown user or no usable secret: fail at the check */
    const pgr_user_config_t *user; /* password: the configured user (the config outlives the
                                      exchange), or NULL */
    uint8_t md5_salt[4];
    char md5_expect[3 + PGR_MD5_HEX_LEN + 1]; /* "md5" + hex of the right response */
    char *cleartext;             /* passthrough: the client's password, wiped on reset */
    bool passthrough;            /* the cleartext password is checked by the session (a user
                                    kept in the database), not against a configured secret */
    pgr_scram_verifier_t ver;
    char cbind_flag;             /* 'n' or 'y' from the gs2 header */
    char *client_first_bare;     /* "n=...,r=<client nonce>[,ext...]" */
    char *client_nonce;
    char *server_first;          /* "r=<client nonce><server nonce>,s=<salt>,i=<iter>" */
    char server_nonce[64];
    const char *fixed_nonce;     /* test hook, see pgr_auth_set_server_nonce */
    uint8_t *buf;                /* the out buffer */
    size_t buf_cap;
} pgr_auth_t;

/* Start an exchange. a must be zero-filled or reset. user is the configured user (NULL: unknown
 * user, who gets the same messages as a known one and fails only at the final check); username
 * is the startup packet's user (for md5 and messages); secret keys the mock salt.
 *
 *   trust          -> PGR_AUTH_OK, out = AuthenticationOk
 *   md5            -> PGR_AUTH_CONTINUE, out = AuthenticationMD5Password (4-byte random salt);
 *                     a user with only a SCRAM verifier falls back to SCRAM, as PostgreSQL does
 *   scram-sha-256  -> PGR_AUTH_CONTINUE, out = AuthenticationSASL ("SCRAM-SHA-256\0\0")
 *   password       -> PGR_AUTH_CONTINUE, out = AuthenticationCleartextPassword; the password
 *                     is checked against the user's plaintext password, SCRAM verifier or md5
 *                     hash (an unknown user fails the same way as a wrong password)
 *   passthrough    -> a configured user: as scram-sha-256 (md5 when only an md5 hash is
 *                     configured); no user (one kept in the database): PGR_AUTH_CONTINUE,
 *                     out = AuthenticationCleartextPassword, and the password message answers
 *                     PGR_AUTH_VERIFY
 *
 * A user configured with a plaintext password is served SCRAM with keys derived per login from
 * the password and a salt of HMAC(secret, username), which is also an unknown user's mock salt. */
int pgr_auth_begin(pgr_auth_t *a, pgr_auth_method_t method, const pgr_user_config_t *user,
                   const char *username, const pgr_auth_secret_t *secret,
                   pgr_auth_out_t *out) PGR_MUSTCHECK;

pgr_auth_expect_t pgr_auth_expects(const pgr_auth_t *a);

/* PasswordMessage (md5: "md5" + 32 hex digits; password: the password). OK or FAIL (28P01);
 * after a passthrough cleartext request VERIFY (or FAIL for an empty password, as PostgreSQL). */
int pgr_auth_password(pgr_auth_t *a, const char *password, pgr_auth_out_t *out) PGR_MUSTCHECK;

/* SASLInitialResponse: the mechanism name and the initial response (data NULL when the message's
 * length field was -1: the server then answers an empty SASLContinue and takes client-first from
 * the next SASLResponse). CONTINUE with server-first, or FAIL (08P01 / 0A000). */
int pgr_auth_sasl_initial(pgr_auth_t *a, const char *mechanism, const uint8_t *data, size_t len,
                          pgr_auth_out_t *out) PGR_MUSTCHECK;
/* SASLResponse: client-final (or client-first, see above). OK with SASLFinal, CONTINUE with
 * server-first, or FAIL (28P01 wrong password or unknown user, 08P01 malformed). */
int pgr_auth_sasl_response(pgr_auth_t *a, const uint8_t *data, size_t len,
                           pgr_auth_out_t *out) PGR_MUSTCHECK;

/* In state VERIFY: the password the client sent (owned by a, wiped on reset). */
const char *pgr_auth_cleartext(const pgr_auth_t *a);
/* The outcome of the check of a VERIFY exchange: sqlstate NULL accepts (OK, out =
 * AuthenticationOk); else FAIL with that sqlstate and message (the node's own). */
int pgr_auth_verified(pgr_auth_t *a, const char *sqlstate, const char *message,
                      pgr_auth_out_t *out) PGR_MUSTCHECK;

/* Fail the exchange as a wrong password does (28P01, the same message), for a message the
 * session refused to decode: PostgreSQL answers a SASL message longer than
 * PGR_SASL_MESSAGE_MAX so. FAIL, or PGR_ENOMEM. */
int pgr_auth_refuse(pgr_auth_t *a, pgr_auth_out_t *out) PGR_MUSTCHECK;

/* Test hook: use nonce (printable, no ',') as the server nonce instead of 18 random bytes in
 * base64. Call after begin; the string must outlive the exchange. */
void pgr_auth_set_server_nonce(pgr_auth_t *a, const char *nonce);

/* Wipe secrets, free every buffer, and leave a EMPTY (reusable). free is the same; both accept
 * an EMPTY object. */
void pgr_auth_reset(pgr_auth_t *a);
void pgr_auth_free(pgr_auth_t *a);

const char *pgr_auth_state_name(pgr_auth_state_t st);

#endif

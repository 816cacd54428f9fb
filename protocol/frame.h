/* Framing: finds one complete protocol message at the front of a byte buffer, checking the type
 * byte, the length's minimum and its per-type cap before anything trusts the length. Owns the
 * limits (startup ≤ 10,000 bytes, small messages ≤ 10,000, others ≤ max_message_size) and the
 * untyped startup forms (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
 *
 *   typed:    | type | len (4, counts itself) | body (len - 4) |
 *   startup:  | len (4, counts itself) | code (4) | rest |        body = code + rest
 */
#ifndef PGR_PROTOCOL_FRAME_H
#define PGR_PROTOCOL_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Which forms are legal next on a connection. */
typedef enum {
    PGR_PHASE_STARTUP,  /* client's first packet(s): untyped startup forms only */
    PGR_PHASE_FRONTEND, /* typed client → server messages */
    PGR_PHASE_BACKEND,  /* typed server → client messages */
} pgr_phase_t;

/* pgr_frame_next()'s answers. */
enum {
    PGR_FRAME_BAD = -1,      /* protocol violation: send out->sqlstate / out->reason, close */
    PGR_FRAME_OK = 0,        /* out describes a complete frame at the front of buf */
    PGR_FRAME_NEED_MORE = 1, /* wait for more bytes; out->need says how many in total */
};

typedef enum {
    PGR_STARTUP_NONE = 0,   /* a typed message */
    PGR_STARTUP_MESSAGE,    /* StartupMessage (any protocol version 3.x) */
    PGR_STARTUP_SSL,        /* SSLRequest */
    PGR_STARTUP_GSSENC,     /* GSSENCRequest */
    PGR_STARTUP_CANCEL,     /* CancelRequest */
} pgr_startup_kind_t;

/* Protocol codes sent in place of a version. */
#define PGR_PROTO_V3          0x00030000u
#define PGR_CANCEL_CODE       80877102u /* 1234.5678 */
#define PGR_SSL_CODE          80877103u /* 1234.5679 */
#define PGR_GSSENC_CODE       80877104u /* 1234.5680 */

#define PGR_FRAME_HEADER      5         /* type + length */
#define PGR_STARTUP_MIN       8         /* length + code */
#define PGR_STARTUP_MAX       10000     /* PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define PGR_SMALL_MESSAGE_MAX 10000     /* PostgreSQL's PQ_SMALL_MESSAGE_LIMIT */
#define PGR_AUTH_MESSAGE_MAX  65535     /* PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH */
#define PGR_LARGE_MESSAGE_MAX ((size_t)1 << 30) /* 1 GiB, limits.max_message_size default */

/* Caps on the length word (which counts itself but not the type byte). */
typedef struct {
    size_t max_message_size; /* Query, Parse, Bind, CopyData, FunctionCall, CopyFail, and
                                every backend message */
    size_t max_small_size;   /* Sync, Flush, Close, Describe, Execute, Terminate, CopyDone */
    size_t max_auth_size;    /* PasswordMessage / SASL responses */
    size_t max_startup_size; /* untyped startup packets */
} pgr_frame_limits_t;

/* Fills lim with PostgreSQL's defaults (1 GiB, 10,000, 65,535, 10,000). */
void pgr_frame_limits_default(pgr_frame_limits_t *lim);

typedef struct {
    uint8_t type;               /* message type byte; 0 for startup forms */
    pgr_startup_kind_t startup; /* which startup form, PGR_STARTUP_NONE for typed messages */
    size_t len;                 /* OK: whole frame in bytes (type byte included) */
    const uint8_t *body;        /* OK: points into buf; for startup forms starts at the code */
    size_t body_len;
    size_t need;                /* NEED_MORE: total bytes the frame needs — exact once the
                                   header is in, else the header size (a lower bound) */
    const char *reason;         /* BAD: static text for an ErrorResponse message */
    const char *sqlstate;       /* BAD: "08P01" protocol violation, "0A000" unsupported */
} pgr_frame_t;

/* Looks at the front of buf[0..len) in the given phase. Never reads past len, never trusts a
 * length it has not checked against the caps in lim (NULL for the defaults). A type byte that
 * is not a message of the phase's direction is BAD as soon as that one byte is in; messages
 * with a fixed size (Sync, ReadyForQuery, BackendKeyData, ...) must carry exactly that size.
 * The body is not looked at (except a StartupMessage's final NUL): decoding is the typed
 * decoders' job. On OK the caller consumes out->len bytes and calls again for the next frame. */
int pgr_frame_next(const uint8_t *buf, size_t len, pgr_phase_t phase,
                   const pgr_frame_limits_t *lim, pgr_frame_t *out);

/* A static name for a message type in a direction ("Query", "DataRow"), or NULL if unknown. */
const char *pgr_frame_type_name(uint8_t type, pgr_phase_t phase);

#endif

/* Framing of complete messages and the startup forms (see frame.h). The type byte is judged as
 * soon as it arrives, the length as soon as its 4 bytes arrive, the body only when complete. */
#include "protocol/frame.h"
#include "protocol/reader.h"

/* How the length word of one message type is bounded. */
enum cap {
    CAP_UNKNOWN = 0, /* not a message of this direction */
    CAP_LARGE,       /* 4 .. max_message_size */
    CAP_SMALL,       /* 4 .. max_small_size */
    CAP_AUTH,        /* 4 .. max_auth_size */
    CAP_EXACT4,      /* no body */
    CAP_EXACT5,      /* one byte (ReadyForQuery) */
    CAP_EXACT12,     /* two int32 (BackendKeyData) */
};

static enum cap
frontend_cap(uint8_t type)
{
    switch (type) {
    case 'Q': case 'P': case 'B': case 'd': case 'F': case 'f':
        return CAP_LARGE;
    case 'C': case 'D': case 'E':
        return CAP_SMALL;
    case 'S': case 'H': case 'X': case 'c':
        return CAP_EXACT4;
    case 'p':
        return CAP_AUTH;
    default:
        return CAP_UNKNOWN;
    }
}

static enum cap
backend_cap(uint8_t type)
{
    switch (type) {
    case 'R': case 'S': case 'T': case 'D': case 'C': case 'E': case 'N': case 't':
    case 'G': case 'H': case 'W': case 'A': case 'v': case 'V': case 'd':
        return CAP_LARGE;
    case 'I': case '1': case '2': case '3': case 'n': case 's': case 'c':
        return CAP_EXACT4;
    case 'Z':
        return CAP_EXACT5;
    case 'K':
        return CAP_EXACT12;
    default:
        return CAP_UNKNOWN;
    }
}

void
pgr_frame_limits_default(pgr_frame_limits_t *lim)
{
    lim->max_message_size = PGR_LARGE_MESSAGE_MAX;
    lim->max_small_size = PGR_SMALL_MESSAGE_MAX;
    lim->max_auth_size = PGR_AUTH_MESSAGE_MAX;
    lim->max_startup_size = PGR_STARTUP_MAX;
}

static int
bad(pgr_frame_t *out, const char *sqlstate, const char *reason)
{
    out->sqlstate = sqlstate;
    out->reason = reason;
    return PGR_FRAME_BAD;
}

static int
need_more(pgr_frame_t *out, size_t need)
{
    out->need = need;
    return PGR_FRAME_NEED_MORE;
}

static int
startup_next(const uint8_t *buf, size_t len, const pgr_frame_limits_t *lim, pgr_frame_t *out)
{
    if (len < 4)
        return need_more(out, PGR_STARTUP_MIN);
    uint32_t n = pgr_be32(buf);
    if (n < PGR_STARTUP_MIN || n > lim->max_startup_size)
        return bad(out, "08P01", "invalid length of startup packet");
    if (len < PGR_STARTUP_MIN)
        return need_more(out, n);
    uint32_t code = pgr_be32(buf + 4);
    switch (code) {
    case PGR_SSL_CODE:
    case PGR_GSSENC_CODE:
        if (n != 8)
            return bad(out, "08P01", "invalid length of encryption request");
        out->startup = code == PGR_SSL_CODE ? PGR_STARTUP_SSL : PGR_STARTUP_GSSENC;
        break;
    case PGR_CANCEL_CODE:
        if (n != 16)
            return bad(out, "08P01", "invalid length of cancel request");
        out->startup = PGR_STARTUP_CANCEL;
        break;
    default:
        /* Only 3.x is spoken; 1234.x codes other than the three above are unknown requests. */
        if (code >> 16 != 3)
            return bad(out, "0A000", "unsupported frontend protocol");
        out->startup = PGR_STARTUP_MESSAGE;
        break;
    }
    if (len < n)
        return need_more(out, n);
    if (out->startup == PGR_STARTUP_MESSAGE && buf[n - 1] != 0)
        return bad(out, "08P01", "invalid startup packet layout: expected terminator as last byte");
    out->len = n;
    out->body = buf + 4;
    out->body_len = n - 4;
    return PGR_FRAME_OK;
}

int
pgr_frame_next(const uint8_t *buf, size_t len, pgr_phase_t phase, const pgr_frame_limits_t *lim,
               pgr_frame_t *out)
{
    pgr_frame_limits_t deflim;
    if (lim == NULL) {
        pgr_frame_limits_default(&deflim);
        lim = &deflim;
    }
    *out = (pgr_frame_t){0};
    if (phase == PGR_PHASE_STARTUP)
        return startup_next(buf, len, lim, out);

    if (len < 1)
        return need_more(out, PGR_FRAME_HEADER);
    uint8_t type = buf[0];
    enum cap cap = phase == PGR_PHASE_FRONTEND ? frontend_cap(type) : backend_cap(type);
    out->type = type;
    if (cap == CAP_UNKNOWN)
        return bad(out, "08P01", phase == PGR_PHASE_FRONTEND ? "invalid frontend message type"
                                                              : "invalid backend message type");
    if (len < PGR_FRAME_HEADER)
        return need_more(out, PGR_FRAME_HEADER);
    uint32_t n = pgr_be32(buf + 1);
    size_t max;
    switch (cap) {
    case CAP_EXACT4:  max = 4; break;
    case CAP_EXACT5:  max = 5; break;
    case CAP_EXACT12: max = 12; break;
    case CAP_SMALL:   max = lim->max_small_size; break;
    case CAP_AUTH:    max = lim->max_auth_size; break;
    default:          max = lim->max_message_size; break;
    }
    if (max > INT32_MAX) /* the length word is an int32 on the wire */
        max = INT32_MAX;
    size_t min = cap == CAP_EXACT4 || cap == CAP_EXACT5 || cap == CAP_EXACT12 ? max : 4;
    if (n < min)
        return bad(out, "08P01", "invalid message length");
    if (n > max)
        return bad(out, "08P01", min == max ? "invalid message length"
                                            : "message length exceeds limit");
    size_t total = (size_t)n + 1;
    if (len < total)
        return need_more(out, total);
    out->len = total;
    out->body = buf + PGR_FRAME_HEADER;
    out->body_len = n - 4;
    return PGR_FRAME_OK;
}

const char *
pgr_frame_type_name(uint8_t type, pgr_phase_t phase)
{
    if (phase == PGR_PHASE_FRONTEND) {
        switch (type) {
        case 'Q': return "Query";
        case 'P': return "Parse";
        case 'B': return "Bind";
        case 'd': return "CopyData";
        case 'F': return "FunctionCall";
        case 'f': return "CopyFail";
        case 'C': return "Close";
        case 'D': return "Describe";
        case 'E': return "Execute";
        case 'S': return "Sync";
        case 'H': return "Flush";
        case 'X': return "Terminate";
        case 'c': return "CopyDone";
        case 'p': return "PasswordMessage";
        default:  return NULL;
        }
    }
    if (phase == PGR_PHASE_BACKEND) {
        switch (type) {
        case 'R': return "Authentication";
        case 'S': return "ParameterStatus";
        case 'T': return "RowDescription";
        case 'D': return "DataRow";
        case 'C': return "CommandComplete";
        case 'E': return "ErrorResponse";
        case 'N': return "NoticeResponse";
        case 't': return "ParameterDescription";
        case 'G': return "CopyInResponse";
        case 'H': return "CopyOutResponse";
        case 'W': return "CopyBothResponse";
        case 'A': return "NotificationResponse";
        case 'v': return "NegotiateProtocolVersion";
        case 'V': return "FunctionCallResponse";
        case 'd': return "CopyData";
        case 'I': return "EmptyQueryResponse";
        case '1': return "ParseComplete";
        case '2': return "BindComplete";
        case '3': return "CloseComplete";
        case 'n': return "NoData";
        case 's': return "PortalSuspended";
        case 'c': return "CopyDone";
        case 'Z': return "ReadyForQuery";
        case 'K': return "BackendKeyData";
        default:  return NULL;
        }
    }
    return NULL;
}

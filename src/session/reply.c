/* Errors pgrouter answers a statement with, as a server would (see reply.h). */
#include "protocol/frame.h"
#include "session/reply.h"

char
pgr_reply_idle_status(const pgr_client_t *cl)
{
    return cl->held_failed ? 'E' : cl->held_begin ? 'T' : 'I';
}

bool
pgr_reply_error_status(pgr_client_t *cl, const char *sqlstate, const char *message,
                       char status)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;

    pgr_client_send_error(cl, "ERROR", sqlstate, NULL, "%s", message);
    while (pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f) ==
           PGR_FRAME_OK) {
        pgr_iobuf_consume(in, f.len);
        if (f.type == 'Q' || f.type == 'S' || f.type == 'F') {
            pgr_client_send_ready(cl, status);
            return true;
        }
    }
    return false;
}

void
pgr_reply_error(pgr_client_t *cl, const char *sqlstate, const char *message)
{
    /* An error inside a held transaction aborts it, as on a server: it stays held, failed,
     * until the client ends it (nothing of it reached a server). */
    if (cl->held_begin)
        cl->held_failed = true;
    (void)pgr_reply_error_status(cl, sqlstate, message, pgr_reply_idle_status(cl));
}

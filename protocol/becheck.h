/* Checks the bodies of a node's replies as they stream by, in pieces of any size, without
 * copying them: the layout of a DataRow (its field count against the RowDescription before it,
 * each field's length), of an ErrorResponse / NoticeResponse (code-string pairs, a SQLSTATE in
 * every ErrorResponse, the final NUL) and of a ParameterStatus (two strings, nothing after).
 * Other types are framed only (pgr_frame_next checks their type and length). One checker
 * follows one connection's stream:
 *
 *   pgr_becheck_init(&c);
 *   per message: pgr_becheck_begin(&c, type, body_len); pgr_becheck_feed(&c, piece, n) ...
 *
 * until the body_len bytes are fed; the last feed also checks the end. A failure sticks and
 * c.reason says what was wrong; the connection cannot be trusted after it. */
#ifndef PGR_PROTOCOL_BECHECK_H
#define PGR_PROTOCOL_BECHECK_H

#include <stddef.h>
#include <stdint.h>

#include "pgrouter/error.h"

typedef struct {
    uint8_t type;
    uint8_t step;       /* where in the body (per type, see becheck.c) */
    uint8_t word[4];    /* a count or length word split across pieces */
    uint8_t word_len;
    uint8_t has_code;   /* an ErrorResponse carried a 'C' field */
    int32_t ncols;      /* columns of the RowDescription the next DataRows answer, or -1 */
    int32_t fields;     /* DataRow fields / ParameterStatus strings still to come */
    uint32_t left;      /* body bytes not yet fed */
    uint32_t skip;      /* bytes of the current value still to pass */
    int err;            /* 0, or PGR_EPROTO once a message was wrong */
    char reason[96];    /* what was wrong, for a log line and the client's error */
} pgr_becheck_t;

void pgr_becheck_init(pgr_becheck_t *c);

/* A message of this type with body_len body bytes starts (its header passed pgr_frame_next). A
 * RowDescription sets the column count the DataRows after it must have; any other message but
 * a DataRow, NoticeResponse, ParameterStatus or NotificationResponse ends that. Returns c->err;
 * a zero-length body is checked at once. */
int pgr_becheck_begin(pgr_becheck_t *c, uint8_t type, uint32_t body_len);

/* The next n bytes of the body (n never more than what is left). 0, or PGR_EPROTO with
 * c->reason set. */
int pgr_becheck_feed(pgr_becheck_t *c, const uint8_t *p, size_t n);

#endif

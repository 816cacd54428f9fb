/* Generic message handling for tests and fuzzers: decode any frame with its typed decoder, walk
 * every array it has, and optionally re-encode it from the decoded struct. */
#ifndef PGR_TEST_MSGS_H
#define PGR_TEST_MSGS_H

#include "protocol/frame.h"
#include "protocol/writer.h"

/* Body kinds of a frontend 'p' message (the message does not say which). */
enum { MSG_P_PASSWORD, MSG_P_SASL_INITIAL, MSG_P_SASL_RESPONSE };

/* Decodes frame f (from direction dir; startup forms by f->startup) and, when w is not NULL and
 * decoding succeeded, writes it again with the codec's encoders. Returns the decoder's result
 * (0 or PGR_E*), or the encoder's when decoding succeeded. */
int msgs_decode(pgr_phase_t dir, const pgr_frame_t *f, int p_kind, pgr_writer_t *w);

#endif

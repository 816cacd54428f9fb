/* libFuzzer driver: the round-trip property. The first input byte picks the direction (and the
 * body kind of a 'p' message); the rest is one message. If it frames and decodes, encoding the
 * decoded struct must give a message that frames and decodes to the same struct: checked as
 * encode(decode(m2)) == m2 for m2 = encode(decode(m1)), and m2 == m1 wherever the encoding is
 * canonical (everything but ErrorResponse/NoticeResponse, whose unknown or repeated fields are
 * dropped, and startup packets with over 255 parameters). */
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "../unit/protocol/msgs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    pgr_phase_t phase = data[0] % 3 == 0 ? PGR_PHASE_STARTUP
                        : data[0] % 3 == 1 ? PGR_PHASE_FRONTEND : PGR_PHASE_BACKEND;
    pgr_phase_t dir = phase == PGR_PHASE_BACKEND ? PGR_PHASE_BACKEND : PGR_PHASE_FRONTEND;
    int p_kind = (data[0] / 3) % 3;
    pgr_frame_limits_t lim;
    pgr_frame_limits_default(&lim);
    lim.max_message_size = 1 << 20;
    data++;
    size--;

    pgr_frame_t f1, f2, f3;
    if (pgr_frame_next(data, size, phase, &lim, &f1) != PGR_FRAME_OK)
        return 0;
    pgr_writer_t w2, w3;
    pgr_writer_init_grow(&w2);
    pgr_writer_init_grow(&w3);
    if (msgs_decode(dir, &f1, p_kind, &w2) != 0)
        goto done;
    if (w2.len == 0)
        goto done; /* startup with too many parameters to re-encode here */
    if (pgr_frame_next(w2.buf, w2.len, phase, &lim, &f2) != PGR_FRAME_OK || f2.len != w2.len)
        abort();
    if (msgs_decode(dir, &f2, p_kind, &w3) != 0)
        abort();
    if (w3.len != w2.len || memcmp(w3.buf, w2.buf, w2.len) != 0)
        abort();
    if (pgr_frame_next(w3.buf, w3.len, phase, &lim, &f3) != PGR_FRAME_OK)
        abort();
    bool canonical = !(phase != PGR_PHASE_STARTUP && (f1.type == 'E' || f1.type == 'N'));
    if (canonical && (w2.len != f1.len || memcmp(w2.buf, data, f1.len) != 0))
        abort();
done:
    pgr_writer_free(&w2);
    pgr_writer_free(&w3);
    return 0;
}

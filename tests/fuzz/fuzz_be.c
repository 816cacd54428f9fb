/* libFuzzer driver: backend (server → client) framing and decoding of every message type, and
 * the streaming checks the relay and the broadcast run on the same stream (protocol/becheck):
 * fed whole or in pieces they agree, and what they accept the decoders accept too. Each
 * RowDescription is compared with the one before it (as the broadcast compares the nodes'):
 * equality is symmetric and an inequality says why. */
#include <stdbool.h>
#include <stdlib.h>

#include "fuzz_stream.h"
#include "protocol/backend.h"
#include "protocol/becheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_stream(const uint8_t *data, size_t size)
{
    pgr_becheck_t whole, pieces;
    pgr_be_rowdesc_t prev;
    bool have_prev = false;
    size_t off = 0;

    pgr_becheck_init(&whole);
    pgr_becheck_init(&pieces);
    while (off < size) {
        pgr_frame_t f;
        if (pgr_frame_next(data + off, size - off, PGR_PHASE_BACKEND, NULL, &f) != PGR_FRAME_OK)
            break;
        int a = pgr_becheck_begin(&whole, f.type, (uint32_t)f.body_len);
        if (a == 0)
            a = pgr_becheck_feed(&whole, f.body, f.body_len);
        int b = pgr_becheck_begin(&pieces, f.type, (uint32_t)f.body_len);
        size_t step = f.len % 7 + 1;
        for (size_t k = 0; b == 0 && k < f.body_len; k += step)
            b = pgr_becheck_feed(&pieces, f.body + k, f.body_len - k < step ? f.body_len - k : step);
        if (a != b)
            abort();
        if (a != 0)
            break;
        /* What the checks let through, the decoders take. */
        pgr_be_datarow_t d;
        pgr_be_notice_t e;
        pgr_be_param_t ps;
        if (f.type == 'D' && pgr_be_datarow_decode(f.body, f.body_len, &d) != 0)
            abort();
        if ((f.type == 'E' || f.type == 'N') && pgr_be_notice_decode(f.body, f.body_len, &e) != 0)
            abort();
        if (f.type == 'E' && e.sqlstate == NULL)
            abort();
        if (f.type == 'S' && pgr_be_param_decode(f.body, f.body_len, &ps) != 0)
            abort();
        pgr_be_rowdesc_t t;
        if (f.type == 'T' && pgr_be_rowdesc_decode(f.body, f.body_len, &t) == 0) {
            if (have_prev) {
                pgr_rowdesc_diff_t diff = {0};
                bool eq = pgr_be_rowdesc_equal(&prev, &t, &diff);
                if (eq != pgr_be_rowdesc_equal(&t, &prev, NULL) || (!eq && diff.text[0] == 0))
                    abort();
            }
            prev = t;
            have_prev = true;
        }
        off += f.len;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(data, size, PGR_PHASE_BACKEND);
    check_stream(data, size);
    return 0;
}

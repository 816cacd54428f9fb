/* The body of the fe and be drivers: frame the whole input in one phase, decode every complete
 * frame, render its trace line, and stop at the first NEED_MORE or BAD. Every type that frames
 * has a name (pgr_frame_type_name); one refused as unknown has none. */
#ifndef PGR_FUZZ_STREAM_H
#define PGR_FUZZ_STREAM_H

#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/trace.h"
#include "../unit/protocol/msgs.h"

static inline void
fuzz_stream(const uint8_t *data, size_t size, pgr_phase_t phase)
{
    pgr_frame_limits_t lim;
    pgr_trace_t tr;
    char line[512];
    pgr_frame_limits_default(&lim);
    lim.max_message_size = 1 << 20;
    pgr_trace_init(&tr);
    size_t off = 0;
    while (off < size) {
        pgr_frame_t f;
        int rc = pgr_frame_next(data + off, size - off, phase, &lim, &f);
        if (rc == PGR_FRAME_NEED_MORE) {
            if (f.need <= size - off)
                abort(); /* NEED_MORE must ask for more than is there */
            break;
        }
        if (rc != PGR_FRAME_OK) {
            if (f.reason == NULL || f.sqlstate == NULL)
                abort();
            if (strstr(f.reason, "message type") && pgr_frame_type_name(f.type, phase) != NULL)
                abort();
            break;
        }
        if (f.len == 0 || f.len > size - off || pgr_frame_type_name(f.type, phase) == NULL)
            abort();
        (void)pgr_trace_frame(&tr, phase, &f, line, sizeof(line));
        for (int k = 0; k < (f.type == 'p' ? 3 : 1); k++)
            (void)msgs_decode(phase, &f, k, NULL);
        off += f.len;
    }
}

#endif

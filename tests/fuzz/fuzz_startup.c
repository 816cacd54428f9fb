/* libFuzzer driver: the untyped startup forms (StartupMessage, SSLRequest, GSSENCRequest,
 * CancelRequest), their decoders, version negotiation, and the typed stream that follows. */
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgr_trace_t tr;
    char line[512];
    pgr_trace_init(&tr);
    size_t off = 0;
    /* A client may send SSLRequest / GSSENCRequest before its StartupMessage. */
    for (int i = 0; i < 3 && off < size; i++) {
        pgr_frame_t f;
        int rc = pgr_frame_next(data + off, size - off, PGR_PHASE_STARTUP, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE && f.need <= size - off)
            abort();
        if (rc == PGR_FRAME_BAD && (f.reason == NULL || f.sqlstate == NULL))
            abort();
        if (rc != PGR_FRAME_OK)
            return 0;
        if (f.startup == PGR_STARTUP_NONE || f.len > size - off || f.len < 8)
            abort();
        (void)pgr_trace_frame(&tr, PGR_PHASE_FRONTEND, &f, line, sizeof(line));
        (void)msgs_decode(PGR_PHASE_FRONTEND, &f, 0, NULL);
        off += f.len;
        if (f.startup == PGR_STARTUP_MESSAGE || f.startup == PGR_STARTUP_CANCEL)
            break;
    }
    fuzz_stream(data + off, size - off, PGR_PHASE_FRONTEND);
    return 0;
}

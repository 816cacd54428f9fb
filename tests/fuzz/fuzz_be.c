/* libFuzzer driver: backend (server → client) framing and decoding of every message type. */
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(data, size, PGR_PHASE_BACKEND);
    return 0;
}

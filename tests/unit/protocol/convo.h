/* Whole protocol conversations built with the codec's encoders: the golden trace tests render
 * them, and the fuzz corpus generator cuts its seeds from them. */
#ifndef PGR_TEST_CONVO_H
#define PGR_TEST_CONVO_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/writer.h"

#define CONVO_MAX_MSGS 128

/* One message of a conversation: who sent it and where its bytes are in w.buf. */
typedef struct {
    char dir;     /* 'F' client → server, 'B' server → client */
    int startup;  /* an untyped startup form */
    size_t off, len;
} convo_msg_t;

typedef struct {
    const char *name;
    pgr_writer_t w; /* every message, in order */
    convo_msg_t msgs[CONVO_MAX_MSGS];
    int n;
    size_t mark;
    int err;
} convo_t;

/* The conversation names, NULL-terminated: simple_query, extended_pipeline, copy_in, copy_out,
 * error_in_pipeline, scram_exchange, and misc (every remaining message type). */
extern const char *const convo_names[];

/* Builds conversation `name` into c (0, or a PGR_E* code). Free with convo_free. */
int convo_build(convo_t *c, const char *name);
void convo_free(convo_t *c);

#endif

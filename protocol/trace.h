/* Trace rendering: one protocol message as one line of libpq's PQtrace format (libpq 15's
 * fe-trace.c, without the timestamp):
 *
 *   F	13	Query	 "SELECT 1;"
 *   B	5	ReadyForQuery	 I
 *
 * direction, tab, the length word, tab, the message name, then (after a tab) each field with a
 * leading space: integers as %d, strings "quoted", byte strings 'quoted' with \xNN for
 * unprintable bytes, single bytes bare (\xNN when unprintable). Where libpq 15 prints less than
 * the message holds (Authentication payloads, CopyData, SASL responses, NegotiateProtocolVersion
 * option names, the StartupMessage), the rest is printed the same way, with the names later
 * libpq versions use. A malformed message ends in "\tmismatched message length". */
#ifndef PGR_PROTOCOL_TRACE_H
#define PGR_PROTOCOL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/frame.h"

/* Per-connection state: which body a 'p' message carries depends on the last authentication
 * request the server sent. Start with pgr_trace_init; render both directions in order. */
typedef struct {
    int32_t last_auth; /* -1 before any */
} pgr_trace_t;

void pgr_trace_init(pgr_trace_t *t);

/* Renders frame f (as pgr_frame_next returned it) travelling in direction dir
 * (PGR_PHASE_FRONTEND: "F", PGR_PHASE_BACKEND: "B"; startup forms are always "F") into out,
 * NUL-terminated and truncated to cap, without a newline. Returns the full length, like
 * snprintf. */
size_t pgr_trace_frame(pgr_trace_t *t, pgr_phase_t dir, const pgr_frame_t *f, char *out,
                       size_t cap);

#endif

/* session/notify: the notifications pgrouter itself sends one session (node events on the admin
 * console's LISTEN pgrouter_events), queued until the session can take them. As a PostgreSQL
 * backend holds notifications until it is between commands, an event that comes while the
 * session is answering a command, or while its client is not reading its output, waits here
 * and goes out at the next message boundary.
 *
 * Bounded: at most PGR_NOTIFY_MAX_EVENTS events and PGR_NOTIFY_MAX_BYTES payload bytes wait;
 * beyond that the oldest are dropped and counted, and the next delivery starts with one
 * notification saying how many were lost: {"event": "events_dropped", "count": N}. Pure data:
 * no I/O; the session decides when to deliver. */
#ifndef PGR_SESSION_NOTIFY_H
#define PGR_SESSION_NOTIFY_H

#include "core/base.h"
#include "protocol/writer.h"

#define PGR_NOTIFY_MAX_EVENTS 1000
#define PGR_NOTIFY_MAX_BYTES ((size_t)1 << 20)

typedef struct pgr_notify_queue {
    char **v;          /* ring of payloads (owned), v[head] the oldest */
    size_t cap, head, n;
    size_t bytes;      /* payload bytes waiting */
    uint64_t dropped;  /* lost since the last delivery */
    uint64_t dropped_total;
} pgr_notify_queue_t;

/* Queue a copy of payload, dropping the oldest events while over a bound (an event larger than
 * PGR_NOTIFY_MAX_BYTES by itself is dropped). 0, or PGR_ENOMEM (then the event is counted as
 * dropped). */
int pgr_notify_push(pgr_notify_queue_t *q, const char *payload);

/* Write waiting events as NotificationResponses (sender pid, channel) into w, oldest first —
 * preceded by the events_dropped notice when some were lost — until w holds more than budget
 * bytes beyond what it had; the rest keep waiting. Returns how many events were written. */
size_t pgr_notify_take(pgr_notify_queue_t *q, pgr_writer_t *w, int32_t pid, const char *channel,
                       size_t budget);

static inline bool
pgr_notify_pending(const pgr_notify_queue_t *q)
{
    return q->n > 0 || q->dropped > 0;
}

/* Drop everything and free the ring. The queue may be used again afterwards. */
void pgr_notify_clear(pgr_notify_queue_t *q);

#endif

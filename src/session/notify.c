/* A session's queue of pgrouter's own notifications: a bounded ring of payloads. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "protocol/backend.h"
#include "session/notify.h"

static void
drop_oldest(pgr_notify_queue_t *q)
{
    char *p = q->v[q->head];
    q->bytes -= strlen(p);
    free(p);
    q->v[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->n--;
    q->dropped++;
    q->dropped_total++;
}

int
pgr_notify_push(pgr_notify_queue_t *q, const char *payload)
{
    size_t len = strlen(payload);
    char *copy;

    if (len > PGR_NOTIFY_MAX_BYTES) {
        q->dropped++;
        q->dropped_total++;
        return 0;
    }
    if (q->cap == 0) {
        if ((q->v = calloc(PGR_NOTIFY_MAX_EVENTS, sizeof(*q->v))) == NULL)
            goto nomem;
        q->cap = PGR_NOTIFY_MAX_EVENTS;
    }
    if ((copy = strdup(payload)) == NULL)
        goto nomem;
    while (q->n > 0 && (q->n == q->cap || q->bytes + len > PGR_NOTIFY_MAX_BYTES))
        drop_oldest(q);
    q->v[(q->head + q->n) % q->cap] = copy;
    q->n++;
    q->bytes += len;
    return 0;
nomem:
    q->dropped++;
    q->dropped_total++;
    return PGR_ENOMEM;
}

size_t
pgr_notify_take(pgr_notify_queue_t *q, pgr_writer_t *w, int32_t pid, const char *channel,
                size_t budget)
{
    size_t start = w->len, taken = 0;

    if (q->dropped > 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "{\"event\": \"events_dropped\", \"count\": %" PRIu64 "}",
                 q->dropped);
        pgr_be_write_notify(w, pid, channel, msg);
        q->dropped = 0;
    }
    while (q->n > 0 && w->len - start <= budget && w->err == 0) {
        char *p = q->v[q->head];
        pgr_be_write_notify(w, pid, channel, p);
        q->bytes -= strlen(p);
        free(p);
        q->v[q->head] = NULL;
        q->head = (q->head + 1) % q->cap;
        q->n--;
        taken++;
    }
    return taken;
}

void
pgr_notify_clear(pgr_notify_queue_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->v[(q->head + i) % q->cap]);
    free(q->v);
    *q = (pgr_notify_queue_t){ 0 };
}

/* session/notify: a session's queue of pgrouter_events notifications — order, the bounds, the
 * events_dropped notice, and delivery in budget-sized parts. */
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "session/notify.h"
#include "../harness.h"

/* The payloads of the NotificationResponses in w, one per line, each checked for pid and
 * channel. */
static char *
payloads(const pgr_writer_t *w, int *count)
{
    static char out[1 << 16];
    size_t off = 0, o = 0;
    out[0] = '\0';
    *count = 0;
    while (off < w->len) {
        pgr_frame_t f;
        pgr_be_notify_t n;
        if (pgr_frame_next(w->buf + off, w->len - off, PGR_PHASE_BACKEND, NULL, &f) !=
                PGR_FRAME_OK || f.type != 'A' ||
            pgr_be_notify_decode(f.body, f.body_len, &n) != 0 || n.pid != 77 ||
            strcmp(n.channel, "pgrouter_events") != 0) {
            snprintf(out + o, sizeof(out) - o, "(bad message)\n");
            return out;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s\n", n.payload);
        off += f.len;
        (*count)++;
    }
    return out;
}

TEST(order_and_empty)
{
    pgr_notify_queue_t q = { 0 };
    pgr_writer_t w;
    int n;

    CHECK(!pgr_notify_pending(&q));
    pgr_writer_init_grow(&w);
    CHECK_INT(pgr_notify_take(&q, &w, 77, "pgrouter_events", 1 << 20), 0);
    CHECK_INT(w.len, 0);
    CHECK_INT(pgr_notify_push(&q, "{\"event\": \"a\"}"), 0);
    CHECK_INT(pgr_notify_push(&q, "{\"event\": \"b\"}"), 0);
    CHECK(pgr_notify_pending(&q));
    CHECK_INT(pgr_notify_take(&q, &w, 77, "pgrouter_events", 1 << 20), 2);
    CHECK_STR(payloads(&w, &n), "{\"event\": \"a\"}\n{\"event\": \"b\"}\n");
    CHECK(!pgr_notify_pending(&q));
    CHECK_INT(q.bytes, 0);
    pgr_writer_free(&w);
    pgr_notify_clear(&q);
}

TEST(count_bound_drops_oldest_and_says_so)
{
    pgr_notify_queue_t q = { 0 };
    pgr_writer_t w;
    char p[32];
    int n;

    for (int i = 0; i < PGR_NOTIFY_MAX_EVENTS + 250; i++) {
        snprintf(p, sizeof(p), "e%d", i);
        CHECK_INT(pgr_notify_push(&q, p), 0);
    }
    CHECK_INT(q.n, PGR_NOTIFY_MAX_EVENTS);
    CHECK_INT(q.dropped, 250);
    pgr_writer_init_grow(&w);
    CHECK_INT(pgr_notify_take(&q, &w, 77, "pgrouter_events", SIZE_MAX), PGR_NOTIFY_MAX_EVENTS);
    char *all = payloads(&w, &n);
    CHECK_INT(n, PGR_NOTIFY_MAX_EVENTS + 1);
    /* The notice first, then the newest MAX_EVENTS in order: e250 ... e1249. */
    CHECK(strncmp(all, "{\"event\": \"events_dropped\", \"count\": 250}\ne250\ne251\n", 52) == 0);
    CHECK(strstr(all, "\ne1249\n") != NULL && strstr(all, "\ne249\n") == NULL);
    /* The notice is given once. */
    pgr_writer_reset(&w);
    CHECK_INT(pgr_notify_push(&q, "later"), 0);
    pgr_notify_take(&q, &w, 77, "pgrouter_events", SIZE_MAX);
    CHECK_STR(payloads(&w, &n), "later\n");
    CHECK_INT(q.dropped_total, 250);
    pgr_writer_free(&w);
    pgr_notify_clear(&q);
}

TEST(byte_bound)
{
    pgr_notify_queue_t q = { 0 };
    static char big[300 * 1024];
    memset(big, 'x', sizeof(big) - 1);
    for (int i = 0; i < 10; i++)
        CHECK_INT(pgr_notify_push(&q, big), 0);
    CHECK(q.bytes <= PGR_NOTIFY_MAX_BYTES);
    CHECK_INT(q.n, 3);
    CHECK_INT(q.dropped, 7);
    /* One event over the bound by itself is dropped, and what waits stays. */
    static char huge[PGR_NOTIFY_MAX_BYTES + 2];
    memset(huge, 'y', sizeof(huge) - 1);
    CHECK_INT(pgr_notify_push(&q, huge), 0);
    CHECK_INT(q.n, 3);
    CHECK_INT(q.dropped, 8);
    pgr_notify_clear(&q);
    CHECK(!pgr_notify_pending(&q));
    CHECK_INT(pgr_notify_push(&q, "again"), 0); /* usable after clear */
    CHECK_INT(q.n, 1);
    pgr_notify_clear(&q);
}

TEST(take_stops_at_the_budget)
{
    pgr_notify_queue_t q = { 0 };
    pgr_writer_t w;
    char p[128];
    int n;

    for (int i = 0; i < 100; i++) {
        snprintf(p, sizeof(p), "%090d", i); /* 90 bytes: a 114-byte message */
        CHECK_INT(pgr_notify_push(&q, p), 0);
    }
    pgr_writer_init_grow(&w);
    /* Messages go in until the budget is passed: 1000 bytes take 9 (the 9th passes it). */
    CHECK_INT(pgr_notify_take(&q, &w, 77, "pgrouter_events", 1000), 9);
    payloads(&w, &n);
    CHECK_INT(n, 9);
    CHECK_INT(q.n, 91);
    pgr_writer_reset(&w);
    CHECK_INT(pgr_notify_take(&q, &w, 77, "pgrouter_events", 0), 1);
    CHECK(strncmp(payloads(&w, &n), "0000", 4) == 0 && strstr(payloads(&w, &n), "09\n"));
    pgr_writer_free(&w);
    pgr_notify_clear(&q);
}

int
main(void)
{
    return RUN(order_and_empty, count_bound_drops_oldest_and_says_so, byte_bound,
               take_stops_at_the_budget);
}

/* LISTEN pgrouter_events: node events pushed to the admin sessions that listen (see admin.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "ops/admin.h"
#include "ops/report.h"
#include "protocol/backend.h"
#include "session/client.h"

/* The event as a JSON object; NULL for events not told (pool statistics, connection churn of
 * the health checker, which the health states already summarise). Caller frees. */
static char *
payload(const pgr_event_t *ev)
{
    const char *name;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    switch (ev->type) {
    case PGR_EVENT_NODE_ADDED:
        name = "node_added";
        break;
    case PGR_EVENT_NODE_REMOVED:
        name = "node_removed";
        break;
    case PGR_EVENT_NODE_HEALTH:
        name = "node_health";
        break;
    default:
        return NULL;
    }
    if ((f = open_memstream(&buf, &len)) == NULL)
        return NULL;
    fprintf(f, "{\"event\": \"%s\", \"node\": ", name);
    pgr_report_json_str(f, ev->node_id ? ev->node_id : "");
    if (ev->type == PGR_EVENT_NODE_HEALTH) {
        fprintf(f, ", \"from\": \"%s\", \"to\": \"%s\"", pgr_node_state_name(ev->old_state),
                pgr_node_state_name(ev->new_state));
        if (ev->error) {
            fputs(", \"error\": ", f);
            pgr_report_json_str(f, ev->error);
        }
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void
event_cb(pgr_cluster_t *c, const pgr_event_t *ev, void *arg)
{
    pgr_runtime_t *rt = arg;
    char *text;
    pgr_writer_t w;

    (void)c;
    if ((text = payload(ev)) == NULL)
        return;
    pgr_writer_init_grow(&w);
    pgr_be_write_notify(&w, (int32_t)getpid(), "pgrouter_events", text);
    free(text);
    if (w.err == 0) {
        pgr_list_t *n, *tmp;
        pgr_list_foreach_safe(n, tmp, &rt->clients) {
            pgr_client_t *cl = pgr_container_of(n, pgr_client_t, link);
            /* Admin commands are answered whole within one callback: between two loop turns a
             * listening admin session is always at a message boundary. */
            if (cl->admin && cl->admin_sess.listening && cl->state == PGR_CLIENT_IDLE)
                pgr_client_send_writer(cl, &w);
        }
    }
    pgr_writer_free(&w);
}

int
pgr_admin_events_start(pgr_runtime_t *rt)
{
    return pgr_cluster_subscribe(rt->cluster, event_cb, rt);
}

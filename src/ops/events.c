/* LISTEN pgrouter_events: every node event as a JSON payload, queued for each admin session that
 * listens (see admin.h for the payloads, session/notify.h for the queue). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "ops/admin.h"
#include "ops/report.h"
#include "session/client.h"

static const char *
event_name(pgr_event_type_t t)
{
    switch (t) {
    case PGR_EVENT_NODE_ADDED: return "node_added";
    case PGR_EVENT_NODE_REMOVED: return "node_removed";
    case PGR_EVENT_NODE_HEALTH: return "node_health";
    case PGR_EVENT_NODE_CONNECTED: return "node_connected";
    case PGR_EVENT_NODE_DISCONNECTED: return "node_disconnected";
    case PGR_EVENT_POOL_STATS: return "pool_stats";
    }
    return NULL;
}

static void
pool_json(FILE *f, const pgr_pool_stats_t *p)
{
    fputs("{\"node\": ", f);
    pgr_report_json_str(f, p->node_id);
    fprintf(f, ", \"total\": %d, \"idle\": %d, \"active\": %d, \"connecting\": %d, "
            "\"waiting\": %d, \"max\": %d, \"acquired\": %llu, \"timed_out\": %llu, "
            "\"connect_failures\": %llu}", p->total, p->idle, p->active, p->connecting,
            p->waiting, p->max, (unsigned long long)p->acquired,
            (unsigned long long)p->timed_out, (unsigned long long)p->connect_failures);
}

/* The event as a JSON object (caller frees); NULL for an unknown type or out of memory. */
char *
pgr_admin_event_json(pgr_cluster_t *c, const pgr_event_t *ev)
{
    const char *name = event_name(ev->type);
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (name == NULL || (f = open_memstream(&buf, &len)) == NULL)
        return NULL;
    fprintf(f, "{\"event\": \"%s\"", name);
    if (ev->type == PGR_EVENT_POOL_STATS) {
        fputs(", \"pools\": [", f);
        for (size_t i = 0; i < ev->n_stats; i++) {
            fputs(i ? ", " : "", f);
            pool_json(f, &ev->stats[i]);
        }
        fputc(']', f);
    } else {
        fputs(", \"node\": ", f);
        pgr_report_json_str(f, ev->node_id ? ev->node_id : "");
    }
    switch (ev->type) {
    case PGR_EVENT_NODE_ADDED: {
        pgr_node_info_t info;
        if (c && ev->node_id && pgr_cluster_get_node(c, ev->node_id, &info) == 0) {
            fputs(", \"host\": ", f);
            pgr_report_json_str(f, info.host);
            fprintf(f, ", \"port\": %d", info.port);
        }
        break;
    }
    case PGR_EVENT_NODE_HEALTH:
        fprintf(f, ", \"from\": \"%s\", \"to\": \"%s\"", pgr_node_state_name(ev->old_state),
                pgr_node_state_name(ev->new_state));
        /* the error that caused it: */
        /* fall through */
    case PGR_EVENT_NODE_DISCONNECTED:
        if (ev->error) {
            fputs(", \"error\": ", f);
            pgr_report_json_str(f, ev->error);
        }
        break;
    default:
        break;
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
    pgr_list_t *n, *tmp;
    char *text = NULL;

    pgr_list_foreach_safe(n, tmp, &rt->clients) {
        pgr_client_t *cl = pgr_container_of(n, pgr_client_t, link);
        if (!cl->admin || !cl->admin_sess.listening)
            continue;
        if (text == NULL && (text = pgr_admin_event_json(c, ev)) == NULL)
            return;
        pgr_client_notify(cl, text);
    }
    free(text);
}

int
pgr_admin_events_start(pgr_runtime_t *rt)
{
    return pgr_cluster_subscribe(rt->cluster, event_cb, rt);
}

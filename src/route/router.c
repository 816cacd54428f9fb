/* The routing policy (see router.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "route/router.h"

#define MAX_NODES PGR_CLUSTER_MAX_NODES

typedef struct busy {
    char node_id[PGR_NODE_ID_MAX];
    int links;
} busy_t;

struct pgr_router {
    pgr_cluster_t *cluster;
    pgr_reads_t reads;
    pgr_balance_t balance;
    int64_t max_lag_ms;
    uint64_t rr;               /* round-robin position */
    uint64_t rand_state;       /* xorshift for random balance */
    busy_t busy[MAX_NODES];
    int n_busy;
};

/* A node as the policy sees it: configured weight and role, health. */
typedef struct cand {
    const char *id;
    const char *host;          /* for messages */
    int port;
    const char *last_error;    /* of its health checks, "" when none failed */
    pgr_role_t role;           /* effective: as the node reports it, else as configured */
    pgr_node_state_t state;
    int weight;
    double lag_s;
    uint64_t lsn;
    int links;
} cand_t;

static const char *const session_route_names[] = { "auto", "primary", "replica", "broadcast",
                                                    "node" };

const char *
pgr_session_route_name(pgr_session_route_t s)
{
    return (size_t)s < PGR_ARRAY_LEN(session_route_names) ? session_route_names[s] : "?";
}

const char *
pgr_route_kind_name(pgr_route_kind_t k)
{
    return k == PGR_ROUTE_NODE ? "node" : k == PGR_ROUTE_BROADCAST ? "broadcast" : "error";
}

int
pgr_router_new(pgr_cluster_t *cluster, const pgr_config_t *cfg, pgr_router_t **out)
{
    pgr_router_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return PGR_ENOMEM;
    r->cluster = cluster;
    r->rand_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)r;
    pgr_router_set_config(r, cfg);
    *out = r;
    return 0;
}

void
pgr_router_free(pgr_router_t *r)
{
    free(r);
}

void
pgr_router_set_config(pgr_router_t *r, const pgr_config_t *cfg)
{
    r->reads = cfg->routing.reads;
    r->balance = cfg->routing.balance;
    r->max_lag_ms = cfg->routing.max_replica_lag_ms;
}

static busy_t *
busy_slot(pgr_router_t *r, const char *id, bool create)
{
    for (int i = 0; i < r->n_busy; i++)
        if (strcmp(r->busy[i].node_id, id) == 0)
            return &r->busy[i];
    if (!create)
        return NULL;
    for (int i = 0; i < r->n_busy; i++)
        if (r->busy[i].links == 0) { /* reuse a slot of a node with nothing in flight */
            snprintf(r->busy[i].node_id, sizeof(r->busy[i].node_id), "%s", id);
            return &r->busy[i];
        }
    if (r->n_busy == MAX_NODES)
        return NULL;
    busy_t *b = &r->busy[r->n_busy++];
    snprintf(b->node_id, sizeof(b->node_id), "%s", id);
    b->links = 0;
    return b;
}

void
pgr_router_link(pgr_router_t *r, const char *node_id)
{
    busy_t *b = busy_slot(r, node_id, true);

    if (b)
        b->links++;
}

void
pgr_router_unlink(pgr_router_t *r, const char *node_id)
{
    busy_t *b = busy_slot(r, node_id, false);

    if (b && b->links > 0)
        b->links--;
}

uint64_t
pgr_lsn_parse(const char *s)
{
    unsigned int hi, lo;
    char tail;

    if (s == NULL || sscanf(s, "%X/%X%c", &hi, &lo, &tail) != 2)
        return 0;
    return (uint64_t)hi << 32 | lo;
}

/* Gather the nodes: health and configuration side by side. Returns how many. */
static int
gather(pgr_router_t *r, cand_t *c, pgr_health_t *h, pgr_node_info_t *info)
{
    size_t nh = pgr_cluster_all_health(r->cluster, h, MAX_NODES);
    size_t ni = pgr_cluster_all_nodes(r->cluster, info, MAX_NODES);
    int n = 0;

    if (nh > MAX_NODES)
        nh = MAX_NODES;
    if (ni > MAX_NODES)
        ni = MAX_NODES;
    for (size_t i = 0; i < nh; i++) {
        const pgr_node_info_t *cfg = NULL;
        for (size_t j = 0; j < ni && !cfg; j++)
            if (strcmp(info[j].id, h[i].node_id) == 0)
                cfg = &info[j];
        busy_t *b = busy_slot(r, h[i].node_id, false);
        c[n] = (cand_t){
            .id = h[i].node_id,
            .host = cfg ? cfg->host : "?",
            .port = cfg ? cfg->port : 0,
            .last_error = h[i].last_error,
            .role = h[i].role != PGR_ROLE_AUTO ? h[i].role : cfg ? cfg->role : PGR_ROLE_AUTO,
            .state = h[i].state,
            .weight = cfg ? cfg->weight : 1,
            .lag_s = h[i].lag_s,
            .lsn = h[i].lsn,
            .links = b ? b->links : 0,
        };
        n++;
    }
    return n;
}

static uint64_t
next_rand(pgr_router_t *r)
{
    uint64_t x = r->rand_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->rand_state = x;
}

/* Pick one of the n eligible candidates by the balance policy and weights. */
static const cand_t *
balance(pgr_router_t *r, const cand_t **el, int n)
{
    int total = 0;

    for (int i = 0; i < n; i++)
        total += el[i]->weight;
    if (n == 1 || total <= 0)
        return el[0];
    switch (r->balance) {
    case PGR_BALANCE_ROUND_ROBIN: {
        /* Weighted: position rr over the sum of weights. */
        int64_t pos = (int64_t)(r->rr++ % (uint64_t)total);
        for (int i = 0; i < n; i++) {
            pos -= el[i]->weight;
            if (pos < 0)
                return el[i];
        }
        return el[n - 1];
    }
    case PGR_BALANCE_RANDOM: {
        int64_t pos = (int64_t)(next_rand(r) % (uint64_t)total);
        for (int i = 0; i < n; i++) {
            pos -= el[i]->weight;
            if (pos < 0)
                return el[i];
        }
        return el[n - 1];
    }
    case PGR_BALANCE_LEAST_BUSY:
    default: {
        /* Fewest in flight per unit of weight; ties rotate so idle replicas share the load. */
        const cand_t *best = NULL;
        double best_load = 0;
        uint64_t start = r->rr++;
        for (int k = 0; k < n; k++) {
            const cand_t *c = el[(start + (uint64_t)k) % (uint64_t)n];
            double load = (double)c->links / (double)c->weight;
            if (best == NULL || load < best_load) {
                best = c;
                best_load = load;
            }
        }
        return best;
    }
    }
}

static void
route_error(pgr_route_t *out, const char *sqlstate, const char *fmt, const char *a,
            const char *b)
{
    out->kind = PGR_ROUTE_ERROR;
    snprintf(out->sqlstate, sizeof(out->sqlstate), "%s", sqlstate);
    snprintf(out->reason, sizeof(out->reason), fmt, a, b);
}

/* Copy a NUL-terminated string into dst[cap], cut to fit: no formatting on the routing path. */
static void
copy_id(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
route_node(pgr_route_t *out, const cand_t *c, bool read, const char *why)
{
    out->kind = PGR_ROUTE_NODE;
    out->read = read;
    copy_id(out->node_id, sizeof(out->node_id), c->id);
    out->why = why;
    out->node_role = c->role;
}

const char *
pgr_route_reason(const pgr_route_t *r, char *buf, size_t cap)
{
    static const char *const policies[] = {
        [PGR_BALANCE_ROUND_ROBIN] = "round-robin",
        [PGR_BALANCE_RANDOM] = "random",
        [PGR_BALANCE_LEAST_BUSY] = "least-busy",
    };
    const char *why = r->why ? r->why : "";
    size_t l;

    if (r->kind == PGR_ROUTE_ERROR)
        return r->reason;
    if (r->kind == PGR_ROUTE_BROADCAST) {
        snprintf(buf, cap, "%s -> every healthy node", why);
        return buf;
    }
    snprintf(buf, cap, "%s%s%s%s -> %s %s", why, r->no_replica ? " (no replica " : "",
             r->no_replica ? r->no_replica : "", r->no_replica ? ")" : "",
             r->node_role == PGR_ROLE_REPLICA   ? "replica"
             : r->node_role == PGR_ROLE_PRIMARY ? "primary"
                                                : "node",
             r->node_id);
    if (r->policy < 0 || (size_t)r->policy >= PGR_ARRAY_LEN(policies))
        return buf;
    l = strlen(buf);
    snprintf(buf + l, cap - l, " (%s, lag %.1fs", policies[r->policy], r->lag_s);
    l = strlen(buf);
    if (r->min_lsn)
        snprintf(buf + l, cap - l, ", replayed %X/%X >= %X/%X for read-your-writes",
                 (unsigned)(r->lsn >> 32), (unsigned)r->lsn, (unsigned)(r->min_lsn >> 32),
                 (unsigned)r->min_lsn);
    l = strlen(buf);
    snprintf(buf + l, cap - l, ")");
    return buf;
}

/* No healthy primary: name every node that could have taken the statement, its state and
 * why (its address and its last health error), and ask for a probe so recovery does not wait
 * out the backoff. A node still connecting (no health result yet) makes the error pending: the
 * session may wait for that result. */
static void
no_primary(pgr_router_t *r, const cand_t *c, int n, pgr_route_t *out)
{
    size_t len;
    int named = 0;

    for (int i = 0; i < n; i++) {
        if (c[i].state != PGR_NODE_HEALTHY)
            pgr_cluster_probe(r->cluster, c[i].id);
        if (c[i].state == PGR_NODE_CONNECTING)
            out->pending = true;
    }
    route_error(out, "08006", "no healthy primary%s%s", n ? ":" : " among the (no) nodes", "");
    /* Primaries (or nodes whose role is not known yet) first, then the others. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            bool primary = c[i].role == PGR_ROLE_PRIMARY || c[i].role == PGR_ROLE_AUTO;
            if (primary != (pass == 0) || (!primary && c[i].state == PGR_NODE_HEALTHY))
                continue;
            len = strlen(out->reason);
            snprintf(out->reason + len, sizeof(out->reason) - len,
                     "%s node \"%s\" is %s (%s:%d%s%.120s)", named++ ? ";" : "", c[i].id,
                     pgr_node_state_name(c[i].state), c[i].host, c[i].port,
                     c[i].last_error[0] ? ": " : "", c[i].last_error);
        }
    }
}

static void
to_primary(pgr_router_t *r, const cand_t *c, int n, bool read, const char *why,
           pgr_route_t *out)
{
    for (int i = 0; i < n; i++)
        if (c[i].state == PGR_NODE_HEALTHY && c[i].role == PGR_ROLE_PRIMARY) {
            route_node(out, &c[i], read, why);
            return;
        }
    no_primary(r, c, n, out);
}

static void
to_replica(pgr_router_t *r, const cand_t *c, int n, uint64_t min_lsn, const char *why,
           pgr_route_t *out)
{
    const cand_t *el[MAX_NODES];
    int k = 0;
    bool lagging = false, behind = false;

    for (int i = 0; i < n; i++) {
        if (c[i].state != PGR_NODE_HEALTHY || c[i].weight <= 0)
            continue;
        if (c[i].role == PGR_ROLE_PRIMARY && r->reads != PGR_READS_ANY)
            continue;
        if (c[i].role == PGR_ROLE_REPLICA) {
            if (r->max_lag_ms > 0 && c[i].lag_s * 1000.0 > (double)r->max_lag_ms) {
                lagging = true;
                continue;
            }
            if (min_lsn && c[i].lsn < min_lsn) {
                behind = true;
                continue;
            }
        }
        el[k++] = &c[i];
    }
    if (k == 0) {
        out->no_replica = behind    ? "has replayed the session's last write"
                          : lagging ? "within max_replica_lag"
                                    : "healthy";
        to_primary(r, c, n, true, why, out);
        return;
    }
    const cand_t *pick = balance(r, el, k);
    route_node(out, pick, true, why);
    out->policy = (int)r->balance;
    out->lag_s = pick->lag_s;
    out->lsn = pick->lsn;
    out->min_lsn = min_lsn;
}

/* The node named by a hint or pgrouter.route. One known to be down (unhealthy, or retrying
 * after that) fails the statement at once with 08006 naming it, rather than after a connect
 * timeout, and is probed so that its recovery is seen soon; one still connecting is tried. */
static void
to_node(pgr_router_t *r, const cand_t *c, int n, const char *id, const char *why,
        pgr_route_t *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(c[i].id, id) != 0)
            continue;
        if (c[i].state == PGR_NODE_UNHEALTHY || c[i].state == PGR_NODE_RECONNECTING) {
            pgr_cluster_probe(r->cluster, c[i].id);
            out->kind = PGR_ROUTE_ERROR;
            snprintf(out->sqlstate, sizeof(out->sqlstate), "08006");
            snprintf(out->reason, sizeof(out->reason), "node \"%s\" is unhealthy (%s:%d%s%.120s)",
                     c[i].id, c[i].host, c[i].port, c[i].last_error[0] ? ": " : "",
                     c[i].last_error);
            return;
        }
        route_node(out, &c[i], false, why);
        return;
    }
    route_error(out, "42704", "node \"%s\" does not exist%s", id, "");
}

/* Every healthy node (a hint or pgrouter.route said so); why starts the reason. */
static void
to_all(bool read, const char *why, pgr_route_t *out)
{
    out->kind = PGR_ROUTE_BROADCAST;
    out->role = PGR_ROLE_AUTO;
    out->read = read;
    out->why = why;
}

void
pgr_router_route(pgr_router_t *r, const pgr_route_req_t *req, pgr_route_t *out)
{
    cand_t c[MAX_NODES];
    pgr_health_t h[MAX_NODES];
    pgr_node_info_t info[MAX_NODES];
    int n = gather(r, c, h, info);
    bool read = req->cls == PGR_CLASS_READ || req->read_only_txn;

    memset(out, 0, offsetof(pgr_route_t, reason));
    out->reason[0] = '\0';
    out->policy = -1;
    switch (req->hint) {
    case PGR_HINT_PRIMARY:
        to_primary(r, c, n, false, "hint primary", out);
        return;
    case PGR_HINT_REPLICA:
        to_replica(r, c, n, req->min_lsn, "hint replica", out);
        return;
    case PGR_HINT_NODE:
        to_node(r, c, n, req->hint_node ? req->hint_node : "", "hint node", out);
        return;
    case PGR_HINT_BROADCAST:
        to_all(read, "hint broadcast", out);
        return;
    case PGR_HINT_NONE:
        break;
    }
    switch (req->session) {
    case PGR_SESSION_ROUTE_PRIMARY:
        to_primary(r, c, n, false, "pgrouter.route primary", out);
        return;
    case PGR_SESSION_ROUTE_REPLICA:
        to_replica(r, c, n, req->min_lsn, "pgrouter.route replica", out);
        return;
    case PGR_SESSION_ROUTE_NODE:
        to_node(r, c, n, req->session_node ? req->session_node : "", "pgrouter.route node", out);
        return;
    case PGR_SESSION_ROUTE_BROADCAST:
        to_all(read, "pgrouter.route broadcast", out);
        return;
    case PGR_SESSION_ROUTE_AUTO:
        break;
    }
    if (read && req->broadcast_reads) {
        to_all(true, "pgrouter.broadcast verify", out);
        return;
    }
    if (read && r->reads != PGR_READS_PRIMARY)
        to_replica(r, c, n, req->min_lsn, req->read_only_txn ? "read-only transaction" : "read",
                   out);
    else
        to_primary(r, c, n, read, read ? "read (routing.reads: primary)"
                                        : pgr_stmt_class_name(req->cls), out);
}

int
pgr_router_parse_session_route(pgr_router_t *r, const char *value, pgr_session_route_t *out,
                               char *node, size_t nodecap, char *msg, size_t msgcap)
{
    for (int i = 0; i <= PGR_SESSION_ROUTE_BROADCAST; i++)
        if (strcasecmp(value, session_route_names[i]) == 0) {
            *out = (pgr_session_route_t)i;
            if (nodecap)
                node[0] = '\0';
            return 0;
        }
    if (strncasecmp(value, "node:", 5) == 0 && value[5]) {
        if (!pgr_cluster_has_node(r->cluster, value + 5)) {
            snprintf(msg, msgcap, "node \"%s\" does not exist", value + 5);
            return PGR_ENOENT;
        }
        *out = PGR_SESSION_ROUTE_NODE;
        snprintf(node, nodecap, "%s", value + 5);
        return 0;
    }
    snprintf(msg, msgcap,
             "invalid value for parameter \"pgrouter.route\": \"%s\" (expected auto, primary, "
             "replica, broadcast or node:ID)", value);
    return PGR_EINVAL;
}

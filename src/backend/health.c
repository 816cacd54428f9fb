/* The health checker of one node: its dedicated connection, the check cadence, timeouts,
 * backoff, and the state machine's decisions (pure, at the top of the file). */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "backend/health.h"
#include "backend/node.h"
#include "backend/server.h"
#include "core/log.h"

/* Role, LSN (replay LSN on a replica, current WAL LSN on a primary) and replay lag. */
static const char HEALTH_SQL[] =
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, "
    /* Lag: 0 on a primary, and on a replica that has replayed all it received (an idle
     * primary sends nothing, so the last replayed commit grows old without any lag). */
    "CASE WHEN NOT pg_is_in_recovery() OR "
    "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END";

/* ---- pure decisions ----------------------------------------------------------------------- */

pgr_node_state_t
pgr_health_step(pgr_node_state_t s, pgr_health_event_t ev, int failures, int threshold,
                pgr_health_action_t *action)
{
    if (threshold < 1)
        threshold = 1;
    if (ev == PGR_HEV_REMOVE || s == PGR_NODE_REMOVED) {
        *action = PGR_HACT_STOP;
        return PGR_NODE_REMOVED;
    }
    switch (ev) {
    case PGR_HEV_CHECK_OK:
        *action = PGR_HACT_NEXT_INTERVAL;
        return PGR_NODE_HEALTHY;
    case PGR_HEV_CHECK_FAILED:
        if (s == PGR_NODE_CONNECTING || s == PGR_NODE_HEALTHY) {
            if (failures >= threshold) {
                *action = PGR_HACT_BACKOFF;
                return PGR_NODE_UNHEALTHY;
            }
            *action = PGR_HACT_CHECK_NOW; /* below the threshold: confirm at once */
            return s;
        }
        *action = PGR_HACT_BACKOFF;       /* a reconnect (or probe) failed */
        return PGR_NODE_UNHEALTHY;
    case PGR_HEV_RETRY_DUE:
        *action = PGR_HACT_CHECK_NOW;
        return s == PGR_NODE_UNHEALTHY ? PGR_NODE_RECONNECTING : s;
    default:
        *action = PGR_HACT_STOP;
        return PGR_NODE_REMOVED;
    }
}

int64_t
pgr_health_backoff_ms(int step, int64_t initial_ms, int64_t max_ms, double jitter, double rnd)
{
    int64_t base = initial_ms > 0 ? initial_ms : 1;
    for (int i = 0; i < step && base < max_ms; i++)
        base *= 2;
    if (base > max_ms)
        base = max_ms;
    if (jitter < 0)
        jitter = 0;
    if (jitter > 1)
        jitter = 1;
    double d = (double)base * (1.0 + jitter * (2.0 * rnd - 1.0));
    /* The jitter spreads the delays below the cap; it never takes one past it. */
    if (d > (double)max_ms)
        d = (double)max_ms;
    return d < 0 ? 0 : (int64_t)d;
}

bool
pgr_health_is_change(pgr_node_state_t told, pgr_node_state_t now)
{
    if (now == told)
        return false;
    /* An unhealthy node's reconnect attempt, and its failure, change nothing yet. */
    return !(told == PGR_NODE_UNHEALTHY && now == PGR_NODE_RECONNECTING);
}

bool
pgr_health_parse_lsn(const char *s, uint64_t *out)
{
    unsigned int hi, lo;
    char tail;
    if (!s || sscanf(s, "%X/%X%c", &hi, &lo, &tail) != 2)
        return false;
    *out = ((uint64_t)hi << 32) | lo;
    return true;
}

pgr_health_login_t
pgr_health_login(const pgr_node_config_t *nc, const pgr_login_config_t *global,
                 const pgr_health_login_t *fallback)
{
    const pgr_login_config_t *own = &nc->health;
    pgr_health_login_t l;
    bool no_health_user = !own->user && !global->user;

    l.user = own->user ? own->user : global->user ? global->user
             : nc->user ? nc->user : fallback->user;
    l.password = own->password ? own->password : global->password ? global->password
                 : !no_health_user ? NULL : nc->password ? nc->password : fallback->password;
    l.dbname = own->dbname ? own->dbname : global->dbname ? global->dbname
               : nc->dbname ? nc->dbname : fallback->dbname;
    return l;
}

/* Server texts (as libpq reports them) that mean the login was refused, with the keys to set. */
static const struct {
    const char *text, *keys;
} login_failures[] = {
    { "no password supplied", "health.user and health.password" },       /* libpq */
    { "password authentication failed", "health.user and health.password" }, /* 28P01 */
    { "authentication failed for user", "health.user and health.password" }, /* md5, ident */
    { "SCRAM authentication", "health.user and health.password" },       /* libpq */
    { "is not permitted to log in", "health.user" },                     /* 28000 */
    { "no pg_hba.conf entry", "health.user and health.dbname" },         /* 28000 */
    { "pg_hba.conf rejects connection", "health.user and health.dbname" }, /* 28000 */
    { "permission denied for database", "health.user and health.dbname" }, /* 42501 */
};

const char *
pgr_health_login_keys(const char *msg)
{
    const char *q;

    if (!msg)
        return NULL;
    for (size_t i = 0; i < PGR_ARRAY_LEN(login_failures); i++)
        if (strstr(msg, login_failures[i].text))
            return login_failures[i].keys;
    /* FATAL:  role "x" does not exist (28000) / database "x" does not exist (3D000) */
    if ((q = strstr(msg, "role \"")) && strstr(q, "\" does not exist"))
        return "health.user";
    if ((q = strstr(msg, "database \"")) && strstr(q, "\" does not exist"))
        return "health.dbname";
    return NULL;
}

/* ---- the checker -------------------------------------------------------------------------- */

static int64_t
wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
emit(pgr_health_checker_t *h, pgr_event_type_t type, pgr_node_state_t old, const char *err)
{
    pgr_event_t ev = { .type = type, .node_id = h->node->cfg.id, .old_state = old,
                       .new_state = h->rec.state, .error = err };
    pgr_cluster_emit(h->node->cluster, &ev);
}

/* The state becomes st. Its log line and NODE_HEALTH event go out only for a real change
 * (pgr_health_is_change): an unhealthy node's failed reconnect attempts are one "unhealthy",
 * not a reconnecting/unhealthy pair each; the event's old state is the one last announced. */
static void
set_state(pgr_health_checker_t *h, pgr_node_state_t st, const char *err)
{
    pgr_node_state_t old = h->told;
    h->rec.state = st;
    if (!pgr_health_is_change(old, st)) {
        if (st == PGR_NODE_RECONNECTING)
            pgr_debug("health", "node %s: reconnect attempt", h->node->cfg.id);
        return;
    }
    h->told = st;
    if (st == PGR_NODE_UNHEALTHY)
        pgr_warn("health", "node %s: %s -> %s: %s", h->node->cfg.id, pgr_node_state_name(old),
                 pgr_node_state_name(st), err ? err : "");
    else
        pgr_info("health", "node %s: %s -> %s", h->node->cfg.id, pgr_node_state_name(old),
                 pgr_node_state_name(st));
    emit(h, PGR_EVENT_NODE_HEALTH, old, err);
    if (st == PGR_NODE_UNHEALTHY)
        pgr_node_down(h->node, err);
}

static void maybe_stopped(pgr_health_checker_t *h);

static void
srv_closed(pgr_server_t *srv, void *arg)
{
    pgr_health_checker_t *h = arg;
    h->pending--;
    maybe_stopped(h);
}

static void
drop_srv(pgr_health_checker_t *h, const char *why)
{
    if (!h->srv)
        return;
    pgr_server_t *srv = h->srv;
    bool was_up = h->srv_ready;
    h->srv = NULL;
    h->srv_ready = false;
    h->pending++;
    pgr_server_close(srv, srv_closed, h);
    if (was_up)
        emit(h, PGR_EVENT_NODE_DISCONNECTED, h->rec.state, why);
}

static void tick(uv_timer_t *t);

static void
act(pgr_health_checker_t *h, pgr_health_action_t a)
{
    const struct pgr_cluster *c = h->node->cluster;
    uint64_t delay = 0;
    switch (a) {
    case PGR_HACT_NEXT_INTERVAL: {
        uint64_t elapsed_ms = (uv_hrtime() - h->last_start_ns) / 1000000u;
        uint64_t iv = (uint64_t)c->health.interval_ms;
        delay = elapsed_ms < iv ? iv - elapsed_ms : 0;
        break;
    }
    case PGR_HACT_CHECK_NOW:
        delay = 0;
        break;
    case PGR_HACT_BACKOFF:
        delay = (uint64_t)pgr_health_backoff_ms(h->backoff_step, c->health.backoff_initial_ms,
                                                c->health.backoff_max_ms, c->health.backoff_jitter,
                                                pgr_cluster_rand(h->node->cluster));
        if (h->backoff_step < 30)
            h->backoff_step++;
        pgr_debug("health", "node %s: next attempt in %llu ms", h->node->cfg.id,
                  (unsigned long long)delay);
        break;
    case PGR_HACT_STOP:
        return;
    }
    if (!h->stopping)
        uv_timer_start(&h->tick, tick, delay, 0);
}

static void lost(pgr_server_t *srv, const char *msg, void *arg);

static void
check_done(pgr_health_checker_t *h, const char *err)
{
    pgr_health_action_t a;
    uv_timer_stop(&h->deadline);
    h->in_check = false;
    h->rec.checks++;
    h->rec.last_check_ms = wall_ms();
    if (err) {
        h->rec.failures++;
        h->rec.consecutive_failures++;
        snprintf(h->rec.last_error, sizeof(h->rec.last_error), "%s", err);
        h->rec.last_error_ms = h->rec.last_check_ms;
        pgr_debug("health", "node %s: check failed (%d in a row): %s", h->node->cfg.id,
                  h->rec.consecutive_failures, err);
        set_state(h, pgr_health_step(h->rec.state, PGR_HEV_CHECK_FAILED,
                                     h->rec.consecutive_failures,
                                     h->node->cluster->health.unhealthy_threshold, &a),
                  err);
    } else {
        h->rec.consecutive_failures = 0;
        h->backoff_step = 0;
        h->login_reported[0] = '\0';
        set_state(h, pgr_health_step(h->rec.state, PGR_HEV_CHECK_OK, 0,
                                     h->node->cluster->health.unhealthy_threshold, &a),
                  NULL);
    }
    act(h, a);
}

static void
got_result(pgr_server_t *srv, pgr_qresult_t *q, void *arg)
{
    pgr_health_checker_t *h = arg;
    const pgr_result_t *r = &q->pub;
    char err[300];

    if (!r->ok || r->n_rows != 1 || r->n_fields != 3) {
        snprintf(err, sizeof(err), "%s", r->ok ? "unexpected health query result" : r->message);
        if (r->status != PGR_EQUERY || !pgr_server_usable(srv))
            drop_srv(h, err);
        else
            pgr_server_idle(srv, lost, h);
        check_done(h, err);
        return;
    }
    const char *rec = pgr_result_value(r, 0, 0);
    h->rec.role = rec && rec[0] == 't' ? PGR_ROLE_REPLICA : PGR_ROLE_PRIMARY;
    uint64_t lsn = 0;
    if (pgr_health_parse_lsn(pgr_result_value(r, 0, 1), &lsn))
        h->rec.lsn = lsn;
    const char *lag = pgr_result_value(r, 0, 2);
    h->rec.lag_s = lag ? strtod(lag, NULL) : 0;
    h->rec.latency_us = (int64_t)((uv_hrtime() - h->check_start_ns) / 1000);
    pgr_server_idle(srv, lost, h); /* between checks: notice a lost connection at once */
    check_done(h, NULL);
}

static void
send_check(pgr_health_checker_t *h)
{
    if (pgr_server_query(h->srv, HEALTH_SQL, 0, NULL, got_result, h) != 0) {
        drop_srv(h, "could not send the health query");
        check_done(h, "could not send the health query");
    }
}

/* libpq's "connection to server at "h", port p failed: " in front of the server's words. */
static const char *
server_words(const char *msg)
{
    const char *p = strstr(msg, " failed: ");
    return strncmp(msg, "connection to server", 20) == 0 && p ? p + 9 : msg;
}

/* The login was refused: the node's last error says so and which keys to set, and the log says
 * it once — again only when the failure changes or after a check has succeeded. */
static void
login_failed(pgr_health_checker_t *h, const char *keys, const char *msg, char *err, size_t len)
{
    const struct pgr_cluster *c = h->node->cluster;
    pgr_health_login_t fb = { c->user, c->password, c->dbname };
    pgr_health_login_t l = pgr_health_login(&h->node->cfg, &c->health.login, &fb);

    snprintf(err, len, "health check login refused (set %s): %s", keys, server_words(msg));
    if (strcmp(h->login_reported, err) == 0)
        return;
    snprintf(h->login_reported, sizeof(h->login_reported), "%s", err);
    pgr_error("health", "node %s: health checks cannot log in as user \"%s\" to database \"%s\" "
              "(%s): %s. Set %s in the config (health: for every node, or the node's own "
              "health: block); the node stays unhealthy until then", h->node->cfg.id, l.user,
              l.dbname, l.password ? "with a password" : "without a password",
              server_words(msg), keys);
}

/* What a login to this node reports, kept as notes (PGR_NOTE_PARAM, database ""): a client
 * that logs in while no node can be reached is told these (session/client.c). */
static void
remember_params(pgr_health_checker_t *h, pgr_server_t *srv)
{
    static const char *const names[] = {
        "server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle",
        "TimeZone", "integer_datetimes", "standard_conforming_strings",
    };
    char key[64];

    for (size_t i = 0; i < PGR_ARRAY_LEN(names); i++) {
        const char *v = pgr_server_parameter(srv, names[i]);
        snprintf(key, sizeof(key), PGR_NOTE_PARAM "%s", names[i]);
        if (v && pgr_cluster_note_set(h->node->cluster, h->node->cfg.id, "", key, v) == PGR_ENOMEM)
            pgr_warn("health", "node %s: out of memory noting %s", h->node->cfg.id, names[i]);
    }
}

static void
connected(pgr_server_t *srv, int status, const char *errmsg, void *arg)
{
    pgr_health_checker_t *h = arg;
    if (status != 0) {
        const char *keys = pgr_health_login_keys(errmsg);
        char err[256];
        if (keys) {
            login_failed(h, keys, errmsg, err, sizeof(err));
            errmsg = err;
        }
        drop_srv(h, errmsg);
        check_done(h, errmsg);
        return;
    }
    h->srv_ready = true;
    remember_params(h, srv);
    emit(h, PGR_EVENT_NODE_CONNECTED, h->rec.state, NULL);
    send_check(h);
}

/* The dedicated connection died between checks (EOF, FATAL): a failed check. */
static void
lost(pgr_server_t *srv, const char *msg, void *arg)
{
    pgr_health_checker_t *h = arg;
    char err[300];
    snprintf(err, sizeof(err), "health connection lost: %s", msg);
    drop_srv(h, err);
    if (!h->in_check)
        check_done(h, err);
}

static void
timed_out(uv_timer_t *t)
{
    pgr_health_checker_t *h = t->data;
    char err[128];
    snprintf(err, sizeof(err), "health check timed out after %lld ms",
             (long long)h->node->cluster->health.timeout_ms);
    drop_srv(h, err);
    check_done(h, err);
}

static void
begin_check(pgr_health_checker_t *h)
{
    const struct pgr_cluster *c = h->node->cluster;
    char err[512];

    if (h->stopping || h->in_check)
        return;
    h->in_check = true;
    h->check_start_ns = h->last_start_ns = uv_hrtime();
    uv_timer_start(&h->deadline, timed_out, (uint64_t)c->health.timeout_ms, 0);
    if (h->srv && h->srv_ready && pgr_server_usable(h->srv)) {
        send_check(h);
        return;
    }
    drop_srv(h, "connection unusable");
    pgr_health_login_t fb = { c->user, c->password, c->dbname };
    pgr_health_login_t l = pgr_health_login(&h->node->cfg, &c->health.login, &fb);
    if (pgr_node_connect_as(h->node, l.user, l.dbname, l.password, 0, connected, h, &h->srv, err,
                            sizeof(err)) != 0) {
        h->srv = NULL;
        check_done(h, err);
    }
}

static void
tick(uv_timer_t *t)
{
    pgr_health_checker_t *h = t->data;
    pgr_health_action_t a;
    if (h->stopping)
        return;
    set_state(h, pgr_health_step(h->rec.state, PGR_HEV_RETRY_DUE, h->rec.consecutive_failures,
                                 h->node->cluster->health.unhealthy_threshold, &a),
              NULL);
    begin_check(h);
}

void
pgr_health_start(pgr_health_checker_t *h, pgr_node_t *node)
{
    memset(h, 0, sizeof(*h));
    h->node = node;
    snprintf(h->rec.node_id, sizeof(h->rec.node_id), "%s", node->cfg.id);
    h->rec.state = h->told = PGR_NODE_CONNECTING;
    h->rec.role = PGR_ROLE_AUTO;
    uv_timer_init(node->cluster->loop, &h->tick);
    uv_timer_init(node->cluster->loop, &h->deadline);
    h->tick.data = h->deadline.data = h;
    uv_timer_start(&h->tick, tick, 0, 0); /* first check on the next loop iteration */
}

static void
timer_closed(uv_handle_t *t)
{
    pgr_health_checker_t *h = t->data;
    h->pending--;
    maybe_stopped(h);
}

static void
maybe_stopped(pgr_health_checker_t *h)
{
    if (!h->stopping || h->pending > 0 || !h->stopped_cb)
        return;
    void (*cb)(pgr_health_checker_t *, void *) = h->stopped_cb;
    h->stopped_cb = NULL;
    cb(h, h->stopped_arg);
}

void
pgr_health_stop(pgr_health_checker_t *h, bool removed,
                void (*cb)(pgr_health_checker_t *h, void *arg), void *arg)
{
    pgr_health_action_t a;
    if (h->stopping)
        return;
    h->stopping = true;
    h->stopped_cb = cb;
    h->stopped_arg = arg;
    if (removed)
        set_state(h, pgr_health_step(h->rec.state, PGR_HEV_REMOVE, 0, 1, &a), NULL);
    drop_srv(h, removed ? "node removed" : "shutting down");
    h->pending += 2;
    uv_close((uv_handle_t *)&h->tick, timer_closed);
    uv_close((uv_handle_t *)&h->deadline, timer_closed);
}

void
pgr_health_poke(pgr_health_checker_t *h)
{
    if (h->stopping || h->in_check)
        return;
    if (h->rec.state != PGR_NODE_HEALTHY && h->rec.state != PGR_NODE_CONNECTING)
        return;
    /* Errors come in bursts: at most one triggered check per 100 ms. */
    uint64_t since_ms = (uv_hrtime() - h->last_start_ns) / 1000000u;
    uint64_t delay = since_ms < 100 ? 100 - since_ms : 0;
    if (uv_is_active((uv_handle_t *)&h->tick) && uv_timer_get_due_in(&h->tick) <= delay)
        return; /* a check comes soon enough anyway */
    uv_timer_start(&h->tick, tick, delay, 0);
}

void
pgr_health_probe(pgr_health_checker_t *h)
{
    int64_t now = wall_ms();
    if (h->stopping || h->in_check || h->rec.state != PGR_NODE_UNHEALTHY)
        return;
    if (h->last_probe_ms && now - h->last_probe_ms < 1000)
        return;
    h->last_probe_ms = now;
    uv_timer_start(&h->tick, tick, 0, 0);
}

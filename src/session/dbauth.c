/* session/dbauth: pass-through password checks by a node login, and auth.query lookups with
 * their cache. See dbauth.h. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "session/client.h"
#include "session/dbauth.h"
#include "session/login.h"

#define CACHE_MAX 10000 /* cached secrets; the oldest goes first */

/* One user's secret from auth.query, valid until expires (loop time, ms). */
typedef struct entry {
    struct entry *next;
    char *user;
    char *secret;
    uint64_t expires;
} entry_t;

struct pgr_dbauth {
    entry_t *head; /* newest first */
    size_t n;
};

/* A check or a lookup in flight. cl is NULL once the client went away. */
typedef struct pgr_dbauth_req {
    pgr_client_t *cl;
    pgr_runtime_t *rt;
    char *password; /* verify: the cleartext being checked */
} req_t;

static void
free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void
entry_free(entry_t *e)
{
    free(e->user);
    free_secret(e->secret);
    free(e);
}

struct pgr_dbauth *
pgr_dbauth_new(void)
{
    return calloc(1, sizeof(struct pgr_dbauth));
}

void
pgr_dbauth_clear(struct pgr_dbauth *d)
{
    if (d == NULL)
        return;
    while (d->head) {
        entry_t *e = d->head;
        d->head = e->next;
        entry_free(e);
    }
    d->n = 0;
}

void
pgr_dbauth_free(struct pgr_dbauth *d)
{
    pgr_dbauth_clear(d);
    free(d);
}

/* Unlink and free the entry of user, if any. */
static void
drop(struct pgr_dbauth *d, const char *user)
{
    for (entry_t **pp = &d->head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->user, user) == 0) {
            entry_t *e = *pp;
            *pp = e->next;
            entry_free(e);
            d->n--;
            return;
        }
    }
}

/* The unexpired secret cached for user, or NULL. */
static const char *
cached(pgr_runtime_t *rt, const char *user)
{
    struct pgr_dbauth *d = rt->dbauth;
    for (entry_t *e = d ? d->head : NULL; e; e = e->next) {
        if (strcmp(e->user, user) != 0)
            continue;
        if (e->expires > uv_now(rt->loop))
            return e->secret;
        drop(d, user);
        return NULL;
    }
    return NULL;
}

static void
remember(pgr_runtime_t *rt, const char *user, const char *secret)
{
    struct pgr_dbauth *d = rt->dbauth;
    int64_t ttl = rt->cfg->auth.query_cache_ttl_ms;
    if (d == NULL || ttl <= 0)
        return;
    drop(d, user);
    entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL || !(e->user = strdup(user)) || !(e->secret = strdup(secret))) {
        if (e)
            entry_free(e);
        return; /* a cache that cannot grow is only slower */
    }
    e->expires = uv_now(rt->loop) + (uint64_t)ttl;
    e->next = d->head;
    d->head = e;
    if (++d->n > CACHE_MAX) { /* drop the oldest: the list's tail */
        entry_t **pp = &d->head;
        while ((*pp)->next)
            pp = &(*pp)->next;
        entry_free(*pp);
        *pp = NULL;
        d->n--;
    }
}

void
pgr_dbauth_forget(pgr_runtime_t *rt, const char *user)
{
    if (rt->dbauth != NULL)
        drop(rt->dbauth, user);
}

static req_t *
req_new(pgr_client_t *cl)
{
    req_t *req = calloc(1, sizeof(*req));
    if (req != NULL) {
        req->cl = cl;
        req->rt = cl->rt;
    }
    return req;
}

static void
req_free(req_t *req)
{
    free_secret(req->password);
    free(req);
}

void
pgr_dbauth_detach(pgr_client_t *cl)
{
    if (cl->dbauth_req != NULL) {
        cl->dbauth_req->cl = NULL;
        cl->dbauth_req = NULL;
    }
}

/* The database a check or a lookup logs in to: the client's, except for the admin console's
 * "pgrouter", which no node has. */
static const char *
login_dbname(const pgr_client_t *cl)
{
    return cl->admin ? "postgres" : cl->database;
}

/* ---- passthrough ------------------------------------------------------------------------- */

static void
verified_cb(pgr_cluster_t *c, const pgr_result_t *res, void *arg)
{
    req_t *req = arg;
    pgr_client_t *cl = req->cl;
    pgr_auth_out_t out;
    int verdict;

    if (cl == NULL || cl->state == PGR_CLIENT_CLOSING) {
        req_free(req);
        return;
    }
    cl->dbauth_req = NULL;
    if (res->ok && pgr_cluster_set_user_password(c, cl->user, req->password) == 0) {
        verdict = pgr_auth_verified(&cl->auth, NULL, NULL, &out);
    } else if (res->ok) {
        verdict = pgr_auth_verified(&cl->auth, "53200", "out of memory", &out);
    } else {
        char msg[512];
        const char *sqlstate = pgr_client_node_fatal(res->message, msg, sizeof(msg));
        pgr_debug("dbauth", "client %llu: node %s refused the login of user \"%s\": %s",
                  (unsigned long long)cl->id, res->node_id, cl->user, msg);
        verdict = pgr_auth_verified(&cl->auth, sqlstate, msg, &out);
    }
    req_free(req);
    pgr_client_auth_result(cl, verdict, &out);
}

int
pgr_dbauth_verify(pgr_client_t *cl)
{
    const char *pw = pgr_auth_cleartext(&cl->auth);
    pgr_auth_out_t out;
    char msg[256];
    int rc;

    pgr_assert(pw != NULL && cl->dbauth_req == NULL);
    if (pgr_login_node(cl, msg, sizeof(msg)) != 0) {
        rc = pgr_auth_verified(&cl->auth, "08006", msg, &out);
        pgr_client_auth_result(cl, rc, &out);
        return 0;
    }
    req_t *req = req_new(cl);
    if (req == NULL || !(req->password = strdup(pw))) {
        free(req);
        return PGR_ENOMEM;
    }
    rc = pgr_cluster_check_login(cl->rt->cluster, cl->node_id, cl->user, login_dbname(cl), pw,
                                 cl->rt->cfg->pool.connect_timeout_ms, verified_cb, req);
    if (rc != 0) {
        req_free(req);
        return rc;
    }
    cl->dbauth_req = req;
    return 0;
}

/* ---- auth.query -------------------------------------------------------------------------- */

/* Start the client's exchange against secret (a SCRAM verifier or an md5 hash as pg_authid
 * keeps them; NULL: the user has none or does not exist, and the exchange fails as for an
 * unknown user). */
static void
begin_with(pgr_client_t *cl, const char *secret)
{
    pgr_user_config_t u = { .name = cl->user };
    if (secret != NULL && strncmp(secret, "SCRAM-SHA-256$", 14) == 0)
        u.scram_verifier = (char *)secret;
    else if (secret != NULL)
        u.md5 = (char *)secret;
    pgr_client_auth_begin(cl, secret != NULL ? &u : NULL);
}

static void
looked_up_cb(pgr_cluster_t *c, const pgr_result_t *res, void *arg)
{
    req_t *req = arg;
    pgr_client_t *cl = req->cl;

    (void)c;
    req_free(req);
    if (cl == NULL || cl->state == PGR_CLIENT_CLOSING)
        return;
    cl->dbauth_req = NULL;
    if (!res->ok || res->n_fields < 2 || res->n_rows > 1) {
        if (!res->ok)
            pgr_warn("dbauth", "auth.query on node %s as %s failed: %s %s", res->node_id,
                     cl->rt->cfg->auth.query_user, res->sqlstate, res->message);
        else
            pgr_warn("dbauth", "auth.query on node %s returned %d row(s) of %d column(s); "
                     "expected at most one row of (name, secret)", res->node_id, res->n_rows,
                     res->n_fields);
        pgr_client_send_error(cl, "FATAL", "28000", NULL,
                              "could not look up user \"%s\": auth.query failed (see pgrouter's "
                              "log)", cl->user);
        return;
    }
    const char *secret = pgr_result_value(res, 0, 1); /* no row, or SQL NULL: no secret */
    if (secret != NULL && secret[0] == '\0')
        secret = NULL;
    if (secret != NULL)
        remember(cl->rt, cl->user, secret);
    begin_with(cl, secret);
}

int
pgr_dbauth_lookup(pgr_client_t *cl)
{
    const pgr_config_t *cfg = cl->rt->cfg;
    const char *params[1] = { cl->user };
    char msg[256];
    int rc;

    pgr_assert(cl->dbauth_req == NULL);
    const char *secret = cached(cl->rt, cl->user);
    if (secret != NULL) {
        begin_with(cl, secret);
        return 0;
    }
    if (pgr_login_node(cl, msg, sizeof(msg)) != 0) {
        pgr_client_send_error(cl, "FATAL", "08006", NULL, "%s", msg);
        return 0;
    }
    req_t *req = req_new(cl);
    if (req == NULL)
        return PGR_ENOMEM;
    rc = pgr_cluster_query_as(cl->rt->cluster, cl->node_id, cfg->auth.query_user,
                              cfg->auth.query_dbname ? cfg->auth.query_dbname : login_dbname(cl),
                              cfg->auth.query_password, cfg->auth.query, 1, params,
                              cfg->pool.connect_timeout_ms + cfg->pool.acquire_timeout_ms,
                              looked_up_cb, req);
    if (rc != 0) {
        req_free(req);
        return rc;
    }
    cl->dbauth_req = req;
    return 0;
}

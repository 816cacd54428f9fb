/* session/dbauth: clients whose users are kept in the database, not in auth.users.
 *
 *   passthrough  the client's cleartext password is checked by a login to a node as that user
 *                (a new connection each time, never a pooled one: a changed password counts at
 *                the next login); once accepted it becomes the user's password for its server
 *                connections (pgr_cluster_set_user_password), in memory only.
 *   auth.query   an auth user runs auth.query ($1: the user name, sent as a parameter) on a
 *                node; the row's second column is the SCRAM verifier or md5 hash the exchange
 *                checks the client against. Found secrets are cached for auth.query_cache_ttl;
 *                a failed login forgets the user's entry.
 *
 * Both run on the loop and never block it (libpq's async connect and query through the cluster
 * library). A request belongs to its client; a client that goes away first is detached (the
 * request finishes and is dropped). No password or secret is ever logged. */
#ifndef PGR_SESSION_DBAUTH_H
#define PGR_SESSION_DBAUTH_H

#include "core/base.h"
#include "core/runtime.h"

struct pgr_client;
struct pgr_dbauth;

/* The auth.query cache, one per runtime (rt->dbauth). new: NULL when out of memory. */
struct pgr_dbauth *pgr_dbauth_new(void);
void pgr_dbauth_free(struct pgr_dbauth *d);

/* The client's exchange is in state VERIFY: check its cleartext password by a login to the
 * node the client would log in to. Later pgr_client_auth_result() gets the verdict (the node's
 * own SQLSTATE and message on a refusal). 0, or a PGR_E* code (nothing started; the caller
 * ends the session). */
int pgr_dbauth_verify(struct pgr_client *cl) PGR_MUSTCHECK;

/* Find the secret of the client's user with auth.query (or in the cache), then start its
 * exchange with pgr_client_auth_begin() — at once on a cache hit, else when the query answers.
 * 0, or a PGR_E* code (nothing started). */
int pgr_dbauth_lookup(struct pgr_client *cl) PGR_MUSTCHECK;

/* Forget every cached secret (a reload). d may be NULL. */
void pgr_dbauth_clear(struct pgr_dbauth *d);

/* The client's login failed: its cached secret (if it came from the cache) is dropped. */
void pgr_dbauth_forget(pgr_runtime_t *rt, const char *user);

/* The client is going away: its request, if any, will finish without it. */
void pgr_dbauth_detach(struct pgr_client *cl);

#endif

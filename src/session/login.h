/* session/login: a client's login once it is authenticated, and the sessions that wait for a
 * node's first health result.
 *
 * A login borrows a server connection of the node the router picks, to surface the node's own
 * FATAL errors (an unknown database) and to learn the server's settings (ParameterStatus).
 * When the only nodes that could serve are still `connecting` (no health result yet, right
 * after start or ADD NODE), the login — and a statement, through the dispatcher — waits for
 * that result, up to pool.connect_timeout, instead of failing with "no healthy primary".
 *
 * When no node can be reached (every one unhealthy, or the connection refused), the login is
 * answered here, since the client was authenticated here: the settings a login to that database
 * reported last (kept as cluster notes, see PGR_NOTE_PARAM), else what the nodes' health
 * connections reported, else nothing; the ones not told (is_superuser, in_hot_standby, ...)
 * are told as ParameterStatus when the session first lands on a server connection. Each
 * statement then fails at once with 08006 naming the nodes, and the same session works again
 * once a node is back (as PgDog answers a login from the settings it cached). */
#ifndef PGR_SESSION_LOGIN_H
#define PGR_SESSION_LOGIN_H

#include "session/client.h"

/* Pick the node a login borrows a connection from (the primary; in transaction mode any healthy
 * node when there is none). 0, or an error with msg. */
int pgr_login_node(pgr_client_t *cl, char *msg, size_t cap);
/* The session is authenticated (state LOGIN): log it in, on a server or without one. */
void pgr_login_begin(pgr_client_t *cl);

/* The route just taken failed, but a node that could take it has no health result yet (its
 * pgr_route_t says pending). True: the session waits — it is resumed (its input dispatched
 * again, or its login retried) when a node's health changes or pool.connect_timeout has passed
 * since the wait began, and the caller must leave the input as it is. False: the wait is over
 * (timed out); the caller reports the error. */
bool pgr_login_await(pgr_client_t *cl);

/* A CancelRequest for a session whose statement waits: it ends with 57014, as a canceled
 * statement does. False when the session is not waiting (the relay cancels what runs). */
bool pgr_login_cancel(pgr_client_t *cl);


/* Resume waiting sessions whenever a node's health changes (or a node comes or goes). */
int pgr_login_events_start(pgr_runtime_t *rt);

#endif

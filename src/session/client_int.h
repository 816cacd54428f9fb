/* Inside the client module, shared by its four files and by no other module: client.c (the
 * state machine, output, accept, conn callbacks, close), client_startup.c (the startup packets,
 * TLS, hba), client_auth.c (the client's side of authentication, then the login) and
 * client_admin.c (an admin-console session). Other modules use session/client.h. */
#ifndef PGR_SESSION_CLIENT_INT_H
#define PGR_SESSION_CLIENT_INT_H

#include "session/client.h"

/* STARTUP's input handler (client_startup.c), for client.c's state table. */
void pgr_client_startup_input(pgr_client_t *cl);

/* AUTH's input handler (client_auth.c), for client.c's state table. */
void pgr_client_auth_input(pgr_client_t *cl);
/* Start authenticating with method (auth.method, or what the hba line says), the session
 * having just moved to AUTH (client_auth.c, for client_startup.c). */
void pgr_client_auth_start(pgr_client_t *cl, pgr_auth_method_t method);

/* May this user use the admin console (client_admin.c, for client_startup.c's reserved slots)? */
bool pgr_client_admin_allowed(const pgr_client_t *cl);
/* An authenticated admin-console session logs in (client_admin.c, for client_auth.c). */
void pgr_client_admin_login(pgr_client_t *cl);
/* An IDLE admin-console session's input, and its drained output (client_admin.c, for client.c's
 * IDLE handlers). */
void pgr_client_admin_input(pgr_client_t *cl);
void pgr_client_admin_deliver(pgr_client_t *cl);

#endif

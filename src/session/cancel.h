/* Cancel keys: every session gets a random (pid, key) pair from the CSPRNG at login — never a
 * backend's — and a CancelRequest that names it is forwarded only to the backend running that
 * session's statement, through the pool's non-blocking cancel path. A request with a wrong key,
 * or for a session with nothing running, cancels nothing. */
#ifndef PGR_SESSION_CANCEL_H
#define PGR_SESSION_CANCEL_H

#include "core/runtime.h"

struct pgr_client;

/* Give cl a fresh random (pid, key) and index it. PGR_ENOMEM or PGR_EIO on failure. */
int pgr_cancel_register(pgr_runtime_t *rt, struct pgr_client *cl) PGR_MUSTCHECK;
void pgr_cancel_unregister(pgr_runtime_t *rt, struct pgr_client *cl);
/* A CancelRequest arrived: forward it if (pid, key) names a session with a statement running. */
void pgr_cancel_request(pgr_runtime_t *rt, int32_t pid, int32_t key);
void pgr_cancel_map_free(pgr_runtime_t *rt);

#endif

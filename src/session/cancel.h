/* Cancel keys: every session gets a random (pid, key) pair from the CSPRNG at login — never a
 * backend's — and a CancelRequest that names it is forwarded only to the backend running that
 * session's statement, through the pool's non-blocking cancel path. A request with a wrong key,
 * or for a session with nothing running, cancels nothing.
 *
 * Several instances (processes sharing a port with listen.reuseport, or behind a balancer) tell
 * their keys apart by the instance id in the pid:
 *
 *   pid  bit 31      30          29 .. 10          9 .. 0      key  31 .. 0
 *        0 (> 0)     forwarded   random (20 bits)  instance         random (32 bits)
 *
 * 52 random bits in all (PgBouncer keeps 48). A request naming another instance is sent on,
 * once, to that instance's peers entry with the forwarded bit set; an instance never forwards a
 * request that has the bit, so a disagreement between configs cannot make a loop. Sessions'
 * pids never have it: it is cleared before the lookup. Without peers every request is looked
 * up here (a single instance). */
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
/* Abort the requests on their way to peers (shutdown); their handles close on the loop. */
void pgr_cancel_peers_abort(pgr_runtime_t *rt);

/* How long a request to a peer may take to connect and be taken. */
#define PGR_CANCEL_PEER_TIMEOUT_MS 2000
/* At most this many in flight; beyond, a request for a peer fails at once (counted), so a flood
 * of cancels naming a slow peer cannot hold a descriptor each. */
#define PGR_CANCEL_PEER_MAX 1024
#define PGR_CANCEL_FORWARDED 0x40000000u
#define PGR_CANCEL_RANDOM_MASK 0x3ffffc00u
/* The instance id a cancel pid names. */
static inline int
pgr_cancel_pid_instance(int32_t pid)
{
    return (int)((uint32_t)pid & PGR_INSTANCE_MAX);
}
/* A pid for instance from 31 random bits; 0 when they give none (draw again). */
static inline int32_t
pgr_cancel_pid_make(uint32_t random, int instance)
{
    return (int32_t)((random & PGR_CANCEL_RANDOM_MASK) | ((uint32_t)instance & PGR_INSTANCE_MAX));
}

#endif

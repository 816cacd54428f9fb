/* Non-blocking query cancel: a CancelRequest (16 bytes: length 16, code 80877102, backend pid,
 * cancel key) sent over a new libuv TCP or Unix socket to the node, bounded by a timer. libpq 15's
 * PQcancel blocks (and would pin a thread-pool thread on a hung node), so this is ours. The key
 * comes from the BackendKeyData that server.c captures while connecting.
 *
 * Requests live on a list owned by the caller (the cluster) so shutdown can abort them all. */
#ifndef PGR_BACKEND_CANCEL_H
#define PGR_BACKEND_CANCEL_H

#include <uv.h>

#include "core/base.h"
#include "pgrouter/cluster.h"
#include "core/list.h"

/* Connect to host (numeric IPv4/IPv6 address, or a Unix socket directory starting with '/') and
 * port, send the request, wait for the node to close. cb (may be NULL) runs once: 0, or
 * PGR_ECONNECT, PGR_ETIMEDOUT (after timeout_ms), PGR_ESHUTDOWN (aborted). */
int pgr_cancel_send(uv_loop_t *loop, pgr_list_t *set, const char *host, int port, uint32_t pid,
                    uint32_t key, int64_t timeout_ms, pgr_cancel_cb cb, void *arg) PGR_MUSTCHECK;

/* Abort every request on set (their callbacks get PGR_ESHUTDOWN); they unlink themselves once
 * their handles are closed, so the caller waits for the list to become empty. */
void pgr_cancel_abort_all(pgr_list_t *set);

/* The 16-byte CancelRequest packet (pure; exported for unit tests). */
void pgr_cancel_packet(unsigned char out[16], uint32_t pid, uint32_t key);

#endif

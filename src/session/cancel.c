/* The cancel-key index: an open-addressing hash table from a session's random pid to the
 * session, grown at 50 % load. Keys are compared in constant time. Requests for another
 * instance go on to its peers entry (see cancel.h). */
#include <string.h>

#include "backend/cancel.h"
#include "core/log.h"
#include "net/tls.h"
#include "session/auth.h"
#include "session/cancel.h"
#include "session/client.h"

struct pgr_cancel_map {
    pgr_client_t **slots; /* NULL: empty; TOMBSTONE: deleted */
    size_t cap, used, live;
};

static pgr_client_t tombstone_obj;
#define TOMBSTONE (&tombstone_obj)

static size_t
slot_of(uint32_t pid, size_t cap)
{
    uint32_t h = pid * 2654435761u;
    return (size_t)h & (cap - 1);
}

static int
grow(struct pgr_cancel_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    pgr_client_t **ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL)
        return PGR_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        pgr_client_t *cl = m->slots[i];
        if (cl == NULL || cl == TOMBSTONE)
            continue;
        size_t j = slot_of((uint32_t)cl->cancel_pid, ncap);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = cl;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->live;
    return 0;
}

static pgr_client_t **
find(struct pgr_cancel_map *m, int32_t pid)
{
    if (m == NULL || m->cap == 0)
        return NULL;
    for (size_t j = slot_of((uint32_t)pid, m->cap), n = 0; n < m->cap;
         j = (j + 1) & (m->cap - 1), n++) {
        if (m->slots[j] == NULL)
            return NULL;
        if (m->slots[j] != TOMBSTONE && m->slots[j]->cancel_pid == pid)
            return &m->slots[j];
    }
    return NULL;
}

int
pgr_cancel_register(pgr_runtime_t *rt, pgr_client_t *cl)
{
    struct pgr_cancel_map *m = rt->cancels;
    int32_t pid, key;
    int rc;

    if (m == NULL) {
        if ((m = calloc(1, sizeof(*m))) == NULL)
            return PGR_ENOMEM;
        rt->cancels = m;
    }
    if ((m->used + 1) * 2 > m->cap && (rc = grow(m)) != 0)
        return rc;
    do {
        if ((rc = pgr_auth_new_cancel_key(&pid, &key)) != 0)
            return rc;
        pid = pgr_cancel_pid_make((uint32_t)pid, rt->cfg->instance.id);
    } while (pid == 0 || find(m, pid) != NULL);
    cl->cancel_pid = pid;
    cl->cancel_key = key;
    size_t j = slot_of((uint32_t)cl->cancel_pid, m->cap);
    while (m->slots[j] && m->slots[j] != TOMBSTONE)
        j = (j + 1) & (m->cap - 1);
    if (m->slots[j] == NULL)
        m->used++;
    m->slots[j] = cl;
    m->live++;
    return 0;
}

void
pgr_cancel_unregister(pgr_runtime_t *rt, pgr_client_t *cl)
{
    pgr_client_t **slot = find(rt->cancels, cl->cancel_pid);

    if (slot && *slot == cl) {
        *slot = TOMBSTONE;
        rt->cancels->live--;
    }
    cl->cancel_pid = 0;
}

/* A peer has the request, or could not be reached in time. */
static void
peer_done_cb(int status, void *arg)
{
    pgr_runtime_t *rt = arg;

    if (status == 0 || status == PGR_ESHUTDOWN)
        return;
    rt->stats.cancels_peer_failed++;
    pgr_warn_rl("cancel", "cancel request not delivered to a peer: %s", pgr_strerror(status));
}

/* pgr_cancel_send's callback: one fewer in flight. */
static void
peer_sent_cb(int status, void *arg)
{
    pgr_runtime_t *rt = arg;

    pgr_assert(rt->n_peer_cancels > 0);
    rt->n_peer_cancels--;
    peer_done_cb(status, rt);
}

/* Send the request to the instance it names, marked forwarded; never waits. */
static void
to_peer(pgr_runtime_t *rt, int instance, int32_t pid, int32_t key)
{
    const pgr_peer_config_t *peer = pgr_config_find_peer(rt->cfg, instance);
    int rc;

    if (peer == NULL) {
        rt->stats.cancels_unknown_instance++;
        pgr_info_rl("cancel", "cancel request for instance %d, neither this one (%d) nor a peer, "
                    "dropped", instance, rt->cfg->instance.id);
        return;
    }
    rt->stats.cancels_to_peers++;
    if (rt->n_peer_cancels >= PGR_CANCEL_PEER_MAX) {
        rt->stats.cancels_peer_failed++;
        pgr_warn_rl("cancel", "cancel request for instance %d dropped: %d already on their way "
                    "to peers", instance, PGR_CANCEL_PEER_MAX);
        return;
    }
    if (rt->peer_cancels.next == NULL)
        pgr_list_init(&rt->peer_cancels);
    rc = pgr_cancel_send(rt->loop, &rt->peer_cancels, peer->host, peer->port,
                         (uint32_t)pid | PGR_CANCEL_FORWARDED, (uint32_t)key,
                         PGR_CANCEL_PEER_TIMEOUT_MS, peer_sent_cb, rt);
    if (rc != 0)
        peer_done_cb(rc, rt); /* failed without calling back */
    else
        rt->n_peer_cancels++;
}

void
pgr_cancel_request(pgr_runtime_t *rt, int32_t pid, int32_t key)
{
    int instance = pgr_cancel_pid_instance(pid);
    bool forwarded = ((uint32_t)pid & PGR_CANCEL_FORWARDED) != 0;
    pgr_client_t **slot;

    pid = (int32_t)((uint32_t)pid & ~PGR_CANCEL_FORWARDED);
    /* Without peers this instance is alone: whatever the key says, only a session here can be
     * meant, and a miss is an unknown session as before. */
    if (instance != rt->cfg->instance.id && rt->cfg->n_peers > 0) {
        if (!forwarded) {
            to_peer(rt, instance, pid, key);
            return;
        }
        /* A peer thinks instance lives here: the peers lists disagree. Never sent on again. */
        rt->stats.cancels_unknown_instance++;
        pgr_info_rl("cancel", "cancel request forwarded by a peer for instance %d, but this is "
                    "instance %d: dropped (do the peers lists agree?)", instance,
                    rt->cfg->instance.id);
        return;
    }
    slot = find(rt->cancels, pid);

    if (slot == NULL || !pgr_crypto_memeq(&(*slot)->cancel_key, &key, sizeof(key))) {
        rt->stats.cancels_ignored++;
        pgr_info_rl("cancel", "cancel request for unknown session or wrong key ignored");
        return;
    }
    pgr_client_cancel(*slot);
}

void
pgr_cancel_peers_abort(pgr_runtime_t *rt)
{
    if (rt->peer_cancels.next != NULL)
        pgr_cancel_abort_all(&rt->peer_cancels);
}

void
pgr_cancel_map_free(pgr_runtime_t *rt)
{
    if (rt->cancels) {
        free(rt->cancels->slots);
        free(rt->cancels);
        rt->cancels = NULL;
    }
}

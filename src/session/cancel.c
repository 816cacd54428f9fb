/* The cancel-key index: an open-addressing hash table from a session's random pid to the
 * session, grown at 50 % load. Keys are compared in constant time. */
#include <string.h>

#include "core/log.h"
#include "net/tls.h"
#include "session/auth.h"
#include "session/cancel.h"
#include "session/client.h"
#include "session/login.h"
#include "session/relay.h"

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
    } while (find(m, pid) != NULL);
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

void
pgr_cancel_request(pgr_runtime_t *rt, int32_t pid, int32_t key)
{
    pgr_client_t **slot = find(rt->cancels, pid);

    if (slot == NULL || !pgr_crypto_memeq(&(*slot)->cancel_key, &key, sizeof(key))) {
        rt->stats.cancels_ignored++;
        pgr_info_rl("cancel", "cancel request for unknown session or wrong key ignored");
        return;
    }
    if (!pgr_login_cancel(*slot))
        pgr_relay_cancel(*slot);
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

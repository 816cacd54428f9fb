/* See u64map.h. */
#include <stdlib.h>
#include <string.h>

#include "core/u64map.h"

static size_t
slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 30; /* splitmix64's finalizer: sequential keys spread */
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & (cap - 1);
}

static int
grow(pgr_u64map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    uint64_t *keys = malloc(cap * sizeof(*keys));
    uint32_t *vals = malloc(cap * sizeof(*vals));

    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return PGR_ENOMEM;
    }
    memset(vals, 0xff, cap * sizeof(*vals));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->vals[i] == PGR_U64MAP_EMPTY)
            continue;
        size_t j = slot_of(m->keys[i], cap);
        while (vals[j] != PGR_U64MAP_EMPTY)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int
pgr_u64map_put(pgr_u64map_t *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
        return PGR_ENOMEM;
    size_t i = slot_of(key, m->cap);
    while (m->vals[i] != PGR_U64MAP_EMPTY && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->vals[i] == PGR_U64MAP_EMPTY)
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

static size_t
find(const pgr_u64map_t *m, uint64_t key)
{
    if (m->cap == 0)
        return SIZE_MAX;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == PGR_U64MAP_EMPTY)
            return SIZE_MAX;
        if (m->keys[i] == key)
            return i;
    }
}

uint32_t
pgr_u64map_get(const pgr_u64map_t *m, uint64_t key)
{
    size_t i = find(m, key);
    return i == SIZE_MAX ? PGR_U64MAP_EMPTY : m->vals[i];
}

bool
pgr_u64map_del(pgr_u64map_t *m, uint64_t key)
{
    size_t i = find(m, key), mask = m->cap - 1;

    if (i == SIZE_MAX)
        return false;
    /* Backward shift: move later entries of the run into the hole when their home slot is not
     * between the hole and them. */
    for (size_t j = (i + 1) & mask; m->vals[j] != PGR_U64MAP_EMPTY; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->vals[i] = PGR_U64MAP_EMPTY;
    m->n--;
    return true;
}

void
pgr_u64map_clear(pgr_u64map_t *m)
{
    if (m->cap)
        memset(m->vals, 0xff, m->cap * sizeof(*m->vals));
    m->n = 0;
}

void
pgr_u64map_free(pgr_u64map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

uint64_t
pgr_u64map_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

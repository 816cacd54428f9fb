/* The classifier's bounded LRU (see qcache.h): chained hash buckets that double as the cache
 * fills, one doubly linked recency list, an entry cap and a byte budget. */
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "route/qcache.h"

typedef struct entry {
    struct entry *hnext;        /* bucket chain */
    struct entry *newer, *older; /* recency list; the cache's head is the newest */
    uint64_t hash;
    size_t klen;
    size_t vsize;
    size_t size;                /* the whole allocation, counted in bytes */
    max_align_t value[];        /* vsize bytes, then the key */
} entry_t;

struct pgr_qcache {
    entry_t **buckets;
    size_t nbuckets;            /* a power of two */
    entry_t *newest, *oldest;
    size_t entries, bytes;
    size_t max_entries, max_bytes;
    uint64_t seed;
    uint64_t hits, misses, evictions;
};

#define MIN_BUCKETS 64
/* An entry this small is always kept when it fits the budget at all. */
#define SMALL_ENTRY (16 * 1024)

int
pgr_qcache_new(size_t max_entries, size_t max_bytes, pgr_qcache_t **out)
{
    pgr_qcache_t *q = calloc(1, sizeof(*q));
    *out = NULL;
    if (q == NULL)
        return PGR_ENOMEM;
    q->nbuckets = MIN_BUCKETS;
    q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
    if (q->buckets == NULL) {
        free(q);
        return PGR_ENOMEM;
    }
    q->max_entries = max_entries;
    q->max_bytes = max_bytes;
    if (getrandom(&q->seed, sizeof(q->seed), GRND_NONBLOCK) != (ssize_t)sizeof(q->seed))
        q->seed = (uint64_t)(uintptr_t)q ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    *out = q;
    return 0;
}

void
pgr_qcache_free(pgr_qcache_t *q)
{
    if (q == NULL)
        return;
    for (entry_t *e = q->newest, *next; e != NULL; e = next) {
        next = e->older;
        free(e);
    }
    free(q->buckets);
    free(q);
}

/* 64x64 -> 128 multiply, folded: the mixing step of the hash. */
static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t
load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

uint64_t
pgr_qcache_hash(const pgr_qcache_t *q, const void *key, size_t klen)
{
    static const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                          k2 = 0x8ebc6af09c88c6e3ull;
    const unsigned char *p = key;
    size_t n = klen;
    uint64_t h = q->seed ^ fold_mul(klen ^ k0, k1);
    while (n >= 16) {
        h = fold_mul(load64(p) ^ k1 ^ h, load64(p + 8) ^ k2);
        p += 16;
        n -= 16;
    }
    unsigned char tail[16] = {0};
    memcpy(tail, p, n);
    h = fold_mul(load64(tail) ^ k1 ^ h, load64(tail + 8) ^ k2 ^ n);
    return fold_mul(h ^ k0, k2 ^ klen);
}

static inline const unsigned char *
entry_key(const entry_t *e)
{
    return (const unsigned char *)e->value + e->vsize;
}

static void
lru_unlink(pgr_qcache_t *q, entry_t *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        q->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        q->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void
lru_push_newest(pgr_qcache_t *q, entry_t *e)
{
    e->newer = NULL;
    e->older = q->newest;
    if (q->newest)
        q->newest->newer = e;
    else
        q->oldest = e;
    q->newest = e;
}

static void
evict_oldest(pgr_qcache_t *q)
{
    entry_t *e = q->oldest;
    pgr_assert(e != NULL);
    entry_t **pp = &q->buckets[e->hash & (q->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(q, e);
    q->entries--;
    q->bytes -= e->size;
    q->evictions++;
    free(e);
}

/* Double the bucket array when entries outnumber buckets. Failing to grow only lengthens the
 * chains, so an allocation failure here is not an error. */
static void
maybe_grow(pgr_qcache_t *q)
{
    if (q->entries <= q->nbuckets)
        return;
    size_t nb = q->nbuckets * 2;
    entry_t **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return;
    for (size_t i = 0; i < q->nbuckets; i++) {
        for (entry_t *e = q->buckets[i], *next; e != NULL; e = next) {
            next = e->hnext;
            entry_t **slot = &b[e->hash & (nb - 1)];
            e->hnext = *slot;
            *slot = e;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = nb;
}

void
pgr_qcache_set_max_bytes(pgr_qcache_t *q, size_t max_bytes)
{
    q->max_bytes = max_bytes;
    while (q->bytes > q->max_bytes)
        evict_oldest(q);
}

void *
pgr_qcache_peek(pgr_qcache_t *q, const void *key, size_t klen, uint64_t hash)
{
    for (entry_t *e = q->buckets[hash & (q->nbuckets - 1)]; e != NULL; e = e->hnext) {
        if (e->hash == hash && e->klen == klen && memcmp(entry_key(e), key, klen) == 0) {
            if (q->newest != e) {
                lru_unlink(q, e);
                lru_push_newest(q, e);
            }
            return e->value;
        }
    }
    return NULL;
}

void
pgr_qcache_count(pgr_qcache_t *q, bool hit)
{
    if (hit)
        q->hits++;
    else
        q->misses++;
}

void *
pgr_qcache_get(pgr_qcache_t *q, const void *key, size_t klen, uint64_t hash)
{
    void *v = pgr_qcache_peek(q, key, klen, hash);
    pgr_qcache_count(q, v != NULL);
    return v;
}

void *
pgr_qcache_put(pgr_qcache_t *q, const void *key, size_t klen, uint64_t hash, size_t vsize)
{
    const size_t align = _Alignof(max_align_t);
    vsize = (vsize + align - 1) & ~(align - 1);
    if (q->max_entries == 0 || klen > q->max_bytes || vsize > q->max_bytes)
        return NULL;
    size_t size = sizeof(entry_t) + vsize + klen;
    if (size > q->max_bytes || (size > SMALL_ENTRY && size > q->max_bytes / 8))
        return NULL;
    while (q->entries > 0 && (q->entries >= q->max_entries || q->bytes + size > q->max_bytes))
        evict_oldest(q);
    entry_t *e = malloc(size);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e) + vsize);
    e->hash = hash;
    e->klen = klen;
    e->vsize = vsize;
    e->size = size;
    memcpy((unsigned char *)e->value + vsize, key, klen);
    entry_t **slot = &q->buckets[hash & (q->nbuckets - 1)];
    e->hnext = *slot;
    *slot = e;
    lru_push_newest(q, e);
    q->entries++;
    q->bytes += size;
    maybe_grow(q);
    return e->value;
}

void
pgr_qcache_stats(const pgr_qcache_t *q, pgr_qcache_stats_t *st)
{
    st->hits = q->hits;
    st->misses = q->misses;
    st->evictions = q->evictions;
    st->entries = q->entries;
    st->bytes = q->bytes;
    st->max_entries = q->max_entries;
    st->max_bytes = q->max_bytes;
}

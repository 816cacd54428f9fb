/* A bounded LRU map from a byte string (a query's text, or its shape: route/sqlscan.h) to a
 * value, with both an entry cap and a byte budget. The classifier's cache; knows nothing of SQL.
 *
 * Each entry is one allocation:
 *
 *   +-------------------+--------------------------+------------------+
 *   | entry header      | value (vsize bytes,      | key (klen bytes) |
 *   | (hash, lru links) |  max_align_t aligned)    |                  |
 *   +-------------------+--------------------------+------------------+
 *
 * and its "bytes" are that allocation's size. Keys are compared in full (hash, length, memcmp);
 * the hash is seeded per cache, so clients cannot aim collisions at one bucket. */
#ifndef PGR_ROUTE_QCACHE_H
#define PGR_ROUTE_QCACHE_H

#include "core/base.h"

typedef struct pgr_qcache pgr_qcache_t;

typedef struct pgr_qcache_stats {
    uint64_t hits, misses, evictions;
    size_t entries, bytes, max_entries, max_bytes;
} pgr_qcache_stats_t;

/* A cache of at most max_entries entries and max_bytes bytes. max_entries 0 makes a cache that
 * keeps nothing (every get misses, put returns NULL). Returns 0 or PGR_ENOMEM. */
int pgr_qcache_new(size_t max_entries, size_t max_bytes, pgr_qcache_t **out) PGR_MUSTCHECK;
/* Frees every entry and the cache. NULL is a no-op. */
void pgr_qcache_free(pgr_qcache_t *q);
/* New byte budget; evicts least recently used entries at once until it fits. */
void pgr_qcache_set_max_bytes(pgr_qcache_t *q, size_t max_bytes);

/* The hash of key[0..klen) under this cache's seed (pass it to get and put). */
uint64_t pgr_qcache_hash(const pgr_qcache_t *q, const void *key, size_t klen);

/* The value stored for the key, made most recently used, or NULL (a miss). Counts the hit or
 * miss. The pointer stays valid until the next put, set_max_bytes or free. */
void *pgr_qcache_get(pgr_qcache_t *q, const void *key, size_t klen, uint64_t hash);
/* The same without counting a hit or a miss: for a caller that tries more than one key for
 * one request and counts the outcome itself with pgr_qcache_count. */
void *pgr_qcache_peek(pgr_qcache_t *q, const void *key, size_t klen, uint64_t hash);
void pgr_qcache_count(pgr_qcache_t *q, bool hit);

/* Insert the key (which must not be present) with vsize bytes of zeroed value storage, evicting
 * least recently used entries to make room, and return that storage (aligned for any type) for
 * the caller to fill. NULL when the entry alone would take more than the byte budget, or more
 * than 16 KiB and an eighth of the budget, when max_entries is 0, or when out of memory; the
 * cache is then unchanged except for evictions. The pointer stays valid until the next put, set_max_bytes or free. */
void *pgr_qcache_put(pgr_qcache_t *q, const void *key, size_t klen, uint64_t hash,
                     size_t vsize);

void pgr_qcache_stats(const pgr_qcache_t *q, pgr_qcache_stats_t *st);

#endif

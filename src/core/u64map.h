/* A hash map from 64-bit keys to 32-bit values: open addressing with linear probing and
 * backward-shift deletion (no tombstones), grown at half full. Lookups cost the same with ten
 * entries or a million. Used for prepared statements (by name hash, by pgrouter's key). */
#ifndef PGR_CORE_U64MAP_H
#define PGR_CORE_U64MAP_H

#include "core/base.h"

typedef struct pgr_u64map {
    uint64_t *keys;
    uint32_t *vals; /* PGR_U64MAP_EMPTY marks a free slot */
    size_t cap;     /* a power of two, or 0 */
    size_t n;
} pgr_u64map_t;

#define PGR_U64MAP_EMPTY UINT32_MAX

/* Insert or replace. val must not be PGR_U64MAP_EMPTY. 0 or PGR_ENOMEM (the map unchanged). */
int pgr_u64map_put(pgr_u64map_t *m, uint64_t key, uint32_t val);
/* The value of key, or PGR_U64MAP_EMPTY. */
uint32_t pgr_u64map_get(const pgr_u64map_t *m, uint64_t key);
/* Remove key; false when it was not there. */
bool pgr_u64map_del(pgr_u64map_t *m, uint64_t key);
void pgr_u64map_clear(pgr_u64map_t *m);
void pgr_u64map_free(pgr_u64map_t *m);

/* FNV-1a of a string, for keying by name. */
uint64_t pgr_u64map_hash_str(const char *s);

#endif

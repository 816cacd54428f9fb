/* core/u64map: put/get/del against a plain array as the reference, through growth and
 * backward-shift deletion, with sequential and random keys. */
#include "core/u64map.h"
#include "../harness.h"

#define N 20000

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

TEST(matches_a_reference_through_growth_and_deletes)
{
    static uint64_t keys[N];
    static bool present[N];
    pgr_u64map_t m = {0};
    uint64_t seed = 88172645463325252ULL;

    for (int i = 0; i < N; i++)
        keys[i] = i % 2 ? rnd(&seed) : (uint64_t)i << 32 | 7; /* random and sequential */
    for (int i = 0; i < N; i++) {
        CHECK_INT(pgr_u64map_put(&m, keys[i], (uint32_t)i), 0);
        present[i] = true;
    }
    CHECK_INT(m.n, N);
    /* Delete a pseudo-random half, then check every key. */
    for (int i = 0; i < N; i++)
        if (rnd(&seed) & 1) {
            CHECK(pgr_u64map_del(&m, keys[i]));
            CHECK(!pgr_u64map_del(&m, keys[i]));
            present[i] = false;
        }
    int bad = 0, live = 0;
    for (int i = 0; i < N; i++) {
        uint32_t v = pgr_u64map_get(&m, keys[i]);
        bad += present[i] ? v != (uint32_t)i : v != PGR_U64MAP_EMPTY;
        live += present[i];
    }
    CHECK_INT(bad, 0);
    CHECK_INT(m.n, live);
    CHECK_INT(pgr_u64map_put(&m, keys[1], 5), 0); /* replace or re-add */
    CHECK_INT(pgr_u64map_get(&m, keys[1]), 5);
    pgr_u64map_clear(&m);
    CHECK_INT(m.n, 0);
    CHECK_INT(pgr_u64map_get(&m, keys[2]), PGR_U64MAP_EMPTY);
    pgr_u64map_free(&m);
    CHECK_INT(pgr_u64map_get(&m, 1), PGR_U64MAP_EMPTY);
}

int
main(void)
{
    return RUN(matches_a_reference_through_growth_and_deletes);
}

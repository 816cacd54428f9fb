/* iobuf: lazy allocation, reserve/commit/consume, compaction before growth, the cap, trim. */
#include "net/iobuf.h"
#include "../harness.h"

TEST(lazy_and_empty)
{
    pgr_iobuf_t b;

    pgr_iobuf_init(&b, 0);
    CHECK(b.mem == NULL);
    CHECK_INT(pgr_iobuf_cap(&b), 0);
    CHECK_INT(pgr_iobuf_len(&b), 0);
    CHECK(pgr_iobuf_data(&b) == NULL);
    CHECK_INT(b.limit, PGR_IOBUF_DEFAULT_LIMIT);
    pgr_iobuf_trim(&b);
    CHECK(b.mem == NULL);
    pgr_iobuf_free(&b);
}

TEST(reserve_commit_consume)
{
    pgr_iobuf_t b;
    uint8_t *p;

    pgr_iobuf_init(&b, 0);
    p = pgr_iobuf_reserve(&b, 10);
    CHECK(p != NULL);
    CHECK_INT(pgr_iobuf_cap(&b), PGR_IOBUF_MIN_ALLOC);
    CHECK_INT(pgr_iobuf_len(&b), 0);
    memcpy(p, "hello worl", 10);
    pgr_iobuf_commit(&b, 5);
    CHECK_INT(pgr_iobuf_len(&b), 5);
    CHECK_MEM(pgr_iobuf_data(&b), "hello", 5);
    CHECK_INT(pgr_iobuf_append(&b, "!!", 2), 0);
    CHECK_MEM(pgr_iobuf_data(&b), "hello!!", 7);
    pgr_iobuf_consume(&b, 2);
    CHECK_INT(pgr_iobuf_len(&b), 5);
    CHECK_MEM(pgr_iobuf_data(&b), "llo!!", 5);
    /* Consuming everything rewinds to offset 0 without freeing. */
    pgr_iobuf_consume(&b, 5);
    CHECK_INT(b.start, 0);
    CHECK_INT(b.end, 0);
    CHECK(b.mem != NULL);
    pgr_iobuf_free(&b);
    CHECK(b.mem == NULL);
}

TEST(compacts_before_growing)
{
    pgr_iobuf_t b;
    uint8_t chunk[1000];
    uint8_t *mem_before;

    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (uint8_t)i;
    pgr_iobuf_init(&b, 0);
    for (int i = 0; i < 4; i++)
        CHECK_INT(pgr_iobuf_append(&b, chunk, sizeof(chunk)), 0);
    CHECK_INT(pgr_iobuf_cap(&b), 4096);
    pgr_iobuf_consume(&b, 3000);
    mem_before = b.mem;
    /* 1000 bytes of data, 96 free at the tail, 3000 free in front: 2000 more must compact in
     * place, not grow. */
    CHECK(pgr_iobuf_reserve(&b, 2000) != NULL);
    CHECK(b.mem == mem_before);
    CHECK_INT(pgr_iobuf_cap(&b), 4096);
    CHECK_INT(b.start, 0);
    CHECK_MEM(pgr_iobuf_data(&b), chunk, 1000);
    /* More than the whole allocation: grow (doubling), data preserved. */
    CHECK(pgr_iobuf_reserve(&b, 5000) != NULL);
    CHECK_INT(pgr_iobuf_cap(&b), 8192);
    CHECK_INT(pgr_iobuf_len(&b), 1000);
    CHECK_MEM(pgr_iobuf_data(&b), chunk, 1000);
    CHECK(pgr_iobuf_tail(&b) >= 5000);
    pgr_iobuf_free(&b);
}

TEST(cap_is_hard)
{
    pgr_iobuf_t b;
    uint8_t big[6000];

    memset(big, 'x', sizeof(big));
    pgr_iobuf_init(&b, 5000);
    CHECK_INT(pgr_iobuf_append(&b, big, 6000), PGR_ELIMIT);
    CHECK(b.mem == NULL);
    CHECK_INT(pgr_iobuf_append(&b, big, 4000), 0);
    CHECK_INT(pgr_iobuf_append(&b, big, 1000), 0);
    CHECK_INT(pgr_iobuf_len(&b), 5000);
    CHECK(pgr_iobuf_cap(&b) <= 5000);
    CHECK_INT(pgr_iobuf_append(&b, big, 1), PGR_ELIMIT);
    CHECK(pgr_iobuf_reserve(&b, 1) == NULL);
    CHECK_INT(pgr_iobuf_ensure(&b, 1), PGR_ELIMIT);
    CHECK_INT(pgr_iobuf_len(&b), 5000); /* unchanged by the failures */
    /* Consuming makes room again, by compaction. */
    pgr_iobuf_consume(&b, 100);
    CHECK_INT(pgr_iobuf_append(&b, big, 100), 0);
    CHECK_INT(pgr_iobuf_len(&b), 5000);
    /* Sizes near SIZE_MAX do not overflow the check. */
    CHECK_INT(pgr_iobuf_ensure(&b, SIZE_MAX), PGR_ELIMIT);
    pgr_iobuf_free(&b);
}

TEST(trim_frees_and_shrinks)
{
    pgr_iobuf_t b;
    static uint8_t big[200000];

    memset(big, 'y', sizeof(big));
    pgr_iobuf_init(&b, 0);
    CHECK_INT(pgr_iobuf_append(&b, big, sizeof(big)), 0);
    CHECK(pgr_iobuf_cap(&b) >= sizeof(big));
    /* Mostly full: trim keeps it. */
    pgr_iobuf_trim(&b);
    CHECK(pgr_iobuf_cap(&b) >= sizeof(big));
    /* 100 bytes left in a 256 KiB block: trim moves them to a small block. */
    pgr_iobuf_consume(&b, sizeof(big) - 100);
    pgr_iobuf_trim(&b);
    CHECK_INT(pgr_iobuf_cap(&b), PGR_IOBUF_MIN_ALLOC);
    CHECK_INT(pgr_iobuf_len(&b), 100);
    CHECK_MEM(pgr_iobuf_data(&b), big, 100);
    /* Empty: trim frees everything, and the buffer works again afterwards. */
    pgr_iobuf_consume(&b, 100);
    pgr_iobuf_trim(&b);
    CHECK(b.mem == NULL);
    CHECK_INT(pgr_iobuf_cap(&b), 0);
    CHECK_INT(pgr_iobuf_append(&b, "z", 1), 0);
    CHECK_MEM(pgr_iobuf_data(&b), "z", 1);
    pgr_iobuf_free(&b);
}

int
main(void)
{
    return RUN(lazy_and_empty, reserve_commit_consume, compacts_before_growing, cap_is_hard,
               trim_frees_and_shrinks);
}

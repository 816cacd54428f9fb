/* CommandComplete tags: parse, sum, format. */
#include "protocol/tag.h"
#include "pgrouter/error.h"
#include "../harness.h"

TEST(parse_counted)
{
    pgr_tag_t t;
    CHECK_INT(pgr_tag_parse("INSERT 0 5", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_INSERT);
    CHECK_INT(t.count, 5);
    CHECK_INT(pgr_tag_parse("SELECT 30", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_SELECT);
    CHECK_INT(t.count, 30);
    CHECK_INT(pgr_tag_parse("UPDATE 12", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_UPDATE);
    CHECK_INT(pgr_tag_parse("DELETE 0", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_DELETE);
    CHECK_INT(t.count, 0);
    CHECK_INT(pgr_tag_parse("COPY 7", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_COPY);
    CHECK_INT(pgr_tag_parse("MERGE 3", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_MERGE);
    CHECK_INT(pgr_tag_parse("FETCH 100", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_FETCH);
    CHECK_INT(pgr_tag_parse("MOVE 4", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_MOVE);
    CHECK_INT(pgr_tag_parse("SELECT 18446744073709551615", &t), 0);
    CHECK(t.count == UINT64_MAX);
}

TEST(parse_other_and_bad)
{
    pgr_tag_t t;
    CHECK_INT(pgr_tag_parse("CREATE TABLE", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_OTHER);
    CHECK_STR(t.text, "CREATE TABLE");
    CHECK_INT(pgr_tag_parse("BEGIN", &t), 0);
    CHECK_INT(t.kind, PGR_TAG_OTHER);
    CHECK_INT(pgr_tag_parse("SELECTED 5", &t), 0); /* not the SELECT keyword */
    CHECK_INT(t.kind, PGR_TAG_OTHER);
    CHECK_INT(pgr_tag_parse("SELECT", &t), PGR_EPROTO);
    CHECK_INT(pgr_tag_parse("SELECT x", &t), PGR_EPROTO);
    CHECK_INT(pgr_tag_parse("SELECT 5 ", &t), PGR_EPROTO);
    CHECK_INT(pgr_tag_parse("SELECT -5", &t), PGR_EPROTO);
    CHECK_INT(pgr_tag_parse("INSERT 5", &t), PGR_EPROTO);
    CHECK_INT(pgr_tag_parse("INSERT 0 ", &t), PGR_EPROTO);
    CHECK_INT(pgr_tag_parse("SELECT 18446744073709551616", &t), PGR_EPROTO);
}

TEST(sum_and_format)
{
    pgr_tag_t a, b;
    char buf[64];
    CHECK_INT(pgr_tag_parse("INSERT 0 5", &a), 0);
    CHECK_INT(pgr_tag_parse("INSERT 0 7", &b), 0);
    CHECK_INT(pgr_tag_sum(&a, &b), 0);
    CHECK_INT(pgr_tag_format(&a, buf, sizeof(buf)), 11);
    CHECK_STR(buf, "INSERT 0 12");
    CHECK_INT(pgr_tag_parse("SELECT 10", &a), 0);
    CHECK_INT(pgr_tag_parse("SELECT 20", &b), 0);
    CHECK_INT(pgr_tag_sum(&a, &b), 0);
    pgr_tag_format(&a, buf, sizeof(buf));
    CHECK_STR(buf, "SELECT 30");
    CHECK_INT(pgr_tag_parse("UPDATE 1", &b), 0);
    CHECK_INT(pgr_tag_sum(&a, &b), PGR_EINVAL);
    CHECK_INT(a.count, 30); /* unchanged on failure */
    CHECK_INT(pgr_tag_parse("DELETE 18446744073709551615", &a), 0);
    CHECK_INT(pgr_tag_parse("DELETE 1", &b), 0);
    CHECK_INT(pgr_tag_sum(&a, &b), PGR_ELIMIT);
    CHECK_INT(pgr_tag_parse("CREATE TABLE", &a), 0);
    CHECK_INT(pgr_tag_parse("CREATE TABLE", &b), 0);
    CHECK_INT(pgr_tag_sum(&a, &b), 0);
    pgr_tag_format(&a, buf, sizeof(buf));
    CHECK_STR(buf, "CREATE TABLE");
    CHECK_INT(pgr_tag_parse("DROP TABLE", &b), 0);
    CHECK_INT(pgr_tag_sum(&a, &b), PGR_EINVAL);
    CHECK_INT(pgr_tag_parse("MERGE 2", &a), 0);
    CHECK_INT(pgr_tag_format(&a, buf, 7), PGR_ELIMIT);
    CHECK_INT(pgr_tag_format(&a, buf, 8), 7);
    CHECK_STR(buf, "MERGE 2");
}

int
main(void)
{
    return RUN(parse_counted, parse_other_and_bad, sum_and_format);
}

#include "core/base.h"
#include "core/log.h"
#include "../harness.h"

TEST(strerror_known)
{
    CHECK_STR(pgr_strerror(0), "success");
    CHECK_STR(pgr_strerror(PGR_ENOMEM), "out of memory");
    CHECK_STR(pgr_strerror(PGR_EREMOVED), "node removed");
    CHECK(PGR_ENOMEM < 0 && PGR__ELAST <= 0);
}

TEST(strerror_unknown)
{
    CHECK_STR(pgr_strerror(12345), "unknown error");
    CHECK_STR(pgr_strerror(-1), "unknown error");
}

int
main(void)
{
    return RUN(strerror_known, strerror_unknown);
}

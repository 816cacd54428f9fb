/* The CancelRequest packet and the conninfo whitelist. */
#include "backend/cancel.h"
#include "backend/server.h"
#include "../harness.h"

TEST(cancel_packet_layout)
{
    unsigned char p[16];
    const unsigned char want[16] = { 0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e,
                                     0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef };
    pgr_cancel_packet(p, 12345, 0xdeadbeefu);
    CHECK_MEM(p, want, 16);
}

TEST(conninfo_whitelist)
{
    pgr_node_config_t nc;
    char err[256] = "";
    memset(&nc, 0, sizeof(nc));
    CHECK_INT(pgr_server_parse_conninfo("host=127.0.0.1 port=5433 dbname=app sslmode=require",
                                        &nc, err, sizeof(err)), 0);
    CHECK_STR(nc.host, "127.0.0.1");
    CHECK_INT(nc.port, 5433);
    CHECK_STR(nc.dbname, "app");
    CHECK_STR(nc.ssl.mode, "require");
    free(nc.host);
    free(nc.dbname);
    free(nc.ssl.mode);

    memset(&nc, 0, sizeof(nc));
    CHECK_INT(pgr_server_parse_conninfo("host=h options=-cfoo=1", &nc, err, sizeof(err)),
              PGR_EINVAL);
    CHECK(strstr(err, "\"options\" is not allowed") != NULL);
    free(nc.host);

    memset(&nc, 0, sizeof(nc));
    CHECK_INT(pgr_server_parse_conninfo("host=h port=99999", &nc, err, sizeof(err)), PGR_EINVAL);
    CHECK(strstr(err, "port must be 1-65535") != NULL);
    free(nc.host);

    memset(&nc, 0, sizeof(nc));
    CHECK_INT(pgr_server_parse_conninfo("host = = nonsense", &nc, err, sizeof(err)), PGR_EINVAL);
    CHECK(strncmp(err, "invalid conninfo: ", 18) == 0);
}

int
main(void)
{
    return RUN(cancel_packet_layout, conninfo_whitelist);
}

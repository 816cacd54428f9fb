/* core/hba: pg_hba.conf lines parsed as PostgreSQL 15 tokenizes them, a table of connections
 * with the method (or rejection) each must get, and every kind of bad line with its exact
 * file:line:col message. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hba.h"
#include "../harness.h"

static pgr_hba_t *
parse_ok(const char *text)
{
    pgr_config_errors_t errs = { 0 };
    pgr_hba_t *h = NULL;
    int rc = pgr_hba_parse("hba.conf", text, strlen(text), &h, &errs);
    CHECK_INT(rc, 0);
    for (size_t i = 0; i < errs.n; i++)
        printf("# unexpected: %s\n", errs.msgs[i]);
    CHECK_INT(errs.n, 0);
    pgr_config_errors_free(&errs);
    return h;
}

/* Who connects, and what must happen: a method name, or "none" (no line matched). */
typedef struct {
    const char *how; /* "local", "tcp", "ssl" */
    const char *addr;
    const char *user, *db;
    const char *want;
    int line;        /* the deciding line, 0 for none */
} conn_case;

static void
check_conns(const pgr_hba_t *h, const conn_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const conn_case *k = &cases[i];
        pgr_hba_client_t c = { .local = strcmp(k->how, "local") == 0,
                               .ssl = strcmp(k->how, "ssl") == 0,
                               .user = k->user, .database = k->db };
        if (k->addr) {
            if (inet_pton(AF_INET, k->addr, c.addr) == 1)
                c.family = 4;
            else if (inet_pton(AF_INET6, k->addr, c.addr) == 1)
                c.family = 6;
        }
        pgr_hba_method_t m;
        int line = 0;
        bool found = pgr_hba_match(h, &c, &m, &line);
        const char *got = found ? pgr_hba_method_name(m) : "none";
        if (strcmp(got, k->want) != 0 || line != k->line) {
            t_failed_checks++;
            printf("# FAIL case %zu (%s %s %s@%s): got %s (line %d), want %s (line %d)\n", i,
                   k->how, k->addr ? k->addr : "-", k->user, k->db, got, line, k->want, k->line);
        }
    }
}

TEST(first_match_wins_over_types_addresses_lists)
{
    pgr_hba_t *h = parse_ok(
        "# TYPE  DATABASE  USER  ADDRESS  METHOD\n"
        "\n"
        "local   all       all                      trust\n"           /* 3 */
        "host    app,\"all\" alice, bob  127.0.0.1/32  md5   # comment\n" /* 4 */
        "hostssl all       carol 127.0.0.0/8        scram-sha-256\n"   /* 5 */
        "hostnossl all     carol 127.0.0.0/8        reject\n"          /* 6 */
        "host    sameuser  all   10.1.0.0 255.255.0.0 password\n"      /* 7 */
        "host    replication all 0.0.0.0/0          trust\n"           /* 8 */
        "host    all       all   ::1/128            passthrough\n"     /* 9 */
        "host    all       dave  all                trust\n"           /* 10 */
        "host    all       all   127.0.0.2/32       reject\n"          /* 11 */
        "host    all       all   0.0.0.0/0          scram-sha-256\r\n" /* 12, CRLF */
        "hostgssenc all    all   0.0.0.0/0          trust\n");         /* 13: never */
    CHECK_INT(pgr_hba_count(h), 11);
    static const conn_case cases[] = {
        { "local", NULL, "anyone", "anydb", "trust", 3 },
        { "tcp", "127.0.0.1", "alice", "app", "md5", 4 },
        { "tcp", "127.0.0.1", "bob", "all", "md5", 4 },        /* "all" quoted: a name */
        { "tcp", "127.0.0.1", "bob", "other", "scram-sha-256", 12 },
        { "ssl", "127.0.0.1", "alice", "app", "md5", 4 },      /* host takes ssl too */
        { "ssl", "127.0.0.5", "carol", "x", "scram-sha-256", 5 },
        { "tcp", "127.0.0.5", "carol", "x", "reject", 6 },
        { "tcp", "10.1.200.3", "erin", "erin", "password", 7 },  /* sameuser */
        { "tcp", "10.1.200.3", "erin", "app", "scram-sha-256", 12 },
        { "tcp", "10.2.0.1", "erin", "erin", "scram-sha-256", 12 }, /* outside the mask */
        { "tcp", "192.0.2.1", "replication", "replication", "scram-sha-256", 12 },
        { "tcp", "::1", "alice", "app", "passthrough", 9 },
        { "tcp", "::2", "dave", "app", "trust", 10 },           /* address all */
        { "tcp", "::2", "erin", "app", "none", 0 },             /* v6, no v6 line left */
        { "tcp", "127.0.0.2", "erin", "app", "reject", 11 },
        { "ssl", "127.0.0.2", "dave", "app", "trust", 10 },     /* earlier line wins */
    };
    check_conns(h, cases, PGR_ARRAY_LEN(cases));
    pgr_hba_free(h);
}

TEST(empty_file_rejects_everyone)
{
    pgr_hba_t *h = parse_ok("# nothing\n   \n\t# more\n");
    static const conn_case cases[] = {
        { "local", NULL, "a", "b", "none", 0 },
        { "tcp", "127.0.0.1", "a", "b", "none", 0 },
    };
    CHECK_INT(pgr_hba_count(h), 0);
    check_conns(h, cases, PGR_ARRAY_LEN(cases));
    pgr_hba_free(h);
}

TEST(cidr_edges_and_v6)
{
    pgr_hba_t *h = parse_ok(
        "host all a 192.168.1.77/24 trust\n"     /* host bits set: masked, as PostgreSQL */
        "host all b 0.0.0.0/0 md5\n"
        "host all c fe80::/10 md5\n"
        "host all c 2001:db8::1 ffff:ffff:: trust\n"
        "host all d 127.0.0.1/31 trust\n");
    static const conn_case cases[] = {
        { "tcp", "192.168.1.1", "a", "x", "trust", 1 },
        { "tcp", "192.168.2.1", "a", "x", "none", 0 },
        { "tcp", "1.2.3.4", "b", "x", "md5", 2 },
        { "tcp", "::1", "b", "x", "none", 0 },                  /* 0.0.0.0/0 is IPv4 only */
        { "tcp", "fe80::1234", "c", "x", "md5", 3 },
        { "tcp", "febf::1", "c", "x", "md5", 3 },
        { "tcp", "fec0::1", "c", "x", "none", 0 },
        { "tcp", "2001:db8:ffff::9", "c", "x", "trust", 4 },
        { "tcp", "127.0.0.0", "d", "x", "trust", 5 },
        { "tcp", "127.0.0.2", "d", "x", "none", 0 },
    };
    check_conns(h, cases, PGR_ARRAY_LEN(cases));
    pgr_hba_free(h);
}

TEST(tokens_quotes_and_commas)
{
    /* "a ,b" is two fields in PostgreSQL (the blank ends the list), so that line has an extra
     * field: options. Commas after a token continue the list across blanks. */
    pgr_hba_t *h = parse_ok(
        "host \"my db\",app  \"we\"\"ird\",x 127.0.0.1/32 trust\n"
        "local all,  all  \"all\"  md5\n");
    static const conn_case cases[] = {
        { "tcp", "127.0.0.1", "we\"ird", "my db", "trust", 1 },
        { "tcp", "127.0.0.1", "x", "app", "trust", 1 },
        { "local", NULL, "x", "app", "none", 0 },
        { "local", NULL, "all", "app", "md5", 2 },
    };
    check_conns(h, cases, PGR_ARRAY_LEN(cases));
    pgr_hba_free(h);
}

typedef struct {
    const char *text;
    const char *msgs[3];
} bad_case;

static const bad_case bad_cases[] = {
    { "hosts all all 127.0.0.1/32 trust\n",
      { "hba.conf:1:1: invalid connection type \"hosts\"" } },
    { "host,local all all 127.0.0.1/32 trust\n",
      { "hba.conf:1:6: multiple values specified for connection type" } },
    { "# c\nlocal\n", { "hba.conf:2:6: end-of-line before database specification" } },
    { "local all\n", { "hba.conf:1:10: end-of-line before role specification" } },
    { "host all all\n", { "hba.conf:1:13: end-of-line before IP address specification" } },
    { "local all all\n", { "hba.conf:1:14: end-of-line before authentication method" } },
    { "host all all 127.0.0.1/32\n",
      { "hba.conf:1:26: end-of-line before authentication method" } },
    { "host all all 127.0.0.1/33 trust\n",
      { "hba.conf:1:14: invalid CIDR mask in address \"127.0.0.1/33\"" } },
    { "host all all ::1/129 trust\n",
      { "hba.conf:1:14: invalid CIDR mask in address \"::1/129\"" } },
    { "host all all 127.0.0.1/ trust\n",
      { "hba.conf:1:14: invalid CIDR mask in address \"127.0.0.1/\"" } },
    { "host all all 127.0.0.256/32 trust\n",
      { "hba.conf:1:14: invalid IP address \"127.0.0.256/32\"" } },
    { "host all all 127.0.0.1 trust\n", { "hba.conf:1:24: invalid IP mask \"trust\"" } },
    { "host all all 127.0.0.1\n",
      { "hba.conf:1:23: end-of-line before netmask specification (specify an address range in "
        "CIDR notation, or provide a separate netmask)" } },
    { "host all all 127.0.0.1 ffff:: trust\n",
      { "hba.conf:1:24: IP address and mask do not match" } },
    { "host all all db.example.com trust\n",
      { "hba.conf:1:14: host names (\"db.example.com\") are not supported in pgrouter's hba "
        "file; give an IP address with a CIDR mask" } },
    { "host all all samenet trust\n",
      { "hba.conf:1:14: \"samenet\" is not supported in pgrouter's hba file; give the "
        "addresses" } },
    { "host all all 127.0.0.1/32,::1/128 trust\n",
      { "hba.conf:1:27: multiple values specified for host address" } },
    { "local all all peer\n",
      { "hba.conf:1:15: authentication method \"peer\" is not supported by pgrouter (trust, "
        "reject, md5, scram-sha-256, password, passthrough)" } },
    { "local all all md6\n", { "hba.conf:1:15: invalid authentication method \"md6\"" } },
    { "local all all trust,md5\n",
      { "hba.conf:1:21: multiple values specified for authentication type" } },
    { "hostssl all all 127.0.0.1/32 md5 clientcert=verify-full\n",
      { "hba.conf:1:34: authentication options (\"clientcert=verify-full\") are not supported "
        "in pgrouter's hba file" } },
    { "local @dbs all trust\n",
      { "hba.conf:1:7: file inclusion (\"@dbs\") is not supported in pgrouter's hba file; list "
        "the names" } },
    { "local all +admins trust\n",
      { "hba.conf:1:11: role groups (\"+admins\") are not supported in pgrouter's hba file: "
        "pgrouter does not know role membership; list the users" } },
    { "local samerole all trust\n",
      { "hba.conf:1:7: \"samerole\" is not supported in pgrouter's hba file: pgrouter does not "
        "know role membership" } },
    { "local \"unterminated all trust\n",
      { "hba.conf:1:7: unterminated quoted string",
        "hba.conf:1:30: end-of-line before role specification" } },
    /* A quote left open in the last field: the line is complete, the file still fails
     * (found by fuzz_hba). */
    { "host all all 10.0.0.0 255.0.0.0 passwor\"d\n",
      { "hba.conf:1:33: unterminated quoted string" } },
    /* Every bad line is reported, good lines between them do not hide them. */
    { "local all all trust\nlocal all all nope\nhost all all 1.2.3.4/40 md5\n",
      { "hba.conf:2:15: invalid authentication method \"nope\"",
        "hba.conf:3:14: invalid CIDR mask in address \"1.2.3.4/40\"" } },
};

TEST(bad_lines_name_file_line_col)
{
    for (size_t i = 0; i < PGR_ARRAY_LEN(bad_cases); i++) {
        const bad_case *b = &bad_cases[i];
        size_t len = strlen(b->text);
        pgr_config_errors_t errs = { 0 };
        pgr_hba_t *h = (pgr_hba_t *)1;
        int rc = pgr_hba_parse("hba.conf", b->text, len, &h, &errs);
        CHECK_INT(rc, PGR_ECONFIG);
        CHECK(h == NULL);
        size_t want = 0;
        while (want < 3 && b->msgs[want])
            want++;
        if (errs.n != want) {
            t_failed_checks++;
            printf("# FAIL case %zu: %zu messages, want %zu\n", i, errs.n, want);
        }
        for (size_t k = 0; k < errs.n && k < want; k++)
            CHECK_STR(errs.msgs[k], b->msgs[k]);
        for (size_t k = want; k < errs.n; k++)
            printf("#   extra: %s\n", errs.msgs[k]);
        pgr_config_errors_free(&errs);
    }
}

TEST(nul_byte_is_an_error)
{
    static const char text[] = "local all all trust\nlocal\0all all trust\n";
    pgr_config_errors_t errs = { 0 };
    pgr_hba_t *h = NULL;
    CHECK_INT(pgr_hba_parse("hba.conf", text, sizeof(text) - 1, &h, &errs), PGR_ECONFIG);
    CHECK_INT(errs.n, 1);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], "hba.conf:2:1: the line contains a NUL byte");
    pgr_config_errors_free(&errs);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* auth.hba_file is read with the config, relative to the config file's directory; a missing
 * or bad file fails the load with messages naming it; admin.reserved_connections defaults. */
TEST(config_loads_the_hba_file)
{
    char dir[] = "/tmp/pgr-hba-XXXXXX", yaml[128], hba[128], msg[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(yaml, sizeof(yaml), "%s/pgrouter.yaml", dir);
    snprintf(hba, sizeof(hba), "%s/hba.conf", dir);
    static const char base[] =
        "listen: {host: 127.0.0.1, port: 6432}\n"
        "auth: {method: trust, hba_file: %s}\n"
        "nodes: [{id: pg1, host: 127.0.0.1, port: 5432}]\n";
    char text[512];
    pgr_config_t *cfg = NULL;
    pgr_config_errors_t errs = { 0 };

    write_file(hba, "local all all trust\nhost all all 127.0.0.1/32 md5\n");
    snprintf(text, sizeof(text), base, "hba.conf");
    write_file(yaml, text);
    CHECK_INT(pgr_config_load(yaml, &cfg, &errs), 0);
    CHECK_INT(errs.n, 0);
    if (cfg) {
        CHECK_INT(pgr_hba_count(cfg->auth.hba), 2);
        CHECK_STR(cfg->auth.hba_file, hba);
        CHECK_INT(cfg->admin.reserved_connections, 3);
        pgr_config_free(cfg);
    }

    snprintf(text, sizeof(text), base, "nope.conf");
    write_file(yaml, text);
    CHECK_INT(pgr_config_load(yaml, &cfg, &errs), PGR_ECONFIG);
    CHECK(cfg == NULL);
    CHECK_INT(errs.n, 1);
    snprintf(msg, sizeof(msg), "%s:2:33: auth.hba_file: expected a readable file, got "
             "\"%s/nope.conf\": No such file or directory", yaml, dir);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], msg);
    pgr_config_errors_free(&errs);

    write_file(hba, "local all all trust\nhost all all 127.0.0.1 md5\n");
    snprintf(text, sizeof(text), base, hba); /* absolute */
    write_file(yaml, text);
    CHECK_INT(pgr_config_load(yaml, &cfg, &errs), PGR_ECONFIG);
    CHECK_INT(errs.n, 1);
    snprintf(msg, sizeof(msg), "%s:2:24: invalid IP mask \"md5\"", hba);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], msg);
    pgr_config_errors_free(&errs);

    static const char reserved[] =
        "listen: {host: 127.0.0.1, port: 6432}\n"
        "admin: {reserved_connections: 1001}\n"
        "nodes: [{id: pg1, host: 127.0.0.1, port: 5432}]\n";
    CHECK_INT(pgr_config_load_string("t.yaml", reserved, strlen(reserved), &cfg, &errs),
              PGR_ECONFIG);
    CHECK_INT(errs.n, 1);
    if (errs.n == 1)
        CHECK_STR(errs.msgs[0], "t.yaml:2:31: admin.reserved_connections: expected an integer "
                                "0-1000, got \"1001\"");
    pgr_config_errors_free(&errs);
    unlink(yaml);
    unlink(hba);
    rmdir(dir);
}

int
main(void)
{
    return RUN(first_match_wins_over_types_addresses_lists, empty_file_rejects_everyone,
               cidr_edges_and_v6, tokens_quotes_and_commas, bad_lines_name_file_line_col,
               nul_byte_is_an_error, config_loads_the_hba_file);
}

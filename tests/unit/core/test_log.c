/* Logging: redaction of every password form, and a canary password that goes through config
 * loading, config errors and pgr_log_write (text and JSON) never shows up in any output. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base.h"
#include "core/log.h"
#include "pgrouter/config.h"
#include "../harness.h"

#define CANARY "Canary-7f3a9-s3cr3t"

/* Read all of f (rewound) into a static buffer. */
static const char *
slurp(FILE *f)
{
    static char buf[65536];
    size_t n;
    fflush(f);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    return buf;
}

TEST(redact_table)
{
    static const struct { const char *in, *out; } cases[] = {
        { "host=h password=secret user=u", "host=h password=*** user=u" },
        { "host=h password = 'se cr\\'et' user=u", "host=h password = '***' user=u" },
        { "password=\"quoted secret\" dbname=x", "password=\"***\" dbname=x" },
        { "PASSWORD=abc", "PASSWORD=***" },
        { "sslpassword=abc port=1", "sslpassword=*** port=1" },
        { "PGPASSWORD=abc psql", "PGPASSWORD=*** psql" },
        { "postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db" },
        { "postgres://u:p@ss@h/db", "postgres://u:***@h/db" },
        { "postgresql://u@h/db?password=secret&sslmode=require",
          "postgresql://u@h/db?password=***" },
        { "postgresql://u@h/db", "postgresql://u@h/db" },
        { "{\"user\":\"u\",\"password\":\"sec\\\"ret\"}", "{\"user\":\"u\",\"password\":\"***\"}" },
        { "{'password': 'x y'}", "{'password': '***'}" },
        { "password: two words here\nnext: line", "password: ***\nnext: line" },
        { "{name: app, password: s3cret}", "{name: app, password: ***}" },
        { "stored md50123456789abcdef0123456789abcdef here", "stored md5*** here" },
        { "v=SCRAM-SHA-256$4096:c2FsdA==$a:b done", "v=SCRAM-SHA-256$*** done" },
        { "password authentication failed for user \"x\"",
          "password authentication failed for user \"x\"" },
        { "password_env: APP_PASSWORD", "password_env: APP_PASSWORD" },
        { "no secrets here: host=h port=5", "no secrets here: host=h port=5" },
    };
    char out[512];
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        size_t n = pgr_log_redact(out, sizeof(out), cases[i].in);
        CHECK_STR(out, cases[i].out);
        CHECK_INT(n, strlen(cases[i].out));
    }
}

TEST(redact_small_buffer)
{
    char out[8];
    memset(out, 'X', sizeof(out));
    pgr_log_redact(out, sizeof(out), "password=abcdefghijkl");
    CHECK_INT(strlen(out), 7);
    CHECK_STR(out, "passwor");
    CHECK_INT(pgr_log_redact(out, 0, "x"), 0);
}

TEST(levels)
{
    CHECK_INT(pgr_log_level_parse("debug"), PGR_LOG_DEBUG);
    CHECK_INT(pgr_log_level_parse("WARNING"), PGR_LOG_WARNING);
    CHECK_INT(pgr_log_level_parse("loud"), -1);
    FILE *f = tmpfile();
    pgr_log_setup(PGR_LOG_WARNING, 0, f);
    pgr_info("t", "hidden-info");
    pgr_debug("t", "hidden-debug");
    pgr_warn("t", "shown-warning");
    const char *out = slurp(f);
    CHECK(strstr(out, "hidden") == NULL);
    CHECK(strstr(out, " warning [t] shown-warning\n") != NULL);
    pgr_log_setup(PGR_LOG_INFO, 0, NULL);
    fclose(f);
}

TEST(text_and_json_lines)
{
    FILE *f = tmpfile();
    pgr_log_setup(PGR_LOG_DEBUG, 0, f);
    pgr_info("pool", "two\nlines \"q\"");
    const char *out = slurp(f);
    /* 2024-01-02T03:04:05.678Z info [pool] two\nlines "q" */
    CHECK(strlen(out) > 25 && out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
    CHECK(strstr(out, "Z info [pool] two\\nlines \"q\"\n") != NULL);
    CHECK(strchr(out, '\n') == out + strlen(out) - 1); /* exactly one line */
    fclose(f);

    f = tmpfile();
    pgr_log_setup(PGR_LOG_DEBUG, 1, f);
    pgr_error("health", "node \"pg1\"\tdown");
    out = slurp(f);
    CHECK(strncmp(out, "{\"ts\":\"", 7) == 0);
    CHECK(strstr(out, "\",\"level\":\"error\",\"component\":\"health\","
                      "\"msg\":\"node \\\"pg1\\\"\\u0009down\"}\n") != NULL);
    pgr_log_setup(PGR_LOG_INFO, 0, NULL);
    fclose(f);
}

/* The canary in every form a message could carry it, through both output modes. */
TEST(canary_never_logged)
{
    for (int json = 0; json <= 1; json++) {
        FILE *f = tmpfile();
        pgr_log_setup(PGR_LOG_DEBUG, json, f);
        pgr_info("server", "connecting: host=127.0.0.1 port=5432 password=%s user=app", CANARY);
        pgr_info("server", "connecting: host=127.0.0.1 password='%s'", CANARY);
        pgr_warn("server", "uri postgresql://app:%s@127.0.0.1:5432/app failed", CANARY);
        pgr_error("config", "{\"name\":\"app\",\"password\":\"%s\"}", CANARY);
        pgr_debug("config", "users:\n  - name: app\n    password: %s\n", CANARY);
        const char *out = slurp(f);
        CHECK(strstr(out, CANARY) == NULL);
        CHECK(strstr(out, "Canary") == NULL);
        CHECK(strstr(out, "127.0.0.1") != NULL); /* the lines were written */
        pgr_log_setup(PGR_LOG_INFO, 0, NULL);
        fclose(f);
    }
}

/* A config holding the canary (as a user's and a node's password): neither its errors nor
 * a log line made from the loaded values by the usual paths contain it. */
TEST(canary_through_config)
{
    static const char good[] =
        "listen: {host: 127.0.0.1, port: 6432}\n"
        "auth: {users: [{name: app, password: " CANARY "}]}\n"
        "log: {level: debug, json: true}\n"
        "nodes: [{id: pg1, host: h, port: 5432, password: \"" CANARY "\"}]\n";
    static const char bad[] =
        "listen: {host: 127.0.0.1, port: 6432}\n"
        "auth:\n"
        "  users:\n"
        "    - {name: app, password: " CANARY ", password_env: PGR_UNSET_FOR_CANARY}\n"
        "    - {name: app, password: " CANARY "}\n"
        "    - {name: b, scram: \"SCRAM-SHA-256$1:" CANARY "\"}\n"
        "    - {name: c, password: " CANARY ", md5: md5" CANARY "}\n"
        "    - {name: d, password: [" CANARY "]}\n"
        "    - {name: e, passwrd: " CANARY "}\n"
        "nodes: [{id: pg1, host: h, port: 5432, password: " CANARY ", password_env: X}]\n";
    pgr_config_errors_t errs;
    pgr_config_t *cfg = NULL;
    FILE *f = tmpfile();

    unsetenv("PGR_UNSET_FOR_CANARY");
    CHECK_INT(pgr_config_load_string("t.yaml", bad, strlen(bad), &cfg, &errs), PGR_ECONFIG);
    CHECK(errs.n >= 7);
    for (size_t i = 0; i < errs.n; i++) {
        CHECK(strstr(errs.msgs[i], "Canary") == NULL);
        fprintf(f, "%s\n", errs.msgs[i]);
    }
    pgr_config_errors_free(&errs);

    CHECK_INT(pgr_config_load_string("t.yaml", good, strlen(good), &cfg, &errs), 0);
    if (cfg) {
        const pgr_node_config_t *n = &cfg->nodes[0];
        CHECK_STR(cfg->auth.users[0].password, CANARY);
        pgr_log_setup(PGR_LOG_DEBUG, cfg->log.json, f);
        pgr_info("server", "conninfo: host=%s port=%d user=%s password=%s", n->host, n->port,
                 cfg->auth.users[0].name, n->password);
        pgr_info("config", "users: [{name: %s, password: %s}]", cfg->auth.users[0].name,
                 cfg->auth.users[0].password);
        pgr_log_setup(PGR_LOG_INFO, 0, NULL);
        pgr_config_free(cfg);
    }
    const char *out = slurp(f);
    CHECK(strstr(out, "Canary") == NULL);
    CHECK(strstr(out, "conninfo: host=h") != NULL);
    fclose(f);
}

TEST(apply_config)
{
    char path[] = "/tmp/pgr_test_log_XXXXXX";
    int fd = mkstemp(path);
    pgr_config_t *cfg = pgr_config_new_default();

    CHECK(fd >= 0 && cfg != NULL);
    if (fd < 0 || !cfg)
        return;
    close(fd);
    free(cfg->log.level);
    cfg->log.level = strdup("warning");
    cfg->log.json = true;
    cfg->log.file = strdup(path);
    CHECK_INT(pgr_log_apply_config(cfg), 0);
    CHECK_INT(pgr_log_min_level(), PGR_LOG_WARNING);
    pgr_info("t", "not written");
    pgr_warn("t", "written password=%s", CANARY);
    pgr_log_shutdown();
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        const char *out = slurp(f);
        CHECK(strstr(out, "not written") == NULL);
        CHECK(strstr(out, "\"level\":\"warning\"") != NULL);
        CHECK(strstr(out, "written password=***") != NULL);
        CHECK(strstr(out, CANARY) == NULL);
        fclose(f);
    }
    unlink(path);

    free(cfg->log.file);
    cfg->log.file = strdup("/nonexistent-dir/x.log");
    CHECK_INT(pgr_log_apply_config(cfg), PGR_EIO);
    free(cfg->log.level);
    cfg->log.level = strdup("loud");
    CHECK_INT(pgr_log_apply_config(cfg), PGR_EINVAL);
    pgr_config_free(cfg);
    pgr_log_setup(PGR_LOG_INFO, 0, NULL);
}

static int
count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* A flood from one call site: the first PGR_LOG_LIMIT_BURST lines of a window are written,
 * the rest counted into one line when the window ends; the count covers every line. */
TEST(rate_limit)
{
    FILE *f = tmpfile();
    pgr_log_limit_t lim = { 0 }, other = { 0 };
    const char *out;

    pgr_log_setup(PGR_LOG_INFO, 0, f);
    for (int i = 0; i < 10000; i++)
        pgr_log_limited(&lim, 1000 + i / 10, PGR_LOG_INFO, "cancel", "bad cancel %d password=%s",
                        i, "sekrit");
    pgr_log_limited(&other, 1500, PGR_LOG_WARNING, "conn", "another site");
    pgr_log_limit_flush(1000 + PGR_LOG_LIMIT_WINDOW_MS - 1, false); /* the window is open */
    out = slurp(f);
    CHECK_INT(count_lines(out, "\n"), PGR_LOG_LIMIT_BURST + 1);
    CHECK_INT(count_lines(out, "[cancel] bad cancel "), PGR_LOG_LIMIT_BURST);
    CHECK(strstr(out, "bad cancel 9 password=***") && !strstr(out, "bad cancel 10 "));
    CHECK(strstr(out, "warning [conn] another site\n") != NULL); /* its own limiter */
    CHECK(!strstr(out, "sekrit"));
    /* The window ends: one line with the count (10000 - 10) and the last line, redacted. */
    pgr_log_limit_flush(1000 + PGR_LOG_LIMIT_WINDOW_MS, false);
    out = slurp(f);
    CHECK_INT(count_lines(out, "\n"), PGR_LOG_LIMIT_BURST + 2);
    CHECK(strstr(out, "info [cancel] last message repeated 9990 more times within 10 s (at most "
                      "10 written per 10 s): bad cancel 9999 password=***\n") != NULL);
    CHECK(!strstr(out, "sekrit"));
    /* Said once; a new window writes again. */
    pgr_log_limit_flush(100000, false);
    pgr_log_limited(&lim, 100000, PGR_LOG_INFO, "cancel", "later");
    out = slurp(f);
    CHECK_INT(count_lines(out, "repeated"), 1);
    CHECK(strstr(out, "info [cancel] later\n") != NULL);
    /* A window ended by the site's next line (no flush in between) reports before it. */
    for (int i = 0; i < 30; i++)
        pgr_log_limited(&lim, 100001, PGR_LOG_INFO, "cancel", "burst %d", i);
    pgr_log_limited(&lim, 100000 + PGR_LOG_LIMIT_WINDOW_MS, PGR_LOG_INFO, "cancel", "after");
    out = slurp(f);
    const char *sum = strstr(out, "repeated 21 more times within 10 s (at most 10 written per "
                                  "10 s): burst 29\n");
    CHECK(sum != NULL && strstr(out, "[cancel] after\n") > sum);
    /* At exit every pending count is written, window over or not. */
    for (int i = 0; i < 15; i++)
        pgr_log_limited(&other, 200000, PGR_LOG_WARNING, "conn", "x %d", i);
    pgr_log_limit_flush(200001, true);
    out = slurp(f);
    CHECK(strstr(out, "warning [conn] last message repeated 5 more times within 10 s") != NULL);
    /* Below the level: neither written nor counted. */
    pgr_log_setup(PGR_LOG_WARNING, 0, f);
    for (int i = 0; i < 50; i++)
        pgr_log_limited(&lim, 300000, PGR_LOG_INFO, "cancel", "quiet");
    pgr_log_limit_flush(400000, true);
    CHECK(!strstr(slurp(f), "quiet"));
    pgr_log_setup(PGR_LOG_INFO, 0, NULL);
    fclose(f);
}

int
main(void)
{
    return RUN(redact_table, redact_small_buffer, levels, text_and_json_lines, canary_never_logged,
               canary_through_config, apply_config, rate_limit);
}

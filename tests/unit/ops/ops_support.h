/* Shared by the ops unit tests: a runtime with a real cluster whose nodes point at loopback
 * ports nothing listens on (so no server is needed), and a decoder that turns the admin
 * console's reply messages into one line of text per message. */
#ifndef PGR_TEST_OPS_SUPPORT_H
#define PGR_TEST_OPS_SUPPORT_H

#include <string.h>

#include "core/runtime.h"
#include "pgrouter/cluster.h"
#include "pgrouter/config.h"
#include "protocol/backend.h"
#include "protocol/frame.h"

typedef struct {
    uv_loop_t loop;
    pgr_runtime_t rt;
} ops_env_t;

/* Two nodes, pg1 and pg2, on ports 1 and 2 of 127.0.0.1 (refused at once). */
static const char ops_yaml[] =
    "listen: {host: 127.0.0.1, port: 6432}\n"
    "auth:\n"
    "  method: scram-sha-256\n"
    "  users:\n"
    "    - {name: app, password: s3cret-pw}\n"
    "admin: {users: [app], http: '127.0.0.1:9930'}\n"
    "health: {interval: 100ms, timeout: 100ms}\n"
    "shutdown: {drain_timeout: 250ms}\n"
    "nodes:\n"
    "  - {id: pg1, host: 127.0.0.1, port: 1, role: primary, weight: 2}\n"
    "  - {id: pg2, host: 127.0.0.1, port: 2, password: node-secret}\n";

static inline int
ops_env_init(ops_env_t *e, const char *yaml)
{
    pgr_config_t *cfg = NULL;
    char err[256];
    memset(e, 0, sizeof(*e));
    if (uv_loop_init(&e->loop) != 0)
        return -1;
    pgr_config_errors_t errs = { 0 };
    if (pgr_config_load_string("test.yaml", yaml, strlen(yaml), &cfg, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            printf("# config: %s\n", errs.msgs[i]);
        pgr_config_errors_free(&errs);
        return -1;
    }
    cfg->listen.port = 0; /* the kernel's choice, for tests that listen */
    e->rt.loop = &e->loop;
    e->rt.cfg = cfg;
    pgr_list_init(&e->rt.clients);
    if (pgr_cluster_new(&e->loop, cfg, NULL, &e->rt.cluster, err, sizeof(err)) != 0) {
        printf("# cluster: %s\n", err);
        return -1;
    }
    return 0;
}

/* Set up e in a TEST, or fail the test and leave it. */
#define OPS_ENV(e)                                                              \
    do {                                                                        \
        if (ops_env_init(&(e), ops_yaml) != 0) {                                \
            CHECK(!"ops_env_init");                                             \
            return;                                                             \
        }                                                                       \
    } while (0)

static inline void
ops_env_free(ops_env_t *e)
{
    if (e->rt.cluster) {
        pgr_cluster_shutdown(e->rt.cluster, 0, NULL, NULL);
        uv_run(&e->loop, UV_RUN_DEFAULT);
        pgr_cluster_free(e->rt.cluster);
    }
    uv_run(&e->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&e->loop) != 0)
        printf("# FAIL: handles left open on the loop\n");
    pgr_config_free(e->rt.cfg);
}

/* The reply as text, one line per message:
 *   T col,col,...    RowDescription (names)
 *   D v|v|...        DataRow (NULL for SQL NULL)
 *   C tag            CommandComplete
 *   E 42601 message  ErrorResponse (S must be ERROR, else "E? ...")
 *   N message        NoticeResponse
 *   I                EmptyQueryResponse
 *   ! what           anything malformed
 * Returns a malloc'd string. */
static inline char *
ops_decode(const uint8_t *buf, size_t len)
{
    char *s = NULL;
    size_t sl = 0;
    FILE *f = open_memstream(&s, &sl);
    pgr_frame_limits_t lim;
    pgr_frame_limits_default(&lim);
    while (len > 0) {
        pgr_frame_t fr;
        if (pgr_frame_next(buf, len, PGR_PHASE_BACKEND, &lim, &fr) != PGR_FRAME_OK) {
            fprintf(f, "! bad frame\n");
            break;
        }
        switch (fr.type) {
        case 'T': {
            pgr_be_rowdesc_t m;
            pgr_be_rowdesc_iter_t it;
            pgr_be_field_t fd;
            if (pgr_be_rowdesc_decode(fr.body, fr.body_len, &m) != 0) {
                fprintf(f, "! T\n");
                break;
            }
            fputs("T ", f);
            pgr_be_rowdesc_iter(&m, &it);
            for (int i = 0; pgr_be_rowdesc_next(&it, &fd); i++)
                fprintf(f, "%s%s", i ? "," : "", fd.name);
            fputc('\n', f);
            break;
        }
        case 'D': {
            pgr_be_datarow_t m;
            pgr_value_iter_t it;
            pgr_value_t v;
            if (pgr_be_datarow_decode(fr.body, fr.body_len, &m) != 0) {
                fprintf(f, "! D\n");
                break;
            }
            fputs("D ", f);
            pgr_be_datarow_iter(&m, &it);
            for (int i = 0; pgr_value_next(&it, &v); i++) {
                if (i)
                    fputc('|', f);
                if (v.len < 0)
                    fputs("NULL", f);
                else
                    fwrite(v.data, 1, (size_t)v.len, f);
            }
            fputc('\n', f);
            break;
        }
        case 'C': {
            pgr_be_complete_t m;
            if (pgr_be_complete_decode(fr.body, fr.body_len, &m) != 0)
                fprintf(f, "! C\n");
            else
                fprintf(f, "C %s\n", m.tag);
            break;
        }
        case 'E':
        case 'N': {
            pgr_be_notice_t m;
            if (pgr_be_notice_decode(fr.body, fr.body_len, &m) != 0 || !m.message) {
                fprintf(f, "! %c\n", fr.type);
                break;
            }
            if (fr.type == 'E')
                fprintf(f, "E%s %s %s\n",
                        m.severity && strcmp(m.severity, "ERROR") == 0 ? "" : "?",
                        m.sqlstate ? m.sqlstate : "-", m.message);
            else
                fprintf(f, "N %s\n", m.message);
            break;
        }
        case 'I':
            fprintf(f, fr.body_len == 0 ? "I\n" : "! I\n");
            break;
        default:
            fprintf(f, "! type %c\n", fr.type);
        }
        buf += fr.len;
        len -= fr.len;
    }
    fclose(f);
    return s;
}

#endif

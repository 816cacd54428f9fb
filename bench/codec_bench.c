/* Codec microbenchmark: frames and decodes a pgbench-like stream, printing frames/second and
 * MB/s, so later changes to protocol/ can be compared.
 *
 *   codec_bench [SECONDS]    (default 2 per workload)
 *
 * Workloads: "frontend" — pgbench -M extended's Bind/Execute/Sync (5 parameters, as its
 * UPDATE); "backend" — a DataRow-heavy result (RowDescription, 100 DataRows of 4 columns,
 * CommandComplete, ReadyForQuery); "relay" — the backend stream framed only (the relay's hot
 * path: type and length, no decode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
build_frontend(pgr_writer_t *w)
{
    pgr_value_t p[5] = {{(const uint8_t *)"1234", 4}, {(const uint8_t *)"17", 2},
                        {(const uint8_t *)"9", 1}, {(const uint8_t *)"-4711", 5},
                        {(const uint8_t *)"88231", 5}};
    for (int i = 0; i < 64; i++) {
        (void)pgr_fe_write_bind(w, "", "P0_3", 0, NULL, 5, p, 0, NULL);
        (void)pgr_fe_write_execute(w, "", 0);
        (void)pgr_fe_write_empty(w, 'S');
    }
}

static void
build_backend(pgr_writer_t *w)
{
    pgr_be_field_t cols[4] = {{"aid", 16397, 1, 23, 4, -1, 0},
                              {"bid", 16397, 2, 23, 4, -1, 0},
                              {"abalance", 16397, 3, 23, 4, -1, 0},
                              {"filler", 16397, 4, 1042, -1, 88, 0}};
    char filler[85];
    memset(filler, ' ', 84);
    filler[84] = '\0';
    (void)pgr_be_write_rowdesc(w, 4, cols);
    for (int i = 0; i < 100; i++) {
        char aid[16];
        int n = snprintf(aid, sizeof(aid), "%d", 100000 + i);
        pgr_value_t row[4] = {{(const uint8_t *)aid, n}, {(const uint8_t *)"1", 1},
                              {(const uint8_t *)"0", 1}, {(const uint8_t *)filler, 84}};
        (void)pgr_be_write_datarow(w, 4, row);
    }
    (void)pgr_be_write_complete(w, "SELECT 100");
    (void)pgr_be_write_ready(w, 'I');
}

/* Frames (and with decode, decodes and walks) every message of buf; returns frames seen. */
static size_t
run_once(const uint8_t *buf, size_t len, pgr_phase_t phase, int decode, unsigned *sink)
{
    size_t off = 0, frames = 0;
    pgr_frame_limits_t lim;
    pgr_frame_limits_default(&lim);
    while (off < len) {
        pgr_frame_t f;
        if (pgr_frame_next(buf + off, len - off, phase, &lim, &f) != PGR_FRAME_OK)
            abort();
        frames++;
        off += f.len;
        if (!decode)
            continue;
        int rc = 0;
        pgr_value_iter_t it;
        pgr_value_t v;
        switch (phase == PGR_PHASE_BACKEND ? f.type | 0x100 : f.type) {
        case 'B': {
            pgr_fe_bind_t m;
            rc = pgr_fe_bind_decode(f.body, f.body_len, &m);
            pgr_fe_bind_params(&m, &it);
            while (pgr_value_next(&it, &v))
                *sink += (unsigned)v.len;
            break;
        }
        case 'E': {
            pgr_fe_execute_t m;
            rc = pgr_fe_execute_decode(f.body, f.body_len, &m);
            *sink += (unsigned)m.max_rows;
            break;
        }
        case 'S':
            rc = pgr_fe_empty_decode(f.body, f.body_len);
            break;
        case 'T' | 0x100: {
            pgr_be_rowdesc_t m;
            rc = pgr_be_rowdesc_decode(f.body, f.body_len, &m);
            *sink += (unsigned)m.nfields;
            break;
        }
        case 'D' | 0x100: {
            pgr_be_datarow_t m;
            rc = pgr_be_datarow_decode(f.body, f.body_len, &m);
            pgr_be_datarow_iter(&m, &it);
            while (pgr_value_next(&it, &v))
                *sink += (unsigned)v.len;
            break;
        }
        case 'C' | 0x100: {
            pgr_be_complete_t m;
            rc = pgr_be_complete_decode(f.body, f.body_len, &m);
            *sink += (unsigned)m.tag[0];
            break;
        }
        case 'Z' | 0x100: {
            pgr_be_ready_t m;
            rc = pgr_be_ready_decode(f.body, f.body_len, &m);
            *sink += m.status;
            break;
        }
        default:
            abort();
        }
        if (rc != 0)
            abort();
    }
    return frames;
}

static void
bench(const char *name, const pgr_writer_t *w, pgr_phase_t phase, int decode, double secs)
{
    unsigned sink = 0;
    size_t frames = 0, bytes = 0;
    double start = now(), elapsed;
    do {
        for (int i = 0; i < 64; i++) {
            frames += run_once(w->buf, w->len, phase, decode, &sink);
            bytes += w->len;
        }
        elapsed = now() - start;
    } while (elapsed < secs);
    printf("%-9s %12.0f frames/s %9.1f MB/s  (%zu frames, %.2f s, sink %u)\n", name,
           (double)frames / elapsed, (double)bytes / elapsed / 1e6, frames, elapsed, sink & 1);
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    pgr_writer_t fe, be;
    pgr_writer_init_grow(&fe);
    pgr_writer_init_grow(&be);
    build_frontend(&fe);
    build_backend(&be);
    if (fe.err || be.err) {
        fprintf(stderr, "codec_bench: building the streams failed\n");
        return 1;
    }
    bench("frontend", &fe, PGR_PHASE_FRONTEND, 1, secs);
    bench("backend", &be, PGR_PHASE_BACKEND, 1, secs);
    bench("relay", &be, PGR_PHASE_BACKEND, 0, secs);
    pgr_writer_free(&fe);
    pgr_writer_free(&be);
    return 0;
}

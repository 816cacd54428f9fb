/* Verify mode of the broadcast merge (merge.h): instead of the union, each result set becomes
 * one row per node that answered — node id, row count, a 64-bit hash of what it returned — and
 * a WARNING names the nodes whose (count, hash) differs from the majority's.
 *
 * The hash: SipHash-2-4 (fixed key) of each DataRow body as the node sent it (its column
 * count, then each value's length and bytes: unambiguous, NULL included), in the format the
 * client asked for, which every node was asked alike. Combined in row order when the statement
 * has ORDER BY (each row hashed under a key taken from the hash so far), else as the sum
 * modulo 2^64 of the rows' hashes, which no order changes and which counts a duplicate row
 * twice. The node's RowDescription (names, types, typmods, formats: not the table OIDs,
 * which differ between independent nodes) is folded in, so schema drift shows as well: in
 * this mode a node whose RowDescription differs is not failed, its hash differs instead. */
#include <stdio.h>
#include <string.h>

#include "fanout/merge_int.h"

/* ---- SipHash-2-4 (Aumasson and Bernstein's reference, little-endian words) ------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                            \
    do {                                                                                    \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                           \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                              \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                              \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                           \
    } while (0)

static uint64_t
le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

static uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = (uint64_t)n << 56, m;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        m = le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t k = 0; i + k < n; k++)
        b |= (uint64_t)p[i + k] << (8 * k);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

#define K0 0x7067726f75746572ULL /* "pgrouter" */
#define K1 0x7665726966792121ULL /* "verify!!" */

static void
put_le64(uint8_t *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

/* ---- the result set ---------------------------------------------------------------------- */

int
pgr_merge_verify_rowdesc(pgr_merge_t *m, int i, bool first, const uint8_t *body, size_t len,
                         pgr_writer_t *out)
{
    mnode_t *nd = &m->nodes[i];
    pgr_be_rowdesc_t t;
    pgr_be_rowdesc_iter_t it;
    pgr_be_field_t f;
    uint8_t num[12];

    if (pgr_be_rowdesc_decode(body, len, &t) != 0)
        return PGR_EPROTO;
    uint64_t h = siphash(K0, K1, (const uint8_t *)"T", 1) ^ (uint64_t)t.nfields;
    pgr_be_rowdesc_iter(&t, &it);
    while (pgr_be_rowdesc_next(&it, &f)) {
        h = siphash(K0 ^ h, K1, (const uint8_t *)f.name, strlen(f.name) + 1);
        num[0] = (uint8_t)(f.type_oid >> 24);
        num[1] = (uint8_t)(f.type_oid >> 16);
        num[2] = (uint8_t)(f.type_oid >> 8);
        num[3] = (uint8_t)f.type_oid;
        num[4] = (uint8_t)(f.typlen >> 8);
        num[5] = (uint8_t)f.typlen;
        num[6] = (uint8_t)(f.typmod >> 24);
        num[7] = (uint8_t)(f.typmod >> 16);
        num[8] = (uint8_t)(f.typmod >> 8);
        num[9] = (uint8_t)f.typmod;
        num[10] = (uint8_t)(f.format >> 8);
        num[11] = (uint8_t)f.format;
        h = siphash(K0 ^ h, K1, num, sizeof(num));
    }
    nd->vrd = h;
    m->rd_fresh = true;
    if (first) {
        static const pgr_be_field_t cols[3] = {
            { .name = "node", .type_oid = PGR_OID_TEXT, .typlen = -1, .typmod = -1 },
            { .name = "rows", .type_oid = PGR_OID_INT8, .typlen = 8, .typmod = -1 },
            { .name = "hash", .type_oid = PGR_OID_TEXT, .typlen = -1, .typmod = -1 },
        };
        pgr_merge_flush_warnings(m, out);
        (void)pgr_be_write_rowdesc(out, 3, cols);
    }
    return 0;
}

void
pgr_merge_verify_start(pgr_merge_t *m)
{
    m->rs.mode = RS_VERIFY;
    for (int j = 0; j < m->n; j++) {
        m->nodes[j].vrows = 0;
        m->nodes[j].vhash = 0;
    }
}

void
pgr_merge_verify_row(pgr_merge_t *m, int i, const uint8_t *body, size_t len)
{
    mnode_t *nd = &m->nodes[i];

    nd->vrows++;
    if (m->plan.ordered)
        nd->vhash = siphash(K0 ^ nd->vhash, K1 ^ nd->vrows, body, len);
    else
        nd->vhash += siphash(K0, K1, body, len);
}

/* Node j's result in one number: its RowDescription, its rows' hash and their count. */
static uint64_t
final_hash(const mnode_t *nd)
{
    uint8_t b[24];
    put_le64(b, nd->vrd);
    put_le64(b + 8, nd->vhash);
    put_le64(b + 16, nd->vrows);
    return siphash(K0, K1, b, sizeof(b));
}

/* The WARNING when the live nodes' results are not all equal: the nodes outside the largest
 * group of equal results, or, when two groups tie for largest, every group. */
static void
disagreement(pgr_merge_t *m, const uint64_t *fh, pgr_writer_t *out)
{
    int n = m->n, best = -1, best_size = 0, groups = 0;
    bool tie = false;

    for (int j = 0; j < n; j++) {
        if (m->nodes[j].failed)
            continue;
        bool seen = false;
        for (int k = 0; k < j && !seen; k++)
            seen = !m->nodes[k].failed && fh[k] == fh[j];
        if (seen)
            continue;
        groups++;
        int size = 0;
        for (int k = j; k < n; k++)
            size += !m->nodes[k].failed && fh[k] == fh[j];
        if (size > best_size) {
            best = j;
            best_size = size;
            tie = false;
        } else if (size == best_size) {
            tie = true;
        }
    }
    if (groups <= 1)
        return;
    pgr_merge_sb_t msg = {0}, det = {0};
    if (!tie) {
        int differ = 0;
        for (int j = 0; j < n; j++)
            differ += !m->nodes[j].failed && fh[j] != fh[best];
        pgr_merge_sb_printf(&msg, "pgrouter: verify: node%s ", differ > 1 ? "s" : "");
        int k = 0;
        for (int j = 0; j < n; j++)
            if (!m->nodes[j].failed && fh[j] != fh[best])
                pgr_merge_sb_printf(&msg, "%s%s", k++ ? ", " : "", m->nodes[j].id);
        pgr_merge_sb_printf(&msg, " differ%s from the majority (", differ > 1 ? "" : "s");
        k = 0;
        for (int j = 0; j < n; j++)
            if (!m->nodes[j].failed && fh[j] == fh[best])
                pgr_merge_sb_printf(&msg, "%s%s", k++ ? ", " : "", m->nodes[j].id);
        pgr_merge_sb_printf(&msg, ")");
    } else {
        pgr_merge_sb_printf(&msg, "pgrouter: verify: the nodes disagree and no result has a "
                                  "majority: ");
        for (int j = 0, g = 0; j < n; j++) {
            bool seen = m->nodes[j].failed;
            for (int k = 0; k < j && !seen; k++)
                seen = !m->nodes[k].failed && fh[k] == fh[j];
            if (seen)
                continue;
            pgr_merge_sb_printf(&msg, "%s", g++ ? " | " : "");
            for (int k = j, c = 0; k < n; k++)
                if (!m->nodes[k].failed && fh[k] == fh[j])
                    pgr_merge_sb_printf(&msg, "%s%s", c++ ? ", " : "", m->nodes[k].id);
        }
    }
    pgr_merge_sb_printf(&det, "%s", m->plan.ordered
                                        ? "The rows were compared in order (the statement has "
                                          "ORDER BY)."
                                        : "The rows were compared as a multiset (no ORDER BY).");
    if (msg.oom || det.oom)
        pgr_writer_fail(out, PGR_ENOMEM);
    else
        (void)pgr_be_write_error(out, true, "WARNING", "01000", msg.p, det.p, NULL);
    free(msg.p);
    free(det.p);
}

int
pgr_merge_verify_finish(pgr_merge_t *m, pgr_writer_t *out)
{
    uint64_t *fh = calloc((size_t)m->n, sizeof(*fh));
    uint64_t rows = 0;
    char count[24], hash[24], tag[40];

    if (fh == NULL)
        return PGR_ENOMEM;
    for (int j = 0; j < m->n; j++)
        fh[j] = final_hash(&m->nodes[j]);
    pgr_merge_flush_warnings(m, out);
    disagreement(m, fh, out);
    for (int j = 0; j < m->n; j++) {
        const mnode_t *nd = &m->nodes[j];
        if (nd->failed)
            continue;
        int cl = snprintf(count, sizeof(count), "%llu", (unsigned long long)nd->vrows);
        int hl = snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)fh[j]);
        pgr_value_t v[3] = {
            { (const uint8_t *)nd->id, (int32_t)strlen(nd->id) },
            { (const uint8_t *)count, cl },
            { (const uint8_t *)hash, hl },
        };
        (void)pgr_be_write_datarow(out, 3, v);
        rows++;
    }
    for (int j = 0; j < m->n; j++)
        m->nodes[j].vrd = 0;
    snprintf(tag, sizeof(tag), "SELECT %llu", (unsigned long long)rows);
    (void)pgr_be_write_complete(out, tag);
    free(fh);
    return out->err;
}

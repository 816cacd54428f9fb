/* Prepared statements: a client's, by name and by sequence number, and their server names. */
#include <stdio.h>
#include <string.h>

#include "session/stmts.h"

pgr_stmt_t *
pgr_stmts_find(pgr_stmts_t *s, const char *name)
{
    uint32_t i = pgr_u64map_get(&s->by_name, pgr_u64map_hash_str(name));

    if (i != PGR_U64MAP_EMPTY && strcmp(s->v[i].name, name) == 0)
        return &s->v[i];
    if (!s->collided)
        return NULL;
    for (size_t j = 0; j < s->n; j++)
        if (strcmp(s->v[j].name, name) == 0)
            return &s->v[j];
    return NULL;
}

pgr_stmt_t *
pgr_stmts_by_seq(pgr_stmts_t *s, uint32_t seq)
{
    uint32_t i = pgr_u64map_get(&s->by_seq, seq);

    return i == PGR_U64MAP_EMPTY ? NULL : &s->v[i];
}

pgr_stmt_t *
pgr_stmts_add(pgr_stmts_t *s, const char *name, const uint8_t *rest, size_t rest_len)
{
    pgr_stmt_t *st = pgr_stmts_find(s, name);
    uint8_t *copy = malloc(rest_len ? rest_len : 1);
    uint32_t idx;

    if (copy == NULL)
        return NULL;
    memcpy(copy, rest, rest_len);
    if (st == NULL) {
        if (s->n >= PGR_STMTS_MAX)
            goto fail;
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 8;
            pgr_stmt_t *nv = realloc(s->v, ncap * sizeof(*nv));
            if (nv == NULL)
                goto fail;
            s->v = nv;
            s->cap = ncap;
        }
        uint64_t h = pgr_u64map_hash_str(name);
        uint32_t other = pgr_u64map_get(&s->by_name, h);
        idx = (uint32_t)s->n;
        st = &s->v[idx];
        if ((st->name = strdup(name)) == NULL)
            goto fail;
        if (pgr_u64map_put(&s->by_seq, s->next_seq + 1, idx) != 0 ||
            (other == PGR_U64MAP_EMPTY && pgr_u64map_put(&s->by_name, h, idx) != 0)) {
            pgr_u64map_del(&s->by_seq, s->next_seq + 1);
            free(st->name);
            goto fail;
        }
        if (other != PGR_U64MAP_EMPTY)
            s->collided = true; /* the first keeps the slot; this one is found by a scan */
        s->n++;
    } else {
        idx = (uint32_t)(st - s->v);
        if (pgr_u64map_put(&s->by_seq, s->next_seq + 1, idx) != 0)
            goto fail;
        pgr_u64map_del(&s->by_seq, st->seq);
        free(st->rest);
    }
    st->rest = copy;
    st->rest_len = rest_len;
    st->seq = ++s->next_seq;
    st->plain = false; /* the caller that classified it may say otherwise */
    return st;
fail:
    free(copy);
    return NULL;
}

void
pgr_stmts_remove(pgr_stmts_t *s, const char *name)
{
    pgr_stmt_t *st = pgr_stmts_find(s, name);

    if (st == NULL)
        return;
    uint32_t i = (uint32_t)(st - s->v), last = (uint32_t)(s->n - 1);
    uint64_t h = pgr_u64map_hash_str(st->name);
    if (pgr_u64map_get(&s->by_name, h) == i)
        pgr_u64map_del(&s->by_name, h);
    pgr_u64map_del(&s->by_seq, st->seq);
    free(st->name);
    free(st->rest);
    if (i != last) { /* the last one fills the hole; both maps replace in place (no growth) */
        *st = s->v[last];
        uint64_t hl = pgr_u64map_hash_str(st->name);
        if (pgr_u64map_get(&s->by_name, hl) == last)
            (void)pgr_u64map_put(&s->by_name, hl, i);
        (void)pgr_u64map_put(&s->by_seq, st->seq, i);
    }
    s->n--;
    if (s->collided) /* re-home a name that lost its slot to the removed one */
        for (uint32_t j = 0; j < s->n; j++) {
            uint64_t hj = pgr_u64map_hash_str(s->v[j].name);
            if (pgr_u64map_get(&s->by_name, hj) == PGR_U64MAP_EMPTY)
                (void)pgr_u64map_put(&s->by_name, hj, j);
        }
}

void
pgr_stmts_free(pgr_stmts_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].rest);
    }
    free(s->v);
    pgr_u64map_free(&s->by_name);
    pgr_u64map_free(&s->by_seq);
    memset(s, 0, sizeof(*s));
}

void
pgr_stmt_key_name(char *buf, size_t cap, uint64_t key)
{
    uint32_t seq = (uint32_t)key;

    snprintf(buf, cap, "pgr_%llu_%s%u", (unsigned long long)(key >> 32),
             seq & PGR_STMT_BCAST_BIT ? "b" : "", seq & ~PGR_STMT_BCAST_BIT);
}

void
pgr_stmt_server_name(char *buf, size_t cap, uint64_t client_id, uint32_t seq)
{
    pgr_stmt_key_name(buf, cap, pgr_stmt_key(client_id, seq, PGR_STMT_RELAY));
}

/* ---- sets of sequence numbers ------------------------------------------------------------- */

int
pgr_stmt_seqs_add(pgr_stmt_seqs_t *v, uint32_t seq)
{
    if (pgr_stmt_seqs_has(v, seq))
        return 0;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        uint32_t *n = realloc(v->v, cap * sizeof(*n));
        if (n == NULL)
            return PGR_ENOMEM;
        v->v = n;
        v->cap = cap;
    }
    v->v[v->n++] = seq;
    return 0;
}

bool
pgr_stmt_seqs_has(const pgr_stmt_seqs_t *v, uint32_t seq)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i] == seq)
            return true;
    return false;
}

void
pgr_stmt_seqs_free(pgr_stmt_seqs_t *v)
{
    free(v->v);
    memset(v, 0, sizeof(*v));
}

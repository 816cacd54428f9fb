/* Carrying session state: see carry.h.
 *
 * cl->extras holds the client's startup settings as SET statements, followed by every
 * session-level SET / RESET of an unreported setting it ran since; put_settings replays it
 * (after RESET ALL) on a connection whose ledger has other extras. A RESET returns to the
 * client's startup value, not the server connection's: the query gets the startup SET for that
 * setting appended (its CommandComplete cut out by the relay), and extras get "RESET x;" plus
 * the same SET, so a replay ends where the client is. */
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "route/classify.h"
#include "session/carry.h"
#include "session/state.h"

#define EXTRAS_MAX 16384 /* past it, a session SET pins instead of being carried */

/* ---- pending changes --------------------------------------------------------------------- */

static int
change(pgr_client_t *cl, uint32_t seg, uint8_t kind, const char *text, size_t len)
{
    char *copy = NULL;

    if (text && (copy = malloc(len + 1)) == NULL)
        return PGR_ENOMEM;
    if (text) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    if (cl->n_changes == cl->cap_changes) {
        size_t cap = cl->cap_changes ? cl->cap_changes * 2 : 4;
        pgr_carry_change_t *v = realloc(cl->changes, cap * sizeof(*v));
        if (v == NULL) {
            free(copy);
            return PGR_ENOMEM;
        }
        cl->changes = v;
        cl->cap_changes = cap;
    }
    cl->changes[cl->n_changes++] = (pgr_carry_change_t){.seg = seg, .kind = kind, .text = copy};
    return 0;
}

/* Extras as the pending changes will leave them: their length decides whether one more SET
 * still fits. */
static size_t
extras_len(const pgr_client_t *cl)
{
    size_t n = cl->extras ? strlen(cl->extras) : 0;

    for (size_t i = 0; i < cl->n_changes; i++) {
        const pgr_carry_change_t *c = &cl->changes[i];
        size_t t = c->text ? strlen(c->text) : 0;
        n = c->kind == 'A' ? n + t : c->kind == 'R' || c->kind == 'D' ? t : n;
    }
    return n;
}

static void
apply(pgr_client_t *cl, const pgr_carry_change_t *c)
{
    pgr_srv_state_t *st = cl->srv ? pgr_server_get_data(cl->srv) : NULL;
    char *n = NULL;

    if (c->kind == 'A') {
        size_t have = cl->extras ? strlen(cl->extras) : 0, add = strlen(c->text);
        if ((n = realloc(cl->extras, have + add + 1)) == NULL)
            goto nomem;
        memcpy(n + have, c->text, add + 1);
    } else if (c->text && (n = strdup(c->text)) == NULL) {
        goto nomem;
    } else if (c->kind == 'R' || c->kind == 'D') {
        free(cl->extras);
    }
    cl->extras = n;
    if (c->kind == 'D') {
        /* DISCARD ALL deallocated every prepared statement, the client's and any other on
         * the connection. */
        pgr_stmts_free(&cl->stmts);
        if (st)
            pgr_srv_state_forget_all(st);
    }
    if (st) { /* the server ran it: it has what the client has */
        free(st->extras);
        st->extras = cl->extras ? strdup(cl->extras) : NULL;
    }
    return;
nomem:
    pgr_warn("carry", "client %llu: out of memory carrying a setting",
             (unsigned long long)cl->id);
}

void
pgr_carry_segment_end(pgr_client_t *cl, uint32_t seg, bool failed)
{
    size_t i = 0, kept = 0;

    for (; i < cl->n_changes; i++) {
        pgr_carry_change_t *c = &cl->changes[i];
        if (c->seg > seg) {
            cl->changes[kept++] = *c;
            continue;
        }
        if (!failed && c->seg == seg)
            apply(cl, c);
        free(c->text);
    }
    cl->n_changes = kept;
}

void
pgr_carry_forget(pgr_client_t *cl)
{
    for (size_t i = 0; i < cl->n_changes; i++)
        free(cl->changes[i].text);
    cl->n_changes = 0;
}

/* ---- pins ------------------------------------------------------------------------------ */

/* The statement text[0..len) makes state that cannot move (reason): the connection's ledger
 * records it (its release then resets or closes it), and in transaction mode the client keeps
 * the connection until it leaves. */
static void
pin(pgr_client_t *cl, const char *reason, const char *text, size_t len)
{
    pgr_srv_state_note_pin(pgr_server_get_data(cl->srv), reason, text, len);
    if (cl->pinned || cl->rt->cfg->pool.mode != PGR_POOL_TRANSACTION)
        return;
    cl->pinned = true;
    cl->pin_reason = reason;
    cl->rt->stats.pinned++;
    pgr_info_rl("carry", "client %llu pinned to its server connection on node %s: %s",
             (unsigned long long)cl->id, cl->node_id, reason);
}

/* ---- RESET ----------------------------------------------------------------------------- */

/* The client's startup settings (other than application_name and client_encoding) as SET
 * statements: the one named name, or all when name is NULL; NULL when there is none. Caller
 * frees. */
static char *
startup_sets(const pgr_client_t *cl, const char *name)
{
    const char *err;

    return name ? pgr_state_startup_setting(cl->startup_params, cl->startup_params_len, name)
                : pgr_state_startup_extras(cl->startup_params, cl->startup_params_len, &err);
}

/* Append to w the SETs that give back the client's startup value of name (every one when name
 * is NULL): application_name (empty when it sent none, as PostgreSQL), client_encoding when it
 * sent one, and its other startup settings. */
static void
put_startup(const pgr_client_t *cl, const char *name, pgr_writer_t *w)
{
    if (name == NULL || strcmp(name, "application_name") == 0)
        pgr_state_put_set(w, "application_name",
                          cl->application_name ? cl->application_name : "");
    if ((name == NULL || strcmp(name, "client_encoding") == 0) && cl->client_encoding &&
        strcasecmp(cl->client_encoding, "auto") != 0)
        pgr_state_put_set(w, "client_encoding", cl->client_encoding);
    if (name && (strcmp(name, "application_name") == 0 || strcmp(name, "client_encoding") == 0))
        return;
    char *sets = startup_sets(cl, name);
    if (sets)
        pgr_writer_put_bytes(w, sets, strlen(sets));
    free(sets);
}

/* One RESET-like statement (kind, name) in segment seg: restore gets what puts the client's
 * startup values back on the server; the change to extras waits for the server. */
static int
reset(pgr_client_t *cl, pgr_reset_t kind, const char *name, uint32_t seg, bool in_txn,
      pgr_writer_t *restore)
{
    pgr_writer_t w;
    int rc = 0;

    put_startup(cl, kind == PGR_RESET_ONE ? name : NULL, restore);
    if (!cl->rewrite || in_txn)
        return 0; /* one server connection, or the caller pins */
    pgr_writer_init_grow(&w);
    if (kind == PGR_RESET_ONE) {
        /* "RESET x;" then the startup value, so a replay ends where the client is. */
        pgr_writer_put_bytes(&w, "RESET \"", 7);
        for (const char *p = name; *p; p++) {
            if (*p == '"')
                pgr_writer_put_u8(&w, '"');
            pgr_writer_put_u8(&w, (uint8_t)*p);
        }
        pgr_writer_put_bytes(&w, "\";", 2);
    }
    /* Tracked settings come back through ParameterStatus; extras keep the others. */
    char *sets = startup_sets(cl, kind == PGR_RESET_ONE ? name : NULL);
    if (sets)
        pgr_writer_put_bytes(&w, sets, strlen(sets));
    free(sets);
    if (w.err)
        rc = w.err;
    else if (kind == PGR_RESET_ONE)
        rc = change(cl, seg, 'A', (const char *)w.buf, w.len);
    else
        rc = change(cl, seg, kind == PGR_RESET_DISCARD_ALL ? 'D' : 'R',
                    w.len ? (const char *)w.buf : NULL, w.len);
    pgr_writer_free(&w);
    return rc;
}

/* ---- statements ---------------------------------------------------------------------------- */

static int
note(pgr_client_t *cl, const char *sql, size_t len, uint32_t seg, pgr_writer_t *restore,
     const pgr_classification_t **out)
{
    const pgr_classification_t *c;
    int rc = pgr_classify(cl->rt->classifier, sql, len, &c);
    bool in_txn = cl->txn != 'I' || cl->held_begin;

    if (rc != 0)
        return rc;
    *out = c;
    pgr_srv_state_t *ledger = pgr_server_get_data(cl->srv);
    if (ledger && c->cls != PGR_CLASS_READ)
        ledger->sequences = true; /* nextval(), or an INSERT's serial default */
    for (int i = 0; i < c->n_stmts && rc == 0; i++) {
        const pgr_stmt_info_t *st = &c->stmts[i];
        if (st->text_offset + st->text_length > len)
            continue;
        const char *text = sql + st->text_offset;
        size_t tlen = st->text_length;
        char name[128];
        if (st->cls == PGR_CLASS_BEGIN) {
            /* What follows it, here or in later messages before its ReadyForQuery, runs inside
             * the transaction. */
            cl->txn = 'T';
            in_txn = true;
            continue;
        }
        pgr_reset_t kind = st->cls == PGR_CLASS_SET && st->pgrvar == PGR_PGRVAR_NONE
                               ? pgr_state_reset_kind(text, tlen, name, sizeof(name))
                               : PGR_RESET_NONE;
        if (kind != PGR_RESET_NONE) {
            if (restore)
                rc = reset(cl, kind, name, seg, in_txn, restore);
            if (in_txn)
                pin(cl, "RESET inside a transaction", text, tlen);
            else if (!restore)
                pin(cl, "RESET in the extended protocol", text, tlen);
            continue;
        }
        if (cl->pinned)
            continue;
        if (st->cls == PGR_CLASS_SET && tlen >= 7 && strncasecmp(text, "DISCARD", 7) == 0)
            continue; /* PLANS, SEQUENCES, TEMP: they make nothing */
        bool session_set = st->cls == PGR_CLASS_SET && !st->set_local &&
                           st->pgrvar == PGR_PGRVAR_NONE && !st->read_only_txn &&
                           !pgr_state_is_set_transaction(text, tlen) &&
                           (!st->pins || st->session_set);
        /* A SET of a reported setting moves with the client (see session/state.h). */
        if (session_set && pgr_state_set_is_tracked(text, tlen))
            continue;
        if (session_set && cl->rewrite) {
            /* Carried from the end of its segment, if the server took it. */
            if (in_txn || extras_len(cl) + tlen + 2 > EXTRAS_MAX) {
                pin(cl, "SET inside a transaction", text, tlen);
            } else {
                char *s = malloc(tlen + 2);
                if (s == NULL)
                    return PGR_ENOMEM;
                memcpy(s, text, tlen);
                s[tlen] = ';';
                rc = change(cl, seg, 'A', s, tlen + 1);
                free(s);
            }
            continue;
        }
        if (st->pins)
            pin(cl, st->pin_reason, text, tlen);
    }
    return rc;
}

bool
pgr_carry_is_plain(const pgr_classification_t *c)
{
    if (c->parse_error || (c->cls != PGR_CLASS_READ && c->cls != PGR_CLASS_WRITE))
        return false;
    for (int i = 0; i < c->n_stmts; i++)
        if (c->stmts[i].pins || c->stmts[i].cls == PGR_CLASS_SET ||
            c->stmts[i].cls == PGR_CLASS_BEGIN)
            return false;
    return true;
}

void
pgr_carry_plain_bind(pgr_client_t *cl, int cls)
{
    pgr_srv_state_t *ledger;

    if (cls != PGR_CLASS_READ && (ledger = pgr_server_get_data(cl->srv)) != NULL)
        ledger->sequences = true; /* as note() does */
}

int
pgr_carry_query(pgr_client_t *cl, const char *sql, size_t len, uint32_t seg,
                pgr_writer_t *restore, int *n_client, bool *alone)
{
    const pgr_classification_t *c = NULL;
    int rc = note(cl, sql, len, seg, restore, &c);
    char name[8];

    *alone = c && c->n_stmts == 1 &&
             pgr_state_reset_kind(sql, len, name, sizeof(name)) == PGR_RESET_DISCARD_ALL;

    *n_client = c && !c->parse_error ? c->n_stmts : 0;
    if (c == NULL || c->parse_error)
        restore->len = 0; /* the server answers; nothing of ours goes after it */
    return rc;
}

int
pgr_carry_statement(pgr_client_t *cl, const char *sql, size_t len, uint32_t seg,
                    pgr_stmt_class_t *cls)
{
    const pgr_classification_t *c = NULL;
    int rc = note(cl, sql, len, seg, NULL, &c);

    if (cls && c)
        *cls = c->cls;
    return rc;
}

/* sql past leading white space and the keyword kw and the white space after it; NULL when sql
 * does not start with kw as a whole word. Cheap: this runs on every statement. */
static const char *
skip_keyword(const char *sql, const char *kw)
{
    size_t n = strlen(kw);

    while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
        sql++;
    if (strncasecmp(sql, kw, n) != 0 ||
        (sql[n] != '\0' && sql[n] != ' ' && sql[n] != '\t' && sql[n] != '\n' && sql[n] != '\r'))
        return NULL;
    sql += n;
    while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
        sql++;
    return sql;
}

const char *
pgr_carry_deallocate(pgr_client_t *cl, const char *sql, char *buf, size_t cap)
{
    char name[128], tail[8];
    const char *p;

    if (!cl->rewrite || (sql = skip_keyword(sql, "DEALLOCATE")) == NULL)
        return NULL;
    if ((p = skip_keyword(sql, "PREPARE")) != NULL)
        sql = p;
    if (sscanf(sql, " %127[^; \t\n] %7s", name, tail) != 1 &&
        !(sscanf(sql, " %127[^; \t\n] %7s", name, tail) == 2 && strcmp(tail, ";") == 0))
        return NULL;
    if (strcasecmp(name, "ALL") == 0) {
        pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
        if (st)
            pgr_srv_state_forget_all(st);
        pgr_stmts_free(&cl->stmts);
        return NULL;
    }
    if (name[0] == '"') { /* a quoted identifier */
        size_t l = strlen(name);
        if (l < 2 || name[l - 1] != '"')
            return NULL;
        memmove(name, name + 1, l - 2);
        name[l - 2] = '\0';
    }
    char sname[48];
    pgr_stmt_t *sm = pgr_stmts_find(&cl->stmts, name);
    if (sm == NULL)
        return NULL;
    pgr_stmt_server_name(sname, sizeof(sname), cl->id, sm->seq);
    pgr_srv_state_t *st = pgr_server_get_data(cl->srv);
    if (st)
        pgr_srv_state_forget(st, cl->id << 32 | sm->seq);
    pgr_stmts_remove(&cl->stmts, name);
    snprintf(buf, cap, "DEALLOCATE %s", sname);
    return buf;
}

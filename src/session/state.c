/* Carried session state: tracked settings, startup settings, and the ledger of what a server
 * connection carries (prepared statements are in stmts.c). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "session/state.h"

static const char *const param_names[] = {
#define PGR_TRACKED_NAME(name, text) text,
    PGR_TRACKED_PARAMS(PGR_TRACKED_NAME)
#undef PGR_TRACKED_NAME
};

const char *const pgr_reported_params[PGR_N_REPORTED_PARAMS] = {
    "application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
    "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
    "server_version", "session_authorization", "standard_conforming_strings", "TimeZone",
};

int
pgr_params_index(const char *name)
{
    for (int i = 0; i < PGR_N_PARAMS; i++)
        if (strcasecmp(name, param_names[i]) == 0)
            return i;
    return -1;
}

const char *
pgr_params_name(int i)
{
    return i >= 0 && i < PGR_N_PARAMS ? param_names[i] : NULL;
}

int
pgr_params_set(pgr_params_t *p, int i, const char *value)
{
    char *copy = NULL;

    if (value && (copy = strdup(value)) == NULL)
        return PGR_ENOMEM;
    free(p->v[i]);
    p->v[i] = copy;
    return 0;
}

void
pgr_params_free(pgr_params_t *p)
{
    for (int i = 0; i < PGR_N_PARAMS; i++) {
        free(p->v[i]);
        p->v[i] = NULL;
    }
}

/* ---- server records ------------------------------------------------------------------------ */

pgr_srv_state_t *
pgr_srv_state_new(void)
{
    pgr_srv_state_t *st = calloc(1, sizeof(pgr_srv_state_t));

    if (st)
        st->head = st->tail = st->free_ent = UINT32_MAX; /* the statement list is empty */
    return st;
}

void
pgr_srv_state_free(void *p)
{
    pgr_srv_state_t *st = p;

    if (st == NULL)
        return;
    pgr_params_free(&st->params);
    free(st->extras);
    free(st->lru);
    pgr_u64map_free(&st->by_key);
    free(st);
}

pgr_ledger_release_t
pgr_srv_state_release(const pgr_srv_state_t *st, bool at_boundary, bool session_mode,
                      const char **why)
{
    if (!at_boundary) {
        *why = "in a transaction or with a message in flight";
        return PGR_LEDGER_CLOSE;
    }
    if (st && st->keep_out) {
        *why = st->keep_out;
        return PGR_LEDGER_CLOSE;
    }
    if (st && st->pin) {
        *why = st->pin;
        return PGR_LEDGER_RESET;
    }
    if (session_mode) {
        *why = "session mode";
        return PGR_LEDGER_RESET;
    }
    *why = NULL;
    return PGR_LEDGER_KEEP;
}

/* Does this SET / RESET / set_config() name a setting with a dot in it (a placeholder, which
 * stays defined — as an empty string — after RESET ALL and DISCARD ALL)? */
static bool
names_placeholder(const char *sql, size_t len)
{
    size_t i = 0;

    for (; i + 10 <= len; i++) /* SELECT ... set_config(...) */
        if (strncasecmp(sql + i, "set_config", 10) == 0)
            return true;
    /* SET [SESSION] name ...: the word after SET (and SESSION). */
    i = 0;
    const char *words[3];
    size_t lens[3];
    int n = 0;
    while (n < 3 && i < len) {
        while (i < len && isspace((unsigned char)sql[i]))
            i++;
        size_t start = i;
        while (i < len && !isspace((unsigned char)sql[i]) && sql[i] != '=')
            i++;
        if (i == start)
            break;
        words[n] = sql + start;
        lens[n++] = i - start;
    }
    if (n < 2 || lens[0] != 3 || strncasecmp(words[0], "SET", 3) != 0)
        return false;
    int k = lens[1] == 7 && strncasecmp(words[1], "SESSION", 7) == 0 ? 2 : 1;
    return k < n && memchr(words[k], '.', lens[k]) != NULL;
}

void
pgr_srv_state_note_pin(pgr_srv_state_t *st, const char *reason, const char *sql, size_t len)
{
    if (st == NULL)
        return;
    if (reason && strcmp(reason, "LOAD") == 0)
        st->keep_out = "LOAD";
    else if (reason && strncmp(reason, "CREATE TEMP", 11) == 0)
        /* DISCARD ALL drops temporary objects but keeps the backend's temporary schema, which a
         * fresh connection does not have (PostgreSQL's temp regression test sees it). */
        st->keep_out = "a temporary schema";
    else if (!st->keep_out && names_placeholder(sql, len))
        st->keep_out = "a placeholder setting (set_config() or SET of a dotted name)";
    if (reason && !st->pin)
        st->pin = reason;
}

/* ---- the ledger's statements: an LRU list indexed by key --------------------------------- */

#define NIL UINT32_MAX

struct pgr_lru_ent {
    uint64_t key;
    uint32_t prev, next; /* NIL at the ends; next links the free entries too */
};

static void
lru_unlink(pgr_srv_state_t *st, uint32_t i)
{
    struct pgr_lru_ent *e = &st->lru[i];
    if (e->prev != NIL)
        st->lru[e->prev].next = e->next;
    else
        st->head = e->next;
    if (e->next != NIL)
        st->lru[e->next].prev = e->prev;
    else
        st->tail = e->prev;
}

static void
lru_append(pgr_srv_state_t *st, uint32_t i)
{
    st->lru[i].prev = st->tail;
    st->lru[i].next = NIL;
    if (st->tail != NIL)
        st->lru[st->tail].next = i;
    else
        st->head = i;
    st->tail = i;
}

bool
pgr_srv_state_has(const pgr_srv_state_t *st, uint64_t key)
{
    return pgr_u64map_get(&st->by_key, key) != PGR_U64MAP_EMPTY;
}

void
pgr_srv_state_touch(pgr_srv_state_t *st, uint64_t key)
{
    uint32_t i = pgr_u64map_get(&st->by_key, key);

    if (i == PGR_U64MAP_EMPTY || i == st->tail)
        return;
    lru_unlink(st, i);
    lru_append(st, i);
}

void
pgr_srv_state_forget(pgr_srv_state_t *st, uint64_t key)
{
    uint32_t i = pgr_u64map_get(&st->by_key, key);

    if (i == PGR_U64MAP_EMPTY)
        return;
    lru_unlink(st, i);
    pgr_u64map_del(&st->by_key, key);
    st->lru[i].next = st->free_ent;
    st->free_ent = i;
    st->n_stmts--;
}

void
pgr_srv_state_forget_all(pgr_srv_state_t *st)
{
    st->head = st->tail = st->free_ent = NIL;
    st->n_stmts = 0;
    st->cap_lru = 0;
    free(st->lru);
    st->lru = NULL;
    pgr_u64map_clear(&st->by_key);
}

bool
pgr_srv_state_add(pgr_srv_state_t *st, uint64_t key, uint64_t *evicted)
{
    bool ev = false;
    uint32_t i;

    if (st->cap_lru == 0)
        st->head = st->tail = st->free_ent = NIL;
    if (pgr_srv_state_has(st, key)) {
        pgr_srv_state_touch(st, key);
        return false;
    }
    if (st->free_ent == NIL) {
        size_t ncap = st->cap_lru ? st->cap_lru * 2 : 16;
        struct pgr_lru_ent *nv = realloc(st->lru, ncap * sizeof(*nv));
        if (nv == NULL && st->head == NIL)
            return false; /* out of memory with nothing to give up: not recorded */
        if (nv == NULL) {
            /* Out of memory: give up the least recently used instead of growing. */
            *evicted = st->lru[st->head].key;
            pgr_srv_state_forget(st, *evicted);
            ev = true;
        } else {
            for (size_t j = st->cap_lru; j < ncap; j++)
                nv[j].next = j + 1 < ncap ? (uint32_t)(j + 1) : NIL;
            st->free_ent = (uint32_t)st->cap_lru;
            st->lru = nv;
            st->cap_lru = ncap;
        }
    }
    i = st->free_ent;
    if (pgr_u64map_put(&st->by_key, key, i) != 0)
        return ev; /* not recorded: a later Bind prepares it again under a new name */
    st->free_ent = st->lru[i].next;
    st->lru[i].key = key;
    lru_append(st, i);
    st->n_stmts++;
    if (!ev && st->n_stmts > PGR_SERVER_STMTS_MAX) {
        *evicted = st->lru[st->head].key;
        pgr_srv_state_forget(st, *evicted);
        ev = true;
    }
    return ev;
}

/* ---- startup settings ---------------------------------------------------------------------- */

void
pgr_state_put_set(pgr_writer_t *w, const char *name, const char *value)
{
    bool backslash = strchr(value, '\\') != NULL;

    pgr_writer_put_bytes(w, "SET ", 4);
    /* name is a GUC name: letters, digits, '_' and '.'; quote it as an identifier. */
    pgr_writer_put_u8(w, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            pgr_writer_put_u8(w, '"');
        pgr_writer_put_u8(w, (uint8_t)*p);
    }
    pgr_writer_put_bytes(w, "\" TO ", 5);
    if (backslash)
        pgr_writer_put_u8(w, 'E');
    pgr_writer_put_u8(w, '\'');
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || (backslash && *p == '\\'))
            pgr_writer_put_u8(w, (uint8_t)*p);
        pgr_writer_put_u8(w, (uint8_t)*p);
    }
    pgr_writer_put_bytes(w, "';", 2);
}

static bool
carried_elsewhere(const char *name)
{
    static const char *const skip[] = { "user", "database", "replication", "options",
                                        "application_name", "client_encoding" };
    for (size_t i = 0; i < PGR_ARRAY_LEN(skip); i++)
        if (strcmp(name, skip[i]) == 0)
            return true;
    return strncmp(name, "_pq_.", 5) == 0;
}

/* Next whitespace-separated word of an options string, with backslash escapes, into buf. */
static const char *
next_word(const char *p, char *buf, size_t cap)
{
    size_t n = 0;

    while (*p && isspace((unsigned char)*p))
        p++;
    if (!*p)
        return NULL;
    while (*p && !isspace((unsigned char)*p)) {
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 < cap)
            buf[n++] = *p;
        p++;
    }
    buf[n] = '\0';
    return p;
}

/* "name=value" into a SET; false when there is no '=' or no name. */
/* Only the setting named only (case-insensitive), or every one when only is NULL. */
static bool
put_assignment(pgr_writer_t *w, char *kv, const char *only)
{
    char *eq = strchr(kv, '=');

    if (eq == NULL || eq == kv)
        return false;
    *eq = '\0';
    for (char *p = kv; *p; p++)
        if (*p == '-')
            *p = '_';
    if (only == NULL || strcasecmp(kv, only) == 0)
        pgr_state_put_set(w, kv, eq + 1);
    return true;
}

static char *startup_sets(const char *params, size_t len, const char *only, const char **err);

char *
pgr_state_startup_extras(const char *params, size_t len, const char **err)
{
    return startup_sets(params, len, NULL, err);
}

char *
pgr_state_startup_setting(const char *params, size_t len, const char *name)
{
    const char *err;
    return startup_sets(params, len, name, &err);
}

static char *
startup_sets(const char *params, size_t len, const char *only, const char **err)
{
    pgr_writer_t w;
    const char *p = params, *end = params + len;
    char word[1024];

    *err = NULL;
    pgr_writer_init_grow(&w);
    while (p < end && *p) {
        const char *name = p, *value = p + strlen(p) + 1;
        if (value >= end)
            break;
        p = value + strlen(value) + 1;
        if (strcmp(name, "options") == 0) {
            const char *q = value;
            while ((q = next_word(q, word, sizeof(word))) != NULL) {
                if (strcmp(word, "-c") == 0) {
                    if ((q = next_word(q, word, sizeof(word))) == NULL ||
                        !put_assignment(&w, word, only)) {
                        *err = "invalid command-line argument for server process: -c needs name=value";
                        goto fail;
                    }
                } else if (strncmp(word, "-c", 2) == 0 && put_assignment(&w, word + 2, only)) {
                    continue;
                } else if (strncmp(word, "--", 2) == 0 && put_assignment(&w, word + 2, only)) {
                    continue;
                } else {
                    *err = "invalid command-line argument for server process";
                    goto fail;
                }
            }
        } else if (!carried_elsewhere(name) && (only == NULL || strcasecmp(name, only) == 0)) {
            pgr_state_put_set(&w, name, value);
        }
    }
    if (w.err || w.len == 0)
        goto fail;
    pgr_writer_put_u8(&w, 0);
    return (char *)w.buf; /* taken: the caller frees it */
fail:
    pgr_writer_free(&w);
    return NULL;
}

bool
pgr_state_set_is_tracked(const char *sql, size_t len)
{
    const char *p = sql, *end = sql + len;
    char name[64];
    size_t n = 0;

    while (p < end && isspace((unsigned char)*p))
        p++;
    if ((size_t)(end - p) < 4 || strncasecmp(p, "SET", 3) != 0 || !isspace((unsigned char)p[3]))
        return false;
    p += 3;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if ((size_t)(end - p) > 8 && strncasecmp(p, "SESSION", 7) == 0 && isspace((unsigned char)p[7])) {
        p += 7;
        while (p < end && isspace((unsigned char)*p))
            p++;
    }
    bool quoted = p < end && *p == '"';
    if (quoted)
        p++;
    while (p < end && n + 1 < sizeof(name) && (isalnum((unsigned char)*p) || *p == '_'))
        name[n++] = *p++;
    name[n] = '\0';
    if (n == 0)
        return false;
    /* SET NAMES is client_encoding, SET TIME ZONE is TimeZone: both reported. */
    return pgr_params_index(name) >= 0 || (!quoted && (strcasecmp(name, "NAMES") == 0 ||
                                                      strcasecmp(name, "TIME") == 0));
}

bool
pgr_state_is_set_transaction(const char *sql, size_t len)
{
    const char *p = sql, *end = sql + len;

    if (len < 4 || strncasecmp(p, "SET", 3) != 0 || !isspace((unsigned char)p[3]))
        return false;
    p += 3;
    while (p < end && isspace((unsigned char)*p))
        p++;
    return (size_t)(end - p) >= 11 && strncasecmp(p, "TRANSACTION", 11) == 0 &&
           (end - p == 11 || isspace((unsigned char)p[11]));
}

/* ---- RESET --------------------------------------------------------------------------------- */

/* The next token of a statement: a word (an identifier, lower-cased, or a quoted one as written;
 * dots join the parts of a qualified name), or one punctuation byte. Whitespace and comments are
 * skipped. Returns the position after it, or NULL at the end; buf gets "" for a token too long. */
static const char *
next_token(const char *p, const char *end, char *buf, size_t cap)
{
    size_t n = 0;

    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
                q++;
            p = end - q >= 2 ? q + 2 : end;
        } else {
            break;
        }
    }
    if (p >= end)
        return NULL;
    buf[0] = '\0';
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '"' || (unsigned char)*p >= 0x80)) {
        if (cap > 1) {
            buf[0] = *p;
            buf[1] = '\0';
        }
        return p + 1;
    }
    while (p < end) {
        if (*p == '"') {
            for (p++; p < end; p++) {
                if (*p == '"' && !(end - p >= 2 && p[1] == '"'))
                    break;
                if (*p == '"')
                    p++;
                if (n + 1 < cap)
                    buf[n++] = *p;
            }
            if (p < end)
                p++;
        } else if (isalnum((unsigned char)*p) || *p == '_' || *p == '$' ||
                   (unsigned char)*p >= 0x80) {
            if (n + 1 < cap)
                buf[n++] = (char)tolower((unsigned char)*p);
            p++;
        } else {
            break;
        }
        if (p < end && *p == '.') { /* a qualified name goes on */
            if (n + 1 < cap)
                buf[n++] = '.';
            p++;
            continue;
        }
        if (p < end && !(isalnum((unsigned char)*p) || *p == '_' || *p == '$' || *p == '"' ||
                         (unsigned char)*p >= 0x80))
            break;
    }
    buf[n < cap ? n : 0] = '\0';
    return p;
}

/* Only a ';' (or nothing) may follow. */
static bool
at_end(const char *p, const char *end)
{
    char tok[8];
    while (p && (p = next_token(p, end, tok, sizeof(tok))) != NULL)
        if (strcmp(tok, ";") != 0)
            return false;
    return true;
}

pgr_reset_t
pgr_state_reset_kind(const char *sql, size_t len, char *name, size_t cap)
{
    const char *p = sql, *end = sql + len;
    char w[128];

    if ((p = next_token(p, end, w, sizeof(w))) == NULL)
        return PGR_RESET_NONE;
    if (strcmp(w, "discard") == 0) {
        p = next_token(p, end, w, sizeof(w));
        return p && strcmp(w, "all") == 0 && at_end(p, end) ? PGR_RESET_DISCARD_ALL
                                                            : PGR_RESET_NONE;
    }
    bool set = strcmp(w, "set") == 0;
    if (!set && strcmp(w, "reset") != 0)
        return PGR_RESET_NONE;
    if ((p = next_token(p, end, w, sizeof(w))) == NULL || w[0] == '\0')
        return PGR_RESET_NONE;
    if (set && strcmp(w, "session") == 0) {
        const char *q = next_token(p, end, w, sizeof(w));
        if (q == NULL || strcmp(w, "authorization") == 0 || strcmp(w, "characteristics") == 0)
            return PGR_RESET_NONE;
        p = q;
    }
    if (set && strcmp(w, "local") == 0)
        return PGR_RESET_NONE;
    if (!set && strcmp(w, "all") == 0)
        return at_end(p, end) ? PGR_RESET_ALL : PGR_RESET_NONE;
    if (strcmp(w, "role") == 0 || strcmp(w, "session") == 0 || strcmp(w, "transaction") == 0)
        return PGR_RESET_NONE;
    if (strcmp(w, "time") == 0) { /* TIME ZONE */
        p = next_token(p, end, w, sizeof(w));
        if (p == NULL || strcmp(w, "zone") != 0)
            return PGR_RESET_NONE;
        snprintf(w, sizeof(w), "timezone");
        if (set) { /* SET TIME ZONE DEFAULT (or LOCAL) */
            char v[16];
            p = next_token(p, end, v, sizeof(v));
            if (p == NULL || (strcmp(v, "default") != 0 && strcmp(v, "local") != 0))
                return PGR_RESET_NONE;
            snprintf(name, cap, "%s", w);
            return at_end(p, end) ? PGR_RESET_ONE : PGR_RESET_NONE;
        }
    } else if (set) {
        char v[16];
        const char *q = next_token(p, end, v, sizeof(v));
        if (q == NULL || (strcmp(v, "to") != 0 && strcmp(v, "=") != 0))
            return PGR_RESET_NONE;
        q = next_token(q, end, v, sizeof(v));
        if (q == NULL || strcmp(v, "default") != 0 || !at_end(q, end))
            return PGR_RESET_NONE;
        p = q;
    }
    if (!at_end(p, end) || strlen(w) >= cap)
        return PGR_RESET_NONE;
    snprintf(name, cap, "%s", w);
    return PGR_RESET_ONE;
}

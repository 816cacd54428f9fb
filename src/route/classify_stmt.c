/* One statement's class from libpg_query's parse tree (see classify.h): a generic walk of the
 * tree, the searches for writes, pins and aggregates, the facts routing and the merge read
 * (READ ONLY, pgrouter.* settings, ORDER BY, LIMIT, ...), and the verdict on whether a result
 * can stand for every statement of its shape. The parse itself is in classify.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route/classify_pgq.h"

/* ---- the tree walk ------------------------------------------------------------------------
 *
 * A generic walk over every message in the tree, driven by protobuf-c's descriptors, so no
 * node type (a function call in a LATERAL subquery of a CTE of an INSERT's SELECT, ...) can be
 * missed. For a Node (the oneof of every node type) only the member that is set is followed. */

/* Deeper than this and the statement is taken as a write rather than walked further. A
 * statement of PGR_CLASSIFY_MAX_PARSE bytes has at most about a million messages in a chain
 * (two per level, a level per two bytes); this is a backstop, never reached in practice. */
#define MAX_DEPTH (1 << 21)

typedef struct walk walk_t;
/* Called for each message before its children; false skips the children. */
typedef bool (*visit_fn)(walk_t *w, const ProtobufCMessage *m);

struct walk {
    const pgr_classifier_t *c;
    pgr_stmt_info_t *st;
    visit_fn visit;
    const ProtobufCMessage *root; /* the statement itself (not a nested one) */
    bool writes;                  /* something in the tree writes (st->why says what) */
    bool found;                   /* for the aggregate search */
    int depth;
};

static void walk_msg(walk_t *w, const ProtobufCMessage *m);

static void
walk_field(walk_t *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
        for (size_t i = 0; i < n; i++)
            if (v[i] != NULL)
                walk_msg(w, v[i]);
    } else {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        if (sub != NULL)
            walk_msg(w, sub);
    }
}

static void
note_write(walk_t *w, const char *why, const char *arg)
{
    if (w->writes)
        return;
    w->writes = true;
    snprintf(w->st->why, sizeof(w->st->why), "%s%s", why, arg ? arg : "");
}

static void
note_pin(pgr_stmt_info_t *st, const char *reason)
{
    if (!st->pins) {
        st->pins = true;
        st->pin_reason = reason;
    }
}

static void
walk_msg(walk_t *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (w->depth >= MAX_DEPTH) {
        note_write(w, "statement nested too deeply", NULL);
        return;
    }
    w->depth++;
    if (d == &pg_query__node__descriptor) {
        const PgQuery__Node *n = (const PgQuery__Node *)m;
        const ProtobufCFieldDescriptor *f =
            n->node_case == PG_QUERY__NODE__NODE__NOT_SET
                ? NULL : protobuf_c_message_descriptor_get_field(d, (unsigned)n->node_case);
        if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
            walk_field(w, m, f);
    } else if (w->visit(w, m)) {
        for (unsigned i = 0; i < d->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &d->fields[i];
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                continue;
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
            walk_field(w, m, f);
        }
    }
    w->depth--;
}

/* The function's own name (last element) and its schema (the one before, or NULL). */
static const char *
func_name(const PgQuery__FuncCall *fc, const char **schema)
{
    *schema = NULL;
    if (fc->n_funcname == 0)
        return NULL;
    if (fc->n_funcname >= 2)
        *schema = pgr_classify_str(fc->funcname[fc->n_funcname - 2]);
    return pgr_classify_str(fc->funcname[fc->n_funcname - 1]);
}

/* A boolean constant that reads as true the way PostgreSQL's boolin does for the common
 * spellings (true, t, on, yes, y, 1). Anything else, including non-constants, is not. */
static bool
const_true(const PgQuery__Node *n)
{
    if (n == NULL)
        return false;
    if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST && n->type_cast != NULL)
        n = n->type_cast->arg;
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const == NULL)
        return false;
    const PgQuery__AConst *k = n->a_const;
    switch (k->val_case) {
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        return k->boolval != NULL && k->boolval->boolval;
    case PG_QUERY__A__CONST__VAL_IVAL:
        return k->ival != NULL && k->ival->ival != 0;
    case PG_QUERY__A__CONST__VAL_SVAL: {
        const char *s = k->sval ? k->sval->sval : "";
        return strcasecmp(s, "true") == 0 || strcasecmp(s, "t") == 0 ||
               strcasecmp(s, "on") == 0 || strcasecmp(s, "yes") == 0 ||
               strcasecmp(s, "y") == 0 || strcmp(s, "1") == 0;
    }
    default:
        return false;
    }
}

static bool
rangevar_temp(const PgQuery__RangeVar *rv)
{
    return rv != NULL && ((rv->relpersistence && rv->relpersistence[0] == 't') ||
                          (rv->schemaname && strncmp(rv->schemaname, "pg_temp", 7) == 0));
}

static const char *
lock_name(const PgQuery__Node *n)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_LOCKING_CLAUSE || !n->locking_clause)
        return "FOR UPDATE";
    switch (n->locking_clause->strength) {
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORKEYSHARE:    return "FOR KEY SHARE";
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORSHARE:       return "FOR SHARE";
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORNOKEYUPDATE: return "FOR NO KEY UPDATE";
    default:                                                return "FOR UPDATE";
    }
}

/* The writes search: function calls, locking clauses, SELECT INTO, nested DML. */
static bool
visit_writes(walk_t *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pg_query__func_call__descriptor) {
        const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
        const char *schema, *name = func_name(fc, &schema);
        if (name == NULL)
            return true;
        if (pgr_funcs_writes(w->c->funcs, schema, name))
            note_write(w, "calls ", name);
        if (pgr_funcs_session_lock(name))
            note_pin(w->st, "session-level advisory lock");
        else if (strcmp(name, "set_config") == 0 &&
                 !(fc->n_args == 3 && const_true(fc->args[2])))
            note_pin(w->st, "set_config() of a session-level setting");
    } else if (d == &pg_query__select_stmt__descriptor) {
        const PgQuery__SelectStmt *s = (const PgQuery__SelectStmt *)m;
        if (s->n_locking_clause > 0)
            note_write(w, lock_name(s->locking_clause[0]), NULL);
        if (s->into_clause != NULL) {
            note_write(w, "SELECT INTO", NULL);
            if (rangevar_temp(s->into_clause->rel))
                note_pin(w->st, "CREATE TEMP (SELECT INTO TEMP)");
        }
    } else if (m != w->root && (d == &pg_query__insert_stmt__descriptor ||
                                d == &pg_query__update_stmt__descriptor ||
                                d == &pg_query__delete_stmt__descriptor ||
                                d == &pg_query__merge_stmt__descriptor)) {
        note_write(w, "data-modifying WITH", NULL);
    }
    return true;
}

/* The aggregate search over one SELECT level: stops at subqueries and window calls. */
static bool
visit_aggs(walk_t *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pg_query__select_stmt__descriptor)
        return false;
    if (d == &pg_query__func_call__descriptor) {
        const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
        const char *schema, *name = func_name(fc, &schema);
        if (fc->over != NULL)
            return false;
        if (fc->agg_star || fc->agg_distinct || fc->n_agg_order > 0 || fc->agg_filter ||
            fc->agg_within_group ||
            (name && pgr_funcs_aggregate(name)))
            w->found = true;
    }
    return !w->found;
}

static void
walk_writes(const pgr_classifier_t *c, pgr_stmt_info_t *st, const ProtobufCMessage *root,
            bool *writes)
{
    walk_t w = { .c = c, .st = st, .visit = visit_writes, .root = root };
    walk_msg(&w, root);
    *writes = w.writes;
}

/* An integer constant (LIMIT 10, OFFSET '5'), else -1. */
static int64_t
const_int(const PgQuery__Node *n)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const == NULL)
        return -1;
    const PgQuery__AConst *k = n->a_const;
    const char *s = NULL;
    if (k->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        return k->ival ? k->ival->ival : 0;
    if (k->val_case == PG_QUERY__A__CONST__VAL_FVAL && k->fval)
        s = k->fval->fval;
    else if (k->val_case == PG_QUERY__A__CONST__VAL_SVAL && k->sval)
        s = k->sval->sval;
    if (s == NULL || *s == '\0')
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end == '\0' && v >= 0 ? (int64_t)v : -1;
}

static void
select_flags(pgr_stmt_info_t *st, const PgQuery__SelectStmt *s)
{
    st->has_order_by = s->n_sort_clause > 0;
    st->has_group_by = s->n_group_clause > 0;
    st->has_distinct = s->n_distinct_clause > 0;
    st->is_set_op = s->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
                    s->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED;
    st->limit_with_ties = s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES;
    const PgQuery__Node *lc = s->limit_count;
    bool limit_all = lc && lc->node_case == PG_QUERY__NODE__NODE_A_CONST && lc->a_const &&
                     lc->a_const->isnull;
    st->has_limit = lc != NULL && !limit_all;
    st->limit = st->has_limit ? const_int(lc) : -1;
    st->offset = const_int(s->limit_offset);
    st->has_aggregates = s->having_clause != NULL;
    walk_t w = { .st = st, .visit = visit_aggs, .root = &s->base };
    for (size_t i = 0; i < s->n_target_list && !w.found; i++)
        walk_msg(&w, &s->target_list[i]->base);
    st->has_aggregates |= w.found;
}

/* ---- one statement ------------------------------------------------------------------------ */

static bool
defelem_bool(const PgQuery__DefElem *de)
{
    return de->arg == NULL || const_true(de->arg);
}

/* The DefElem list of BEGIN / SET TRANSACTION / SET SESSION CHARACTERISTICS. */
static void
txn_options(pgr_stmt_info_t *st, PgQuery__Node *const *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const PgQuery__Node *o = opts[i];
        if (o == NULL || o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || !o->def_elem)
            continue;
        const PgQuery__DefElem *de = o->def_elem;
        if (strcmp(de->defname, "transaction_read_only") == 0) {
            bool ro = defelem_bool(de);
            st->read_only_txn = ro;
            st->read_write_txn = !ro;
        } else if (strcmp(de->defname, "transaction_deferrable") == 0) {
            st->deferrable = defelem_bool(de);
        } else if (strcmp(de->defname, "transaction_isolation") == 0) {
            const PgQuery__Node *a = de->arg;
            const char *v = a && a->node_case == PG_QUERY__NODE__NODE_A_CONST && a->a_const &&
                            a->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL &&
                            a->a_const->sval ? a->a_const->sval->sval : "";
            st->isolation = strcmp(v, "serializable") == 0      ? PGR_ISO_SERIALIZABLE
                            : strcmp(v, "repeatable read") == 0  ? PGR_ISO_REPEATABLE_READ
                            : strcmp(v, "read committed") == 0   ? PGR_ISO_READ_COMMITTED
                            : strcmp(v, "read uncommitted") == 0 ? PGR_ISO_READ_UNCOMMITTED
                                                                 : PGR_ISO_DEFAULT;
        }
    }
}

/* Append one SET argument's text to the pgrouter variable's value. False if it is not a
 * plain constant or does not fit. */
static bool
append_value(pgr_stmt_info_t *st, const PgQuery__Node *a)
{
    char num[32];
    const char *s = NULL;
    if (a == NULL || a->node_case != PG_QUERY__NODE__NODE_A_CONST || a->a_const == NULL)
        return false;
    const PgQuery__AConst *k = a->a_const;
    switch (k->val_case) {
    case PG_QUERY__A__CONST__VAL_SVAL:
        s = k->sval ? k->sval->sval : "";
        break;
    case PG_QUERY__A__CONST__VAL_IVAL:
        snprintf(num, sizeof(num), "%d", k->ival ? (int)k->ival->ival : 0);
        s = num;
        break;
    case PG_QUERY__A__CONST__VAL_FVAL:
        s = k->fval ? k->fval->fval : "";
        break;
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        s = k->boolval && k->boolval->boolval ? "true" : "false";
        break;
    default:
        return false;
    }
    size_t have = strlen(st->pgrvar_value), add = strlen(s), sep = have ? 2 : 0;
    if (have + sep + add >= sizeof(st->pgrvar_value))
        return false;
    if (sep)
        memcpy(st->pgrvar_value + have, ", ", 2);
    memcpy(st->pgrvar_value + have + sep, s, add + 1);
    return true;
}

/* name is "pgrouter.<something>" (any case): copy it lower-cased. */
static bool
pgrouter_var(pgr_stmt_info_t *st, const char *name)
{
    if (name == NULL || strncasecmp(name, "pgrouter.", 9) != 0)
        return false;
    size_t n = strlen(name);
    if (n >= sizeof(st->pgrvar_name)) {
        st->pgrvar_bad = true;
        n = sizeof(st->pgrvar_name) - 1;
    }
    for (size_t i = 0; i < n; i++)
        st->pgrvar_name[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    st->pgrvar_name[n] = '\0';
    return true;
}

static void
classify_set(pgr_stmt_info_t *st, const PgQuery__VariableSetStmt *vs)
{
    st->cls = PGR_CLASS_SET;
    st->set_local = vs->is_local;
    const char *name = vs->name ? vs->name : "";
    switch (vs->kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:
        if (strcmp(name, "TRANSACTION") == 0) {
            txn_options(st, vs->args, vs->n_args);
        } else if (strcmp(name, "SESSION CHARACTERISTICS") == 0) {
            txn_options(st, vs->args, vs->n_args);
            note_pin(st, "SET SESSION CHARACTERISTICS");
        }
        return;                 /* TRANSACTION SNAPSHOT: transaction-scoped */
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
        return;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
        if (pgrouter_var(st, name)) {
            st->pgrvar = PGR_PGRVAR_RESET;
            st->tag = vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ? "RESET" : "SET";
        }
        return;
    default:
        break;
    }
    if (pgrouter_var(st, name)) {
        st->pgrvar = PGR_PGRVAR_SET;
        st->tag = "SET";
        if (vs->kind != PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE || vs->n_args == 0)
            st->pgrvar_bad = true;
        for (size_t i = 0; i < vs->n_args && !st->pgrvar_bad; i++)
            if (!append_value(st, vs->args[i]))
                st->pgrvar_bad = true;
        return;
    }
    if (vs->is_local)
        return;
    if (strcmp(name, "role") == 0)
        note_pin(st, "SET ROLE");
    else if (strcmp(name, "session_authorization") == 0)
        note_pin(st, "SET SESSION AUTHORIZATION");
    else {
        st->session_set = true;
        note_pin(st, "session-level SET");
    }
}

static void
classify_txn(pgr_stmt_info_t *st, const PgQuery__TransactionStmt *ts)
{
    st->chain = ts->chain;
    /* The tags are PostgreSQL's CreateCommandTag() for a TransactionStmt. */
    switch (ts->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
        st->cls = PGR_CLASS_BEGIN;
        st->tag = ts->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN
                          ? "BEGIN"
                          : "START TRANSACTION";
        st->txn_plain = true;
        txn_options(st, ts->options, ts->n_options);
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        st->cls = PGR_CLASS_COMMIT;
        st->tag = "COMMIT";
        st->txn_plain = true;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
        st->cls = PGR_CLASS_COMMIT;
        st->tag = "PREPARE TRANSACTION";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
        st->cls = PGR_CLASS_COMMIT;
        st->tag = "COMMIT PREPARED";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        st->cls = PGR_CLASS_ROLLBACK;
        st->tag = "ROLLBACK";
        st->txn_plain = true;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
        st->cls = PGR_CLASS_ROLLBACK;
        st->tag = "ROLLBACK PREPARED";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
        st->cls = PGR_CLASS_SAVEPOINT;
        st->tag = "SAVEPOINT";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
        st->cls = PGR_CLASS_SAVEPOINT;
        st->tag = "RELEASE";
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
        st->cls = PGR_CLASS_SAVEPOINT;
        st->tag = "ROLLBACK";
        break;
    default:
        st->cls = PGR_CLASS_WRITE;
        snprintf(st->why, sizeof(st->why), "unknown transaction statement");
        break;
    }
}

/* EXPLAIN's ANALYZE option, as PostgreSQL reads it: bare or with a true value. */
static bool
explain_analyze(const PgQuery__ExplainStmt *ex)
{
    for (size_t i = 0; i < ex->n_options; i++) {
        const PgQuery__Node *o = ex->options[i];
        if (o && o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && o->def_elem &&
            strcmp(o->def_elem->defname, "analyze") == 0) {
            const PgQuery__Node *a = o->def_elem->arg;
            if (a && a->node_case == PG_QUERY__NODE__NODE_STRING && a->string) {
                const char *v = a->string->sval;
                return !(strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0 ||
                         strcasecmp(v, "no") == 0 || strcasecmp(v, "f") == 0 ||
                         strcasecmp(v, "n") == 0);
            }
            if (a && a->node_case == PG_QUERY__NODE__NODE_A_CONST && a->a_const &&
                a->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
                return a->a_const->ival == NULL || a->a_const->ival->ival != 0;
            return true;        /* bare ANALYZE, or a value we do not read: assume it runs */
        }
    }
    return false;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Statement types that are DDL, by node name: CREATE/ALTER/DROP/GRANT/COMMENT/... */
static bool
is_ddl_name(const char *n)
{
    static const char *const prefixes[] = {
        "Create", "Alter", "Drop", "Grant", "Comment", "SecLabel", "Rename", "Rule",
        "Define", "Index", "CompositeType", "ReassignOwned", "ImportForeignSchema",
        "RefreshMatView", "View",
    };
    if (!ends_with(n, "Stmt"))
        return false;
    for (size_t i = 0; i < PGR_ARRAY_LEN(prefixes); i++)
        if (strncmp(n, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* EXPLAIN ANALYZE and COPY (query) TO produce no rows of the query: no merge flags. */
static void
clear_select_flags(pgr_stmt_info_t *st)
{
    st->has_order_by = st->has_limit = st->has_group_by = false;
    st->has_aggregates = st->has_distinct = st->is_set_op = false;
    st->limit_with_ties = false;
    st->limit = st->offset = -1;
}

void
pgr_classify_stmt(const pgr_classifier_t *c, pgr_stmt_info_t *st, const PgQuery__Node *n)
{
    bool writes = false;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        walk_writes(c, st, &n->select_stmt->base, &writes);
        st->cls = writes ? PGR_CLASS_WRITE : PGR_CLASS_READ;
        select_flags(st, n->select_stmt);
        return;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        walk_writes(c, st, &n->insert_stmt->base, &writes);
        st->cls = PGR_CLASS_WRITE;
        return;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        walk_writes(c, st, &n->update_stmt->base, &writes);
        st->cls = PGR_CLASS_WRITE;
        return;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        walk_writes(c, st, &n->delete_stmt->base, &writes);
        st->cls = PGR_CLASS_WRITE;
        return;
    case PG_QUERY__NODE__NODE_MERGE_STMT:
        walk_writes(c, st, &n->merge_stmt->base, &writes);
        st->cls = PGR_CLASS_WRITE;
        return;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        st->cls = PGR_CLASS_WRITE;
        return;
    case PG_QUERY__NODE__NODE_COPY_STMT: {
        const PgQuery__CopyStmt *cp = n->copy_stmt;
        if (cp->is_from) {
            st->cls = PGR_CLASS_WRITE;
        } else if (cp->query != NULL) {
            pgr_classify_stmt(c, st, cp->query);    /* COPY (query) TO: the query's class */
            clear_select_flags(st);
        } else {
            st->cls = PGR_CLASS_READ;
        }
        if (!cp->is_from && ((cp->filename && cp->filename[0]) || cp->is_program)) {
            st->cls = PGR_CLASS_WRITE;
            snprintf(st->why, sizeof(st->why), "COPY TO a server file or program");
        }
        return;
    }
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
        if (n->explain_stmt->query != NULL && explain_analyze(n->explain_stmt)) {
            pgr_classify_stmt(c, st, n->explain_stmt->query);
            clear_select_flags(st);
        } else {
            st->cls = PGR_CLASS_READ;
        }
        return;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        st->cls = PGR_CLASS_READ;
        if (pgrouter_var(st, n->variable_show_stmt->name)) {
            st->pgrvar = PGR_PGRVAR_SHOW;
            st->tag = "SHOW";
        }
        return;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        classify_set(st, n->variable_set_stmt);
        return;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
        st->cls = PGR_CLASS_SET;
        return;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        classify_txn(st, n->transaction_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        st->cls = PGR_CLASS_DDL;
        if (rangevar_temp(n->create_stmt->relation))
            note_pin(st, "CREATE TEMP TABLE");
        return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        st->cls = PGR_CLASS_DDL;
        if (n->create_table_as_stmt->query)
            walk_writes(c, st, &n->create_table_as_stmt->query->base, &writes);
        if (n->create_table_as_stmt->into && rangevar_temp(n->create_table_as_stmt->into->rel))
            note_pin(st, "CREATE TEMP TABLE AS");
        return;
    case PG_QUERY__NODE__NODE_VIEW_STMT:
        st->cls = PGR_CLASS_DDL;
        if (rangevar_temp(n->view_stmt->view))
            note_pin(st, "CREATE TEMP VIEW");
        return;
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
        st->cls = PGR_CLASS_DDL;
        if (rangevar_temp(n->create_seq_stmt->sequence))
            note_pin(st, "CREATE TEMP SEQUENCE");
        return;
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
        st->cls = PGR_CLASS_UTILITY;
        note_pin(st, "LISTEN");
        return;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
        st->cls = PGR_CLASS_UTILITY;
        note_pin(st, "PREPARE");
        return;
    case PG_QUERY__NODE__NODE_LOAD_STMT:
        st->cls = PGR_CLASS_UTILITY;
        note_pin(st, "LOAD");
        return;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        st->cls = PGR_CLASS_UTILITY;
        if (n->declare_cursor_stmt->query)
            walk_writes(c, st, &n->declare_cursor_stmt->query->base, &writes);
        if (n->declare_cursor_stmt->options & 0x0020)   /* CURSOR_OPT_HOLD */
            note_pin(st, "DECLARE ... WITH HOLD");
        return;
    case PG_QUERY__NODE__NODE_CALL_STMT:
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
        /* their arguments run: an advisory lock there pins too */
        walk_writes(c, st, n->node_case == PG_QUERY__NODE__NODE_CALL_STMT
                               ? &n->call_stmt->base : &n->execute_stmt->base, &writes);
        st->cls = PGR_CLASS_UTILITY;
        return;
    default:
        break;
    }
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
                                                (unsigned)n->node_case);
    if (f != NULL && f->descriptor != NULL &&
        is_ddl_name(((const ProtobufCMessageDescriptor *)f->descriptor)->short_name))
        st->cls = PGR_CLASS_DDL;
    else
        st->cls = PGR_CLASS_UTILITY;
}

/* ---- shapes: one cache entry for statements that differ only in constants -------------------
 *
 * pgbench -M simple, and many drivers and ORMs, send their statements with the constants
 * written in (WHERE aid = 48213), so a cache keyed by the exact text never hits them. A
 * statement's shape (pgr_sqlscan_shape) is its text with the constants' bodies replaced by
 * placeholders; two texts with the same shape are the same tokens with other constant values
 * of the same kinds (the contract in sqlscan.h). classify_cache.c keeps one entry per shape
 * when the result cannot depend on the constants: the verdict is taken here, from the parse
 * tree of the first text of the shape, by pgr_classify_shape_free: one
 * statement, SELECT/INSERT/UPDATE/DELETE, where nothing this file reports is read from a
 * constant. For those statement kinds only these facts come from constants (the rest from
 * keywords, identifiers and the tree's form, which the shape fixes): LIMIT and OFFSET values
 * (const_int), and set_config's third argument (const_true). Whoever makes the walk read
 * another constant must add it to pgr_classify_shape_free; the shape tests in
 * tests/unit/route/test_classify_shape.c check the whole table against fresh parses. The
 * hint comes from the leading comments, which the shape keeps. */

/* A call of set_config anywhere (whether it pins depends on its third argument's value). */
static bool
visit_set_config(walk_t *w, const ProtobufCMessage *m)
{
    if (m->descriptor == &pg_query__func_call__descriptor) {
        const char *schema, *name = func_name((const PgQuery__FuncCall *)m, &schema);
        if (name != NULL && strcmp(name, "set_config") == 0)
            w->found = true;
    }
    return !w->found;
}

/* A LIMIT or OFFSET value: none, NULL, or a constant the shape keeps as written (so the same
 * for every text of the shape). A constant the shape replaced (LIMIT (5), LIMIT -5) is not. */
static bool
limit_fixed(const PgQuery__Node *n, const pgr_sqlshape_t *shape)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const == NULL)
        return true;
    const PgQuery__AConst *k = n->a_const;
    if (k->isnull || k->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL)
        return true;            /* NULL, TRUE, FALSE: keywords */
    for (size_t i = 0; i < shape->n_kept; i++)
        if (k->location >= 0 && (uint32_t)k->location == shape->kept[i])
            return true;
    return false;
}

/* Does the result in c->scratch, parsed from tree, hold for every text of the shape? */
bool
pgr_classify_shape_free(const pgr_classifier_t *c, const PgQuery__ParseResult *tree,
                        const pgr_sqlshape_t *shape)
{
    const pgr_classification_t *r = &c->scratch;
    if (r->parse_error || r->n_stmts != 1 || tree->n_stmts != 1 || tree->stmts[0] == NULL)
        return false;
    const PgQuery__Node *n = tree->stmts[0]->stmt;
    if (n == NULL)
        return false;
    const ProtobufCMessage *root;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        if (!limit_fixed(n->select_stmt->limit_count, shape) ||
            !limit_fixed(n->select_stmt->limit_offset, shape))
            return false;
        root = &n->select_stmt->base;
        break;
    case PG_QUERY__NODE__NODE_INSERT_STMT: root = &n->insert_stmt->base; break;
    case PG_QUERY__NODE__NODE_UPDATE_STMT: root = &n->update_stmt->base; break;
    case PG_QUERY__NODE__NODE_DELETE_STMT: root = &n->delete_stmt->base; break;
    default:
        return false;
    }
    /* the scan's offsets are the parser's, or the shape cannot stand in for the parse */
    if (r->stmts[0].text_offset != shape->stmt_offset ||
        r->stmts[0].text_length != shape->stmt_length)
        return false;
    /* Every text of the shape must pass the depth check too. The depth scan reads a number
     * with a signed exponent (1e+5) as three tokens and other constants as one, so a text of
     * the shape is at most two levels deeper per constant than this one: leave that room. */
    if (c->depth > PGR_CLASSIFY_MAX_DEPTH ||
        shape->n_replaced > (PGR_CLASSIFY_MAX_DEPTH - c->depth) / 2)
        return false;
    pgr_stmt_info_t unused;     /* for note_write, should the walk find the tree too deep */
    walk_t w = { .c = c, .st = &unused, .visit = visit_set_config, .root = root };
    walk_msg(&w, root);
    return !w.found && !w.writes;      /* writes: only "nested too deeply" can set it here */
}

/* The broadcast merge plan (classify.h: pgr_classify_merge_plan): how the rows of one SELECT
 * run on every node combine into what one PostgreSQL would return, read from libpg_query's
 * parse tree, and the statement the nodes run instead when LIMIT/OFFSET must be rewritten.
 * Part of the classify module: with classify.c, the only includer of pg_query.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "route/classify.h"
#include "route/bigstack.h"
#include "route/funcs.h"
#include "route/sqlscan.h"

/* As in classify.c: short statements parse on the caller's stack, longer ones on a private
 * one (libpg_query and protobuf-c recurse once per tree level). */
#define DIRECT_PARSE_MAX  4096
#define BIG_STACK_SIZE    ((size_t)64 << 20)

typedef struct plan_call {
    const char *text;           /* NUL-terminated copy of the statement */
    pgr_merge_plan_t *plan;
    char **rewritten;
    int rc;
} plan_call_t;

/* ---- tree helpers ------------------------------------------------------------------------ */

static const char *
str_item(const PgQuery__Node *n)
{
    return n != NULL && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string != NULL
               ? n->string->sval : NULL;
}

static bool
is_star_target(const PgQuery__Node *val)
{
    if (val == NULL || val->node_case != PG_QUERY__NODE__NODE_COLUMN_REF || !val->column_ref)
        return false;
    const PgQuery__ColumnRef *cr = val->column_ref;
    return cr->n_fields > 0 && cr->fields[cr->n_fields - 1] != NULL &&
           cr->fields[cr->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
}

static const PgQuery__ResTarget *
res_target(const PgQuery__Node *n)
{
    return n != NULL && n->node_case == PG_QUERY__NODE__NODE_RES_TARGET ? n->res_target : NULL;
}

/* A scalar field's value (or one element of a repeated one) at a and b. */
static bool
value_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_FLOAT:
        return memcmp(a, b, 4) == 0;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return memcmp(a, b, 8) == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return (*(const protobuf_c_boolean *)a != 0) == (*(const protobuf_c_boolean *)b != 0);
    case PROTOBUF_C_TYPE_STRING: {
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        return strcmp(x ? x : "", y ? y : "") == 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *x = a, *y = b;
        return x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        break;
    }
    return false;
}

static size_t
value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:    return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:  return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:   return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default:                      return 4;
    }
}

static bool msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);

static bool
elem_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return msg_equal(*(ProtobufCMessage *const *)a, *(ProtobufCMessage *const *)b);
    return value_equal(f, a, b);
}

/* Structural equality of two parse trees, ignoring every "location" field: two expressions
 * that read the same (up to spacing and comments) in the same SELECT. */
static bool
msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (a == b)
        return true;
    if (a == NULL || b == NULL || a->descriptor != b->descriptor)
        return false;
    const ProtobufCMessageDescriptor *d = a->descriptor;
    const char *pa = (const char *)a, *pb = (const char *)b;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (strcmp(f->name, "location") == 0)
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t qa = *(const uint32_t *)(pa + f->quantifier_offset);
            uint32_t qb = *(const uint32_t *)(pb + f->quantifier_offset);
            if (qa != qb)
                return false;
            if (qa != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)(pa + f->quantifier_offset);
            size_t nb = *(const size_t *)(pb + f->quantifier_offset);
            if (na != nb)
                return false;
            const char *va = *(const char *const *)(pa + f->offset);
            const char *vb = *(const char *const *)(pb + f->offset);
            size_t sz = value_size(f);
            for (size_t k = 0; k < na; k++)
                if (!elem_equal(f, va + k * sz, vb + k * sz))
                    return false;
        } else if (!elem_equal(f, pa + f->offset, pb + f->offset)) {
            return false;
        }
    }
    return true;
}

/* ---- output column names ------------------------------------------------------------------ */

static const char *target_name(const PgQuery__ResTarget *rt);

/* The name PostgreSQL gives an unnamed target (parser/parse_target.c, FigureColnameInternal):
 * 0 when it has none ("?column?"), 1 for a weak name (a cast's type, "case"), 2 for a strong
 * one. Forms not listed here get no name: an ORDER BY name then cannot match them, and falls
 * back to the expression rule (the safe side: a missed match is "not in the select list"). */
static int
figure_name(const PgQuery__Node *n, const char **name)
{
    static const char *const svf[] = {
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE] = "current_date",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME] = "current_time",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N] = "current_time",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP] = "current_timestamp",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N] = "current_timestamp",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME] = "localtime",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N] = "localtime",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP] = "localtimestamp",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N] = "localtimestamp",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE] = "current_role",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER] = "current_user",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER] = "user",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER] = "session_user",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG] = "current_catalog",
        [PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA] = "current_schema",
    };
    if (n == NULL)
        return 0;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
        const PgQuery__ColumnRef *cr = n->column_ref;
        const char *s = cr->n_fields ? str_item(cr->fields[cr->n_fields - 1]) : NULL;
        if (s == NULL)
            return 0;
        *name = s;
        return 2;
    }
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
        const PgQuery__AIndirection *ind = n->a_indirection;
        for (size_t i = ind->n_indirection; i > 0; i--) {
            const char *s = str_item(ind->indirection[i - 1]);
            if (s != NULL) {
                *name = s;
                return 2;
            }
        }
        return figure_name(ind->arg, name);
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const PgQuery__FuncCall *fc = n->func_call;
        const char *s = fc->n_funcname ? str_item(fc->funcname[fc->n_funcname - 1]) : NULL;
        if (s == NULL)
            return 0;
        *name = s;
        return 2;
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
        if (n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF) {
            *name = "nullif";
            return 2;
        }
        return 0;
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
        int strength = figure_name(n->type_cast->arg, name);
        const PgQuery__TypeName *tn = n->type_cast->type_name;
        if (strength <= 1 && tn != NULL && tn->n_names > 0) {
            const char *s = str_item(tn->names[tn->n_names - 1]);
            if (s != NULL) {
                *name = s;
                return 1;
            }
        }
        return strength;
    }
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE:
        return figure_name(n->collate_clause->arg, name);
    case PG_QUERY__NODE__NODE_SUB_LINK: {
        const PgQuery__SubLink *sl = n->sub_link;
        if (sl->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK) {
            *name = "exists";
            return 2;
        }
        if (sl->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK) {
            *name = "array";
            return 2;
        }
        /* (SELECT x ...): the subquery's first output name, a strong one whatever its source */
        if (sl->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK && sl->subselect &&
            sl->subselect->node_case == PG_QUERY__NODE__NODE_SELECT_STMT &&
            sl->subselect->select_stmt->n_target_list > 0) {
            const PgQuery__ResTarget *rt = res_target(sl->subselect->select_stmt->target_list[0]);
            const char *s = rt ? target_name(rt) : NULL;
            if (s == NULL)
                return 0;
            *name = s;
            return 2;
        }
        return 0;
    }
    case PG_QUERY__NODE__NODE_CASE_EXPR: {
        int strength = figure_name(n->case_expr->defresult, name);
        if (strength <= 1) {
            *name = "case";
            return 1;
        }
        return strength;
    }
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
        *name = "array";
        return 2;
    case PG_QUERY__NODE__NODE_ROW_EXPR:
        *name = "row";
        return 2;
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        *name = "coalesce";
        return 2;
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        *name = n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_LEAST ? "least" : "greatest";
        return 2;
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION: {
        unsigned op = (unsigned)n->sqlvalue_function->op;
        if (op < PGR_ARRAY_LEN(svf) && svf[op] != NULL) {
            *name = svf[op];
            return 2;
        }
        return 0;
    }
    case PG_QUERY__NODE__NODE_GROUPING_FUNC:
        *name = "grouping";
        return 2;
    default:
        return 0;
    }
}

/* The output name of a target: its alias, or the name PostgreSQL figures; NULL for none. */
static const char *
target_name(const PgQuery__ResTarget *rt)
{
    if (rt->name != NULL && rt->name[0] != '\0')
        return rt->name;
    const char *name = NULL;
    return figure_name(rt->val, &name) > 0 ? name : NULL;
}

/* ---- what one SELECT level holds ---------------------------------------------------------- */

typedef struct level_facts {
    bool window;                /* a window function call */
    bool aggregate;             /* an aggregate call (not windowed) */
} level_facts_t;

static bool
is_aggregate_call(const PgQuery__FuncCall *fc)
{
    const char *name = fc->n_funcname ? str_item(fc->funcname[fc->n_funcname - 1]) : NULL;
    return fc->agg_star || fc->agg_distinct || fc->n_agg_order > 0 || fc->agg_filter ||
           fc->agg_within_group || (name != NULL && pgr_funcs_aggregate(name));
}

/* Walk one expression of this SELECT level: subqueries are their own levels. */
static void
scan_level(const ProtobufCMessage *m, level_facts_t *lf)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pg_query__select_stmt__descriptor)
        return;
    if (d == &pg_query__func_call__descriptor) {
        const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
        if (fc->over != NULL)
            lf->window = true;
        else if (is_aggregate_call(fc))
            lf->aggregate = true;
    }
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (v[k] != NULL)
                    scan_level(v[k], lf);
        } else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
            if (sub != NULL)
                scan_level(sub, lf);
        }
    }
}

/* ---- the plan ----------------------------------------------------------------------------- */

/* LIMIT/OFFSET operand: -1 for none (absent, ALL, NULL), the value for a non-negative integer
 * constant (10, '10', 3000000000), -2 for anything else. */
static int64_t
limit_value(const PgQuery__Node *n)
{
    if (n == NULL)
        return -1;
    if (n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const == NULL)
        return -2;
    const PgQuery__AConst *k = n->a_const;
    if (k->isnull)
        return -1;
    const char *s = NULL;
    if (k->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        return k->ival == NULL ? 0 : k->ival->ival >= 0 ? k->ival->ival : -2;
    if (k->val_case == PG_QUERY__A__CONST__VAL_FVAL && k->fval)
        s = k->fval->fval;
    else if (k->val_case == PG_QUERY__A__CONST__VAL_SVAL && k->sval)
        s = k->sval->sval;
    if (s == NULL || *s < '0' || *s > '9')
        return -2;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return *end == '\0' && errno == 0 ? (int64_t)v : -2;
}

static bool
is_constant(const PgQuery__Node *n)
{
    if (n != NULL && n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST && n->type_cast)
        n = n->type_cast->arg;
    return n != NULL && n->node_case == PG_QUERY__NODE__NODE_A_CONST;
}

/* Why an aggregate other than count/sum/min/max is not merged, naming the common ones. */
static const char *
refused_agg(const char *name)
{
    static const char *const named[][2] = {
        {"avg", "avg cannot be merged from per-node results"},
        {"bool_and", "bool_and cannot be merged from per-node results"},
        {"bool_or", "bool_or cannot be merged from per-node results"},
        {"every", "every cannot be merged from per-node results"},
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(named); i++)
        if (strcmp(name, named[i][0]) == 0)
            return named[i][1];
    return "an aggregate that cannot be merged from per-node results";
}

/* The merge of one aggregate target, or NULL with *why set. */
static bool
target_agg(const PgQuery__ResTarget *rt, pgr_agg_t *out, const char **why)
{
    const PgQuery__Node *v = rt->val;
    if (is_constant(v)) {
        *out = PGR_AGG_NONE;
        return true;
    }
    if (is_star_target(v)) {
        *why = "SELECT * with aggregates";
        return false;
    }
    if (v == NULL || v->node_case != PG_QUERY__NODE__NODE_FUNC_CALL || !is_aggregate_call(v->func_call)) {
        *why = "a column that is not a plain aggregate";
        return false;
    }
    const PgQuery__FuncCall *fc = v->func_call;
    const char *name = str_item(fc->funcname[fc->n_funcname - 1]);
    const char *schema = fc->n_funcname >= 2 ? str_item(fc->funcname[fc->n_funcname - 2]) : NULL;
    if (fc->agg_distinct) {
        *why = name && strcmp(name, "count") == 0
                   ? "count(DISTINCT ...) cannot be merged from per-node results"
                   : "DISTINCT inside an aggregate";
        return false;
    }
    if (fc->agg_filter != NULL) {
        *why = "aggregate with FILTER";
        return false;
    }
    if (fc->n_agg_order > 0 || fc->agg_within_group) {
        *why = "ORDER BY inside an aggregate";
        return false;
    }
    if (name == NULL || fc->n_funcname > 2 || (schema && strcmp(schema, "pg_catalog") != 0)) {
        *why = "an aggregate that cannot be merged from per-node results";
        return false;
    }
    if (fc->n_args == 1 && fc->args[0] != NULL &&
        fc->args[0]->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE) {
        *why = "COLLATE inside an aggregate";
        return false;
    }
    if (strcmp(name, "count") == 0 && (fc->agg_star ? fc->n_args == 0 : fc->n_args == 1))
        *out = PGR_AGG_COUNT;
    else if (!fc->agg_star && fc->n_args == 1 && strcmp(name, "sum") == 0)
        *out = PGR_AGG_SUM;
    else if (!fc->agg_star && fc->n_args == 1 && strcmp(name, "min") == 0)
        *out = PGR_AGG_MIN;
    else if (!fc->agg_star && fc->n_args == 1 && strcmp(name, "max") == 0)
        *out = PGR_AGG_MAX;
    else {
        *why = refused_agg(name);
        return false;
    }
    return true;
}

static void
plan_aggregates(const PgQuery__SelectStmt *s, pgr_merge_plan_t *plan)
{
    if (s->n_target_list > PGR_MERGE_MAX_AGGS) {
        plan->unsupported = "too many aggregate columns";
        return;
    }
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        const char *why = "a column that is not a plain aggregate";
        if (rt == NULL || !target_agg(rt, &plan->aggs[i], &why)) {
            plan->unsupported = why;
            return;
        }
    }
    plan->aggregate = true;
    plan->n_aggs = (int)s->n_target_list;
}

/* The output column GROUP BY item g stands for, or -1. PostgreSQL's rules
 * (findTargetlistEntrySQL92/99): a constant is a position; a bare name is, failing an input
 * column of that name, an output column's name (the expression rule catches x for a target x
 * or t.x); else the item is an expression, an output column when it equals one's expression.
 * A bare name that is both an input column and another target's alias is taken as the alias:
 * PostgreSQL groups by the input column then, and accepts the alias's column only when it
 * depends on that one (a primary key), which grouping by the alias merges alike. */
static int
group_column(const PgQuery__SelectStmt *s, const PgQuery__Node *g)
{
    if (g != NULL && g->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        const PgQuery__AConst *k = g->a_const;
        if (k->val_case != PG_QUERY__A__CONST__VAL_IVAL || k->ival == NULL ||
            k->ival->ival < 1 || (size_t)k->ival->ival > s->n_target_list)
            return -1;
        return k->ival->ival - 1;
    }
    for (size_t i = 0; g != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        if (rt != NULL && rt->val != NULL && msg_equal(&g->base, &rt->val->base))
            return (int)i;
    }
    const PgQuery__ColumnRef *cr = g != NULL && g->node_case == PG_QUERY__NODE__NODE_COLUMN_REF
                                       ? g->column_ref
                                       : NULL;
    const char *name = cr && cr->n_fields == 1 ? str_item(cr->fields[0]) : NULL;
    for (size_t i = 0; name != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        const char *have = rt ? target_name(rt) : NULL;
        if (have != NULL && strcmp(have, name) == 0)
            return (int)i;
    }
    return -1;
}

/* GROUP BY whose keys are all output columns and whose other columns are combinable
 * aggregates (or constants): plan->aggs gives NONE for the grouping columns. */
static void
plan_groups(const PgQuery__SelectStmt *s, pgr_merge_plan_t *plan)
{
    bool keyed[PGR_MERGE_MAX_AGGS] = {false};
    if (s->n_target_list > PGR_MERGE_MAX_AGGS) {
        plan->unsupported = "GROUP BY with more columns than the merge takes";
        return;
    }
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        const PgQuery__Node *v = rt ? rt->val : NULL;
        const char *why = NULL;
        if (v == NULL || is_star_target(v)) {
            plan->unsupported = "SELECT * with GROUP BY";
            return;
        }
        if (v->node_case == PG_QUERY__NODE__NODE_FUNC_CALL && v->func_call->over == NULL &&
            is_aggregate_call(v->func_call)) {
            if (!target_agg(rt, &plan->aggs[i], &why)) {
                plan->unsupported = why;
                return;
            }
            continue;
        }
        level_facts_t lf = {0};
        scan_level(&v->base, &lf);
        if (lf.aggregate) {
            plan->unsupported = "a column that is not a plain aggregate";
            return;
        }
        plan->aggs[i] = PGR_AGG_NONE;
        keyed[i] = is_constant(v);
    }
    for (size_t g = 0; g < s->n_group_clause; g++) {
        const PgQuery__Node *item = s->group_clause[g];
        if (item != NULL && item->node_case == PG_QUERY__NODE__NODE_GROUPING_SET) {
            plan->unsupported = "GROUPING SETS, ROLLUP or CUBE";
            return;
        }
        int c = group_column(s, item);
        if (c < 0) {
            plan->unsupported = "GROUP BY a key not in the select list";
            return;
        }
        if (plan->aggs[c] != PGR_AGG_NONE) {
            plan->unsupported = "GROUP BY an aggregate column";
            return;
        }
        /* every output column with this key's expression is a grouping column */
        const PgQuery__Node *kv = res_target(s->target_list[c])->val;
        for (size_t i = 0; i < s->n_target_list; i++) {
            const PgQuery__Node *v = res_target(s->target_list[i])->val;
            keyed[i] |= plan->aggs[i] == PGR_AGG_NONE && msg_equal(&kv->base, &v->base);
        }
    }
    for (size_t i = 0; i < s->n_target_list; i++)
        if (plan->aggs[i] == PGR_AGG_NONE && !keyed[i]) {
            plan->unsupported = "a column that is neither a GROUP BY key nor an aggregate";
            return;
        }
    plan->group = true;
    plan->n_aggs = (int)s->n_target_list;
}

/* SELECT DISTINCT (not DISTINCT ON), without GROUP BY or aggregates: the group merge with
 * every output column a key and no aggregate, so a row several nodes return comes out once.
 * lf: what the select list and ORDER BY hold. */
static void
plan_distinct(const PgQuery__SelectStmt *s, const level_facts_t *lf, pgr_merge_plan_t *plan)
{
    const PgQuery__Node *d = s->distinct_clause[0];

    if (s->n_distinct_clause != 1 ||
        (d != NULL && d->node_case != PG_QUERY__NODE__NODE__NOT_SET)) {
        plan->unsupported = "DISTINCT ON";
        return;
    }
    if (s->n_group_clause > 0 || lf->aggregate) {
        plan->unsupported = "DISTINCT with GROUP BY or aggregates";
        return;
    }
    if (s->n_target_list > PGR_MERGE_MAX_AGGS) {
        plan->unsupported = "DISTINCT with more columns than the merge takes";
        return;
    }
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        if (rt == NULL || rt->val == NULL || is_star_target(rt->val)) {
            plan->unsupported = "SELECT DISTINCT *";
            return;
        }
        plan->aggs[i] = PGR_AGG_NONE;
    }
    plan->group = true;
    plan->n_aggs = (int)s->n_target_list;
}

/* What the select list's stars cover: a bare * (every column of the FROM clause) and q.* for
 * each qualifier q; merging: a JOIN ... USING or NATURAL JOIN in FROM, whose merged columns a
 * bare * shows once, as the join's own (not the same expression as t.id in ORDER BY t.id). */
typedef struct star_facts {
    bool any, bare, merging;
} star_facts_t;

static bool
from_merges(const PgQuery__Node *n)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_JOIN_EXPR || n->join_expr == NULL)
        return false;
    const PgQuery__JoinExpr *j = n->join_expr;
    return j->is_natural || j->n_using_clause > 0 || from_merges(j->larg) ||
           from_merges(j->rarg);
}

static star_facts_t
star_facts(const PgQuery__SelectStmt *s)
{
    star_facts_t sf = { 0 };
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        if (rt == NULL || !is_star_target(rt->val))
            continue;
        sf.any = true;
        sf.bare |= rt->val->column_ref->n_fields == 1;
    }
    for (size_t i = 0; i < s->n_from_clause; i++)
        sf.merging |= from_merges(s->from_clause[i]);
    return sf;
}

/* Is there a q.* in the select list? */
static bool
star_of(const PgQuery__SelectStmt *s, const char *q)
{
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        if (rt == NULL || !is_star_target(rt->val) || rt->val->column_ref->n_fields != 2)
            continue;
        const char *have = str_item(rt->val->column_ref->fields[0]);
        if (have != NULL && strcmp(have, q) == 0)
            return true;
    }
    return false;
}

/* The collation a COLLATE clause names, into out (PGR_SORT_NAME_MAX): its name, or
 * "schema.name" for another schema than pg_catalog. False when it does not fit. */
static bool
collation_name(const PgQuery__CollateClause *cc, char *out)
{
    const char *name = cc->n_collname ? str_item(cc->collname[cc->n_collname - 1]) : NULL;
    const char *schema = cc->n_collname == 2 ? str_item(cc->collname[0]) : NULL;
    int n;
    if (name == NULL || cc->n_collname > 2 || (cc->n_collname == 2 && schema == NULL))
        return false;
    if (schema != NULL && strcmp(schema, "pg_catalog") != 0)
        n = snprintf(out, PGR_SORT_NAME_MAX, "%s.%s", schema, name);
    else
        n = snprintf(out, PGR_SORT_NAME_MAX, "%s", name);
    return n > 0 && n < PGR_SORT_NAME_MAX;
}

/* A select-list item's own COLLATE (x COLLATE "C" AS y) into key->collation, unless the key
 * names one already. */
static void
target_collation(const PgQuery__ResTarget *rt, pgr_sort_key_t *key)
{
    const PgQuery__Node *v = rt->val;
    if (key->collation[0] == '\0' && v != NULL &&
        v->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE && v->collate_clause != NULL &&
        !collation_name(v->collate_clause, key->collation))
        key->collation[0] = '\0';
}

/* Key by output-column name, resolved by the merge against the RowDescription. */
static bool
key_by_name(const PgQuery__SelectStmt *s, const char *name, pgr_sort_key_t *key,
            const char **why)
{
    if (strlen(name) >= PGR_SORT_NAME_MAX) {
        *why = "ORDER BY a name longer than 63 bytes";
        return false;
    }
    key->column = -1;
    snprintf(key->name, sizeof(key->name), "%s", name);
    /* If the one field of that name turns out to be an explicit item, it is this one. */
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        const char *have = rt && !is_star_target(rt->val) ? target_name(rt) : NULL;
        if (have != NULL && strcmp(have, name) == 0) {
            target_collation(rt, key);
            break;
        }
    }
    return true;
}

/* The output column of one ORDER BY item into key->column (or key->name: by name), and its
 * COLLATE into key->collation; false with *why set. PostgreSQL's order of rules
 * (parse_clause.c, findTargetlistEntrySQL92/99): a constant is a position; a bare name is an
 * output column's name first; else the item is an expression, which is an output column when
 * it equals one's expression. Under a star the positions of named columns are unknown here,
 * so a name goes by name: a bare name is an output name (the SQL92 rule, whatever the select
 * list holds); an expression t.id (or id under COLLATE) is the star's column of that name when
 * the star surely shows that very expression: q.* for q.id, or a bare * over a FROM clause
 * without USING/NATURAL joins. */
static bool
sort_column(const PgQuery__SelectStmt *s, const PgQuery__Node *item, const star_facts_t *sf,
            pgr_sort_key_t *key, const char **why)
{
    bool expr_only = false;
    if (item != NULL && item->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE &&
        item->collate_clause != NULL) {
        if (!collation_name(item->collate_clause, key->collation)) {
            *why = "ORDER BY ... COLLATE a name the planner does not read";
            return false;
        }
        /* x COLLATE "C" is an expression over x: never an output name, never a position */
        item = item->collate_clause->arg;
        expr_only = true;
    }
    if (item != NULL && item->node_case == PG_QUERY__NODE__NODE_A_CONST && !expr_only) {
        const PgQuery__AConst *k = item->a_const;
        size_t ncols = s->n_values_lists > 0 ? SIZE_MAX : s->n_target_list;
        if (k->val_case != PG_QUERY__A__CONST__VAL_IVAL || k->ival == NULL ||
            k->ival->ival < 1 || (!sf->any && (size_t)k->ival->ival > ncols)) {
            *why = "ORDER BY a constant that is not an output column position";
            return false;
        }
        key->column = k->ival->ival - 1;
        if (!sf->any && (size_t)key->column < s->n_target_list) {
            const PgQuery__ResTarget *rt = res_target(s->target_list[key->column]);
            if (rt != NULL)
                target_collation(rt, key);
        }
        return true;
    }
    if (s->n_values_lists > 0) {
        *why = "ORDER BY a column of VALUES by name";
        return false;
    }
    const PgQuery__ColumnRef *cr = item != NULL &&
                                           item->node_case == PG_QUERY__NODE__NODE_COLUMN_REF
                                       ? item->column_ref
                                       : NULL;
    const char *f0 = cr && cr->n_fields >= 1 ? str_item(cr->fields[0]) : NULL;
    const char *f1 = cr && cr->n_fields == 2 ? str_item(cr->fields[1]) : NULL;
    if (sf->any) {
        if (cr != NULL && cr->n_fields == 1 && f0 != NULL &&
            (!expr_only || (sf->bare && !sf->merging)))
            return key_by_name(s, f0, key, why);
        if (cr != NULL && f0 != NULL && f1 != NULL &&
            (star_of(s, f0) || (sf->bare && !sf->merging)))
            return key_by_name(s, f1, key, why);
        *why = "ORDER BY a column of SELECT *";
        return false;
    }
    /* PostgreSQL's SQL92 rule first: a bare name is an output column's name or alias. */
    if (!expr_only && cr != NULL && cr->n_fields == 1 && f0 != NULL) {
        for (size_t i = 0; i < s->n_target_list; i++) {
            const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
            const char *have = rt ? target_name(rt) : NULL;
            if (have != NULL && strcmp(have, f0) == 0) {
                key->column = (int)i;
                target_collation(rt, key);
                return true;
            }
        }
    }
    /* Then the SQL99 rule: an expression equal to an output column's expression. */
    for (size_t i = 0; item != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        if (rt != NULL && rt->val != NULL && msg_equal(&item->base, &rt->val->base)) {
            key->column = (int)i;
            target_collation(rt, key);
            return true;
        }
    }
    /* PostgreSQL sorts by a hidden column then, but COLLATE does not change a value: an output
     * column x COLLATE "y" has the values of x, sorted in the key's own collation. */
    for (size_t i = 0; item != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = res_target(s->target_list[i]);
        const PgQuery__Node *v = rt ? rt->val : NULL;
        if (v != NULL && v->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE &&
            v->collate_clause != NULL && v->collate_clause->arg != NULL &&
            msg_equal(&item->base, &v->collate_clause->arg->base)) {
            key->column = (int)i;
            return true;
        }
    }
    *why = "ORDER BY an expression not in the select list";
    return false;
}

static void
plan_order(const PgQuery__SelectStmt *s, pgr_merge_plan_t *plan)
{
    star_facts_t sf = star_facts(s);
    if (s->n_sort_clause > PGR_MERGE_MAX_KEYS) {
        plan->unsupported = "more ORDER BY keys than the merge takes";
        return;
    }
    for (size_t i = 0; i < s->n_sort_clause; i++) {
        const PgQuery__Node *n = s->sort_clause[i];
        if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_SORT_BY || !n->sort_by) {
            plan->unsupported = "an ORDER BY item the planner does not read";
            return;
        }
        const PgQuery__SortBy *sb = n->sort_by;
        if (sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
            plan->unsupported = "ORDER BY ... USING an operator";
            return;
        }
        const char *why = NULL;
        pgr_sort_key_t *key = &plan->keys[i];
        memset(key, 0, sizeof(*key));
        if (!sort_column(s, sb->node, &sf, key, &why)) {
            plan->unsupported = why;
            return;
        }
        key->desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
        if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST)
            key->nulls_first = true;
        else if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST)
            key->nulls_first = false;
        else
            key->nulls_first = key->desc;
    }
    plan->n_keys = (int)s->n_sort_clause;
}

/* Fill plan for a top-level SELECT (all but the LIMIT/OFFSET rewrite). */
static void
plan_select(const PgQuery__SelectStmt *s, pgr_merge_plan_t *plan)
{
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
        s->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED) {
        plan->unsupported = "UNION, INTERSECT or EXCEPT";
        return;
    }
    if (s->having_clause != NULL) {
        plan->unsupported = "HAVING";
        return;
    }
    if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES) {
        plan->unsupported = "FETCH FIRST ... WITH TIES";
        return;
    }
    level_facts_t lf = { 0 };
    for (size_t i = 0; i < s->n_target_list; i++)
        if (s->target_list[i] != NULL)
            scan_level(&s->target_list[i]->base, &lf);
    for (size_t i = 0; i < s->n_sort_clause; i++)
        if (s->sort_clause[i] != NULL)
            scan_level(&s->sort_clause[i]->base, &lf);
    if (lf.window || s->n_window_clause > 0) {
        plan->unsupported = "window function";
        return;
    }
    plan->limit = limit_value(s->limit_count);
    plan->offset = limit_value(s->limit_offset);
    if (plan->limit < -1 || plan->offset < -1) {
        plan->unsupported = "LIMIT or OFFSET that is not an integer constant";
        return;
    }
    if (plan->limit >= 0 && plan->offset > 0 && plan->limit > INT64_MAX - plan->offset) {
        plan->unsupported = "LIMIT plus OFFSET overflows";
        return;
    }
    if (s->n_distinct_clause > 0) {
        plan_distinct(s, &lf, plan);
        if (plan->unsupported == NULL)
            plan_order(s, plan);        /* of the merged rows */
    } else if (s->n_group_clause > 0) {
        plan_groups(s, plan);
        if (plan->unsupported == NULL)
            plan_order(s, plan);        /* of the merged groups */
    } else if (lf.aggregate) {
        plan_aggregates(s, plan);       /* one row: its ORDER BY does not matter */
    } else {
        plan_order(s, plan);
    }
}

/* The statement with LIMIT n+m and no OFFSET (GROUP BY: neither, the merge limits the
 * groups), deparsed from the tree with s's limit fields swapped for the call (restored before
 * return). 0 or PGR_ENOMEM; a deparse failure makes the plan unsupported. */
static int
rewrite_limit(PgQuery__ParseResult *tree, PgQuery__SelectStmt *s, pgr_merge_plan_t *plan,
              char **rewritten)
{
    PgQuery__Node *old_count = s->limit_count, *old_offset = s->limit_offset;
    PgQuery__LimitOption old_option = s->limit_option;
    PgQuery__Node count = PG_QUERY__NODE__INIT;
    PgQuery__AConst k = PG_QUERY__A__CONST__INIT;
    PgQuery__Integer iv = PG_QUERY__INTEGER__INIT;
    PgQuery__Float fv = PG_QUERY__FLOAT__INIT;
    char digits[24];
    if (plan->group) {
        s->limit_count = NULL;
        s->limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
    } else if (plan->limit >= 0) {
        int64_t total = plan->limit + (plan->offset > 0 ? plan->offset : 0);
        k.location = -1;
        if (total <= INT32_MAX) {
            iv.ival = (int32_t)total;
            k.val_case = PG_QUERY__A__CONST__VAL_IVAL;
            k.ival = &iv;
        } else {
            snprintf(digits, sizeof(digits), "%lld", (long long)total);
            fv.fval = digits;
            k.val_case = PG_QUERY__A__CONST__VAL_FVAL;
            k.fval = &fv;
        }
        count.node_case = PG_QUERY__NODE__NODE_A_CONST;
        count.a_const = &k;
        s->limit_count = &count;
    }
    s->limit_offset = NULL;
    size_t n = pg_query__parse_result__get_packed_size(tree);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf != NULL)
        pg_query__parse_result__pack(tree, buf);
    s->limit_count = old_count;
    s->limit_offset = old_offset;
    s->limit_option = old_option;
    if (buf == NULL)
        return PGR_ENOMEM;

    PgQueryProtobuf pb = { .len = n, .data = (char *)buf };
    PgQueryDeparseResult dr = pg_query_deparse_protobuf(pb);
    free(buf);
    int rc = 0;
    if (dr.error != NULL || dr.query == NULL)
        plan->unsupported = "LIMIT/OFFSET that cannot be rewritten for the nodes";
    else if ((*rewritten = strdup(dr.query)) == NULL)
        rc = PGR_ENOMEM;
    pg_query_free_deparse_result(dr);
    return rc;
}

static int
plan_text(const char *text, pgr_merge_plan_t *plan, char **rewritten)
{
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(text);
    if (pr.error != NULL) {
        pg_query_free_protobuf_parse_result(pr);
        plan->unsupported = "does not parse";
        return 0;
    }
    PgQuery__ParseResult *tree = pg_query__parse_result__unpack(
        NULL, pr.parse_tree.len, (const uint8_t *)pr.parse_tree.data);
    pg_query_free_protobuf_parse_result(pr);
    if (tree == NULL)
        return PGR_ENOMEM;      /* the library's own output: only memory can fail here */

    int rc = 0;
    if (tree->n_stmts > 1) {
        /* Only one result set is merged: say so when one of them would need more than
         * concatenation (SELECT 1; SELECT 2 is just the rows of both). */
        for (size_t i = 0; i < tree->n_stmts; i++) {
            const PgQuery__RawStmt *r = tree->stmts[i];
            if (r == NULL || r->stmt == NULL ||
                r->stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT ||
                r->stmt->select_stmt->into_clause != NULL)
                continue;
            pgr_merge_plan_t one = { .limit = -1, .offset = -1 };
            plan_select(r->stmt->select_stmt, &one);
            if (one.unsupported || one.n_keys > 0 || one.aggregate || one.group ||
                one.limit >= 0 ||
                one.offset >= 0) {
                plan->unsupported = "several statements";
                break;
            }
        }
        goto out;
    }
    const PgQuery__RawStmt *raw = tree->n_stmts ? tree->stmts[0] : NULL;
    if (raw == NULL || raw->stmt == NULL ||
        raw->stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        goto out;               /* nothing, or not a SELECT: concatenate */
    PgQuery__SelectStmt *s = raw->stmt->select_stmt;
    if (s->into_clause != NULL)
        goto out;               /* SELECT INTO returns no rows */
    plan->ordered = s->n_sort_clause > 0;
    plan_select(s, plan);
    if (plan->unsupported == NULL &&
        (s->limit_offset != NULL || (plan->group && s->limit_count != NULL)))
        rc = rewrite_limit(tree, s, plan, rewritten);
out:
    pg_query__parse_result__free_unpacked(tree, NULL);
    return rc;
}

static void
plan_entry(void *arg)
{
    plan_call_t *call = arg;
    call->rc = plan_text(call->text, call->plan, call->rewritten);
}

int
pgr_classify_merge_plan(const char *sql, size_t len, pgr_merge_plan_t *plan, char **rewritten)
{
    memset(plan, 0, sizeof(*plan));
    plan->limit = plan->offset = -1;
    *rewritten = NULL;
    if (len > 0 && memchr(sql, '\0', len) != NULL) {
        plan->unsupported = "does not parse";
        return 0;
    }
    if (len > PGR_CLASSIFY_MAX_PARSE ||
        pgr_sqlscan_depth(sql, len, PGR_CLASSIFY_MAX_DEPTH + 1) > PGR_CLASSIFY_MAX_DEPTH) {
        plan->unsupported = "too long or too deep to plan";
        return 0;
    }
    char *text = malloc(len + 1);
    pgr_bigstack_t *stack = NULL;
    plan_call_t call = { .text = text, .plan = plan, .rewritten = rewritten };
    int rc = PGR_ENOMEM;
    if (text == NULL)
        goto fail;
    memcpy(text, sql, len);
    text[len] = '\0';
    if (len <= DIRECT_PARSE_MAX) {
        plan_entry(&call);
    } else {
        rc = pgr_bigstack_new(BIG_STACK_SIZE, &stack);
        if (rc != 0)
            goto fail;
        pgr_bigstack_run(stack, plan_entry, &call);
    }
    rc = call.rc;
    if (rc != 0)
        goto fail;
    free(text);
    pgr_bigstack_free(stack);
    return 0;
fail:
    free(*rewritten);
    *rewritten = NULL;
    memset(plan, 0, sizeof(*plan));
    plan->limit = plan->offset = -1;
    free(text);
    pgr_bigstack_free(stack);
    return rc;
}

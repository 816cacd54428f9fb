/* The broadcast merge plan (classify.h: pgr_classify_merge_plan): how the rows of one SELECT
 * run on every node combine into what one PostgreSQL would return, read from libpg_query's
 * parse tree, and the statement the nodes run instead when LIMIT/OFFSET must be rewritten.
 * Aggregates and GROUP BY are planned here, the ORDER BY keys in classify_order.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route/classify_pgq.h"

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

/* ---- what one SELECT level holds ---------------------------------------------------------- */

typedef struct level_facts {
    bool window;                /* a window function call */
    bool aggregate;             /* an aggregate call (not windowed) */
} level_facts_t;

static bool
is_aggregate_call(const PgQuery__FuncCall *fc)
{
    const char *name = fc->n_funcname ? pgr_classify_str(fc->funcname[fc->n_funcname - 1]) : NULL;
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
    if (pgr_classify_is_star(v)) {
        *why = "SELECT * with aggregates";
        return false;
    }
    if (v == NULL || v->node_case != PG_QUERY__NODE__NODE_FUNC_CALL || !is_aggregate_call(v->func_call)) {
        *why = "a column that is not a plain aggregate";
        return false;
    }
    const PgQuery__FuncCall *fc = v->func_call;
    const char *name = pgr_classify_str(fc->funcname[fc->n_funcname - 1]);
    const char *schema =
        fc->n_funcname >= 2 ? pgr_classify_str(fc->funcname[fc->n_funcname - 2]) : NULL;
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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        if (rt != NULL && rt->val != NULL && pgr_classify_tree_equal(&g->base, &rt->val->base))
            return (int)i;
    }
    const PgQuery__ColumnRef *cr = g != NULL && g->node_case == PG_QUERY__NODE__NODE_COLUMN_REF
                                       ? g->column_ref
                                       : NULL;
    const char *name = cr && cr->n_fields == 1 ? pgr_classify_str(cr->fields[0]) : NULL;
    for (size_t i = 0; name != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        const char *have = rt ? pgr_classify_target_name(rt) : NULL;
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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        const PgQuery__Node *v = rt ? rt->val : NULL;
        const char *why = NULL;
        if (v == NULL || pgr_classify_is_star(v)) {
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
        const PgQuery__Node *kv = pgr_classify_res_target(s->target_list[c])->val;
        for (size_t i = 0; i < s->n_target_list; i++) {
            const PgQuery__Node *v = pgr_classify_res_target(s->target_list[i])->val;
            keyed[i] |= plan->aggs[i] == PGR_AGG_NONE &&
                        pgr_classify_tree_equal(&kv->base, &v->base);
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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        if (rt == NULL || rt->val == NULL || pgr_classify_is_star(rt->val)) {
            plan->unsupported = "SELECT DISTINCT *";
            return;
        }
        plan->aggs[i] = PGR_AGG_NONE;
    }
    plan->group = true;
    plan->n_aggs = (int)s->n_target_list;
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
            pgr_classify_plan_order(s, plan); /* of the merged rows */
    } else if (s->n_group_clause > 0) {
        plan_groups(s, plan);
        if (plan->unsupported == NULL)
            pgr_classify_plan_order(s, plan); /* of the merged groups */
    } else if (lf.aggregate) {
        plan_aggregates(s, plan);       /* one row: its ORDER BY does not matter */
    } else {
        pgr_classify_plan_order(s, plan);
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

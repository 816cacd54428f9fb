/* The ORDER BY keys of the broadcast merge plan (classify_plan.c): each item's output column,
 * by position, by name or by expression as PostgreSQL resolves it, its direction, NULLs and
 * collation; a name under a star goes by name, resolved by the merge against the
 * RowDescription. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "route/classify_pgq.h"

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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        if (rt == NULL || !pgr_classify_is_star(rt->val))
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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        if (rt == NULL || !pgr_classify_is_star(rt->val) || rt->val->column_ref->n_fields != 2)
            continue;
        const char *have = pgr_classify_str(rt->val->column_ref->fields[0]);
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
    const char *name = cc->n_collname ? pgr_classify_str(cc->collname[cc->n_collname - 1]) : NULL;
    const char *schema = cc->n_collname == 2 ? pgr_classify_str(cc->collname[0]) : NULL;
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
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        const char *have =
            rt && !pgr_classify_is_star(rt->val) ? pgr_classify_target_name(rt) : NULL;
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
            const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[key->column]);
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
    const char *f0 = cr && cr->n_fields >= 1 ? pgr_classify_str(cr->fields[0]) : NULL;
    const char *f1 = cr && cr->n_fields == 2 ? pgr_classify_str(cr->fields[1]) : NULL;
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
            const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
            const char *have = rt ? pgr_classify_target_name(rt) : NULL;
            if (have != NULL && strcmp(have, f0) == 0) {
                key->column = (int)i;
                target_collation(rt, key);
                return true;
            }
        }
    }
    /* Then the SQL99 rule: an expression equal to an output column's expression. */
    for (size_t i = 0; item != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        if (rt != NULL && rt->val != NULL && pgr_classify_tree_equal(&item->base, &rt->val->base)) {
            key->column = (int)i;
            target_collation(rt, key);
            return true;
        }
    }
    /* PostgreSQL sorts by a hidden column then, but COLLATE does not change a value: an output
     * column x COLLATE "y" has the values of x, sorted in the key's own collation. */
    for (size_t i = 0; item != NULL && i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = pgr_classify_res_target(s->target_list[i]);
        const PgQuery__Node *v = rt ? rt->val : NULL;
        if (v != NULL && v->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE &&
            v->collate_clause != NULL && v->collate_clause->arg != NULL &&
            pgr_classify_tree_equal(&item->base, &v->collate_clause->arg->base)) {
            key->column = (int)i;
            return true;
        }
    }
    *why = "ORDER BY an expression not in the select list";
    return false;
}

void
pgr_classify_plan_order(const PgQuery__SelectStmt *s, pgr_merge_plan_t *plan)
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

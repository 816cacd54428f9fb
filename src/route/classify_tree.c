/* Questions the classifier's files ask of libpg_query's parse tree: a name list's strings,
 * select-list targets and stars, structural equality of two expressions, and the name
 * PostgreSQL gives an output column. */
#include <string.h>

#include "route/classify_pgq.h"

/* ---- tree helpers ------------------------------------------------------------------------ */

const char *
pgr_classify_str(const PgQuery__Node *n)
{
    return n != NULL && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string != NULL
               ? n->string->sval : NULL;
}

bool
pgr_classify_is_star(const PgQuery__Node *val)
{
    if (val == NULL || val->node_case != PG_QUERY__NODE__NODE_COLUMN_REF || !val->column_ref)
        return false;
    const PgQuery__ColumnRef *cr = val->column_ref;
    return cr->n_fields > 0 && cr->fields[cr->n_fields - 1] != NULL &&
           cr->fields[cr->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
}

const PgQuery__ResTarget *
pgr_classify_res_target(const PgQuery__Node *n)
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

static bool
elem_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return pgr_classify_tree_equal(*(ProtobufCMessage *const *)a,
                                       *(ProtobufCMessage *const *)b);
    return value_equal(f, a, b);
}

/* Structural equality of two parse trees, ignoring every "location" field: two expressions
 * that read the same (up to spacing and comments) in the same SELECT. */
bool
pgr_classify_tree_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
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
        const char *s = cr->n_fields ? pgr_classify_str(cr->fields[cr->n_fields - 1]) : NULL;
        if (s == NULL)
            return 0;
        *name = s;
        return 2;
    }
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
        const PgQuery__AIndirection *ind = n->a_indirection;
        for (size_t i = ind->n_indirection; i > 0; i--) {
            const char *s = pgr_classify_str(ind->indirection[i - 1]);
            if (s != NULL) {
                *name = s;
                return 2;
            }
        }
        return figure_name(ind->arg, name);
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const PgQuery__FuncCall *fc = n->func_call;
        const char *s = fc->n_funcname ? pgr_classify_str(fc->funcname[fc->n_funcname - 1]) : NULL;
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
            const char *s = pgr_classify_str(tn->names[tn->n_names - 1]);
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
            const PgQuery__ResTarget *rt =
                pgr_classify_res_target(sl->subselect->select_stmt->target_list[0]);
            const char *s = rt ? pgr_classify_target_name(rt) : NULL;
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
const char *
pgr_classify_target_name(const PgQuery__ResTarget *rt)
{
    if (rt->name != NULL && rt->name[0] != '\0')
        return rt->name;
    const char *name = NULL;
    return figure_name(rt->val, &name) > 0 ? name : NULL;
}

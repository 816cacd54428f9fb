/* A circular, intrusive doubly linked list (as the Linux kernel's and PgBouncer's): the link is
 * embedded in its owner and pgr_container_of() gets the owner back. A head is a link whose
 * next/prev point at itself when the list is empty. Nothing here allocates. */
#ifndef PGR_CORE_LIST_H
#define PGR_CORE_LIST_H

#include "core/base.h"

typedef struct pgr_list {
    struct pgr_list *next, *prev;
} pgr_list_t;

static inline void
pgr_list_init(pgr_list_t *l)
{
    l->next = l->prev = l;
}

static inline bool
pgr_list_empty(const pgr_list_t *l)
{
    return l->next == l;
}

/* Is the link on some list? (A removed link is re-initialised, so this holds.) */
static inline bool
pgr_list_linked(const pgr_list_t *l)
{
    return l->next != l;
}

static inline void
pgr_list_push_back(pgr_list_t *head, pgr_list_t *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/* Unlink node (a no-op for an unlinked one) and leave it self-linked. */
static inline void
pgr_list_remove(pgr_list_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    pgr_list_init(node);
}

/* The first link or NULL. */
static inline pgr_list_t *
pgr_list_first(const pgr_list_t *head)
{
    return pgr_list_empty(head) ? NULL : head->next;
}

/* The last link or NULL. */
static inline pgr_list_t *
pgr_list_last(const pgr_list_t *head)
{
    return pgr_list_empty(head) ? NULL : head->prev;
}

/* Iterate where the body may unlink (and free) pos. */
#define pgr_list_foreach_safe(pos, tmp, head) \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#define pgr_list_foreach(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#endif

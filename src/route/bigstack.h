/* Run a function on a large private stack. libpg_query and protobuf-c recurse once per level
 * of the parse tree with no depth check, and a left-deep expression (1+1+1+...) gives a level
 * every two bytes of SQL: about 40 KB of text overflows an 8 MB thread stack. The classifier
 * runs long statements here instead, on a lazily committed mapping with a guard page. */
#ifndef PGR_ROUTE_BIGSTACK_H
#define PGR_ROUTE_BIGSTACK_H

#include "core/base.h"

typedef struct pgr_bigstack pgr_bigstack_t;

/* Reserve size bytes of address space (MAP_NORESERVE: pages are committed only when touched)
 * with a PROT_NONE guard page at the low end. Returns 0, PGR_ENOMEM or PGR_EIO (mmap). */
int pgr_bigstack_new(size_t size, pgr_bigstack_t **out) PGR_MUSTCHECK;
/* Unmap. NULL is a no-op. Must not be called from fn. */
void pgr_bigstack_free(pgr_bigstack_t *s);

/* Call fn(arg) on the private stack and return when it returns. fn must return normally (no
 * longjmp out of it) and must not call pgr_bigstack_run on the same stack. */
void pgr_bigstack_run(pgr_bigstack_t *s, void (*fn)(void *arg), void *arg);

/* Give the touched pages back to the system (madvise DONTNEED), keeping the reservation. */
void pgr_bigstack_release(pgr_bigstack_t *s);

#endif

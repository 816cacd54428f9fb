/* A private stack for deep recursion (see bigstack.h): mmap + guard page + ucontext. Under
 * AddressSanitizer the switches are announced with its fiber hooks, so it tracks which stack
 * is live. */
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/mman.h>

#include "route/bigstack.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define ASAN_FIBERS 1
#else
#define ASAN_FIBERS 0
#endif

struct pgr_bigstack {
    void *base;                 /* the mapping; the guard page is its first page */
    size_t size;
    size_t page;
    ucontext_t caller, callee;
    void (*fn)(void *);
    void *arg;
#if ASAN_FIBERS
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
};

int
pgr_bigstack_new(size_t size, pgr_bigstack_t **out)
{
    pgr_bigstack_t *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL)
        return PGR_ENOMEM;
    s->page = (size_t)sysconf(_SC_PAGESIZE);
    s->size = (size + s->page - 1) / s->page * s->page;
    s->base = mmap(NULL, s->size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (s->base == MAP_FAILED) {
        free(s);
        return PGR_EIO;
    }
    if (mprotect(s->base, s->page, PROT_NONE) != 0) {
        munmap(s->base, s->size);
        free(s);
        return PGR_EIO;
    }
    *out = s;
    return 0;
}

void
pgr_bigstack_free(pgr_bigstack_t *s)
{
    if (s == NULL)
        return;
    munmap(s->base, s->size);
    free(s);
}

void
pgr_bigstack_release(pgr_bigstack_t *s)
{
    (void)madvise((char *)s->base + s->page, s->size - s->page, MADV_DONTNEED);
}

/* makecontext passes only ints: the pointer travels as two halves. */
static void
trampoline(unsigned hi, unsigned lo)
{
    pgr_bigstack_t *s = (pgr_bigstack_t *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
#if ASAN_FIBERS
    __sanitizer_finish_switch_fiber(NULL, &s->caller_bottom, &s->caller_size);
#endif
    s->fn(s->arg);
#if ASAN_FIBERS
    __sanitizer_start_switch_fiber(NULL, s->caller_bottom, s->caller_size);
#endif
    /* returning resumes uc_link: the caller's context */
}

void
pgr_bigstack_run(pgr_bigstack_t *s, void (*fn)(void *), void *arg)
{
    s->fn = fn;
    s->arg = arg;
    getcontext(&s->callee);
    s->callee.uc_stack.ss_sp = (char *)s->base + s->page;
    s->callee.uc_stack.ss_size = s->size - s->page;
    s->callee.uc_link = &s->caller;
    uintptr_t p = (uintptr_t)s;
    makecontext(&s->callee, (void (*)(void))trampoline, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#if ASAN_FIBERS
    __sanitizer_start_switch_fiber(&s->fake_stack, (char *)s->base + s->page,
                                   s->size - s->page);
#endif
    swapcontext(&s->caller, &s->callee);
#if ASAN_FIBERS
    __sanitizer_finish_switch_fiber(s->fake_stack, NULL, NULL);
#endif
}

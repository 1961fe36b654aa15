/* floor_preload.so — a measuring instrument, not a runtime: the least an
 * LD_PRELOAD'ed sched_yield that switches green threads can cost. Its
 * pthread_create makes one coroutine (no join, no errno, no run queue, no
 * checks) and its sched_yield does nothing but jump to the other one. Only
 * bench/micro/switch.c in yield mode is run under it (bench/run.py); it
 * supports nothing else. The gap between it and `raw_fcontext N called` is
 * the cost of interposition itself (the PLT's indirect jump into a shared
 * object); the gap between it and gpatch is gpatch's bookkeeping. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "../../runtime/fcontext.h"

static fcontext_t other;
static void *(*start)(void *);
static void *start_arg;

static void entry(transfer_t t)
{
    other = t.fctx;
    start(start_arg);
    for (;;) other = jump_fcontext(other, NULL).fctx; /* done: keep handing back */
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    (void)a;
    size_t size = 1u << 20;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return 11; /* EAGAIN */
    start = fn;
    start_arg = arg;
    other = make_fcontext(stack + size, size, entry);
    *t = 1;
    return 0;
}

int pthread_join(pthread_t t, void **ret)
{
    (void)t;
    if (ret) *ret = NULL;
    return 0;
}

int sched_yield(void)
{
    other = jump_fcontext(other, NULL).fctx;
    return 0;
}

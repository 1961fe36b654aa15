/* runtime/tls.c: a green thread's own thread control block, without a
 * scheduler: make a block, load it, look at thread-local storage from it,
 * load the worker's back. (Each Criterion test is its own process.) */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tls.h"

static __thread int tv = 5;
static __thread char tbuf[64] = "image";
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);
extern void *__dso_handle;

struct seen { int tv; char buf[64]; int *errno_at; int err; int cpu; int dtor_ran; void *self; };
static int dtor_ran;
static void dtor(void *p) { (void)p; dtor_ran++; }

/* runs on the loaded block: every TLS address computed here is the block's */
static __attribute__((noinline)) void look(struct seen *s, int exit_thread)
{
    s->tv = tv;
    memcpy(s->buf, tbuf, sizeof s->buf);
    s->errno_at = &errno;
    s->err = errno;
    errno = 77;
    tv = 11;
    s->cpu = sched_getcpu();
    s->self = (void *)pthread_self();
    void *m = malloc(100); /* malloc works with this block's own cache */
    free(m);
    if (exit_thread) {
        __cxa_thread_atexit_impl(dtor, NULL, __dso_handle);
        gp__tls_run_dtors();
        gp__tls_keep_cache();
    }
}

Test(tls, a_block_has_its_own_tls_errno_and_descriptor, .timeout = 10)
{
    cr_assert_eq(gp__tls_setup(-1), GP_TLS_OWN, "this glibc offers its thread allocator");
    tv = 9;
    strcpy(tbuf, "worker");
    errno = 3;
    void *me = gp__tls_current();
    void *b = gp__tls_new();
    cr_assert(b && b != me);
    struct seen s = {0};
    gp__tls_load(b);
    look(&s, 0);
    gp__tls_load(me);
    cr_assert_eq(s.tv, 5, "the TLS image, not the worker's value: %d", s.tv);
    cr_assert_str_eq(s.buf, "image");
    cr_assert_eq(s.err, 0, "a fresh errno");
    cr_assert_neq(s.errno_at, &errno, "errno has its own address");
    cr_assert_eq((void *)s.self, b, "pthread_self() is the block's descriptor");
    cr_assert_geq(s.cpu, 0, "sched_getcpu() works (asks the kernel)");
    cr_assert_eq(tv, 9, "the worker's TLS is untouched");
    cr_assert_str_eq(tbuf, "worker");
    cr_assert_eq(errno, 3);
    cr_assert(gp__tls_of(b)->worker == 0, "not a worker's until a switch loads it");
    /* and again: the block kept its own values */
    gp__tls_load(b);
    look(&s, 1);
    gp__tls_load(me);
    cr_assert_eq(s.tv, 11);
    cr_assert_eq(s.err, 77);
    cr_assert_eq(dtor_ran, 1, "thread_local destructors run at the thread's exit, on its block");
    gp__tls_free(b);
}

Test(tls, blocks_are_independent_and_reused_caches_work, .timeout = 30)
{
    cr_assert_eq(gp__tls_setup(-1), GP_TLS_OWN);
    void *me = gp__tls_current();
    for (int round = 0; round < 2000; round++) {
        void *b[4];
        for (int i = 0; i < 4; i++) cr_assert((b[i] = gp__tls_new()) != NULL);
        for (int i = 0; i < 4; i++) {
            struct seen s;
            gp__tls_load(b[i]);
            look(&s, 1);
            gp__tls_load(me);
            cr_assert_eq(s.tv, 5, "round %d block %d: %d", round, i, s.tv);
        }
        for (int i = 0; i < 4; i++) gp__tls_free(b[i]);
    }
}

Test(tls, shared_when_asked, .timeout = 10)
{
    cr_assert_eq(gp__tls_setup(0), GP_TLS_SHARED);
}

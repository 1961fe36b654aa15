/* c11.c — C11 <threads.h>. glibc implements it on its internal pthread
 * functions, past any preload, so each entry point is mapped here onto the
 * hooked pthread ones: thrd_create makes a green thread, mtx/cnd/tss/call_once
 * are the cooperative objects of sync.c. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int to_thrd(int err)
{
    return err == 0 ? thrd_success : err == ENOMEM ? thrd_nomem : err == EBUSY ? thrd_busy
                                   : err == ETIMEDOUT ? thrd_timedout : thrd_error;
}

struct start { thrd_start_t fn; void *arg; };

static void *c11_trampoline(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    return (void *)(intptr_t)s.fn(s.arg);
}

GP_EXPORT int thrd_create(thrd_t *t, thrd_start_t fn, void *arg)
{
    struct start *s = malloc(sizeof *s);
    if (!s) return thrd_nomem;
    s->fn = fn;
    s->arg = arg;
    int r = pthread_create((pthread_t *)t, NULL, c11_trampoline, s);
    if (r) free(s);
    return r == EAGAIN ? thrd_nomem : to_thrd(r);
}

GP_EXPORT int thrd_join(thrd_t t, int *res)
{
    void *rv;
    int r = pthread_join((pthread_t)t, &rv);
    if (r == 0 && res) *res = (int)(intptr_t)rv;
    return to_thrd(r);
}

GP_EXPORT int thrd_detach(thrd_t t) { return to_thrd(pthread_detach((pthread_t)t)); }
GP_EXPORT thrd_t thrd_current(void) { return (thrd_t)pthread_self(); }
GP_EXPORT int thrd_equal(thrd_t a, thrd_t b) { return a == b; }
GP_EXPORT _Noreturn void thrd_exit(int res)
{
    pthread_exit((void *)(intptr_t)res);
}
GP_EXPORT void thrd_yield(void) { sched_yield(); }

GP_EXPORT int thrd_sleep(const struct timespec *d, struct timespec *rem)
{
    int e = errno;
    int r = nanosleep(d, rem);
    if (r == 0) return 0;
    r = errno == EINTR ? -1 : -2;
    errno = e;
    return r;
}

GP_EXPORT int mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL);
    int r = pthread_mutex_init((pthread_mutex_t *)m, &a);
    pthread_mutexattr_destroy(&a);
    return to_thrd(r);
}
GP_EXPORT int mtx_lock(mtx_t *m) { return to_thrd(pthread_mutex_lock((pthread_mutex_t *)m)); }
GP_EXPORT int mtx_trylock(mtx_t *m) { return to_thrd(pthread_mutex_trylock((pthread_mutex_t *)m)); }
GP_EXPORT int mtx_timedlock(mtx_t *m, const struct timespec *ts)
{
    return to_thrd(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}
GP_EXPORT int mtx_unlock(mtx_t *m) { return to_thrd(pthread_mutex_unlock((pthread_mutex_t *)m)); }
GP_EXPORT void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

GP_EXPORT int cnd_init(cnd_t *c) { return to_thrd(pthread_cond_init((pthread_cond_t *)c, NULL)); }
GP_EXPORT int cnd_signal(cnd_t *c) { return to_thrd(pthread_cond_signal((pthread_cond_t *)c)); }
GP_EXPORT int cnd_broadcast(cnd_t *c) { return to_thrd(pthread_cond_broadcast((pthread_cond_t *)c)); }
GP_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    return to_thrd(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}
GP_EXPORT int cnd_timedwait(cnd_t *c, mtx_t *m, const struct timespec *ts)
{
    return to_thrd(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}
GP_EXPORT void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

GP_EXPORT int tss_create(tss_t *k, tss_dtor_t dtor) { return to_thrd(pthread_key_create((pthread_key_t *)k, dtor)); }
GP_EXPORT void *tss_get(tss_t k) { return pthread_getspecific((pthread_key_t)k); }
GP_EXPORT int tss_set(tss_t k, void *v) { return to_thrd(pthread_setspecific((pthread_key_t)k, v)); }
GP_EXPORT void tss_delete(tss_t k) { pthread_key_delete((pthread_key_t)k); }

GP_EXPORT void call_once(once_flag *f, void (*fn)(void))
{
    pthread_once((pthread_once_t *)f, fn);
}

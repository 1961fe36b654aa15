/* Unit tests: gthread handles and fds in the hands of OS threads that are
 * not gthreads (plain pthreads here: the unit tests link the runtime
 * without the hooks), and handles of gthreads that are gone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

TestSuite(foreign_rt, .timeout = 30);

static struct gp_thread_attr defaults = {0, NULL, 0, 0};

static void *nap_then_return(void *a)
{
    gp_sleep(gp_after_ns(20 * 1000000));
    return a;
}

struct job { uintptr_t h; int tryjoin, timed, join, again; void *ret; int done; };
static int asked; /* the OS thread has tried and timed out: the gthread may end */

static void *wait_asked(void *a)
{
    while (!__atomic_load_n(&asked, __ATOMIC_ACQUIRE)) gp_sleep(gp_after_ns(1000000));
    return a;
}

static void *os_joiner(void *arg)
{
    struct job *j = arg;
    j->tryjoin = gp_thread_join(j->h, NULL, 0);
    j->timed = gp_thread_join(j->h, NULL, gp_after_ns(1000)); /* 1 us */
    __atomic_store_n(&asked, 1, __ATOMIC_RELEASE);
    j->join = gp_thread_join(j->h, &j->ret, GP_FOREVER);
    j->again = gp_thread_join(j->h, NULL, GP_FOREVER);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* the worker keeps turning its loop (main sleeps) while an OS thread waits */
static void wait_done(int *done)
{
    while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) gp_sleep(gp_after_ns(1000000));
}

Test(foreign_rt, os_thread_joins_a_gthread)
{
    struct job j = {0};
    cr_assert_eq(gp_thread_create(&j.h, &defaults, wait_asked, (void *)77), 0);
    pthread_t p;
    pthread_create(&p, NULL, os_joiner, &j);
    wait_done(&j.done);
    pthread_join(p, NULL);
    cr_assert_eq(j.tryjoin, -EBUSY);
    cr_assert_eq(j.timed, -ETIMEDOUT);
    cr_assert_eq(j.join, 0);
    cr_assert_eq((long)j.ret, 77);
    cr_assert_eq(j.again, -ESRCH, "joined: its handle is stale");
    uintptr_t os;
    cr_assert_eq(gp_handle_kind(j.h, &os), GP_H_GONE);
    cr_assert_eq(gp_thread_join(j.h, NULL, GP_FOREVER), -ESRCH, "the worker agrees");
}

static void *detach_self(void *a)
{
    cr_assert_eq(gp_thread_detach(gp_thread_self()), 0);
    return a;
}

struct ask { uintptr_t h; int join, detach, alive, done; };
static void *os_asker(void *arg)
{
    struct ask *a = arg;
    a->join = gp_thread_join(a->h, NULL, GP_FOREVER);
    a->detach = gp_thread_detach(a->h);
    a->alive = gp_thread_alive(a->h);
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

Test(foreign_rt, self_detached_and_gone)
{
    uintptr_t h, other;
    gp_thread_create(&h, &defaults, detach_self, NULL);
    gp_thread_create(&other, &defaults, nap_then_return, NULL);
    gp_sleep(gp_after_ns(5 * 1000000)); /* h has run, detached itself and exited */
    uintptr_t os;
    cr_assert_eq(gp_handle_kind(h, &os), GP_H_GONE, "a freed record is still recognised");
    cr_assert_eq(gp_thread_join(h, NULL, GP_FOREVER), -EINVAL);
    cr_assert_eq(gp_thread_detach(h), -EINVAL);
    cr_assert_eq(gp_thread_alive(h), 1);
    struct ask a = {.h = h};
    pthread_t p;
    pthread_create(&p, NULL, os_asker, &a);
    pthread_join(p, NULL);
    cr_assert_eq(a.join, -EINVAL);
    cr_assert_eq(a.detach, -EINVAL);
    cr_assert_eq(a.alive, 1);
    cr_assert_eq(gp_thread_join(other, NULL, GP_FOREVER), 0);
}

Test(foreign_rt, os_thread_joins_then_asks_again)
{
    uintptr_t h;
    gp_thread_create(&h, &defaults, nap_then_return, NULL);
    struct ask a = {.h = h};
    pthread_t p;
    pthread_create(&p, NULL, os_asker, &a); /* joins (waits for it), then detach and alive: gone */
    wait_done(&a.done);
    pthread_join(p, NULL);
    cr_assert_eq(a.join, 0);
    cr_assert_eq(a.detach, -ESRCH, "joined: stale, as glibc says of a joined thread");
    cr_assert_eq(a.alive, 1);
}

/* ---- fds ---------------------------------------------------------------- */
struct rd { struct gp_io io; char *buf; };
static ssize_t try_read(struct gp_io *op, int how)
{
    struct rd *r = (struct rd *)op;
    ssize_t n = how == GP_SOCK ? recv(op->fd, r->buf, op->len, MSG_DONTWAIT) : read(op->fd, r->buf, op->len);
    return n < 0 ? -errno : n;
}

static int N, newpair[2], swapped;
static void *os_swapper(void *a)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, newpair), 0);
    cr_assert_eq(gp_fd_close(N), 0); /* what the dup2 hook tells the runtime first */
    cr_assert_eq(dup2(newpair[0], N), N);
    cr_assert_eq(write(newpair[1], "new", 3), 3);
    __atomic_store_n(&swapped, 1, __ATOMIC_RELEASE);
    return a;
}

static void *writer(void *a)
{
    gp_sleep(gp_after_ns(10 * 1000000));
    cr_assert_eq(write((int)(long)a, "old", 3), 3);
    return NULL;
}

Test(foreign_rt, fd_replaced_by_an_os_thread)
{
    int old[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, old), 0);
    N = old[0];
    uintptr_t w;
    gp_thread_create(&w, &defaults, writer, (void *)(long)old[1]);
    char buf[16] = {0};
    struct rd r = {{.attempt = try_read, .fd = N, .events = GP_IN, .drains = 1, .len = sizeof buf}, buf};
    cr_assert_eq(gp_io(&r.io), 3, "parked, then read the old file");
    gp_thread_join(w, NULL, GP_FOREVER);
    pthread_t p;
    pthread_create(&p, NULL, os_swapper, NULL);
    pthread_join(p, NULL);
    memset(buf, 0, sizeof buf);
    r.io.done = 0;
    cr_assert_eq(gp_io(&r.io), 3, "the new file's data, not a park on the old registration");
    cr_assert_str_eq(buf, "new");
}

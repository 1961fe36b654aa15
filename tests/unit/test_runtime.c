/* Unit tests of the runtime's objects, linked directly (no hooks, no
 * preload): green threads, switching, the stack pool, timers, fd waits. Each
 * Criterion test is its own process, so each starts a fresh runtime. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

TestSuite(runtime, .timeout = 30);

static struct gp_thread_attr defaults = {0, NULL, 0, 0};

static void *ret_arg(void *a) { return a; }

Test(runtime, create_join_returns_value)
{
    uintptr_t h;
    cr_assert_eq(gp_thread_create(&h, &defaults, ret_arg, (void *)1234), 0);
    cr_assert_eq(gp_is_thread(h), 1);
    void *r = NULL;
    cr_assert_eq(gp_thread_join(h, &r, GP_FOREVER), 0);
    cr_assert_eq((long)r, 1234);
    cr_assert_eq(gp_is_thread(h), 0, "a joined gthread's handle is no longer valid");
    cr_assert_eq(gp_thread_join(h, &r, GP_FOREVER), -ESRCH);
}

static char trace[64];
static int tpos;
static void *pinger(void *a)
{
    for (int i = 0; i < 3; i++) {
        trace[tpos++] = (char)(long)a;
        gp_yield();
    }
    return NULL;
}

Test(runtime, yield_interleaves_in_order)
{
    uintptr_t a, b;
    gp_thread_create(&a, &defaults, pinger, (void *)'a');
    gp_thread_create(&b, &defaults, pinger, (void *)'b');
    gp_thread_join(a, NULL, GP_FOREVER);
    gp_thread_join(b, NULL, GP_FOREVER);
    trace[tpos] = 0;
    cr_assert_str_eq(trace, "ababab");
}

static void *errno_keeper(void *a)
{
    errno = (int)(long)a;
    gp_yield();
    gp_yield();
    return (void *)(long)errno;
}

Test(runtime, errno_survives_switches)
{
    uintptr_t a, b;
    gp_thread_create(&a, &defaults, errno_keeper, (void *)11);
    gp_thread_create(&b, &defaults, errno_keeper, (void *)22);
    errno = 33;
    void *ra, *rb;
    gp_thread_join(a, &ra, GP_FOREVER);
    cr_assert_eq(errno, 33);
    gp_thread_join(b, &rb, GP_FOREVER);
    cr_assert_eq((long)ra, 11);
    cr_assert_eq((long)rb, 22);
    cr_assert_eq(errno, 33);
}

static void *where(void *a)
{
    int local;
    *(uintptr_t *)a = (uintptr_t)&local;
    return NULL;
}

Test(runtime, stacks_are_recycled_and_guarded)
{
    uintptr_t h, first = 0, again = 0;
    gp_thread_create(&h, &defaults, where, &first);
    struct gp_stack_info si;
    cr_assert_eq(gp_thread_stack(h, &si), 0);
    cr_assert_eq(si.guard, gp__page(), "a guard page below the stack");
    cr_assert_eq(si.size, gp__default_stack);
    gp_thread_join(h, NULL, GP_FOREVER);
    cr_assert(first >= (uintptr_t)si.lo && first < (uintptr_t)si.lo + si.size, "ran on its own stack");
    gp_thread_create(&h, &defaults, where, &again);
    gp_thread_join(h, NULL, GP_FOREVER);
    cr_assert_eq(first, again, "the pooled stack is reused");
}

Test(runtime, program_stack_and_size_honoured)
{
    static char mine[64 * 1024] __attribute__((aligned(64)));
    struct gp_thread_attr a = {sizeof mine, mine, 0, 0};
    uintptr_t h, at = 0;
    gp_thread_create(&h, &a, where, &at);
    gp_thread_join(h, NULL, GP_FOREVER);
    cr_assert(at >= (uintptr_t)mine && at < (uintptr_t)mine + sizeof mine);
    struct gp_thread_attr s = {128 * 1024, NULL, 0, 0};
    gp_thread_create(&h, &s, where, &at);
    struct gp_stack_info si;
    gp_thread_stack(h, &si);
    cr_assert_eq(si.size, 128 * 1024);
    gp_thread_join(h, NULL, GP_FOREVER);
}

Test(runtime, join_errors)
{
    uintptr_t h;
    cr_assert_eq(gp_thread_join(12345, NULL, GP_FOREVER), -ESRCH);
    gp_thread_create(&h, &defaults, ret_arg, NULL);
    cr_assert_eq(gp_thread_join(h, NULL, 0), -EBUSY, "tryjoin of a thread that has not run");
    cr_assert_eq(gp_thread_join(gp_thread_self(), NULL, GP_FOREVER), -EDEADLK);
    cr_assert_eq(gp_thread_detach(h), 0);
    cr_assert_eq(gp_thread_join(h, NULL, GP_FOREVER), -EINVAL);
    cr_assert_eq(gp_thread_detach(h), -EINVAL);
}

static char order[8];
static int opos;
static void *sleeper(void *a)
{
    long ms = (long)a;
    cr_assert_eq(gp_sleep(gp_after_ns(ms * 1000000)), 0);
    order[opos++] = (char)('0' + ms / 10);
    return NULL;
}

Test(runtime, timers_wake_in_deadline_order)
{
    uintptr_t h[3];
    long ms[3] = {60, 20, 40};
    gp_deadline t0 = gp_now();
    for (int i = 0; i < 3; i++) gp_thread_create(&h[i], &defaults, sleeper, (void *)ms[i]);
    for (int i = 0; i < 3; i++) gp_thread_join(h[i], NULL, GP_FOREVER);
    cr_assert_str_eq(order, "246");
    cr_assert_geq(gp_now() - t0, 60 * 1000000LL, "a deadline is never early");
}

/* ---- fd waits: an attempt function of our own, like the shim's ---------- */
struct rd { struct gp_io io; char *buf; };
static ssize_t try_recv(struct gp_io *op, int how)
{
    struct rd *r = (struct rd *)op;
    ssize_t n = recv(op->fd, r->buf, op->len, how == GP_SOCK ? MSG_DONTWAIT : 0);
    return n < 0 ? -errno : n;
}

static int pair[2];
static void *late_writer(void *a)
{
    gp_sleep(gp_after_ns(30 * 1000000));
    cr_assert_eq(write(pair[1], "ok", 2), 2);
    return a;
}

Test(runtime, fd_wait_parks_until_readable)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    uintptr_t h;
    gp_thread_create(&h, &defaults, late_writer, NULL);
    char buf[8] = {0};
    struct rd r = {{.attempt = try_recv, .fd = pair[0], .events = GP_IN, .len = sizeof buf}, buf};
    cr_assert_eq(gp_io(&r.io), 2);
    cr_assert_str_eq(buf, "ok");
    gp_thread_join(h, NULL, GP_FOREVER);
    cr_assert_eq(fcntl(pair[0], F_GETFL) & O_NONBLOCK, 0, "the runtime never sets O_NONBLOCK");
}

static void *closer(void *a)
{
    gp_sleep(gp_after_ns(20 * 1000000));
    cr_assert_eq(gp_fd_close(pair[0]), 0);
    close(pair[0]);
    return a;
}

Test(runtime, close_wakes_waiter_with_ebadf)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    uintptr_t h;
    gp_thread_create(&h, &defaults, closer, NULL);
    char buf[8];
    struct rd r = {{.attempt = try_recv, .fd = pair[0], .events = GP_IN, .len = sizeof buf}, buf};
    cr_assert_eq(gp_io(&r.io), -EBADF);
    gp_thread_join(h, NULL, GP_FOREVER);
}

Test(runtime, runtime_fds_are_protected)
{
    uintptr_t h;
    gp_thread_create(&h, &defaults, ret_arg, NULL);
    cr_assert_eq(gp_fd_close(gp__w->loop.backend_fd), -EBADF);
    gp_thread_join(h, NULL, GP_FOREVER);
}

Test(runtime, socket_timeout_gives_eagain)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    struct timeval tv = {0, 50000};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uintptr_t h;
    gp_thread_create(&h, &defaults, sleeper, (void *)10L);
    char buf[8];
    struct rd r = {{.attempt = try_recv, .fd = pair[0], .events = GP_IN, .len = sizeof buf}, buf};
    gp_deadline t0 = gp_now();
    cr_assert_eq(gp_io(&r.io), -EAGAIN);
    cr_assert_geq(gp_now() - t0, 50 * 1000000LL);
    gp_thread_join(h, NULL, GP_FOREVER);
}

static void *napper(void *a)
{
    cr_assert_eq(gp_sleep(gp_after_ns((long)a * 1000000)), 0);
    return NULL;
}

Test(runtime, many_gthreads)
{
    enum { N = 10000 };
    static uintptr_t h[N];
    for (int i = 0; i < N; i++) cr_assert_eq(gp_thread_create(&h[i], &defaults, napper, (void *)10L), 0);
    for (int i = 0; i < N; i++) cr_assert_eq(gp_thread_join(h[i], NULL, GP_FOREVER), 0);
}

/* A timer that falls due while gthreads run is fired at the top of the next
 * loop turn; the loop must then come back to run its gthread rather than
 * block in epoll_wait (it did, once: UV_RUN_ONCE only returns early for I/O). */
static void *busy_then_read(void *a)
{
    gp_deadline end = gp_now() + 30 * 1000000LL;
    while (gp_now() < end) { /* computes: the 5 ms sleeper's timer falls due */ }
    char c;
    struct rd r = {{.attempt = try_recv, .fd = pair[0], .events = GP_IN, .len = 1}, &c};
    return (void *)(long)gp_io(&r.io);
}

static void *short_sleep(void *a)
{
    gp_sleep(gp_after_ns(5 * 1000000));
    return a;
}

Test(runtime, timer_due_during_a_run_wakes_its_gthread, .timeout = 10)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    uintptr_t s, b;
    gp_thread_create(&s, &defaults, short_sleep, (void *)7L);
    gp_thread_create(&b, &defaults, busy_then_read, NULL);
    void *r;
    cr_assert_eq(gp_thread_join(s, &r, GP_FOREVER), 0);
    cr_assert_eq((long)r, 7);
    gp_fd_close(pair[0]);
    cr_assert_eq(gp_thread_join(b, &r, GP_FOREVER), 0);
    cr_assert_eq((long)r, -EBADF);
}

/* A gthread that never waits but makes hooked calls is preempted after a
 * time slice, so a sleeper's timer fires (cooperative, not starving). */
static volatile int woke_flag;
static void *flag_after_sleep(void *a)
{
    gp_sleep(gp_after_ns(5 * 1000000));
    woke_flag = 1;
    return a;
}
static void *busy_with_calls(void *a)
{
    long calls = 0;
    while (!woke_flag) {
        gp_preempt_point(); /* what an unlock or a post does */
        calls++;
    }
    return (void *)calls;
}

Test(runtime, preemption_at_hooked_calls_lets_timers_fire, .timeout = 10)
{
    uintptr_t s, b;
    gp_thread_create(&s, &defaults, flag_after_sleep, NULL);
    gp_thread_create(&b, &defaults, busy_with_calls, NULL);
    void *calls;
    cr_assert_eq(gp_thread_join(b, &calls, GP_FOREVER), 0);
    cr_assert_eq(gp_thread_join(s, NULL, GP_FOREVER), 0);
    cr_assert(woke_flag);
    cr_assert_gt((long)calls, 0);
}

/* The helper pool grows: six jobs that each wait until all six have started
 * (as six flock callers waiting on each other would) all finish; a fixed
 * 4-thread pool, like libuv's, would never let the last two start. */
static int started_jobs;
static void rendezvous(void *ctx)
{
    __atomic_add_fetch(&started_jobs, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&started_jobs, __ATOMIC_SEQ_CST) < 6) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    *(int *)ctx = 1;
}
static void *offloader(void *a)
{
    int done = 0;
    gp_offload(rendezvous, &done);
    return (void *)(long)done;
}

Test(runtime, helper_pool_grows_past_four_blocked_jobs, .timeout = 10)
{
    uintptr_t h[6];
    for (int i = 0; i < 6; i++) gp_thread_create(&h[i], &defaults, offloader, NULL);
    for (int i = 0; i < 6; i++) {
        void *r;
        cr_assert_eq(gp_thread_join(h[i], &r, GP_FOREVER), 0);
        cr_assert_eq((long)r, 1);
    }
}

/* Unit tests of the scheduler's contract (runtime/sched.c's essay), linked
 * directly against the runtime: waits that do not park yield, cancellation
 * reaches parked cancellation points and leaves nothing queued, a wake that
 * reaches a wait while it yields is not lost. Each test is its own process
 * with a fresh runtime; each would hang (killed by the timeout) or fail
 * without the rule it checks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>

#include "internal.h"

TestSuite(sched, .timeout = 30);

static struct gp_thread_attr defaults = {0, NULL, 0, 0};
static volatile int flag;

static void *set_flag(void *a)
{
    if (a) gp_sleep(gp_after_ns(2 * 1000000)); /* a timer must fire first */
    flag = 1;
    return NULL;
}

static int never(void *ctx) { (void)ctx; return -EAGAIN; }

/* main spins on sleeps whose deadline has passed until another gthread,
 * runnable at once or after a timer, sets the flag */
Test(sched, expired_sleep_lets_others_run)
{
    for (long timer = 0; timer < 2; timer++) {
        uintptr_t h;
        flag = 0;
        cr_assert_eq(gp_thread_create(&h, &defaults, set_flag, (void *)timer), 0);
        while (!flag) cr_assert_eq(gp_sleep(0), 0);
        cr_assert_eq(gp_thread_join(h, NULL, GP_FOREVER), 0);
    }
}

/* the same with sync waits at a past deadline, and zero-timeout polls */
static int poll_nothing(struct gp_pollop *op) { (void)op; return 0; }
Test(sched, expired_sync_wait_and_zero_poll_let_others_run)
{
    static int key;
    for (long timer = 0; timer < 2; timer++) {
        uintptr_t h;
        flag = 0;
        gp_thread_create(&h, &defaults, set_flag, (void *)timer);
        while (!flag) cr_assert_eq(gp_sync_wait(&key, never, NULL, gp_now() - 1, GP_INTR_NONE, 0), -ETIMEDOUT);
        gp_thread_join(h, NULL, GP_FOREVER);
        flag = 0;
        gp_thread_create(&h, &defaults, set_flag, (void *)timer);
        struct gp_pollop op = {.attempt = poll_nothing, .deadline = 0};
        while (!flag) cr_assert_eq(gp_poll(&op), 0);
        gp_thread_join(h, NULL, GP_FOREVER);
    }
}

/* a condition wait with a passed deadline yields with its entry queued: a
 * signal that dequeues it meanwhile is its result (0), not a lost wake */
static int woke;
static void *signaller(void *key)
{
    woke = gp_sync_wake(key, 1);
    return NULL;
}
static int held;
static void release(void *ctx) { (void)ctx; held = 0; }
static int reacquire(void *ctx) { (void)ctx; held = 1; return 0; }
Test(sched, wake_during_a_skipped_wait_is_its_result)
{
    static int key;
    uintptr_t h;
    held = 1;
    gp_thread_create(&h, &defaults, signaller, &key);
    int r = gp_cond_wait(&key, release, reacquire, NULL, 0);
    gp_thread_join(h, NULL, GP_FOREVER);
    cr_assert_eq(woke, 1, "the signaller ran during the wait and found it queued");
    cr_assert_eq(r, 0, "the wait that was signalled returns 0, not ETIMEDOUT");
    cr_assert_eq(held, 1);
}

/* cancellation of a condition waiter: it takes its mutex back, then exits
 * PTHREAD_CANCELED, and nothing of it stays queued */
static int reacquired;
static int count_reacquire(void *ctx) { (void)ctx; reacquired++; held = 1; return 0; }
static void *cond_waiter(void *key)
{
    held = 1;
    gp_cond_wait(key, release, count_reacquire, NULL, GP_FOREVER);
    return (void *)1; /* never: only a cancel ends the wait */
}
Test(sched, cancel_reaches_a_condition_waiter)
{
    static int key;
    uintptr_t h;
    gp_thread_create(&h, &defaults, cond_waiter, &key);
    gp_yield(); /* it runs and parks */
    cr_assert_eq(held, 0, "the waiter released its mutex and parked");
    cr_assert_eq(gp_thread_cancel(h), 0);
    void *ret = NULL;
    cr_assert_eq(gp_thread_join(h, &ret, GP_FOREVER), 0);
    cr_assert_eq(ret, PTHREAD_CANCELED);
    cr_assert_eq(reacquired, 1, "the mutex was taken back before the exit");
    cr_assert_eq(gp_sync_wake(&key, 1), 0, "the cancelled waiter left the queue");
}

/* a sem_wait-like wait (GP_INTR_CANCEL) is a cancellation point; a
 * mutex-like one (GP_INTR_NONE) is not: its thread is cancelled later, at
 * its next cancellation point */
static void *sem_like(void *key)
{
    gp_sync_wait(key, never, NULL, GP_FOREVER, GP_INTR_ALWAYS | GP_INTR_CANCEL, 0);
    return (void *)1;
}
static volatile int passed;
static int pass_when_flag(void *ctx) { (void)ctx; return flag ? 0 : -EAGAIN; }
static void *mutex_like(void *key)
{
    gp_sync_wait(key, pass_when_flag, NULL, GP_FOREVER, GP_INTR_NONE, 0);
    passed = 1;
    gp_sleep(GP_FOREVER); /* a cancellation point */
    return (void *)1;
}
Test(sched, cancellation_points_and_not)
{
    static int k1, k2;
    uintptr_t a, b;
    gp_thread_create(&a, &defaults, sem_like, &k1);
    gp_thread_create(&b, &defaults, mutex_like, &k2);
    gp_yield();
    gp_thread_cancel(a);
    gp_thread_cancel(b);
    void *ret = NULL;
    cr_assert_eq(gp_thread_join(a, &ret, GP_FOREVER), 0);
    cr_assert_eq(ret, PTHREAD_CANCELED);
    cr_assert_eq(gp_sync_wake(&k1, 1), 0, "nothing left queued on the semaphore");
    for (int i = 0; i < 10; i++) gp_yield();
    cr_assert_eq(passed, 0, "a lock wait is not a cancellation point");
    flag = 1;
    cr_assert_eq(gp_sync_wake(&k2, 1), 1);
    cr_assert_eq(gp_thread_join(b, &ret, GP_FOREVER), 0);
    cr_assert_eq(passed, 1);
    cr_assert_eq(ret, PTHREAD_CANCELED, "cancelled at the sleep that followed");
}

/* a cancelled join leaves its target joinable */
static void *sleeper(void *a) { (void)a; gp_sleep(GP_FOREVER); return NULL; }
static void *joiner(void *t) { gp_thread_join(*(uintptr_t *)t, NULL, GP_FOREVER); return (void *)1; }
Test(sched, cancelled_join_leaves_the_target_joinable)
{
    uintptr_t t, j;
    gp_thread_create(&t, &defaults, sleeper, NULL);
    gp_thread_create(&j, &defaults, joiner, &t);
    gp_yield();
    gp_thread_cancel(j);
    void *ret = NULL;
    cr_assert_eq(gp_thread_join(j, &ret, GP_FOREVER), 0);
    cr_assert_eq(ret, PTHREAD_CANCELED);
    gp_thread_cancel(t);
    cr_assert_eq(gp_thread_join(t, &ret, GP_FOREVER), 0, "the target is still joinable");
    cr_assert_eq(ret, PTHREAD_CANCELED);
}

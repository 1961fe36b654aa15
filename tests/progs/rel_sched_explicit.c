/* rel_sched_explicit — a thread created with PTHREAD_EXPLICIT_SCHED gets
 * the policy and priority its attribute names, or pthread_create fails as
 * the kernel decides (EPERM without the privilege, EINVAL for a priority
 * outside the policy's range); what the thread then reports of itself
 * (pthread_getschedparam, and the kernel's sched_getscheduler) is what was
 * applied. Under gpatch a real-time (or other non-inherited) policy makes
 * an OS thread of its own (shim/thread.c); before, the attribute was
 * ignored and the thread reported its worker's SCHED_OTHER (Open POSIX
 * pthread_attr_setinheritsched/2-2, pthread_attr_setschedparam/1-3, 1-4,
 * pthread_create/3-2). Also: such a thread starts with its creator's signal
 * mask; a green thread that joins one while it waits for main does not
 * stop main (one worker; before, the join blocked the worker), and one
 * cancelled in that join leaves it joinable; pthread_setschedparam's bad
 * inputs. As root the
 * real-time lines succeed, unprivileged they fail with EPERM: both ways the
 * same stock and under gpatch. alarm(20) turns a hang into a failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *pol_name(int p)
{
    switch (p) {
    case SCHED_OTHER: return "SCHED_OTHER";
    case SCHED_FIFO: return "SCHED_FIFO";
    case SCHED_RR: return "SCHED_RR";
    case SCHED_BATCH: return "SCHED_BATCH";
    default: return "other";
    }
}

static const char *err_name(int e)
{
    switch (e) {
    case 0: return "0";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOTSUP: return "ENOTSUP";
    case EAGAIN: return "EAGAIN";
    case ESRCH: return "ESRCH";
    default: return strerror(e);
    }
}

/* what the calling thread reports of itself, into seen (printed by whoever
 * joins it: the output's order is the program's, not the scheduler's) */
static char seen[256];
static void look(void)
{
    int pol = -1;
    struct sched_param sp = {.sched_priority = -1};
    int r = pthread_getschedparam(pthread_self(), &pol, &sp);
    snprintf(seen, sizeof seen, "  the thread: pthread_getschedparam %s, %s priority %d; kernel: %s\n", err_name(r),
             pol_name(pol), sp.sched_priority, pol_name(sched_getscheduler(0) & ~SCHED_RESET_ON_FORK));
}

static void *report(void *arg)
{
    (void)arg;
    look();
    return NULL;
}

static void make(const char *what, int policy, int prio, int explicit)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    struct sched_param sp = {.sched_priority = prio};
    int rp = pthread_attr_setschedpolicy(&a, policy);
    int rs = pthread_attr_setschedparam(&a, &sp);
    pthread_attr_setinheritsched(&a, explicit ? PTHREAD_EXPLICIT_SCHED : PTHREAD_INHERIT_SCHED);
    pthread_t t;
    seen[0] = 0;
    int r = pthread_create(&t, &a, report, NULL);
    printf("%s: attribute %s/%s, pthread_create %s\n", what, err_name(rp), err_name(rs), err_name(r));
    if (r == 0) printf("  join: %s\n%s", err_name(pthread_join(t, NULL)), seen);
    pthread_attr_destroy(&a);
}

/* a real-time thread waits for main; a green thread joins it meanwhile */
static sem_t go;
static int rt_blocks1, rt_blocks2;
static void *rt_waits(void *arg)
{
    (void)arg;
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    rt_blocks1 = sigismember(&m, SIGUSR1);
    rt_blocks2 = sigismember(&m, SIGUSR2);
    while (sem_wait(&go) != 0) {}
    return (void *)42;
}

static void *joiner(void *arg)
{
    (void)arg;
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
    pthread_attr_t a;
    pthread_attr_init(&a);
    struct sched_param sp = {.sched_priority = 10};
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    pthread_attr_setschedparam(&a, &sp);
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_t t;
    int r = pthread_create(&t, &a, rt_waits, NULL);
    printf("a thread's SCHED_FIFO 10 thread: pthread_create %s\n", err_name(r));
    pthread_attr_destroy(&a);
    if (r != 0) {
        sem_post(&go); /* nobody waits: main's post is not needed */
        return NULL;
    }
    void *v = NULL;
    r = pthread_join(t, &v);
    printf("  joined it after main's post: %s, value %ld\n", err_name(r), (long)v);
    printf("  it had its creator's mask: SIGUSR2 blocked %s, SIGUSR1 blocked %s\n", rt_blocks2 ? "yes" : "no",
           rt_blocks1 ? "yes" : "no");
    return NULL;
}

/* a green thread cancelled while it joins a real-time thread: the thread
 * joined stays joinable */
static sem_t go2;
static pthread_t rt2;
static int rt2_made;
static void *rt_waits2(void *arg)
{
    (void)arg;
    while (sem_wait(&go2) != 0) {}
    return (void *)7;
}

static void *cancelled_joiner(void *arg)
{
    (void)arg;
    pthread_attr_t a;
    pthread_attr_init(&a);
    struct sched_param sp = {.sched_priority = 5};
    pthread_attr_setschedpolicy(&a, SCHED_RR);
    pthread_attr_setschedparam(&a, &sp);
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    int r = pthread_create(&rt2, &a, rt_waits2, NULL);
    pthread_attr_destroy(&a);
    printf("a thread's SCHED_RR 5 thread: pthread_create %s\n", err_name(r));
    if (r != 0) __atomic_store_n(&rt2_made, -1, __ATOMIC_RELEASE);
    if (r == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        printf("  pthread_timedjoin_np of it, 20 ms: %s\n", err_name(pthread_timedjoin_np(rt2, NULL, &ts)));
        __atomic_store_n(&rt2_made, 1, __ATOMIC_RELEASE);
        pthread_join(rt2, NULL);
    }
    return NULL;
}

static void setsched(const char *what, int policy, int prio)
{
    struct sched_param sp = {.sched_priority = prio};
    printf("pthread_setschedparam(%s): %s\n", what, err_name(pthread_setschedparam(pthread_self(), policy, &sp)));
}

static void *sets_its_own(void *arg)
{
    (void)arg;
    setsched("SCHED_FIFO 10", SCHED_FIFO, 10);
    look();
    printf("%s", seen);
    setsched("SCHED_OTHER 0", SCHED_OTHER, 0);
    look();
    printf("%s", seen);
    setsched("policy 12345", 12345, 0);
    setsched("SCHED_FIFO 100", SCHED_FIFO, 100);
    setsched("SCHED_FIFO 0", SCHED_FIFO, 0);
    setsched("SCHED_OTHER 5", SCHED_OTHER, 5);
    printf("pthread_setschedprio(5) on SCHED_OTHER: %s\n", err_name(pthread_setschedprio(pthread_self(), 5)));
    look();
    printf("%s", seen);
    return NULL;
}

int main(void)
{
    alarm(20);
    setvbuf(stdout, NULL, _IOLBF, 0);
    make("explicit SCHED_FIFO 20", SCHED_FIFO, 20, 1);
    make("explicit SCHED_RR 1", SCHED_RR, 1, 1);
    make("explicit SCHED_FIFO 99", SCHED_FIFO, 99, 1);
    make("explicit SCHED_OTHER 0", SCHED_OTHER, 0, 1);
    make("explicit SCHED_BATCH 0 (not an attribute's policy)", SCHED_BATCH, 0, 1);
    make("inherited (the attribute's SCHED_FIFO 20 unused)", SCHED_FIFO, 20, 0);

    /* an attribute whose priority is outside its policy's range: set for
     * SCHED_FIFO, then the policy changed under it */
    pthread_attr_t a;
    pthread_attr_init(&a);
    struct sched_param sp = {.sched_priority = 50};
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    pthread_attr_setschedparam(&a, &sp);
    printf("pthread_attr_setschedpolicy(SCHED_OTHER) under priority 50: %s\n",
           err_name(pthread_attr_setschedpolicy(&a, SCHED_OTHER)));
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_t t;
    int r = pthread_create(&t, &a, report, NULL);
    printf("explicit SCHED_OTHER 50: pthread_create %s\n", err_name(r));
    if (r == 0) printf("%s", seen);
    if (r == 0) pthread_join(t, NULL);
    printf("pthread_attr_setschedpolicy(12345): %s\n", err_name(pthread_attr_setschedpolicy(&a, 12345)));
    sp.sched_priority = 100;
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    printf("pthread_attr_setschedparam(SCHED_FIFO 100): %s\n", err_name(pthread_attr_setschedparam(&a, &sp)));
    pthread_attr_destroy(&a);

    sem_init(&go, 0, 0);
    pthread_t j;
    pthread_create(&j, NULL, joiner, NULL);
    usleep(100000); /* the joiner waits meanwhile, and main runs */
    sem_post(&go);
    pthread_join(j, NULL);
    sem_destroy(&go);

    sem_init(&go2, 0, 0);
    pthread_create(&j, NULL, cancelled_joiner, NULL);
    while (!__atomic_load_n(&rt2_made, __ATOMIC_ACQUIRE)) usleep(1000);
    if (rt2_made > 0) {
        usleep(100000); /* the joiner waits in pthread_join meanwhile */
        printf("  pthread_cancel of the thread joining it: %s\n", err_name(pthread_cancel(j)));
    }
    void *v = NULL;
    pthread_join(j, &v);
    if (rt2_made > 0) {
        printf("  that thread ended cancelled: %s\n", v == PTHREAD_CANCELED ? "yes" : "no");
        sem_post(&go2);
        v = NULL;
        int r2 = pthread_join(rt2, &v);
        printf("  then main joins it: %s, value %ld\n", err_name(r2), (long)v);
    }
    sem_destroy(&go2);

    pthread_create(&t, NULL, sets_its_own, NULL);
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}

/* rel_os_thread_ops — the pthread functions about a thread's OS-level side,
 * given another thread: its CPU clock (pthread_getcpuclockid), its CPU
 * affinity (pthread_setaffinity_np / getaffinity_np) and its scheduling
 * policy (pthread_setschedparam / getschedparam / setschedprio). A spinner
 * computes until its own CPU clock passed 200 ms; then main reads the
 * spinner's clock, sets its affinity to one CPU and its policy to
 * SCHED_BATCH (allowed without privileges), and the spinner looks at its
 * own with sched_getaffinity(0) and sched_getscheduler(0): what main set
 * must be what the spinner has. Only facts, no numbers. Stock is the
 * specification. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

/* The spinner makes no call between its start and its end that would let
 * a green thread change OS thread (all it calls is clock_gettime,
 * sched_getaffinity and sched_getscheduler), so what it measures and what
 * main reads are of one OS thread, whatever the scheduler does meanwhile: a
 * hand-off leaves it on the one it spins on. One exception: a thread that
 * shares main's thread-local storage (gpatch's GPATCH_TLS=shared on one
 * worker: main's OS thread, which it never leaves) yields between bursts
 * of 2 ms, or main would never run. Main waits with sleeps; the two meet
 * through atomic words. */
static __thread int probe;
static int *mains_probe;
static int stage; /* 1 spun, 2 main set, 3 spinner looked, 4 done */
static cpu_set_t wanted;
static int own_affinity_is_wanted, own_policy_is_batch;

static int at(void) { return __atomic_load_n(&stage, __ATOMIC_ACQUIRE); }
static void go(int s) { __atomic_store_n(&stage, s, __ATOMIC_RELEASE); }
static void main_waits_for(int s)
{
    while (at() < s) usleep(5000);
}

static long long cpu_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0) return -1;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *spinner(void *arg)
{
    (void)arg;
    int must_yield = &probe == mains_probe;
    volatile unsigned long x = 0;
    long long total = 0;
    while (total < 200000000LL) {
        long long start = cpu_ns(CLOCK_THREAD_CPUTIME_ID), now;
        while ((now = cpu_ns(CLOCK_THREAD_CPUTIME_ID)) - start < 2000000LL)
            for (int i = 0; i < 1000; i++) x += (unsigned long)i;
        total += now - start;
        if (must_yield) sched_yield();
    }
    go(1);
    while (at() < 2)
        if (must_yield) sched_yield();
    cpu_set_t mine;
    CPU_ZERO(&mine);
    own_affinity_is_wanted = sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_EQUAL(&mine, &wanted);
    own_policy_is_batch = sched_getscheduler(0) == SCHED_BATCH;
    go(3);
    while (at() < 4)
        if (must_yield) sched_yield();
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    mains_probe = &probe;
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    main_waits_for(1);

    clockid_t c;
    int r = pthread_getcpuclockid(t, &c);
    printf("pthread_getcpuclockid: %d\n", r);
    printf("the spinner's CPU clock shows at least 150 ms: %s\n", r == 0 && cpu_ns(c) >= 150000000LL ? "yes" : "no");

    cpu_set_t orig, got;
    CPU_ZERO(&orig);
    printf("pthread_getaffinity_np: %d\n", pthread_getaffinity_np(t, sizeof orig, &orig));
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &orig)) first++;
    CPU_ZERO(&wanted);
    CPU_SET(first, &wanted);
    printf("pthread_setaffinity_np to one CPU: %d\n", pthread_setaffinity_np(t, sizeof wanted, &wanted));
    CPU_ZERO(&got);
    pthread_getaffinity_np(t, sizeof got, &got);
    printf("pthread_getaffinity_np after it reads that CPU: %s\n", CPU_EQUAL(&got, &wanted) ? "yes" : "no");

    struct sched_param p = {0};
    printf("pthread_setschedparam(SCHED_BATCH, 0): %d\n", pthread_setschedparam(t, SCHED_BATCH, &p));
    int pol = -1;
    p.sched_priority = -1;
    r = pthread_getschedparam(t, &pol, &p);
    printf("pthread_getschedparam: %d, SCHED_BATCH: %s, priority %d\n", r, pol == SCHED_BATCH ? "yes" : "no",
           p.sched_priority);
    printf("pthread_setschedprio(0): %d\n", pthread_setschedprio(t, 0));
    printf("pthread_setschedprio(5) on SCHED_BATCH: %d\n", pthread_setschedprio(t, 5));

    go(2);
    main_waits_for(3);
    printf("the spinner's own sched_getaffinity shows that CPU: %s\n", own_affinity_is_wanted ? "yes" : "no");
    printf("the spinner's own sched_getscheduler is SCHED_BATCH: %s\n", own_policy_is_batch ? "yes" : "no");
    p.sched_priority = 0;
    printf("back to SCHED_OTHER: %d, to every CPU it had: %d\n", pthread_setschedparam(t, SCHED_OTHER, &p),
           pthread_setaffinity_np(t, sizeof orig, &orig));
    go(4);
    pthread_join(t, NULL);

    /* main's own, given itself */
    r = pthread_getcpuclockid(pthread_self(), &c);
    printf("main's own clock: %d, readable: %s\n", r, r == 0 && cpu_ns(c) >= 0 ? "yes" : "no");
    return 0;
}

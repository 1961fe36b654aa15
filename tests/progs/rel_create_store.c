/* rel_create_store — pthread_create stores the new thread's id into
 * *thread before the new thread can run (glibc does, and programs rely on
 * it: a thread that reads its own entry of the creator's array). 200
 * threads, each compares pthread_self() with the slot its creator passed;
 * with several workers the new thread may start on another one at once.
 * That gap is a few instructions wide; the last 8 threads widen it: their
 * slots lie on read-only pages, and the store faults into a SIGSEGV
 * handler that spins 50 ms before it makes the page writable (the new
 * thread may read its slot meanwhile). Stock is the specification. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

#define N 200
#define SLOW 8
static pthread_t tids[N];
static pthread_t *slow; /* SLOW pages, one slot at the start of each */
static long page;
static int mismatches, slow_mismatches, faults;

static void check(pthread_t *slot, int *bad)
{
    /* a plain read of the slot, as a program would */
    if (!pthread_equal(pthread_self(), *slot)) __atomic_add_fetch(bad, 1, __ATOMIC_RELAXED);
}

static void *child(void *arg) { check(&tids[(long)arg], &mismatches); return NULL; }
static void *slow_child(void *arg) { check((pthread_t *)((char *)slow + (long)arg * page), &slow_mismatches); return NULL; }

static void *creator(void *arg)
{
    long base = (long)arg;
    for (long i = base; i < base + N / 2; i++) pthread_create(&tids[i], NULL, child, (void *)i);
    return NULL;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    char *p = si->si_addr;
    if (p < (char *)slow || p >= (char *)slow + SLOW * page) _exit(3);
    faults++;
    int64_t until = now_ns() + 50 * 1000000LL;
    while (now_ns() < until) {}
    mprotect((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), page, PROT_READ | PROT_WRITE);
}

int main(void)
{
    alarm(bound_s(20));
    /* created from main and from another thread (which may be on another worker) */
    for (long i = 0; i < N / 2; i++) pthread_create(&tids[i], NULL, child, (void *)i);
    pthread_t c;
    pthread_create(&c, NULL, creator, (void *)(long)(N / 2));
    pthread_join(c, NULL);
    for (int i = 0; i < N; i++) pthread_join(tids[i], NULL);
    printf("%d threads, own id not yet stored where they looked: %d\n", N, mismatches);

    page = sysconf(_SC_PAGESIZE);
    slow = mmap(NULL, SLOW * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    pthread_t s[SLOW];
    for (long i = 0; i < SLOW; i++) {
        pthread_t *slot = (pthread_t *)((char *)slow + i * page);
        pthread_create(slot, NULL, slow_child, (void *)i);
        s[i] = *slot;
    }
    for (int i = 0; i < SLOW; i++) pthread_join(s[i], NULL);
    printf("%d threads with a slow store: stores that faulted %d, own id not yet stored: %d\n", SLOW, faults,
           slow_mismatches);
    return 0;
}

/* handoff_loader: thread A computes for 50 ms (under gpatch its worker is
 * handed to another OS thread meanwhile: A keeps its own), then holds the
 * loader's lock for 300 ms inside a dl_iterate_phdr callback; thread B, on
 * the same worker, waits until A is inside and calls dl_iterate_phdr too.
 * Stock, B waits for A. glibc tells the lock's holders apart by the thread
 * id in each thread's descriptor: if A and the others of its worker still
 * shared one after the hand-off, B would walk in. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int inside, entered, saw;

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int walk_slow(struct dl_phdr_info *i, size_t s, void *a)
{
    (void)i, (void)s, (void)a;
    __atomic_store_n(&inside, 1, __ATOMIC_SEQ_CST);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (ms_since(&t0) < 300)
        if (__atomic_load_n(&entered, __ATOMIC_SEQ_CST)) saw = 1;
    return 1;
}

static int walk_quick(struct dl_phdr_info *i, size_t s, void *a)
{
    (void)i, (void)s, (void)a;
    __atomic_store_n(&entered, 1, __ATOMIC_SEQ_CST);
    return 1;
}

static void *holder(void *arg)
{
    (void)arg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile uint64_t h = 1;
    while (ms_since(&t0) < 50) h = h * 1099511628211ull + 1; /* computes: no call gpatch sees */
    dl_iterate_phdr(walk_slow, NULL);
    return NULL;
}

static void *walker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&inside, __ATOMIC_SEQ_CST)) usleep(1000);
    dl_iterate_phdr(walk_quick, NULL);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, holder, NULL);
    pthread_create(&b, NULL, walker, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("the loader's lock, held by a thread that computed first: the other waited: %s\n", saw ? "no" : "yes");
    return 0;
}

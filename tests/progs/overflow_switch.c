#define _GNU_SOURCE
/* overflow_switch: a thread with a 64 KiB stack goes 6 KiB below its low end
 * (each frame writes all of its buffer), returns, and sleeps. Stock: the
 * write faults on the guard page, SIGSEGV. Under gpatch with guard pages the
 * same, with the overflow named; with a canary (GPATCH_STACK_GUARD=canary)
 * the write lands in the canary zone, and the sleep's switch finds it broken:
 * the overflow is named and the process aborts. Prints nothing on the way. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *lo;
static volatile long sink;

static long deep(long n)
{
    volatile char pad[512];
    memset((char *)pad, (int)(n | 1), sizeof pad);
    if ((char *)pad < lo - 6144) return pad[7];
    return deep(n + 1) + pad[3];
}

static void *overflow(void *a)
{
    pthread_attr_t at;
    size_t sz;
    void *l;
    pthread_getattr_np(pthread_self(), &at);
    pthread_attr_getstack(&at, &l, &sz);
    pthread_attr_destroy(&at);
    lo = l;
    sink = deep(1);
    usleep(1000);
    return a;
}

int main(void)
{
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    pthread_create(&t, &at, overflow, NULL);
    pthread_join(t, NULL);
    puts("not reached");
    return 0;
}

/* preempt_deep: two threads with 16 KiB stacks (pthread_attr_setstacksize)
 * recurse N frames of about 1 KiB each (argv[1]), then compute at the
 * bottom. Deep enough, a preemption's signal frame (3-4 KiB with AVX-512
 * state) and its handler's walk no longer fit under the stack pointer:
 * the process must die of SIGSEGV, as stock does at that depth, with
 * gpatch's overflow report -- the handler blocked SIGSEGV (the kernel then
 * kills with no word), and a frame the kernel cannot write is a fault with
 * no address (SI_KERNEL). Prints the results when it fits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

static int depth;

static unsigned long deep(int d, unsigned long x)
{
    volatile char pad[1000];
    memset((char *)pad, d, sizeof pad);
    if (d > 0) return deep(d - 1, x + pad[10]) + 1;
    for (unsigned long i = 0; i < 300000000UL; i++) x = x * 6364136223846793005ULL + 1;
    return x;
}

static void *run(void *a)
{
    (void)a;
    return (void *)deep(depth, 1);
}

int main(int argc, char **argv)
{
    alarm(bound_s(30));
    depth = argc > 1 ? atoi(argv[1]) : 8;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 16384);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], &at, run, NULL)) return 1;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d: %lx\n", i, (unsigned long)r);
    }
    return 0;
}

/* raw_fcontext — the floor: two fcontexts jump back and forth N times with
 * boost.context's jump_fcontext alone; prints ns per round trip.
 *   raw_fcontext N          each side jumps from its own loop
 *   raw_fcontext N called   each side's loop calls one shared function that
 *                           jumps (no bookkeeping at all): the shape of any
 *                           switch made inside a hooked libc call, whose
 *                           return lands in a different caller each time */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../../runtime/fcontext.h"

static fcontext_t other;
static int called;

static inline void jump(void)
{
    other = jump_fcontext(other, NULL).fctx;
}
static __attribute__((noinline)) void switch_in_a_call(void)
{
    jump();
    __asm__ volatile("" ::: "memory"); /* keep it a real call */
}

static void peer(transfer_t t)
{
    other = t.fctx;
    for (;;) {
        if (called) switch_in_a_call();
        else jump();
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    called = argc > 2 && !strcmp(argv[2], "called");
    size_t sz = 64 * 1024;
    char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return 1;
    other = make_fcontext(stack + sz, sz, peer);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (called) switch_in_a_call();
        else jump();
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}

/* raw_fcontext — the floor: two fcontexts jump back and forth N times with
 * boost.context's jump_fcontext alone; prints ns per round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "../../runtime/fcontext.h"

static long n;
static void peer(transfer_t t)
{
    for (;;) t = jump_fcontext(t.fctx, NULL);
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 10000000;
    size_t sz = 64 * 1024;
    char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fcontext_t ctx = make_fcontext(stack + sz, sz, peer);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) ctx = jump_fcontext(ctx, NULL).fctx;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}

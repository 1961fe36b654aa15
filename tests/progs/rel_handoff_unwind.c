/* rel_handoff_unwind: computing in code that has no unwind information.
 * gpatch's hand-off (own TLS, GPATCH_HANDOFF_MS) hands a stuck worker on
 * only after a walk of the interrupted stack found the program's code and
 * none of gpatch's frames further out (runtime/handoff.c); libgcc cannot
 * walk past a frame with no unwind information and calls that the end of
 * the stack. Here the computing function is reached through a routine
 * written in assembly without any CFI (no .eh_frame entry): called
 * directly by the thread ("direct"), and as pthread_once's init routine
 * ("once": gpatch's pthread_once hook lies further out). Nothing may crash
 * or hang, and the once routine runs exactly once, the others waiting for
 * it. argv[1] names one round; none: both. alarm(20) turns a hang into a
 * failure. Under GPATCH_DEBUG=1, no hand-off may happen inside the once
 * routine. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

/* void blind_call(void (*fn)(void)): calls fn, with no unwind information */
__asm__(".text\n"
        ".globl blind_call\n"
        ".type blind_call, @function\n"
        "blind_call:\n"
        "  push %rbx\n"
        "  mov %rdi, %rbx\n"
        "  call *%rbx\n"
        "  pop %rbx\n"
        "  ret\n"
        ".size blind_call, .-blind_call\n");
void blind_call(void (*fn)(void));

static volatile uint64_t sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void compute200(void)
{
    int64_t end = now_ns() + 200 * 1000000LL;
    uint64_t h = 1469598103934665603ull;
    while (now_ns() < end)
        for (int i = 0; i < 10000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
    sink = h;
}

static int once_runs; /* __atomic */
static void once_init(void)
{
    __atomic_add_fetch(&once_runs, 1, __ATOMIC_RELAXED);
    compute200();
}
static void blind_once(void) { blind_call(once_init); }

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *direct(void *arg)
{
    (void)arg;
    blind_call(compute200);
    return (void *)1;
}

static void *onced(void *arg)
{
    (void)arg;
    pthread_once(&once, blind_once);
    return (void *)(long)__atomic_load_n(&once_runs, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
    alarm(bound_s(20));
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || !strcmp(only, "direct")) {
        pthread_t t;
        void *r;
        pthread_create(&t, NULL, direct, NULL);
        usleep(50 * 1000);
        printf("direct: main slept while the thread computed\n");
        pthread_join(t, &r);
        printf("direct: joined, %ld\n", (long)r);
        fflush(stdout);
    }
    if (!only || !strcmp(only, "once")) {
        pthread_t t[3];
        long sum = 0;
        for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, onced, NULL);
        for (int i = 0; i < 3; i++) {
            void *r;
            pthread_join(t[i], &r);
            sum += (long)r;
        }
        printf("once: the routine ran %d time(s); each thread saw it done: %s\n", once_runs,
               sum == 3 ? "yes" : "no");
        fflush(stdout);
    }
    printf("done\n");
    return 0;
}

/* tls_sys — what glibc and compiled code find through the thread pointer,
 * in every thread, across blocking calls: sched_getcpu() answers with a cpu
 * (the kernel's rseq area or the system call), pthread_getattr_np() gives a
 * stack that contains the thread's own locals, -fstack-protector-all frames
 * (this file is built with it) keep their canary across parks, and setjmp /
 * longjmp (whose saved pointers are mangled with the pointer guard) jump
 * back within the thread after blocking calls in between. Stock is the
 * specification. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 32
#define ROUNDS 20

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int cpu_bad, stack_bad, jump_bad, canary_frames;
static int pipes[N][2];

static void bad(int *what)
{
    pthread_mutex_lock(&mu);
    (*what)++;
    pthread_mutex_unlock(&mu);
}

/* a frame with a buffer (a canary even without -all) that blocks inside */
static int __attribute__((noinline)) guarded(int id, int round)
{
    char buf[64];
    snprintf(buf, sizeof buf, "thread %d round %d", id, round);
    usleep(200 + (id * 37 + round * 11) % 500);
    char c = 'x';
    if (write(pipes[(id + 1) % N][1], &c, 1) != 1 || read(pipes[id][0], &c, 1) != 1) return -1;
    char want[64];
    snprintf(want, sizeof want, "thread %d round %d", id, round);
    __atomic_add_fetch(&canary_frames, 1, __ATOMIC_RELAXED);
    return strcmp(buf, want) == 0 ? 0 : -1;
}

static void __attribute__((noinline, noreturn)) deep(jmp_buf *env, int id, int depth)
{
    if (depth == 0) {
        usleep(300);
        longjmp(*env, id + 1);
    }
    char pad[32];
    memset(pad, depth, sizeof pad);
    usleep(100);
    __asm__ volatile("" : : "r"(pad) : "memory"); /* a frame of its own, with a canary */
    deep(env, id, depth - 1);
}

static void *run(void *arg)
{
    int id = (int)(long)arg;
    int local = id;
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0 || pthread_attr_getstack(&a, &addr, &size) != 0)
        bad(&stack_bad);
    else if ((uintptr_t)&local < (uintptr_t)addr || (uintptr_t)&local >= (uintptr_t)addr + size || size < 16384)
        bad(&stack_bad);
    pthread_attr_destroy(&a);
    for (int r = 0; r < ROUNDS; r++) {
        if (sched_getcpu() < 0) bad(&cpu_bad);
        if (guarded(id, r) != 0) bad(&stack_bad);
        jmp_buf env;
        volatile int blocked = 0;
        int v = setjmp(env);
        if (v == 0) {
            usleep(100 + id * 10); /* a park between setjmp and longjmp */
            blocked = 1;
            deep(&env, id, 3);
            bad(&jump_bad); /* longjmp does not return */
        } else if (v != id + 1 || !blocked) {
            bad(&jump_bad);
        }
        if (sched_getcpu() < 0) bad(&cpu_bad);
    }
    if (local != id) bad(&stack_bad);
    return NULL;
}

int main(void)
{
    for (int i = 0; i < N; i++)
        if (pipe(pipes[i])) return 1;
    for (int i = 0; i < N; i++) /* one byte ahead in every ring pipe */
        if (write(pipes[i][1], "y", 1) != 1) return 1;
    pthread_t t[N];
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, run, (void *)(long)i);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    printf("threads where sched_getcpu() gave no cpu: %d\n", cpu_bad);
    printf("threads whose attributes did not hold their stack, or a frame was overwritten: %d\n", stack_bad);
    printf("longjmp that did not land where setjmp was called: %d\n", jump_bad);
    printf("guarded frames that returned through their canary: %d\n", canary_frames);
    return 0;
}

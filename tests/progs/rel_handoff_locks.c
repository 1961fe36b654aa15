/* rel_handoff_locks: a thread holds a mutex glibc keeps by thread id in the
 * kernel's view -- robust, priority-inheritance, process-shared -- while it
 * computes past gpatch's hand-off threshold (GPATCH_HANDOFF_MS, 10 ms, own
 * TLS) and then sleeps a little (under gpatch: its first call back into
 * gpatch after a hand-off) before it unlocks. Meanwhile main, and for the
 * process-shared ones a child process too, wait to lock it. The unlock must
 * succeed, every waiter must get the lock in turn, and nothing may hang. The
 * kernel checks a priority-inheritance unlock that has waiters against the
 * calling thread's id (FUTEX_UNLOCK_PI: EPERM from another thread).
 * argv[1] names one kind (robust, pi, pshared, pi-shared); none: all.
 * Stock is the specification; alarm(20) turns a hang into a failure. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static volatile uint64_t sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void compute(int ms)
{
    int64_t end = now_ns() + (int64_t)ms * 1000000;
    uint64_t h = 1469598103934665603ull;
    while (now_ns() < end)
        for (int i = 0; i < 10000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
    sink = h;
}

struct shared {
    pthread_mutex_t m;
    int child_got; /* the child's lock result, +100 once it unlocked */
};

static struct shared *sh;
static int held;     /* __atomic: the thread holds the lock */
static int go[2];    /* the child starts waiting when it reads a byte */

static void *holder(void *arg)
{
    int child = arg != NULL;
    int r = pthread_mutex_lock(&sh->m);
    if (r) return (void *)(long)(1000 + r);
    __atomic_store_n(&held, 1, __ATOMIC_RELEASE);
    if (child && write(go[1], "g", 1) != 1) return (void *)2000;
    compute(200);
    usleep(20 * 1000);
    compute(30);
    return (void *)(long)pthread_mutex_unlock(&sh->m);
}

static void round_kind(const char *kind, int robust, int pi, int pshared)
{
    memset(sh, 0, sizeof *sh);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (pi) pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    if (pshared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->m, &a);
    pthread_mutexattr_destroy(&a);
    __atomic_store_n(&held, 0, __ATOMIC_RELAXED);
    pid_t child = -1;
    if (pshared) {
        if (pipe(go)) exit(1);
        fflush(stdout);
        child = fork();
        if (child == 0) { /* waits in the kernel for the thread's unlock */
            char b;
            if (read(go[0], &b, 1) != 1) _exit(1);
            usleep(20 * 1000); /* the thread holds it by now */
            int r = pthread_mutex_lock(&sh->m);
            sh->child_got = r;
            if (r == 0 && pthread_mutex_unlock(&sh->m) == 0) sh->child_got += 100;
            _exit(0);
        }
    }
    pthread_t t;
    void *ur = (void *)-1;
    pthread_create(&t, NULL, holder, pshared ? (void *)1 : NULL);
    while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE)) usleep(1000);
    int mr = pthread_mutex_lock(&sh->m); /* main waits for it too */
    int mu = mr == 0 ? pthread_mutex_unlock(&sh->m) : -1;
    pthread_join(t, &ur);
    printf("%s: the holder's unlock %ld; main's lock %d, unlock %d", kind, (long)ur, mr, mu);
    if (pshared) {
        int st = -1;
        waitpid(child, &st, 0);
        close(go[0]);
        close(go[1]);
        printf("; the child's lock and unlock %d, exit %d", sh->child_got, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    printf("\n");
    fflush(stdout);
    pthread_mutex_destroy(&sh->m);
}

int main(int argc, char **argv)
{
    alarm(bound_s(20));
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 1;
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || !strcmp(only, "robust")) round_kind("robust", 1, 0, 0);
    if (!only || !strcmp(only, "pi")) round_kind("pi", 0, 1, 0);
    if (!only || !strcmp(only, "pshared")) round_kind("pshared", 0, 0, 1);
    if (!only || !strcmp(only, "pi-shared")) round_kind("pi-shared", 0, 1, 1);
    if (!only || !strcmp(only, "robust-shared")) round_kind("robust-shared", 1, 0, 1);
    printf("done\n");
    return 0;
}

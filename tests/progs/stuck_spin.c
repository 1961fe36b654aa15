/* stuck_spin: a thread spins on a plain volatile flag (no call at all)
 * until another thread, after a 100 ms sleep, sets it; meanwhile four more
 * threads sleep and wake 20 times each. argv[1] "compute": instead of
 * spinning idly the thread computes (a hash chain) and looks at the flag
 * between chunks. Stock, the setter runs on its own OS thread: both finish.
 * argv[2] "fork": the spinner, once it saw the flag, forks before any other
 * call (under gpatch it may be away from its worker then); the child starts
 * three threads of its own, joins them and reports. argv[1] "spin4": four
 * threads spin, created before the setter: with two workers under gpatch
 * each worker gets at least one (placement balances them), so the setter
 * runs only if every stuck worker is handed on. argv[2] "post": the
 * spinner, once it saw the flag, first posts a semaphore nobody waits on
 * and unlocks a mutex (under gpatch it is away from its worker then, and
 * the other worker has been idle a while: stealing's offer at a call's end
 * must bring it back first); main counts the posts. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int flag;
static int wakes; /* __atomic */

static void *setter(void *arg)
{
    (void)arg;
    usleep(100 * 1000);
    flag = 1;
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
        __atomic_add_fetch(&wakes, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int compute, forks, posts;
static sem_t posted;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static uint64_t result;
static int child_sum;

static void *child_thread(void *arg)
{
    usleep(10000);
    __atomic_add_fetch(&child_sum, (int)(long)arg, __ATOMIC_RELAXED);
    return NULL;
}

static void fork_now(void)
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        pthread_t t[3];
        for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, child_thread, (void *)(i + 1));
        for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
        printf("child: three threads summed %d\n", child_sum);
        fflush(stdout);
        _exit(0);
    }
    int st = -1;
    waitpid(p, &st, 0);
    printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void *spinner(void *arg)
{
    (void)arg;
    uint64_t h = 1469598103934665603ull;
    if (!compute) {
        while (!flag) { }
    } else {
        for (;;) {
            for (int i = 0; i < 1000000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
            if (flag && __atomic_load_n(&wakes, __ATOMIC_RELAXED) == 80) break;
        }
    }
    result = h != 0;
    if (posts) { /* no call of gpatch's before these */
        sem_post(&posted);
        pthread_mutex_lock(&m);
        pthread_mutex_unlock(&m);
    }
    if (forks) fork_now();
    return NULL;
}

int main(int argc, char **argv)
{
    compute = argc > 1 && !strcmp(argv[1], "compute");
    forks = argc > 2 && !strcmp(argv[2], "fork");
    posts = argc > 2 && !strcmp(argv[2], "post");
    sem_init(&posted, 0, 0);
    int nspin = argc > 1 && !strcmp(argv[1], "spin4") ? 4 : 1;
    pthread_t s[4], t, z[4];
    for (int i = 0; i < nspin; i++) pthread_create(&s[i], NULL, spinner, NULL);
    for (int i = 0; i < 4; i++) pthread_create(&z[i], NULL, sleeper, NULL);
    pthread_create(&t, NULL, setter, NULL);
    for (int i = 0; i < nspin; i++) pthread_join(s[i], NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < 4; i++) pthread_join(z[i], NULL);
    printf("spinner saw the flag (%d), sleepers woke %d times\n", (int)result, wakes);
    if (posts) {
        int n = 0;
        while (sem_trywait(&posted) == 0) n++;
        printf("posts seen %d\n", n);
    }
    return 0;
}

/* stuck_spin: a thread spins on a plain volatile flag (no call at all)
 * until another thread, after a 100 ms sleep, sets it; meanwhile four more
 * threads sleep and wake 20 times each. argv[1] "compute": instead of
 * spinning idly the thread computes (a hash chain) and looks at the flag
 * between chunks. Stock, the setter runs on its own OS thread: both finish. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
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

static int compute;
static uint64_t result;

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
    return NULL;
}

int main(int argc, char **argv)
{
    compute = argc > 1 && !strcmp(argv[1], "compute");
    pthread_t s, t, z[4];
    pthread_create(&s, NULL, spinner, NULL);
    for (int i = 0; i < 4; i++) pthread_create(&z[i], NULL, sleeper, NULL);
    pthread_create(&t, NULL, setter, NULL);
    pthread_join(s, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < 4; i++) pthread_join(z[i], NULL);
    printf("spinner saw the flag (%d), sleepers woke %d times\n", (int)result, wakes);
    return 0;
}

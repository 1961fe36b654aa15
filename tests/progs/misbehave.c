/* misbehave — a green thread that does what gpatch cannot help with, for the
 * tools that must say so. Modes:
 *   spin      computes for 400 ms without a hooked call
 *   unhooked  blocks 400 ms in a raw system call gpatch does not see
 *   overflow  recurses until its 64 KiB stack overflows */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile long sink;

static void *spin(void *a)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 100000; i++) sink += i;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 400);
    return a;
}

static void *unhooked(void *a)
{
    /* clock_nanosleep by number: syscall() passes numbers it does not route */
    struct timespec ts = {0, 400000000};
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
    return a;
}

static long deep(long n)
{
    volatile char pad[512];
    memset((char *)pad, (int)n, sizeof pad);
    return n ? deep(n - 1) + pad[3] : 0;
}
static void *overflow(void *a)
{
    sink = deep(1000000);
    return a;
}

static void *idle(void *a)
{
    usleep(800000);
    return a;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "spin";
    pthread_t t, i;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    pthread_create(&i, NULL, idle, NULL);
    void *(*fn)(void *) = !strcmp(mode, "spin") ? spin : !strcmp(mode, "unhooked") ? unhooked : overflow;
    pthread_create(&t, &at, fn, NULL);
    pthread_join(t, NULL);
    pthread_join(i, NULL);
    puts("done");
    return 0;
}

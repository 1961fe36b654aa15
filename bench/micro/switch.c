/* switch — two threads hand control back and forth N times; prints ns per
 * round trip. Modes: yield (sched_yield ping-pong: under gpatch, the green
 * thread switch), pipe (two pipes), condvar (mutex + condition variable).
 * Built stock; bench/run.sh runs it stock and under gpatch. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long n;
static int p1[2], p2[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int turn;
static volatile int go;

static void *yield_peer(void *a) { for (long i = 0; i < n; i++) sched_yield(); return a; }
static void *pipe_peer(void *a)
{
    char ch;
    for (long i = 0; i < n; i++) {
        if (read(p1[0], &ch, 1) != 1 || write(p2[1], &ch, 1) != 1) break;
    }
    return a;
}
static void *cond_peer(void *a)
{
    pthread_mutex_lock(&m);
    for (long i = 0; i < n; i++) {
        while (turn != 1) pthread_cond_wait(&c, &m);
        turn = 0;
        pthread_cond_signal(&c);
    }
    pthread_mutex_unlock(&m);
    return a;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "yield";
    n = argc > 2 ? atol(argv[2]) : 1000000;
    pthread_t t;
    double t0;
    if (!strcmp(mode, "yield")) {
        pthread_create(&t, NULL, yield_peer, NULL);
        t0 = now();
        for (long i = 0; i < n; i++) sched_yield();
    } else if (!strcmp(mode, "pipe")) {
        pipe(p1);
        pipe(p2);
        pthread_create(&t, NULL, pipe_peer, NULL);
        char ch = 'x';
        t0 = now();
        for (long i = 0; i < n; i++) {
            if (write(p1[1], &ch, 1) != 1 || read(p2[0], &ch, 1) != 1) break;
        }
    } else {
        pthread_create(&t, NULL, cond_peer, NULL);
        t0 = now();
        pthread_mutex_lock(&m);
        for (long i = 0; i < n; i++) {
            turn = 1;
            pthread_cond_signal(&c);
            while (turn != 0) pthread_cond_wait(&c, &m);
        }
        pthread_mutex_unlock(&m);
    }
    double dt = now() - t0;
    pthread_join(t, NULL);
    printf("%.1f\n", dt / n);
    return 0;
}

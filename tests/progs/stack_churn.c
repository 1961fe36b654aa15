/* stack_churn: 12 waves of 500 threads with 256 KiB stacks; each thread
 * dirties 32 KiB of its stack, then waits until its whole wave has started
 * (mutex + condition), then exits; each wave is joined before the next.
 * Prints the process's RSS growth from the end of wave 2 to the end of the last
 * in MiB, rounded to 8 (0: the stacks of exited threads were given back or
 * reused). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAVE 500
#define WAVES 12

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started, wave;
static volatile char sink;

static void *worker(void *a)
{
    volatile char buf[32 * 1024];
    memset((char *)buf, 1, sizeof buf);
    sink = buf[100];
    pthread_mutex_lock(&mu);
    int my = wave;
    if (++started == WAVE) pthread_cond_broadcast(&cv);
    while (started < WAVE && wave == my) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return a;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

int main(void)
{
    static pthread_t ts[WAVE];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 * 1024);
    long after2 = 0;
    for (int w = 0; w < WAVES; w++) {
        pthread_mutex_lock(&mu);
        started = 0;
        wave = w;
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < WAVE; i++)
            if (pthread_create(&ts[i], &at, worker, NULL)) {
                perror("pthread_create");
                return 1;
            }
        for (int i = 0; i < WAVE; i++) pthread_join(ts[i], NULL);
        if (w == 1) after2 = rss_kib();
    }
    long grew = (rss_kib() - after2) / 1024;
    printf("rss growth from wave 2 to wave %d: %ld MiB\n", WAVES, grew < 8 ? 0 : (grew + 4) / 8 * 8);
    return 0;
}

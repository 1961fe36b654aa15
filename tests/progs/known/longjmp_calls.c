#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static sigjmp_buf jb;
static volatile int done;
static volatile long ticks;
static void on(int s) { (void)s; siglongjmp(jb, 1); }
static void *ticker(void *a) { (void)a; while (!done) { usleep(5000); ticks++; } return NULL; }
static void *jumper(void *a)
{
    (void)a;
    if (sigsetjmp(jb, 1) == 0) { raise(SIGUSR1); return (void *)0; }
    usleep(20000);
    long before = ticks;
    for (int i = 0; i < 3; i++) usleep(100000);
    return (void *)(ticks - before);
}
int main(void)
{
    signal(SIGUSR1, on);
    pthread_t t, j;
    pthread_create(&t, NULL, ticker, NULL);
    pthread_create(&j, NULL, jumper, NULL);
    void *r; pthread_join(j, &r); done = 1; pthread_join(t, NULL);
    printf("ticks while the jumper slept 300 ms: %s (%ld)\n", (long)r >= 20 ? "many" : "few", (long)r);
    return 0;
}

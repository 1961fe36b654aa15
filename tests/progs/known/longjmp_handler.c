#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static sigjmp_buf jb;
static volatile int flag;
static volatile long ticks;
static void on(int s) { (void)s; siglongjmp(jb, 1); }
static void *ticker(void *a) { (void)a; for (int i = 0; i < 40; i++) { usleep(5000); ticks++; } flag = 1; return NULL; }
static void *jumper(void *a)
{
    (void)a;
    if (sigsetjmp(jb, 1) == 0) { raise(SIGUSR1); return (void *)0; }
    /* back from the handler by siglongjmp: now spin until the ticker is done */
    while (!flag) {}
    return (void *)1;
}
int main(void)
{
    alarm(10);
    signal(SIGUSR1, on);
    pthread_t t, j;
    pthread_create(&j, NULL, jumper, NULL);
    pthread_create(&t, NULL, ticker, NULL);
    void *r; pthread_join(j, &r); pthread_join(t, NULL);
    printf("jumped %ld, ticks %ld\n", (long)r, ticks);
    return 0;
}

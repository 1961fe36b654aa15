/* rel_preempt_blockall: a program that blocks every signal in main before
 * its first thread (so every thread inherits a full mask) and takes its
 * signals in one thread with sigwait -- the usual daemon pattern -- while
 * others compute. Spinners on a plain flag must end (preemption goes on
 * though the program blocked its signal), every mask reads back full, and
 * the sigwait thread gets the signals main sends the process. Deterministic
 * output; alarm bounds a hang (SIGALRM is taken by the sigwait thread). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include "bound.h"

static volatile int flag, stop;
static int full(void)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    for (int s = 1; s < 65; s++)
        if (s != SIGKILL && s != SIGSTOP && s != 32 && s != 33 && sigismember(&cur, s) != 1) return 0;
    return 1;
}

static void *spin(void *arg)
{
    (void)arg;
    while (!flag) {}
    return (void *)(long)full();
}

static void *set_later(void *arg)
{
    (void)arg;
    usleep(50000);
    flag = 1;
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGALRM);
    int got1 = 0, got2 = 0, sig;
    while (got1 + got2 < 2) {
        sigwait(&set, &sig);
        if (sig == SIGALRM) {
            printf("alarm: hung\n");
            _exit(3);
        }
        got1 += sig == SIGUSR1;
        got2 += sig == SIGUSR2;
    }
    printf("sigwait got SIGUSR1 %d, SIGUSR2 %d; mask full %d\n", got1, got2, full());
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    alarm(bound_s(20));
    pthread_t w, s[3], t;
    pthread_create(&w, NULL, waiter, NULL);
    for (int i = 0; i < 3; i++) pthread_create(&s[i], NULL, spin, NULL);
    pthread_create(&t, NULL, set_later, NULL);
    int n = 0;
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(s[i], &r);
        n += r != NULL;
    }
    pthread_join(t, NULL);
    printf("spinners ended with full masks: %d\n", n);
    flag = 0;
    pthread_create(&t, NULL, set_later, NULL);
    while (!flag) {}
    pthread_join(t, NULL);
    printf("main's spin ended; main's mask full %d\n", full());
    kill(getpid(), SIGUSR1);
    usleep(10000);
    kill(getpid(), SIGUSR2);
    pthread_join(w, NULL);
    return 0;
}

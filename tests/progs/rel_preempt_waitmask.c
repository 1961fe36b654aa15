/* rel_preempt_waitmask: a wait that brings its own signal mask (sigsuspend,
 * ppoll, pselect) blocking nearly everything, in one thread, must not stop
 * preemption for the others: threads spin on a plain flag that a thread
 * sets after a 50 ms sleep while (1) another thread, (2) main sits in
 * sigsuspend with every signal but SIGUSR1 blocked, (3) another thread sits
 * in ppoll with such a mask. The wait's mask went into its worker's real
 * mask whole, preemption's signal with it: the spinners there were never
 * preempted (a hang, with every setting). An argument 1-3 runs one phase.
 * Deterministic output; alarm bounds a hang. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

#define SPINNERS 4
static volatile int flag;
static volatile sig_atomic_t got;
static pthread_t main_thread;

static void on_usr1(int s) { (void)s; got++; }

static void *spin(void *arg)
{
    (void)arg;
    while (!flag) {}
    return (void *)1;
}

static void *set_later(void *arg)
{
    usleep(50000);
    flag = 1;
    if (arg) pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

static void *suspender(void *arg)
{
    (void)arg;
    sigset_t m;
    sigfillset(&m);
    sigdelset(&m, SIGUSR1);
    int r = sigsuspend(&m);
    return (void *)(long)(r == -1 && errno == EINTR);
}

static void *ppoller(void *arg)
{
    (void)arg;
    sigset_t m;
    sigfillset(&m);
    sigdelset(&m, SIGUSR1);
    struct timespec ts = {5, 0};
    int r = ppoll(NULL, 0, &ts, &m);
    return (void *)(long)(r == -1 && errno == EINTR);
}

static int spin_round(void)
{
    pthread_t s[SPINNERS], t;
    flag = 0;
    for (int i = 0; i < SPINNERS; i++) pthread_create(&s[i], NULL, spin, NULL);
    pthread_create(&t, NULL, set_later, NULL);
    int n = 0;
    for (int i = 0; i < SPINNERS; i++) {
        void *r;
        pthread_join(s[i], &r);
        n += r != NULL;
    }
    pthread_join(t, NULL);
    return n;
}

int main(int argc, char **argv)
{
    int only = argc > 1 ? argv[1][0] - '0' : 0; /* one phase alone (for diagnosis) */
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &one, NULL); /* only the waits let it in */

    pthread_t w, s[SPINNERS], t;
    void *r;
    if (!only || only == 1) { /* 1: a thread in sigsuspend */
        pthread_create(&w, NULL, suspender, NULL);
        usleep(20000);
        printf("1: spinners ended: %d\n", spin_round());
        pthread_kill(w, SIGUSR1);
        pthread_join(w, &r);
        printf("1: sigsuspend ended by the signal: %ld; handler calls %d\n", (long)r, (int)got);
    }
    if (!only || only == 2) { /* 2: main in sigsuspend, until a thread signals it after the flag */
        pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* meanwhile: the loop takes one that comes before */
        got = 0;
        flag = 0;
        for (int i = 0; i < SPINNERS; i++) pthread_create(&s[i], NULL, spin, NULL);
        pthread_create(&t, NULL, set_later, &main_thread);
        sigset_t m;
        sigfillset(&m);
        sigdelset(&m, SIGUSR1);
        while (!got) sigsuspend(&m);
        int n = 0;
        for (int i = 0; i < SPINNERS; i++) {
            pthread_join(s[i], &r);
            n += r != NULL;
        }
        pthread_join(t, NULL);
        pthread_sigmask(SIG_BLOCK, &one, NULL);
        printf("2: main's sigsuspend ended; spinners ended: %d; handler calls %d\n", n, (int)got);
    }
    if (!only || only == 3) { /* 3: a thread in ppoll with such a mask */
        pthread_create(&w, NULL, ppoller, NULL);
        usleep(20000);
        printf("3: spinners ended: %d\n", spin_round());
        pthread_kill(w, SIGUSR1);
        pthread_join(w, &r);
        printf("3: ppoll ended by the signal: %ld; handler calls %d\n", (long)r, (int)got);
    }
    return 0;
}

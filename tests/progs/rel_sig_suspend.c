/* rel_sig_suspend — the classic pattern: main blocks SIGUSR1 before it
 * creates threads (they inherit the mask); one thread waits for it with a
 * mask that lets it in (sigsuspend, ppoll, pselect); main sends it to the
 * process with kill(getpid()). The kernel gives a process signal to a thread
 * that does not block it: the waiting one, whose wait returns -1/EINTR after
 * its handler ran in it. A second thread that keeps SIGUSR1 blocked sleeps
 * meanwhile and is not interrupted. Stock prints the specification. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static volatile sig_atomic_t hits, hits_in_waiter;
static pthread_t waiter;
static sem_t started;

static void on_usr1(int s)
{
    (void)s;
    hits++;
    if (pthread_equal(pthread_self(), waiter)) hits_in_waiter++;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static const char *how;
static void *wait_thread(void *arg)
{
    (void)arg;
    while (!waiter) msleep(1);
    sigset_t empty;
    sigemptyset(&empty);
    sem_post(&started);
    int r = -2, e = 0;
    if (!strcmp(how, "sigsuspend")) r = sigsuspend(&empty);
    else if (!strcmp(how, "ppoll")) r = ppoll(NULL, 0, NULL, &empty);
    else if (!strcmp(how, "pselect")) r = pselect(0, NULL, NULL, NULL, NULL, &empty);
    e = errno;
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    printf("%s: %d %s, handler ran in it: %d, SIGUSR1 blocked again after: %d\n", how, r, e == EINTR ? "EINTR" : strerror(e),
           (int)hits_in_waiter, sigismember(&now, SIGUSR1));
    return NULL;
}

static void *bystander(void *arg)
{
    (void)arg;
    sem_post(&started);
    struct timespec ts = {0, 400 * 1000000L};
    int r = nanosleep(&ts, NULL);
    printf("bystander's nanosleep: %d\n", r);
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(bound_s(30)); /* a hang ends the run */
    sem_init(&started, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    const char *hows[] = {"sigsuspend", "ppoll", "pselect"};
    for (int i = 0; i < 3; i++) {
        how = hows[i];
        hits = hits_in_waiter = 0;
        waiter = 0;
        pthread_t b, t;
        pthread_create(&b, NULL, bystander, NULL);
        pthread_create(&t, NULL, wait_thread, NULL);
        waiter = t;
        sem_wait(&started);
        sem_wait(&started);
        msleep(100); /* it waits */
        int k = kill(getpid(), SIGUSR1);
        pthread_join(t, NULL);
        printf("kill: %d\n", k);
        pthread_join(b, NULL);
        printf("handler runs: %d\n", (int)hits);
    }
    return 0;
}

/* rel_sigpending_thread — sigpending in a thread other than main: the
 * process's pending signals that it blocks, and its own, never main's own
 * (Open POSIX Test Suite pthread_create/8-1, 8-2: main blocks SIGUSR1 and
 * SIGUSR2, raises both, and a new thread must find nothing pending for
 * itself). Under gpatch a green thread on main's OS thread saw main's
 * thread-directed pending set in its answer. Here: a raise (main's own),
 * a kill of the process (everyone's), a pthread_kill of the thread (its
 * own), each looked at from main and from the thread. Stock is the
 * specification; alarm(20). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static pthread_barrier_t b;

static void show(const char *who)
{
    sigset_t p;
    sigpending(&p);
    printf("%s: USR1 %d USR2 %d URG %d\n", who, sigismember(&p, SIGUSR1), sigismember(&p, SIGUSR2),
           sigismember(&p, SIGURG));
}

static void *thread(void *arg)
{
    (void)arg;
    show("thread, after main's raise and a kill of the process");
    pthread_barrier_wait(&b); /* main sends it SIGURG */
    pthread_barrier_wait(&b);
    show("thread, after a pthread_kill of its own");
    int sig;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGURG);
    sigwait(&s, &sig);
    printf("thread took %s\n", sig == SIGURG ? "SIGURG" : "another");
    return NULL;
}

int main(void)
{
    alarm(20);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    sigaddset(&s, SIGURG);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    raise(SIGUSR1);            /* main's own */
    kill(getpid(), SIGUSR2);   /* the process's */
    show("main");
    pthread_barrier_init(&b, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, thread, NULL);
    pthread_barrier_wait(&b);
    pthread_kill(t, SIGURG);
    pthread_barrier_wait(&b);
    pthread_join(t, NULL);
    show("main, at the end");
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    for (int i = 0; i < 2; i++) {
        int sig;
        sigwait(&s, &sig);
        printf("main took %s\n", sig == SIGUSR1 ? "SIGUSR1" : sig == SIGUSR2 ? "SIGUSR2" : "another");
    }
    return 0;
}

/* known/own_sig_after_start: a program that blocks SIGRTMIN+10 (gpatch's
 * preemption signal), starts threads, then queues it to itself and takes
 * it with sigwaitinfo. Stock: taken (value 42). Under gpatch while
 * preemption runs the real masks of main and the workers let it in and
 * preempt.c's handler swallows it (not SI_TIMER): sigwaitinfo waits for
 * good. Not fixed (see the review report). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void *run(void *a) { return a; }
int main(void)
{
    alarm(10);
    int sig = SIGRTMIN + 10;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_BLOCK, &one, NULL);
    pthread_t t;
    pthread_create(&t, NULL, run, NULL);
    pthread_join(t, NULL);
    sigqueue(getpid(), sig, (union sigval){.sival_int = 42});
    siginfo_t si;
    int r = sigwaitinfo(&one, &si);
    printf("sigwaitinfo: %s, value %d\n", r == sig ? "ours" : "other", si.si_value.sival_int);
    return 0;
}

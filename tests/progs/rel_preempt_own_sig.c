/* rel_preempt_own_sig: a program that uses SIGRTMIN+10 (gpatch's preemption
 * signal) itself. (1) Single-threaded, it blocks it with no handler and
 * takes it back with sigwaitinfo and with a signalfd: stock, it stays
 * pending (a program that never makes a thread must see no difference).
 * (2) After threads ran (preemption running), main, which blocks it,
 * installs a handler of its own and raises it: it stays pending (no call)
 * until main takes it with sigwaitinfo, and a second one runs the handler
 * once main unblocks it. (A process-directed one, sigqueue, is left out:
 * with several workers their real masks let it in.) Deterministic output; alarm bounds a hang. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "bound.h"

static int sig;
static volatile sig_atomic_t calls;

static void on_sig(int s) { (void)s; calls++; }

static int pending(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, sig);
}

static void *work(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 30000000UL; i++) x += i;
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    sig = SIGRTMIN + 10;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    siginfo_t si;

    /* 1: no thread yet, no handler: blocked, it pends */
    sigprocmask(SIG_BLOCK, &one, NULL);
    sigqueue(getpid(), sig, (union sigval){.sival_int = 42});
    printf("1: pending after sigqueue: %d\n", pending());
    int r = sigwaitinfo(&one, &si);
    printf("1: sigwaitinfo: %s, value %d\n", r == sig ? "ours" : "other", si.si_value.sival_int);
    sigqueue(getpid(), sig, (union sigval){.sival_int = 7});
    int fd = signalfd(-1, &one, SFD_CLOEXEC);
    struct signalfd_siginfo ssi;
    ssize_t n = read(fd, &ssi, sizeof ssi);
    printf("1: signalfd read %zd, ours %d, value %d\n", n, (int)ssi.ssi_signo == sig, (int)ssi.ssi_int);
    close(fd);

    /* 2: threads compute (preemption runs); main, blocking it, takes it */
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    printf("2: still blocked: %d\n", sigismember(&cur, sig));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(sig, &sa, NULL);
    raise(sig);
    printf("2: pending after raise: %d, handler calls %d\n", pending(), (int)calls);
    r = sigwaitinfo(&one, &si);
    printf("2: sigwaitinfo: %s, code SI_TKILL %d, handler calls %d\n", r == sig ? "ours" : "other",
           si.si_code == SI_TKILL, (int)calls);
    raise(sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    printf("2: unblocked: handler calls %d, pending %d\n", (int)calls, pending());
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    printf("2: handler calls after more computing: %d\n", (int)calls);
    return 0;
}

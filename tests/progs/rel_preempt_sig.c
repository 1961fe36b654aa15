/* rel_preempt_sig: gpatch's preemption signal (SIGRTMIN+10) stays the
 * program's to see and to take. Main blocks it before its first thread,
 * reads its mask back (blocked, as it asked), and spins on a plain flag a
 * thread sets after 50 ms: preempted all the same (main's real mask never
 * blocks it; the shim keeps what main asked). It unblocks it, reads the
 * mask again, reads the disposition (SIG_DFL), then installs a handler of
 * its own for it and raises it once: exactly one call, and none more while
 * it computes for a while (preemption is off from then on, its timers
 * gone). A bad `how` gets stock's EINVAL (a bad pointer crashes stock).
 * Deterministic output; alarm bounds a hang. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

static volatile int flag;
static volatile sig_atomic_t calls;

static void on_sig(int s) { (void)s; calls++; }

static void *set_later(void *arg)
{
    (void)arg;
    usleep(50000);
    flag = 1;
    return NULL;
}

static int blocked(int sig)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

int main(void)
{
    alarm(bound_s(30));
    setvbuf(stdout, NULL, _IOLBF, 0);
    int sig = SIGRTMIN + 10;
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    printf("blocked before the first thread: %d\n", blocked(sig));
    pthread_t t;
    pthread_create(&t, NULL, set_later, NULL);
    while (!flag) {}
    pthread_join(t, NULL);
    printf("main's spin ended; still blocked: %d\n", blocked(sig));
    sigprocmask(SIG_UNBLOCK, &one, &old);
    printf("old mask had it: %d; now blocked: %d\n", sigismember(&old, sig), blocked(sig));
    sigprocmask(SIG_SETMASK, &one, &old);
    printf("setmask: old had it: %d; now blocked: %d\n", sigismember(&old, sig), blocked(sig));
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = 0;
    int r = sigprocmask(12345, &one, NULL);
    printf("bad how: %d %s\n", r, strerror(errno));
    r = pthread_sigmask(12345, &one, NULL);
    printf("pthread_sigmask bad how: %s\n", strerror(r));
    printf("blocked after the bad calls: %d\n", blocked(sig));

    struct sigaction sa, cur;
    sigaction(sig, NULL, &cur);
    printf("disposition: %s\n", cur.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(sig, &sa, NULL);
    flag = 0;
    pthread_create(&t, NULL, set_later, NULL);
    raise(sig);
    uint64_t x = 1;
    for (unsigned long i = 0; i < 100000000UL; i++) x = x * 6364136223846793005ULL + 1;
    pthread_join(t, NULL);
    printf("handler calls: %d (%s)\n", (int)calls, x ? "computed" : "zero");
    return 0;
}

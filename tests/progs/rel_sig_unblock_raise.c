/* rel_sig_unblock_raise: main, after its first thread, raises a signal it
 * blocks, then unblocks it (sigprocmask SIG_UNBLOCK, then pthread_sigmask
 * SIG_SETMASK): the handler runs before the call returns, as stock. Before,
 * the runtime's copy of main's mask still blocked it when the real call
 * delivered it, the trampoline took it for another thread's and routed it,
 * and the handler ran later. Deterministic output; alarm bounds a hang. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

static volatile sig_atomic_t calls;
static void on(int s) { (void)s; calls++; }
static void *run(void *a) { return a; }

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t one, none;
    sigemptyset(&one);
    sigemptyset(&none);
    sigaddset(&one, SIGUSR1);
    pthread_t t;
    pthread_create(&t, NULL, run, NULL);
    pthread_join(t, NULL);
    sigprocmask(SIG_BLOCK, &one, NULL);
    raise(SIGUSR1);
    printf("blocked: calls %d\n", (int)calls);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    printf("after SIG_UNBLOCK: calls %d\n", (int)calls);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    raise(SIGUSR1);
    printf("blocked again: calls %d\n", (int)calls);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    printf("after SIG_SETMASK: calls %d\n", (int)calls);
    return 0;
}

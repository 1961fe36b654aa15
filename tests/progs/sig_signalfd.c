/* sig_signalfd — a thread reads a signalfd for SIGWINCH, which every thread
 * blocks (main blocks it before it makes threads, as signalfd wants); main
 * sends it to that thread with pthread_kill, three times: each read returns
 * it. The kernel keeps a directed signal pending for its thread, where the
 * thread's signalfd reads it. Stock prints the specification. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static int sfd, ready[2];

static void *reader(void *arg)
{
    for (int i = 0; i < 3; i++) {
        (void)!write(ready[1], "r", 1);
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof si);
        printf("read %zd: %s, from this process %d\n", n, n == sizeof si ? strsignal((int)si.ssi_signo) : "-",
               n == sizeof si && (pid_t)si.ssi_pid == getpid());
    }
    return arg;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    sfd = signalfd(-1, &s, SFD_CLOEXEC);
    if (sfd < 0 || pipe(ready)) return 1;
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    for (int i = 0; i < 3; i++) {
        char c;
        (void)!read(ready[0], &c, 1);
        struct timespec pause = {0, 30 * 1000000}; /* it is in its read, or about to be */
        nanosleep(&pause, NULL);
        pthread_kill(t, SIGWINCH);
    }
    pthread_join(t, NULL);
    sigset_t p;
    sigpending(&p);
    printf("left pending: %d\n", sigismember(&p, SIGWINCH));
    return 0;
}

/* rel_sig_fd_handler: close and dup are async-signal-safe. A SIGALRM storm
 * (setitimer every 1 ms) whose handler dups stdout and closes the copy, and
 * closes a number that is not open (EBADF), while three threads make and
 * close pipes in a loop and two more ping-pong a byte through a pair of
 * pipes (so that they park, and fd waiters and watchers exist whenever a
 * signal lands). The threads run a fixed number of rounds, and at least
 * until the handler has run a few hundred times; the output does not depend
 * on timing. A hang (a handler meeting a lock the interrupted code holds)
 * is ended by a SIGKILL timer after 20 s: alarm() would share SIGALRM's
 * timer with the storm. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

#define CHURNERS 3
#define ROUNDS 20000
#define MIN_HANDLERS 300

static long handled, dup_ok, ebadf_ok, unexpected;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    int d = dup(1);
    if (d >= 0 && close(d) == 0) __atomic_fetch_add(&dup_ok, 1, __ATOMIC_RELAXED);
    else __atomic_fetch_add(&unexpected, 1, __ATOMIC_RELAXED);
    if (close(1000) == -1 && errno == EBADF) __atomic_fetch_add(&ebadf_ok, 1, __ATOMIC_RELAXED);
    else __atomic_fetch_add(&unexpected, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
    errno = e;
}

static long enough(void) { return __atomic_load_n(&handled, __ATOMIC_RELAXED) >= MIN_HANDLERS; }

static ssize_t read_full(int fd, char *c)
{
    ssize_t r;
    while ((r = read(fd, c, 1)) < 0 && errno == EINTR) {}
    return r;
}

static ssize_t write_full(int fd, char c)
{
    ssize_t r;
    while ((r = write(fd, &c, 1)) < 0 && errno == EINTR) {}
    return r;
}

static void *churner(void *arg)
{
    long bad = 0;
    for (int i = 0; i < ROUNDS || !enough(); i++) {
        int p[2];
        char c;
        if (pipe(p) != 0) {
            bad++;
            continue;
        }
        if (write_full(p[1], 'x') != 1 || read_full(p[0], &c) != 1 || c != 'x') bad++;
        if (close(p[0]) != 0 || close(p[1]) != 0) bad++;
    }
    return (void *)bad;
}

static int ab[2], ba[2];

static void *pinger(void *arg)
{
    (void)arg;
    long bad = 0;
    char c;
    for (int i = 0; i < ROUNDS || !enough(); i++)
        if (write_full(ab[1], 'p') != 1 || read_full(ba[0], &c) != 1 || c != 'q') bad++;
    write_full(ab[1], 'e');
    return (void *)bad;
}

static void *ponger(void *arg)
{
    (void)arg;
    long bad = 0;
    char c;
    for (;;) {
        if (read_full(ab[0], &c) != 1) {
            bad++;
            break;
        }
        if (c == 'e') break;
        if (c != 'p' || write_full(ba[1], 'q') != 1) bad++;
    }
    return (void *)bad;
}

int main(void)
{
    /* the bound: SIGKILL after 20 s */
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGKILL;
    timer_t kill_timer;
    if (timer_create(CLOCK_MONOTONIC, &ev, &kill_timer) == 0) {
        struct itimerspec its = {{0, 0}, {(time_t)bound_s(20), 0}};
        timer_settime(kill_timer, 0, &its, NULL);
    }

    if (pipe(ab) != 0 || pipe(ba) != 0) return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);

    pthread_t ch[CHURNERS], pi, po;
    for (long i = 0; i < CHURNERS; i++) pthread_create(&ch[i], NULL, churner, (void *)i);
    pthread_create(&po, NULL, ponger, NULL);
    pthread_create(&pi, NULL, pinger, NULL);
    struct itimerval it = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);

    long bad = 0;
    for (int i = 0; i < CHURNERS; i++) {
        void *r;
        pthread_join(ch[i], &r);
        bad += (long)r;
    }
    void *r;
    pthread_join(pi, &r);
    bad += (long)r;
    pthread_join(po, &r);
    bad += (long)r;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL); /* no handler runs while the counts are read */

    long h = __atomic_load_n(&handled, __ATOMIC_RELAXED);
    printf("threads done, failed calls %ld\n", bad);
    printf("handler ran %s times, each dup+close ok: %s, each close(1000) EBADF: %s, unexpected %ld\n",
           h >= MIN_HANDLERS ? "enough" : "too few", __atomic_load_n(&dup_ok, __ATOMIC_RELAXED) == h ? "yes" : "no",
           __atomic_load_n(&ebadf_ok, __ATOMIC_RELAXED) == h ? "yes" : "no",
           __atomic_load_n(&unexpected, __ATOMIC_RELAXED));
    return 0;
}

/* rel_hot_syscalls.c — the hot paths a server takes thousands of times, with
 * a thread alive so that a green-thread runtime is active: main locks and
 * unlocks a mutex 20,000 times, makes 2,000 pthread_cond_timedwait calls
 * whose deadline has passed, and exchanges 2,000 signals with a thread that
 * sigwaits for them; a thread makes 400 timed sleeps and polls. Then 64 threads sigwait at once for a queued real-time
 * signal each, with few file descriptors left (a sigwait needs none).
 * Prints what each part counted; the system calls it causes are counted by
 * tests/e2e/test_syscall_budget.c under strace. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

#define LOCKS 20000
#define TIMEDWAITS 2000
#define SIGWAITS 2000
#define RT_WAITERS 64

static sem_t ack;
static int got_usr1, sigwait_errors;

static void *usr1_waiter(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (int i = 0; i < SIGWAITS; i++) {
        int sig = 0, e = sigwait(&set, &sig);
        if (e != 0) {
            if (!sigwait_errors++) printf("sigwait: %s\n", strerror(e));
        } else if (sig == SIGUSR1) {
            got_usr1++;
        }
        sem_post(&ack);
    }
    return NULL;
}

/* a thread's timed sleeps and timed polls: their timeouts live on its stack */
#define NAPS 200
static void *napper(void *arg)
{
    (void)arg;
    int slept = 0, efault = 0;
    for (int i = 0; i < NAPS; i++) {
        struct timespec ts = {0, 1000};
        if (nanosleep(&ts, NULL) == 0) slept++;
        sigset_t none;
        sigemptyset(&none);
        if (ppoll(NULL, 0, &ts, &none) == 0) slept++;
    }
    if (nanosleep((const struct timespec *)8, NULL) == -1 && errno == EFAULT) efault++;
    printf("naps: %d of %d, bad pointer EFAULT %d\n", slept, 2 * NAPS, efault);
    return NULL;
}

static pthread_mutex_t rt_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rt_c = PTHREAD_COND_INITIALIZER;
static int rt_ready, rt_got, rt_errors;
static long rt_sum;

static void *rt_waiter(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    pthread_mutex_lock(&rt_m);
    rt_ready++;
    pthread_cond_broadcast(&rt_c);
    pthread_mutex_unlock(&rt_m);
    siginfo_t si;
    int r;
    while ((r = sigwaitinfo(&set, &si)) < 0 && errno == EINTR) {
    } /* stock: woken for a signal another waiter took */
    pthread_mutex_lock(&rt_m);
    if (r == SIGRTMIN) {
        rt_got++;
        rt_sum += si.si_value.sival_int;
    } else if (!rt_errors++) {
        printf("sigwaitinfo: %s\n", strerror(errno));
    }
    pthread_mutex_unlock(&rt_m);
    return NULL;
}

/* the fd limit that leaves exactly `spare` free numbers below it */
static int limit_leaving(int spare)
{
    static char open_fd[65536];
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            int fd = atoi(e->d_name);
            if (fd != dfd && fd < (int)sizeof open_fd) open_fd[fd] = 1;
        }
    closedir(d);
    int k = 0;
    for (; k < (int)sizeof open_fd && spare > 0; k++)
        if (!open_fd[k]) spare--;
    return k;
}

int main(void)
{
    alarm(bound_s(120));
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGRTMIN);
    pthread_sigmask(SIG_BLOCK, &block, NULL); /* every thread inherits it */
    sem_init(&ack, 0, 0);
    pthread_t w;
    if (pthread_create(&w, NULL, usr1_waiter, NULL)) return 2;

    /* a mutex, by main */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    long n = 0;
    for (int i = 0; i < LOCKS; i++) {
        pthread_mutex_lock(&m);
        n++;
        pthread_mutex_unlock(&m);
    }
    printf("locked %ld times\n", n);

    /* timed waits whose deadline has passed */
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec past = {1, 0};
    int timedout = 0, other = 0;
    pthread_mutex_lock(&m);
    for (int i = 0; i < TIMEDWAITS; i++) {
        int r = pthread_cond_timedwait(&c, &m, &past);
        if (r == ETIMEDOUT) timedout++;
        else other++;
    }
    pthread_mutex_unlock(&m);
    printf("timedwait: %d ETIMEDOUT, %d other\n", timedout, other);

    /* signals to a sigwait loop, one at a time */
    for (int i = 0; i < SIGWAITS; i++) {
        kill(getpid(), SIGUSR1);
        while (sem_wait(&ack) != 0) {
        }
    }
    pthread_join(w, NULL);
    printf("sigwait: %d SIGUSR1, %d errors\n", got_usr1, sigwait_errors);

    pthread_t nt;
    if (pthread_create(&nt, NULL, napper, NULL)) return 2;
    pthread_join(nt, NULL);

    /* 64 sigwaits at once, with 24 fds to spare */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit low = {(rlim_t)limit_leaving(24), rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) perror("setrlimit");
    pthread_t t[RT_WAITERS];
    for (int i = 0; i < RT_WAITERS; i++)
        if (pthread_create(&t[i], NULL, rt_waiter, NULL)) return 3;
    pthread_mutex_lock(&rt_m);
    while (rt_ready < RT_WAITERS) pthread_cond_wait(&rt_c, &rt_m);
    pthread_mutex_unlock(&rt_m);
    usleep(100 * 1000); /* let them all reach sigwaitinfo (only the load depends on it) */
    long want = 0;
    for (int i = 0; i < RT_WAITERS; i++) {
        union sigval v = {.sival_int = i + 1};
        want += i + 1;
        if (sigqueue(getpid(), SIGRTMIN, v) != 0) perror("sigqueue");
    }
    for (int i = 0; i < RT_WAITERS; i++) pthread_join(t[i], NULL);
    setrlimit(RLIMIT_NOFILE, &rl);
    printf("rt: %d received, sum %s, %d errors\n", rt_got, rt_sum == want ? "right" : "WRONG", rt_errors);
    return 0;
}

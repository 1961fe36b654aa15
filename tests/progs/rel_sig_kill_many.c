/* rel_sig_kill_many — signals sent to threads with pthread_kill, as stock:
 *  1. four threads sit in pause(); main sends each SIGUSR1 in a row: every
 *     one returns -1/EINTR after its handler ran in it (not in main, not
 *     once for all four);
 *  2. a thread that sends itself a signal runs its handler in itself before
 *     pthread_kill returns (on whatever worker it runs);
 *  3. a pthread_kill whose target blocks the signal (it stays pending for
 *     that thread) does not steer the next process signal: kill(getpid())
 *     runs its handler in main, and the pending one runs in its target when
 *     it unblocks it;
 *  4. a thread blocked in pthread_cond_wait or pthread_join runs its handler
 *     and goes on waiting (neither returns EINTR);
 *  5. a thread in a restartable read on a pipe, handler with SA_RESTART:
 *     the handler runs in it, the read goes on and returns the byte later.
 * Every line is deterministic; stock prints the specification. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

#define N 4
static pthread_t tids[N + 4];
static volatile sig_atomic_t ran_in[N + 4], ran_other, ran_total;
static sem_t started;

static int index_of_self(void)
{
    for (int i = 0; i < N + 4; i++)
        if (tids[i] && pthread_equal(tids[i], pthread_self())) return i;
    return -1;
}

static void on_usr1(int s)
{
    (void)s;
    int i = index_of_self();
    if (i >= 0) ran_in[i]++;
    else ran_other++;
    ran_total++;
}

static void install(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *pauser(void *arg)
{
    long i = (long)arg;
    while (!tids[i]) msleep(1); /* the creator's store */
    sem_post(&started);
    int r = pause();
    int e = errno;
    return (void *)(long)(r == -1 && e == EINTR && ran_in[i] == 1 ? 1 : 0);
}

static void *self_killer(void *arg)
{
    long i = (long)arg;
    while (!tids[i]) msleep(1);
    int before = ran_in[i];
    int r = pthread_kill(pthread_self(), SIGUSR1);
    if (i == N + 1) return (void *)(long)(r == 0 && ran_in[i] == 1 ? 1 : 0);
    int after = ran_in[i]; /* the handler already ran, in this thread */
    return (void *)(long)(r == 0 && before == 0 && after == 1 ? 1 : 0);
}

static void *blocker(void *arg)
{
    long i = (long)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sem_post(&started); /* it starts with SIGUSR1 and SIGUSR2 blocked */
    msleep(300); /* main's pthread_kill(SIGUSR2) pends for this thread meanwhile */
    int before = ran_in[i];
    pthread_sigmask(SIG_UNBLOCK, &s, NULL); /* runs here, before it returns */
    return (void *)(long)(before == 0 && ran_in[i] == 1 ? 1 : 0);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int flag;

static void *cond_waiter(void *arg)
{
    long i = (long)arg;
    pthread_mutex_lock(&mu);
    sem_post(&started);
    int r = 0;
    while (!flag && r == 0) r = pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return (void *)(long)(r == 0 && ran_in[i] == 1 ? 1 : 0);
}

static int rp[2];
static void *reader(void *arg)
{
    long i = (long)arg;
    char c = 0;
    sem_post(&started);
    ssize_t n = read(rp[0], &c, 1);
    return (void *)(long)(n == 1 && c == 'x' && ran_in[i] == 1 ? 1 : 0);
}

static void join_report(const char *what, pthread_t t)
{
    void *v;
    int r = pthread_join(t, &v);
    printf("%s: join %d, as stock: %s\n", what, r, v == (void *)1 ? "yes" : "no");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(bound_s(30)); /* a hang ends the run (SIGALRM's default action) */
    sem_init(&started, 0, 0);
    install(SIGUSR1, 0);

    /* 1 */
    for (long i = 0; i < N; i++) pthread_create(&tids[i], NULL, pauser, (void *)i);
    for (int i = 0; i < N; i++) sem_wait(&started);
    msleep(100); /* they are in pause() */
    for (int i = 0; i < N; i++) printf("pthread_kill %d: %d\n", i, pthread_kill(tids[i], SIGUSR1));
    for (int i = 0; i < N; i++) {
        char what[32];
        snprintf(what, sizeof what, "pauser %d", i);
        join_report(what, tids[i]);
    }
    for (int i = 0; i < N; i++) tids[i] = 0; /* a joined thread's id may come back */
    printf("handler runs outside the targets: %d\n", (int)ran_other);

    /* 2 */
    pthread_create(&tids[N], NULL, self_killer, (void *)(long)N);
    pthread_t spare;
    pthread_create(&spare, NULL, self_killer, (void *)(long)(N + 1)); /* index set below */
    tids[N + 1] = spare;
    join_report("self-kill", tids[N]);
    join_report("self-kill 2", spare);
    tids[N] = tids[N + 1] = 0;

    /* 3 */
    install(SIGUSR2, 0);
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &both, NULL); /* the new threads start with both blocked */
    pthread_create(&tids[N + 2], NULL, blocker, (void *)(long)(N + 2));
    pthread_sigmask(SIG_UNBLOCK, &both, NULL);
    sem_wait(&started);
    msleep(50);
    printf("pthread_kill to a blocker: %d\n", pthread_kill(tids[N + 2], SIGUSR2));
    int other = ran_other;
    kill(getpid(), SIGUSR1); /* a process signal: main takes it, before kill returns */
    printf("the process signal ran in main: %d\n", ran_other - other);
    join_report("blocker", tids[N + 2]);
    tids[N + 2] = 0;

    /* 4 */
    pthread_create(&tids[N + 3], NULL, cond_waiter, (void *)(long)(N + 3));
    sem_wait(&started);
    msleep(100);
    pthread_mutex_lock(&mu); /* it waits now */
    pthread_mutex_unlock(&mu);
    printf("pthread_kill to a cond waiter: %d\n", pthread_kill(tids[N + 3], SIGUSR1));
    msleep(100);
    printf("its handler ran: %d\n", (int)ran_in[N + 3]);
    pthread_mutex_lock(&mu);
    flag = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    join_report("cond waiter", tids[N + 3]);

    /* 5 */
    pipe(rp);
    install(SIGUSR1, SA_RESTART);
    ran_in[0] = 0;
    tids[0] = 0;
    pthread_t rt;
    pthread_create(&rt, NULL, reader, (void *)0L);
    tids[0] = rt;
    sem_wait(&started);
    msleep(100);
    printf("pthread_kill to a reader: %d\n", pthread_kill(rt, SIGUSR1));
    msleep(100);
    printf("its handler ran: %d\n", (int)ran_in[0]);
    (void)!write(rp[1], "x", 1);
    join_report("reader", rt);
    return 0;
}

/* rel_handles — a green thread's pthread_t in the hands of threads that are
 * not green threads, and a forked child's own pthread_self().
 *
 * Part 1: a timer_create(SIGEV_THREAD) callback runs on an OS thread the
 * program did not create with pthread_create. It asks about a running
 * joinable thread T (tryjoin: EBUSY, a timed join: ETIMEDOUT, kill 0,
 * set/get its name), lets T finish and joins it for real (0 and T's value),
 * then joins it again (ESRCH). Main waits for the callback with a semaphore.
 * Part 2: a thread forks; the child asks about pthread_self(): kill 0,
 * set/get its name, its attributes (its stack holds the caller's locals),
 * pthread_equal with the id the thread had before the fork; then it creates
 * a thread and asks again. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e) { return e ? strerrorname_np(e) : "0"; }

/* ---- part 1 ------------------------------------------------------------- */
static sem_t t_go, cb_done;
static pthread_t T;
static char report[1024];

static void *t_main(void *arg)
{
    (void)arg;
    sem_wait(&t_go);
    return (void *)42;
}

static void callback(union sigval v)
{
    (void)v;
    int n = 0;
    void *ret = NULL;
    n += snprintf(report + n, sizeof report - n, "tryjoin %s\n", en(pthread_tryjoin_np(T, &ret)));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    n += snprintf(report + n, sizeof report - n, "timedjoin %s\n", en(pthread_timedjoin_np(T, &ret, &ts)));
    n += snprintf(report + n, sizeof report - n, "kill0 %s\n", en(pthread_kill(T, 0)));
    char name[16] = "";
    int s = pthread_setname_np(T, "worker-t");
    int g = pthread_getname_np(T, name, sizeof name);
    n += snprintf(report + n, sizeof report - n, "setname %s getname %s %s\n", en(s), en(g), name);
    n += snprintf(report + n, sizeof report - n, "equal self %d\n", pthread_equal(T, pthread_self()));
    sem_post(&t_go);
    int j = pthread_join(T, &ret);
    n += snprintf(report + n, sizeof report - n, "join %s %ld\n", en(j), (long)ret);
    n += snprintf(report + n, sizeof report - n, "join again %s\n", en(pthread_join(T, NULL)));
    sem_post(&cb_done);
}

static void part1(void)
{
    sem_init(&t_go, 0, 0);
    sem_init(&cb_done, 0, 0);
    pthread_create(&T, NULL, t_main, NULL);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = callback;
    timer_t tm;
    if (timer_create(CLOCK_MONOTONIC, &sev, &tm) != 0) {
        perror("timer_create");
        exit(1);
    }
    struct itimerspec its = {{0, 0}, {0, 10 * 1000 * 1000}};
    timer_settime(tm, 0, &its, NULL);
    while (sem_wait(&cb_done) != 0) {}
    timer_delete(tm);
    printf("part 1 (a timer callback's thread and a green thread)\n%s", report);
}

/* ---- part 2 ------------------------------------------------------------- */
static pthread_t before;

static int stack_holds(pthread_t t, void *p)
{
    pthread_attr_t a;
    void *lo;
    size_t sz;
    int r = pthread_getattr_np(t, &a);
    if (r) return -r;
    pthread_attr_getstack(&a, &lo, &sz);
    pthread_attr_destroy(&a);
    return (char *)p >= (char *)lo && (char *)p < (char *)lo + sz;
}

static void ask_self(const char *who)
{
    int local = 0;
    pthread_t me = pthread_self();
    char name[16] = "";
    int k = pthread_kill(me, 0);
    int s = pthread_setname_np(me, "child-self");
    int g = pthread_getname_np(me, name, sizeof name);
    printf("%s: kill0 %s setname %s getname %s %s getattr-holds-local %d equal-before %d\n", who, en(k), en(s), en(g),
           name, stack_holds(me, &local), pthread_equal(me, before));
}

static void *noop(void *arg) { return arg; }

static void *forker(void *arg)
{
    (void)arg;
    before = pthread_self();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        ask_self("child");
        pthread_t t;
        pthread_create(&t, NULL, noop, NULL);
        pthread_join(t, NULL);
        ask_self("child, after a thread");
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return NULL;
}

static void *idle(void *arg)
{
    sem_wait((sem_t *)arg);
    return NULL;
}

static void part2(void)
{
    printf("part 2 (a child forked by a thread)\n");
    sem_t quit;
    sem_init(&quit, 0, 0);
    pthread_t f, i;
    pthread_create(&i, NULL, idle, &quit); /* another thread, so the forker is not alone */
    pthread_create(&f, NULL, forker, NULL);
    pthread_join(f, NULL);
    sem_post(&quit);
    pthread_join(i, NULL);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int only = argc > 1 ? atoi(argv[1]) : 0; /* one part alone: 1 or 2 */
    if (only != 2) part1();
    if (only != 1) part2();
    return 0;
}

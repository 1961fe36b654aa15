/* fault_sigstorm: SIGUSR1 every millisecond (a POSIX timer, process-directed)
 * while 1,000 threads block: 200 each in read (a pipe), accept, nanosleep,
 * pthread_cond_wait, pthread_mutex_lock. Twice: the handler installed with
 * SA_RESTART, then without.
 *
 * What stock guarantees, and what is printed: every thread completes with
 * its own data; with SA_RESTART, read and accept never fail with EINTR;
 * pthread_cond_wait and pthread_mutex_lock never do, either way; nanosleep
 * may (it is never restarted) and the thread sleeps the rest of its time
 * with rem. Without SA_RESTART, read and accept may fail with EINTR (the
 * thread tries again): how often depends on which thread the kernel picks,
 * so only "retried, then completed" is printed. */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PER 200
#define KINDS 5
enum { K_READ, K_ACCEPT, K_SLEEP, K_COND, K_MUTEX };
static const char *kname[KINDS] = {"read", "accept", "nanosleep", "cond_wait", "mutex_lock"};

static volatile sig_atomic_t handled;
static void on_usr1(int s) { (void)s; handled++; }

static int pipes[PER][2];
static int ls;
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER, held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static int go, ready;
static pthread_mutex_t rmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcv = PTHREAD_COND_INITIALIZER;

static int done[KINDS], good[KINDS], eintr[KINDS], bad_eintr[KINDS], other[KINDS];
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void arrived(void)
{
    pthread_mutex_lock(&rmu);
    ready++;
    pthread_cond_broadcast(&rcv);
    pthread_mutex_unlock(&rmu);
}

static int restart_mode;

static void *blocker(void *arg)
{
    int id = (int)(long)arg, kind = id / PER, i = id % PER;
    int ok = 0, nintr = 0, err = 0;
    arrived();
    switch (kind) {
    case K_READ: {
        char c;
        ssize_t r;
        while ((r = read(pipes[i][0], &c, 1)) < 0 && errno == EINTR) nintr++;
        if (r < 0) err = errno;
        ok = r == 1 && c == (char)i;
        break;
    }
    case K_ACCEPT: {
        int c;
        while ((c = accept(ls, NULL, NULL)) < 0 && errno == EINTR) nintr++;
        if (c < 0) err = errno;
        ok = c >= 0;
        if (c >= 0) close(c);
        break;
    }
    case K_SLEEP: {
        struct timespec ts = {0, 400 * 1000000L};
        int64_t t0 = now_ns();
        int r;
        while ((r = nanosleep(&ts, &ts)) < 0 && errno == EINTR) nintr++;
        if (r < 0) err = errno;
        ok = r == 0 && now_ns() - t0 >= 400 * 1000000LL;
        nintr = 0; /* stock may or may not: not compared */
        break;
    }
    case K_COND: {
        pthread_mutex_lock(&cmu);
        int r = 0;
        while (!go && (r = pthread_cond_wait(&ccv, &cmu)) == 0) {}
        pthread_mutex_unlock(&cmu);
        if (r == EINTR) nintr++;
        else if (r) err = r;
        ok = r == 0;
        break;
    }
    case K_MUTEX: {
        int r = pthread_mutex_lock(&held);
        if (r == EINTR) nintr++;
        else if (r) err = r;
        ok = r == 0;
        if (!r) pthread_mutex_unlock(&held);
        break;
    }
    }
    pthread_mutex_lock(&smu);
    done[kind]++;
    good[kind] += ok;
    if (nintr) {
        eintr[kind]++;
        /* stock never shows EINTR here */
        if (kind == K_COND || kind == K_MUTEX || (restart_mode && kind != K_SLEEP)) bad_eintr[kind]++;
    }
    if (err) other[kind]++;
    pthread_mutex_unlock(&smu);
    return NULL;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static void round_(int restart)
{
    restart_mode = restart;
    memset(done, 0, sizeof done);
    memset(good, 0, sizeof good);
    memset(eintr, 0, sizeof eintr);
    memset(bad_eintr, 0, sizeof bad_eintr);
    memset(other, 0, sizeof other);
    handled = 0;
    go = 0;
    ready = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);

    for (int i = 0; i < PER; i++)
        if (pipe(pipes[i])) {
            perror("pipe");
            exit(1);
        }
    pthread_mutex_lock(&held);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_t *t = calloc(KINDS * PER, sizeof *t);
    for (int id = 0; id < KINDS * PER; id++)
        if (pthread_create(&t[id], &a, blocker, (void *)(long)id)) {
            perror("pthread_create");
            exit(1);
        }
    pthread_mutex_lock(&rmu);
    while (ready < KINDS * PER) pthread_cond_wait(&rcv, &rmu);
    pthread_mutex_unlock(&rmu);

    /* the storm: 1 ms, process-directed */
    timer_t tm;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    if (timer_create(CLOCK_MONOTONIC, &ev, &tm)) {
        perror("timer_create");
        exit(1);
    }
    struct itimerspec its = {{0, 1000000}, {0, 1000000}};
    timer_settime(tm, 0, &its, NULL);
    msleep(150); /* everyone blocked under the storm */

    /* release them one kind at a time, the storm still on */
    for (int i = 0; i < PER; i++) {
        char c = (char)i;
        while (write(pipes[i][1], &c, 1) < 0 && errno == EINTR) {}
    }
    struct sockaddr_in sa_in;
    socklen_t sl = sizeof sa_in;
    getsockname(ls, (struct sockaddr *)&sa_in, &sl);
    int cs[PER];
    for (int i = 0; i < PER; i++) {
        cs[i] = socket(AF_INET, SOCK_STREAM, 0);
        while (connect(cs[i], (struct sockaddr *)&sa_in, sizeof sa_in) < 0) {
            if (errno != EINTR) {
                perror("connect");
                exit(1);
            }
            break; /* an interrupted connect goes on in the background */
        }
    }
    pthread_mutex_lock(&cmu);
    go = 1;
    pthread_cond_broadcast(&ccv);
    pthread_mutex_unlock(&cmu);
    pthread_mutex_unlock(&held);
    for (int id = 0; id < KINDS * PER; id++) pthread_join(t[id], NULL);
    struct itimerspec off = {{0, 0}, {0, 0}};
    timer_settime(tm, 0, &off, NULL);
    timer_delete(tm);
    free(t);
    pthread_attr_destroy(&a);
    for (int i = 0; i < PER; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
        close(cs[i]);
    }
    printf("%s: handler ran %s\n", restart ? "SA_RESTART" : "no SA_RESTART", handled > 0 ? "yes" : "no");
    for (int k = 0; k < KINDS; k++)
        printf("  %-10s completed %d, with its data %d, EINTR stock never gives %d, other errors %d\n", kname[k],
               done[k], good[k], bad_eintr[k], other[k]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2048 && rl.rlim_max >= 2048) {
        rl.rlim_cur = 2048;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) return 1;
    round_(1);
    round_(0);
    return 0;
}

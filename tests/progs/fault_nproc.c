/* fault_nproc: blocking calls that gpatch hands to helper OS threads
 * (getnameinfo with a name lookup, waitpid, flock, fcntl F_SETLKW) while no
 * new OS thread may be created (RLIMIT_NPROC 0): stock makes them on the
 * calling thread and needs no thread; they must complete the same way (or
 * fail with stock's errno), never hang.
 *
 * RLIMIT_NPROC does not bind root: run as root, the subject first becomes
 * nobody (65534). Phase 1 runs with no helper thread ever made; phase 2 after
 * one helper exists (made while the limit was lifted), with more concurrent
 * calls than helpers. The children the calls wait for are forked before the
 * limit is lowered, and none of them waits for a thread of this process. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NT 6

static pthread_barrier_t bar;
static int lockfd, lockfd2;
static pid_t waitkid[2];
static char out[NT][128];

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static void lookup(char *buf, size_t cap)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char host[256] = "";
    int r = getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, NULL, 0, NI_NAMEREQD);
    snprintf(buf, cap, "getnameinfo: %d %s", r, r ? gai_strerror(r) : host);
}

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    pthread_barrier_wait(&bar);
    switch (i) {
    case 0:
    case 3:
        lookup(out[i], sizeof out[i]);
        break;
    case 1:
    case 4: {
        int st = 0;
        pid_t r = waitpid(waitkid[i == 4], &st, 0);
        snprintf(out[i], sizeof out[i], "waitpid: %s, exit %d", r == waitkid[i == 4] ? "its child" : strerror(errno),
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        break;
    }
    case 2: {
        int r = flock(lockfd, LOCK_EX);
        snprintf(out[i], sizeof out[i], "flock: %s", r ? strerror(errno) : "locked");
        flock(lockfd, LOCK_UN);
        break;
    }
    case 5: {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int r = fcntl(lockfd2, F_SETLKW, &fl);
        snprintf(out[i], sizeof out[i], "fcntl F_SETLKW: %s", r ? strerror(errno) : "locked");
        break;
    }
    }
    return NULL;
}

/* a child that holds a lock of path for ms, then exits; returns once held */
static pid_t lock_holder(int fd, int posix, int ms)
{
    int p[2];
    if (pipe(p)) exit(1);
    pid_t k = fork();
    if (k == 0) {
        char proc[64]; /* a new open file description: flock locks belong to one */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        fd = open(proc, O_RDWR);
        if (posix) {
            struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
            fcntl(fd, F_SETLK, &fl);
        } else {
            flock(fd, LOCK_EX);
        }
        if (write(p[1], "x", 1) != 1) _exit(1);
        msleep(ms);
        _exit(0);
    }
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) != 1) exit(1);
    close(p[0]);
    return k;
}

static pid_t exiter(int code, int ms)
{
    pid_t k = fork();
    if (k == 0) {
        msleep(ms);
        _exit(code);
    }
    return k;
}

static void set_nproc(rlim_t v)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NPROC, &rl);
    rl.rlim_cur = v == RLIM_INFINITY ? rl.rlim_max : v;
    if (setrlimit(RLIMIT_NPROC, &rl)) {
        perror("setrlimit");
        exit(1);
    }
}

static void phase(int n)
{
    pid_t h1 = lock_holder(lockfd, 0, 300), h2 = lock_holder(lockfd2, 1, 300);
    waitkid[0] = exiter(7, 200);
    waitkid[1] = exiter(9, 250);
    pthread_t t[NT];
    pthread_barrier_init(&bar, NULL, NT + 1);
    for (int i = 0; i < NT; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(long)i)) {
            perror("pthread_create");
            exit(1);
        }
    set_nproc(0);
    /* no new OS thread from here (stock needs none) */
    pthread_barrier_wait(&bar);
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < NT; i++) printf("phase %d: %s\n", n, out[i]);
    char buf[128];
    lookup(buf, sizeof buf); /* main itself, after the threads ended */
    printf("phase %d: main's %s\n", n, buf);
    set_nproc(RLIM_INFINITY);
    waitpid(h1, NULL, 0);
    waitpid(h2, NULL, 0);
}

/* "dep": the lock is held by another thread of this process, which lets
 * it go after a sleep: stock's flock waits for it; run on the only OS
 * thread, gpatch's would wait for a thread that cannot run */
static int depfd;
static void *dep_holder(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&bar);
    msleep(100);
    flock(depfd, LOCK_UN);
    return NULL;
}
static void *dep_waiter(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&bar);
    int r = flock(lockfd, LOCK_EX);
    printf("dep: flock of a lock another thread lets go: %s\n", r ? strerror(errno) : "locked");
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[] = "/tmp/fault_nproc_XXXXXX", path2[] = "/tmp/fault_nproc2_XXXXXX";
    lockfd = mkstemp(path);
    lockfd2 = mkstemp(path2);
    if (lockfd < 0 || lockfd2 < 0) return 1;
    char proc[64]; /* another open file description, opened while root */
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", lockfd);
    depfd = open(proc, O_RDWR);
    unlink(path);
    unlink(path2);
    if (getuid() == 0 && (setgid(65534) || setuid(65534))) {
        perror("becoming nobody");
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "dep")) {
        if (depfd < 0 || flock(depfd, LOCK_EX)) return 1;
        pthread_t a, b;
        pthread_barrier_init(&bar, NULL, 3);
        pthread_create(&a, NULL, dep_holder, NULL);
        pthread_create(&b, NULL, dep_waiter, NULL);
        set_nproc(0);
        pthread_barrier_wait(&bar);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        set_nproc(RLIM_INFINITY);
        return 0;
    }
    phase(1);
    /* one helper OS thread exists under gpatch (stock: no thread at all) */
    pthread_t t;
    pthread_barrier_init(&bar, NULL, 1);
    pthread_create(&t, NULL, worker, (void *)99L); /* a gthread, so main's calls are managed */
    char buf[128];
    lookup(buf, sizeof buf);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
    printf("between phases: %s\n", buf);
    phase(2);
    return 0;
}

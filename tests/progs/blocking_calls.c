/* blocking_calls — the differential subject for the calls that wait on
 * something other than one fd: waitpid/system (a helper thread under
 * gpatch), flock, DNS from /etc/hosts, epoll_wait, eventfd, sigwait, fork
 * then exec, fork then threads in the child, C11 threads, named semaphores.
 * A ticking thread shows the others kept running while one waited. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

static void show(const char *label, long v)
{
    printf("%-48s %ld\n", label, v);
    fflush(stdout);
}

static volatile int ticking = 1, ticks;
static void *ticker(void *arg)
{
    while (ticking) {
        usleep(10000);
        ticks++;
    }
    return arg;
}

static int ticks_during(void)
{
    int t = ticks;
    return t;
}

static char lockpath[64];
static void *hold_flock(void *arg)
{
    int fd = open(lockpath, O_RDWR);
    flock(fd, LOCK_EX);
    *(int *)arg = 1;
    usleep(100000);
    *(int *)arg = 2;
    flock(fd, LOCK_UN);
    close(fd);
    return NULL;
}

static int sv[2];
static void *epoll_waiter(void *arg)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sv[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    struct epoll_event out[4];
    long n = epoll_wait(ep, out, 4, 5000);
    close(ep);
    return (void *)n;
}

static int efd;
static void *eventfd_reader(void *arg)
{
    uint64_t v = 0;
    (void)!read(efd, &v, sizeof v);
    return (void *)(long)v;
}

static void *sig_waiter(void *arg)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    int sig = 0;
    sigwait(&s, &sig);
    return (void *)(long)sig;
}

static volatile sig_atomic_t usr1_runs;
static void on_usr1(int sig) { (void)sig; usr1_runs++; }

/* raise: the handler has run when raise returns, on whichever worker */
static void *raiser(void *arg)
{
    (void)arg;
    long before = usr1_runs;
    raise(SIGUSR1);
    return (void *)(long)(usr1_runs == before + 1);
}

static mtx_t cm;
static cnd_t cc;
static int c11_done;
static int c11_worker(void *arg)
{
    struct timespec d = {0, 20000000};
    thrd_sleep(&d, NULL);
    mtx_lock(&cm);
    c11_done++;
    cnd_signal(&cc);
    mtx_unlock(&cm);
    return (int)(intptr_t)arg;
}

static sem_t *named;
static void *named_poster(void *arg)
{
    usleep(20000);
    sem_post(named);
    return arg;
}

static int sfpair[2];
static void *sf_reader(void *arg)
{
    char buf[65536];
    long got = 0;
    ssize_t n;
    while ((n = read(sfpair[0], buf, sizeof buf)) > 0) got += n;
    return (void *)got;
}

static void *eventless_writer(void *arg)
{
    usleep(20000);
    (void)!write((int)(long)arg, "spliced", 7);
    return NULL;
}

static void *child_thread(void *arg) { usleep(10000); return (void *)((long)arg * 2); }

/* a thread forks; in the child it is the only thread, and when it returns
 * from its start routine the child ends (status 0), as stock */
static void *forking_thread(void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child of a thread: running\n");
        fflush(stdout);
        return NULL;
    }
    int st = -1;
    waitpid(pid, &st, 0);
    return (void *)(long)st;
}

int main(void)
{
    /* SIGUSR2 is for sigwait: blocked everywhere, as sigwait requires */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_t tick;
    pthread_create(&tick, NULL, ticker, NULL);

    /* waitpid while others run */
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200000);
        _exit(7);
    }
    int t0 = ticks_during(), st = 0;
    show("waitpid returns the child", waitpid(pid, &st, 0) == pid);
    show("  exit status", WEXITSTATUS(st));
    show("  other threads ran meanwhile (ticks > 5)", ticks - t0 > 5);
    show("waitpid no child (ECHILD)", waitpid(-1, &st, 0) == -1 && errno == ECHILD);
    show("system(\"exit 3\")", WEXITSTATUS(system("exit 3")));

    /* flock held by another thread */
    snprintf(lockpath, sizeof lockpath, "/tmp/gpatch-flock-%d", (int)getpid());
    close(open(lockpath, O_CREAT | O_RDWR, 0600));
    int state = 0;
    pthread_t h;
    pthread_create(&h, NULL, hold_flock, &state);
    while (state == 0) usleep(1000);
    int fd = open(lockpath, O_RDWR);
    show("flock waits for the holder", flock(fd, LOCK_EX) == 0 && state == 2);
    show("flock LOCK_NB on a held... (own: 0)", flock(fd, LOCK_EX | LOCK_NB));
    flock(fd, LOCK_UN);
    close(fd);
    pthread_join(h, NULL);
    unlink(lockpath);
    show("flock bad fd (EBADF)", flock(-1, LOCK_EX) == -1 && errno == EBADF);

    /* DNS from /etc/hosts and numeric */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    show("getaddrinfo localhost", getaddrinfo("localhost", "80", &hints, &res));
    show("  first address is 127.0.0.1", res && ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    if (res) freeaddrinfo(res);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char host[64], serv[32];
    show("getnameinfo numeric", getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, serv, sizeof serv,
                                            NI_NUMERICHOST | NI_NUMERICSERV));
    printf("  %s:%s\n", host, serv);
    show("getaddrinfo bad flags (EAI_BADFLAGS)", getaddrinfo("localhost", NULL, &(struct addrinfo){.ai_flags = -1}, &res) == EAI_BADFLAGS);
    struct hostent *he = gethostbyname("localhost");
    show("gethostbyname localhost", he != NULL && he->h_addrtype == AF_INET);

    /* epoll_wait in a thread */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_t ew;
    pthread_create(&ew, NULL, epoll_waiter, NULL);
    usleep(20000);
    (void)!write(sv[1], "e", 1);
    void *rv;
    pthread_join(ew, &rv);
    show("epoll_wait wakes on data", (long)rv);
    int ep = epoll_create1(0);
    struct epoll_event evs[2];
    show("epoll_wait timeout", epoll_wait(ep, evs, 2, 20));
    show("epoll_wait bad fd (EBADF)", epoll_wait(-1, evs, 2, 20) == -1 && errno == EBADF);
    show("epoll_wait maxevents 0 (EINVAL)", epoll_wait(ep, evs, 0, 20) == -1 && errno == EINVAL);
    close(ep);

    /* eventfd */
    efd = eventfd(0, 0);
    pthread_t er;
    pthread_create(&er, NULL, eventfd_reader, NULL);
    usleep(20000);
    uint64_t five = 5;
    (void)!write(efd, &five, sizeof five);
    pthread_join(er, &rv);
    show("eventfd read gets 5", (long)rv);
    close(efd);

    /* sigwait */
    pthread_t sw;
    pthread_create(&sw, NULL, sig_waiter, NULL);
    usleep(20000);
    kill(getpid(), SIGUSR2);
    pthread_join(sw, &rv);
    show("sigwait got SIGUSR2", (long)rv == SIGUSR2);

    /* sigwait for a signal sent to that thread (pthread_kill), one waiter at
     * a time (a directed signal is that thread's alone); under gpatch with
     * several workers they land on different workers */
    int got = 0;
    for (int i = 0; i < 4; i++) {
        pthread_create(&sw, NULL, sig_waiter, NULL);
        usleep(20000);
        pthread_kill(sw, SIGUSR2);
        pthread_join(sw, &rv);
        got += (long)rv == SIGUSR2;
    }
    show("sigwait got SIGUSR2 sent by pthread_kill, 4 threads", got == 4);

    /* two threads in sigwait for the same signal: the one it is sent to
     * gets it (the other is then sent its own) */
    pthread_t sa, sb;
    void *ra, *rb;
    pthread_create(&sa, NULL, sig_waiter, NULL);
    pthread_create(&sb, NULL, sig_waiter, NULL);
    usleep(20000);
    pthread_kill(sb, SIGUSR2);
    pthread_join(sb, &rb);
    pthread_kill(sa, SIGUSR2);
    pthread_join(sa, &ra);
    show("two in sigwait: each got the one sent to it", (long)ra == SIGUSR2 && (long)rb == SIGUSR2);

    struct sigaction ua = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &ua, NULL);
    pthread_t ub;
    int raised = 0;
    for (int i = 0; i < 4; i++) {
        pthread_create(&ub, NULL, raiser, NULL);
        pthread_join(ub, &rv);
        raised += (long)rv == 1;
    }
    show("raise: handled before it returned, 4 threads", raised == 4);

    /* fork then exec, from a threaded program */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl("/bin/echo", "echo", "exec'd child ran", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    show("fork+exec child status", WEXITSTATUS(st));
    /* fork, then threads in the child */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        pthread_t ct[3];
        long sum = 0;
        for (long i = 0; i < 3; i++) pthread_create(&ct[i], NULL, child_thread, (void *)i);
        for (int i = 0; i < 3; i++) {
            pthread_join(ct[i], &rv);
            sum += (long)rv;
        }
        printf("child: threads after fork, sum %ld\n", sum);
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    show("fork child status", WEXITSTATUS(st));

    pthread_t ft;
    pthread_create(&ft, NULL, forking_thread, NULL);
    pthread_join(ft, &rv);
    show("child of a thread returned from it: status", (long)rv);

    /* sendfile of 4 MiB to a socket another thread drains */
    char tmpl[] = "/tmp/gpatch-sendfile-XXXXXX";
    int ffd = mkstemp(tmpl);
    unlink(tmpl);
    static char blob[4 << 20];
    memset(blob, 'b', sizeof blob);
    (void)!write(ffd, blob, sizeof blob);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sfpair);
    pthread_t sr;
    pthread_create(&sr, NULL, sf_reader, NULL);
    off_t off = 0;
    show("sendfile 4 MiB to a socket", sendfile(sfpair[1], ffd, &off, sizeof blob));
    show("  offset advanced", (long)off);
    close(sfpair[1]);
    pthread_join(sr, &rv);
    show("  reader got", (long)rv);
    show("sendfile bad out fd (EBADF)", sendfile(-1, ffd, &off, 10) == -1 && errno == EBADF);
    /* splice from a socket (filled later by another thread) into a pipe */
    int sp[2], pp2[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    pipe(pp2);
    pthread_t lw;
    pthread_create(&lw, NULL, eventless_writer, (void *)(long)sp[1]);
    show("splice socket -> pipe waits for data", splice(sp[0], NULL, pp2[1], NULL, 4096, 0));
    pthread_join(lw, NULL);
    char sbuf[16] = {0};
    show("  the pipe holds it", read(pp2[0], sbuf, sizeof sbuf));
    show("splice bad fd (EBADF)", splice(-1, NULL, pp2[1], NULL, 10, 0) == -1 && errno == EBADF);
    close(sp[0]); close(sp[1]); close(pp2[0]); close(pp2[1]);
    close(ffd);

    /* C11 threads */
    mtx_init(&cm, mtx_plain);
    cnd_init(&cc);
    thrd_t ts[10];
    for (int i = 0; i < 10; i++) thrd_create(&ts[i], c11_worker, (void *)(intptr_t)i);
    mtx_lock(&cm);
    while (c11_done < 10) cnd_wait(&cc, &cm);
    mtx_unlock(&cm);
    int sum = 0;
    for (int i = 0; i < 10; i++) {
        int r;
        thrd_join(ts[i], &r);
        sum += r;
    }
    show("C11: 10 threads joined, sum of results", sum);

    /* a named semaphore */
    char name[64];
    snprintf(name, sizeof name, "/gpatch-test-%d", (int)getpid());
    named = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    sem_unlink(name);
    pthread_t np;
    pthread_create(&np, NULL, named_poster, NULL);
    show("named semaphore: sem_wait", sem_wait(named));
    pthread_join(np, NULL);
    sem_close(named);

    ticking = 0;
    pthread_join(tick, NULL);
    return 0;
}

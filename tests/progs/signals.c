/* signals — EINTR as stock: a helper thread sends SIGUSR1 to main with
 * pthread_kill while main is blocked; each line prints what the blocked call
 * returned. Handlers without SA_RESTART interrupt; with SA_RESTART a read
 * resumes, but poll, sleeps and sockets with SO_RCVTIMEO never do. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static void on_usr1(int s) { (void)s; hits++; }

static pthread_t main_t;
static int go[2], data[2];
static void *killer(void *arg)
{
    char c;
    while (read(go[0], &c, 1) == 1) {
        usleep(100000);
        pthread_kill(main_t, SIGUSR1);
        if (c == 'w') { /* then data, for the restarted read */
            usleep(100000);
            (void)!write(data[1], "d", 1);
        }
    }
    return arg;
}

/* a thread that blocks every signal for itself (as CPython's faulthandler
 * watchdog does): the others must still be interrupted */
static int blocker_pipe[2];
static void *blocker(void *arg)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    char c;
    (void)!read(blocker_pipe[0], &c, 1);
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    return (void *)(long)sigismember(&now, SIGUSR1);
}

static void handler(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
}

static void show(const char *what, long r, int e)
{
    printf("%-36s ret=%ld errno=%s hits=%d\n", what, r, r < 0 ? strerrorname_np(e) : "-", (int)hits);
    fflush(stdout);
}

int main(void)
{
    main_t = pthread_self();
    pipe(go);
    pipe(data);
    pthread_t k, b;
    pthread_create(&k, NULL, killer, NULL);
    pipe(blocker_pipe);
    pthread_create(&b, NULL, blocker, NULL);
    char c;
    long r;

    handler(0);
    (void)!write(go[1], "s", 1);
    r = read(data[0], &c, 1);
    show("read, no SA_RESTART", r, errno);

    handler(SA_RESTART);
    (void)!write(go[1], "w", 1);
    r = read(data[0], &c, 1);
    show("read, SA_RESTART (resumes)", r, errno);

    (void)!write(go[1], "s", 1);
    struct pollfd p = {data[0], POLLIN, 0};
    r = poll(&p, 1, -1);
    show("poll, SA_RESTART (never restarts)", r, errno);

    /* select and pselect are never restarted, and leave the sets as they
     * were when interrupted (the caller may retry with them, as CPython does) */
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(data[0], &rs);
    (void)!write(go[1], "s", 1);
    r = select(data[0] + 1, &rs, NULL, NULL, NULL);
    show("select, SA_RESTART (never restarts)", r, errno);
    printf("  the set still holds the fd: %d\n", FD_ISSET(data[0], &rs));
    FD_ZERO(&rs);
    FD_SET(data[0], &rs);
    struct timespec five = {5, 0};
    (void)!write(go[1], "s", 1);
    r = pselect(data[0] + 1, &rs, NULL, NULL, &five, NULL);
    show("pselect, SA_RESTART (never restarts)", r, errno);
    printf("  the set still holds the fd: %d\n", FD_ISSET(data[0], &rs));

    (void)!write(go[1], "s", 1);
    r = sleep(3);
    show("sleep(3): seconds left", r, 0);

    (void)!write(go[1], "s", 1);
    struct timespec ts = {2, 0}, rem = {0, 0};
    r = nanosleep(&ts, &rem);
    show("nanosleep 2 s", r, errno);
    printf("  rem.tv_sec=%ld\n", (long)rem.tv_sec);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct timeval tv = {5, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)!write(go[1], "s", 1);
    r = read(sv[0], &c, 1);
    show("read SO_RCVTIMEO, SA_RESTART", r, errno);

    handler(0);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    listen(ls, 1);
    (void)!write(go[1], "s", 1);
    r = accept(ls, NULL, NULL);
    show("accept, no SA_RESTART", r, errno);

    signal(SIGUSR1, on_usr1); /* BSD semantics: restart */
    (void)!write(go[1], "w", 1);
    r = read(data[0], &c, 1);
    show("read after signal() (resumes)", r, errno);

    close(go[1]);
    pthread_join(k, NULL);
    close(blocker_pipe[1]);
    void *still;
    pthread_join(b, &still);
    printf("the blocking thread still blocks SIGUSR1: %ld\n", (long)still);
    sigset_t mine;
    pthread_sigmask(SIG_SETMASK, NULL, &mine);
    printf("main does not: %d\n", !sigismember(&mine, SIGUSR1));
    printf("handlers ran: %d\n", (int)hits);
    return 0;
}

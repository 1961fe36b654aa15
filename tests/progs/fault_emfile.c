/* fault_emfile: a thread-per-connection server whose RLIMIT_NOFILE is lower
 * than its clients: accept fails with EMFILE (logged, the accept loop keeps
 * going), and once the clients leave it serves again.
 *
 * A client process (forked before the limit is lowered) opens HOLD
 * connections, each sending "hold\n"; the server answers "ok\n" and keeps
 * each one until the client closes it. The server's fds run out well before
 * HOLD: accept says EMFILE. The server tells the client (a pipe), the client
 * closes every connection, then makes PINGS sequential requests that must
 * each be answered, and a last "quit". Three rounds. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#define HOLD 40
#define SPARE 12 /* fds the server may open beyond those it has */
#define PINGS 10
#define ROUNDS 3

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int active, holds, pings, quits;

static int get_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) return -1;
        if (buf[n++] == '\n') break;
    }
    buf[n] = 0;
    return (int)n;
}

static void *conn(void *arg)
{
    int fd = (int)(long)arg;
    char line[64];
    int kind = 0;
    if (get_line(fd, line, sizeof line) > 0) {
        if (!strcmp(line, "hold\n")) kind = 1;
        else if (!strcmp(line, "ping\n")) kind = 2;
        else if (!strcmp(line, "quit\n")) kind = 3;
        send(fd, kind == 2 ? "pong\n" : "ok\n", kind == 2 ? 5 : 3, MSG_NOSIGNAL);
        if (kind == 1) /* keep it until the client leaves */
            while (read(fd, line, sizeof line) > 0) {}
    }
    close(fd);
    pthread_mutex_lock(&mu);
    if (kind == 1) holds++;
    if (kind == 2) pings++;
    if (kind == 3) quits++;
    active--;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static int dial(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("client connect");
        _exit(3);
    }
    return s;
}

/* the clients: a plain single-threaded process */
static void client(int port, int full_rd)
{
    for (int round = 0; round < ROUNDS; round++) {
        int fds[HOLD];
        char c;
        for (int i = 0; i < HOLD; i++) {
            fds[i] = dial(port);
            if (write(fds[i], "hold\n", 5) != 5) _exit(4);
        }
        if (read(full_rd, &c, 1) != 1) _exit(5); /* the server has seen EMFILE */
        for (int i = 0; i < HOLD; i++) close(fds[i]);
        for (int i = 0; i < PINGS; i++) {
            int s = dial(port);
            char line[16] = {0};
            if (write(s, "ping\n", 5) != 5 || read(s, line, 5) != 5 || strcmp(line, "pong\n")) {
                fprintf(stderr, "client: ping %d of round %d got '%s'\n", i, round, line);
                _exit(6);
            }
            close(s);
        }
        int s = dial(port);
        char line[8] = {0};
        if (write(s, "quit\n", 5) != 5 || read(s, line, 3) != 3) _exit(7);
        close(s);
    }
    _exit(0);
}

static void *noop(void *arg) { return arg; }
static int sigwait_mode; /* argv[1] "sigwait": sigwait a pending signal while no fd is free */

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigwait_mode = argc > 1 && !strcmp(argv[1], "sigwait");
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    if (sigwait_mode) pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    if (argc > 1 && !strcmp(argv[1], "early")) {
        /* the first pthread_create comes with no fd left: stock needs none */
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rlim_t saved = rl.rlim_cur;
        rl.rlim_cur = 64;
        setrlimit(RLIMIT_NOFILE, &rl);
        int fds[64], n = 0, d;
        while (n < 64 && (d = dup(0)) >= 0) fds[n++] = d;
        close(fds[--n]); /* one left: enough for some of what a runtime needs, not all */
        pthread_t t;
        void *ret = NULL;
        int r = pthread_create(&t, NULL, noop, (void *)7L);
        if (r == 0) pthread_join(t, &ret);
        printf("first pthread_create with one fd free: %s, thread returned %ld\n", strerror(r), (long)ret);
        while (n) close(fds[--n]);
        rl.rlim_cur = saved;
        setrlimit(RLIMIT_NOFILE, &rl);
        int open_fds = 0;
        for (int fd = 0; fd < 64; fd++) open_fds += fcntl(fd, F_GETFD) >= 0;
        printf("open fds below 64 afterwards: %d\n", open_fds);
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 256) || getsockname(ls, (struct sockaddr *)&a, &al)) {
        perror("listen");
        return 1;
    }
    int port = ntohs(a.sin_port);
    int full[2];
    if (pipe(full)) return 1;
    pid_t kid = fork();
    if (kid == 0) {
        close(full[1]);
        close(ls);
        client(port, full[0]);
    }
    close(full[0]);

    /* lower the limit: SPARE fds beyond the lowest free one now */
    int probe = dup(0);
    close(probe);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)probe + SPARE;
    if (setrlimit(RLIMIT_NOFILE, &rl)) {
        perror("setrlimit");
        return 1;
    }

    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int other_errors = 0, create_failed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int emfile = 0;
        for (int accepted = 0; accepted < HOLD + PINGS + 1;) {
            int c = accept(ls, NULL, NULL);
            if (c < 0) {
                if (errno == EMFILE) {
                    if (!emfile++) {
                        printf("round %d: accept: %s (logged, still serving)\n", round, strerror(errno));
                        if (sigwait_mode && round == 0) { /* stock needs no fd for it */
                            int sig = 0;
                            raise(SIGUSR2);
                            int r = sigwait(&usr2, &sig);
                            printf("sigwait with no fd free: %s, signal %d\n", strerror(r), sig);
                        }
                        if (write(full[1], "f", 1) != 1) return 1;
                    }
                    usleep(2000); /* let the connection threads finish */
                } else {
                    other_errors++;
                    fprintf(stderr, "accept: %s\n", strerror(errno));
                }
                continue;
            }
            accepted++;
            pthread_mutex_lock(&mu);
            active++;
            pthread_mutex_unlock(&mu);
            pthread_t t;
            int r = pthread_create(&t, &at, conn, (void *)(long)c);
            if (r) {
                create_failed++;
                close(c);
                pthread_mutex_lock(&mu);
                active--;
                pthread_mutex_unlock(&mu);
            }
        }
        pthread_mutex_lock(&mu);
        while (active) pthread_cond_wait(&cv, &mu);
        printf("round %d: emfile seen %s, holds %d, pings %d, quits %d\n", round, emfile ? "yes" : "no", holds,
               pings, quits);
        pthread_mutex_unlock(&mu);
    }
    int st;
    waitpid(kid, &st, 0);
    printf("client exit %d, other accept errors %d, create failures %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           other_errors, create_failed);
    /* fds are back: one more open works */
    int f = dup(0);
    printf("fds back: %s\n", f >= 0 ? "yes" : "no");
    return 0;
}

/* fault_stopcont: the process is stopped (SIGSTOP) and continued (SIGCONT)
 * again and again while it serves: it resumes and completes every request.
 *
 * A thread-per-connection echo server with CLIENTS persistent connections,
 * whose threads also sleep a little per request (a timer across the stop).
 * The clients are a forked process: after each batch of requests it stops
 * the server, waits, sends one more request into the stopped server's
 * socket, continues it, and checks every reply. A SIGCONT handler is
 * installed: first with SA_RESTART, then without (the server's read and
 * accept retry on EINTR, as such a program must). */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 20
#define BATCHES 8
#define PER_BATCH 10

static volatile sig_atomic_t conts;
static void on_cont(int s) { (void)s; conts++; }

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long served;

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static ssize_t read_full(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return got ? (ssize_t)got : r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static ssize_t write_full(int fd, const char *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, buf + put, n - put);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r;
        put += (size_t)r;
    }
    return (ssize_t)put;
}

/* requests are 16 bytes: "req NNNNNNNNNNN\n"; the reply is the same, upper-cased */
static void *conn(void *arg)
{
    int fd = (int)(long)arg;
    char buf[16];
    while (read_full(fd, buf, 16) == 16) {
        msleep(1);
        buf[0] = 'R', buf[1] = 'E', buf[2] = 'Q';
        if (write_full(fd, buf, 16) != 16) break;
        pthread_mutex_lock(&mu);
        served++;
        pthread_mutex_unlock(&mu);
    }
    close(fd);
    return NULL;
}

static void client(int port, pid_t server)
{
    int s[CLIENTS];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < CLIENTS; i++) {
        s[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s[i], (struct sockaddr *)&a, sizeof a)) _exit(2);
    }
    long n = 0;
    for (int b = 0; b < BATCHES; b++) {
        for (int k = 0; k < PER_BATCH; k++) {
            for (int i = 0; i < CLIENTS; i++) {
                char q[24];
                snprintf(q, sizeof q, "req %011ld\n", (n + i) % 100000000000L);
                if (write_full(s[i], q, 16) != 16) _exit(3);
            }
            int extra = -1;
            if (k == PER_BATCH - 1) {
                /* stop it with requests on their way, then send more into
                 * the stopped server: a request on a new connection */
                kill(server, SIGSTOP);
                msleep(30);
                extra = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(extra, (struct sockaddr *)&a, sizeof a)) _exit(6);
                if (write_full(extra, "req 99999999999\n", 16) != 16) _exit(8);
                msleep(10);
                kill(server, SIGCONT);
            }
            for (int i = 0; i < CLIENTS; i++) {
                char q[24], r[17] = {0};
                snprintf(q, sizeof q, "REQ %011ld\n", (n + i) % 100000000000L);
                if (read_full(s[i], r, 16) != 16 || memcmp(q, r, 16)) {
                    fprintf(stderr, "client %d: wanted %.16s got %.16s\n", i, q, r);
                    _exit(4);
                }
            }
            if (extra >= 0) {
                char r[17] = {0};
                if (read_full(extra, r, 16) != 16 || memcmp("REQ 99999999999\n", r, 16)) _exit(9);
                close(extra);
            }
            n += CLIENTS;
        }
    }
    for (int i = 0; i < CLIENTS; i++) close(s[i]);
    _exit(0);
}

static void run(int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_cont;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGCONT, &sa, NULL);
    conts = 0;
    served = 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 64) || getsockname(ls, (struct sockaddr *)&a, &al))
        exit(1);
    pid_t server = getpid();
    pid_t kid = fork();
    if (kid == 0) {
        close(ls);
        client(ntohs(a.sin_port), server);
    }
    int nconn = CLIENTS + BATCHES;
    pthread_t t[CLIENTS + BATCHES];
    for (int i = 0; i < nconn; i++) {
        int c;
        while ((c = accept(ls, NULL, NULL)) < 0 && errno == EINTR) {}
        if (c < 0) {
            perror("accept");
            exit(1);
        }
        if (pthread_create(&t[i], NULL, conn, (void *)(long)c)) exit(1);
    }
    for (int i = 0; i < nconn; i++) pthread_join(t[i], NULL);
    int st;
    while (waitpid(kid, &st, 0) < 0 && errno == EINTR) {}
    close(ls);
    printf("%s: served %ld, client exit %d, SIGCONT handled %s\n", restart ? "SA_RESTART" : "no SA_RESTART",
           served, WIFEXITED(st) ? WEXITSTATUS(st) : -1, conts >= BATCHES ? "every time" : "not every time");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    run(1);
    run(0);
    return 0;
}

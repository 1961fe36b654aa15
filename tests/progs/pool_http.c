/* pool_http — a worker-pool HTTP/1.1 keep-alive server, the other common
 * shape of a blocking server: one acceptor thread polls the listening socket
 * and accepts, and hands each connection through a mutex + condition queue
 * to one of a fixed set of worker threads. A worker logs the peer of every
 * request with a numeric getnameinfo (into a buffer of its own, as an access
 * log would format it), polls before each recv and answers with a small file
 * sent by sendfile; the connection stays with it until the client hangs up.
 *
 * Usage: pool_http PORT WORKERS [FILE]   (PORT 0: any; prints "port N").
 * Without FILE it serves a 512-byte body of its own. SIGTERM or SIGINT ends
 * it cleanly (exit status 0) after it prints how many requests it answered
 * and how many of them it logged as coming from 127.0.0.1. Built stock. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define QCAP 65536 /* connections waiting for a worker */
#define IDLE_MS 60000 /* a keep-alive connection idle this long is closed */

static int queue[QCAP];
static unsigned qhead, qlen;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;

static int body_fd;
static off_t body_len;
static char header[128];
static size_t header_len;
static int stop_pipe[2];
static atomic_ulong answered, logged_local;

static void on_stop(int sig)
{
    (void)sig;
    (void)!write(stop_pipe[1], "x", 1);
}

/* one access-log line per request, kept in the worker's own buffer */
static void log_request(char *log, size_t *used, const struct sockaddr *peer, socklen_t plen, const char *req)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(peer, plen, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        strcpy(host, "?");
        strcpy(serv, "?");
    }
    if (strcmp(host, "127.0.0.1") == 0) atomic_fetch_add_explicit(&logged_local, 1, memory_order_relaxed);
    const char *eol = strchr(req, '\r');
    int reqlen = eol ? (int)(eol - req) : 0;
    if (*used > 3000) *used = 0; /* a log that nobody reads: start over */
    *used += (size_t)snprintf(log + *used, 4096 - *used, "%s:%s \"%.*s\" 200\n", host, serv, reqlen > 200 ? 200 : reqlen, req);
}

static int answer(int fd)
{
    /* the header, then the file: two segments (TCP_NODELAY), as a server that
     * does not cork its sockets sends them */
    if (send(fd, header, header_len, 0) != (ssize_t)header_len) return -1;
    off_t off = 0;
    while (off < body_len) {
        ssize_t n = sendfile(fd, body_fd, &off, (size_t)(body_len - off));
        if (n <= 0) return -1;
    }
    atomic_fetch_add_explicit(&answered, 1, memory_order_relaxed);
    return 0;
}

static void serve(int fd, char *log, size_t *logged)
{
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) plen = 0;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, IDLE_MS);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* idle too long, or an error */
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = 0;
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4))) {
            size_t used = (size_t)(end + 4 - buf);
            *end = 0;
            int close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
            log_request(log, logged, (struct sockaddr *)&peer, plen, buf);
            if (answer(fd) != 0 || close_after) goto out;
            memmove(buf, buf + used, have - used);
            have -= used;
            buf[have] = 0;
        }
        if (have == sizeof buf - 1) break; /* a request too large: drop the client */
    }
out:
    close(fd);
}

static void *worker(void *arg)
{
    (void)arg;
    char log[4096];
    size_t logged = 0;
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (qlen == 0) pthread_cond_wait(&qcond, &qlock);
        int fd = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        pthread_mutex_unlock(&qlock);
        serve(fd, log, &logged);
    }
    return NULL;
}

static void *acceptor(void *arg)
{
    int ls = (int)(intptr_t)arg, one = 1;
    for (;;) {
        struct pollfd pf[2] = {{ls, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) continue;
        if (pf[1].revents) return NULL;
        if (!pf[0].revents) continue;
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(1000);
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&qlock);
        if (qlen < QCAP) {
            queue[(qhead + qlen) % QCAP] = c;
            qlen++;
            pthread_cond_signal(&qcond);
            c = -1;
        }
        pthread_mutex_unlock(&qlock);
        if (c >= 0) close(c); /* the queue is full */
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pool_http PORT WORKERS [FILE]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int workers = atoi(argv[2]);
    if (argc > 3) {
        body_fd = open(argv[3], O_RDONLY);
        if (body_fd < 0) return perror(argv[3]), 1;
    } else { /* a file of its own, gone from the directory once open */
        char path[] = "/tmp/pool_http-XXXXXX", text[512];
        body_fd = mkstemp(path);
        if (body_fd < 0) return perror("mkstemp"), 1;
        unlink(path);
        for (size_t i = 0; i < sizeof text; i++) text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
        if (write(body_fd, text, sizeof text) != (ssize_t)sizeof text) return perror("write"), 1;
    }
    struct stat st;
    fstat(body_fd, &st);
    body_len = st.st_size;
    header_len = (size_t)snprintf(header, sizeof header,
                                  "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nContent-Type: text/plain\r\n\r\n",
                                  (long long)body_len);

    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16384)) return perror("listen"), 1;
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);

    if (pipe(stop_pipe) != 0) return perror("pipe"), 1;
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < workers; i++) {
        pthread_t t;
        if (pthread_create(&t, &at, worker, NULL) != 0) return perror("pthread_create"), 1;
    }
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    pthread_t acc;
    if (pthread_create(&acc, NULL, acceptor, (void *)(intptr_t)ls) != 0) return perror("pthread_create"), 1;
    pthread_join(acc, NULL);
    printf("answered %lu\nlogged from 127.0.0.1 %lu\n", atomic_load(&answered), atomic_load(&logged_local));
    return 0;
}

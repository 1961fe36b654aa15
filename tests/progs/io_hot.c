/* io_hot — reads and writes on a "hot" socket: one that has carried a
 * keep-alive exchange for a while, so that under gpatch its watcher is
 * started, its last read found it drained and its flags are known (the
 * shortest path a read or write takes). Then each way such a call can end
 * other than with data: a MSG_WAITALL read cut short by the peer's EOF, a
 * write larger than the socket buffer, a receive timeout and O_NONBLOCK set
 * after the socket got hot, a signal handler with and without SA_RESTART,
 * the peer closing. Prints each result; stock output is the specification.
 * Built stock, -lpthread. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int peer;             /* the partner thread's end */
static pthread_t main_thread;
static volatile int got_eintr;
static size_t big_total;     /* what the partner read of main's big write (read after the join) */ /* main saw its EINTR: the partner stops signalling */

static void show(const char *label, long ret, int err)
{
    printf("%-44s ret=%ld errno=%s\n", label, ret, ret < 0 ? strerrorname_np(err) : "-");
}

static void on_usr1(int s) { (void)s; }

static void ms(int n) { usleep((useconds_t)n * 1000); }

/* the partner: serves the exchange, then each case's other half */
static void *partner(void *arg)
{
    (void)arg;
    char buf[64];
    for (int i = 0; i < 200; i++) { /* echo: the keep-alive exchange */
        ssize_t n = read(peer, buf, sizeof buf);
        if (n <= 0 || write(peer, buf, (size_t)n) != n) return (void *)1;
    }
    /* WAITALL: 5 bytes, then nothing for a while, then 5 more */
    ms(50);
    if (write(peer, "abcde", 5) != 5) return (void *)2;
    ms(50);
    if (write(peer, "fghij", 5) != 5) return (void *)2;
    /* the big write: read it all, slowly at first */
    size_t total = 0;
    static char big[65536];
    ms(50);
    while (total < (4u << 20)) {
        ssize_t n = read(peer, big, sizeof big);
        if (n <= 0) break;
        total += (size_t)n;
    }
    big_total = total;
    /* (receive timeout, O_NONBLOCK: nothing to do) */
    /* a handler without SA_RESTART: signal until main says it got EINTR */
    if (read(peer, buf, 1) != 1) return (void *)3; /* main's go */
    while (!got_eintr) {
        ms(30);
        pthread_kill(main_thread, SIGUSR1);
    }
    /* with SA_RESTART: one signal, then the data */
    if (read(peer, buf, 1) != 1) return (void *)4;
    ms(50);
    pthread_kill(main_thread, SIGUSR1);
    ms(50);
    if (write(peer, "restarted", 9) != 9) return (void *)4;
    /* the peer closes while main waits */
    if (read(peer, buf, 1) != 1) return (void *)5;
    ms(50);
    if (write(peer, "last", 4) != 4) return (void *)5;
    shutdown(peer, SHUT_WR);
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    main_thread = pthread_self();
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &al))
        return perror("listen"), 1;
    peer = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(peer, (struct sockaddr *)&a, sizeof a)) return perror("connect"), 1;
    int fd = accept(ls, NULL, NULL); /* main's end: an accepted socket */
    if (fd < 0) return perror("accept"), 1;
    pthread_t t;
    pthread_create(&t, NULL, partner, NULL);

    char buf[64];
    long sum = 0;
    for (int i = 0; i < 200; i++) {
        char msg[16];
        int len = snprintf(msg, sizeof msg, "req %d", i);
        if (write(fd, msg, (size_t)len) != len) return perror("write"), 1;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n != len || memcmp(buf, msg, (size_t)len)) return fprintf(stderr, "echo %d: %zd\n", i, n), 1;
        sum += n;
    }
    printf("exchange: 200 echoes, %ld bytes\n", sum);

    char w[16] = {0};
    ssize_t r = recv(fd, w, 10, MSG_WAITALL);
    int e = errno;
    show("recv MSG_WAITALL 10, 5 then 5 come", r, e);
    printf("  got %.10s\n", w);

    size_t bigsz = 4u << 20;
    char *big = malloc(bigsz);
    memset(big, 'x', bigsz);
    r = write(fd, big, bigsz);
    e = errno;
    show("write 4 MiB, the partner reads slowly", r, e);
    free(big);

    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    r = read(fd, buf, sizeof buf);
    e = errno;
    show("read, SO_RCVTIMEO 100 ms set after", r, e);
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    r = read(fd, buf, sizeof buf);
    e = errno;
    show("read, O_NONBLOCK set after", r, e);
    fcntl(fd, F_SETFL, fl);

    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    if (write(fd, "g", 1) != 1) return 1;
    r = read(fd, buf, sizeof buf);
    e = errno;
    got_eintr = 1;
    show("read, a handler without SA_RESTART", r, e);

    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    if (write(fd, "g", 1) != 1) return 1;
    memset(buf, 0, sizeof buf);
    r = read(fd, buf, sizeof buf);
    e = errno;
    show("read, a handler with SA_RESTART", r, e);
    printf("  got %s\n", buf);

    if (write(fd, "g", 1) != 1) return 1;
    memset(w, 0, sizeof w);
    r = recv(fd, w, 10, MSG_WAITALL);
    e = errno;
    show("recv MSG_WAITALL 10, 4 come, then EOF", r, e);
    printf("  got %.10s\n", w);
    r = read(fd, buf, sizeof buf);
    e = errno;
    show("read at the peer's EOF", r, e);

    void *ret;
    pthread_join(t, &ret);
    printf("partner: %ld, read %zu of the big write\n", (long)ret, big_total);
    return 0;
}

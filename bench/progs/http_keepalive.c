#define _GNU_SOURCE
/* http_keepalive — a plain thread-per-connection HTTP/1.1 keep-alive server,
 * the kind of program gpatch is for. Built stock; run stock and under
 * gpatch by bench/run.py. Usage: http_keepalive PORT [KIB] (PORT 0: any;
 * prints it). With KIB, every request first hashes KIB KiB of data (FNV-1a,
 * a byte at a time): a handler that computes, for the rows that measure
 * how gpatch's workers share the CPUs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

static unsigned char *data; /* what a request hashes (KIB KiB), or NULL */
static size_t data_len;
static volatile uint64_t sink;

static void compute(void)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < data_len; i++) h = (h ^ data[i]) * 0x100000001b3ull;
    sink += h;
}

static void *conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) break;
        have += (size_t)n;
        char *end;
        /* answer every complete request in the buffer (wrk does not pipeline) */
        while ((end = memmem(buf, have, "\r\n\r\n", 4))) {
            size_t used = (size_t)(end + 4 - buf);
            if (data) compute();
            if (write(fd, reply, sizeof reply - 1) != (ssize_t)(sizeof reply - 1)) goto out;
            memmove(buf, buf + used, have - used);
            have -= used;
        }
        if (have == sizeof buf) break; /* a request too large: drop the client */
    }
out:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc > 2 && atoi(argv[2]) > 0) {
        data_len = (size_t)atoi(argv[2]) * 1024;
        if (!(data = malloc(data_len))) return perror("malloc"), 1;
        for (size_t i = 0; i < data_len; i++) data[i] = (unsigned char)(i * 131 + 7);
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16384)) return perror("listen"), 1;
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(1000);
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &at, conn, (void *)(intptr_t)c) != 0) close(c);
    }
}

/* fault_reset: peers that reset mid-request (SO_LINGER {1,0} then close
 * sends RST). A thread-per-connection server:
 *   "R": it answers "ack\n", then reads a body that never comes: the read
 *        must fail with ECONNRESET when the client resets;
 *   "W": it writes 16 MiB; the client reads the first bytes, then resets:
 *        a write must fail with EPIPE or ECONNRESET (which one depends on
 *        timing, stock too: both count as "reset");
 *   "B": one write of 16 MiB: it returns the part sent before the reset (as
 *        a blocking write does once some data went), the next one fails;
 *   "M": "ack\n", then recv(100, MSG_WAITALL) gets 10 bytes and the reset:
 *        it returns the 10 bytes;
 *   "P": "pong\n" (the server still serves).
 * SIGPIPE is ignored, as servers do. Clients are threads of a forked
 * process, CONC at a time. */
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
#include <unistd.h>

#define PER 60  /* resets of each kind */
#define CONC 12 /* client threads */
#define BIG (16 << 20)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int active, read_reset, write_reset, pongs, other, short_write, big_partial, waitall_partial;
static char other_what[256];

static void note_other(const char *what, int e)
{
    pthread_mutex_lock(&mu);
    other++;
    snprintf(other_what, sizeof other_what, "%s: %s", what, strerror(e));
    pthread_mutex_unlock(&mu);
}

static void *conn(void *arg)
{
    int fd = (int)(long)arg;
    char c;
    int *count = NULL;
    ssize_t r = read(fd, &c, 1);
    if (r == 1 && c == 'R') {
        if (send(fd, "ack\n", 4, 0) != 4) note_other("ack", errno);
        char body[100];
        r = read(fd, body, sizeof body);
        if (r < 0 && errno == ECONNRESET) count = &read_reset;
        else note_other("read body", r < 0 ? errno : 0);
    } else if (r == 1 && c == 'W') {
        static const char chunk[65536];
        long left = BIG;
        while (left > 0) {
            r = write(fd, chunk, sizeof chunk);
            if (r < 0) break;
            left -= r;
        }
        if (r < 0 && (errno == EPIPE || errno == ECONNRESET)) count = &write_reset;
        else if (left <= 0) count = &short_write; /* the reset came too late */
        else note_other("write", errno);
    } else if (r == 1 && c == 'B') {
        static char big[BIG];
        r = write(fd, big, sizeof big);
        ssize_t r2 = r > 0 && r < BIG ? write(fd, big, sizeof big) : 0;
        if (r > 0 && r < BIG && r2 < 0 && (errno == EPIPE || errno == ECONNRESET)) count = &big_partial;
        else note_other("big write", r < 0 ? errno : 0);
    } else if (r == 1 && c == 'M') {
        if (send(fd, "ack\n", 4, 0) != 4) note_other("ack", errno);
        char body[100];
        r = recv(fd, body, sizeof body, MSG_WAITALL);
        if (r == 10) count = &waitall_partial;
        else note_other("recv waitall", r < 0 ? errno : 0);
    } else if (r == 1 && c == 'P') {
        if (write(fd, "pong\n", 5) == 5) count = &pongs;
        else note_other("pong", errno);
    } else {
        note_other("request", r < 0 ? errno : 0);
    }
    close(fd);
    pthread_mutex_lock(&mu);
    if (count) ++*count;
    active--;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static int port;

static int dial(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a)) {
        perror("client connect");
        _exit(3);
    }
    return s;
}

static void reset_close(int s)
{
    struct linger l = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(s);
}

static void *client(void *arg)
{
    int k = (int)(long)arg;
    for (int i = k; i < 4 * PER; i += CONC) {
        int s = dial();
        char buf[4096];
        if (i % 4 == 0) {
            if (write(s, "R", 1) != 1 || read(s, buf, 4) != 4) _exit(4);
        } else if (i % 4 == 2) {
            if (write(s, "M", 1) != 1 || read(s, buf, 4) != 4 || write(s, "0123456789", 10) != 10) _exit(4);
        } else {
            if (write(s, i % 4 == 1 ? "W" : "B", 1) != 1) _exit(5);
            size_t got = 0;
            while (got < 3 * sizeof buf) {
                ssize_t r = read(s, buf, sizeof buf);
                if (r <= 0) _exit(6);
                got += (size_t)r;
            }
        }
        reset_close(s);
    }
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 256) || getsockname(ls, (struct sockaddr *)&a, &al))
        return 1;
    port = ntohs(a.sin_port);
    pid_t kid = fork();
    if (kid == 0) {
        close(ls);
        pthread_t t[CONC];
        for (int k = 0; k < CONC; k++) pthread_create(&t[k], NULL, client, (void *)(long)k);
        for (int k = 0; k < CONC; k++) pthread_join(t[k], NULL);
        /* the server still serves */
        for (int i = 0; i < 5; i++) {
            int s = dial();
            char buf[8] = {0};
            if (write(s, "P", 1) != 1 || read(s, buf, 5) != 5 || strcmp(buf, "pong\n")) _exit(7);
            close(s);
        }
        _exit(0);
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (int n = 0; n < 4 * PER + 5; n++) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            note_other("accept", errno);
            continue;
        }
        pthread_mutex_lock(&mu);
        active++;
        pthread_mutex_unlock(&mu);
        pthread_t t;
        if (pthread_create(&t, &at, conn, (void *)(long)c)) return 1;
    }
    pthread_mutex_lock(&mu);
    while (active) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    int st;
    waitpid(kid, &st, 0);
    printf("read reset %d of %d, write reset %d of %d (completed %d), pongs %d, other %d%s%s\n", read_reset, PER,
           write_reset, PER, short_write, pongs, other, other ? " last: " : "", other_what);
    printf("one big write: partial then reset %d of %d; recv MSG_WAITALL: partial %d of %d\n", big_partial, PER,
           waitall_partial, PER);
    printf("client exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

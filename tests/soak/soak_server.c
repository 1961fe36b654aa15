/* soak_server — an ordinary thread-per-connection server (built stock, run
 * under gpatch by tests/soak/run.py). Protocol, one line each way:
 *   "r ID N\n"  ->  "R ID N H\n"   H = a hash of ID and N; the connection stays
 *   "q ID N\n"  ->  "Q ID N H\n"   then the server closes it (so TIME_WAIT is ours)
 *   "EXIT\n"    ->  the process exits 0 (atexit handlers, e.g. gpatch's stats, run)
 * Usage: soak_server   prints "port N". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned long hash(unsigned long id, unsigned long n)
{
    unsigned long h = 1469598103934665603UL;
    h = (h ^ id) * 1099511628211UL;
    h = (h ^ n) * 1099511628211UL;
    return h % 1000000007UL;
}

/* Why a connection ended other than by the client's 'q' or its close: one
 * line each on stderr (the first 20), so that a client's "reset by peer"
 * can be told apart: a server that closed with the request unread (these
 * lines) from a reset the kernel made itself (none). */
static unsigned long oddities, accepted;
static void odd(const char *what, int err)
{
    if (__atomic_fetch_add(&oddities, 1, __ATOMIC_RELAXED) < 20)
        fprintf(stderr, "soak_server: %s (%s)\n", what, strerror(err));
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[256];
    size_t have = 0;
    int served = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno != ECONNRESET) odd("read", errno);
        /* the client never ends a connection before its first answer */
        if (r <= 0 && !served) odd(r ? "read before the first request" : "the end before the first request", errno);
        if (r <= 0) break;
        have += (size_t)r;
        buf[have] = 0;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            *nl = 0;
            char kind;
            unsigned long id, n;
            if (strcmp(buf, "EXIT") == 0) {
                fprintf(stderr, "soak_server: accepted %lu, ended oddly %lu\n",
                        __atomic_load_n(&accepted, __ATOMIC_RELAXED), __atomic_load_n(&oddities, __ATOMIC_RELAXED));
                exit(0);
            }
            if (sscanf(buf, "%c %lu %lu", &kind, &id, &n) != 3 || (kind != 'r' && kind != 'q')) {
                odd("a line that is not the protocol's", EPROTO);
                goto out;
            }
            char reply[96];
            int len = snprintf(reply, sizeof reply, "%c %lu %lu %lu\n", kind == 'r' ? 'R' : 'Q', id, n, hash(id, n));
            for (int off = 0; off < len;) {
                ssize_t w = write(fd, reply + off, (size_t)(len - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    if (errno != ECONNRESET && errno != EPIPE) odd("write", errno);
                    goto out;
                }
                off += (int)w;
            }
            served = 1;
            if (kind == 'q') goto out;
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, have - used);
            have -= used;
        }
        if (have == sizeof buf - 1) { /* a line too long: not our client */
            odd("a line too long", EPROTO);
            break;
        }
    }
out:
    close(fd);
    return NULL;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) return perror("listen"), 1;
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
            if (errno == EMFILE || errno == ENFILE) usleep(10000);
            else if (errno != EINTR && errno != ECONNABORTED) odd("accept", errno);
            continue;
        }
        __atomic_fetch_add(&accepted, 1, __ATOMIC_RELAXED);
        pthread_t t;
        int e = pthread_create(&t, &at, serve, (void *)(intptr_t)c);
        if (e) {
            odd("pthread_create", e); /* the close resets the client */
            close(c);
        }
    }
}

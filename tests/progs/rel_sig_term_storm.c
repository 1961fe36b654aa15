/* rel_sig_term_storm — SIGTERM at any moment of a threaded server's life:
 * thread creation, full load (once the handler is in). Each round forks a server: its
 * SIGTERM handler writes a byte to a self-pipe that main reads, and main
 * then stops its 64 worker threads (busy with pipe ping-pong, mutexes and
 * short sleeps) and exits 0. The parent sends SIGTERM after 0 to 38 ms (and
 * a second one at once in odd rounds) and reports how each server ended;
 * a server that never hears its handler's byte is killed by its own
 * alarm (exit status 142 = SIGALRM). Stock prints the specification. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

#define NT 64
static int selfpipe[2];
static volatile int stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long shared_count;

static void on_term(int s)
{
    (void)s;
    int e = errno;
    (void)!write(selfpipe[1], "t", 1);
    errno = e;
}

static void *work(void *arg)
{
    int *p = arg; /* p[0], p[1]: a pipe of its own */
    char c = 0;
    while (!stop) {
        if (write(p[1], "x", 1) != 1) break;
        if (read(p[0], &c, 1) != 1) break;
        pthread_mutex_lock(&mu);
        shared_count++;
        pthread_mutex_unlock(&mu);
        if ((shared_count & 15) == 0) usleep(100);
    }
    return NULL;
}

static int ready[2];
static int server(void)
{
    alarm(bound_s(10));
    if (pipe(selfpipe) != 0) return 3;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    (void)!write(ready[1], "r", 1); /* the parent may send from now on */
    static int pipes[NT][2];
    pthread_t t[NT];
    int n = 0;
    for (; n < NT; n++) {
        if (pipe(pipes[n]) != 0) break;
        if (pthread_create(&t[n], NULL, work, pipes[n]) != 0) break;
    }
    char c;
    ssize_t r;
    while ((r = read(selfpipe[0], &c, 1)) == -1 && errno == EINTR) {}
    stop = 1;
    for (int i = 0; i < n; i++) {
        close(pipes[i][1]); /* a reader in read() sees EOF */
        pthread_join(t[i], NULL);
    }
    return r == 1 ? 0 : 4;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    for (int i = 0; i < rounds; i++) {
        if (pipe(ready) != 0) return 1;
        pid_t pid = fork();
        if (pid == 0) _exit(server());
        char c;
        (void)!read(ready[0], &c, 1);
        close(ready[0]);
        close(ready[1]);
        struct timespec d = {0, (long)(i * 2) * 1000000L};
        nanosleep(&d, NULL);
        kill(pid, SIGTERM);
        if (i & 1) kill(pid, SIGTERM);
        int st = 0;
        waitpid(pid, &st, 0);
        printf("round %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    return 0;
}
